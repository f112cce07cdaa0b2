"""hallwatch daemon: ingest, journal, state, clocks, scheduling, web."""

__version__ = "0.1.0"

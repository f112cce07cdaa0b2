"""Card outputs to disk: transitions to the time series (new ones), then to the journal's
outbox, each write retried until the disk holds it; the outbox sender is woken after.

The time series first: after a crash in between, the replay finds them new again and writes
the same points, which the server overwrites (same series, same instant).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from alerts.cards import Transition
from alerts.points import points_for_transition
from hallkit.clock import Clock
from monitor.ingest.ingestor import IngestHealth
from monitor.ingest.journal import Journal, OutboxRow
from monitor.outputs.outbox import rows
from monitor.outputs.sinks import PointSink

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_RETRY_S, LAST_RETRY_S = 0.5, 30.0  # the delay doubles from the first to the last


class OutboxWriter:
    """Rows into the journal's outbox, retried on a disk failure (full, I/O) until they hold.

    It runs on the writer thread, so while it waits nothing more is journaled or
    acknowledged: the broker keeps the messages, /healthz says why, nothing is lost.
    """

    def __init__(
        self, journal: Journal, clock: Clock, health: IngestHealth, wake: threading.Event
    ) -> None:
        self.journal, self._clock, self._health, self._wake = journal, clock, health, wake

    def record(
        self, out: Sequence[OutboxRow], tick: tuple[int, datetime] | None, at: datetime | None
    ) -> None:
        journal, clock = self.journal, self._clock
        self.until_stored(lambda: journal.record_outputs(out, tick, at or clock.now()))
        self._wake.set()

    def until_stored(self, write: Callable[[], T]) -> T:
        delay, health = FIRST_RETRY_S, self._health
        while True:
            try:
                done = write()
            except (sqlite3.Error, OSError) as exc:
                logger.error("storing card outputs failed, retrying in %.1f s: %s", delay, exc)
                health.failures += 1
                health.journal_error = f"{type(exc).__name__}: {exc}"
                self._clock.wait(None, delay)
                delay = min(delay * 2, LAST_RETRY_S)
                continue
            if delay > FIRST_RETRY_S:
                health.journal_error = None
                logger.info("card outputs stored again")
            return done


class CardStore:
    def __init__(self, hall: str, sink: PointSink, outbox: OutboxWriter) -> None:
        self._hall, self.sink, self._outbox = hall, sink, outbox

    def store(self, out: Sequence[Transition], tick: tuple[int, datetime] | None) -> None:
        """The transitions, and the tick that caused them (journaled with them)."""
        if not out and tick is None:
            return
        hall = self._hall
        stored = rows(hall, out)
        known = self._outbox.journal.known_outputs([r.id for r in stored])
        points = [
            pt
            for t, r in zip(out, stored, strict=True)
            if r.id not in known
            for pt in points_for_transition(hall, t)
        ]
        if points and self._outbox.until_stored(lambda: self.sink.write(points)) is False:
            logger.error("time-series outbox full: %d points refused", len(points))
        self._outbox.record(stored, tick, None)

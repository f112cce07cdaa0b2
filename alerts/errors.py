"""The exception root of the project and its tree.

    HallwatchError
    └── ConfigError        a configuration or secret cannot be used (exit code 2)

Other modules' errors (journal, sinks, spool, console, charts, PDF, the ZKTeco protocol) still
have their own roots; they move under HallwatchError one by one.
"""

from __future__ import annotations


class HallwatchError(Exception):
    """Every error of hallwatch derives from this one."""


class ConfigError(HallwatchError):
    """The configuration cannot be used; `problems` lists each one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))

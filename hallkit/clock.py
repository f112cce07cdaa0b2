"""The clock seam: wall time, a monotonic counter and waiting, real or fake.

The throttles and retry loops of the shell (the ingest's commit retry, the gathering of
attendance facts, the lights' refresh rate, the retry of card outputs, a crashed thread's
restart) read time and wait through a `Clock`, so a test drives them with a `FakeClock`
without sleeping. The core takes `now` as a value and needs none of this.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware wall time: receive times, ticks, stamps."""
        ...

    def monotonic(self) -> float:
        """Seconds for intervals: never steps back when the wall clock does."""
        ...

    def wait(self, stop: threading.Event | None, seconds: float) -> bool:
        """Sleep `seconds` or until `stop` is set; whether it is set."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """The machine's clocks; `wall` replaces the wall time alone (tests/faults/clockd.py)."""

    def __init__(self, wall: Callable[[], datetime] = _utcnow) -> None:
        self.now = wall

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, stop: threading.Event | None, seconds: float) -> bool:
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)


class FakeClock:
    """Time that moves only when told to, or when something waits on it: a wait returns at
    once, the clock that much later (or at once if `stop` is already set)."""

    def __init__(self, at: datetime, monotonic: float = 1000.0) -> None:
        self.at, self.mono = at, monotonic
        self.waits: list[float] = []  # every wait asked for, in order

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def wait(self, stop: threading.Event | None, seconds: float) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.waits.append(seconds)
        self.advance(seconds)
        return stop is not None and stop.is_set()

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.mono += seconds

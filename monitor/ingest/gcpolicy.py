"""Garbage collection for a process that holds millions of long-lived objects.

The daemon's state (cases, their events, cards and their histories) is a few million small
objects that live for weeks and form no reference cycles. CPython's cyclic collector still
walks all of them in each full collection: at a million open cases that is seconds of a held
GIL, and it came back often enough to cost about a quarter of the time spent on a due
deadline (bench/timers.py). So:

- a replay or a snapshot load runs with the collector off and freezes what it built
  (`uncollected`): frozen objects sit in CPython's permanent generation, never walked;
- afterwards `LongLived.step`, called between batches, collects the young and middle
  generations and freezes the survivors once the collector has run its middle generation
  `every` times (about 700 x 10 allocations each);
- while the daemon runs (`daytime`) CPython starts no full collection of its own: one walked
  every object not yet frozen, and with `every` at 100 those pauses grew to 50-100 ms at
  1,000 events/s (the writer's longest stalls in bench/latency.py, measured with a gc
  callback); a cycle that reaches the old generation before it dies waits for the sweep;
- `LongLived.sweep`, once a night (the daemon calls it at the first tick of each local day),
  unfreezes everything and collects it all once: a cycle that was alive when frozen and died
  later is freed there instead of being kept for good.

Refcounting frees acyclic garbage whether frozen or not; freezing only changes what the cycle
collector looks at.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

FREEZE_EVERY = 10  # middle-generation collections between two freezes (ours)
NEVER = 1 << 30  # a full-collection threshold CPython never reaches


class _Daytime:
    """How many daemons of this process are inside `daytime` (the tests run several), and
    the full-collection threshold from before the first."""

    lock = threading.Lock()
    inside = 0
    before = 0


def _full_threshold(value: int) -> None:
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, value)


@contextmanager
def daytime() -> Iterator[None]:
    """No full collection started by CPython itself inside; the thresholds as they were after.

    The young and middle generations are collected as usual (what is young is most of what
    dies); the old one only by `LongLived.sweep` at night or an explicit `gc.collect()`."""
    with _Daytime.lock:
        if _Daytime.inside == 0:
            _Daytime.before = gc.get_threshold()[2]
            _full_threshold(NEVER)
        _Daytime.inside += 1
    try:
        yield
    finally:
        with _Daytime.lock:
            _Daytime.inside -= 1
            if _Daytime.inside == 0:
                _full_threshold(_Daytime.before)


@contextmanager
def uncollected() -> Iterator[None]:
    """No garbage collection while millions of long-lived objects are built (collecting them
    is waste); afterwards what was built is frozen out of later collections."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


class _Counter:
    """Collections of the middle generation or older so far, counted by a gc callback: a
    counter read per batch costs nothing, where `gc.get_stats()` builds three dicts."""

    middle = 0
    installed = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            gc.callbacks.append(cls._on_collect)
            cls.installed = True

    @classmethod
    def _on_collect(cls, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            cls.middle += 1


class LongLived:
    """Keeps the cycle collector's work proportional to what is new, not to what is kept."""

    def __init__(self, every: int = FREEZE_EVERY) -> None:
        self.every = every
        self.freezes = 0
        self.sweeps = 0
        _Counter.install()
        self._mark = _Counter.middle

    def step(self) -> bool:
        """Collect the young and freeze the survivors if enough was allocated since the last
        time; True when it did. Cheap otherwise (one counter read)."""
        if _Counter.middle - self._mark < self.every:
            return False
        gc.collect(1)  # the young and middle generations: what is new since the last freeze
        gc.freeze()
        self._mark = _Counter.middle
        self.freezes += 1
        return True

    def sweep(self) -> int:
        """Collect everything once (seconds at a million cases): for the quiet of the night."""
        started = time.monotonic()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._mark = _Counter.middle
        self.sweeps += 1
        logger.info(
            "nightly collection: %d unreachable objects freed, %d kept, %.1f s",
            found,
            gc.get_freeze_count(),
            time.monotonic() - started,
        )
        return found

"""The loop of a sender thread: woken by an event, or every so often, until stopped.

The daemon's card outbox (monitor/outputs/outbox.py) and the device spool (devices/spool.py)
each run one. The waits go through a `Clock` (hallkit/clock.py), so a fake drives them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hallkit.clock import Clock, SystemClock

logger = logging.getLogger(__name__)


def woken(
    stop: threading.Event,
    wake: threading.Event,
    step: Callable[[], None],
    *,
    every_s: float,
    clock: Clock | None = None,
    retry_s: float | None = None,
    name: str = "sender",
) -> None:
    """`step()` each time `wake` is set and at least every `every_s`, until `stop` is set (set
    `wake` as well to end the wait at once). With `retry_s`, a failing step is logged and the
    loop goes on after that long; without, the exception ends the loop (for a supervisor to
    restart it: monitor/threads.py)."""
    clock = clock or SystemClock()
    while not stop.is_set():
        clock.wait(wake, every_s)
        wake.clear()
        try:
            step()
        except Exception:
            if retry_s is None:
                raise
            logger.exception("%s iteration failed; retrying", name)
            clock.wait(stop, retry_s)

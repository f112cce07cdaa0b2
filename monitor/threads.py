"""A thread that restarts its body after a crash, rate-limited on the clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hallkit.clock import Clock

logger = logging.getLogger(__name__)

RESTART_AFTER_S = 1.0
CRASH_WINDOW_S = 60.0
SLOW_RESTART_S = 30.0  # after more than `max_restarts` crashes within the window


def supervised(
    name: str, body: Callable[[], None], stop: threading.Event, clock: Clock, max_restarts: int = 5
) -> threading.Thread:
    """Run `body` in a thread; restart it after a crash, at most a few times a minute."""
    return threading.Thread(
        target=lambda: restarting(name, body, stop, clock, max_restarts), name=name, daemon=True
    )


def restarting(
    name: str, body: Callable[[], None], stop: threading.Event, clock: Clock, max_restarts: int
) -> None:
    """`body` until it returns or `stop` is set, restarted after each crash."""
    crashes: list[float] = []
    while not stop.is_set():
        try:
            body()
            return
        except Exception:
            logger.exception("%s thread crashed; restarting", name)
            now = clock.monotonic()
            crashes = [t for t in crashes if now - t < CRASH_WINDOW_S] + [now]
            if len(crashes) > max_restarts:
                # A lasting cause (a full disk) must not end the thread for good: slow down.
                logger.critical(
                    "%s crashed %d times in a minute; next attempt in 30 s", name, len(crashes)
                )
                clock.wait(stop, SLOW_RESTART_S)
                continue
            clock.wait(stop, RESTART_AFTER_S)

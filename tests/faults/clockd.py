"""`hallwatch run` with the wall clock replaced by a file the test writes (an injected clock).

    python -m tests.faults.clockd --config hall.toml --clock now.txt

The daemon takes its clock as a `hallkit.clock.Clock`; here its wall time reads an RFC 3339
instant from `--clock`, re-read when the file changes (intervals and waits stay the system's).
The wall clock stands still between writes, so two runs of the same stream see the same receive
times and fire the same ticks at the same instants, and a test steps it back or forward by
rewriting the file. Everything else is the production daemon (monitor.cli.run_daemon): same
process shape, same signals, same exit codes as `hallwatch run`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from hallkit import logs
from hallkit.clock import SystemClock
from hallkit.config import load_config
from monitor.cli import guarded, run_daemon

logger = logging.getLogger(__name__)

RECHECK_S = 0.05


class FileClock:
    """An aware instant read from a file; looks for a change at most every 50 ms."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = -1
        self._checked = -1.0
        self._value = self._read()

    def __call__(self) -> datetime:
        t = time.monotonic()
        with self._lock:
            if t - self._checked >= RECHECK_S:
                self._checked = t
                mtime = os.stat(self.path).st_mtime_ns
                if mtime != self._mtime:
                    self._mtime = mtime
                    self._value = self._read()
            return self._value

    def _read(self) -> datetime:
        value = datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())
        if value.tzinfo is None:
            raise ValueError(f"{self.path}: the clock needs an offset")
        return value


def set_clock(path: Path, at: datetime) -> None:
    """Step the clock: write the new instant atomically (the daemon never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(at.isoformat(), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.clockd")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--clock", type=Path, required=True)
    args = parser.parse_args(argv)
    logs.setup("INFO", "text")
    wall = SystemClock(FileClock(args.clock))
    return guarded(lambda: run_daemon(load_config(args.config), args.config, clock=wall))


if __name__ == "__main__":
    sys.exit(main())

"""WAL checkpoints off the writer's path.

SQLite copies a WAL database's committed pages back into its file (a checkpoint) inside the
commit that takes the log past `wal_autocheckpoint` pages (1,000 by default): the writer
thread then writes and fsyncs a few megabytes of the journal's index pages, and every
event queued behind that commit waits for it. In `bench/latency.py` at 1,000 events/s
these were the longest stalls of the writer (docs/benchmarks.md).

The daemon's databases (the journal, the points store or the time-series outbox) are opened
with the automatic checkpoint raised to a backstop (`defer`), and a thread of the daemon's
own runs a PASSIVE checkpoint of each every second on a connection of its own. PASSIVE
never waits for a writer or a reader, and a writer never waits for it; the log starts over
at the first commit after a checkpoint that copied all of it. The backstop bounds the log
if the thread falls behind or is not running (a command-line tool's journal): past it the
committing connection checkpoints as before. Closing the last connection checkpoints too.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from hallkit.clock import Clock

logger = logging.getLogger(__name__)

EVERY_S = 1.0  # ours: about a second of commits is copied back at a time
BACKSTOP_PAGES = 16_384  # ours: 64 MiB of 4 KiB pages; past it the writer checkpoints itself


def defer(conn: sqlite3.Connection) -> None:
    """Leave this connection's WAL to the checkpointer, up to the backstop."""
    conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")


class Checkpointer:
    """PASSIVE checkpoints of some WAL databases, every `every_s`, until stopped."""

    def __init__(self, paths: Sequence[Path], clock: Clock, every_s: float = EVERY_S) -> None:
        self.paths = tuple(paths)
        self._clock, self._every_s = clock, every_s
        self._conns: dict[Path, sqlite3.Connection] = {}
        self._failing: set[Path] = set()  # said once when it starts failing, once when it ends
        self.failures = 0

    def run(self, stop: threading.Event) -> None:
        try:
            while not self._clock.wait(stop, self._every_s):
                self.once()
        finally:
            self.close()

    def once(self) -> dict[Path, tuple[int, int]]:
        """One PASSIVE checkpoint of each database: its log's (frames, frames copied back)."""
        out: dict[Path, tuple[int, int]] = {}
        for path in self.paths:
            try:
                conn = self._conns.get(path)
                if conn is None:
                    uri = f"{path.resolve().as_uri()}?mode=rw"  # never creates a file
                    conn = self._conns[path] = sqlite3.connect(uri, uri=True)
                    conn.execute("PRAGMA synchronous=FULL")  # the copy is fsynced before reuse
                _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # the writer's own backstop still bounds the log
                self.failures += 1
                if path not in self._failing:
                    self._failing.add(path)
                    logger.warning("WAL checkpoints of %s fail: %s", path.name, exc)
                self._drop(path)
                continue
            if path in self._failing:
                self._failing.discard(path)
                logger.info("WAL checkpoints of %s work again", path.name)
            out[path] = (frames, copied)
        return out

    def _drop(self, path: Path) -> None:
        conn = self._conns.pop(path, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for path in list(self._conns):
            self._drop(path)

"""WAL checkpoints off the writer's path (monitor/ingest/checkpoint.py), on a real journal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.events import EventKind
from alerts.ids import EventId
from hallkit.clock import FakeClock
from monitor.ingest import checkpoint
from monitor.ingest.checkpoint import Checkpointer
from monitor.ingest.journal import AcceptEntry, Journal
from monitor.outputs.localstore import LocalStore

AT = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
PAGE = 4096
_CANNOT_OPEN = "unable to open database file"


def _fill(journal: Journal, start: int, n: int) -> None:
    """`n` events of 3 KiB each, in batches of 100 (about 750 pages a batch of 100)."""
    for first in range(start, start + n, 100):
        journal.append(
            [
                AcceptEntry(
                    event_id=EventId(f"ckpt-{i}"),
                    kind=EventKind.CASE,
                    topic=f"hall/h/case/C{i}/event",
                    received_at=AT,
                    ts=AT,
                    payload=b"x" * 3072,
                )
                for i in range(first, first + 100)
            ]
        )


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def test_the_writer_leaves_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, "h")
    try:
        _fill(journal, 0, 1500)  # ~1,300 pages: past SQLite's default of 1,000
        # The committing connection did not copy the log back: the database file is small.
        assert journal.path.stat().st_size < 100 * PAGE
        assert _wal(journal.path).stat().st_size > 1000 * PAGE

        done = Checkpointer([journal.path], FakeClock(AT)).once()

        frames, copied = done[journal.path]
        assert frames > 1000 and copied == frames
        assert journal.path.stat().st_size > 1000 * PAGE  # now in the database file
        # The log starts over at the next commit: a second checkpoint finds only that.
        _fill(journal, 1500, 100)
        again = Checkpointer([journal.path], FakeClock(AT)).once()[journal.path]
        assert again[0] < frames // 4
        assert journal.event_count() == 1600
    finally:
        journal.close()


def test_without_a_checkpointer_the_backstop_bounds_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "BACKSTOP_PAGES", 1200)
    journal = Journal.open(tmp_path, "h")
    try:
        _fill(journal, 0, 3000)  # ~2,600 pages: the writer checkpoints past 1,200
        assert journal.path.stat().st_size > 1000 * PAGE
    finally:
        journal.close()


def test_the_points_store_is_left_to_it_too(tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path)
    conn = store._conn  # what the daemon's writer commits on
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == checkpoint.BACKSTOP_PAGES


class _Stops(FakeClock):
    """A clock whose third wait finds the daemon stopping."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(AT)
        self.stop = stop

    def wait(self, stop: threading.Event | None, seconds: float) -> bool:
        if len(self.waits) == 2:
            self.stop.set()
        return super().wait(stop, seconds)


def test_the_thread_checkpoints_each_second_until_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal.open(tmp_path / "j", "h")
    missing = tmp_path / "points.sqlite3"  # a database it cannot open: counted, no crash
    try:
        _fill(journal, 0, 1500)
        stop = threading.Event()
        clock = _Stops(stop)
        wal = Checkpointer([missing, journal.path], clock)

        wal.run(stop)

        assert clock.waits == [checkpoint.EVERY_S] * 2  # the third found it stopping
        assert wal.failures == 2  # the missing one, at each of the two checkpoints
        said = [r.getMessage() for r in caplog.records if r.name == checkpoint.__name__]
        assert said == [f"WAL checkpoints of points.sqlite3 fail: {_CANNOT_OPEN}"]  # once
        assert journal.path.stat().st_size > 1000 * PAGE
        assert wal._conns == {}  # closed on the way out
        assert not missing.exists()  # nor made
    finally:
        journal.close()

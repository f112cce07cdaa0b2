"""What the bridge remembers: upload stamps per clock and the bad lines of uploads (on disk),
and who has been heard (pure)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from devices.zkproto import BadLine, Refusal, Stamps

_STAMP_COLUMNS = {"ATTLOG": "attlog", "OPERLOG": "operlog", "ATTPHOTO": "attphoto"}


class StampStore:
    """The last `Stamp=` each clock sent per table, so a reconnecting clock sends only newer."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stamps (serial TEXT NOT NULL, tbl TEXT NOT NULL, "
            "stamp TEXT NOT NULL, PRIMARY KEY (serial, tbl))"
        )

    def get(self, serial: str) -> Stamps:
        with self._lock:
            rows = self._db.execute(
                "SELECT tbl, stamp FROM stamps WHERE serial = ?", (serial,)
            ).fetchall()
        known = {_STAMP_COLUMNS[t]: s for t, s in rows if t in _STAMP_COLUMNS}
        return Stamps(**known)

    def put(self, serial: str, table: str, stamp: str) -> None:
        if table not in _STAMP_COLUMNS:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO stamps (serial, tbl, stamp) VALUES (?, ?, ?) "
                "ON CONFLICT (serial, tbl) DO UPDATE SET stamp = excluded.stamp",
                (serial, table, stamp),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptLine:
    serial: str
    device: str
    first_at: datetime
    last_at: datetime
    times: int  # how often it came (a clock whose stamp was reset sends it again)
    number: int  # its line number in the last upload that carried it
    reason: str
    detail: str
    raw: bytes
    length: int


_KEPT_COLUMNS = "serial, device, first_at, last_at, times, line, reason, detail, raw, length"


class RejectStore:
    """The lines of clock uploads that were not attendance records, for the operator.

    The clock hears `OK` for them (else it would send the same upload forever and the good
    records with it), so this is where they are kept: one row per distinct line and clock,
    at most `max_rows` (the least recently seen go first; `pruned` counts them).
    """

    def __init__(self, path: Path, max_rows: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS kept (seq INTEGER PRIMARY KEY, serial TEXT NOT NULL, "
            "device TEXT NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL, "
            "times INTEGER NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL, "
            "detail TEXT NOT NULL, raw BLOB NOT NULL, length INTEGER NOT NULL, "
            "digest BLOB NOT NULL, UNIQUE (serial, digest));"
            "CREATE INDEX IF NOT EXISTS kept_last ON kept (last_at, seq);"
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        )

    def keep(self, serial: str, device: str, at: datetime, lines: Sequence[BadLine]) -> int:
        """Record the bad lines of one upload, durably; returns how many old rows were pruned."""
        when = at.astimezone(UTC).isoformat()
        rows = [_row(serial, device, when, b) for b in lines]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT INTO kept ({_KEPT_COLUMNS}, digest) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial, digest) DO UPDATE SET "
                    "times = times + 1, last_at = excluded.last_at, line = excluded.line, "
                    "device = excluded.device",
                    rows,
                )
                pruned = self._prune()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return pruned

    def _prune(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM kept").fetchone()
        over = int(count) - self._max_rows
        if over <= 0:
            return 0
        self._db.execute(
            "DELETE FROM kept WHERE seq IN (SELECT seq FROM kept ORDER BY last_at, seq LIMIT ?)",
            (over,),
        )
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('pruned', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            (over,),
        )
        return over

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(serial: str, device: str, when: str, b: BadLine) -> tuple[object, ...]:
    where = (serial, device, when, when, 1, b.number)
    return (*where, b.reason.value, b.detail, b.raw, b.length, _digest(b))


def _digest(line: BadLine) -> bytes:
    # The kept raw is cut: two long lines alike at the start are still two lines. The reason
    # is part of it, so an upload's summary entry never folds into the line it starts with.
    head = b"%s:%d:" % (line.reason.value.encode(), line.length)
    return hashlib.sha256(head + line.raw).digest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptSummary:
    rows: int
    pruned: int
    latest: list[KeptLine]


def read_kept(path: Path, limit: int) -> KeptSummary:
    """What a `RejectStore` holds, read-only (the running bridge may be writing it)."""
    if not path.is_file():
        return KeptSummary(rows=0, pruned=0, latest=[])
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (rows,) = db.execute("SELECT count(*) FROM kept").fetchone()
        pruned = db.execute("SELECT value FROM meta WHERE key = 'pruned'").fetchone()
        found = db.execute(
            f"SELECT {_KEPT_COLUMNS} FROM kept ORDER BY last_at DESC, seq DESC LIMIT ?", (limit,)
        ).fetchall()
    finally:
        db.close()
    return KeptSummary(
        rows=int(rows), pruned=int(pruned[0]) if pruned else 0, latest=[_kept(r) for r in found]
    )


def _kept(r: tuple[Any, ...]) -> KeptLine:
    serial, device, first_at, last_at, times, line, reason, detail, raw, length = r
    return KeptLine(
        serial=serial,
        device=device,
        first_at=datetime.fromisoformat(first_at),
        last_at=datetime.fromisoformat(last_at),
        times=times,
        number=line,
        reason=reason,
        detail=detail,
        raw=bytes(raw),
        length=length,
    )


def render_kept(path: Path, kept: KeptSummary) -> str:
    """`hallwatch zkpush --rejects`: newest first, each line escaped as it was sent."""
    head = f"{path}: {kept.rows} 条坏行 (bad lines kept), {kept.pruned} 条较早的已清除 (pruned)"
    return "\n".join([head, *(_render(k) for k in kept.latest)]) + "\n"


def _render(k: KeptLine) -> str:
    try:
        label = Refusal(k.reason).label_zh
    except ValueError:
        label = k.reason
    cut = "" if k.length <= len(k.raw) else f" ({k.length} bytes, cut)"
    return (
        f"{k.last_at.isoformat(timespec='seconds')}  {label}({k.reason})  {k.device} "
        f"(SN {k.serial}), {k.times}×\n    {k.detail}\n    {k.raw!r}{cut}"
    )


class Availability(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Why(StrEnum):
    FIRST_HEARD = "first_heard"  # first request since the bridge started
    RESUMED = "resumed"  # talks again after being published offline
    SILENT = "silent"  # no request for offline_after
    NEVER_HEARD = "never_heard"  # not heard at all within offline_after of the bridge's start


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    device: str
    status: Availability
    why: Why
    at: datetime


@dataclass(slots=True)
class _Seen:
    last: datetime | None = None
    published: Availability | None = None


class DeviceWatch:
    """Decides each clock's retained status from its requests; the caller passes `now`."""

    def __init__(self, devices: Iterable[str], offline_after: timedelta, started: datetime) -> None:
        self._offline_after = offline_after
        self._started = started
        self._seen = {d: _Seen() for d in devices}

    def heard(self, device: str, now: datetime) -> Transition | None:
        seen = self._seen[device]
        if seen.last is None or now > seen.last:
            seen.last = now
        if seen.published is Availability.ONLINE:
            return None
        why = Why.RESUMED if seen.published is Availability.OFFLINE else Why.FIRST_HEARD
        seen.published = Availability.ONLINE
        return Transition(device=device, status=Availability.ONLINE, why=why, at=now)

    def sweep(self, now: datetime) -> list[Transition]:
        out = []
        for device, seen in self._seen.items():
            if seen.published is Availability.OFFLINE:
                continue
            since = seen.last or self._started
            if now - since >= self._offline_after:
                seen.published = Availability.OFFLINE
                why = Why.SILENT if seen.last is not None else Why.NEVER_HEARD
                out.append(Transition(device=device, status=Availability.OFFLINE, why=why, at=now))
        return out

    def status(self, device: str) -> Availability | None:
        return self._seen[device].published

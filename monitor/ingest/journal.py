"""The journal: every accepted event once, every rejected message with its reason.

SQLite in WAL mode. One writer (the ingest thread) appends whole batches in one
transaction; nothing is acknowledged to the broker before `append` has returned.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from alerts.errors import HallwatchError
from alerts.events import EventKind
from alerts.ids import EventId
from monitor.ingest import checkpoint

logger = logging.getLogger(__name__)

# 2 added ticks and outbox, 3 the rejects' sha256; older journals are upgraded in place
SCHEMA_VERSION = 3
REJECT_ROW_OVERHEAD = 100  # bytes a reject row costs beyond its payload, detail and topic
# Page cache of the journal's connection: the event-id index takes random inserts and lookups
# (a batch's ids checked, then added); SQLite's default 2 MiB holds a few days of them.
CACHE_KIB = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    received_at INTEGER NOT NULL,  -- microseconds since the Unix epoch, UTC
    ts INTEGER NOT NULL,           -- the event's own time, same unit
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL,         -- the first `ingest.reject_keep_bytes` of it
    sha256 TEXT NOT NULL DEFAULT '' -- of the whole payload
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ticks (
    seq INTEGER PRIMARY KEY,
    after_seq INTEGER NOT NULL,    -- the last event applied before time moved on
    at INTEGER NOT NULL            -- microseconds since the epoch, UTC
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,       -- one per card transition, stable under replay
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at INTEGER                -- NULL until the broker acknowledged it
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(t: datetime) -> int:
    """Exact, sortable integer time: what the journal stores."""
    return (t - _EPOCH) // _MICRO


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class JournalError(HallwatchError):
    """The journal cannot be opened or does not belong to this hall."""


class JournalMissing(JournalError):
    """A reader asked for a journal that does not exist (it is not made for a reader)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no journal at {path}")
        self.path = path


class AcceptEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One per accepted message: a Struct, built four times faster than a frozen dataclass."""

    event_id: EventId
    kind: EventKind
    topic: str
    received_at: datetime
    ts: datetime
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectEntry:
    topic: str
    received_at: datetime
    reason: str
    detail: str
    payload: bytes
    stored: bool = True  # False: over its source's rate, counted (under `limited_as`) only
    limited_as: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectBounds:
    """How much of the rejects the journal keeps (docs/journal.md "Bounded rejects")."""

    keep_bytes: int = 4096
    max_bytes: int = 64 << 20
    keep_days: int = 30


Entry = AcceptEntry | RejectEntry


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class JournalRow:
    seq: int
    event_id: EventId
    kind: EventKind
    topic: str
    received_at: datetime
    ts: datetime
    payload: bytes


@dataclass(frozen=True, slots=True)
class RejectRow:
    seq: int
    topic: str
    received_at: datetime
    reason: str
    detail: str
    size: int
    payload: bytes
    sha256: str = ""


class Journal:
    """Append-only store. `append` is for one writer thread; reads may come from any."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        self.counters: dict[str, int] = dict(conn.execute("SELECT name, value FROM counters"))
        self.reject_bounds = RejectBounds()
        self.reject_bytes = int(conn.execute(_REJECT_BYTES).fetchone()[0])

    @classmethod
    def open(cls, data_dir: str | Path, hall: str, synchronous: str = "full") -> Journal:
        directory = Path(data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "journal.sqlite3"
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            checkpoint.defer(conn)  # the daemon's checkpointer copies the log back (off its path)
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal in {directory}: {exc}") from exc
        _claim(conn, hall, path)
        return cls(conn, path)

    @classmethod
    def open_existing(cls, data_dir: str | Path, hall: str) -> Journal:
        """A reader's open: read-only, and never made (JournalMissing). A journal of an older
        schema is first upgraded in place by the writer's `open`, as a daemon start would."""
        path = Path(data_dir) / "journal.sqlite3"
        if not path.is_file():
            raise JournalMissing(path)
        uri = f"file:{path}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {path}: {exc}") from exc
        if meta.get("schema") in ("1", "2"):
            conn.close()
            cls.open(data_dir, hall).close()
            return cls.open_existing(data_dir, hall)
        if meta.get("hall") != hall:
            conn.close()
            raise JournalError(f"{path} belongs to hall {meta.get('hall')!r}, not {hall!r}")
        if meta.get("schema") != str(SCHEMA_VERSION):
            conn.close()
            raise JournalError(f"{path} has schema {meta.get('schema')}, expected {SCHEMA_VERSION}")
        return cls(conn, path)

    def append(self, entries: Sequence[Entry], known_duplicates: int = 0) -> list[int | None]:
        """Store a batch in one transaction; for each entry the new event's seq, else None.

        None means a duplicate (an accepted event whose id is already journaled) or a
        reject. `known_duplicates` counts repeats the ingest found itself (an unchanged
        device status). Raises sqlite3.Error (disk full, I/O) with nothing stored.
        """
        delta: dict[str, int] = {"duplicate": known_duplicates} if known_duplicates else {}
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                out, added = _insert_all(cur, entries, delta, self.reject_bounds.keep_bytes)
                freed = self._bound_rejects(cur, added, delta)
                for name, n in delta.items():
                    _add_counter(cur, name, n)
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            for name, n in delta.items():
                self.counters[name] = self.counters.get(name, 0) + n
            self.reject_bytes += added - freed
        return out

    def _bound_rejects(self, cur: sqlite3.Cursor, added: int, delta: dict[str, int]) -> int:
        """Inside `append`'s transaction: prune the oldest rejects once over the size bound,
        down to 90 % of it (not one row per insert). Returns the bytes freed."""
        limit = self.reject_bounds.max_bytes
        excess = self.reject_bytes + added - limit
        if excess <= 0:
            return 0
        to_free = excess + limit // 10
        freed = rows = 0
        cutoff = None
        scan = self._conn.cursor()
        scan.execute(f"SELECT seq, {_ROW_BYTES} FROM rejects ORDER BY seq")
        while freed < to_free and (chunk := scan.fetchmany(500)):
            for seq, n in chunk:
                freed, rows, cutoff = freed + n, rows + 1, seq
                if freed >= to_free:
                    break
        scan.close()
        if cutoff is not None:
            cur.execute("DELETE FROM rejects WHERE seq <= ?", (cutoff,))
            delta["rejects_pruned"] = delta.get("rejects_pruned", 0) + rows
        return freed

    def prune_rejects(self, now: datetime) -> int:
        """Delete the rejects received more than `keep_days` before `now`; how many."""
        cutoff = micros(now - timedelta(days=self.reject_bounds.keep_days))
        where = "FROM rejects WHERE received_at < ?"
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                rows, freed = cur.execute(
                    f"SELECT count(*), coalesce(sum({_ROW_BYTES}), 0) {where}", (cutoff,)
                ).fetchone()
                if rows:
                    cur.execute(f"DELETE {where}", (cutoff,))
                    _add_counter(cur, "rejects_pruned", rows)
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            if rows:
                self.counters["rejects_pruned"] = self.counters.get("rejects_pruned", 0) + rows
                self.reject_bytes -= int(freed)
        return int(rows)

    def record_outputs(
        self, rows: Sequence[OutboxRow], tick: tuple[int, datetime] | None, now: datetime
    ) -> int:
        """Store derived outputs (and the tick that caused them) in one transaction.

        A row whose id is already stored is skipped: a replay regenerates every transition
        and only the new ones are added, so nothing published is ever rewritten.
        """
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if tick is not None:
                    cur.execute(
                        "INSERT INTO ticks(after_seq, at) VALUES (?, ?)",
                        (tick[0], micros(tick[1])),
                    )
                before = self._conn.total_changes
                cur.executemany(
                    "INSERT OR IGNORE INTO outbox(id, topic, payload, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(r.id, r.topic, r.payload, micros(now)) for r in rows],
                )
                added = self._conn.total_changes - before
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return added

    def known_outputs(self, ids: Sequence[str]) -> set[str]:
        """Which of these output ids the outbox already holds."""
        found: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT id FROM outbox WHERE id IN ({marks})", chunk)
                found.update(r[0] for r in rows)
        return found

    def ticks(self) -> list[tuple[int, datetime]]:
        with self._lock:
            rows = self._conn.execute("SELECT after_seq, at FROM ticks ORDER BY seq").fetchall()
        return [(int(a), from_micros(t)) for a, t in rows]

    def unsent(self, limit: int = 500) -> list[tuple[int, str, bytes]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [(int(s), t, bytes(p)) for s, t, p in rows]

    def mark_sent(self, seqs: Sequence[int], at: datetime) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "UPDATE outbox SET sent_at = ? WHERE seq = ?", [(micros(at), s) for s in seqs]
                )
                self._conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) leaves the transaction open on the shared
                # connection: every later append would fail until it is rolled back.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def outbox(self) -> list[tuple[str, bytes, bool]]:
        """Every stored output: (topic, payload, sent)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT topic, payload, sent_at IS NOT NULL FROM outbox ORDER BY seq"
            ).fetchall()
        return [(t, bytes(p), bool(s)) for t, p, s in rows]

    def events(self, after_seq: int = 0, chunk: int = 5000) -> Iterator[JournalRow]:
        """Accepted events in journal order (the order they were committed)."""
        last = after_seq
        while True:
            with self._lock:
                rows = self._conn.execute(
                    _SELECT_EVENTS + "WHERE seq > ? ORDER BY seq LIMIT ?",
                    (last, chunk),
                ).fetchall()
            yield from map(_journal_row, rows)
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    def find(self, event_ids: Sequence[str]) -> list[JournalRow]:
        """The journaled events with these ids, in journal order (a card's evidence)."""
        ids = list(event_ids)[:500]  # SQLite's bound-parameter limit; evidence is a few events
        marks = ",".join("?" * len(ids))
        return self._rows(f"event_id IN ({marks}) ORDER BY seq", list(ids))

    def latest_of_kind(self, kind: EventKind, limit: int = 200) -> list[JournalRow]:
        """The newest events of one kind, newest first (the console's audit of commands)."""
        return self._rows("kind = ? ORDER BY seq DESC LIMIT ?", [kind.value, limit])

    def _rows(self, where: str, args: list[object]) -> list[JournalRow]:
        with self._lock:
            rows = self._conn.execute(
                _SELECT_EVENTS + f"WHERE {where}",
                args,
            ).fetchall()
        return [_journal_row(r) for r in rows]

    def rejects(self, limit: int = 100) -> list[RejectRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, received_at, reason, detail, size, payload, sha256 "
                "FROM rejects ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RejectRow(r[0], r[1], from_micros(r[2]), r[3], r[4], r[5], bytes(r[6]), r[7])
            for r in rows
        ]

    def last_status_payloads(self) -> dict[str, bytes]:
        """The latest journaled payload of each device status topic (for change detection)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT topic, payload FROM events WHERE seq IN ("
                " SELECT max(seq) FROM events WHERE kind IN (?, ?) GROUP BY topic)",
                (EventKind.CLOCK_STATUS.value, EventKind.CAMERA_STATUS.value),
            ).fetchall()
        return {t: bytes(p) for t, p in rows}

    def event_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _add_counter(cur: sqlite3.Cursor, name: str, n: int) -> None:
    cur.execute(
        "INSERT INTO counters(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        (name, n),
    )


def storable(text: str) -> str:
    """Text SQLite can store: a lone surrogate (which UTF-8 cannot encode) becomes `\\udxxx`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _reject_row(e: RejectEntry, keep: int) -> tuple[tuple[object, ...], int]:
    """The row's values, and the bytes it takes as `_ROW_BYTES` counts them."""
    topic, detail, payload = storable(e.topic[:1024]), storable(e.detail), e.payload[:keep]
    size = len(topic.encode()) + len(detail.encode()) + len(payload) + REJECT_ROW_OVERHEAD
    values = (
        topic,
        micros(e.received_at),
        storable(e.reason),
        detail,
        len(e.payload),
        payload,
        hashlib.sha256(e.payload).hexdigest(),
    )
    return values, size


def _insert_all(
    cur: sqlite3.Cursor, entries: Sequence[Entry], delta: dict[str, int], keep: int
) -> tuple[list[int | None], int]:
    """Insert a batch with two executemany calls; seqs of new events are assigned in order.

    Events are never deleted and this is the only writer, so the new events' seqs follow
    the current maximum one by one. Also returns the bytes the new reject rows take.
    """
    accepts = [e for e in entries if isinstance(e, AcceptEntry)]
    known = _existing(cur, [e.event_id for e in accepts])
    fresh: list[AcceptEntry] = []
    out: list[int | None] = []
    base = int(cur.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    for e in entries:
        if isinstance(e, RejectEntry):
            keys = [f"rejected.{e.reason}"]
            if not e.stored:
                keys += ["rejects_limited", f"rejects_limited.{e.limited_as}"]
            for key in keys:
                delta[key] = delta.get(key, 0) + 1
            out.append(None)
        elif e.event_id in known:
            delta["duplicate"] = delta.get("duplicate", 0) + 1
            out.append(None)
        else:
            known.add(e.event_id)
            fresh.append(e)
            out.append(base + len(fresh))
    if fresh:
        delta["accepted"] = delta.get("accepted", 0) + len(fresh)
    cur.executemany(
        "INSERT INTO events(seq, event_id, kind, topic, received_at, ts, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                base + i,
                e.event_id,
                e.kind.value,
                e.topic,
                micros(e.received_at),
                micros(e.ts),
                e.payload,
            )
            for i, e in enumerate(fresh, 1)
        ],
    )
    rows = [_reject_row(e, keep) for e in entries if isinstance(e, RejectEntry) and e.stored]
    cur.executemany(
        "INSERT INTO rejects(topic, received_at, reason, detail, size, payload, sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [values for values, _ in rows],
    )
    return out, sum(size for _, size in rows)


def _existing(cur: sqlite3.Cursor, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = cur.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks})", chunk)
        found.update(r[0] for r in rows)
    return found


def _claim(conn: sqlite3.Connection, hall: str, path: Path) -> None:
    """A journal belongs to one hall: refuse to mix two halls' events in one file."""
    rows = dict(conn.execute("SELECT key, value FROM meta"))
    if not rows:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("hall", hall), ("schema", str(SCHEMA_VERSION))],
        )
        return
    if rows.get("hall") != hall:
        raise JournalError(f"{path} belongs to hall {rows.get('hall')!r}, not {hall!r}")
    if rows.get("schema") in ("1", "2"):  # new tables exist now (CREATE IF NOT EXISTS)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(rejects)")}
        if "sha256" not in columns:
            conn.execute("ALTER TABLE rejects ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
        return
    if rows.get("schema") != str(SCHEMA_VERSION):
        raise JournalError(f"{path} has schema {rows.get('schema')}, expected {SCHEMA_VERSION}")


_SELECT_EVENTS = "SELECT seq, event_id, kind, topic, received_at, ts, payload FROM events "
_ROW_BYTES = (
    f"length(payload) + length(CAST(detail AS BLOB)) + length(CAST(topic AS BLOB)) "
    f"+ {REJECT_ROW_OVERHEAD}"
)
_REJECT_BYTES = f"SELECT coalesce(sum({_ROW_BYTES}), 0) FROM rejects"


def _journal_row(r: Sequence[Any]) -> JournalRow:
    """A row of `_SELECT_EVENTS`."""
    return JournalRow(
        r[0],
        EventId(r[1]),
        EventKind(r[2]),
        r[3],
        from_micros(r[4]),
        from_micros(r[5]),
        bytes(r[6]),
    )

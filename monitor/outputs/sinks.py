"""The time-series outbox: points queued durably, then written to InfluxDB in order.

    PointSink (write points)            the seam the daemon writes to
    ├── RemoteSink                      Outbox + Sender + a LineWriter
    │     Outbox    tsdb-outbox.sqlite3: seq, line, created; bounded by max_rows
    │     Sender    one thread: oldest batch → LineWriter → delete once accepted (2xx)
    │     LineWriter
    │       ├── InfluxWriter            influxdb-client, v2 write API, gzip, synchronous
    │       └── MemoryWriter            the in-package fake
    └── monitor.outputs.localstore.LocalStore   the embedded default (no server configured)

The outbox has its own SQLite file so a backlog never contends with the journal's writer.
A batch leaves it only after the server answered 2xx; while the server is down the sender
retries the same batch with backoff, so nothing is lost and nothing is reordered. A retried
batch holds the same bytes (same series, same timestamps), so a server that did store it
before the answer was lost overwrites those points instead of doubling them.

Errors: `SinkError` ├── `WriteFailed` (transient: retried) └── `WriteRejected` (the server
refused the data itself: 400, 422, or 413 for a single line; kept in `rejected` and reported).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from alerts.config import TimeSeriesConfig
from alerts.errors import HallwatchError
from alerts.points import Point, to_line
from hallkit.config import read_secret
from monitor.ingest import checkpoint

logger = logging.getLogger(__name__)

OUTBOX_FILE = "tsdb-outbox.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    line BLOB NOT NULL,            -- one point in line protocol, nanosecond precision
    created INTEGER NOT NULL       -- microseconds since the epoch, UTC
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,       -- its seq in the outbox
    line BLOB NOT NULL,
    created INTEGER NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""


# --- errors and the writer seam --------------------------------------------------------------


class SinkError(HallwatchError):
    """A time-series write did not succeed."""


class WriteFailed(SinkError):
    """Transient: the server is down, slow, overloaded or refuses our credentials. Retried."""


class WriteRejected(SinkError):
    """The server refused the data itself; sending it again would not help."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


_REJECTING = frozenset({400, 413, 422})  # bad line, body too large, outside retention


def classify(status: int, body: str) -> SinkError:
    """An HTTP error status as the sender's kind of error."""
    if status in _REJECTING:
        return WriteRejected(status, body[:500])
    return WriteFailed(f"HTTP {status}: {body[:500]}")


class LineWriter(Protocol):
    def write(self, lines: Sequence[bytes]) -> None:
        """Return once the server accepted every line; raise WriteFailed or WriteRejected."""

    def close(self) -> None: ...


class InfluxWriter:
    """influxdb-client's v2 write API, synchronous, so a return means the server said 2xx."""

    def __init__(self, cfg: TimeSeriesConfig, token: str | None) -> None:
        from influxdb_client.client.influxdb_client import (
            InfluxDBClient,
        )  # the local-store setup never needs it
        from influxdb_client.client.write_api import SYNCHRONOUS

        if cfg.url is None:
            raise SinkError("timeseries.url is not set")
        self._cfg = cfg
        self._client = InfluxDBClient(
            url=cfg.url,
            token=token or "",  # empty: no Authorization header (VictoriaMetrics)
            org=cfg.org,
            timeout=int(cfg.timeout_s * 1000),
            enable_gzip=cfg.gzip,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[bytes]) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self._api.write(
                bucket=self._cfg.bucket,
                org=self._cfg.org,
                record=b"\n".join(lines),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # a str constant
            )
        except ApiException as exc:
            body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
            raise classify(int(exc.status or 0), str(body or exc.reason)) from exc
        except (HTTPError, OSError) as exc:
            raise WriteFailed(f"{self._cfg.url}: {exc}") from exc

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


class MemoryWriter:
    """In-package fake: keeps what it accepted; `fail` and `reject` script errors."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.requests = 0
        self.fail = 0  # the next `fail` writes raise WriteFailed
        self.reject: Callable[[Sequence[bytes]], WriteRejected | None] | None = None

    def write(self, lines: Sequence[bytes]) -> None:
        self.requests += 1
        if self.fail > 0:
            self.fail -= 1
            raise WriteFailed("scripted failure")
        refusal = self.reject(lines) if self.reject else None
        if refusal is not None:
            raise refusal
        self.lines.extend(lines)

    def close(self) -> None:
        pass


# --- the durable queue -----------------------------------------------------------------------


def _micros(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


_ROWS_PER_INSERT = 400  # 401 parameters: below SQLite's oldest limit of 999


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_sql(n: int) -> str:
    """An INSERT of `n` lines with one `created` (?1) for all."""
    rows = ",".join(f"(?{i + 2},?1)" for i in range(n))
    return f"INSERT INTO outbox(line, created) VALUES {rows}"


class Outbox:
    """Points as line-protocol rows in arrival order; at most `max_rows` of them.

    `enqueue` stores a whole call or nothing. A call that would go over the bound starts a
    full episode: from then on every call is refused (False) and counted in `refused`
    until the backlog has drained below 90 % of the bound; `on_full(refused)` is called
    once per episode, at its start.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int,
        on_full: Callable[[int], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.max_rows = max_rows
        self.on_full = on_full
        self._now = now
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        checkpoint.defer(self._conn)
        self._conn.executescript(_SCHEMA)
        self._rows = int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        # The sender reads on a connection of its own: a batch's read never holds the lock
        # the writer's next insert waits for (WAL: readers see the last commit, block no one).
        self._reader = sqlite3.connect(path, check_same_thread=False)
        self._reader.execute("PRAGMA query_only=ON")
        self._read_lock = threading.Lock()
        self.refused = 0
        self.full = False

    @classmethod
    def open(cls, data_dir: str | Path, **kwargs: Any) -> Outbox:
        return cls(Path(data_dir) / OUTBOX_FILE, **kwargs)

    def enqueue(self, points: Sequence[Point]) -> bool:
        lines = [to_line(p) for p in points]
        created = _micros(self._now())
        with self._lock:
            if self.full or self._rows + len(lines) > self.max_rows:
                self.refused += len(lines)
                first = not self.full
                self.full = True
            else:
                self._insert(lines, created)
                return True
        if not first:
            logger.debug("time-series outbox still full: %d points refused", len(lines))
            return False
        logger.error("time-series outbox full (%d rows): refusing points", self._rows)
        if self.on_full is not None:
            self.on_full(self.refused)
        return False

    def _insert(self, lines: list[bytes], created: int) -> None:
        """One transaction; rows many to a statement (a third faster than `executemany`,
        which steps the statement once a row from Python)."""
        with self._conn:
            for i in range(0, len(lines), _ROWS_PER_INSERT):
                chunk = lines[i : i + _ROWS_PER_INSERT]
                self._conn.execute(_insert_sql(len(chunk)), [created, *chunk])
        self._rows += len(lines)

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest `limit` rows, in order."""
        with self._read_lock:
            rows: list[tuple[int, bytes]] = self._reader.execute(  # INTEGER, BLOB: int, bytes
                "SELECT seq, line FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        if not rows and self.full:
            with self._lock:
                # A write bigger than the room left started the episode; with nothing
                # queued no delete would ever end it, and every later write would be refused.
                self._shrunk(0)
        return rows

    def delete(self, first: int, last: int) -> None:
        """Drop an accepted batch (seqs first..last: rows are only added above them).

        Without a flush of its own (synchronous=NORMAL for this one transaction): the next
        insert's flush of the log carries it. A delete lost to a power cut sends its batch once
        more, as a crash between the send and the delete does, and the server overwrites the
        same series at the same instants; holding the lock through a flush here held up the
        writer's next insert."""
        with self._lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._conn:
                    cur = self._conn.execute(
                        "DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (first, last)
                    )
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")
            self._shrunk(cur.rowcount)

    def reject(self, batch: Sequence[tuple[int, bytes]], error: WriteRejected) -> None:
        """Move a refused batch to `rejected`, with the server's reason."""
        at = _micros(self._now())
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO rejected(seq, line, created, status, reason, at) "
                "SELECT seq, line, created, ?, ?, ? FROM outbox WHERE seq BETWEEN ? AND ?",
                (error.status, error.reason, at, batch[0][0], batch[-1][0]),
            )
            cur = self._conn.execute(
                "DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (batch[0][0], batch[-1][0])
            )
            self._shrunk(cur.rowcount)

    def _shrunk(self, n: int) -> None:
        self._rows -= n
        if self.full and self._rows < self.max_rows * 0.9:
            self.full = False
            logger.warning(
                "time-series outbox has room again (%d rows); %d points were refused in all",
                self._rows,
                self.refused,
            )

    def rejected(self) -> list[tuple[int, bytes, int, str]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, line, status, reason FROM rejected ORDER BY seq"
            ).fetchall()
        return [(int(s), bytes(ln), int(st), r) for s, ln, st, r in rows]

    def pending(self) -> int:
        return self._rows

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._conn.close()


# --- the sender ------------------------------------------------------------------------------


@dataclass(slots=True)
class SenderStats:
    sent: int = 0  # points the server accepted
    requests: int = 0
    failures: int = 0  # failed attempts (each retried)
    rejected: int = 0  # points the server refused (kept in the outbox file's `rejected`)
    last_error: str | None = None
    last_success: float | None = None  # time.time() of the last accepted batch


class Sender:
    """One thread: drain the outbox batch by batch, in order, retrying with backoff."""

    def __init__(
        self,
        outbox: Outbox,
        writer: LineWriter,
        *,
        batch_size: int,
        flush_interval_s: float,
        retry_min_s: float,
        retry_max_s: float,
        on_rejected: Callable[[int, str], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._writer = writer
        self._batch_size = batch_size
        self._limit = batch_size  # halved on 413, grows back on success
        self._interval = flush_interval_s
        self._retry = (retry_min_s, retry_max_s)
        self._delay = retry_min_s
        self._on_rejected = on_rejected
        self.stats = SenderStats()
        self.wake = threading.Event()

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ok = self.drain(stop)
            except Exception:  # a bug or a disk error: log it, keep the loop alive
                logger.exception("time-series sender iteration failed")
                ok = False
            if not ok:
                stop.wait(self._backoff())
                continue
            self.wake.wait(self._interval)
            self.wake.clear()

    def drain(self, stop: threading.Event | None = None) -> bool:
        """Send batches until the outbox is empty (True) or a write failed (False)."""
        while stop is None or not stop.is_set():
            batch = self._outbox.peek(self._limit)
            if not batch:
                return True
            if not self._send(batch):
                return False
        return True

    def _send(self, batch: list[tuple[int, bytes]]) -> bool:
        self.stats.requests += 1
        try:
            self._writer.write([line for _, line in batch])
        except WriteFailed as exc:
            self._failed(str(exc))
            return False
        except WriteRejected as exc:
            return self._refused(batch, exc)
        self._outbox.delete(batch[0][0], batch[-1][0])
        self.stats.sent += len(batch)
        self.stats.last_success = time.time()
        if self.stats.last_error is not None:
            logger.info("time-series server accepts writes again")
            self.stats.last_error = None
        self._delay = self._retry[0]
        self._limit = min(self._batch_size, self._limit * 2)
        logger.debug("time-series batch of %d points accepted", len(batch))
        return True

    def _failed(self, error: str) -> None:
        self.stats.failures += 1
        if self.stats.last_error is None:
            logger.warning(
                "time-series write failed, retrying (%d points waiting): %s",
                self._outbox.pending(),
                error,
            )
        self.stats.last_error = error

    def _refused(self, batch: list[tuple[int, bytes]], exc: WriteRejected) -> bool:
        if exc.status == 413 and len(batch) > 1:
            self._limit = max(1, len(batch) // 2)
            logger.warning("time-series server: batch too large, trying %d points", self._limit)
            return True
        self._outbox.reject(batch, exc)
        self.stats.rejected += len(batch)
        logger.error("time-series server refused %d points: %s", len(batch), exc)
        if self._on_rejected is not None:
            self._on_rejected(len(batch), str(exc))
        return True

    def _backoff(self) -> float:
        delay = self._delay
        self._delay = min(self._retry[1], self._delay * 2)
        return delay


# --- the sink the daemon writes to -----------------------------------------------------------


class PointSink(Protocol):
    @property
    def path(self) -> Path:
        """The SQLite database `write` stores into (its WAL: monitor/ingest/checkpoint.py)."""
        ...

    def write(self, points: Sequence[Point]) -> bool:
        """Store durably (True) or refuse (False: the sink is full; it has said so)."""

    def start(self) -> None: ...

    def close(self, timeout_s: float = 5.0) -> None: ...


class RemoteSink:
    """Outbox + sender thread to a server. `write` returns once the points are on disk."""

    def __init__(self, outbox: Outbox, sender: Sender, writer: LineWriter) -> None:
        self.outbox = outbox
        self.sender = sender
        self._writer = writer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self.outbox.path

    @classmethod
    def open(
        cls,
        cfg: TimeSeriesConfig,
        data_dir: str | Path,
        *,
        writer: LineWriter | None = None,
        config_path: Path | None = None,
        on_full: Callable[[int], None] | None = None,
        on_rejected: Callable[[int, str], None] | None = None,
    ) -> RemoteSink:
        outbox = Outbox.open(data_dir, max_rows=cfg.max_outbox_rows, on_full=on_full)
        if writer is None:
            writer = InfluxWriter(cfg, read_token(cfg, config_path))
        sender = Sender(
            outbox,
            writer,
            batch_size=cfg.batch_size,
            flush_interval_s=cfg.flush_interval_s,
            retry_min_s=cfg.retry_min_s,
            retry_max_s=cfg.retry_max_s,
            on_rejected=on_rejected,
        )
        return cls(outbox, sender, writer)

    def write(self, points: Sequence[Point]) -> bool:
        if not points:
            return True
        stored = self.outbox.enqueue(points)
        if stored and self.outbox.pending() >= self.sender.batch_size:
            self.sender.wake.set()
        return stored

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.sender.run, args=(self._stop,), name="tsdb-sender", daemon=True
        )
        self._thread.start()

    def flush(self) -> None:
        """Ask the sender to send what is waiting now rather than at the next interval."""
        self.sender.wake.set()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, then one last attempt to send; what is left stays on disk."""
        self._stop.set()
        self.sender.wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._thread is None or not self._thread.is_alive():
            deadline = threading.Event()
            timer = threading.Timer(timeout_s, deadline.set)
            timer.start()
            try:
                self.sender.drain(deadline)
            finally:
                timer.cancel()
            self.outbox.close()
        self._writer.close()


def read_token(cfg: TimeSeriesConfig, config_path: Path | None) -> str | None:
    if cfg.token_file is None:
        return None
    return read_secret(cfg.token_file, config_path)

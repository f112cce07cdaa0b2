"""A disk spool in front of MQTT: what a device adapter hands over survives the broker and itself.

`Spool` is one SQLite file in WAL mode with ``synchronous=FULL``: `put` returns only once the
message is on disk. `SpooledPublisher` feeds the spool to a paho 2.x client at QoS 1 and deletes
a row only after the broker's PUBACK, so a crash anywhere in between re-sends the message on the
next start. Duplicates are harmless: contract payloads carry ids the daemon deduplicates.

The spool is bounded. A full spool either drops its oldest row (`WhenFull.DROP_OLDEST`, for
heartbeats that a newer one supersedes) or refuses the new message (`WhenFull.REFUSE`, for a
source that keeps its own copy, like a fingerprint clock); either way it is logged and counted.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from alerts.config import BrokerConfig
from alerts.errors import HallwatchError
from hallkit.loops import woken
from hallkit.mqtt import Reconnecting, authenticate

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 1_000_000
# Rows handed to paho at once: bounds memory while the broker is away (paho keeps them
# and re-sends them itself after a reconnect).
WINDOW = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SpoolError(HallwatchError):
    """The spool cannot take a message."""


class SpoolFull(SpoolError):
    """The spool is at its bound and refuses new messages (`WhenFull.REFUSE`)."""


class WhenFull(StrEnum):
    DROP_OLDEST = "drop_oldest"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolItem:
    seq: int
    topic: str
    payload: bytes
    retain: bool


class Spool:
    """Messages waiting for the broker, oldest first; thread-safe."""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        when_full: WhenFull = WhenFull.DROP_OLDEST,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.path = Path(path)
        self.max_rows = max_rows
        self.when_full = when_full
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._rows = int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc

    def put(self, topic: str, payload: bytes, retain: bool = False) -> int:
        return self.put_many([Outgoing(topic=topic, payload=payload, retain=retain)])[0]

    def put_many(self, items: Sequence[Outgoing]) -> list[int]:
        """All or nothing, in one transaction; on disk before this returns."""
        if not items:
            return []
        with self._lock:
            overflow = self._rows + len(items) - self.max_rows
            if overflow > 0 and self.when_full is WhenFull.REFUSE:
                self._count("refused", len(items))
                logger.warning(
                    "spool %s full (%d rows): refused %d message(s)",
                    self.path,
                    self._rows,
                    len(items),
                )
                raise SpoolFull(
                    f"spool {self.path} holds {self._rows} of {self.max_rows} rows: "
                    f"{len(items)} more refused"
                )
            seqs = self._insert(items, max(overflow, 0))
        return seqs

    def pending(self, limit: int, after: int = 0) -> list[SpoolItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, retain FROM spool WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [SpoolItem(seq=s, topic=t, payload=bytes(p), retain=bool(r)) for s, t, p, r in rows]

    def done(self, seqs: Iterable[int]) -> None:
        batch = [(s,) for s in seqs]
        if not batch:
            return
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM spool WHERE seq = ?", batch)
            self._db.execute("COMMIT")
            self._rows -= self._db.total_changes - before

    def counter(self, name: str) -> int:
        """Persistent counts: ``dropped`` (oldest rows given up), ``refused`` (messages)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        return self._rows

    def _insert(self, items: Sequence[Outgoing], drop: int) -> list[int]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            if drop:
                before = db.total_changes
                db.execute(
                    "DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)",
                    (drop,),
                )
                drop = db.total_changes - before
                self._bump("dropped", drop)
            seqs = []
            for item in items:
                cur = db.execute(
                    "INSERT INTO spool (topic, payload, retain) VALUES (?, ?, ?)",
                    (item.topic, item.payload, int(item.retain)),
                )
                seqs.append(int(cur.lastrowid or 0))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise SpoolError(f"cannot write spool {self.path}: {exc}") from exc
        if drop:
            logger.warning(
                "spool %s full (%d rows): dropped the %d oldest message(s)",
                self.path,
                self.max_rows,
                drop,
            )
        self._rows += len(items) - drop
        return seqs

    def _count(self, name: str, n: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._bump(name, n)
        self._db.execute("COMMIT")

    def _bump(self, name: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, n),
        )


def _to_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else payload


class SpooledPublisher(Reconnecting):
    """Spool → paho (QoS 1) → PUBACK → delete; reconnects with backoff on its own.

    With `status_topic` the client leaves a retained last will ``offline`` there and, on every
    connect, publishes the current status: ``online`` (the birth) unless `birth` is False, in
    which case only what `set_status` said last (the owner decides, e.g. from device silence).
    """

    _log = logger

    def __init__(
        self,
        broker: BrokerConfig,
        client_id: str,
        spool_path: Path,
        password: str | None,
        status_topic: str | None = None,
        *,
        birth: bool = True,
        max_rows: int = DEFAULT_MAX_ROWS,
        when_full: WhenFull = WhenFull.DROP_OLDEST,
    ) -> None:
        super().__init__()
        self._cfg = broker
        self.spool = Spool(spool_path, max_rows=max_rows, when_full=when_full)
        self.status_topic = status_topic
        self._status: str | None = "online" if (status_topic and birth) else None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._empty = threading.Condition()
        self._inflight: dict[int, int] = {}  # paho mid -> spool seq; the sender thread's own
        self._acked: deque[int] = deque()  # mids from paho's thread (deque appends are atomic)
        self._handed = 0  # highest seq handed to paho
        self._sender: threading.Thread | None = None
        self._client = self._make_client(client_id, password)

    def _make_client(self, client_id: str, password: str | None) -> mqtt.Client:
        cfg = self._cfg
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,  # the spool, not the broker session, is what survives
            protocol=mqtt.MQTTv311,
        )
        authenticate(client, cfg.username, password, cfg.tls)
        if self.status_topic:
            client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(max(1, int(cfg.reconnect_min_s)), int(cfg.reconnect_max_s))
        client.max_inflight_messages_set(WINDOW)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def start(self) -> None:
        logger.info(
            "spool %s: %d message(s) waiting; connecting to %s:%d",
            self.spool.path,
            len(self.spool),
            self._cfg.host,
            self._cfg.port,
        )
        self._client.connect_async(self._cfg.host, self._cfg.port, self._cfg.keepalive_s)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="spool-sender", daemon=True)
        self._sender.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Give acknowledgements up to `timeout`, say ``offline``, disconnect; the rest waits."""
        if self.connected.is_set():
            self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=5)
        if self.connected.is_set() and self.status_topic:
            info = self._client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=min(timeout, 3.0) or 0.1)
            except RuntimeError as exc:  # the connection went meanwhile: the will says it
                logger.debug("offline status not confirmed: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._reap()
        left = len(self.spool)
        if left:
            logger.info("spool %s keeps %d unsent message(s) for next start", self.spool.path, left)
        self.spool.close()

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.publish_many([Outgoing(topic=topic, payload=_to_bytes(payload), retain=retain)])

    def publish_many(self, items: Sequence[Outgoing]) -> None:
        """Durable (spooled) when this returns; raises `SpoolFull` when refused."""
        self.spool.put_many(items)
        self._wake.set()

    def set_status(self, value: str) -> None:
        """Retained availability on `status_topic`; re-asserted after every reconnect."""
        if not self.status_topic:
            raise ValueError("this publisher has no status topic")
        self._status = value
        if self.connected.is_set():
            self._client.publish(self.status_topic, value, qos=1, retain=True)

    def flush(self, timeout: float) -> bool:
        """Wait until every spooled message is acknowledged; False on timeout."""
        self._wake.set()
        with self._empty:
            return self._empty.wait_for(lambda: len(self.spool) == 0, timeout)

    @property
    def dropped(self) -> int:
        return self.spool.counter("dropped")

    def _send_loop(self) -> None:
        woken(self._stop, self._wake, self._send, every_s=1.0, retry_s=1.0, name="spool sender")

    def _send(self) -> None:
        self._reap()
        self._hand_over()

    def _hand_over(self) -> None:
        room = WINDOW - len(self._inflight)
        if room <= 0 or self._stop.is_set():
            return
        for item in self.spool.pending(room, after=self._handed):
            # Queued by paho even while disconnected; it sends (and re-sends) it on connect.
            info = self._client.publish(item.topic, item.payload, qos=1, retain=item.retain)
            self._inflight[info.mid] = item.seq
            self._handed = item.seq

    def _reap(self) -> None:
        acked = []
        while self._acked:
            seq = self._inflight.pop(self._acked.popleft(), None)
            if seq is not None:  # None: a status message, which never was in the spool
                acked.append(seq)
        if acked:
            self.spool.done(acked)
            self._wake.set()  # room for more
        if len(self.spool) == 0:
            with self._empty:
                self._empty.notify_all()

    def _accepted(self, client: mqtt.Client, _flags: Any) -> None:
        logger.info("MQTT connected to %s:%d", self._cfg.host, self._cfg.port)
        if self.status_topic and self._status is not None:
            client.publish(self.status_topic, self._status, qos=1, retain=True)
        self._wake.set()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: ReasonCode, _p: Any) -> None:
        self._acked.append(mid)
        self._wake.set()  # the sender thread deletes acknowledged rows, not paho's thread

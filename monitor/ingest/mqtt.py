"""The MQTT shell: paho-mqtt 2.x, persistent session, manual acknowledgement.

paho's network thread only copies each message into the ingest queue. The session is
MQTT 3.1.1 with clean_session=False and a fixed client id, so the broker keeps the
subscriptions and every unacknowledged QoS 1 message while the daemon is down.

Whoever else connects with the daemon's client id takes that session over (config/
mosquitto.conf binds client ids to accounts, so only a client of the daemon's own account
can). MQTT 3.1.1 gives no reason for a lost connection, so the link counts what shows: lost
connections (repeated ones make the daemon unhealthy for a while) and reconnects that find
no session where one was expected (what was queued in it is gone).
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from alerts.config import BrokerConfig
from alerts.contract import INBOUND_AREAS
from hallkit.mqtt import Reconnecting, authenticate
from monitor.ingest.bus import Deliver
from monitor.ingest.ingestor import Inbound

logger = logging.getLogger(__name__)

_PUBACK = struct.Struct("!BBH")  # MQTT 3.1.1 PUBACK: type, remaining length 2, packet id
_ACKS_PER_WRITE = 4096  # 16 KiB a write at most

# This many lost connections within the window make the link unhealthy (docs/broker.md): a
# broker restart or a network blip costs one; another client of the daemon's account takes
# the session over every time it (re)connects.
TROUBLE_WINDOW = timedelta(minutes=5)
TROUBLE_DISCONNECTS = 3

Metric = tuple[str, str, str, dict[str, str], float]


class _BufferedClient(mqtt.Client):
    """paho's client, reading the socket in 64 KiB chunks instead of byte by byte.

    Stock paho 2.x spends four or five recv() calls and one select() on every incoming
    packet (command byte, each length byte, body). Each call releases and re-takes the
    GIL, which the journal writer holds while it decodes a batch, so the network thread
    starved. Serving those reads from a buffer, and parsing every buffered packet before
    the next select(), makes that one recv() per chunk. Only the private `_sock_recv` and
    `_sock_close` hooks are touched; paho is pinned to 2.x in pyproject.toml.
    """

    _CHUNK = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(self._CHUNK)  # BlockingIOError when nothing is there
            if not data:
                return data  # end of stream: paho sees the lost connection
            self._rbuf, self._rpos = data, 0
        end = self._rpos + bufsize
        chunk = self._rbuf[self._rpos : end]
        self._rpos = end
        return chunk

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0  # bytes of a dead connection never reach the next one
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        # Packets already buffered would not wake select(): parse them all now.
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf):
            rc = super().loop_read(max_packets)
        return rc


def sync_topic(hall: str) -> str:
    """The daemon's own marker topic: only its account may publish or read it."""
    return f"hall/{hall}/monitor/sync"


def inbound_filters(hall: str) -> list[str]:
    """One wildcard per inbound area, so a malformed topic inside it is seen and rejected."""
    return [f"hall/{hall}/{area}/#" for area in INBOUND_AREAS]


class MqttLink(Reconnecting):
    """The daemon's `Bus` (monitor/ingest/bus.py) on a broker; `deliver` is the sink
    `subscribe` sets, given here or there before `start`."""

    _log = logger

    def __init__(
        self,
        cfg: BrokerConfig,
        client_id: str,
        hall: str,
        deliver: Deliver | None = None,
        password: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        expect_session: bool = False,
    ) -> None:
        super().__init__()
        self._cfg = cfg
        self._hall = hall
        self._deliver = deliver
        self._now = now
        self.status_topic = f"hall/{hall}/monitor/status"
        self.sync_topic = sync_topic(hall)
        self._marker = b""  # this connection's: it comes back behind the session's queue
        self.caught_up = threading.Event()  # the writer has handled what was queued for us
        self.generation = 0
        self.subscribed = threading.Event()  # every inbound filter acknowledged by the broker
        self._pending_subs: set[int] = set()
        self.connects = 0
        self.disconnects = 0  # connections lost without our asking
        self.sessions_lost = 0  # connections that found no session where one was expected
        # The session's name: the account on the shipped broker (use_username_as_clientid).
        self._session_name = f"account {cfg.username}" if cfg.username else f"client {client_id}"
        self._expect_session = expect_session  # a journal with events: we had a session
        self._lost: deque[datetime] = deque(maxlen=64)
        self._session_lost_at: datetime | None = None
        self._trouble_lock = threading.Lock()
        client = _BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        authenticate(client, cfg.username, password, cfg.tls)
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(int(cfg.reconnect_min_s), int(cfg.reconnect_max_s))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client

    def subscribe(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def start(self) -> None:
        if self._deliver is None:
            raise RuntimeError("subscribe() before start(): the messages need a sink")
        logger.info("connecting to MQTT broker %s:%d", self._cfg.host, self._cfg.port)
        self._client.connect_async(self._cfg.host, self._cfg.port, self._cfg.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        """Say `offline` ourselves (the will covers crashes only), then disconnect."""
        if self.connected.is_set():
            info = self._client.publish(self.status_topic, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=3)
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, batch: Sequence[Inbound]) -> None:
        """PUBACK every QoS 1 message of `batch` in one write (paho's `ack` wakes its network
        thread and sends one packet a message: a fifth of the writer's time at full rate).

        An ack for a message of an earlier connection would acknowledge whatever now holds
        that packet id; skipping it is safe because the broker redelivers and we dedup.
        """
        gen = self.generation
        mids = [m.mid for m in batch if m.qos == 1 and m.generation == gen]
        for m in batch:
            if m.qos == 2 and m.generation == gen:
                self._client.ack(m.mid, m.qos)
        queue = getattr(self._client, "_packet_queue", None)
        if queue is None:  # a paho without it: one packet a message, as its API does
            for mid in mids:
                self._client.ack(mid, 1)
            return
        for i in range(0, len(mids), _ACKS_PER_WRITE):
            chunk = mids[i : i + _ACKS_PER_WRITE]
            # Several MQTT packets back to back are one write on the stream, read by the
            # broker one by one; the same bytes paho's `_send_puback` queues for each.
            queue(mqtt.PUBACK, b"".join(_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in chunk), 0, 0)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain)

    def publish_acked(self, messages: Sequence[tuple[str, bytes]], timeout: float = 10.0) -> int:
        """Publish at QoS 1, all at once (the broker keeps their order), then wait for the
        PUBACKs: how many, from the first, the broker acknowledged within `timeout`."""
        infos = [self._client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        for i, info in enumerate(infos):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # not connected, or the queue is full
                return i
            if not info.is_published():
                return i
        return len(infos)

    def _accepted(self, client: mqtt.Client, flags: Any) -> None:
        self.generation += 1
        self.connects += 1
        present = bool(getattr(flags, "session_present", False))
        session = "resumed" if present else "new"
        logger.info("MQTT connected (%s session, connection %d)", session, self.generation)
        if not present and (self._expect_session or self.generation > 1):
            self._session_lost()
        self._expect_session = True
        self.subscribed.clear()
        self.caught_up.clear()
        self._pending_subs = set()
        for topic in [*inbound_filters(self._hall), self.sync_topic]:
            _rc, mid = client.subscribe(topic, qos=1)
            if mid is not None:
                self._pending_subs.add(mid)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        # After the subscriptions (the broker handles a client's packets in order), so it is
        # queued behind whatever the session held: back at the writer, the backlog is read.
        self._marker = f"{self.generation}-{uuid.uuid4().hex}".encode()
        client.publish(self.sync_topic, self._marker, qos=1)

    def synced(self, msg: Inbound) -> None:
        """The writer reached a marker (monitor/ingest/ingestor.py): if it is this
        connection's, everything queued before it is journaled and applied."""
        if msg.generation == self.generation and msg.payload == self._marker:
            if not self.caught_up.is_set():
                logger.info("caught up with the broker's queue (connection %d)", msg.generation)
            self.caught_up.set()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        refused = [str(c) for c in codes if c.is_failure]
        if refused:
            logger.error("broker refused a subscription (check its ACL): %s", ", ".join(refused))
        self._pending_subs.discard(mid)
        if not self._pending_subs:
            self.subscribed.set()

    def _dropped(self, rc: ReasonCode) -> None:
        self.subscribed.clear()
        self.caught_up.clear()  # the broker queues for us again
        if not rc.is_failure:
            return
        now = self._now()
        with self._trouble_lock:
            self.disconnects += 1
            self._lost.append(now)
            recent = self._recent(now)
        if recent >= TROUBLE_DISCONNECTS:
            logger.error(
                "MQTT connection lost %d times in %d min: is another client connecting with "
                "the daemon's account (each connection takes its session over)?",
                recent,
                TROUBLE_WINDOW.total_seconds() // 60,
            )

    def _session_lost(self) -> None:
        with self._trouble_lock:
            self.sessions_lost += 1
            self._session_lost_at = self._now()
        logger.error(
            "the broker had no session for %s: messages queued for the daemon while it was "
            "away are lost (session taken over with a clean session, expired, or the broker "
            "lost its database); resubscribed",
            self._session_name,
        )

    def _recent(self, now: datetime) -> int:
        return sum(1 for t in self._lost if now - t < TROUBLE_WINDOW)

    def problems(self) -> list[str]:
        """Why the session is not trustworthy right now, for /healthz (empty: it is)."""
        now = self._now()
        with self._trouble_lock:
            recent, lost_at = self._recent(now), self._session_lost_at
        minutes = int(TROUBLE_WINDOW.total_seconds() // 60)
        out = []
        if recent >= TROUBLE_DISCONNECTS:
            out.append(
                f"MQTT connection lost {recent} times in {minutes} min "
                "(another client with the daemon's account takes its session over?)"
            )
        if lost_at is not None and now - lost_at < TROUBLE_WINDOW:
            out.append(
                f"MQTT session lost at {lost_at.isoformat(timespec='seconds')}: messages "
                "queued for the daemon meanwhile are gone"
            )
        return out

    def metrics(self) -> list[Metric]:
        return [
            (
                "hallwatch_mqtt_disconnects_total",
                "counter",
                "Connections lost without the daemon asking (broker restart, network, or "
                "another client of its account taking the session over).",
                {},
                self.disconnects,
            ),
            (
                "hallwatch_mqtt_sessions_lost_total",
                "counter",
                "Connections that found no persistent session where one was expected.",
                {},
                self.sessions_lost,
            ),
            (
                "hallwatch_mqtt_session_stable",
                "gauge",
                "0 while lost connections or a lost session make /healthz fail.",
                {},
                0 if self.problems() else 1,
            ),
        ]

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        assert self._deliver is not None  # start() saw to it
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "replace")
        if topic == self.sync_topic:
            self._client.ack(msg.mid, msg.qos)  # never journaled: nothing to redeliver
        self._deliver(
            Inbound(
                topic=topic,
                payload=bytes(msg.payload),
                received_at=self._now(),
                mid=msg.mid,
                qos=msg.qos,
                generation=self.generation,
            )
        )

"""The MQTT shell: paho-mqtt 2.x, persistent session, manual acknowledgement.

paho's network thread only copies each message into the ingest queue. The session is
MQTT 3.1.1 with clean_session=False and a fixed client id, so the broker keeps the
subscriptions and every unacknowledged QoS 1 message while the daemon is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from alerts.config import BrokerConfig
from alerts.contract import INBOUND_AREAS
from hallkit.mqtt import authenticate, refusal
from monitor.ingest.ingestor import Inbound

logger = logging.getLogger(__name__)


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


def inbound_filters(hall: str) -> list[str]:
    """One wildcard per inbound area, so a malformed topic inside it is seen and rejected."""
    return [f"hall/{hall}/{area}/#" for area in INBOUND_AREAS]


class MqttLink:
    def __init__(
        self,
        cfg: BrokerConfig,
        client_id: str,
        hall: str,
        deliver: Callable[[Inbound], None],
        password: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._cfg = cfg
        self._hall = hall
        self._deliver = deliver
        self._now = now
        self.status_topic = f"hall/{hall}/monitor/status"
        self.generation = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # every inbound filter acknowledged by the broker
        self._pending_subs: set[int] = set()
        self.fatal: str | None = None
        self.connects = 0
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

    def start(self) -> None:
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

    def ack(self, msg: Inbound) -> None:
        # An ack for a message of an earlier connection would acknowledge whatever now holds
        # that packet id; skipping it is safe because the broker redelivers and we dedup.
        if msg.qos > 0 and msg.generation == self.generation:
            self._client.ack(msg.mid, msg.qos)

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

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            self.fatal = refusal(client, rc, logger) or self.fatal
            return
        self.generation += 1
        self.connects += 1
        session = "resumed" if getattr(flags, "session_present", False) else "new"
        logger.info("MQTT connected (%s session, connection %d)", session, self.generation)
        self.subscribed.clear()
        self._pending_subs = set()
        for topic in inbound_filters(self._hall):
            _rc, mid = client.subscribe(topic, qos=1)
            if mid is not None:
                self._pending_subs.add(mid)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self.connected.set()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        refused = [str(c) for c in codes if c.is_failure]
        if refused:
            logger.error("broker refused a subscription (check its ACL): %s", ", ".join(refused))
        self._pending_subs.discard(mid)
        if not self._pending_subs:
            self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if rc.is_failure:
            logger.warning("MQTT connection lost (%s); reconnecting with backoff", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = msg._topic.decode("utf-8", "replace")
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

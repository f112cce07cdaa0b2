"""The link's batched acknowledgement on a real Mosquitto: one write of a batch's PUBACKs
frees exactly those messages from the daemon's session; the others come again."""

from __future__ import annotations

import contextlib
import queue
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import BrokerConfig
from monitor.ingest.ingestor import Inbound
from monitor.ingest.mqtt import MqttLink
from tests.brokers import TEST_ADMIN, Mosquitto
from tests.hall import HALL, T0, punch, topic

ACCOUNT = "hallwatch"
PUNCHES = topic("clock", "CLK-EAST", "punch")


def _link(broker: Mosquitto, got: queue.SimpleQueue[Inbound]) -> MqttLink:
    cfg = BrokerConfig(host=broker.host, port=broker.port, username=ACCOUNT)
    link = MqttLink(cfg, ACCOUNT, HALL, got.put, broker.password(ACCOUNT))
    link.start()
    assert link.subscribed.wait(10), "the link's subscriptions were not acknowledged"
    return link


def _take(got: queue.SimpleQueue[Inbound], n: int, quiet_s: float = 1.0) -> list[Inbound]:
    """`n` punches, then whatever else comes before `quiet_s` of silence (not the link's own
    sync markers, which it acknowledges itself)."""
    out: list[Inbound] = []
    deadline = time.monotonic() + 30
    while len(out) < n and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            out.append(got.get(timeout=1))
    while True:
        try:
            out.append(got.get(timeout=quiet_s))
        except queue.Empty:
            return [m for m in out if m.topic == PUNCHES]


def _publish(broker: Mosquitto, payloads: list[bytes]) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-acks-publisher")
    pub.username_pw_set(TEST_ADMIN, broker.password(TEST_ADMIN))
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        infos = [pub.publish(PUNCHES, p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_a_batch_acknowledged_in_one_write_leaves_the_session_and_only_it(
    mosquitto: Mosquitto,
) -> None:
    got: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
    first = _link(mosquitto, got)
    payloads = [punch(ts=T0.isoformat(), id=f"ack-{i}") for i in range(600)]
    _publish(mosquitto, payloads)
    received = _take(got, len(payloads))
    assert sorted(m.payload for m in received) == sorted(payloads)
    first.ack(received[:400])  # one write of 400 PUBACKs
    first.stop()  # its DISCONNECT follows the PUBACKs on the same stream
    assert first.disconnects == 0, "the broker dropped the connection over the acks"

    again = _link(mosquitto, got)
    try:
        redelivered = _take(got, 200)
    finally:
        again.stop()
    assert sorted(m.payload for m in redelivered) == sorted(m.payload for m in received[400:])

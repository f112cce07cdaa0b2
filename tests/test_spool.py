"""devices/spool.py: the disk spool alone, then the publisher against a real Mosquitto."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import BrokerConfig
from devices.spool import Outgoing, Spool, SpooledPublisher, SpoolFull, WhenFull
from tests.brokers import TEST_ADMIN, TEST_WATCHER, Mosquitto

TOPIC = "hall/demo-county/clock/CLK-EAST/punch"
STATUS = "hall/demo-county/clock/CLK-EAST/status"


def punch(n: int) -> bytes:
    return json.dumps({"id": f"T-{n}", "staff": "S001", "ts": "2026-11-23T08:00:00+08:00"}).encode()


# --- the spool file ---------------------------------------------------------------------------


def test_spool_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    seqs = [spool.put(TOPIC, punch(n)) for n in range(3)]
    spool.put(STATUS, b"online", retain=True)
    spool.close()

    again = Spool(path)
    items = again.pending(10)
    assert [i.seq for i in items[:3]] == seqs
    assert [i.payload for i in items[:3]] == [punch(n) for n in range(3)]
    assert items[3].retain and items[3].topic == STATUS
    again.done([seqs[0], seqs[2]])
    again.close()

    third = Spool(path)
    assert len(third) == 2
    assert [i.seq for i in third.pending(10)] == [seqs[1], items[3].seq]
    assert third.pending(10, after=seqs[1])[0].topic == STATUS
    third.close()


def test_full_spool_drops_the_oldest_and_counts_it(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path, max_rows=3)
    for n in range(5):
        spool.put(TOPIC, punch(n))
    assert len(spool) == 3
    assert [i.payload for i in spool.pending(10)] == [punch(2), punch(3), punch(4)]
    spool.close()
    assert Spool(path, max_rows=3).counter("dropped") == 2  # persists across restarts


def test_refusing_spool_takes_all_of_a_batch_or_none(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_rows=3, when_full=WhenFull.REFUSE)
    spool.put_many([Outgoing(topic=TOPIC, payload=punch(n)) for n in range(2)])
    with pytest.raises(SpoolFull):
        spool.put_many([Outgoing(topic=TOPIC, payload=punch(n)) for n in range(2, 4)])
    assert [i.payload for i in spool.pending(10)] == [punch(0), punch(1)]
    assert spool.counter("refused") == 2
    assert spool.counter("dropped") == 0


# --- the publisher against Mosquitto -----------------------------------------------------------


class Watcher:
    """test-admin with a persistent session: sees what was published while it was away."""

    def __init__(
        self, broker: Mosquitto, client_id: str = "spool-watcher", user: str = TEST_ADMIN
    ) -> None:
        self.broker = broker
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.username_pw_set(user, broker.password(user))
        client.on_connect = lambda c, *_: c.subscribe("hall/#", qos=1)
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        self.client = client

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.put((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def connect(self) -> None:
        self.subscribed.clear()
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscription not acknowledged"

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def take(self, n: int, timeout: float = 10.0) -> list[tuple[str, bytes, bool]]:
        return [self.messages.get(timeout=timeout) for _ in range(n)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "mosquitto")
    try:
        yield b
    finally:
        b.stop()


def publisher(broker: Mosquitto, spool: Path, status: str | None = None) -> SpooledPublisher:
    cfg = BrokerConfig(
        host=broker.host,
        port=broker.port,
        username="CLK-EAST",
        reconnect_min_s=1,
        reconnect_max_s=1,
    )
    return SpooledPublisher(cfg, "spool-test-CLK-EAST", spool, broker.password("CLK-EAST"), status)


@pytest.mark.integration
def test_messages_spooled_while_the_broker_is_down_are_delivered_later(
    broker: Mosquitto, tmp_path: Path
) -> None:
    broker.start()
    watcher = Watcher(broker)
    watcher.connect()
    watcher.disconnect()
    broker.stop()

    pub = publisher(broker, tmp_path / "spool.sqlite3")
    pub.start()
    for n in range(5):
        pub.publish(TOPIC, punch(n))
    assert len(pub.spool) == 5
    assert not pub.flush(0.3)

    broker.start()
    assert pub.flush(15), "spool not drained after the broker came up"
    watcher.connect()
    got = watcher.take(5)
    pub.stop()
    watcher.disconnect()
    assert [p for _, p, _ in got] == [punch(n) for n in range(5)]


@pytest.mark.integration
def test_nothing_is_lost_across_an_adapter_restart(broker: Mosquitto, tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite3"
    first = publisher(broker, spool)
    first.start()
    for n in range(3):
        first.publish(TOPIC, punch(n))
    first.stop(timeout=0.1)  # the broker never came up: all three stay on disk

    broker.start()
    watcher = Watcher(broker, "spool-watcher-2")
    watcher.connect()
    second = publisher(broker, spool)
    second.start()
    second.publish(TOPIC, punch(3))
    assert second.flush(15)
    got = watcher.take(4)
    second.stop()
    watcher.disconnect()
    assert sorted(p for _, p, _ in got) == sorted(punch(n) for n in range(4))
    assert len(Spool(spool)) == 0


@pytest.mark.integration
def test_status_birth_and_clean_offline(broker: Mosquitto, tmp_path: Path) -> None:
    broker.start()
    watcher = Watcher(broker, "spool-watcher-3")
    watcher.connect()
    pub = publisher(broker, tmp_path / "spool.sqlite3", status=STATUS)
    pub.start()
    assert watcher.take(1) == [(STATUS, b"online", False)]
    late = Watcher(broker, "spool-watcher-4", TEST_WATCHER)  # one connection per account
    late.connect()
    assert late.take(1) == [(STATUS, b"online", True)]  # the birth is retained
    late.disconnect()
    pub.stop()
    assert watcher.take(1) == [(STATUS, b"offline", False)]
    watcher.disconnect()

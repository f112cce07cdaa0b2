"""docs/topology.md's bridge failover: a hall broker bridging to two provincial brokers.

The hall broker runs the project's config/mosquitto.conf plus the bridge of docs/topology.md
(two addresses, `round_robin false`); the main provincial broker is down, so the bridge must
reach the second one, and a card published in the hall must arrive there.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import HOST, PROJECT_CONF, TEST_ADMIN, Mosquitto, find_executable, free_port
from tests.hall import HALL
from tests.running import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def _documented_bridge() -> str:
    """The failover bridge block of docs/topology.md, as written there."""
    text = (ROOT / "docs" / "topology.md").read_text(encoding="utf-8")
    section = text[text.index("## Bridge failover") :]
    block = section[section.index("```text\n") + 8 :]
    return block[: block.index("```")]


@pytest.fixture
def province(tmp_path: Path) -> Iterator[int]:
    """The second provincial broker (anonymous, loopback); the first is never started."""
    port = free_port()
    conf = tmp_path / "province2.conf"
    conf.write_text(f"listener {port} {HOST}\nallow_anonymous true\n", encoding="utf-8")
    log = (tmp_path / "province2.out").open("wb")
    proc = subprocess.Popen(
        [find_executable("mosquitto"), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_the_bridge_fails_over_to_the_second_provincial_broker(
    tmp_path: Path, province: int
) -> None:
    down = free_port()  # nothing listens there: the main provincial broker is down
    bridge = _documented_bridge().replace("330327-zwfw", HALL)
    assert re.search(r"^address \S+:8883 \S+:8883$", bridge, flags=re.M), bridge  # main, second
    bridge = re.sub(r"^address .*$", f"address {HOST}:{down} {HOST}:{province}", bridge, flags=re.M)
    for key in ("bridge_cafile", "remote_username", "remote_password"):  # plain, anonymous
        bridge = re.sub(rf"^{key} .*\n", "", bridge, flags=re.M)
    bridge = bridge.replace("restart_timeout 5 60", "restart_timeout 1 2")
    assert "round_robin false" in bridge and "topic    cards/#" in bridge
    conf = tmp_path / "hall.conf"
    conf.write_text(PROJECT_CONF.read_text(encoding="utf-8") + "\n" + bridge, encoding="utf-8")
    hall = Mosquitto(tmp_path / "hall", config=conf)
    got: list[tuple[str, bytes]] = []
    arrived = threading.Event()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="province-dashboard")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if "/cards/" in msg.topic:
            got.append((msg.topic, bytes(msg.payload)))
            arrived.set()

    watcher.on_message = on_message
    watcher.connect(HOST, province)
    watcher.subscribe("hall/+/cards/#", qos=1)
    watcher.loop_start()
    hall.start()
    try:
        wait_until(lambda: f"{HOST}:{province}" in hall.log_text(), 30, "the bridge on broker 2")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hall-daemon-stand-in")
        pub.username_pw_set(TEST_ADMIN, hall.password(TEST_ADMIN))
        pub.connect(hall.host, hall.port)
        pub.loop_start()
        topic = f"hall/{HALL}/cards/K-TEST"
        # Until the bridge's connection is up its queue holds the message (QoS 1, session kept).
        pub.publish(topic, b'{"card": "K-TEST"}', qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        assert arrived.wait(30), hall.log_text()[-3000:]
    finally:
        hall.stop()
        watcher.disconnect()
        watcher.loop_stop()
    assert got == [(topic, b'{"card": "K-TEST"}')]

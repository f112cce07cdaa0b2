"""The daemon as systemd runs it: READY and WATCHDOG, SIGHUP reload, bad credentials, metrics."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hallkit.exits import EXIT_CONFIG
from tests.brokers import Mosquitto
from tests.hall import HALL, punch
from tests.running import DaemonProcess, free_port, journal_ids, wait_until, write_config

pytestmark = pytest.mark.integration


class FakeSystemd:
    """A NOTIFY_SOCKET that records every datagram the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(15)
        self.seen: list[str] = []

    def expect(self, line: str) -> None:
        """Read datagrams until one carries `line`; the socket timeout bounds the wait."""
        while not any(line in msg.split("\n") for msg in self.seen):
            self.seen.append(self.sock.recv(4096).decode())

    def clear(self) -> None:
        self.seen.clear()


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.sock.close()


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return str(resp.read().decode())


def _publish(broker: Mosquitto, eid: str) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ops-{eid}")
    c.username_pw_set("CLK-EAST", broker.password("CLK-EAST"))
    c.connect(broker.host, broker.port)
    c.loop_start()
    ts = datetime.now(UTC).isoformat()
    c.publish(f"hall/{HALL}/clock/CLK-EAST/punch", punch(ts=ts, id=eid), qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def test_ready_watchdog_and_reload(
    mosquitto: Mosquitto, tmp_path: Path, systemd: FakeSystemd, daemons: list[DaemonProcess]
):
    web = free_port()
    cfg = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), web)
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "400000"}
    daemon = DaemonProcess(cfg, web, tmp_path / "daemon.log", env)
    daemons.append(daemon)
    daemon.start()
    systemd.expect("READY=1")
    systemd.expect("WATCHDOG=1")
    _publish(mosquitto, "before-reload")
    data = tmp_path / "data"
    wait_until(lambda: len(journal_ids(data)) == 1, 20, "first event journaled")

    good = cfg.read_text(encoding="utf-8")
    cfg.write_text(good.replace("max_future_skew_s = 300", "max_future_skew_s = -5"), "utf-8")
    systemd.clear()
    daemon.signal(signal.SIGHUP)
    systemd.expect("RELOADING=1")
    systemd.expect("READY=1")
    assert "reload refused" in daemon.log.read_text() and "ingest.max_future_skew_s" in (
        daemon.log.read_text()
    )
    assert 'hallwatch_reloads_total{result="refused"} 1' in _get(web, "/metrics")

    cfg.write_text(
        good.replace('name = "示范县政务服务中心"', 'name = "示范县政务服务大厅"'), "utf-8"
    )
    systemd.clear()
    daemon.signal(signal.SIGHUP)
    systemd.expect("READY=1")
    wait_until(lambda: 'result="ok"} 1' in _get(web, "/metrics"), 10, "reload counted")
    _publish(mosquitto, "after-reload")
    wait_until(lambda: len(journal_ids(data)) == 2, 20, "second event journaled")
    state = json.loads(_get(web, "/state"))
    assert state["events_applied"] >= 2, "state survived the reload"
    metrics = _get(web, "/metrics")
    assert "hallwatch_events_accepted_total 2" in metrics
    assert "hallwatch_mqtt_connected 1" in metrics
    assert json.loads(_get(web, "/healthz"))["ok"] is True
    systemd.clear()
    assert daemon.stop() == 0
    systemd.expect("STOPPING=1")

    # The stop left a snapshot: the next start replays only what came after it.
    assert (data / "snapshot.bin").exists()
    systemd.clear()
    daemon.start()
    systemd.expect("READY=1")
    assert "after a snapshot at event 2" in daemon.log.read_text()
    assert json.loads(_get(web, "/state"))["events_applied"] >= 2
    assert daemon.stop() == 0


def test_bad_credentials_stop_the_daemon_with_a_reason(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
):
    web = free_port()
    cfg = write_config(tmp_path, mosquitto.port, "wrong-password", web)
    log = tmp_path / "daemon.log"
    daemon = DaemonProcess(cfg, web, log)
    daemons.append(daemon)
    with pytest.raises(AssertionError, match=f"daemon exited {EXIT_CONFIG}"):
        daemon.start()
    assert "broker refused the connection: Not authorized" in log.read_text()

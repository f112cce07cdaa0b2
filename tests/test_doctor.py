"""`hallwatch doctor` against the test Mosquitto (project config and ACL) and VictoriaMetrics."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hallkit.config import load_config
from monitor.ingest.mqtt import inbound_filters
from tests.brokers import TEST_ADMIN, Mosquitto
from tests.hall import HALL
from tests.running import free_port, write_config
from tests.victoria import VictoriaMetrics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    vm = VictoriaMetrics(tmp_path_factory.mktemp("vm-doctor"))
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()


def _config(tmp_path: Path, broker: Mosquitto, ts_url: str, **swap: str) -> Path:
    path = write_config(tmp_path, broker.port, broker.password("hallwatch"), free_port())
    text = path.read_text(encoding="utf-8").replace(
        "[cards]", f'[timeseries]\nurl = "{ts_url}"\n\n[cards]', 1
    )
    for old, new in swap.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def _doctor(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _status(out: str) -> dict[str, str]:
    """check name → OK / WARN / FAIL, from the `[STATUS] check` lines."""
    found = {}
    for line in out.splitlines():
        if line.startswith("["):
            status, _, check = line[1:].partition("]")
            found[check.strip()] = status.strip()
    return found


def test_doctor_passes_against_the_test_servers(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    done = _doctor(_config(tmp_path, mosquitto, victoria.url))

    assert done.returncode == 0, done.stdout + done.stderr
    status = _status(done.stdout)
    for check in ("broker login", "ACL subscribe", "ACL publish", "time series", "journal disk"):
        assert status[check] == "OK", (check, done.stdout)
    assert next(s for c, s in status.items() if c.startswith("calendar")) == "OK"
    assert "全部检查通过 / all checks passed" in done.stdout


def test_a_wrong_broker_password_fails_with_a_clear_line(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    config = _config(tmp_path, mosquitto, victoria.url)
    (tmp_path / "mqtt-password").write_text("not-the-password\n", encoding="utf-8")

    done = _doctor(config)

    assert done.returncode == 1, done.stdout
    assert _status(done.stdout)["broker login"] == "FAIL"
    assert "refused the login of hallwatch" in done.stdout
    assert "拒绝账号 hallwatch 登录" in done.stdout
    assert "ACL subscribe" not in done.stdout  # not judged without a login


def test_an_account_without_the_daemons_grants_fails_the_acl_checks(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    """The display's account logs in but may not publish the daemon's topics. (Mosquitto 2.0
    grants its subscriptions and withholds the messages at delivery: not seen by a SUBACK.)"""
    config = _config(
        tmp_path, mosquitto, victoria.url, **{'username = "hallwatch"': 'username = "display"'}
    )
    (tmp_path / "mqtt-password").write_text(mosquitto.password("display"), encoding="utf-8")

    done = _doctor(config)

    status = _status(done.stdout)
    assert done.returncode == 1
    assert status["broker login"] == "OK"
    assert status["ACL publish"] == "FAIL", done.stdout
    assert f"the ACL does not let display publish hall/{HALL}/monitor/status" in done.stdout
    assert "ACL 不允许账号 display 发布" in done.stdout


def test_a_time_series_server_that_is_down_fails(mosquitto: Mosquitto, tmp_path: Path) -> None:
    done = _doctor(_config(tmp_path, mosquitto, f"http://127.0.0.1:{free_port()}"))

    assert done.returncode == 1
    assert _status(done.stdout)["time series"] == "FAIL"
    assert "时序数据库" in done.stdout


def test_the_probe_leaves_the_daemons_queued_messages_to_the_daemon(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    """A stopped daemon's session holds a punch; after doctor ran, the daemon still gets it."""
    config = _config(tmp_path, mosquitto, victoria.url)
    cfg = load_config(config)
    daemon = _session(mosquitto, cfg.client_id)
    daemon.disconnect()
    daemon.loop_stop()
    admin = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="doctor-admin")
    admin.username_pw_set(TEST_ADMIN, mosquitto.password(TEST_ADMIN))
    admin.connect(mosquitto.host, mosquitto.port)
    admin.loop_start()
    admin.publish(f"hall/{HALL}/clock/CLK-EAST/punch", b'{"probe": 1}', qos=1).wait_for_publish(10)
    admin.disconnect()
    admin.loop_stop()

    assert _doctor(config).returncode == 0

    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        arrived.set()

    back = _session(mosquitto, cfg.client_id, on_message, subscribe=False)
    try:
        assert arrived.wait(10), "the queued punch was lost"
    finally:
        back.disconnect()
        back.loop_stop()
    assert got == [b'{"probe": 1}']


def _session(
    broker: Mosquitto,
    client_id: str,
    on_message: Callable[[mqtt.Client, object, mqtt.MQTTMessage], None] | None = None,
    subscribe: bool = True,
) -> mqtt.Client:
    """The daemon's persistent session (MQTT 3.1.1, clean_session off), as the link."""
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    c.username_pw_set("hallwatch", broker.password("hallwatch"))
    if on_message is not None:
        c.on_message = on_message
    subscribed = threading.Event()
    c.on_subscribe = lambda *_: subscribed.set()
    c.connect(broker.host, broker.port)
    c.loop_start()
    if subscribe:
        c.subscribe([(f, 1) for f in inbound_filters(HALL)])
        assert subscribed.wait(10)
    return c

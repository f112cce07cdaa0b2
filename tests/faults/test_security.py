"""Fault: forged and anonymous MQTT traffic against the running daemon (shipped password file
and ACL, config/mosquitto.conf + .acl through tests/brokers.py).

tests/test_broker_config.py checks the ACL topic by topic at the broker. This checks the same
rules end to end: what a compromised clock or camera sends under someone else's name, into
another hall, or what the display, console or case-system account sends as a device, never
reaches the daemon's journal (not even as a reject) nor any subscriber, while the devices'
own messages, sent after the forged ones, are journaled. And the daemon's session: a device
connecting with the daemon's client id takes nothing over (config/mosquitto.conf binds client
ids to accounts), and a client of the daemon's own account that does shows in /healthz.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hallkit.config import load_config
from monitor.ingest.mqtt import TROUBLE_DISCONNECTS, TROUBLE_WINDOW
from monitor.system_cards import SESSION_RULE
from tests.brokers import ConsoleWatch, Mosquitto
from tests.faults.common import journal_rows, reject_reasons, start_clocked
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_broker_config import Client, connected, delivered_until_sentinel, watching

pytestmark = pytest.mark.integration

FORGED = b"forged"


def _punch(eid: str, staff: str = "S001") -> bytes:
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return json.dumps({"id": eid, "staff": staff, "ts": ts, "verify": "fingerprint"}).encode()


Forgeries = dict[str, list[tuple[str, bytes]]]
OTHER_HALL = "other-hall"


def _forgeries() -> Forgeries:
    """Per device account: what it must not be able to publish in its own hall."""
    card = {"card": "K-FORGED", "rule": "case.promised.overdue", "level": "red", "state": "raised"}
    command = {
        "action": "revoke",
        "by": "D001",
        "text": "forged",
        "ts": datetime.now(UTC).isoformat(),
    }
    return {
        "CLK-EAST": [
            (f"hall/{HALL}/light/W01", json.dumps({"window": "W01", "level": "green"}).encode()),
            (f"hall/{HALL}/cards/K-FORGED", json.dumps(card).encode()),
            (f"hall/{HALL}/card/K-FORGED/command", json.dumps(command).encode()),
            (f"hall/{HALL}/clock/CLK-WEST/punch", _punch("forged-by-east")),
            (f"hall/{HALL}/case/C-FORGED/event", _punch("forged-case")),
            (f"hall/{HALL}/camera/CLK-EAST/presence", _presence("forged-east-as-camera")),
        ],
        "CAM1": [
            (f"hall/{HALL}/clock/CLK-EAST/punch", _punch("forged-by-cam1")),
            (f"hall/{HALL}/camera/CAM2/presence", _punch("forged-cam2")),
            (f"hall/{HALL}/light/W02", json.dumps({"window": "W02", "level": "red"}).encode()),
        ],
    }


def _cross_hall() -> Forgeries:
    """Each device's own topics, in another hall (the daemon of that hall would take them)."""
    return {
        "CLK-EAST": [(f"hall/{OTHER_HALL}/clock/CLK-EAST/punch", _punch("forged-other-hall"))],
        "CAM1": [(f"hall/{OTHER_HALL}/camera/CAM1/presence", _presence("forged-other-cam"))],
    }


def _cross_kind() -> Forgeries:
    """The role accounts publishing device topics: a real device's, and under their own name."""
    out: Forgeries = {}
    for user in ("display", "console", "case-system"):
        out[user] = [
            (f"hall/{HALL}/clock/CLK-EAST/punch", _punch(f"forged-{user}-east")),
            (f"hall/{HALL}/clock/CLK-EAST/status", b"forged-offline"),
            (f"hall/{HALL}/camera/CAM1/presence", _presence(f"forged-{user}-cam1")),
            (f"hall/{HALL}/clock/{user}/punch", _punch(f"forged-{user}-own-name")),
            (f"hall/{HALL}/camera/{user}/presence", _presence(f"forged-{user}-own-cam")),
        ]
    return out


def _presence(eid: str) -> bytes:
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return json.dumps(
        {"id": eid, "window": "W01", "present": True, "persons": 1, "ts": ts}
    ).encode()


def _own(user: str) -> tuple[str, bytes]:
    if user == "CAM1":
        return f"hall/{HALL}/camera/CAM1/presence", _presence("own-cam1")
    return f"hall/{HALL}/clock/{user}/punch", _punch(f"own-{user}")


def _forge(broker: Mosquitto, daemon: DaemonProcess, data: Path, forgeries: Forgeries) -> int:
    """Publish every forgery (each acknowledged: the ACL drops it silently), then each device's
    own message; assert that nothing forged reached the daemon or any subscriber."""
    forged = 0
    with watching(broker) as watcher:
        for user, messages in forgeries.items():
            account = connected(broker, user)
            try:
                for topic, payload in messages:
                    account.publish(topic, payload)  # the broker acks and drops it (ACL)
                    forged += 1
            finally:
                account.close()
        # After the forged ones: had any come through, the daemon would have it before these.
        for user in ("CLK-EAST", "CAM1"):
            device = connected(broker, user)
            try:
                device.publish(*_own(user))
            finally:
                device.close()
        seen = delivered_until_sentinel(watcher)
    own = {"own-CLK-EAST", "own-cam1"}
    wait_until(lambda: own <= {i for i, _ in journal_rows(data)}, 30, "the devices' own events")
    assert daemon.healthy()
    assert daemon.stop() == 0
    assert {i for i, _ in journal_rows(data)} == own, "nothing forged journaled"
    assert not reject_reasons(data), "nothing forged even reached the daemon to be rejected"
    assert not [m.topic for m in seen if b"forged" in m.payload.lower()], "nor anyone"
    assert {_own("CLK-EAST")[0], _own("CAM1")[0]} <= {m.topic for m in seen}
    return forged


def test_anonymous_and_forged_traffic_never_reaches_the_daemon(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    for user, secret in ((None, None), ("CLK-EAST", "wrong"), ("CAM1", "pw-CLK-EAST")):
        client = Client(mosquitto, user, secret=secret)
        try:
            reason, _ = client.connect()
        finally:
            client.close()
        assert reason == "Not authorized", (user, reason)

    forged = _forge(mosquitto, daemon, tmp_path / "data", _forgeries())

    record_property("refused_connections", 3)
    record_property("forged_messages", forged)


def test_a_device_publishing_into_another_hall_is_dropped(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)

    forged = _forge(mosquitto, daemon, tmp_path / "data", _cross_hall())

    record_property("cross_hall_messages", forged)
    record_property("delivered", 0)


def test_display_console_and_case_system_cannot_publish_device_topics(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)

    forged = _forge(mosquitto, daemon, tmp_path / "data", _cross_kind())

    record_property("accounts", len(_cross_kind()))
    record_property("cross_kind_messages", forged)
    record_property("delivered", 0)


QUEUED = 200
TAKEOVERS = 10


def _metric(daemon: DaemonProcess, name: str) -> float:
    url = f"http://127.0.0.1:{daemon.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode("utf-8")
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def _healthz(daemon: DaemonProcess) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{daemon.web_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, dict(json.load(resp))
    except urllib.error.HTTPError as exc:
        return exc.code, dict(json.load(exc))


def _take_over_with_the_daemons_id(broker: Mosquitto, config: Path, user: str) -> list[str]:
    """`user` connecting with a clean session under every client id the daemon could have."""
    ids = [load_config(config).client_id, "hallwatch"]
    for client_id in ids:
        attacker = connected(broker, user, client_id=client_id, clean_session=True)
        attacker.close()
    return ids


def test_a_device_using_the_daemons_client_id_while_it_is_stopped_loses_nothing(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, config = start_daemon(
        mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons
    )
    data = tmp_path / "data"
    clock = connected(mosquitto, "CLK-EAST")
    try:
        clock.publish(*_own("CLK-EAST"))  # the journal has events: a session is expected
        wait_until(lambda: bool(journal_rows(data)), 30, "the first punch journaled")
        assert daemon.stop() == 0
        ids = [f"queued-{n:03d}" for n in range(QUEUED)]
        for eid in ids:
            clock.publish(f"hall/{HALL}/clock/CLK-EAST/punch", _punch(eid))
    finally:
        clock.close()
    attempts = _take_over_with_the_daemons_id(mosquitto, config, "CLK-EAST")

    daemon.start()
    wait_until(lambda: set(ids) <= {i for i, _ in journal_rows(data)}, 60, "the queued punches")
    lost = QUEUED - len(set(ids) & {i for i, _ in journal_rows(data)})
    status, health = _healthz(daemon)
    assert (status, health["problems"]) == (200, [])
    assert _metric(daemon, "hallwatch_mqtt_sessions_lost_total") == 0
    assert daemon.stop() == 0
    assert lost == 0
    record_property("queued_while_stopped", QUEUED)
    record_property("takeover_attempts", len(attempts))
    record_property("lost", lost)


def test_a_device_using_the_daemons_client_id_while_it_runs_disconnects_nothing(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, config = start_daemon(
        mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons
    )
    attempts = 0
    for _ in range(TAKEOVERS // 2):
        attempts += len(_take_over_with_the_daemons_id(mosquitto, config, "CLK-WEST"))
    clock = connected(mosquitto, "CLK-EAST")
    try:
        clock.publish(*_own("CLK-EAST"))
    finally:
        clock.close()
    wait_until(lambda: bool(journal_rows(tmp_path / "data")), 30, "a punch after the attempts")

    disconnects = _metric(daemon, "hallwatch_mqtt_disconnects_total")
    connects = _metric(daemon, "hallwatch_mqtt_connects_total")
    assert (disconnects, connects) == (0, 1)
    assert daemon.healthy()
    assert daemon.stop() == 0
    record_property("takeover_attempts", attempts)
    record_property("daemon_disconnects", int(disconnects))


def test_a_client_of_the_daemons_own_account_shows_in_healthz_until_it_stops(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    # The one takeover binding client ids cannot stop: the daemon's own password elsewhere
    # (a second daemon on the same account, a leaked credential).
    at = datetime.now(UTC).replace(microsecond=0)
    daemon, _ = start_clocked(mosquitto, tmp_path, daemons, at)
    console = ConsoleWatch(mosquitto)  # the system card, as the console sees it

    def connects(n: int) -> Callable[[], bool]:
        return lambda: _metric(daemon, "hallwatch_mqtt_connects_total") == n

    wait_until(connects(1), 30, "connected")
    for n in range(TROUBLE_DISCONNECTS):
        intruder = connected(mosquitto, "hallwatch", client_id=f"intruder-{n}")
        intruder.close()
        wait_until(connects(n + 2), 30, f"the daemon back after takeover {n + 1}")
    status, health = _healthz(daemon)
    disconnects = _metric(daemon, "hallwatch_mqtt_disconnects_total")
    lost = _metric(daemon, "hallwatch_mqtt_sessions_lost_total")
    stable = _metric(daemon, "hallwatch_mqtt_session_stable")
    assert status == 503
    assert any("lost 3 times" in p for p in health["problems"]), health["problems"]
    assert any("session lost" in p for p in health["problems"]), health["problems"]
    assert (disconnects, lost, stable) == (TROUBLE_DISCONNECTS, TROUBLE_DISCONNECTS, 0)
    assert f"MQTT connection lost {TROUBLE_DISCONNECTS} times" in daemon.log.read_text()
    wait_until(lambda: console.states(SESSION_RULE) == ["raised"], 30, "the system card")

    daemon.set_clock(at + TROUBLE_WINDOW + timedelta(seconds=1))  # no more takeovers since
    wait_until(daemon.healthy, 10, "healthy once the window has passed")
    assert _metric(daemon, "hallwatch_mqtt_session_stable") == 1
    wait_until(lambda: console.states(SESSION_RULE) == ["raised", "closed"], 30, "card closed")
    console.close()
    assert daemon.stop() == 0
    record_property("takeovers", TROUBLE_DISCONNECTS)
    record_property("disconnects_counted", int(disconnects))
    record_property("sessions_lost_counted", int(lost))
    record_property("healthz_while_it_happens", status)

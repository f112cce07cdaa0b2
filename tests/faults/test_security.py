"""Fault: forged and anonymous MQTT traffic against the running daemon (shipped password file
and ACL, config/mosquitto.conf + .acl through tests/brokers.py).

tests/test_broker_config.py checks the ACL topic by topic at the broker. This checks the same
rules end to end: what a compromised clock or camera sends under someone else's name never
reaches the daemon's journal (not even as a reject) nor any subscriber, while the same
accounts' own messages, sent after the forged ones on the same connection, are journaled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.faults.common import journal_rows, reject_reasons
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_broker_config import Client, connected, delivered_until_sentinel, watching

pytestmark = pytest.mark.integration

FORGED = b"forged"


def _punch(eid: str, staff: str = "S001") -> bytes:
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return json.dumps({"id": eid, "staff": staff, "ts": ts, "verify": "fingerprint"}).encode()


def _forgeries() -> dict[str, list[tuple[str, bytes]]]:
    """Per device account: what it must not be able to publish."""
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
        ],
        "CAM1": [
            (f"hall/{HALL}/clock/CLK-EAST/punch", _punch("forged-by-cam1")),
            (f"hall/{HALL}/camera/CAM2/presence", _punch("forged-cam2")),
            (f"hall/{HALL}/light/W02", json.dumps({"window": "W02", "level": "red"}).encode()),
        ],
    }


def _own(user: str) -> tuple[str, bytes]:
    if user == "CAM1":
        ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        doc = {"id": "own-cam1", "window": "W01", "present": True, "persons": 1, "ts": ts}
        return f"hall/{HALL}/camera/CAM1/presence", json.dumps(doc).encode()
    return f"hall/{HALL}/clock/{user}/punch", _punch(f"own-{user}")


def test_anonymous_and_forged_traffic_never_reaches_the_daemon(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    data = tmp_path / "data"
    for user, secret in ((None, None), ("CLK-EAST", "wrong"), ("CAM1", "pw-CLK-EAST")):
        client = Client(mosquitto, user, secret=secret)
        try:
            reason, _ = client.connect()
        finally:
            client.close()
        assert reason == "Not authorized", (user, reason)

    forged = 0
    with watching(mosquitto) as watcher:
        for user, messages in _forgeries().items():
            device = connected(mosquitto, user)
            try:
                for topic, payload in messages:
                    device.publish(topic, payload)  # the broker acks and drops it (ACL)
                    forged += 1
                device.publish(*_own(user))  # after the forged ones, on the same connection
            finally:
                device.close()
        seen = delivered_until_sentinel(watcher)
    own = {"own-CLK-EAST", "own-cam1"}
    wait_until(lambda: own <= {i for i, _ in journal_rows(data)}, 30, "the devices' own events")
    assert daemon.healthy()
    assert daemon.stop() == 0
    assert {i for i, _ in journal_rows(data)} == own, "nothing forged journaled"
    assert not reject_reasons(data), "nothing forged even reached the daemon to be rejected"
    assert not [m.topic for m in seen if b"forged" in m.payload or b"FORGED" in m.payload]
    record_property("refused_connections", 3)
    record_property("forged_messages", forged)

"""Malformed and hostile messages through real Mosquitto: each rejected for its own reason."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.contract import RejectReason
from tests.brokers import Mosquitto
from tests.hall import HALL, punch
from tests.running import (
    DaemonProcess,
    journal_ids,
    start_daemon,
    wait_until,
)
from tests.test_contract import REJECTS

pytestmark = pytest.mark.integration


def hostile(now: datetime) -> list[tuple[str, str, bytes, RejectReason]]:
    future = (now + timedelta(hours=1)).isoformat()
    # Another hall's topics are not subscribed at all, so they never reach this daemon.
    ours = f"hall/{HALL}/"
    out = [r for r in REJECTS if r[3] is not RejectReason.FUTURE_TIME and r[1].startswith(ours)]
    out += [
        (
            "future punch",
            f"hall/{HALL}/clock/CLK-EAST/punch",
            punch(ts=future),
            RejectReason.FUTURE_TIME,
        ),
        (
            "1 MiB payload",
            f"hall/{HALL}/clock/CLK-EAST/punch",
            b"{" + b" " * (1 << 20) + b"}",
            RejectReason.OVERSIZE,
        ),
        ("empty payload", f"hall/{HALL}/case/C9/event", b"", RejectReason.BAD_JSON),
        ("NUL bytes", f"hall/{HALL}/clock/CLK-EAST/punch", b"\x00" * 64, RejectReason.BAD_JSON),
        ("binary status", f"hall/{HALL}/camera/CAM1/status", b"\xff\x00", RejectReason.BAD_VALUE),
        (
            "complaint in the case area",
            f"hall/{HALL}/case/C9/complaint",
            punch(),
            RejectReason.UNKNOWN_TOPIC,
        ),
        (
            "rating with extra level",
            f"hall/{HALL}/rating/C9/x",
            punch(),
            RejectReason.UNKNOWN_TOPIC,
        ),
        (
            "staff status of a stranger",
            f"hall/{HALL}/staff/X999/status",
            json.dumps({"state": "away"}).encode(),
            RejectReason.UNKNOWN_STAFF,
        ),
    ]
    return [(n, t, p, r) for n, t, p, r in out]


def test_hostile_messages_are_rejected_and_valid_ones_accepted(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    now = datetime.now(UTC)
    cases = hostile(now)
    assert len(cases) >= 30
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
    client.username_pw_set("test-admin", mosquitto.password("test-admin"))
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    valid_ids = []
    infos = []
    for i, (_, t, payload, _) in enumerate(cases):
        infos.append(client.publish(t, payload, qos=1))
        eid = f"valid-{i}"
        valid_ids.append(eid)
        ts = (now - timedelta(minutes=1)).isoformat()
        valid = punch(ts=ts, id=eid)
        infos.append(client.publish(f"hall/{HALL}/clock/CLK-EAST/punch", valid, qos=1))
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    data = tmp_path / "data"
    wait_until(
        lambda: len(journal_ids(data)) >= len(valid_ids) and _rejects(data) >= len(cases),
        60,
        "every message decided",
    )
    assert daemon.healthy(), "daemon must stay up and healthy"
    assert sorted(journal_ids(data)) == sorted(valid_ids)
    with sqlite3.connect(data / "journal.sqlite3") as conn:
        got = Counter((t, r) for t, r in conn.execute("SELECT topic, reason FROM rejects"))
        details = [d for (d,) in conn.execute("SELECT detail FROM rejects")]
    want = Counter((t[:1024], r.value) for _, t, _, r in cases)
    assert got == want
    assert all(details)
    assert daemon.stop() == 0


def _rejects(data: Path) -> int:
    path = data / "journal.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM rejects").fetchone()[0])

"""20,000 events at QoS 1 through real Mosquitto while the daemon is SIGKILLed twice."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import Mosquitto
from tests.hall import HALL
from tests.running import (
    DaemonProcess,
    journal_counts,
    journal_ids,
    start_daemon,
    wait_until,
)

pytestmark = pytest.mark.integration
TOTAL = 20_000


def contract_events(n: int, now: datetime) -> list[tuple[str, str, bytes]]:
    """A mixed stream: punches, seat presence and case events, each with a unique id."""
    rng = random.Random(7)
    out = []
    p: dict[str, object]
    for i in range(n):
        ts = (now - timedelta(seconds=n - i)).isoformat()
        eid = f"dur-{i:06d}"
        match i % 3:
            case 0:
                t = f"hall/{HALL}/clock/CLK-EAST/punch"
                p = {
                    "id": eid,
                    "staff": f"S{rng.randint(1, 40):03d}",
                    "ts": ts,
                    "verify": "fingerprint",
                }
            case 1:
                cam = rng.randint(1, 4)
                win = f"W{(cam - 1) * 5 + rng.randint(1, 5):02d}"
                present = rng.random() < 0.8
                t = f"hall/{HALL}/camera/CAM{cam}/presence"
                p = {
                    "id": eid,
                    "window": win,
                    "present": present,
                    "persons": int(present),
                    "ts": ts,
                }
            case _:
                case = f"C2026-{i:06d}"
                t = f"hall/{HALL}/case/{case}/event"
                p = {
                    "id": eid,
                    "case": case,
                    "action": "received",
                    "kind": "promised",
                    "window": "W03",
                    "staff": "S005",
                    "ts": ts,
                }
        out.append((eid, t, json.dumps(p).encode()))
    return out


def publish_all(broker: Mosquitto, events: list[tuple[str, str, bytes]], done: threading.Event):
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="durability-publisher")
    client.username_pw_set("test-admin", broker.password("test-admin"))
    client.max_inflight_messages_set(200)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for _, t, p in events]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()
    done.set()


def _journaled(data: Path, n: int) -> Callable[[], bool]:
    return lambda: len(journal_ids(data)) >= n


def test_every_event_journaled_exactly_once_across_two_sigkills(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    data = tmp_path / "data"
    events = contract_events(TOTAL, datetime.now(UTC))
    done = threading.Event()
    publisher = threading.Thread(target=publish_all, args=(mosquitto, events, done))
    publisher.start()
    rng = random.Random()
    kills = sorted(rng.sample(range(1_000, TOTAL - 2_000), 2))
    for threshold in kills:
        wait_until(_journaled(data, threshold), 120, f"{threshold} journaled")
        daemon.kill()
        daemon.start()
    publisher.join(180)
    assert done.is_set(), "publisher did not finish"
    wait_until(lambda: len(journal_ids(data)) >= TOTAL, 180, "all events journaled")
    assert daemon.stop() == 0
    ids = journal_ids(data)
    assert len(ids) == TOTAL == len(set(ids))
    assert set(ids) == {eid for eid, _, _ in events}
    counts = journal_counts(data)
    assert counts["accepted"] == TOTAL
    assert not any(k.startswith("rejected.") for k in counts), counts

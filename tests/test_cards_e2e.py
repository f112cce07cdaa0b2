"""End to end through real Mosquitto: case events in, card transitions out (docs/contract.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import ConsoleWatch, Mosquitto
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until

pytestmark = pytest.mark.integration


def _lights(broker: Mosquitto) -> dict[str, dict[str, Any]]:
    """Retained lights as the display account sees them, kept current by a subscriber."""
    seen: dict[str, dict[str, Any]] = {}

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload:
            doc = json.loads(msg.payload)
            seen[doc["window"]] = doc

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-display")
    c.username_pw_set("display", broker.password("display"))
    c.on_message = on_message
    c.connect(broker.host, broker.port)
    c.subscribe(f"hall/{HALL}/light/#", qos=1)
    c.loop_start()
    return seen


def account(broker: Mosquitto, user: str) -> mqtt.Client:
    """A connected, looping client of one broker account (the ACL decides what it may do)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{user}")
    c.username_pw_set(user, broker.password(user))
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def test_case_events_in_card_transitions_out(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    daemon, cfg = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    console = ConsoleWatch(mosquitto)
    cases = account(mosquitto, "case-system")
    now = datetime.now(UTC)
    accepted = {
        "id": "e2e-accepted",
        "case": "C-E2E-1",
        "action": "accepted",
        "kind": "promised",
        "ts": (now - timedelta(days=30)).isoformat(),
        "window": "W03",
        "staff": "S005",
        "promised_days": 3,
        "legal_days": 10,
    }
    cases.publish("hall/demo-county/case/C-E2E-1/event", json.dumps(accepted), qos=1)
    wait_until(lambda: "raised" in console.states("case.promised.overdue"), 30, "the red card")
    red = next(t for t in console.seen if t["rule"] == "case.promised.overdue")
    assert red["level"] == "red"
    assert red["subject"] == {"case": "C-E2E-1", "window": "W03", "staff": "S005"}
    assert red["owner"] == "S005" and red["evidence"] == ["e2e-accepted"]
    assert datetime.fromisoformat(red["ts"]) < now - timedelta(days=20)  # its true time
    assert datetime.fromisoformat(red["answer_by"]) > datetime.fromisoformat(red["ts"])
    assert f"hall/{HALL}/cards/{red['card']}" in console.topics
    # The warning before it was raised and superseded at the deadline; the legal limit passed.
    wait_until(
        lambda: console.states("case.promised.warning") == ["raised", "closed"], 30, "yellow"
    )
    wait_until(lambda: "raised" in console.states("case.legal.overdue"), 30, "legal red")
    # The hall display's account sees W03's retained light turn red with those cards.
    lights = _lights(mosquitto)
    wait_until(lambda: lights.get("W03", {}).get("level") == "red", 30, "W03's red light")
    assert red["card"] in lights["W03"]["cards"] and lights["W01"]["level"] == "green"

    ts = datetime.now(UTC).isoformat()
    console.command(red["card"], {"action": "answer", "by": "S005", "text": "材料补正中", "ts": ts})
    wait_until(lambda: "answered" in console.states("case.promised.overdue"), 30, "answered")
    console.command(red["card"], {"action": "uphold", "by": "S005", "text": "本人裁决", "ts": ts})
    console.command(red["card"], {"action": "uphold", "by": "D001", "text": "情况属实", "ts": ts})
    wait_until(lambda: "upheld" in console.states("case.promised.overdue"), 30, "upheld")
    done = {"id": "e2e-done", "case": "C-E2E-1", "action": "completed", "outcome": "approved"}
    cases.publish("hall/demo-county/case/C-E2E-1/event", json.dumps({**done, "ts": ts}), qos=1)
    wait_until(lambda: console.states("case.promised.overdue")[-1] == "closed", 30, "closed")
    states = console.states("case.promised.overdue")
    # Raised with its true time weeks ago, so already unanswered past answer_by: escalated.
    # The officer's own uphold was refused (only a supervisor decides).
    assert states == ["raised", "escalated", "answered", "upheld", "closed"]
    cases.disconnect()
    console.close()
    assert daemon.stop() == 0
    # No InfluxDB configured: the same transitions are in the local time-series store.
    span = ["--from", (now - timedelta(days=40)).date().isoformat()]
    span += ["--to", (now + timedelta(days=1)).date().isoformat(), "--tag", "window=W03"]
    listing = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "query", "--config", str(cfg), "card", *span],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert red["card"] in listing and "escalated" in listing

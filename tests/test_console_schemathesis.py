"""schemathesis against the served OpenAPI document and a running daemon: no request it makes,
logged in as each role that can do something, gets a server error (5xx) or a response that
breaks the document (status code, content type, schema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import Mosquitto
from tests.hall import body, topic
from tests.running import DaemonProcess, start_daemon, wait_until

EXAMPLES = 15  # per operation: enough to find a crash on bad input, and the suite stays fast


def seed_cards(broker: Mosquitto) -> None:
    """Three overdue cases through the broker, as the case system sends them: red cards the
    run can read and decide (the listing's OpenAPI links lead it to them)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="st-case-system")
    client.username_pw_set("case-system", broker.password("case-system"))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for i, days_ago in enumerate((20, 12, 6)):
            ts = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
            case = f"C-ST-{i}"
            payload = body(
                case=case,
                action="accepted",
                kind="promised",
                ts=ts,
                window="W02",
                staff="S003",
                promised_days=1,
                legal_days=20,
            )
            client.publish(topic("case", case, "event"), payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def login(port: int, name: str) -> tuple[str, str]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/login",
        data=json.dumps({"name": name, "password": f"demo-{name}"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        cookie = resp.headers["Set-Cookie"].split(";")[0]
        return cookie, json.load(resp)["csrf"]


def cards(port: int, cookie: str) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/cards?level=red&state=all", headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(json.load(resp)["total"])


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_schemathesis_finds_no_server_error(
    role: str, mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    seed_cards(mosquitto)
    reader, _ = login(daemon.web_port, "leader")
    wait_until(lambda: cards(daemon.web_port, reader) >= 3, 20, "the seeded cards")
    cookie, csrf = login(daemon.web_port, role)
    st = Path(sys.executable).parent / "schemathesis"
    report = tmp_path / "schemathesis.xml"
    done = subprocess.run(
        [
            str(st),
            "run",
            f"http://127.0.0.1:{daemon.web_port}/api/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--exclude-path",
            "/api/logout",  # would end the run's own session
            "--exclude-path",
            "/api/config/reload",  # a reload per example: covered in test_console_api
            "-H",
            f"Cookie: {cookie}",
            "-H",
            f"X-CSRF-Token: {csrf}",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failures" not in done.stdout, done.stdout[-3000:]
    assert daemon.healthy()  # still up and well after it all

"""`hallwatch demo` as a user runs it: embedded broker, daemon, journal, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.running import free_port, journal_ids, wait_until

pytestmark = pytest.mark.integration


def _read_banner(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)


def test_demo_journals_what_is_published_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    mqtt_port, web_port = free_port(), free_port()
    ports = ["--mqtt-port", str(mqtt_port), "--web-port", str(web_port), "--sim-days", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--data-dir", str(data_dir), *ports],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=_read_banner, args=(proc, lines), daemon=True).start()
    try:
        wait_until(lambda: any("Simulated hall" in x for x in lines), 60, "the demo banner")
        text = "".join(lines)
        assert f"mqtt://127.0.0.1:{mqtt_port}" in text
        assert f"http://127.0.0.1:{web_port}/healthz" in text
        assert str(data_dir.resolve()) in text
        assert f"http://127.0.0.1:{web_port}/display" in text
        url = f"http://127.0.0.1:{web_port}/display/state"
        with urllib.request.urlopen(url, timeout=10) as resp:
            tiles = json.load(resp)["tiles"]
        assert len(tiles) == 20 and tiles[0]["name"]

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-demo-user")
        client.connect("127.0.0.1", mqtt_port)
        client.loop_start()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        punch = {"id": "demo-user-1", "staff": "S002", "ts": now, "verify": "card"}
        client.publish("hall/demo-county/clock/CLK-WEST/punch", json.dumps(punch), qos=1)
        client.publish("hall/demo-county/clock/CLK-WEST/punch", b"{not json", qos=1)
        client.publish("hall/demo-county/clock/CLK-WEST/punch", json.dumps(punch), qos=1)
        wait_until(lambda: "demo-user-1" in journal_ids(data_dir), 30, "the user's punch")
        client.disconnect()
        client.loop_stop()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert journal_ids(data_dir).count("demo-user-1") == 1
        listing = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "rejects", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "JSON格式错误(bad_json)" in listing
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""`hallwatch demo` as a user runs it: embedded broker, daemon, journal, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.running import free_port, journal_ids, json_at, wait_until

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


def test_the_demos_catch_up_accuses_nobody_it_later_clears(tmp_path: Path) -> None:
    """The demo's first minutes, as a new user sees them: the simulator sends the last working
    day as fast as it can, then today. While judgement is held behind those sources (docs/
    cards.md, "Sources"), the display says 同步中 and no light turns red unless it is red once
    caught up; no card raised on the way is voided afterwards."""
    data_dir = tmp_path / "demo"
    mqtt_port, web_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    lights: list[tuple[float, str, str]] = []  # (monotonic, window, level)
    voids: list[dict[str, object]] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        with lock:
            if "/light/" in msg.topic:
                lights.append((time.monotonic(), str(doc["window"]), str(doc["level"])))
            elif doc.get("reason") == "void":
                voids.append(doc)

    args = ["--mqtt-port", str(mqtt_port), "--web-port", str(web_port), "--sim-days", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--data-dir", str(data_dir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-demo-watch")
    try:
        wait_until(lambda: _up(web), 60, "the demo's web server")
        client.on_message = on_message
        client.connect("127.0.0.1", mqtt_port)
        client.subscribe([("hall/demo-county/light/+", 1), ("hall/demo-county/cards/+", 1)])
        client.loop_start()
        wait_until(lambda: bool(json_at(f"{web}/display/state").get("catching_up")), 60, "同步中")
        wait_until(lambda: _caught_up(web), 300, "the demo to catch up")
        caught = time.monotonic()
        wait_until(lambda: _quiet(lights, lock, 1.0), 30, "the lights published once caught up")
        with lock:
            during = [(w, lvl) for t, w, lvl in lights if t < caught]
            final = {w: lvl for _, w, lvl in lights}
            voided = list(voids)
        reds = {w for w, lvl in during if lvl == "red"}
        assert all(final.get(w) == "red" for w in reds), f"red while catching up: {reds}"
        assert not voided, f"cards raised while catching up and voided: {voided[:3]}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        client.loop_stop()
        client.disconnect()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _up(web: str) -> bool:
    try:
        json_at(f"{web}/healthz")
    except OSError:
        return False
    return True


def _caught_up(web: str) -> bool:
    """Judgement has reached the daemon's time: no source holds it, the display is live."""
    health = json_at(f"{web}/healthz")
    return not health["holding"] and not json_at(f"{web}/display/state").get("catching_up")


def _quiet(lights: list[tuple[float, str, str]], lock: threading.Lock, for_s: float) -> bool:
    with lock:
        last = lights[-1][0] if lights else 0.0
    return time.monotonic() - last >= for_s

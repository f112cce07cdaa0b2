"""End to end through real Mosquitto: a scripted morning of punches, seat presence and
statuses gives the expected cards and window lights (docs/people.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest

from tests.brokers import ConsoleWatch, Mosquitto
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_cards_e2e import _lights, account

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 20, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working Friday, past


def at(hh: int, mm: int) -> str:
    return DAY.replace(hour=hh, minute=mm).isoformat()


def _send(c: mqtt.Client, topic: str, doc: dict[str, Any]) -> None:
    c.publish(f"hall/{HALL}/{topic}", json.dumps(doc, ensure_ascii=False), qos=1).wait_for_publish(
        10
    )


def test_a_scripted_morning_gives_the_expected_cards_and_lights(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    daemon, cfg = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    console = ConsoleWatch(mosquitto)
    lights = _lights(mosquitto)
    clock, cam, office = (account(mosquitto, u) for u in ("CLK-EAST", "CAM1", "case-system"))

    _send(clock, "clock/CLK-EAST/punch", {"staff": "S001", "ts": at(8, 20), "verify": "card"})
    _send(clock, "clock/CLK-EAST/punch", {"staff": "S005", "ts": at(8, 52), "verify": "face"})
    leave = {"state": "leave", "category": "sick", "approved_by": "L001", "ts": at(8, 0)}
    leave |= {"from": at(8, 0), "until": at(17, 30)}
    _send(office, "staff/S003/status", leave)
    # W03's seat: occupied from 08:30, empty 09:00-09:20 with no notice, occupied again.
    for minute in range(30, 120):
        t = DAY.replace(hour=8) + timedelta(minutes=minute)
        present = not 60 <= minute < 80
        doc = {"window": "W03", "present": present, "persons": int(present), "ts": t.isoformat()}
        _send(cam, "camera/CAM1/presence", doc)

    def rules() -> set[str]:
        with console._lock:
            return {t["rule"] for t in console.seen if t["state"] == "raised"}

    wanted = {"post.unstaffed.warning", "post.unstaffed", "attendance.absent_half_day"}
    wait_until(lambda: wanted <= rules(), 60, f"cards {wanted}")
    with console._lock:
        red = next(t for t in console.seen if t["rule"] == "post.unstaffed")
        late = next(t for t in console.seen if t["rule"] == "attendance.absent_half_day")
    assert red["subject"]["window"] == "W03"
    assert datetime.fromisoformat(red["ts"]) == datetime.fromisoformat(at(9, 15))  # 15 min
    assert late["subject"]["staff"] == "S005"

    # On sick leave all day: no attendance card of hers stands. If the leave reached the
    # daemon after a checkpoint had looked at her sheet, the cards raised then are voided.
    def standing_for_s003() -> dict[str, tuple[str, str]]:
        with console._lock:
            ids = {
                t["card"]
                for t in console.seen
                if t["subject"].get("staff") == "S003"
                and t["rule"].startswith("attendance.")
                and t["ts"].startswith("2026-11-20")
            }
            last = {t["card"]: (t["state"], t["reason"]) for t in console.seen if t["card"] in ids}
        return {k: v for k, v in last.items() if v != ("closed", "void")}

    wait_until(lambda: not standing_for_s003(), 30, "no attendance card for S003 on leave")
    # CAM1 has been silent since that morning: its windows are unknown, never "empty".
    wait_until(lambda: lights.get("W03", {}).get("level") == "unknown", 30, "W03 unknown")
    assert lights["W11"]["level"] == "green"

    day_args = ["--date", "2026-11-20", "--html", str(tmp_path / "sheet.html")]
    sheet = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "attendance", "--config", str(cfg), *day_args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "考勤日报" in sheet and "值班领导签字" in (tmp_path / "sheet.html").read_text()
    for c in (clock, cam, office):
        c.disconnect()
        c.loop_stop()
    console.close()
    assert daemon.stop() == 0

"""The people rules from the seeds through the daemon and real Mosquitto: a bare `away` covers
no empty seat (001_… 第五篇(一)4), a leader seen only at 08:25 did not stay the half-day
(002_… 领导值班制度 二), an empty seat while A is on approved leave is the covering B's
(000_… 七(三); 002_… AB岗工作制 五)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest

from tests.brokers import ConsoleWatch, Mosquitto
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_cards_e2e import account

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Shanghai"))  # a past working Monday
# The example hall's rota has L001 on duty that morning (08:30-12:00).


def at(hh: int, mm: int) -> str:
    return DAY.replace(hour=hh, minute=mm).isoformat()


def _send(c: mqtt.Client, topic: str, doc: dict[str, Any]) -> None:
    payload = json.dumps(doc, ensure_ascii=False)
    c.publish(f"hall/{HALL}/{topic}", payload, qos=1).wait_for_publish(10)


def test_notice_leave_and_duty_rules_through_the_daemon(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    console = ConsoleWatch(mosquitto)
    clock, cam, office = (account(mosquitto, u) for u in ("CLK-EAST", "CAM1", "case-system"))

    # W03 (A S005): a bare notice, no whereabouts, no contact, while the seat is empty.
    bare = {"id": "AW-S005", "state": "away", "ts": at(9, 0), "from": at(9, 0)}
    _send(office, "staff/S005/status", bare | {"until": at(9, 30), "reason": "踏勘"})
    # W01 (A S001, B S002, S003): S001 on a day's leave the deputy approved.
    leave = {"id": "LV-S001", "state": "leave", "category": "personal", "ts": at(7, 50)}
    leave |= {"from": at(8, 0), "until": at(17, 30), "approved_by": "L002"}
    _send(office, "staff/S001/status", leave)
    # L001 on duty in the morning, seen once at 08:25.
    _send(clock, "clock/CLK-EAST/punch", {"staff": "L001", "ts": at(8, 25), "verify": "face"})
    for minute in range(30, 120):  # 08:30-10:00; both seats empty 09:00-09:40
        t = DAY.replace(hour=8) + timedelta(minutes=minute)
        present = not 60 <= minute < 100
        for w in ("W01", "W03"):
            doc = {"window": w, "present": present, "persons": int(present), "ts": t.isoformat()}
            _send(cam, "camera/CAM1/presence", doc)

    def raised() -> list[dict[str, Any]]:
        """The day's cards still standing: a card raised before the evidence was in (the
        broker may hold an earlier test's messages of that day for the daemon's session) is
        voided once it is, and is no verdict on anyone."""
        with console._lock:
            seen = list(console.seen)
        void = {t["card"] for t in seen if t["reason"] == "void"}
        return [
            t
            for t in seen
            if t["reason"] == "condition_met"
            and t["card"] not in void
            and t["ts"].startswith("2026-11-23")  # UTC: the morning of that day
        ]

    def reds(window: str) -> list[dict[str, Any]]:
        return [
            t
            for t in raised()
            if t["rule"] == "post.unstaffed" and t["subject"].get("window") == window
        ]

    def absent_l001() -> bool:
        return any(t["rule"] == "duty.absent" and t["owner"] == "L001" for t in raised())

    wanted = {"post.unstaffed", "post.notice_incomplete", "duty.short"}
    wait_until(
        lambda: wanted <= {t["rule"] for t in raised()} and bool(reds("W01") and reds("W03")),
        60,
        f"cards {wanted} on W01 and W03",
    )
    wait_until(lambda: not absent_l001(), 30, "no duty.absent standing for L001, who came")
    # The bare away covered nothing: W03 red at 09:15, S005's, and its own yellow.
    (w03,) = reds("W03")
    assert (w03["owner"], datetime.fromisoformat(w03["ts"])) == (
        "S005",
        DAY.replace(hour=9, minute=15),
    )
    (notice,) = [t for t in raised() if t["rule"] == "post.notice_incomplete"]
    assert (notice["level"], notice["owner"], notice["evidence"]) == ("yellow", "S005", ["AW-S005"])
    # W01 while S001 is on approved leave: the first B post, S002, answers.
    (w01,) = reds("W01")
    assert (w01["owner"], w01["subject"]["staff"]) == ("S002", "S002")
    assert not any(t["rule"] == "leave.unapproved" for t in raised())
    # L001 came at 08:25 and was not seen again: less than the half-day.
    (short,) = [t for t in raised() if t["rule"] == "duty.short"]
    assert (short["owner"], short["level"]) == ("L001", "red")
    assert datetime.fromisoformat(short["ts"]) == DAY.replace(hour=12)

    for c in (clock, cam, office):
        c.disconnect()
        c.loop_stop()
    console.close()
    assert daemon.stop() == 0

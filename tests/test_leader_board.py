"""The leader's board (值班看板) through the API of an in-process daemon (real Mosquitto, real
journal, an injected clock) on a scripted Monday morning, and in headless Chromium at desktop
width and printed on A4 (docs/leader-board.png, docs/leader-board-a4.png; HALLWATCH_SHOTS=1
rewrites them).

The morning, 23 November 2026 at 10:00 (sessions from 08:30): the officers punched between 08:05
and 08:29 at both clocks, but 陈静 (S005, A post of 不动产登记(一)) came at 08:41 and has left her
seat for twelve minutes without a notice, S017 came at 08:38, S010 never punched; 张娜 (S003, A
post of 企业变更注销) is on sick leave and her B post 刘敏 (S004) sits there; S027 is at a
meeting and names S028 to cover W14; S022 is on a trip; W20's camera has sent nothing. The leader
on duty in the morning (L001) punched at 08:15.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hallkit.config import example_config_path, load_config
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Inbound
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.hall import punch, topic
from tests.running import wait_until
from tests.test_console_api import Clock, call, login, running

ROOT = Path(__file__).resolve().parent.parent
SHOTS = {"desktop": ROOT / "docs" / "leader-board.png", "a4": ROOT / "docs" / "leader-board-a4.png"}
SHOT_ENV = "HALLWATCH_SHOTS"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the hall
CFG = load_config(example_config_path())
NAME = {s.id: s.name for s in CFG.staff}


def local(h: int, m: int, s: int = 0) -> str:
    return f"2026-11-23T{h:02d}:{m:02d}:{s:02d}+08:00"


def send(daemon: Daemon, t: str, doc: dict[str, Any] | bytes) -> None:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    daemon.ingestor.submit(Inbound(t, payload, daemon.clock.now(), qos=0))


def seat(daemon: Daemon, window: str, present: bool, since: tuple[int, int]) -> None:
    """Readings each 30 s from `since` to 09:59:30 (the camera's heartbeat)."""
    camera = next(c.id for c in CFG.cameras if window in c.windows)
    t = datetime.fromisoformat(local(*since))
    while t <= datetime.fromisoformat(local(9, 59, 30)):
        doc = {"window": window, "present": present, "persons": int(present), "ts": t.isoformat()}
        send(daemon, topic("camera", camera, "presence"), doc)
        t += timedelta(seconds=30)


LATE = {"S005": (8, 41), "S017": (8, 38)}
AWAY = {"S003", "S010", "S022"}  # sick leave, no punch, trip


def status(daemon: Daemon, staff: str, state: str, until: tuple[int, int], **extra: str) -> None:
    doc = {"state": state, "ts": local(8, 0), "from": local(8, 0), "until": local(*until), **extra}
    send(daemon, topic("staff", staff, "status"), doc)


def morning(daemon: Daemon) -> None:
    officers = [s.id for s in CFG.staff if s.role.value == "officer"]
    for i, staff in enumerate(["L001", *officers]):
        if staff in AWAY:
            continue
        hm = LATE.get(staff, (8, 15) if staff == "L001" else (8, 5 + i % 25))
        clock = "CLK-EAST" if i % 2 else "CLK-WEST"
        send(daemon, topic("clock", clock, "punch"), punch(staff, local(*hm)))
    status(daemon, "S003", "leave", (17, 30), category="sick", approved_by="L001")
    status(daemon, "S022", "trip", (17, 30), approved_by="L001", reason="市局培训")
    meeting = {"reason": "科室例会", "substitute": "S028"}
    status(daemon, "S027", "meeting", (11, 0), **meeting)
    for w in CFG.windows:
        if w.id == "W03":
            seat(daemon, w.id, False, (9, 48))
        elif w.id != "W20":
            seat(daemon, w.id, True, (9, 50))


@pytest.fixture(scope="module")
def hall(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto
) -> Iterator[tuple[Daemon, str]]:
    tmp = tmp_path_factory.mktemp("board")
    with running(tmp, mosquitto_session, Clock(NOW)) as daemon:
        assert daemon.where is not None
        morning(daemon)
        cookie, _ = login(daemon.where.web, "leader")
        yield daemon, cookie


def board(hall: tuple[Daemon, str], query: str = "") -> dict[str, Any]:
    daemon, cookie = hall
    assert daemon.where is not None
    status, _, doc = call(daemon.where.web, "GET", "/api/board" + query, cookie=cookie)
    assert status == 200, doc
    return dict(doc)


def settled(hall: tuple[Daemon, str]) -> dict[str, Any]:
    def ready() -> bool:
        doc = board(hall)
        w = {r["window"]: r for r in doc["windows"]}
        seated = w["W02"]["officer"] == "S004" and w["W03"]["seat"] == "empty"
        return bool(seated and doc["cards"]["total"])  # W03's 窗口无人, raised at a tick

    wait_until(ready, 30, "the scripted morning on the board")
    return board(hall)


def test_who_sits_where_is_the_displays_answer_with_names(hall: tuple[Daemon, str]) -> None:
    doc = settled(hall)
    w = {r["window"]: r for r in doc["windows"]}
    assert (w["W01"]["officer_name"], w["W01"]["post"], w["W01"]["seat"]) == (
        NAME["S001"],
        "A",
        "occupied",
    )
    assert (w["W02"]["officer_name"], w["W02"]["post"]) == (NAME["S004"], "B")
    assert w["W02"]["a_post_name"] == NAME["S003"] and w["W02"]["a_post_away_zh"] == "病假 至 17:30"
    assert w["W03"]["officer"] is None and w["W03"]["seat_zh"] == "空座"
    assert (w["W14"]["officer"], w["W14"]["a_post_away_zh"]) == ("S028", "开会 至 11:00")
    assert w["W20"]["seat"] == "unknown"
    occupied = sum(r["seat"] == "occupied" for r in doc["windows"])
    assert doc["staffed"] == occupied == 18 and doc["windows_total"] == len(CFG.windows)
    depts = {d.id for d in CFG.departments}
    names = {x.id: x.name for x in CFG.windows}
    for row in doc["windows"]:
        assert row["window_name"] == names[row["window"]]
        assert row["department_name"] and row["department_name"] not in depts
    daemon, _ = hall
    assert daemon.where is not None
    where = daemon.where.web

    def shown() -> dict[str, Any]:
        return dict(call(where, "GET", "/display/state")[2])

    wait_until(lambda: shown()["totals"]["windows_staffed"] == 18, 20, "the display's count")
    tiles = {t["window"]: t["officer"] for t in shown()["tiles"]}
    assert {r["window"]: r["officer_name"] for r in board(hall)["windows"]} == tiles


def test_duty_today_and_this_week_with_presence(hall: tuple[Daemon, str]) -> None:
    doc = settled(hall)
    leaders = NAME
    am, pm = doc["duty_today"]
    assert (am["leader_name"], am["state"], am["arrived"]) == (leaders["L001"], "present", "08:15")
    assert (pm["leader_name"], pm["state"]) == (leaders["L002"], "not_started")
    week = doc["duty_week"]
    assert [d["day"] for d in week][:3] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert len(week) == 7 and week[0]["today"] and not week[1]["today"]
    assert [s["leader_name"] for s in week[1]["slots"]] == [leaders["L002"]]
    assert doc["day_zh"] == "11月23日 星期一"


def test_attendance_totals_drill_down_to_named_people(hall: tuple[Daemon, str]) -> None:
    doc = settled(hall)
    a = doc["attendance"]
    totals = {t["category"]: t for t in a["totals"]}
    assert sum(t["count"] for t in a["totals"]) == a["expected"] > 0
    assert [p["name"] for p in totals["late"]["people"]] == [NAME["S005"], NAME["S017"]]
    assert [p["name"] for p in totals["leave"]["people"]] == [NAME["S003"], NAME["S022"]]
    assert NAME["S010"] in [
        p["name"] for p in totals["absent"]["people"] + totals["pending"]["people"]
    ]
    assert totals["present"]["count"] == a["expected"] - 5
    late = totals["late"]["people"][0]
    assert late["window_name"] == "不动产登记(一)" and late["department_name"] == "不动产登记中心"
    assert late["sessions"][0]["check_in"].startswith("08:41 迟到11分")


def test_the_days_open_cards_leave_out_voided_ones(hall: tuple[Daemon, str]) -> None:
    doc = settled(hall)
    cards = doc["cards"]["cards"]
    assert cards and all(not c["voided"] and c["state"] != "closed" for c in cards)
    assert all(c["raised_at"].startswith("2026-11-23") for c in cards)
    assert doc["cards"]["total"] == len(cards)


def test_who_may_see_the_board(hall: tuple[Daemon, str]) -> None:
    daemon, _ = hall
    assert daemon.where is not None
    where = daemon.where.web
    assert call(where, "GET", "/api/board")[0] == 401
    for role, expected in (("display", 403), ("supervisor", 200), ("admin", 403)):
        assert call(where, "GET", "/api/board", cookie=login(where, role)[0])[0] == expected
    status, _, doc = call(where, "GET", "/api/board?date=23-11-2026", cookie=hall[1])
    assert status == 400 and doc["error"] == "bad_parameter"
    assert board(hall, "?date=2026-11-24")["day"] == "2026-11-24"


def test_the_console_attendance_names_departments_in_window_order(hall: tuple[Daemon, str]) -> None:
    settled(hall)
    daemon, cookie = hall
    assert daemon.where is not None
    _, _, doc = call(daemon.where.web, "GET", "/api/attendance?date=2026-11-23", cookie=cookie)
    rows = doc["staff"]
    depts = {d.id: d.name for d in CFG.departments}
    assert all(r["department_name"] == depts[r["department"]] for r in rows)
    order = [w.name for w in CFG.windows]
    seen = [order.index(r["window_name"]) for r in rows if r["window_name"] in order]
    assert seen == sorted(seen)
    assert doc["duty"][0]["leader_name"] == next(s.name for s in CFG.staff if s.id == "L001")


# --- in the browser --------------------------------------------------------------------------


def _shot(name: str, tmp_path: Path) -> Path:
    return SHOTS[name] if os.environ.get(SHOT_ENV) else tmp_path / SHOTS[name].name


def _logged_in(browser: Chromium, where: tuple[str, int]) -> None:
    browser.navigate(f"http://{where[0]}:{where[1]}/console/login")
    browser.wait_for("document.getElementById('login')?.dataset.ready === 'yes'", 20, "login")
    browser.evaluate(
        "document.getElementById('name').value = 'leader';"
        "document.getElementById('password').value = 'demo-leader';"
        "document.getElementById('submit').click(); true"
    )


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_the_board_in_the_browser_and_on_a4(hall: tuple[Daemon, str], tmp_path: Path) -> None:
    settled(hall)
    daemon, _ = hall
    assert daemon.where is not None
    browser = Chromium(tmp_path, width=1500, height=1220)
    try:
        _logged_in(browser, daemon.where.web)  # a leader lands on the board
        live = "document.getElementById('board-live')?.textContent.startsWith('● 实时')"
        browser.wait_for(live, 20, "the board, live")
        who = browser.evaluate(
            "[...document.querySelectorAll('.win')].slice(0, 3)"
            ".map(w => w.querySelector('.win-who').textContent)"
        )
        assert who == [f"{NAME['S001']} A岗", f"{NAME['S004']} B岗顶岗", "无人在岗"]
        text = browser.evaluate("document.getElementById('board').innerText")
        for code in ("scjg", "bdc", "S001", "L001", "W01"):
            assert code not in text
        browser.evaluate("document.querySelector('[data-category=late]').click(); true")
        drill = browser.wait_for(
            "document.getElementById('board-drill')?.innerText", 10, "the late people"
        )
        assert NAME["S005"] in drill and "不动产登记中心" in drill
        browser.screenshot(_shot("desktop", tmp_path))
        pdf = tmp_path / "board.pdf"
        printed = browser.send("Page.printToPDF", preferCSSPageSize=True, printBackground=True)
        pdf.write_bytes(base64.b64decode(printed["data"]))
        # Live: W20's camera speaks up; the display's stream moves and the board follows, unasked.
        before = browser.evaluate("document.getElementById('board').dataset.n = 'old'")
        assert before == "old"
        seat(daemon, "W20", True, (9, 59))
        staffed = "document.getElementById('board-staffed')?.textContent"
        assert browser.wait_for(f"{staffed} === '19 / 20' && {staffed}", 20, "the live update")
        assert browser.evaluate("document.getElementById('board').dataset.n") is None  # redrawn
    finally:
        browser.close()
    if shutil.which("pdftoppm") is None:
        pytest.skip("no pdftoppm (poppler-utils) to rasterise the A4 print")
    stem = _shot("a4", tmp_path).with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "96", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
    )
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"(?m)^Pages:\s+1$", pages), pages  # one A4 sheet

"""The complaint desk, the 督办 queue and the printable notices (docs/console.md).

A supervisor records a phone complaint, finds it, accepts it and marks it founded in headless
Chromium; the founded complaint's card reaches the card list without a reload. Every entry is
the contract's complaint event through the ingest of a real daemon (in process, injected clock,
real Mosquitto), journaled with who entered it, and survives a restart and a replay.
Screenshots: docs/console-complaints*.png, docs/console-supervision*.png, docs/notice-*.png
(with HALLWATCH_SHOTS=1; else into tmp).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from alerts.ids import ComplaintId
from monitor.daemon import Daemon
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from monitor.reports.pdf import find_browser
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.hall import HALL
from tests.running import in_process, wait_until, write_config
from tests.test_console_api import NOW, Clock, call, login, red_card_of, submit_case

ROOT = Path(__file__).resolve().parent.parent
SHOTS = os.environ.get("HALLWATCH_SHOTS")
PHONE = {
    "channel": "phone",
    "complainant_name": "王建国",
    "complainant_phone": "13800001111",
    "window": "W01",
    "staff": "S001",
    "category": "attitude",
    "content": "窗口人员态度生硬，拒绝解释材料要求",
    "received_at": "2026-11-23T09:30",
}


@contextmanager
def daemon_on(config: Path, clock: Clock) -> Iterator[Daemon]:
    with in_process(config, clock) as daemon:
        yield daemon


@dataclass
class Desk:
    daemon: Daemon
    config: Path
    clock: Clock
    escalated: str  # a red card unanswered past its deadline, on W01 (head S002)

    @property
    def address(self) -> tuple[str, int]:
        assert self.daemon.where is not None
        return self.daemon.where.web

    def as_(self, role: str, method: str, path: str, doc: Any = None) -> tuple[int, Any]:
        cookie, csrf = login(self.address, role)
        status, _, body = call(self.address, method, path, doc, cookie=cookie, csrf=csrf)
        return status, body


def desk_config(tmp: Path, broker: Mosquitto) -> Path:
    path = write_config(tmp, broker.port, broker.password("hallwatch"), 0)
    text = path.read_text(encoding="utf-8")
    w01 = 'a_post = "S001"\nb_posts = ["S002", "S003"]\n'
    assert text.count(w01) == 1
    path.write_text(text.replace(w01, w01 + 'head = "S002"\n'), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("desk")
    config, clock = desk_config(tmp, mosquitto_session), Clock(NOW)
    with daemon_on(config, clock) as daemon:
        # Promised 2 working days from Mon 16 Nov: red on Wed 18th, unanswered past Fri 20th.
        submit_case(daemon, "C-LATE", "2026-11-16T09:00:00+08:00", 2)
        card = red_card_of(daemon, "C-LATE")
        yield Desk(daemon, config, clock, card)


def rows(desk: Desk, query: str = "") -> list[dict[str, Any]]:
    status, doc = desk.as_("leader", "GET", "/api/complaints" + query)
    assert status == 200, doc
    return list(doc["complaints"])


def test_an_empty_list_says_no_complaints(desk: Desk) -> None:
    status, doc = desk.as_("leader", "GET", "/api/complaints")
    assert status == 200 and doc["complaints"] == [] and doc["empty_zh"] == "暂无投诉"


def _open(browser: Chromium, desk: Desk) -> None:
    host, port = desk.address
    browser.navigate(f"http://{host}:{port}/console/login")
    browser.wait_for(
        "document.getElementById('login')?.dataset.ready === 'yes'", 20, "the login page"
    )
    browser.evaluate(
        "document.getElementById('name').value = 'supervisor';"
        "document.getElementById('password').value = 'demo-supervisor';"
        "document.getElementById('submit').click(); true"
    )
    browser.wait_for("!!document.getElementById('nav')?.children.length", 20, "the console")


def _shot(browser: Chromium, name: str, tmp: Path) -> None:
    browser.screenshot((ROOT / "docs" if SHOTS else tmp) / name)


def _set(form: str, values: dict[str, str]) -> str:
    js = [f"var f = document.querySelector({json.dumps(form)});"]
    for k, v in values.items():
        js.append(f"f.elements[{json.dumps(k)}].value = {json.dumps(v)};")
    return "".join(js)


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_a_supervisor_takes_a_phone_complaint_to_a_card_in_chromium(
    desk: Desk, tmp_path: Path
) -> None:
    browser = Chromium(tmp_path, width=1400, height=900)
    try:
        _open(browser, desk)
        browser.evaluate("window.__sameDocument = 'yes'; location.hash = '#/complaints'; true")
        empty = browser.wait_for(
            "document.getElementById('no-complaints')?.textContent", 20, "the empty list"
        )
        assert empty == "暂无投诉"
        # 投诉登记: a phone call about W01's officer.
        browser.evaluate(
            _set("#intake", {k: v for k, v in PHONE.items() if k != "received_at"})
            + "f.elements.received_at.value = '2026-11-23T09:30';"
            "document.getElementById('intake-submit').click(); true"
        )
        said = browser.wait_for(
            "document.getElementById('desk-message')?.textContent.includes('已登记投诉')"
            " && document.getElementById('desk-message').textContent",
            20,
            "the complaint filed",
        )
        cid = said.split("已登记投诉 ")[1].rstrip("。")
        # Found in the list by the complainant's name.
        browser.evaluate(
            _set("#complaint-filters", {"q": "王建国"}) + "f.querySelector('button').click(); true"
        )
        found = browser.wait_for(
            "location.hash.includes('q=') && [...document.querySelectorAll("
            "'#view tr[data-complaint]')].map(r => r.dataset.complaint)",
            20,
            "the complaint found",
        )
        assert found == [cid]
        row = f"#view tr[data-complaint='{cid}']"
        assert "电话" in browser.evaluate(f'document.querySelector("{row}").textContent')
        _shot(browser, "console-complaints.png", tmp_path)
        # 受理, then 查实 with what was found.
        desk.clock.advance(minutes=5)
        browser.evaluate(
            _set(f"{row} form.step", {"action": "accepted"})
            + "f.querySelector('button').click(); true"
        )
        browser.wait_for(
            f"document.querySelector(\"{row} td.state\")?.textContent.startsWith('已受理')",
            20,
            "the complaint accepted",
        )
        desk.clock.advance(minutes=5)
        browser.evaluate(
            _set(f"{row} form.step", {"action": "founded", "text": "调阅录像属实"})
            + "f.querySelector('button').click(); true"
        )
        card = browser.wait_for(
            "document.querySelector('#desk-message a.raised-card')?.textContent", 20, "its card"
        )
        # The card list (same document: no reload) shows the founded complaint's card.
        status, doc = desk.as_("leader", "GET", "/api/cards?rule=complaint.founded")
        assert status == 200 and card in [c["card"] for c in doc["cards"]]
        browser.evaluate("location.hash = '#/cards'; true")
        listed = browser.wait_for(
            "[...document.querySelectorAll('#view td a')].map(a => a.textContent)"
            f".includes({json.dumps(card)})",
            20,
            "the founded complaint's card in the card list",
        )
        assert listed and browser.evaluate("window.__sameDocument") == "yes"
        browser.evaluate("location.hash = '#/supervision'; true")
        browser.wait_for("!!document.querySelector('#view tr[data-card]')", 20, "督办")
        _shot(browser, "console-supervision.png", tmp_path)
    finally:
        browser.close()
    k = next(r for r in rows(desk) if r["complaint"] == cid)
    assert (k["state"], k["founded"], k["entered_by"], k["owner_name"]) == (
        "founded",
        True,
        "supervisor",
        "钱文静",
    )
    assert k["received_at"] == "2026-11-23T09:30:00+08:00"
    assert [c["card"] for c in k["cards"]] == [card]


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_the_desk_and_the_notices_at_390_px(desk: Desk, tmp_path: Path) -> None:
    browser = Chromium(tmp_path, width=390, height=1100)
    try:
        _open(browser, desk)
        browser.evaluate("location.hash = '#/complaints'; true")
        browser.wait_for("!!document.getElementById('intake')", 20, "the desk")
        width = browser.evaluate("document.getElementById('intake').getBoundingClientRect().width")
        assert width <= 390
        _shot(browser, "console-complaints-390.png", tmp_path)
        browser.evaluate("location.hash = '#/supervision'; true")
        browser.wait_for("!!document.querySelector('#view tr[data-card]')", 20, "督办")
        _shot(browser, "console-supervision-390.png", tmp_path)
    finally:
        browser.close()
    host, port = desk.address
    browser = Chromium(tmp_path / "a4", width=794, height=1123)  # A4 at 96 dpi
    try:
        _open(browser, desk)
        for kind in ("urge", "inform", "rectify"):
            browser.navigate(
                f"http://{host}:{port}/console/notice?kind={kind}&card={desk.escalated}"
            )
            browser.wait_for("!!document.getElementById('serial')", 20, f"the {kind} notice")
            _shot(browser, f"notice-{kind}.png", tmp_path)
    finally:
        browser.close()


def test_intake_input_is_checked(desk: Desk) -> None:
    bad = [
        ({**PHONE, "channel": "fax"}, "bad_channel"),
        ({**PHONE, "channel": ["phone"]}, "bad_channel"),
        ({**PHONE, "category": [None]}, "bad_category"),
        ({**PHONE, "content": " "}, "content_required"),
        ({k: v for k, v in PHONE.items() if k not in ("window", "staff")}, "subject_required"),
        ({**PHONE, "window": "W99"}, "unknown_window"),
        ({**PHONE, "complainant_phone": "call me"}, "bad_phone"),
        ({**PHONE, "received_at": "2026-11-23T11:00"}, "future_time"),
        ({**PHONE, "received_at": "yesterday"}, "bad_time"),
        ({**PHONE, "complainant_name": ""}, "complainant_name_required"),
    ]
    for doc, code in bad:
        status, body = desk.as_("supervisor", "POST", "/api/complaints", doc)
        assert (status, body["error"]) == (422, code), doc
    assert desk.as_("leader", "POST", "/api/complaints", PHONE)[0] == 403
    cookie, _ = login(desk.address, "supervisor")
    assert call(desk.address, "POST", "/api/complaints", PHONE, cookie=cookie)[0] == 403


def test_each_step_is_journaled_in_order_with_who_entered_it(desk: Desk) -> None:
    letter = {**PHONE, "channel": "letter", "complainant_name": "李秀英", "received_at": ""}
    received = desk.clock.t  # no time given: now
    status, filed = desk.as_("supervisor", "POST", "/api/complaints", letter)
    assert status == 201, filed
    cid = filed["complaint"]

    def step(action: str, text: str = "", complaint: str = cid) -> tuple[int, Any]:
        doc = {"complaint": complaint, "action": action, "text": text}
        desk.clock.advance(minutes=1)  # each step at its own time, as at the desk
        return desk.as_("supervisor", "POST", "/api/complaints/step", doc)

    assert step("founded", "x")[0] == 409
    assert step("founded", "x")[1]["message"] == "请先受理这件投诉。"
    assert step("accepted")[0] == 200
    assert step("accepted")[0] == 409
    assert step("unfounded")[1]["error"] == "text_required"
    status, done = step("unfounded", "经核实不属实")
    assert status == 200 and done["cards"] == [] and done["row"]["state"] == "unfounded"
    status, done = step("closed", "已电话答复投诉人")
    assert status == 200 and done["row"]["closed_at"] is not None
    assert step("closed", "again")[0] == 409
    assert step("accepted", complaint="TS-NONE")[0] == 404
    k = next(r for r in rows(desk, "?channel=letter") if r["complaint"] == cid)
    assert [s["action"] for s in k["steps"]] == ["received", "accepted", "unfounded", "closed"]
    assert {s["user"] for s in k["steps"]} == {"supervisor"}
    assert k["steps"][-1]["text"] == "已电话答复投诉人"
    assert k["received_at"] == received.astimezone(desk.daemon.config.hall.zone).isoformat()
    assert rows(desk, "?state=closed&q=" + quote("李秀英")) == [k]
    assert rows(desk, "?channel=visit") == []
    # On disk: the contract's complaint event with our audit.
    journal = Journal.open(desk.daemon.config.journal.data_dir, HALL)
    try:
        sent = json.loads(journal.find([filed["event_id"]])[0].payload)
    finally:
        journal.close()
    assert sent["action"] == "received" and sent["channel"] == "letter"
    assert sent["complainant"] == {"name": "李秀英", "phone": "13800001111"}
    assert {k: sent["audit"][k] for k in ("via", "user", "role")} == {
        "via": "console",
        "user": "supervisor",
        "role": "supervisor",
    }


def test_the_supervision_queue_and_its_notices(desk: Desk) -> None:
    status, doc = desk.as_("leader", "GET", "/api/supervision")
    assert status == 200
    row = next(c for c in doc["cards"] if c["card"] == desk.escalated)
    assert row["state"] == "escalated" and row["days_overdue"] >= 1
    assert (row["head"], row["head_name"], row["owner_name"]) == ("S002", "李芳", "王伟")
    status, page = desk.as_("supervisor", "GET", row["notice"])
    assert status == 200
    text = page.decode()
    cfg = desk.daemon.config
    for word in ("效能督办通知单", cfg.hall.name, f"督字第 {desk.escalated} 号", "签收", "李芳"):
        assert word in text, word
    for kind, title in (("inform", "告知书"), ("rectify", "整改通知书")):
        status, page = desk.as_(
            "leader", "GET", f"/console/notice?kind={kind}&card={desk.escalated}"
        )
        assert status == 200 and title in page.decode() and "依据" in page.decode()
    assert desk.as_("leader", "GET", "/console/notice?kind=x&card=K-1")[0] == 400
    assert desk.as_("leader", "GET", "/console/notice?kind=urge&card=K-NONE")[0] == 404
    assert desk.as_("display", "GET", row["notice"])[0] == 403


@pytest.mark.skipif(find_browser() is None, reason="no Chromium for PDF")
def test_a_notice_as_pdf(desk: Desk) -> None:
    status, pdf = desk.as_("leader", "GET", f"/console/notice.pdf?kind=urge&card={desk.escalated}")
    assert status == 200 and pdf.startswith(b"%PDF")


def test_the_complaints_survive_a_restart_and_a_replay(desk: Desk) -> None:
    before = rows(desk)
    assert len(before) >= 2
    cfg = desk.daemon.config
    journal = Journal.open(cfg.journal.data_dir, HALL)
    try:
        sup, _ = replay(journal, cfg)
    finally:
        journal.close()
    live = desk.daemon.runner.read(lambda s: dict(s.book.complaints))
    assert {k: len(v) for k, v in sup.book.complaints.items()} == {
        k: len(v) for k, v in live.items()
    }
    for k in before:
        assert ComplaintId(k["complaint"]) in sup.book.complaints
    founded = [c["card"] for k in before for c in k["cards"]]
    assert all(c in {str(x) for x in sup.engine.cards} for c in founded)


def test_after_a_restart_the_list_is_the_same(tmp_path: Path, mosquitto_session: Mosquitto) -> None:
    config, clock = desk_config(tmp_path, mosquitto_session), Clock(NOW)
    with daemon_on(config, clock) as daemon:
        d = Desk(daemon, config, clock, "")
        status, filed = d.as_("supervisor", "POST", "/api/complaints", PHONE)
        assert status == 201
        cid = filed["complaint"]
        step = {"complaint": cid, "action": "accepted"}
        assert d.as_("supervisor", "POST", "/api/complaints/step", step)[0] == 200
        before = rows(d)
    with daemon_on(config, clock) as daemon:
        d = Desk(daemon, config, clock, "")
        wait_until(lambda: rows(d) == before, 20, "the same complaints after the restart")

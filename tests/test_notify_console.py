"""通知记录 and 通知失败 (docs/notify.md): the console shows who was told about a card, when,
through which channel and whether it was delivered, and lists the notices that did not go out.

The hall: an in-process daemon on an injected clock (Monday 23 November 2026, 10:00) against
real Mosquitto, with two channels: e-mail to a real SMTP server on loopback (aiosmtpd), and an
"SMS gateway" (Apprise json://) on a loopback port nobody listens on, so every SMS fails.
Yellow notices are held until 11:00 (`send_from`), reds leave at once. The daemon first runs
without notification and raises one red: history is not told, so that card has no notices.
Screenshots of both pages in headless Chromium: docs/console-notices-card.png and
docs/console-notices.png (HALLWATCH_SHOTS=1 rewrites them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.config import HallConfig
from hallkit.config import load_config
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Inbound
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.hall import body, topic
from tests.running import free_port, in_process, wait_until, write_config
from tests.test_console_api import NOW, ROLES, Clock, call, login, red_card_of
from tests.test_notify_delivery import _Inbox

ROOT = Path(__file__).resolve().parent.parent
SHOTS = {
    "card": ROOT / "docs" / "console-notices-card.png",
    "page": ROOT / "docs" / "console-notices.png",
}
SHOT_ENV = "HALLWATCH_SHOTS"
OWNER_MAIL, HEAD_MAIL = "wangwei@example.gov.cn", "zhoujianguo@example.gov.cn"
LOCAL_NOW = "2026-11-23T10:00:00+08:00"


@dataclass
class Told:
    daemon: Daemon
    clock: Clock
    cfg: HallConfig
    inbox: _Inbox
    before: str  # a red raised before notification was on: nobody told
    red: str  # owner and head mailed, the owner's SMS failing
    escalated: str  # raised, then its answer overdue: the supervisor has no contact
    no_head: str  # a window without head, an owner without contact: nobody reachable
    yellow: str  # held until 11:00
    tokens: dict[str, tuple[str, str]]

    @property
    def address(self) -> tuple[str, int]:
        assert self.daemon.where is not None
        return self.daemon.where.web

    def get(self, path: str, role: str = "supervisor") -> tuple[int, Any]:
        status, _, doc = call(self.address, "GET", path, cookie=self.tokens[role][0])
        return status, doc


def _notify(path: Path, smtp_port: int, dead_port: int) -> None:
    text = path.read_text(encoding="utf-8")
    for anchor, extra in (
        ('id = "S001"\nname = "王伟"\n', f'email = "{OWNER_MAIL}"\nmobile = "13800000001"\n'),
        ('id = "L001"\n', f'email = "{HEAD_MAIL}"\n'),
        ('id = "W01"\nname = "企业开办"\n', 'head = "L001"\n'),
    ):
        assert text.count(anchor) == 1, anchor
        text = text.replace(anchor, anchor + extra)
    mail = f"mailto://127.0.0.1:{smtp_port}/{{to}}?from=hallwatch@example.gov.cn&mode=insecure"
    sms = f"json://127.0.0.1:{dead_port}/sms/{{to}}"
    text += (
        '\n[notify]\nconsole_url = "https://jiancha.example.gov.cn"\nsend_from = 11:00:00\n'
        f'\n[[notify.channels]]\nname = "mail"\nkind = "apprise"\nurl = "{mail}"\n'
        'address = "email"\n'
        f'\n[[notify.channels]]\nname = "sms"\nkind = "apprise"\nurl = "{sms}"\n'
        'address = "mobile"\n'
    )
    path.write_text(text, encoding="utf-8")


@contextmanager
def _daemon(path: Path, clock: Clock) -> Iterator[Daemon]:
    with in_process(path, clock) as daemon:
        yield daemon


def _case(daemon: Daemon, case: str, accepted: str, days: int, window: str, staff: str) -> None:
    payload = body(
        id=f"{case}-a",
        case=case,
        action="accepted",
        kind="promised",
        ts=accepted,
        window=window,
        staff=staff,
        promised_days=days,
        legal_days=20,
    )
    daemon.ingestor.submit(
        Inbound(topic("case", case, "event"), payload, daemon.clock.now(), qos=0)
    )


def _card_of(daemon: Daemon, case: str, level: str) -> str:
    def find() -> str | None:
        cards = daemon.runner.read(lambda sup: list(sup.engine.cards.values()))
        return next(
            (c.id for c in cards if c.subject.case == case and c.level.value == level), None
        )

    wait_until(lambda: find() is not None, 20, f"a {level} card on {case}")
    return str(find())


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto) -> Iterator[Told]:
    clock = Clock(NOW)
    tmp = tmp_path_factory.mktemp("notices")
    path = write_config(tmp, mosquitto_session.port, mosquitto_session.password("hallwatch"), 0)
    with _daemon(path, clock) as daemon:  # notification off: this red is history
        _case(daemon, "C-N-BEFORE", "2026-11-19T09:00:00+08:00", 1, "W01", "S001")
        before = red_card_of(daemon, "C-N-BEFORE")
    inbox, smtp_port = _Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    _notify(path, smtp_port, free_port())
    try:
        with _daemon(path, clock) as daemon:
            assert daemon.notices is not None and daemon.where is not None
            # Promised 1 working day from Thu 19th: red at Fri 20th 17:30.
            _case(daemon, "C-N-RED", "2026-11-19T09:00:00+08:00", 1, "W01", "S001")
            # Promised 2 days from Mon 16th: red on Wed 18th, its answer overdue since Fri.
            _case(daemon, "C-N-LATE", "2026-11-16T09:00:00+08:00", 2, "W01", "S001")
            _case(daemon, "C-N-W02", "2026-11-19T09:00:00+08:00", 1, "W02", "S003")
            _case(daemon, "C-N-SOON", "2026-11-20T09:00:00+08:00", 1, "W01", "S001")  # today
            red, late = red_card_of(daemon, "C-N-RED"), red_card_of(daemon, "C-N-LATE")
            w02, yellow = red_card_of(daemon, "C-N-W02"), _card_of(daemon, "C-N-SOON", "yellow")
            mailed = {OWNER_MAIL, HEAD_MAIL}
            wait_until(lambda: {r for _f, to, _m in inbox.mails for r in to} == mailed, 30, "mail")
            tokens = {role: login(daemon.where.web, role) for role in ROLES}
            t = Told(
                daemon, clock, load_config(path), inbox, before, red, late, w02, yellow, tokens
            )
            wait_until(lambda: _settled(t), 30, "every notice planned and tried once")
            yield t
    finally:
        smtp.stop()


def _settled(t: Told) -> bool:
    """Every card's notices planned, the reds' mail sent, and the SMS channel failed once."""
    docs = {c: t.get(f"/api/cards/{c}")[1] for c in (t.red, t.escalated, t.no_head, t.yellow)}
    mails = [n for n in docs[t.red]["notices"] if n["channel"] == "mail"]
    return (
        len(mails) == 2
        and all(n["status"] == "sent" for n in mails)
        and any(n["status"] == "not_told" for n in docs[t.escalated]["notices"])
        and len(docs[t.no_head]["notices"]) == 2
        and len(docs[t.yellow]["notices"]) == 2
        and t.get("/api/notices?status=failed")[1]["total"] == 1
    )


def _by(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


# --- the card page ---------------------------------------------------------------------------


def test_a_red_card_says_who_was_told_by_which_channel_and_whether_delivered(told: Told) -> None:
    status, doc = told.get(f"/api/cards/{told.red}")
    assert status == 200 and doc["notify_enabled"] is True
    rows = doc["notices"]
    owner_mail = _by(rows, staff="S001", channel="mail")
    head_mail = _by(rows, staff="L001", channel="mail")
    [sms] = _by(rows, staff="S001", channel="sms")
    for [n] in (owner_mail, head_mail):  # what the SMTP server received, in hall time
        assert (n["status"], n["status_zh"], n["channel_zh"]) == ("sent", "已送达", "邮件")
        assert n["sent_at"] == LOCAL_NOW and n["created_at"] == LOCAL_NOW
        assert n["attempts"] == 1 and n["error"] is None and n["next_try"] is None
        assert n["title"].startswith("【红牌】")
    assert (owner_mail[0]["staff_name"], head_mail[0]["staff_name"]) == ("王伟", "周建国")
    assert sms["channel_zh"] == "短信" and sms["sent_at"] is None and sms["channel_ok"] is False
    assert (sms["status"], sms["status_zh"]) in {("failed", "发送失败"), ("waiting", "待发送")}
    if sms["status"] == "failed":
        assert sms["attempts"] == 1 and sms["error"]
    assert sms["next_try"] == "2026-11-23T10:00:30+08:00"  # the channel backs off 30 s
    subjects = {str(m["Subject"]) for _f, to, m in told.inbox.mails if OWNER_MAIL in to}
    assert owner_mail[0]["title"] in subjects


def test_whom_nobody_could_reach_is_shown_with_the_reason(told: Told) -> None:
    _, doc = told.get(f"/api/cards/{told.no_head}")
    rows = {(n["staff_name"], n["status"]): n for n in doc["notices"]}
    assert rows.keys() == {("张娜", "not_told"), ("窗口负责人", "not_told")}
    assert rows["窗口负责人", "not_told"]["error"] == "窗口未配置负责人(windows[].head)"
    assert rows["张娜", "not_told"]["error"] == "没有可用的联系方式(手机号或邮箱)"
    assert all(n["status_zh"] == "未能通知" and n["channel"] is None for n in rows.values())
    _, late = told.get(f"/api/cards/{told.escalated}")
    [supervisor] = _by(late["notices"], status="not_told")
    assert (supervisor["staff"], supervisor["staff_name"]) == ("D001", "钱文静")
    assert len(_by(late["notices"], channel="mail", status="sent")) == 2  # its raise
    assert [n["created_at"] for n in late["notices"]] == sorted(
        n["created_at"] for n in late["notices"]
    )


def test_a_yellow_waits_for_the_sending_hours(told: Told) -> None:
    _, doc = told.get(f"/api/cards/{told.yellow}")
    assert {(n["channel_zh"], n["status_zh"]) for n in doc["notices"]} == {
        ("邮件", "待发送"),
        ("短信", "待发送"),
    }
    assert all(n["timing"] == "later_today" and n["attempts"] == 0 for n in doc["notices"])
    [mail] = _by(doc["notices"], channel="mail")
    assert mail["next_try"] == "2026-11-23T11:00:00+08:00" and mail["channel_ok"] is True


def test_a_card_nobody_was_told_about_has_an_empty_log(told: Told) -> None:
    status, doc = told.get(f"/api/cards/{told.before}")
    assert status == 200 and doc["notices"] == [] and doc["notify_enabled"] is True


# --- the page of notices that did not go out -------------------------------------------------


def test_the_failed_notices_page_lists_failed_and_waiting_newest_first(told: Told) -> None:
    status, doc = told.get("/api/notices")
    assert status == 200 and doc["notify_enabled"] is True
    rows = doc["notices"]
    assert doc["total"] == len(rows) and rows
    assert {n["status"] for n in rows} == {"failed", "waiting"}
    assert [n["created_at"] for n in rows] == sorted((n["created_at"] for n in rows), reverse=True)
    [failed] = _by(rows, status="failed")
    assert failed["channel"] == "sms" and failed["attempts"] == 1 and failed["error"]
    assert failed["staff_name"] == "王伟" and failed["card"] in {told.red, told.escalated}
    sms = {n["card"] for n in _by(rows, channel="sms")}
    assert {told.red, told.escalated, told.yellow} <= sms
    assert {n["card"] for n in _by(rows, channel="mail")} == {told.yellow}
    channels = {c["channel"]: c for c in doc["channels"]}
    assert channels["mail"]["ok"] is True and channels["mail"]["sent"] >= 4
    assert (channels["sms"]["ok"], channels["sms"]["channel_zh"]) == (False, "短信")
    assert channels["sms"]["failing_since"] == LOCAL_NOW and channels["sms"]["last_error"]
    assert channels["sms"]["retry_at"] == "2026-11-23T10:00:30+08:00"


def test_the_failed_notices_page_filters_and_pages(told: Told) -> None:
    _, every = told.get("/api/notices")
    _, failed = told.get("/api/notices?status=failed")
    _, waiting = told.get("/api/notices?status=waiting")
    assert failed["total"] + waiting["total"] == every["total"]
    assert {n["status"] for n in waiting["notices"]} == {"waiting"}
    pages = [told.get(f"/api/notices?limit=2&offset={o}")[1] for o in range(0, every["total"], 2)]
    assert all(p["total"] == every["total"] for p in pages)
    assert [n for p in pages for n in p["notices"]] == every["notices"]
    for bad in ("status=sent", "limit=0", "limit=501", "offset=-1"):
        status, doc = told.get(f"/api/notices?{bad}")
        assert status == 400 and bad.split("=")[0] in doc["message"], bad


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, 401), ("display", 403), ("leader", 403), ("supervisor", 200), ("admin", 200)],
)
def test_the_failed_notices_page_is_for_supervisors_and_admins(
    told: Told, role: str | None, expected: int
) -> None:
    cookie = told.tokens[role][0] if role else None
    assert call(told.address, "GET", "/api/notices", cookie=cookie)[0] == expected


def test_the_openapi_document_describes_the_notices(told: Told) -> None:
    _, _, doc = call(told.address, "GET", "/api/openapi.json")
    notice = doc["components"]["schemas"]["Notice"]
    assert {"staff_name", "channel_zh", "status", "status_zh", "error", "next_try"} <= set(
        notice["properties"]
    )
    assert set(notice["properties"]["status"]["enum"]) == {
        "sent",
        "waiting",
        "failed",
        "cancelled",
        "not_told",
    }
    params = {p["name"] for p in doc["paths"]["/api/notices"]["get"]["parameters"]}
    assert params == {"status", "limit", "offset"}


# --- in the browser --------------------------------------------------------------------------


def _shot(name: str, tmp_path: Path) -> Path:
    return SHOTS[name] if os.environ.get(SHOT_ENV) else tmp_path / SHOTS[name].name


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_the_console_shows_the_notice_log_and_the_failed_notices(
    told: Told, tmp_path: Path
) -> None:
    host, port = told.address
    browser = Chromium(tmp_path, width=1500, height=820)
    try:
        browser.navigate(f"http://{host}:{port}/console/login")
        browser.wait_for(
            "document.getElementById('login')?.dataset.ready === 'yes'", 20, "the login page"
        )
        browser.evaluate(
            "document.getElementById('name').value = 'supervisor';"
            "document.getElementById('password').value = 'demo-supervisor';"
            "document.getElementById('submit').click(); true"
        )
        browser.wait_for("!!document.getElementById('count')", 20, "the card list")
        browser.evaluate(f"location.hash = '#/card/{told.red}'; true")
        cells = browser.wait_for(
            "[...document.querySelectorAll('#notices tbody tr')].map(r =>"
            " [...r.cells].map(c => c.textContent))",
            20,
            "the card's 通知记录",
        )
        assert cells[0][:3] == ["2026-11-23 10:00", "王伟", "邮件"] and cells[0][4] == "已送达"
        assert any(c[1] == "周建国" and c[4] == "已送达" for c in cells)
        assert any(c[2] == "短信" and c[4].startswith(("发送失败", "待发送")) for c in cells)
        browser.screenshot(_shot("card", tmp_path))
        browser.evaluate(f"location.hash = '#/card/{told.before}'; true")
        empty = browser.wait_for(
            "document.getElementById('notices-empty')?.textContent", 20, "the empty state"
        )
        assert empty == "未发送通知"
        browser.evaluate("location.hash = '#/notices'; true")
        count = browser.wait_for(
            "document.getElementById('notices-count')?.textContent", 20, "the 通知失败 page"
        )
        assert count.startswith("共 ")
        nav = browser.evaluate("[...document.querySelectorAll('#nav a')].map(a => a.textContent)")
        assert "通知失败" in nav
        statuses = browser.evaluate(
            "[...document.querySelectorAll('#view table:last-of-type tbody tr')]"
            ".map(r => r.cells[8].textContent)"
        )
        assert set(statuses) == {"发送失败", "待发送", "待发送 渠道故障"}  # SMS behind a failure
        browser.screenshot(_shot("page", tmp_path))
    finally:
        browser.close()


# --- last: time passes -----------------------------------------------------------------------


def test_at_eleven_the_yellow_is_mailed_and_the_sms_retried(told: Told) -> None:
    told.clock.advance(hours=1)  # the notifier's next step sees 11:00
    told.tokens["supervisor"] = login(told.address, "supervisor")  # the old one went idle

    def yellow() -> dict[str, Any]:
        doc: dict[str, Any] = told.get(f"/api/cards/{told.yellow}")[1]
        return doc

    wait_until(lambda: _by(yellow()["notices"], channel="mail")[0]["status"] == "sent", 30, "11:00")
    [mail] = _by(yellow()["notices"], channel="mail")
    assert mail["sent_at"] == "2026-11-23T11:00:00+08:00"
    _, page = told.get("/api/notices")
    assert {n["channel"] for n in page["notices"]} == {"sms"}
    [again] = _by(page["notices"], status="failed")  # the same one, tried again, failed again
    assert again["attempts"] == 2 and again["error"]
    retry = NOW + timedelta(hours=1, seconds=60)  # backing off: 30 s, then 60 s
    assert again["next_try"] == retry.astimezone(told.cfg.hall.zone).isoformat()

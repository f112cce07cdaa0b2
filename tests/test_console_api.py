"""The console over HTTP against an in-process daemon (real Mosquitto, real journal, an injected
clock): every role's allowed and forbidden actions, login, CSRF, decisions that are journaled,
audited and survive a replay, forged audits, refusals in Chinese, session expiry, throttling."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.cards import CardState
from alerts.events import EventKind
from alerts.ids import CardId, EventId
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Inbound
from monitor.ingest.journal import AcceptEntry, Journal
from monitor.ingest.replay import replay
from monitor.web.api import PUBLIC_ASSETS
from monitor.web.openapi import spec
from tests.brokers import Mosquitto
from tests.hall import HALL, body, topic
from tests.running import in_process, wait_until, write_config

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the hall
ROLES = ("display", "leader", "supervisor", "admin")


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@dataclass
class Hall:
    daemon: Daemon
    clock: Clock
    config: Path
    tokens: dict[str, tuple[str, str]]  # role → (cookie, csrf)
    heard: str  # a red card whose owner was heard (escalated): it may be upheld
    unheard: str  # a red card still within its answer time: uphold is refused

    @property
    def address(self) -> tuple[str, int]:
        assert self.daemon.where is not None
        return self.daemon.where.web


@contextmanager
def running(tmp_path: Path, broker: Mosquitto, clock: Clock) -> Iterator[Daemon]:
    path = write_config(tmp_path, broker.port, broker.password("hallwatch"), 0)
    with in_process(path, clock) as daemon:
        yield daemon


def call(
    where: tuple[str, int],
    method: str,
    path: str,
    doc: Any = None,
    *,
    cookie: str | None = None,
    csrf: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(*where, timeout=30)
    h = dict(headers or {})
    payload = None
    if doc is not None:
        payload = json.dumps(doc).encode()
        h.setdefault("Content-Type", "application/json")
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    conn.request(method, path, body=payload, headers=h)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    got = {k.lower(): v for k, v in resp.getheaders()}
    if got.get("content-type", "").startswith("application/json"):
        return resp.status, got, json.loads(raw)
    return resp.status, got, raw


def login(where: tuple[str, int], name: str, password: str | None = None) -> tuple[str, str]:
    status, headers, doc = call(
        where, "POST", "/api/login", {"name": name, "password": password or f"demo-{name}"}
    )
    assert status == 200, doc
    return headers["set-cookie"].split(";")[0], doc["csrf"]


def submit_case(daemon: Daemon, case: str, accepted: str, days: int) -> None:
    payload = body(
        id=f"{case}-a",
        case=case,
        action="accepted",
        kind="promised",
        ts=accepted,
        window="W01",
        staff="S001",
        promised_days=days,
        legal_days=20,
    )
    daemon.ingestor.submit(
        Inbound(topic("case", case, "event"), payload, daemon.clock.now(), qos=0)
    )


def red_card_of(daemon: Daemon, case: str) -> str:
    def find() -> str | None:
        cards = daemon.runner.read(lambda sup: list(sup.engine.cards.values()))
        return next(
            (c.id for c in cards if c.subject.case == case and c.level.value == "red"), None
        )

    wait_until(lambda: find() is not None, 20, f"a red card on {case}")
    found = find()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto) -> Iterator[Hall]:
    clock = Clock(NOW)
    tmp = tmp_path_factory.mktemp("console")
    with running(tmp, mosquitto_session, clock) as daemon:
        assert daemon.where is not None
        # Promised 2 working days from Mon 16 Nov: red on Wed 18th, unanswered past Fri 20th.
        submit_case(daemon, "C-HEARD", "2026-11-16T09:00:00+08:00", 2)
        # Promised 1 day from Thu 19th: red at Fri 20th 17:30, answer due Tue 24th.
        submit_case(daemon, "C-UNHEARD", "2026-11-19T09:00:00+08:00", 1)
        heard, unheard = red_card_of(daemon, "C-HEARD"), red_card_of(daemon, "C-UNHEARD")
        tokens = {role: login(daemon.where.web, role) for role in ROLES}
        yield Hall(daemon, clock, tmp / "hall.toml", tokens, heard, unheard)


def as_role(hall: Hall, role: str | None, method: str, path: str, doc: Any = None) -> int:
    cookie, csrf = hall.tokens[role] if role else (None, None)
    status, _, _ = call(hall.address, method, path, doc, cookie=cookie, csrf=csrf)
    return status


# --- who may do what --------------------------------------------------------------------------

#                                               anonymous display leader supervisor admin
MATRIX: list[tuple[str, str, tuple[int, int, int, int, int]]] = [
    ("GET", "/api/session", (401, 200, 200, 200, 200)),
    ("GET", "/api/meta", (401, 200, 200, 200, 200)),
    ("GET", "/api/cards", (401, 403, 200, 200, 403)),
    ("GET", "/api/cards?level=red&window=W01&day=2026-11-18", (401, 403, 200, 200, 403)),
    ("GET", "/api/cards/{heard}", (401, 403, 200, 200, 403)),
    ("GET", "/api/complaints", (401, 403, 200, 200, 403)),
    ("GET", "/api/attendance?date=2026-11-20", (401, 403, 200, 200, 403)),
    ("GET", "/api/audit", (401, 403, 403, 200, 200)),
    ("GET", "/api/config", (401, 403, 403, 403, 200)),
    ("POST", "/api/config/reload", (401, 403, 403, 403, 202)),
    ("GET", "/console/", (303, 200, 200, 200, 200)),
    ("GET", "/console/static/console.js", (401, 200, 200, 200, 200)),
    ("GET", "/console/attendance/sheet?date=2026-11-20", (303, 403, 200, 200, 403)),
    ("GET", "/console/report?month=2026-11", (303, 403, 200, 200, 403)),
    ("GET", "/display", (200, 200, 200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "expected"), MATRIX)
def test_role_matrix(hall: Hall, method: str, path: str, expected: tuple[int, ...]) -> None:
    path = path.format(heard=hall.heard)
    got = tuple(as_role(hall, role, method, path) for role in (None, *ROLES))
    assert got == expected


@pytest.mark.parametrize("role", [None, "display", "leader", "admin"])
def test_only_a_supervisor_decides_cards(hall: Hall, role: str | None) -> None:
    path = f"/api/cards/{hall.heard}/decision"
    status = as_role(hall, role, "POST", path, {"action": "revoke", "text": "试图撤销"})
    assert status == (401 if role is None else 403)
    state = hall.daemon.runner.read(lambda sup: sup.engine.cards[CardId(hall.heard)].state)
    assert state is CardState.ESCALATED  # nothing happened


def test_no_page_but_the_display_without_login(hall: Hall) -> None:
    """Every route the server knows, asked without a session: only the display, the probes,
    the login page with its assets and the API description answer with content."""
    _, _, doc = call(hall.address, "GET", "/no-such-page")
    paths = doc["paths"]
    assert "/console/" in paths and "/api/cards" in paths
    open_paths = {"/healthz", "/metrics", "/state", "/console/login", "/api/openapi.json"}
    for path in [*paths, *(f"/console/static/{n}" for n in ("console.js", "index.html"))]:
        if path.startswith("/display") or path in open_paths:
            continue  # (and /display/events is a stream that never ends)
        status = as_role(hall, None, "GET", path)
        if path.startswith("/console/static/") and path.rsplit("/", 1)[1] in PUBLIC_ASSETS:
            assert status == 200
            continue
        assert status in (303, 401, 405), (path, status)  # 405: POST-only (login, logout)


def test_every_route_is_in_the_openapi_document(hall: Hall) -> None:
    _, _, served = call(hall.address, "GET", "/api/openapi.json")
    assert served == json.loads(json.dumps(spec()))
    _, _, doc = call(hall.address, "GET", "/no-such-page")
    api = {p for p in doc["paths"] if p.startswith("/api/") and p != "/api/openapi.json"}
    assert api | {"/api/cards/{card}", "/api/cards/{card}/decision"} == set(served["paths"])


# --- login -------------------------------------------------------------------------------------


def test_login_sets_a_strict_http_only_cookie_and_rejects_bad_input(hall: Hall) -> None:
    status, headers, doc = call(
        hall.address, "POST", "/api/login", {"name": "leader", "password": "demo-leader"}
    )
    assert status == 200 and doc["role"] == "leader" and doc["staff_name"] == "周建国"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "decide_cards" not in doc["permissions"]
    bad = {"name": "leader", "password": "wrong"}
    assert call(hall.address, "POST", "/api/login", bad)[0] == 401
    assert call(hall.address, "POST", "/api/login", {"name": "leader"})[0] == 400
    assert call(hall.address, "POST", "/api/login", [1, 2])[0] == 400
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert call(hall.address, "POST", "/api/login", {}, headers=form)[0] == 415
    evil = {"Origin": "https://evil.example"}
    status, _, doc = call(
        hall.address,
        "POST",
        "/api/login",
        {"name": "leader", "password": "demo-leader"},
        headers=evil,
    )
    assert status == 403 and doc["error"] == "csrf_foreign_origin"


def test_logout_ends_the_session(hall: Hall) -> None:
    cookie, csrf = login(hall.address, "leader")
    assert call(hall.address, "GET", "/api/cards", cookie=cookie)[0] == 200
    assert call(hall.address, "POST", "/api/logout", cookie=cookie)[0] == 403  # no CSRF token
    status, headers, _ = call(hall.address, "POST", "/api/logout", cookie=cookie, csrf=csrf)
    assert status == 200 and "Max-Age=0" in headers["set-cookie"]
    assert call(hall.address, "GET", "/api/cards", cookie=cookie)[0] == 401


# --- CSRF --------------------------------------------------------------------------------------


def test_decisions_need_the_csrf_token_and_our_origin(hall: Hall) -> None:
    cookie, csrf = hall.tokens["supervisor"]
    path = f"/api/cards/{hall.unheard}/decision"
    doc = {"action": "answer", "text": "x"}
    cases = [
        (None, {}, "csrf_no_token"),
        ("0" * 32, {}, "csrf_bad_token"),
        (csrf, {"Origin": "https://evil.example"}, "csrf_foreign_origin"),
    ]
    for token, headers, code in cases:
        status, _, got = call(
            hall.address, "POST", path, doc, cookie=cookie, csrf=token, headers=headers
        )
        assert (status, got["error"]) == (403, code)
    assert (
        hall.daemon.runner.read(lambda sup: sup.engine.cards[CardId(hall.unheard)].state)
        is CardState.RAISED
    )


# --- decisions ---------------------------------------------------------------------------------


def decide(hall: Hall, card: str, action: str, text: Any, **headers: str) -> tuple[int, Any]:
    cookie, csrf = hall.tokens["supervisor"]
    path = f"/api/cards/{card}/decision"
    status, _, doc = call(
        hall.address,
        "POST",
        path,
        {"action": action, "text": text},
        cookie=cookie,
        csrf=csrf,
        headers=headers,
    )
    return status, doc


def test_decision_input_is_checked(hall: Hall) -> None:
    assert decide(hall, hall.heard, "answer", "  ")[0] == 422
    assert decide(hall, hall.heard, "answer", None)[0] == 422
    assert decide(hall, hall.heard, "delete", "x")[0] == 422
    assert decide(hall, hall.heard, "answer", "x" * 2001)[0] == 422
    status, doc = decide(hall, "K-0000000000000000", "revoke", "无此牌")
    assert (status, doc["message"]) == (404, "没有这张牌。")


def test_uphold_before_the_owner_was_heard_is_refused_in_chinese(hall: Hall) -> None:
    status, doc = decide(hall, hall.unheard, "uphold", "直接维持")
    assert status == 409 and doc["error"] == "not_heard"
    assert doc["message"].startswith("尚未听取陈述申辩")
    cookie, _ = hall.tokens["supervisor"]
    _, _, audit = call(hall.address, "GET", "/api/audit", cookie=cookie)
    entry = next(
        e for e in audit["entries"] if e["card"] == hall.unheard and e["text"] == "直接维持"
    )
    assert (entry["result"], entry["refusal"], entry["via"]) == ("refused", "not_heard", "console")


def test_a_decision_is_journaled_audited_and_replayed(hall: Hall) -> None:
    status, doc = decide(
        hall, hall.heard, "uphold", "经核实，超期属实", **{"X-Forwarded-For": "6.6.6.6"}
    )
    assert status == 200, doc
    assert [t["state"] for t in doc["transitions"]] == ["upheld"]
    assert doc["transitions"][0]["by_name"] == "钱文静"
    seq = doc["seq"]
    # On disk before the answer: the journal holds the command with our audit.
    journal = Journal.open(hall.daemon.config.journal.data_dir, HALL)
    try:
        rows = journal.find([doc["event_id"]])
        assert [r.seq for r in rows] == [seq]
        sent = json.loads(rows[0].payload)
        assert sent["by"] == "D001" and sent["action"] == "uphold"
        assert {k: sent["audit"][k] for k in ("user", "role", "client", "via")} == {
            "user": "supervisor",
            "role": "supervisor",
            "client": "127.0.0.1",  # no trusted proxy: the forwarded header is not believed
            "via": "console",
        }
        # Replay reproduces the decision from the journal alone.
        sup, _ = replay(journal, hall.daemon.config)
    finally:
        journal.close()
    replayed = sup.engine.cards[CardId(hall.heard)]
    live = hall.daemon.runner.read(lambda s: list(s.engine.cards[CardId(hall.heard)].history))
    assert replayed.state is CardState.UPHELD and replayed.history == live
    # The card page and the audit show it.
    cookie, _ = hall.tokens["leader"]
    _, _, card = call(hall.address, "GET", f"/api/cards/{hall.heard}", cookie=cookie)
    assert card["state"] == "upheld" and card["history"][-1]["text"] == "经核实，超期属实"
    assert card["evidence"][0]["payload"]["case"] == "C-HEARD"
    cookie, _ = hall.tokens["admin"]
    _, _, audit = call(hall.address, "GET", "/api/audit", cookie=cookie)
    entry = next(e for e in audit["entries"] if e["seq"] == seq)
    assert entry["result"] == "applied" and entry["user"] == "supervisor"
    assert entry["received_at"] == "2026-11-23T10:00:00+08:00"


def test_an_audit_forged_over_mqtt_is_shown_unverified(
    hall: Hall, mosquitto_session: Mosquitto
) -> None:
    forged = body(
        action="answer",
        by="D001",
        text="伪造的申辩",
        ts="2026-11-23T09:59:00+08:00",
        audit={
            "via": "console",
            "user": "supervisor",
            "role": "supervisor",
            "client": "1.1.1.1",
            "sig": "00",
        },
    )
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="console-forger")
    client.username_pw_set("console", mosquitto_session.password("console"))
    client.connect("127.0.0.1", mosquitto_session.port)
    client.loop_start()
    try:
        client.publish(topic("card", hall.unheard, "command"), forged, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
    cookie, _ = hall.tokens["supervisor"]

    def entry() -> dict[str, Any] | None:
        _, _, audit = call(hall.address, "GET", "/api/audit", cookie=cookie)
        return next((e for e in audit["entries"] if e["text"] == "伪造的申辩"), None)

    wait_until(lambda: entry() is not None, 20, "the forged command in the audit")
    got = entry()
    assert got is not None and got["via"] == "unverified" and got["user"] is None


def test_card_list_filters(hall: Hall) -> None:
    cookie, _ = hall.tokens["leader"]
    _, _, doc = call(hall.address, "GET", "/api/cards?level=red&state=all", cookie=cookie)
    assert {hall.heard, hall.unheard} <= {c["card"] for c in doc["cards"]}
    _, _, doc = call(hall.address, "GET", "/api/cards?level=yellow&window=W02", cookie=cookie)
    assert all(c["level"] == "yellow" and c["subject"]["window"] == "W02" for c in doc["cards"])
    _, _, doc = call(hall.address, "GET", "/api/cards?day=2026-11-20&state=all", cookie=cookie)
    assert [c["card"] for c in doc["cards"] if c["subject"]["case"]] == [hall.unheard]
    for bad in ("level=green", "day=2026-13-01", "limit=0", "state=gone", "rule=nope"):
        status, _, doc = call(hall.address, "GET", f"/api/cards?{bad}", cookie=cookie)
        assert status == 400 and doc["message"].startswith("参数"), bad


# --- expiry and throttling, each on a daemon of its own -------------------------------------------


def test_sessions_expire_on_the_daemon_clock(tmp_path: Path, mosquitto_session: Mosquitto) -> None:
    clock = Clock(NOW)
    with running(tmp_path, mosquitto_session, clock) as daemon:
        assert daemon.where is not None
        where = daemon.where.web
        cookie, _ = login(where, "leader")
        clock.advance(minutes=29)
        assert call(where, "GET", "/api/cards", cookie=cookie)[0] == 200
        clock.advance(minutes=30)  # 30 idle minutes
        assert call(where, "GET", "/api/cards", cookie=cookie)[0] == 401
        cookie, _ = login(where, "leader")
        for _ in range(23):
            clock.advance(minutes=20)
            assert call(where, "GET", "/api/session", cookie=cookie)[0] == 200
        clock.advance(minutes=20)  # 8 h after login
        assert call(where, "GET", "/api/session", cookie=cookie)[0] == 401


def test_logins_are_throttled(tmp_path: Path, mosquitto_session: Mosquitto) -> None:
    clock = Clock(NOW)
    with running(tmp_path, mosquitto_session, clock) as daemon:
        assert daemon.where is not None
        where = daemon.where.web
        wrong = {"name": "supervisor", "password": "guess"}
        assert [call(where, "POST", "/api/login", wrong)[0] for _ in range(5)] == [401] * 5
        right = {"name": "supervisor", "password": "demo-supervisor"}
        status, headers, doc = call(where, "POST", "/api/login", right)
        assert status == 429 and headers["retry-after"] == "900" and "15分钟" in doc["message"]
        clock.advance(minutes=15)
        assert call(where, "POST", "/api/login", right)[0] == 200


# --- stored text that is not Unicode ------------------------------------------------------------


def test_a_lone_surrogate_from_an_old_journal_never_fails_a_page(
    tmp_path: Path, mosquitto_session: Mosquitto
) -> None:
    """An older daemon journaled JSON escapes of lone surrogates (docs/journal.md); its journal must
    still be readable through every page: JSON keeps the escape, HTML shows U+FFFD."""
    clock = Clock(NOW)
    with running(tmp_path, mosquitto_session, clock) as daemon:
        submit_case(daemon, "C-OLD", "2026-11-19T09:00:00+08:00", 1)
        card = red_card_of(daemon, "C-OLD")
        owner = daemon.runner.read(lambda sup: sup.engine.cards[CardId(card)].owner)
    text = "旧日志\ud800的申辩"
    doc: dict[str, Any] = {"id": "old-surrogate", "action": "answer", "by": owner, "text": text}
    doc |= {"ts": NOW.isoformat(), "audit": {"via": "console", "user": "x\udc80", "sig": "0"}}
    payload = json.dumps(doc).encode()  # ASCII: the surrogate travels as \ud800, as it did
    journal = Journal.open(tmp_path / "data", HALL)
    row = AcceptEntry(
        event_id=EventId("old-surrogate"),
        kind=EventKind.CARD_COMMAND,
        topic=f"hall/{HALL}/card/{card}/command",
        received_at=NOW,
        ts=NOW,
        payload=payload,
    )
    assert journal.append([row]) != [None]
    journal.close()
    with running(tmp_path, mosquitto_session, clock) as daemon:
        assert daemon.where is not None
        where = daemon.where.web
        cookie, csrf = login(where, "supervisor")
        status, _, detail = call(where, "GET", f"/api/cards/{card}", cookie=cookie)
        assert status == 200 and detail["history"][-1]["text"] == text
        status, _, audit = call(where, "GET", "/api/audit", cookie=cookie)
        assert status == 200 and audit["entries"][0]["text"] == text
        assert audit["entries"][0]["via"] == "unverified"
        assert call(where, "GET", "/api/cards?state=all", cookie=cookie)[0] == 200
        status, _, page = call(where, "GET", "/console/report?month=2026-11", cookie=cookie)
        assert status == 200 and page.decode()  # valid UTF-8
        refused = call(
            where,
            "POST",
            f"/api/cards/{card}/decision",
            {"action": "answer", "text": "新\ud800"},
            cookie=cookie,
            csrf=csrf,
        )
        assert refused[0] == 422 and refused[2]["error"] == "bad_text"

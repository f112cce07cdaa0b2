"""Voided is not closed (docs/cards.md): a card that late evidence voided is left out of the
console's default lists, the complaint list's cards, the day sheet's cards, the display and the
scores; asked for (`include_voided=1`, 包括作废) it is listed and says 作废 with its reason,
through the API and on the page in headless Chromium (screenshot: docs/console-voided.png).

The hall: an in-process daemon on an injected clock (Monday 23 November 2026, 10:00) against
real Mosquitto. Promised cases whose deadlines passed raise reds; two of them are then completed
by a late upload stamped before their deadlines, which voids their reds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from alerts.cards import Card, CardState, Why
from alerts.config import HallConfig
from alerts.ids import CardId
from alerts.scores import Verdict, score_month
from hallkit.config import load_config
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Inbound
from monitor.web.console import day_sheet_parts, voided
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.hall import body, topic
from tests.running import wait_until
from tests.test_console_api import NOW, Clock, call, login, red_card_of, running, submit_case

ROOT = Path(__file__).resolve().parent.parent
SHOT = ROOT / "docs" / "console-voided.png"
SHOT_ENV = "HALLWATCH_SHOTS"  # set to rewrite docs/console-voided.png (else into tmp)
LIST = "/api/cards?state=all"


@dataclass
class Voids:
    daemon: Daemon
    clock: Clock
    cfg: HallConfig
    voided: list[str]  # voided reds
    standing: list[str]  # reds that stand
    leader: str  # the leader's session cookie

    @property
    def address(self) -> tuple[str, int]:
        assert self.daemon.where is not None
        return self.daemon.where.web

    def get(self, path: str) -> tuple[int, object]:
        status, _, doc = call(self.address, "GET", path, cookie=self.leader)
        return status, doc


def complete(daemon: Daemon, case: str, ts: str) -> None:
    payload = body(id=f"{case}-done", case=case, action="completed", outcome="approved", ts=ts)
    daemon.ingestor.submit(
        Inbound(topic("case", case, "event"), payload, daemon.clock.now(), qos=0)
    )


def card_of(v: Voids, cid: str) -> Card:
    return v.daemon.runner.read(lambda sup: sup.engine.cards[CardId(cid)])


@pytest.fixture(scope="module")
def voids(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto
) -> Iterator[Voids]:
    clock = Clock(NOW)
    tmp = tmp_path_factory.mktemp("voided")
    with running(tmp, mosquitto_session, clock) as daemon:
        assert daemon.where is not None
        # Promised 1 working day from Thu 19th: red at Fri 20th 17:30 unless done by then.
        for case in ("C-VOID-1", "C-VOID-2", "C-RED-1"):
            submit_case(daemon, case, "2026-11-19T09:00:00+08:00", 1)
        submit_case(daemon, "C-RED-2", "2026-11-16T09:00:00+08:00", 2)  # red Wed 18th
        submit_case(daemon, "C-YELLOW", "2026-11-20T09:00:00+08:00", 1)  # due today 17:30
        reds = {c: red_card_of(daemon, c) for c in ("C-VOID-1", "C-VOID-2", "C-RED-1", "C-RED-2")}
        # The case system's backlog: both were finished on Friday afternoon, before the deadline.
        complete(daemon, "C-VOID-1", "2026-11-20T16:00:00+08:00")
        complete(daemon, "C-VOID-2", "2026-11-20T15:10:00+08:00")
        gone = [reds["C-VOID-1"], reds["C-VOID-2"]]

        def all_voided() -> bool:
            cards = daemon.runner.read(lambda sup: [sup.engine.cards[CardId(c)] for c in gone])
            return all(voided(c) for c in cards)

        wait_until(all_voided, 20, "the late completions to void two reds")
        cookie, _ = login(daemon.where.web, "leader")
        cfg = load_config(tmp / "hall.toml")
        yield Voids(daemon, clock, cfg, gone, [reds["C-RED-1"], reds["C-RED-2"]], cookie)


def test_a_voided_card_is_closed_with_reason_void_and_holds_nothing(voids: Voids) -> None:
    for cid in voids.voided:
        c = card_of(voids, cid)
        assert c.state is CardState.CLOSED and c.history[-1].why is Why.VOID and not c.holds
        assert voided(c)
    assert not any(voided(card_of(voids, cid)) for cid in voids.standing)


@pytest.mark.parametrize("query", ["", "?state=all", "?state=closed", "?level=red&state=all"])
def test_the_card_lists_leave_voided_cards_out_by_default(voids: Voids, query: str) -> None:
    status, doc = voids.get("/api/cards" + query)
    assert status == 200 and isinstance(doc, dict)
    ids = {c["card"] for c in doc["cards"]}
    assert not ids & set(voids.voided)
    assert all(c["voided"] is False and c["void_reason"] is None for c in doc["cards"])
    assert doc["total"] == len(doc["cards"])
    if "closed" not in query:
        assert set(voids.standing) <= ids


def test_asked_for_all_cards_a_voided_one_says_void_with_its_reason(voids: Voids) -> None:
    status, doc = voids.get(LIST + "&include_voided=1")
    assert status == 200 and isinstance(doc, dict)
    rows = {c["card"]: c for c in doc["cards"]}
    assert set(voids.voided) | set(voids.standing) <= rows.keys()
    for cid in voids.voided:
        row = rows[cid]
        # Every existing field is kept: the state is still closed, the new fields say why.
        assert (row["state"], row["state_zh"], row["voided"]) == ("closed", "作废", True)
        assert row["void_reason"] == "迟到的证据表明条件从未成立"
        assert row["voided_at"] == NOW.astimezone(voids.cfg.hall.zone).isoformat()
        assert row["holds"] is False and row["level"] == "red"
    for cid in voids.standing:
        assert rows[cid]["voided"] is False and rows[cid]["state_zh"] != "作废"
    _, without = voids.get(LIST)
    assert isinstance(without, dict)
    assert doc["total"] == without["total"] + len(voids.voided)


def test_one_voided_card_shows_void_and_its_history(voids: Voids) -> None:
    status, doc = voids.get(f"/api/cards/{voids.voided[0]}")
    assert status == 200 and isinstance(doc, dict)
    assert (doc["state_zh"], doc["voided"], doc["void_reason"]) == (
        "作废",
        True,
        "迟到的证据表明条件从未成立",
    )
    assert [t["reason"] for t in doc["history"]] == ["condition_met", "void"]
    assert doc["history"][-1]["reason_zh"].startswith("作废")


def test_a_bad_include_voided_is_a_400_naming_it(voids: Voids) -> None:
    status, doc = voids.get(LIST + "&include_voided=yes")
    assert status == 400 and isinstance(doc, dict) and "include_voided" in doc["message"]


def test_the_complaints_day_sheet_display_and_scores_leave_them_out(voids: Voids) -> None:
    for flag in ("0", "1"):
        assert voids.get(f"/api/complaints?include_voided={flag}")[0] == 200
    d = voids.daemon
    cards = d.runner.read(lambda sup: list(sup.engine.cards.values()))
    assert {c.id for c in cards if voided(c)} == set(voids.voided)
    # The display lights only what holds: the voided reds light nothing and count nowhere.
    lighting = [c for c in cards if c.subject.window == "W01" and c.holds]
    assert not {c.id for c in lighting} & set(voids.voided)
    open_reds = sum(1 for c in cards if c.level.value == "red" and c.state is not CardState.CLOSED)

    def shown() -> tuple[str, int, int]:
        _, _, display = call(voids.address, "GET", "/display/state")
        w01 = next(t for t in display["tiles"] if t["window"] == "W01")
        return w01["level"], w01["cards"], display["totals"]["cards_open"]["red"]

    # The display is refreshed at most once a second: wait for the one after the voids.
    want = ("red", len(lighting), open_reds)
    wait_until(lambda: shown() == want, 20, f"the display to show {want}")
    # The day sheet's cards (console attendance, printed sheet) and the month's scores.
    friday = NOW.astimezone(voids.cfg.hall.zone).date().replace(day=20)
    at = {c.raised_at for c in cards if c.id in voids.voided}
    _, _, lines = d.runner.read(lambda sup: day_sheet_parts(sup, voids.cfg, friday, NOW))
    assert not {line.at for line in lines} & at
    scores = score_month(
        cards, voids.cfg.scores, (2026, 11), voids.cfg.hall.zone, NOW, ["W01"], ["S001"]
    )
    assert {scores.verdicts[CardId(c)] for c in voids.voided} == {Verdict.VOID}
    charged = {x.card for s in (*scores.windows, *scores.officers) for x in s.deductions}
    pending = {x.card for s in (*scores.windows, *scores.officers) for x in s.pending}
    assert not (charged | pending) & set(voids.voided)
    assert scores.cards_by_rule.get("case.promised.overdue") == len(voids.standing)


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_the_console_marks_voided_cards_only_when_asked(voids: Voids, tmp_path: Path) -> None:
    host, port = voids.address
    browser = Chromium(tmp_path, width=1600, height=760)
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
        browser.evaluate("location.hash = '#/cards?state=all'; true")
        shown = browser.wait_for(
            "document.querySelector('#filters select[name=state]')?.value === 'all'"
            " && [...document.querySelectorAll('#view td a')].map(a => a.textContent)",
            20,
            "every card but the voided",
        )
        assert set(voids.standing) <= set(shown) and not set(voids.voided) & set(shown)
        # The user ticks 包括作废 and filters, as a supervisor would.
        browser.evaluate(
            "document.querySelector('#filters input[name=include_voided]').checked = true;"
            "document.querySelector('#filters button').click(); true"
        )
        marked = browser.wait_for(
            "[...document.querySelectorAll('#view tr.voided')].map(r => ["
            "r.querySelector('td a').textContent, r.cells[7].textContent])",
            20,
            "the voided cards marked 作废",
        )
        assert {cid for cid, _ in marked} == set(voids.voided)
        assert all(text.startswith("作废") and "条件从未成立" in text for _, text in marked)
        count = browser.evaluate("document.getElementById('count').textContent")
        assert "含作废 2 张" in count
        out = SHOT if os.environ.get(SHOT_ENV) else tmp_path / SHOT.name
        browser.screenshot(out)
        browser.evaluate(f"location.hash = '#/card/{voids.voided[0]}'; true")
        note = browser.wait_for(
            "document.getElementById('card-state')?.textContent === '作废'"
            " && document.getElementById('void-reason').textContent",
            20,
            "the voided card's page",
        )
        assert note.startswith("迟到的证据表明条件从未成立")
        assert browser.evaluate("!document.getElementById('decision')")
    finally:
        browser.close()


def test_the_openapi_document_describes_the_void_fields(voids: Voids) -> None:
    _, _, doc = call(voids.address, "GET", "/api/openapi.json")
    card = doc["components"]["schemas"]["Card"]
    assert {"voided", "void_reason", "voided_at"} <= card["properties"].keys()
    assert "voided" in card["required"]
    for path in ("/api/cards", "/api/complaints"):
        params = {p["name"] for p in doc["paths"][path]["get"]["parameters"]}
        assert "include_voided" in params, path
    assert json.dumps(doc)  # plain JSON

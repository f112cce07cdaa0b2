"""The mitigating decision (000_… 八(七): 从轻、减轻或免予处理) through the console's journaled
decision path, as uphold and revoke go: checked, journaled with the signed audit, replayed,
shown on the card page and in the audit; and the year's roll-up (000_… 九(三)) beside the
monthly report."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from alerts.cards import CardState, Why
from alerts.events import Mitigation
from alerts.ids import CardId
from hallkit.exits import EXIT_OK
from monitor.daemon import Daemon
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from tests.brokers import Mosquitto
from tests.hall import HALL
from tests.test_cli_data_dir import hall_data, run
from tests.test_console_api import NOW, Clock, call, login, red_card_of, running, submit_case


@dataclass
class Hall:
    daemon: Daemon
    heard: str
    unheard: str
    supervisor: tuple[str, str]
    admin: tuple[str, str]

    @property
    def address(self) -> tuple[str, int]:
        assert self.daemon.where is not None
        return self.daemon.where.web

    def decide(self, card: str, doc: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        cookie, csrf = self.supervisor
        path = f"/api/cards/{card}/decision"
        status, _, got = call(self.address, "POST", path, doc, cookie=cookie, csrf=csrf)
        return status, got


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp("mitigation")
    with running(tmp, mosquitto_session, Clock(NOW)) as daemon:
        assert daemon.where is not None
        submit_case(daemon, "C-HEARD", "2026-11-16T09:00:00+08:00", 2)  # escalated by now
        submit_case(daemon, "C-UNHEARD", "2026-11-19T09:00:00+08:00", 1)  # still within
        heard, unheard = red_card_of(daemon, "C-HEARD"), red_card_of(daemon, "C-UNHEARD")
        web = daemon.where.web
        yield Hall(daemon, heard, unheard, login(web, "supervisor"), login(web, "admin"))


def test_mitigate_needs_its_degree_and_the_hearing(hall: Hall) -> None:
    status, got = hall.decide(hall.heard, {"action": "mitigate", "text": "已赔礼道歉"})
    assert (status, got["error"]) == (422, "bad_mitigation")
    odd = {"action": "mitigate", "text": "已赔礼道歉", "mitigation": {"lighter": 1}}
    status, got = hall.decide(hall.heard, odd)  # not a name: refused, not a server error
    assert (status, got["error"]) == (422, "bad_mitigation")
    doc = {"action": "mitigate", "mitigation": "lighter", "text": "已赔礼道歉"}
    status, got = hall.decide(hall.unheard, doc)
    assert (status, got["error"]) == (409, "not_heard")  # 000_… 八(八): heard first
    state = hall.daemon.runner.read(lambda s: s.engine.cards[CardId(hall.heard)].state)
    assert state is CardState.ESCALATED


def test_a_mitigation_is_journaled_audited_replayed_and_shown(hall: Hall) -> None:
    doc = {"action": "mitigate", "mitigation": "exempt", "text": "主动赔礼道歉，申请人已谅解"}
    status, got = hall.decide(hall.heard, doc)
    assert status == 200, got
    transitions = got["transitions"]
    assert isinstance(transitions, list)
    first = transitions[0]
    assert (first["state"], first["reason"]) == ("upheld", "mitigated")
    assert "免予处理" in transitions[0]["reason_zh"]
    journal = Journal.open(hall.daemon.config.journal.data_dir, HALL)
    try:
        (row,) = journal.find([str(got["event_id"])])
        sent = json.loads(row.payload)
        assert (sent["action"], sent["mitigation"]) == ("mitigate", "exempt")
        sup, _ = replay(journal, hall.daemon.config)
    finally:
        journal.close()
    replayed = sup.engine.cards[CardId(hall.heard)]
    live = hall.daemon.runner.read(lambda s: list(s.engine.cards[CardId(hall.heard)].history))
    assert replayed.history == live
    upheld = next(t for t in replayed.history if t.state is CardState.UPHELD)
    assert (upheld.why, upheld.mitigation) == (Why.MITIGATED, Mitigation.EXEMPT)
    cookie, _ = hall.supervisor
    _, _, card = call(hall.address, "GET", f"/api/cards/{hall.heard}", cookie=cookie)
    assert card["actions"] == []  # decided
    assert any("免予处理" in h["reason_zh"] for h in card["history"])
    cookie, _ = hall.admin
    _, _, audit = call(hall.address, "GET", "/api/audit", cookie=cookie)
    entry = next(e for e in audit["entries"] if e["seq"] == got["seq"])
    assert (entry["mitigation"], entry["mitigation_zh"], entry["via"]) == (
        "exempt",
        "免予处理",
        "console",  # the signature covers the mitigation
    )


def test_the_years_roll_up_is_served_beside_the_monthly_report(hall: Hall) -> None:
    cookie, _ = hall.supervisor
    status, _, page = call(hall.address, "GET", "/console/annual?year=2026", cookie=cookie)
    text = page.decode("utf-8")
    assert status == 200 and "2026年 效能考评年度汇总" in text and "九(三)" in text
    status, headers, body = call(
        hall.address, "GET", "/console/annual.xlsx?year=2026", cookie=cookie
    )
    assert status == 200 and "2026-annual.xlsx" in headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["窗口", "人员", "星级评定"]
    head = [c.value for c in book["窗口"][1]]
    assert head[2:14] == [f"{m}月" for m in range(1, 13)] and "年度平均" in head


def test_hallwatch_annual_writes_the_years_roll_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """000_… 九(三): `hallwatch annual --year` replays the journal into HTML and XLSX."""
    data = hall_data(tmp_path / "data")
    out_dir = tmp_path / "out"
    words = ["annual", "--data-dir", str(data), "--year", "2026", "--out", str(out_dir)]
    code, said, _ = run(words, capsys)
    assert code == EXIT_OK and "2026年 效能考评年度汇总" in said
    page = (out_dir / f"hallwatch-{HALL}-2026-annual.html").read_text(encoding="utf-8")
    assert (
        "窗口各月考评得分" in page and "11月" in page and "《行政效能建设九项制度》九(三)" in page
    )
    assert (out_dir / f"hallwatch-{HALL}-2026-annual.xlsx").read_bytes()[:2] == b"PK"

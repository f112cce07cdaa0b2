"""The negative-filing register (否定报备情况登记表): what it holds is `000_… 六(三)` (the
officer's name, post and phone; the case and its reasons; the applicant), the reasons' kinds
`000_… 六(二)`, the review and its deadlines `000_… 六(五)` (2 working days to review, 1 more to
correct); a view that pages and exports, in Chinese with names, through the API and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from alerts.cases import Entry
from alerts.events import Applicant, CaseAction, CaseEvent, CaseKind, Outcome, ReviewVerdict
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.register import COLUMNS, Directory, Standing, filing, register, table
from alerts.rules import Policy
from monitor.cli import main
from monitor.ingest.ingestor import Inbound
from tests.brokers import Mosquitto
from tests.case_builders import CAL, LEADER, OFFICER, OTHER, at
from tests.hall import body, example, topic
from tests.running import wait_until
from tests.test_console_api import Clock, call, login, running

CFG = example()
POLICY = Policy(leaders=frozenset({LEADER}))
REFUSED = at(2026, 11, 23, 10, 0)  # Monday


def _e(n: int, action: CaseAction, ts: datetime, **kw: Any) -> Entry:
    ev = CaseEvent(case=CaseId("C1"), action=action, ts=ts, **kw)
    return Entry(ts, n, EventId(f"e{n}"), ev)


def _returned(**kw: Any) -> Entry:
    fields: dict[str, Any] = {
        "window": WindowId("W03"),
        "staff": OFFICER,
        "reason": "缺少不动产权属证明",
        "reason_code": 3,
        "applicant": Applicant(unit="某建材有限公司", name="赵六", phone="13900000000"),
    }
    return _e(1, CaseAction.RETURNED, REFUSED, **{**fields, **kw})


def _standing(entries: list[Entry], now: datetime) -> Standing:
    f = filing(CaseId("C1"), entries, CAL, POLICY, now)
    assert f is not None
    return f.standing


def test_a_refusal_waits_two_working_days_for_its_review() -> None:
    """000_… 六(五): reviewed within 2 working days (Monday 10:00 → Wednesday's close)."""
    refusal = [_returned()]
    assert _standing(refusal, at(2026, 11, 25, 17, 0)) is Standing.PENDING
    assert _standing(refusal, at(2026, 11, 25, 17, 31)) is Standing.REVIEW_LATE
    upheld = _e(2, CaseAction.REFUSAL_REVIEWED, at(2026, 11, 24, 9, 0),
                verdict=ReviewVerdict.UPHELD, reviewer=LEADER)  # fmt: skip
    assert _standing([*refusal, upheld], at(2026, 11, 30, 9, 0)) is Standing.UPHELD


def test_a_review_by_the_officer_or_a_non_leader_counts_as_none() -> None:
    for who in (OFFICER, OTHER):
        review = _e(2, CaseAction.REFUSAL_REVIEWED, at(2026, 11, 24, 9, 0),
                    verdict=ReviewVerdict.UPHELD, reviewer=who)  # fmt: skip
        assert _standing([_returned(), review], at(2026, 11, 30, 9, 0)) is Standing.REVIEW_LATE


def test_an_unlawful_refusal_is_corrected_within_one_working_day_of_the_review() -> None:
    review = _e(2, CaseAction.REFUSAL_REVIEWED, at(2026, 11, 24, 9, 0),
                verdict=ReviewVerdict.UNLAWFUL, reviewer=LEADER)  # fmt: skip
    both = [_returned(), review]
    assert _standing(both, at(2026, 11, 25, 17, 0)) is Standing.TO_CORRECT
    assert _standing(both, at(2026, 11, 25, 17, 31)) is Standing.CORRECTION_LATE
    fixed = _e(3, CaseAction.CORRECTED, at(2026, 11, 25, 11, 0))
    f = filing(CaseId("C1"), [*both, fixed], CAL, POLICY, at(2026, 11, 26, 9, 0))
    assert f is not None and f.standing is Standing.CORRECTED
    assert f.correction_due == at(2026, 11, 25, 17, 30) and f.corrected_at == at(2026, 11, 25, 11)
    assert f.evidence == (EventId("e1"), EventId("e2"), EventId("e3"))


def test_a_decision_refused_is_filed_and_an_approved_case_is_not() -> None:
    accepted = _e(1, CaseAction.ACCEPTED, at(2026, 11, 20, 9, 0), kind=CaseKind.PROMISED,
                  window=WindowId("W03"), staff=OFFICER, promised_days=5)  # fmt: skip
    refused = _e(2, CaseAction.COMPLETED, REFUSED, outcome=Outcome.REFUSED, reason="不符合条件")
    approved = _e(2, CaseAction.COMPLETED, REFUSED, outcome=Outcome.APPROVED)
    cases = {CaseId("C1"): [accepted, refused], CaseId("C2"): [accepted, approved]}
    found = register(cases, CAL, POLICY, at(2026, 11, 24, 9, 0))
    assert [(f.case, f.how, f.staff, f.reason_code) for f in found] == [
        ("C1", CaseAction.COMPLETED, OFFICER, None)
    ]


def test_the_table_speaks_chinese_with_names_posts_and_phones() -> None:
    """000_… 六(三)1 经办人姓名、职务及联系电话; 六(三)3 申办人单位、姓名及联系电话."""
    f = filing(CaseId("C1"), [_returned(staff=StaffId("S005"))], CAL, POLICY, REFUSED)
    assert f is not None
    head, rows = table([f], Directory.of(CFG))
    assert head == list(COLUMNS)
    got = dict(zip(head, rows[0], strict=True))
    assert (
        got["经办人"] == "陈静" and got["职务"] == "窗口负责人" and got["联系电话"] == "13800000005"
    )
    assert got["窗口"] == "W03 不动产登记(一)"
    assert got["原因类别"] == "3 附送的证件资料或办理手续不完整"
    assert got["否定原因"] == "缺少不动产权属证明"
    assert (got["申请人单位"], got["申请人"], got["申请人电话"]) == (
        "某建材有限公司", "赵六", "13900000000",
    )  # fmt: skip
    assert got["审核结果"] == "待审核" and got["审核期限"] == "2026-11-25 17:30"
    assert got["否定时间"] == "2026-11-23 10:00" and got["方式"] == "窗口退件"


# --- through the console's API and the command line -----------------------------------------

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in the hall


def _refuse(daemon: Any, case: str, staff: str, code: int, day: int) -> None:
    ts = f"2026-11-{day:02d}T10:00:00+08:00"
    payload = body(id=f"{case}-r", case=case, action="returned", ts=ts, window="W03",
                   staff=staff, reason="材料不全", reason_code=code,
                   applicant_name="赵六", applicant_unit="某建材有限公司")  # fmt: skip
    daemon.ingestor.submit(Inbound(topic("case", case, "event"), payload, daemon.clock.now(), 0))


def test_the_register_pages_exports_and_runs_from_the_cli(
    tmp_path: Path, mosquitto_session: Mosquitto, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    with running(tmp_path, mosquitto_session, Clock(NOW)) as daemon:
        assert daemon.where is not None
        where = daemon.where.web
        for n, (staff, day) in enumerate((("S005", 23), ("S006", 24), ("S005", 25)), start=1):
            _refuse(daemon, f"C-R{n}", staff, n, day)
        cookie, _ = login(where, "supervisor")

        def get(path: str) -> Any:
            status, headers, doc = call(where, "GET", path, cookie=cookie)
            assert status == 200, doc
            return headers, doc

        wait_until(lambda: get("/api/register")[1]["total"] == 3, 20, "three filings")
        _, doc = get("/api/register?limit=2&offset=0")
        assert doc["columns"] == list(COLUMNS)
        assert [r["case"] for r in doc["rows"]] == ["C-R3", "C-R2"]
        _, rest = get("/api/register?limit=2&offset=2")
        assert [r["case"] for r in rest["rows"]] == ["C-R1"] and rest["rows"][0]["cells"][0] == 3
        assert doc["counts"] == {"pending": 2, "review_late": 1}  # C-R1 is past Wednesday
        _, late = get("/api/register?standing=review_late")
        assert [r["case"] for r in late["rows"]] == ["C-R1"] and late["filter_zh"] == "逾期未审核"
        _, by = get("/api/register?staff=S006")
        assert by["total"] == 1 and by["filter_zh"] == "经办人 杨丽"
        status, _, bad = call(where, "GET", "/api/register?from=26-11-2026", cookie=cookie)
        assert status == 400 and bad["message"].startswith("参数 from 无效")
        leader, _ = login(where, "leader")
        assert call(where, "GET", "/api/register", cookie=leader)[0] == 200
        admin, _ = login(where, "admin")
        assert call(where, "GET", "/api/register.csv", cookie=admin)[0] == 403

        headers, raw = get("/api/register.xlsx?to=2026-11-24")
        assert "register" in headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
        assert sheet is not None
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        assert values[0] == list(COLUMNS) and len(values) == 3
        assert {r[6] for r in values[1:]} == {"陈静", "杨丽"}  # names, not ids
        _, raw_csv = get("/api/register.csv")
        assert raw_csv.startswith(b"\xef\xbb\xbf")
        lines = list(csv.reader(io.StringIO(raw_csv.decode("utf-8-sig"))))
        assert lines[0] == list(COLUMNS) and len(lines) == 4
        config = tmp_path / "hall.toml"

    capfdbinary.readouterr()
    assert (
        main(["register", "--config", str(config), "--window", "W03", "--from", "2026-11-24"]) == 0
    )
    out = capfdbinary.readouterr().out
    cli = list(csv.reader(io.StringIO(out.decode("utf-8-sig"))))
    assert cli[0] == list(COLUMNS) and [r[1] for r in cli[1:]] == ["C-R3", "C-R2"]
    book = tmp_path / "register.xlsx"
    assert main(["register", "--config", str(config), "--xlsx", str(book)]) == 0
    assert openpyxl.load_workbook(book).active.max_row == 4  # type: ignore[union-attr]


def test_a_refusal_names_its_applicant_on_both_decoding_paths_and_in_replay() -> None:
    """000_… 六(三)3: the applicant's unit, name and phone ride on the refusal (optional)."""
    from alerts import contract
    from alerts.contract import Accepted, Limits, decode_journaled
    from tests.hall import HALL, T0

    t = topic("case", "C1", "event")
    payload = body(case="C1", action="returned", ts="2026-11-23T08:30:00+08:00", reason_code=3,
                   applicant_unit="某建材有限公司", applicant_name="赵六")  # fmt: skip
    d = CFG.directory()
    fast = contract.decode(t, payload, T0, HALL, d, Limits())
    assert isinstance(fast, Accepted) and isinstance(fast.event, CaseEvent)
    assert fast.event.applicant == Applicant(unit="某建材有限公司", name="赵六")
    assert contract.decode_reference(t, payload, T0, HALL, d, Limits()) == fast
    assert decode_journaled(t, payload, HALL, fast.event.ts) == fast.event
    bare = contract.decode(t, body(case="C1", action="returned", ts="2026-11-23T08:30:00+08:00",
                                   reason_code=3), T0, HALL, d, Limits())  # fmt: skip
    assert isinstance(bare, Accepted) and isinstance(bare.event, CaseEvent)
    assert bare.event.applicant is None

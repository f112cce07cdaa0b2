"""A simulated November 2026 of the example hall, through the real journal, reported; every
figure of the report checked against a recount written here from the raw journal rows.

The recount reads the journal's topics and JSON payloads itself and applies the documented
rules directly (docs/scores.md, alerts/stats.py's definitions, docs/cards.md): it does not call
alerts.stats, alerts.scores or the card engine. Only the case system's messages (cases,
ratings, complaints) are journaled: the officers' seats and punches are a hundred thousand
messages a month whose cards have their own worked tests (test_posts, test_attendance,
test_scores); without them the test takes well under a minute on two CPUs.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from alerts.cards import CardState, Why
from alerts.config import HallConfig, ScoresConfig, work_calendar
from alerts.rules import RuleId
from alerts.stats import TOTAL_KEY
from alerts.supervision import Supervision
from alerts.workdays import WorkCalendar
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from monitor.reports import monthly
from monitor.reports.charts import trend_figure
from monitor.reports.names import HallNames
from tests.hall import example
from tests.report_shot import NOW, generate_month, month_report
from tests.report_shot import month_messages as _all_messages

NOV_FIRST, DEC_FIRST = date(2026, 11, 1), date(2026, 12, 1)
CASE_SYSTEM_AREAS = ("case", "rating", "complaint")


@dataclass
class _Journaled:
    cfg: HallConfig
    rows: list[tuple[str, dict[str, Any]]]  # (topic, payload) in journal order
    sup: Supervision
    report: monthly.MonthReport


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> _Journaled:
    cfg = example()
    start = date(2026, 10, 26)  # a week of October too: the trend has a month before
    msgs = [
        m for m in _all_messages(cfg, start=start) if m.topic.split("/")[2] in CASE_SYSTEM_AREAS
    ]
    data = tmp_path_factory.mktemp("month")
    # No ticks but one at NOW: without punches and seats, the people rules have nothing to
    # say, and the card engine's deadlines fire at their own times whenever time moves.
    generate_month(data, cfg, msgs, ticks=False, until=NOW)
    journal = Journal.open(data, cfg.hall.id)
    try:
        raw = [(r.topic, json.loads(r.payload)) for r in journal.events()]
        sup, _ = replay(journal, cfg)
    finally:
        journal.close()
    return _Journaled(cfg, raw, sup, month_report(cfg, sup, NOW))


# --- the recount ------------------------------------------------------------------------------


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class _Case:
    events: list[dict[str, Any]] = field(default_factory=list)
    rating: int | None = None  # the latest in journal order (a re-rating replaces it)
    ratings: list[tuple[datetime, str, int]] = field(default_factory=list)

    def first(self, action: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e["action"] == action), None)

    def field(self, name: str) -> Any:
        return next((e[name] for e in self.events if e.get(name) is not None), None)


def _cases(rows: list[tuple[str, dict[str, Any]]]) -> dict[str, _Case]:
    cases: dict[str, _Case] = defaultdict(_Case)
    for topic, doc in rows:
        area = topic.split("/")[2]
        if area == "case":
            cases[doc["case"]].events.append(doc)
        elif area == "rating":
            c = cases[doc["case"]]
            c.rating = doc["level"]
            c.ratings.append((_ts(doc["ts"]), doc["id"], doc["level"]))
    for c in cases.values():
        c.events.sort(key=lambda e: _ts(e["ts"]))
    return cases


def _local(cal: WorkCalendar, t: datetime) -> date:
    return t.astimezone(cal.zone).date()


def _finish(c: _Case) -> tuple[str, datetime] | None:
    """The first of completed, returned, delivered: how and when the case finished."""
    for e in c.events:
        if e["action"] in ("completed", "returned", "delivered"):
            return e["action"], _ts(e["ts"])
    return None


def _limits(c: _Case, cal: WorkCalendar) -> tuple[datetime | None, datetime | None]:
    """(limit the case is held to, legal limit): acceptance + N working days, pushed on by the
    working time of each suspension (suspended → resumed, reported_up → reply_received)."""
    kind = c.field("kind")
    entered = c.first("received") or c.first("accepted")
    if kind == "immediate":
        return (cal.add_working_days(_ts(entered["ts"]), 0).at if entered else None), None
    acc = c.first("accepted")
    if acc is None or acc.get("promised_days") is None:
        return None, None
    start = _ts(acc["ts"])
    pause = timedelta(0)
    for a, b in (("suspended", "resumed"), ("reported_up", "reply_received")):
        s, e = c.first(a), c.first(b)
        if s is not None and e is not None:
            pause += cal.working_time(_ts(s["ts"]), _ts(e["ts"]))
    promised = cal.add_working_time(cal.add_working_days(start, acc["promised_days"]).at, pause)
    legal = cal.add_working_time(cal.add_working_days(start, acc["legal_days"]).at, pause)
    return promised.at, legal.at


@dataclass
class _Recount:
    received: int = 0
    completed: int = 0
    timed: int = 0
    on_time: int = 0
    promised: int = 0
    promised_days: int = 0
    actual_days: int = 0
    counted: int = 0  # satisfaction: rated or defaulted to 3, finished in November
    bad: int = 0
    deductions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    overtime: Counter[str] = field(default_factory=Counter)  # counted overtime cards per officer


def _in_nov(cal: WorkCalendar, t: datetime) -> bool:
    return NOV_FIRST <= _local(cal, t) < DEC_FIRST


def recount(rows: list[tuple[str, dict[str, Any]]], cfg: HallConfig) -> _Recount:
    cal = work_calendar(cfg)
    out = _Recount()
    for c in _cases(rows).values():
        _count_case(c, cal, out)
    _count_complaints(rows, cfg, cal, out)
    # 000_d7818c12e4aa5d4b 八(五)7 多次出现超时办结: a third overtime card in the month, −10 once
    for staff, n in out.overtime.items():
        if n >= 3:
            out.deductions["scores.repeat_overtime", "officer", staff] += 10
    return out


def _count_case(c: _Case, cal: WorkCalendar, out: _Recount) -> None:
    entered = c.first("received") or c.first("accepted")
    if entered is not None and _in_nov(cal, _ts(entered["ts"])):
        out.received += 1
    promised, legal = _limits(c, cal)
    fin = _finish(c)
    window, staff = c.field("window"), c.field("staff")
    # Red cards raised at a November limit; nobody answered (the journal has no commands) and
    # their answer_by (2 working days) passed before NOW: each counts.
    kept = promised is not None and c.field("kind") != "immediate"
    if (
        kept
        and promised is not None
        and _in_nov(cal, promised)
        and (fin is None or fin[1] > promised)
    ):
        out.deductions["case.promised.overdue", "window", window] += 5
        out.overtime[staff] += 1
    if legal is not None and (fin is None or fin[1] > legal) and _in_nov(cal, legal):
        out.deductions["case.legal.overdue", "officer", staff] += 10
        out.overtime[staff] += 1
    # 000_d7818c12e4aa5d4b 八(四)3: an immediate case not done by close of its day, −5 window
    immediate = c.field("kind") == "immediate"
    if immediate and promised is not None and _in_nov(cal, promised) and _late(fin, promised):
        out.deductions["case.immediate.open_at_close", "window", window] += 5
        out.overtime[staff] += 1
    _count_reported(c, cal, window, out)
    _count_review(c, cal, window, out)
    _count_no_reason(c, cal, staff, out)
    if fin is None or not _in_nov(cal, fin[1]):
        return
    level = c.rating
    if level is not None or fin[1] + timedelta(days=7) <= NOW:
        out.counted += 1
        out.bad += (level if level is not None else 3) <= 2
    if fin[0] != "completed":
        return
    out.completed += 1
    if promised is not None:
        out.timed += 1
        out.on_time += fin[1] <= promised
    acc = c.first("accepted")
    if acc is not None and acc.get("promised_days") is not None:
        first = cal.next_working_day(_local(cal, _ts(acc["ts"])))
        out.promised += 1
        out.promised_days += acc["promised_days"]
        out.actual_days += cal.count_working_days(first, _local(cal, fin[1]))


def _late(fin: tuple[str, datetime] | None, limit: datetime) -> bool:
    return fin is None or fin[1] > limit


def _count_reported(c: _Case, cal: WorkCalendar, window: str | None, out: _Recount) -> None:
    """A reported case not sent up within 3 working days of acceptance: −5 window
    (000_d7818c12e4aa5d4b 八(四)9)."""
    acc = c.first("accepted")
    if c.field("kind") != "reported" or acc is None or window is None:
        return
    due = cal.add_working_days(_ts(acc["ts"]), 3).at
    sent = next(
        (e for e in c.events if e["action"] in ("reported_up", "completed", "returned")), None
    )
    if (sent is None or _ts(sent["ts"]) > due) and _in_nov(cal, due):
        out.deductions["case.reported.late_report", "window", window] += 5


def _is_refusal(e: dict[str, Any]) -> bool:
    return e["action"] == "returned" or (e["action"], e.get("outcome")) == ("completed", "refused")


def _count_no_reason(c: _Case, cal: WorkCalendar, staff: str | None, out: _Recount) -> None:
    """The first refusal (`returned`, or `completed` refused) without a reason: −2, officer
    (000_d7818c12e4aa5d4b 二(二))."""
    first = next((e for e in c.events if _is_refusal(e)), None)
    if first is None or (first.get("reason") or "").strip() or staff is None:
        return
    if _in_nov(cal, _ts(first["ts"])):
        out.deductions["case.returned.no_reason", "officer", staff] += 2


def _count_review(c: _Case, cal: WorkCalendar, window: str | None, out: _Recount) -> None:
    """A first bad rating (1–2) not followed by one ≥ 3 within 5 working days: −2, window."""
    ratings = sorted(c.ratings)
    bad = next((r for r in ratings if r[2] <= 2), None)
    if bad is None or window is None:
        return
    due = cal.add_working_days(bad[0], 5).at
    fixed = any(t > bad[0] and level >= 3 and t <= due for t, _, level in ratings)
    if not fixed and _in_nov(cal, due):
        out.deductions["review.bad.unrectified", "window", window] += 2


def _count_complaints(
    rows: list[tuple[str, dict[str, Any]]], cfg: HallConfig, cal: WorkCalendar, out: _Recount
) -> None:
    """A complaint whose first decision is `founded`, in November: −5 on the named officer."""
    a_post = {w.id: w.a_post for w in cfg.windows}
    complaints: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, doc in rows:
        if topic.split("/")[2] == "complaint":
            complaints[topic.split("/")[3]].append(doc)
    for events in complaints.values():
        events.sort(key=lambda e: _ts(e["ts"]))
        decision = next((e for e in events if e["action"] in ("founded", "unfounded")), None)
        if decision is None or decision["action"] != "founded":
            continue
        if not _in_nov(cal, _ts(decision["ts"])):
            continue
        staff = next((e["staff"] for e in events if e.get("staff")), None)
        window = next((e["window"] for e in events if e.get("window")), None)
        out.deductions["complaint.founded", "officer", staff or a_post[str(window)]] += 5


# --- the checks ---------------------------------------------------------------------------------


def test_the_month_has_what_the_simulator_promises(month: _Journaled) -> None:
    rules = Counter(c.rule.value for c in month.sup.engine.cards.values())
    for rule in ("complaint.founded", "review.bad.unrectified", "case.immediate.open_at_close"):
        assert rules[rule] > 0, rule
    assert month.report.scores.closed
    ratings = [d for t, d in month.rows if t.split("/")[2] == "rating"]
    assert any(d["id"].endswith("-2") for d in ratings), "re-ratings after a call-back"


def test_the_hall_figures_equal_the_recount(month: _Journaled) -> None:
    want = recount(month.rows, month.cfg)
    total = next(r for r in month.report.stats_rows if r.key == TOTAL_KEY)
    assert want.received > 2000
    assert (total.received, total.completed) == (want.received, want.completed)
    assert (total.timed, total.on_time) == (want.timed, want.on_time)
    assert total.on_time_rate == Fraction(want.on_time, want.timed)
    assert (total.promised, total.promised_days, total.actual_days) == (
        want.promised,
        want.promised_days,
        want.actual_days,
    )
    assert total.avg_promised_days == Fraction(want.promised_days, want.promised)
    assert total.avg_actual_days == Fraction(want.actual_days, want.promised)
    sat = month.report.satisfaction
    assert sum(r.counted for r in sat) == want.counted
    assert sum(r.bad for r in sat) == want.bad


def test_each_deduction_and_score_equals_the_recount(month: _Journaled) -> None:
    want = recount(month.rows, month.cfg)
    scores = month.report.scores
    got: Counter[tuple[str, str, str]] = Counter()
    for row in (*scores.windows, *scores.officers):
        for d in row.deductions:
            got[d.rule, row.kind, row.id] += d.points
    assert got == want.deductions
    assert {r for r, _, _ in got} >= {"complaint.founded", "review.bad.unrectified"}
    charged: Counter[tuple[str, str]] = Counter()
    for (_, kind, sid), points in want.deductions.items():
        charged[kind, sid] += points
    for row in (*scores.windows, *scores.officers):
        assert row.score == 100 - charged[row.kind, row.id], (row.kind, row.id)
    assert not any(row.pending for row in (*scores.windows, *scores.officers))


def test_the_report_renders_the_month_and_says_it_is_closed(month: _Journaled) -> None:
    r = month.report
    assert [label for label, _ in r.trend][:1] == ["2026-10"]
    assert r.trend[r.trend_days_from][0] == "1日"
    charts = monthly.month_charts(r)
    page = monthly.render_month_html(r, charts)
    assert "本月尚未结束" not in page and page.count("data:image/svg+xml;base64,") == 3
    again = monthly.month_charts(r)
    assert [c.svg for c in again] == [c.svg for c in charts], "same month, same bytes"
    assert monthly.render_month_xlsx(r, charts) == monthly.render_month_xlsx(r, again)
    opened = month_report(month.cfg, month.sup, datetime(2026, 11, 20, 4, tzinfo=UTC))
    assert "本月尚未结束" in monthly.render_month_html(opened, [])


# --- the workbook, read back by a real reader ---------------------------------------------------


def _open(data: bytes) -> Any:
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(data))


def test_the_workbook_reads_back_with_numbers_as_numbers(month: _Journaled) -> None:
    r = month.report
    data = monthly.render_month_xlsx(r, monthly.month_charts(r))
    book = _open(data)
    assert (
        book.sheetnames[:4] == ["概况", "窗口", "人员", "扣分明细"]
        and book.sheetnames[-1] == "图表"
    )
    summary = book["概况"]
    received, completed, rate = (summary.cell(2, c).value for c in (1, 2, 3))
    total = next(x for x in r.stats_rows if x.key == TOTAL_KEY)
    assert (received, completed) == (total.received, total.completed)
    assert isinstance(rate, float) and summary.cell(2, 3).number_format == "0.00%"
    assert rate == pytest.approx(float(total.on_time_rate or 0))
    officers = book["人员"]
    head = [c.value for c in officers[1]]
    assert head[:5] == ["工号", "姓名", "部门", "月度考评得分", "扣分"]
    names = {s.id: s.name for s in month.cfg.staff}
    depts = {d.id: d.name for d in month.cfg.departments}
    first = [c.value for c in officers[2]]
    staff = next(s for s in month.cfg.staff if s.id == first[0])
    assert first[1:3] == [names[staff.id], depts[staff.department]]
    assert all(isinstance(row[3].value, int) for row in officers.iter_rows(min_row=2))
    assert officers.freeze_panes == "C2" and officers.auto_filter.ref.startswith("A1:")
    assert officers.column_dimensions["C"].width > 8  # a department name, not a code
    windows = book["窗口"]
    assert [windows.cell(2, c).value for c in (1, 2)] == ["W01", month.cfg.windows[0].name]
    deductions = book["扣分明细"]
    head = [c.value for c in deductions[1]]
    assert {"依据", "结论"} <= set(head) and "规则编号" not in head
    basis, verdict, points = head.index("依据"), head.index("结论"), head.index("扣分")
    rows = list(deductions.iter_rows(min_row=2, values_only=True))
    assert rows and all(isinstance(x[points], int) and x[points] < 0 for x in rows)
    assert all("《" in x[basis] or "细则" in x[basis] for x in rows)
    assert all(x[verdict] in {"逾期未申辩", "经申辩维持", "无需申辩"} for x in rows)
    assert sum(x[points] for x in rows) == -sum(
        d.points for s in (*r.scores.windows, *r.scores.officers) for d in s.deductions
    )
    trend = book["按时办结率趋势"]
    assert all(
        v is None or (isinstance(v, int | float) and 0 <= v <= 1)
        for (v,) in trend.iter_rows(min_row=2, min_col=2, max_col=2, values_only=True)
    )
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # openpyxl drops charts it reads: look inside
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        line = z.read(next(n for n in charts if b"lineChart" in z.read(n))).decode()
        assert '<c:min val="0"/>' in line and '<c:max val="1"/>' in line


def test_a_control_character_in_a_name_does_not_corrupt_the_workbook(month: _Journaled) -> None:
    cfg = month.cfg
    staff = [
        s.model_copy(update={"name": f"王\x01伟\x1b[31m{i}\x7f"}) for i, s in enumerate(cfg.staff)
    ]
    windows = [w.model_copy(update={"name": f"窗口\x00{w.id}\x0b"}) for w in cfg.windows]
    odd = cfg.model_copy(
        update={
            "staff": staff,
            "windows": windows,
            "hall": cfg.hall.model_copy(update={"name": "中心\x02"}),
        }
    )
    r = month_report(odd, month.sup, NOW)
    data = monthly.render_month_xlsx(r, [])
    book = _open(data)
    texts = [
        c.value
        for ws in book.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]
    assert "王伟[31m0" in texts and "窗口W01" in texts
    assert not any(ch in t for t in texts for ch in "\x00\x01\x0b\x1b\x7f")
    page = monthly.render_month_html(r, [])
    assert "\x01" not in page and "\x1b" not in page and "王伟[31m0" in page


def test_local_times_basis_and_verdict_tiers_and_no_voided_card() -> None:
    from tests.test_scores import ANSWERED, END, NOV, UPHELD, ZONE, card
    from tests.test_scores import month as score

    pending = card(RuleId.LEGAL_OVERDUE, [ANSWERED], n=3)
    upheld = card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD], n=1)
    void = card(RuleId.POST_UNSTAFFED, [(CardState.CLOSED, Why.VOID, upheld.raised_at)], n=9)
    scores = score([pending, upheld, void], now=END - timedelta(days=3))
    names = HallNames(staff={"S01": "王伟"}, windows={"W01": "企业开办"})
    cfg = ScoresConfig(excellent_min=95)
    page = monthly.render_html(scores, [], [], "中心", NOV, names=names, zone=ZONE, cfg=cfg)
    answer_by = pending.answer_by
    assert answer_by is not None
    assert answer_by.astimezone(ZONE).strftime("%Y-%m-%d %H:%M") in page
    assert "+00:00" not in page and answer_by.isoformat(timespec="minutes") not in page
    assert "《行政效能建设九项制度》第八条第四项第5目" in page and "经申辩维持" in page
    assert "王伟" in page and "企业开办" in page
    assert "95 分及以上为优秀" in page and "K-post.unstaffed-9" not in page
    assert scores.cards_by_rule == {"case.legal.overdue": 1, "case.promised.overdue": 1}
    excellent = score([], cfg=cfg)
    assert {r.grade for r in (*excellent.windows, *excellent.officers)} == {"优秀"}
    assert {r.grade for r in score([]).windows} == {"合格"}  # the seeds' default: no 优秀


def test_the_on_time_axis_starts_at_zero_and_the_cards_axis_too() -> None:
    fig = trend_figure([("1日", Fraction(99, 100)), ("2日", Fraction(1))], "按时办结率")
    low, high = fig.axes[0].get_ylim()
    assert low == 0.0 and high > 100
    floored = trend_figure([("1日", Fraction(99, 100))], "按时办结率", floor=90)
    assert floored.axes[0].get_ylim()[0] == 90 and "90%" in floored.axes[0].get_ylabel()

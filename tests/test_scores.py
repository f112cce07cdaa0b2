"""Monthly scores, the hearing, stars, reviews and the report: worked cases at fixed instants."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.cards import Card, CardState, Subject, Transition, Why
from alerts.config import ScoresConfig
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.rules import RULES, RuleId
from alerts.scores import (
    MonthScores,
    SatisfactionRow,
    SubjectScore,
    Verdict,
    grade_for,
    satisfaction,
    score_month,
    stars_for,
)
from alerts.stats import StatsRow
from alerts.workdays import WorkCalendar
from monitor.reports.charts import cards_by_rule
from monitor.reports.monthly import render_html, render_xlsx
from tests.case_builders import CAL

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # 09:00 local, Tuesday 10 November
ANSWER_BY = T0 + timedelta(days=2)
END = datetime(2026, 12, 1, tzinfo=ZONE)  # the month is over
NOV = (2026, 11)
CFG = ScoresConfig()

S = Card  # a short alias keeps the builders readable
Step = tuple[CardState, Why, datetime]


def card(
    rule: RuleId,
    steps: list[Step],
    *,
    n: int = 1,
    raised: datetime = T0,
    window: str | None = "W01",
    staff: str | None = "S01",
    answer_by: datetime | None = ANSWER_BY,
) -> Card:
    cid = CardId(f"K-{rule.value}-{n}")
    subject = Subject(
        window=WindowId(window) if window else None, staff=StaffId(staff) if staff else None
    )
    level = RULES[rule].level
    evidence = (EventId(f"E{n}"),)
    c = S(
        id=cid,
        rule=rule,
        level=level,
        subject=subject,
        owner=StaffId(staff) if staff else None,
        raised_at=raised,
        answer_by=answer_by,
        evidence=evidence,
        estimated=False,
    )
    for state, why, ts in [(CardState.RAISED, Why.CONDITION_MET, raised), *steps]:
        c.state = state
        c.history.append(
            Transition(
                card=cid,
                rule=rule,
                level=level,
                state=state,
                why=why,
                subject=subject,
                owner=c.owner,
                answer_by=answer_by,
                ts=ts,
                evidence=evidence,
                holds=True,
            )
        )
    return c


ANSWERED: Step = (CardState.ANSWERED, Why.ANSWERED, T0 + timedelta(hours=5))
UPHELD: Step = (CardState.UPHELD, Why.UPHELD, T0 + timedelta(days=1))
REVOKED: Step = (CardState.REVOKED, Why.REVOKED, T0 + timedelta(days=1))
ESCALATED: Step = (CardState.ESCALATED, Why.ANSWER_OVERDUE, ANSWER_BY)


def month(cards: list[Card], now: datetime = END, cfg: ScoresConfig = CFG) -> MonthScores:
    return score_month(cards, cfg, NOV, ZONE, now, ["W01", "W02"], ["S01", "S02"])


def row(m: MonthScores, kind: str, sid: str) -> SubjectScore:
    rows = m.windows if kind == "window" else m.officers
    return next(r for r in rows if r.id == sid)


@pytest.mark.parametrize(
    ("rule", "points", "kind"),
    [
        (RuleId.ATTENDANCE_LATE, 1, "officer"),
        (RuleId.ATTENDANCE_EARLY, 1, "officer"),
        (RuleId.ATTENDANCE_MISSING_PUNCH, 2, "officer"),
        (RuleId.ATTENDANCE_ABSENT_HALF_DAY, 5, "officer"),
        (RuleId.POST_UNSTAFFED, 3, "officer"),
        (RuleId.PROMISED_OVERDUE, 5, "window"),
        (RuleId.LEGAL_OVERDUE, 10, "officer"),
        (RuleId.RETURNED_NO_REASON, 2, "officer"),
        (RuleId.COMPLAINT_FOUNDED, 5, "officer"),
        (RuleId.REVIEW_BAD_UNRECTIFIED, 2, "window"),
    ],
)
def test_each_card_rule_deducts_from_its_subject(rule: RuleId, points: int, kind: str) -> None:
    m = month([card(rule, [ANSWERED, UPHELD])])
    charged = row(m, kind, "W01" if kind == "window" else "S01")
    other = row(
        m, "officer" if kind == "window" else "window", "S01" if kind == "window" else "W01"
    )
    assert charged.score == 100 - points
    (d,) = charged.deductions
    assert (d.card, d.rule, d.points, d.evidence) == (
        f"K-{rule.value}-1",
        rule.value,
        points,
        ("E1",),
    )
    assert d.verdict is Verdict.UPHELD and d.day == date(2026, 11, 10)
    assert other.score == 100 and not other.deductions


@pytest.mark.parametrize(
    ("steps", "now", "verdict", "score", "pending"),
    [
        ([ANSWERED, REVOKED], END, Verdict.REVOKED, 100, 0),
        ([ESCALATED, ANSWERED, REVOKED], END, Verdict.REVOKED, 100, 0),
        ([ANSWERED], END, Verdict.ANSWERED, 100, 1),  # waits for the decision
        ([], T0 + timedelta(days=1), Verdict.BEFORE_ANSWER_BY, 100, 1),
        ([ESCALATED], END, Verdict.UNANSWERED, 95, 0),  # answer_by passed, never answered
        ([ANSWERED, UPHELD], END, Verdict.UPHELD, 95, 0),
        ([ANSWERED, UPHELD], T0 + timedelta(hours=6), Verdict.ANSWERED, 100, 1),  # as of then
        ([ANSWERED, UPHELD, (CardState.CLOSED, Why.VOID, END)], END, Verdict.VOID, 100, 0),
    ],
)
def test_the_hearing(
    steps: list[Step], now: datetime, verdict: Verdict, score: int, pending: int
) -> None:
    c = card(RuleId.PROMISED_OVERDUE, steps)
    m = month([c], now=now)
    assert m.verdicts[c.id] is verdict
    w = row(m, "window", "W01")
    assert (w.score, len(w.pending)) == (score, pending)


def test_a_voided_card_is_not_in_cards_by_rule() -> None:
    voided = card(RuleId.POST_UNSTAFFED, [(CardState.CLOSED, Why.VOID, T0)], n=1)
    kept = card(RuleId.POST_UNSTAFFED, [], n=2, answer_by=None)
    m = month([voided, kept])
    assert m.cards_by_rule == {"post.unstaffed": 1}
    assert row(m, "officer", "S01").score == 97


def test_a_yellow_without_answer_by_counts_unless_answered() -> None:
    late = card(RuleId.ATTENDANCE_LATE, [(CardState.CLOSED, Why.CLEARED, T0)], answer_by=None)
    answered = card(RuleId.ATTENDANCE_LATE, [ANSWERED], n=2, answer_by=None)
    m = month([late, answered])
    assert m.verdicts[late.id] is Verdict.NO_HEARING
    s = row(m, "officer", "S01")
    assert (s.score, len(s.pending)) == (99, 1)


def test_the_month_is_the_hall_local_month_of_raised_at() -> None:
    nov_1_local = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 November in the hall
    oct_31_local = datetime(2026, 10, 31, 15, 59, tzinfo=UTC)
    a = card(RuleId.ATTENDANCE_LATE, [], n=1, raised=nov_1_local, answer_by=None)
    b = card(RuleId.ATTENDANCE_LATE, [], n=2, raised=oct_31_local, answer_by=None)
    m = month([a, b])
    assert [d.card for d in row(m, "officer", "S01").deductions] == [a.id]
    assert row(m, "officer", "S01").deductions[0].day == date(2026, 11, 1)


def test_closed_means_the_month_is_over() -> None:
    assert month([]).closed
    assert not month([], now=END - timedelta(seconds=1)).closed


def test_cap_per_subject_rule_and_month() -> None:
    cfg = ScoresConfig.model_validate(
        {"rules": {"attendance.late": {"points": 2, "who": "officer", "cap": 3}}}
    )
    lates = [card(RuleId.ATTENDANCE_LATE, [], n=i, answer_by=None) for i in range(3)]
    s = row(month(lates, cfg=cfg), "officer", "S01")
    assert [(d.points, d.nominal) for d in s.deductions] == [(2, 2), (1, 2), (0, 2)]
    assert s.score == 97
    assert cfg.rules["case.legal.overdue"].points == 10  # the other defaults stay


def test_score_bounds_max_110_and_min() -> None:
    assert row(month([], cfg=ScoresConfig(base=125)), "window", "W01").score == 110
    many = [card(RuleId.LEGAL_OVERDUE, [ESCALATED], n=i) for i in range(12)]
    assert row(month(many), "officer", "S01").score == 0


def test_config_rejects_unknown_rules_and_keys() -> None:
    with pytest.raises(ValidationError, match="unknown rule"):
        ScoresConfig.model_validate(
            {"rules": {"attendance.tardy": {"points": 1, "who": "officer"}}}
        )
    with pytest.raises(ValidationError):
        ScoresConfig.model_validate({"bonus": 3})
    with pytest.raises(ValidationError):
        ScoresConfig.model_validate({"rules": {"attendance.late": {"points": -1, "who": "x"}}})


@pytest.mark.parametrize(
    ("score", "grade", "stars"),
    [
        (110, "合格", 5),
        (95, "合格", 5),
        (94, "合格", 4),
        (90, "合格", 4),
        (89, "合格", 3),
        (85, "合格", 3),
        (84, "合格", 0),
        (80, "合格", 0),
        (79, "基本合格", 0),
        (60, "基本合格", 0),
        (59, "不合格", 0),
    ],
)
def test_grade_and_star_thresholds(score: int, grade: str, stars: int) -> None:
    assert (grade_for(score, CFG), stars_for(score, CFG)) == (grade, stars)


def test_the_monthly_score_makes_no_stars_a_legal_breach_costs_the_window_its_honours() -> None:
    """Stars come from the 004_… 三(二) composition (tests/test_evaluation.py), never from the
    monthly deduction score; an upheld 000_… 八(五)1 breach costs the window that month's
    honours though the officer is the one deducted."""
    upheld = card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD])
    w = row(month([upheld]), "window", "W01")
    assert (w.score, w.honours_lost_by) == (95, ("末位",))  # 八(四): points; last of two
    assert not hasattr(w, "stars")
    legal = card(RuleId.LEGAL_OVERDUE, [ANSWERED, UPHELD])
    m = month([legal])
    assert (row(m, "window", "W01").score, row(m, "window", "W01").honours_lost_by) == (
        100,
        (legal.id,),
    )
    assert row(m, "officer", "S01").score == 90


# --- good and bad reviews --------------------------------------------------------------------


def calendar() -> WorkCalendar:
    return CAL


def test_satisfaction_unrated_defaults_to_3_after_7_days() -> None:
    done = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    completions = {
        CaseId("C1"): (WindowId("W01"), done),
        CaseId("C2"): (WindowId("W01"), done),
        CaseId("C3"): (WindowId("W01"), done),
        CaseId("C4"): (WindowId("W01"), done + timedelta(days=20)),
    }
    ratings = {CaseId("C1"): 5, CaseId("C2"): 1}
    now = done + timedelta(days=7)
    (r,) = satisfaction(ratings, completions, now, calendar())
    assert (r.window, r.month, r.rated, r.defaulted, r.waiting) == ("W01", "2026-11", 2, 1, 1)
    assert r.levels == {1: 1, 2: 0, 3: 1, 4: 0, 5: 1}
    assert r.bad == 1 and r.rate == Fraction(2, 3)
    (early,) = satisfaction(ratings, completions, now - timedelta(seconds=1), calendar())
    assert (early.defaulted, early.waiting, early.rate) == (0, 2, Fraction(1, 2))


def test_satisfaction_rejects_a_level_out_of_range() -> None:
    with pytest.raises(ValueError, match="not 1-5"):
        satisfaction({CaseId("C1"): 6}, {CaseId("C1"): (None, T0)}, T0, calendar())


# --- the report ------------------------------------------------------------------------------


def _sample() -> tuple[MonthScores, list[StatsRow], list[SatisfactionRow]]:
    cards = [
        card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD], n=1),
        card(RuleId.ATTENDANCE_LATE, [], n=2, answer_by=None, window="W02", staff="S02"),
        card(RuleId.LEGAL_OVERDUE, [ANSWERED], n=3),
    ]
    scores = month(cards, now=END - timedelta(days=3))
    stats = [StatsRow(group="window", key="W01", received=3, completed=2, timed=2, on_time=2)]
    sat = satisfaction({}, {CaseId("C1"): (WindowId("W01"), T0)}, END, calendar())
    return scores, stats, sat


def test_render_html_has_tables_traceable_deductions_and_charts() -> None:
    scores, stats, sat = _sample()
    page = render_html(scores, stats, sat, "示例政务服务中心", NOV)
    for text in ("窗口考评", "人员考评", "扣分明细", "办件统计", "满意度", "本月尚未结束"):
        assert text in page
    assert "K-case.promised.overdue-1" in page and "E1" in page  # card and evidence
    assert "K-case.legal.overdue-3" in page  # pending, listed
    assert "100.00%" in page and "无图表" in page  # no charts given
    chart = cards_by_rule(scores.cards_by_rule, {}, "本月卡片")
    page = render_html(scores, stats, sat, "示例政务服务中心", NOV, charts=[chart])
    (data,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    ET.fromstring(base64.b64decode(data))  # the chart is well-formed SVG
    closed = render_html(month([]), [], [], "中心", NOV)
    assert "本月尚未结束" not in closed


def test_render_xlsx_is_a_valid_workbook() -> None:
    scores, stats, sat = _sample()
    chart = cards_by_rule(scores.cards_by_rule, {}, "本月卡片")
    data = render_xlsx(scores, stats, sat, "示例政务服务中心", NOV, charts=[chart])
    assert data == render_xlsx(scores, stats, sat, "示例政务服务中心", NOV, charts=[chart])
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        for part in ("[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels"):
            ET.fromstring(z.read(part))
        book = ET.fromstring(z.read("xl/workbook.xml"))
        names = [s.get("name") for s in book.iterfind("m:sheets/m:sheet", ns)]
        assert names[:4] == ["概况", "窗口", "人员", "扣分明细"] and names[-1] == "图表"
        assert z.read("xl/media/image1.png") == chart.png
        ET.fromstring(z.read("xl/drawings/drawing1.xml"))
        sheet = ET.fromstring(z.read("xl/worksheets/sheet4.xml"))
        texts = [t.text for t in sheet.iter(f"{{{ns['m']}}}t")]
        values = [v.text for v in sheet.iter(f"{{{ns['m']}}}v")]
    assert "K-case.promised.overdue-1" in texts and "-5" in values

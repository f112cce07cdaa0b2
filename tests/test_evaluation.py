"""Deductions, mitigation, honours, the 004 star rating, the year's roll-up, the targets and the
cards an upheld breach sets off, each against the seed paragraph it follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import msgspec
import pytest

from alerts.cards import Card, CardEngine, CardState, Refusal, Transition, Why
from alerts.config import HallConfig, ScoresConfig, StarEntry
from alerts.contract import Accepted, Limits, Rejected, decode, decode_reference
from alerts.evaluation import missed_targets, star_ratings, year_scores
from alerts.events import (
    CardAction,
    CardCommand,
    CaseAction,
    CaseEvent,
    CaseKind,
    Mitigation,
    Outcome,
    Recorded,
)
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.roles import StaffRole
from alerts.rules import Policy, RuleId
from alerts.scores import REPEAT_OVERTIME, SatisfactionRow, Verdict, score_month
from alerts.stats import TOTAL_KEY, StatsRow
from alerts.supervision import Supervision
from tests.case_builders import CAL, at
from tests.hall import example
from tests.test_scores import (
    ANSWERED,
    END,
    ESCALATED,
    NOV,
    T0,
    UPHELD,
    ZONE,
    card,
    month,
    row,
)

# --- 000_… 八(四), 八(五): the deductions of the breaches the product detects ---------------------


@pytest.mark.parametrize(
    ("rule", "points", "kind"),
    [
        (RuleId.IMMEDIATE_OPEN_AT_CLOSE, 5, "window"),  # 000_… 八(四)3
        (RuleId.SUPPLEMENT_REPEATED, 5, "window"),  # 000_… 八(四)2
        (RuleId.SUPPLEMENT_NOTICE_LATE, 5, "window"),  # 000_… 八(四)6
        (RuleId.STEP_OVERDUE, 5, "window"),  # 000_… 八(四)7
        (RuleId.REPORTED_LATE_REPORT, 5, "window"),  # 000_… 八(四)9
        (RuleId.REPORTED_LATE_ANSWER, 5, "window"),  # 000_… 八(四)1
        (RuleId.DUTY_ABSENT, 3, "officer"),  # 002_… 领导值班制度 四(二), points ours
        (RuleId.DUTY_QUOTA_MISSED, 3, "officer"),  # 002_… 领导值班制度 四(二), points ours
    ],
)
def test_each_breach_the_seeds_list_deducts(rule: RuleId, points: int, kind: str) -> None:
    m = month([card(rule, [ANSWERED, UPHELD])])
    charged = row(m, kind, "W01" if kind == "window" else "S01")
    assert charged.score == 100 - points
    assert [d.rule for d in charged.deductions] == [rule.value]
    # 八(四) costs no honours (the window may still be last: 末位, tested below)
    assert set(row(m, "window", "W01").honours_lost_by) <= {"末位"}


def test_a_joint_cases_co_department_step_is_eight_five_2() -> None:
    """000_… 八(五)2: a co-department delaying a joint case (its step names the department)
    costs the officer 10 and the window its honours; a plain step stays 八(四)7 (−5 window)."""
    joint = card(RuleId.STEP_OVERDUE, [ANSWERED, UPHELD])
    joint.qualifier = "zrzy/踏勘"
    m = month([joint])
    assert row(m, "officer", "S01").score == 90
    assert row(m, "window", "W01").score == 100
    assert row(m, "window", "W01").honours_lost_by == (joint.id,)
    (d,) = row(m, "officer", "S01").deductions
    assert d.joint


def test_repeated_overtime_is_one_more_deduction_and_costs_the_honours() -> None:
    """000_… 八(五)7 多次出现超时办结: the third counted overtime card of one officer in the
    month (count 3, ours) adds 10 to the officer and takes the window's honours."""
    two = [card(RuleId.PROMISED_OVERDUE, [ESCALATED], n=n) for n in (1, 2)]
    m = month(two)
    assert [d.rule for d in row(m, "officer", "S01").deductions] == []
    assert REPEAT_OVERTIME not in row(m, "window", "W01").honours_lost_by
    three = [*two, card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD], n=3)]
    m = month(three)
    (extra,) = row(m, "officer", "S01").deductions
    assert (extra.rule, extra.points, extra.card) == (REPEAT_OVERTIME, 10, three[2].id)
    assert row(m, "officer", "S01").score == 90
    assert row(m, "window", "W01").score == 85  # the three 八(四)5 deductions stay the window's
    assert row(m, "window", "W01").honours_lost_by == (REPEAT_OVERTIME, "末位")


# --- 000_… 八(七): mitigation -------------------------------------------------------------------


def mitigated(rule: RuleId, m: Mitigation, n: int = 1) -> Card:
    c = card(rule, [ANSWERED, UPHELD], n=n)
    last = c.history[-1]
    c.history[-1] = msgspec.structs.replace(last, why=Why.MITIGATED, mitigation=m)
    return c


@pytest.mark.parametrize(
    ("mitigation", "verdict", "window_score", "honours"),
    [
        (Mitigation.LIGHTER, Verdict.MITIGATED, 97, True),  # 5 × 75 % → 3 (ours)
        (Mitigation.REDUCED, Verdict.MITIGATED, 98, True),  # 5 × 50 % → 2 (ours)
        (Mitigation.EXEMPT, Verdict.EXEMPTED, 100, False),  # 免予处理: nothing
    ],
)
def test_mitigation_reduces_or_removes_the_deduction(
    mitigation: Mitigation, verdict: Verdict, window_score: int, honours: bool
) -> None:
    m = month([mitigated(RuleId.PROMISED_OVERDUE, mitigation)])
    assert m.verdicts[CardId("K-case.promised.overdue-1")] is verdict
    assert row(m, "window", "W01").score == window_score
    legal = month([mitigated(RuleId.LEGAL_OVERDUE, mitigation)])
    assert bool(row(legal, "window", "W01").honours_lost_by) is honours


def engine() -> tuple[CardEngine, Card]:
    roles = {StaffId("D001"): StaffRole.SUPERVISOR, StaffId("S01"): StaffRole.OFFICER}
    e = CardEngine(CAL, Policy(), roles)
    c = card(RuleId.PROMISED_OVERDUE, [])
    c.history.clear()
    c.state = CardState.RAISED
    e.cards[c.id] = c
    e._move(c, CardState.RAISED, Why.CONDITION_MET, T0)
    return e, c


def cmd(action: CardAction, by: str, ts: datetime, m: Mitigation | None = None) -> CardCommand:
    cid = CardId("K-case.promised.overdue-1")
    return CardCommand(
        card=cid, action=action, by=StaffId(by), ts=ts, text="已赔礼道歉", mitigation=m
    )


def test_a_mitigating_decision_is_an_upholding_after_the_hearing() -> None:
    """000_… 八(七) beside 八(八): heard first, then upheld with its mitigation and reason."""
    e, c = engine()
    early = cmd(CardAction.MITIGATE, "D001", T0 + timedelta(hours=1), Mitigation.LIGHTER)
    e.on_command(early, T0 + timedelta(hours=1))
    assert c.state is CardState.RAISED
    assert [r for _, r in e.refusals] == [Refusal.NOT_HEARD]
    e.on_command(cmd(CardAction.ANSWER, "S01", T0 + timedelta(hours=2)), T0 + timedelta(hours=2))
    by_officer = cmd(CardAction.MITIGATE, "S01", T0 + timedelta(hours=3), Mitigation.EXEMPT)
    e.on_command(by_officer, T0 + timedelta(hours=3))
    assert [r for _, r in e.refusals] == [Refusal.NOT_HEARD, Refusal.NOT_ALLOWED]
    ok = cmd(CardAction.MITIGATE, "D001", T0 + timedelta(hours=4), Mitigation.REDUCED)
    (t,) = e.on_command(ok, T0 + timedelta(hours=4))
    assert (t.state, t.why, t.mitigation, t.text) == (
        CardState.UPHELD,
        Why.MITIGATED,
        Mitigation.REDUCED,
        "已赔礼道歉",
    )
    assert t.payload()["mitigation"] == "reduced" and t.payload()["state"] == "upheld"


def _command(doc: bytes) -> Accepted | Rejected:
    """The fast decoder and the reference one agree (alerts/wire.py, alerts/contract.py)."""
    cfg = example()
    topic, now = f"hall/{cfg.hall.id}/card/K-1/command", datetime(2026, 11, 23, 1, 1, tzinfo=UTC)
    got = decode(topic, doc, now, cfg.hall.id, cfg.directory(), Limits())
    ref = decode_reference(topic, doc, now, cfg.hall.id, cfg.directory(), Limits())
    assert got == ref
    return got


@pytest.mark.parametrize(
    ("doc", "mitigation"),
    [
        (
            b'{"action":"mitigate","by":"D001","ts":"2026-11-23T09:00:00+08:00","text":"x",'
            b'"mitigation":"lighter"}',
            Mitigation.LIGHTER,
        ),
        (b'{"action":"mitigate","by":"D001","ts":"2026-11-23T09:00:00+08:00","text":"x"}', None),
        (
            b'{"action":"mitigate","by":"D001","ts":"2026-11-23T09:00:00+08:00",'
            b'"mitigation":"exempt"}',
            None,
        ),  # the reason is required
        (
            b'{"action":"uphold","by":"D001","ts":"2026-11-23T09:00:00+08:00",'
            b'"mitigation":"exempt"}',
            "uphold",
        ),  # ignored beside another action
    ],
)
def test_the_contract_carries_the_mitigation_compatibly(
    doc: bytes, mitigation: Mitigation | str | None
) -> None:
    got = _command(doc)
    if mitigation is None:
        assert isinstance(got, Rejected)
        return
    assert isinstance(got, Accepted) and isinstance(got.event, CardCommand)
    if mitigation == "uphold":
        assert got.event.action is CardAction.UPHOLD and got.event.mitigation is None
    else:
        assert got.event.mitigation is mitigation


# --- 004_… 三(二)(三): the star rating ------------------------------------------------------------


def _stars_cfg(*entries: StarEntry) -> ScoresConfig:
    return ScoresConfig.model_validate(
        {"star_rating": {"entries": [e.model_dump() for e in entries]}}
    )


def test_the_star_rating_is_004s_composition_not_the_monthly_score() -> None:
    """80 creation + 10 × 满意率 + 10 panel; ≥ 95 five, ≥ 90 four, ≥ 85 three (004_… 三(二));
    a window with a perfect month (100) but 70 creation points has no stars."""
    cfg = _stars_cfg(
        StarEntry(window="W01", year=2026, creation=78, panel=9),
        StarEntry(window="W02", year=2026, creation=70, panel=8),
    )
    done = datetime(2026, 3, 2, 2, tzinfo=UTC)
    completions = {CaseId(f"C{i}"): (WindowId("W01"), done) for i in range(10)}
    completions |= {CaseId(f"D{i}"): (WindowId("W02"), done) for i in range(4)}
    ratings = {CaseId("C0"): 1, **{CaseId(f"C{i}"): 5 for i in range(1, 10)}}
    w1, w2 = star_ratings([], ratings, completions, cfg, CAL, END)
    assert (w1.satisfaction_rate, w1.satisfaction, w1.total) == (Fraction(9, 10), 9.0, 96.0)
    assert (w1.awarded, w1.stars, w1.period) == (5, 5, (2025, 2026))
    assert (w2.satisfaction, w2.total, w2.stars) == (10.0, 88.0, 3)  # unrated 7 days: 基本满意
    assert row(month([]), "window", "W02").score == 100  # the monthly figure, on its own


def test_a_proven_violation_while_holding_the_stars_removes_them() -> None:
    """004_… 三(二): 取得星级荣誉期间出现违法、违纪行为, 一经查实, 取消星级资格. Held from the
    year after the rating; an exempted (免予处理) or unanswered card is not 查实."""
    cfg = _stars_cfg(StarEntry(window="W01", year=2025, creation=80, panel=10))
    before = card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD], n=1, raised=T0 - timedelta(days=400))
    unanswered = card(RuleId.PROMISED_OVERDUE, [ESCALATED], n=2)
    exempt = mitigated(RuleId.PROMISED_OVERDUE, Mitigation.EXEMPT, n=3)
    (r,) = star_ratings([before, unanswered, exempt], {}, {}, cfg, CAL, END)
    assert (r.awarded, r.stars, r.removed_by) == (4, 4, ())  # 80 + 0 + 10: no satisfaction yet
    upheld = card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD], n=4)
    (r,) = star_ratings([before, upheld], {}, {}, cfg, CAL, END)
    assert (r.awarded, r.stars, r.removed_by) == (4, 0, (upheld.id,))


def test_star_entries_are_bounded_by_the_seeds_points() -> None:
    with pytest.raises(ValueError, match="creation ≤ 80"):
        _stars_cfg(StarEntry(window="W01", year=2026, creation=81, panel=5))


# --- 000_… 九(三), 004_… 二(一), 002_… 领导服务责任制度 五 ---------------------------


def test_the_years_roll_up_of_the_monthly_scores() -> None:
    """000_… 九(三) 效能考评每年组织一次: each month's score as the monthly report gives it."""
    oct_card = card(RuleId.PROMISED_OVERDUE, [ESCALATED], n=1, raised=T0 - timedelta(days=31))
    oct_card.answer_by = oct_card.raised_at + timedelta(days=2)
    nov = card(RuleId.LEGAL_OVERDUE, [ANSWERED, UPHELD], n=2)
    y = year_scores([oct_card, nov], ScoresConfig(), 2026, ZONE, END, ["W01", "W02"], ["S01"])
    w1 = next(r for r in y.windows if r.id == "W01")
    assert w1.months[9:] == (95, 100, 100) and w1.months[0] == 100
    # October: last place (95 against 100); November: the legal-limit breach (八(五)1)
    assert (w1.deducted, w1.honours_lost, w1.last_place) == (5, 2, 1)
    assert w1.average == Fraction(1195, 12)
    s1 = next(r for r in y.officers if r.id == "S01")
    assert s1.months[10] == 90 and not y.closed
    early = year_scores([], ScoresConfig(), 2026, ZONE, datetime(2026, 3, 5, tzinfo=ZONE), [], [])
    assert len(early.months) == 3


def test_last_place_loses_the_honours() -> None:
    """002_… 领导服务责任制度 五: 服务评议结果处于末位的, 取消评先资格. All equal: nobody last."""
    m = month([card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD])])
    w1, w2 = row(m, "window", "W01"), row(m, "window", "W02")
    assert (w1.last_place, w1.honours_lost_by, w2.last_place) == (True, ("末位",), False)
    assert not any(r.last_place for r in month([]).windows)
    off = ScoresConfig(last_place=False)
    m = score_month(
        [card(RuleId.PROMISED_OVERDUE, [ANSWERED, UPHELD])], off, NOV, ZONE, END, ["W01", "W02"], []
    )
    assert not row(m, "window", "W01").last_place


def test_the_004_targets_are_flagged_when_missed() -> None:
    """004_… 二(一): 按时办结率100%, 现场办结率100%, 服务对象满意率98%以上."""
    ok = StatsRow(group="window", key="W01", completed=10, on_time=10, timed=10)
    late = StatsRow(
        group="window", key="W02", completed=10, on_time=9, timed=10, immediate=4, on_the_spot=3
    )

    def sat(window: str, bad: int) -> SatisfactionRow:
        levels = {1: bad, 2: 0, 3: 0, 4: 0, 5: 50 - bad}
        return SatisfactionRow(
            window=window, month="2026-11", levels=levels, rated=50, defaulted=0, waiting=0
        )

    total = StatsRow(group="window", key=TOTAL_KEY, completed=20, on_time=20, timed=20)
    misses = missed_targets([ok, late, total], [sat("W01", 1), sat("W02", 3)], ScoresConfig())
    assert [(m.subject, m.measure, m.value) for m in misses] == [
        ("W02", "on_the_spot", Fraction(3, 4)),
        ("W02", "on_time", Fraction(9, 10)),
        ("W02", "satisfaction", Fraction(47, 50)),  # W01's 49/50 = 98 % is not below 98 %
        (TOTAL_KEY, "satisfaction", Fraction(96, 100)),
    ]
    assert missed_targets([ok], [sat("W01", 0)], ScoresConfig()) == []


# --- cards an upheld breach sets off: 000_… 八(五) head warning, 八(六)3 repeat offender --------


def hall(leadership: str | None = "L001") -> HallConfig:
    cfg = example()
    doc = cfg.model_dump(mode="json")
    for w in doc["windows"]:
        if w["id"] == "W01":
            w["head"] = "L002"
    doc["scores"]["leadership"] = leadership
    return HallConfig.model_validate(doc)


class Feed:
    def __init__(self, cfg: HallConfig) -> None:
        self.sup = Supervision(cfg)
        self.seq = 0

    def __call__(
        self, ev: CaseEvent | CardCommand, received: datetime | None = None
    ) -> list[Transition]:
        self.seq += 1
        return self.sup.apply(Recorded(self.seq, EventId(f"e{self.seq}"), received or ev.ts, ev))

    def cards(self, rule: RuleId) -> list[Card]:
        return [c for c in self.sup.engine.cards.values() if c.rule is rule]


def legal_breach(feed: Feed, case: str, day: int) -> Card:
    base = CaseEvent(
        case=CaseId(case),
        action=CaseAction.ACCEPTED,
        ts=at(2026, 3, day, 9),
        kind=CaseKind.PROMISED,
        window=WindowId("W01"),
        staff=StaffId("S001"),
        promised_days=1,
        legal_days=2,
    )
    feed(base)
    done = at(2026, 3, day + 7, 10)
    feed(replace(base, action=CaseAction.COMPLETED, ts=done, outcome=Outcome.APPROVED))
    (c,) = [c for c in feed.cards(RuleId.LEGAL_OVERDUE) if c.subject.case == case]
    return c


def decide(
    feed: Feed, c: Card, action: CardAction, when: datetime, m: Mitigation | None = None
) -> list[Transition]:
    feed(CardCommand(card=c.id, action=CardAction.ANSWER, by=StaffId("S001"), ts=when, text="说明"))
    return feed(
        CardCommand(
            card=c.id,
            action=action,
            by=StaffId("D001"),
            ts=when + timedelta(hours=1),
            text="理由",
            mitigation=m,
        )
    )


def test_an_upheld_legal_limit_breach_warns_the_windows_head() -> None:
    """000_… 八(五): 对该窗口负责人予以告诫 — a card to the head configured for the window."""
    feed = Feed(hall())
    c = legal_breach(feed, "C-1", 2)
    assert feed.cards(RuleId.HEAD_WARNING) == []  # raised, not yet proven
    out = decide(feed, c, CardAction.UPHOLD, at(2026, 3, 11, 9))
    (warn,) = feed.cards(RuleId.HEAD_WARNING)
    assert (warn.owner, warn.subject.window, warn.subject.case) == ("L002", "W01", "C-1")
    assert warn.evidence[0] == f"e{feed.seq}" and not warn.holds  # the uphold command
    assert RuleId.HEAD_WARNING in [t.rule for t in out]  # published with the decision
    other = Feed(hall())
    c2 = legal_breach(other, "C-1", 2)
    decide(other, c2, CardAction.MITIGATE, at(2026, 3, 11, 9), Mitigation.EXEMPT)
    assert other.cards(RuleId.HEAD_WARNING) == []  # 免予处理: no breach to warn of


def test_a_second_upheld_breach_in_a_year_raises_a_card_to_the_leadership() -> None:
    """000_… 八(六)3: 一年内出现两次以上应予追究行政责任的行为 — the second upheld breach of
    one officer in the year raises one card, owned by `[scores] leadership`."""
    feed = Feed(hall())
    first = legal_breach(feed, "C-1", 2)
    second = legal_breach(feed, "C-2", 16)
    decide(feed, first, CardAction.UPHOLD, at(2026, 3, 25, 9))
    assert feed.cards(RuleId.REPEAT_OFFENDER) == []
    decide(feed, second, CardAction.MITIGATE, at(2026, 3, 26, 9), Mitigation.LIGHTER)
    (rep,) = feed.cards(RuleId.REPEAT_OFFENDER)
    assert (rep.owner, rep.subject.staff, rep.raised_at) == ("L001", "S001", at(2026, 3, 26, 10))
    replayed = Feed(hall())
    for c, day in ((first, 2), (second, 16)):
        legal_breach(replayed, c.subject.case or "", day)
    decide(replayed, first, CardAction.UPHOLD, at(2026, 3, 25, 9))
    decide(replayed, second, CardAction.MITIGATE, at(2026, 3, 26, 9), Mitigation.LIGHTER)
    assert [c.id for c in replayed.cards(RuleId.REPEAT_OFFENDER)] == [rep.id]  # same id


def test_an_exempted_or_revoked_breach_is_not_a_repeat() -> None:
    feed = Feed(hall())
    first = legal_breach(feed, "C-1", 2)
    second = legal_breach(feed, "C-2", 16)
    third = legal_breach(feed, "C-3", 23)
    decide(feed, first, CardAction.REVOKE, at(2026, 4, 1, 9))
    decide(feed, second, CardAction.MITIGATE, at(2026, 4, 2, 9), Mitigation.EXEMPT)
    decide(feed, third, CardAction.UPHOLD, at(2026, 4, 3, 9))
    assert feed.cards(RuleId.REPEAT_OFFENDER) == []  # one proven breach, not two


# --- the monthly report shows the flags ----------------------------------------------------------


def test_the_monthly_report_shows_targets_honours_last_place_and_the_star_rating() -> None:
    """004_… 二(一) targets missed, 000_… 八(五) honours, 002_… 领导服务责任制度 五 末位 and the
    004_… 三(二) rating, each with its regulation by title and article."""
    from monitor.reports.monthly import render_html, render_xlsx

    legal = card(RuleId.LEGAL_OVERDUE, [ANSWERED, UPHELD])
    m = month([legal, card(RuleId.PROMISED_OVERDUE, [ESCALATED], n=2)])  # W01 last: 95 to 100
    late = StatsRow(group="window", key="W01", completed=10, on_time=9, timed=10)
    misses = missed_targets([late], [], ScoresConfig())
    cfg = _stars_cfg(StarEntry(window="W01", year=2025, creation=78, panel=9))
    stars = star_ratings([legal], {}, {}, cfg, CAL, END)
    page = render_html(m, [late], [], "示例中心", NOV, targets=misses, stars=stars)
    for text in (
        "服务目标未达标",
        "按时办结率",
        "《关于创建“五星级”政务服务体系的实施意见（试行）》二(一)",
        "当月评优评先",
        "取消",
        legal.id,
        "考评末位",
        "星级评定（与月度考评得分分列）",
        "月度考评得分",
    ):
        assert text in page, text
    assert "取消星级依据" not in page  # the monthly table makes no stars any more
    book = render_xlsx(m, [late], [], "示例中心", NOV, targets=misses, stars=stars)
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(book))
    assert {"目标未达标", "星级评定"} <= set(wb.sheetnames)
    assert wb["星级评定"]["I2"].value == 87  # 78 + 0 + 9: no satisfaction figure yet
    lighter = month([mitigated(RuleId.PROMISED_OVERDUE, Mitigation.LIGHTER)])
    assert "维持，从轻处理" in render_html(lighter, [], [], "示例中心", NOV)  # 000_… 八(七)


def test_months_before_the_hall_was_watched_have_no_score() -> None:
    """000_… 九(三): the year's roll-up scores the months there is evidence for. A hall first
    watched in October has no January score (printed —), not a full 100, and its average is
    over the months watched."""
    oct_card = card(RuleId.PROMISED_OVERDUE, [ESCALATED], n=1, raised=T0 - timedelta(days=31))
    oct_card.answer_by = oct_card.raised_at + timedelta(days=2)
    since = datetime(2026, 10, 12, 9, 0, tzinfo=ZONE)
    y = year_scores([oct_card], ScoresConfig(), 2026, ZONE, END, ["W01"], [], since)
    (w1,) = y.windows
    assert w1.months[:9] == (None,) * 9 and w1.months[9] == 95
    assert w1.average == Fraction(95 + 100 + 100, 3)

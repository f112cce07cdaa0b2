"""People rules read from the seeds, at fixed instants: who answers for an empty seat while B
covers, what an absence notice must say, leave approval by length, a duty of at least half a
day, holiday duty (docs/people.md)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts import contract
from alerts.absence import LeaveRules, LeaveVerdict, half_days, leave_verdict, notice_gaps
from alerts.attendance import AttendanceConfig, Mark, build_sheet
from alerts.config import work_calendar
from alerts.duty import (
    DutySlot,
    DutyState,
    HalfMonth,
    HolidayDutyConfig,
    HolidaySlot,
    assess_duty,
    assess_holiday,
    quota_missed,
)
from alerts.events import Event, LeaveCategory, Punch, Recorded, StaffState, StaffStatus, Verify
from alerts.ids import DeviceId, EventId, StaffId, WindowId
from alerts.posts import PostsConfig, Reading, WindowFacts, assess_window, status_conditions
from alerts.rules import RULES, RuleId
from alerts.supervision import Supervision
from monitor.reports.daysheet import render_text
from tests.hall import T0, body, example, topic

HALL = example()
CAL = work_calendar(HALL)
ZONE = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)  # a working Monday (sessions 08:30-12:00)
A, B1, B2 = StaffId("S005"), StaffId("S006"), StaffId("S007")
DEPUTY, HEAD = StaffId("L002"), StaffId("L001")
RULES_OF_HALL = LeaveRules(deputies=frozenset({DEPUTY}), heads=frozenset({HEAD}), cal=CAL)
POSTS = PostsConfig()
ATT = AttendanceConfig()


def t(minutes: float, base: datetime = MON) -> datetime:
    return base + timedelta(minutes=minutes)


def seat(empty_from: float, empty_to: float) -> WindowFacts:
    """W03's seat, a reading a minute from 09:00 for two hours, empty in [from, to)."""
    f = WindowFacts(WindowId("W03"), A, (B1, B2), watched_by_neighbour=True)
    for m in range(0, 120):
        f.add_reading(Reading(t(m), not empty_from <= m < empty_to, EventId(f"p{m}")))
    return f


def st(
    who: StaffId, state: StaffState, start: datetime, until: datetime | None, **kw: Any
) -> tuple[EventId, StaffStatus]:
    eid = EventId(f"s-{who}-{state}-{start:%d%H%M}")
    return eid, StaffStatus(staff=who, state=state, ts=start, start=start, until=until, **kw)


NOTICE = {"reason": "踏勘", "whereabouts": "城东项目现场", "contact": "13800000005"}


# --- 3. While B covers, B answers (000_… 七(三); 002_… AB岗工作制 四, 五) --------------------


def test_an_empty_seat_while_a_is_on_approved_leave_is_the_covering_b_s() -> None:
    """000_… 七(三): 顶岗期间享有A岗工作人员的职责权利，并承担相应责任."""
    leave = st(A, StaffState.LEAVE, t(-60), t(600), category=LeaveCategory.SICK, approved_by=DEPUTY)
    a = assess_window(seat(10, 60), {A: [leave]}, CAL, POSTS, leave=RULES_OF_HALL)
    owners = a.by_owner()
    assert set(owners) == {B1}
    assert {c.rule for c in owners[B1]} == {RuleId.POST_UNSTAFFED_WARNING, RuleId.POST_UNSTAFFED}


def test_the_next_b_in_order_answers_when_the_first_is_away_too() -> None:
    """001_… 第一篇(九): B岗可为多人，按序顶岗."""
    trip = st(A, StaffState.TRIP, t(-60), t(600))
    b1_meeting = st(B1, StaffState.MEETING, t(-30), t(300))
    a = assess_window(seat(10, 60), {A: [trip], B1: [b1_meeting]}, CAL, POSTS)
    assert set(a.by_owner()) == {B2}


def test_a_answers_when_a_left_without_cover_or_on_unapproved_leave() -> None:
    """002_… AB岗工作制 四: A岗离开岗位，未交代B岗 … 由A岗责任人承担相应责任."""
    assert set(assess_window(seat(10, 60), {}, CAL, POSTS).by_owner()) == {A}
    selfish = st(
        A, StaffState.LEAVE, t(-60), t(600), category=LeaveCategory.PERSONAL, approved_by=A
    )
    a = assess_window(seat(10, 60), {A: [selfish]}, CAL, POSTS, leave=RULES_OF_HALL)
    assert set(a.by_owner()) == {A}


# --- 4. An absence notice says why, where and how to reach (001_… 第五篇(一)4) ---------------


@pytest.mark.parametrize(
    ("fields", "gaps"),
    [
        (NOTICE, ()),
        ({}, ("no_reason", "no_whereabouts", "no_contact")),
        ({"reason": "踏勘", "contact": "138"}, ("no_whereabouts",)),
        ({**NOTICE, "contact": "  "}, ("no_contact",)),
    ],
)
def test_what_a_notice_lacks(fields: dict[str, str], gaps: tuple[str, ...]) -> None:
    _, notice = st(A, StaffState.AWAY, t(10), t(30), **fields)
    assert notice_gaps(notice) == gaps


def test_a_bare_away_covers_no_seat_and_raises_its_own_yellow() -> None:
    """001_… 第五篇(一)4: 内容包括离岗原因、去向和联系方式."""
    bare = st(A, StaffState.AWAY, t(10), t(40))
    a = assess_window(seat(10, 40), {A: [bare]}, CAL, POSTS)
    assert RuleId.POST_UNSTAFFED in {c.rule for c in a.conditions}
    (c,) = status_conditions([bare], CAL, POSTS, None)
    assert (c.rule, c.start, c.end, c.evidence) == (
        RuleId.POST_NOTICE_INCOMPLETE,
        t(10),
        t(40),
        (bare[0],),
    )
    assert RULES[RuleId.POST_NOTICE_INCOMPLETE].level.value == "yellow"
    full = st(A, StaffState.AWAY, t(10), t(40), **NOTICE)
    assert assess_window(seat(10, 40), {A: [full]}, CAL, POSTS).conditions == ()
    assert status_conditions([full], CAL, POSTS, None) == ()


# --- 11. Leave approval by length (001_… 第一篇(十)6) ----------------------------------------


def leave(days: float, **kw: Any) -> StaffStatus:
    start = MON.replace(hour=8, minute=30)
    end = start + timedelta(hours=3.5) if days == 0.5 else None
    if days == 1:
        end = start.replace(hour=17, minute=30)
    if days == 3:
        end = (start + timedelta(days=2)).replace(hour=17, minute=30)
    _, s = st(A, StaffState.LEAVE, start, end, category=LeaveCategory.PERSONAL, **kw)
    return s


@pytest.mark.parametrize(
    ("days", "fields", "verdict"),
    [
        (0.5, {"approved_by": DEPUTY}, LeaveVerdict.APPROVED),  # 半天之内由分管领导准假
        (1, {"approved_by": DEPUTY}, LeaveVerdict.APPROVED),  # ours: a day, the deputy alone
        (3, {"approved_by": DEPUTY}, LeaveVerdict.NO_HEAD),  # 超过一天的 … 须向主要领导准假
        (3, {"approved_by": DEPUTY, "head_approved_by": HEAD}, LeaveVerdict.APPROVED),
        (3, {"approved_by": DEPUTY, "head_approved_by": DEPUTY}, LeaveVerdict.NOT_A_HEAD),
        (0.5, {}, LeaveVerdict.NO_APPROVER),
        (0.5, {"approved_by": A}, LeaveVerdict.SELF_APPROVED),
        (0.5, {"approved_by": B1}, LeaveVerdict.NOT_A_DEPUTY),  # a colleague, not a leader
        (None, {"approved_by": DEPUTY}, LeaveVerdict.NO_HEAD),  # no until: length unknown
    ],
)
def test_leave_approval_by_length(
    days: float | None, fields: dict[str, StaffId], verdict: LeaveVerdict
) -> None:
    assert leave_verdict(leave(days or 0, **fields), RULES_OF_HALL) is verdict


def test_leave_length_counts_half_days_of_service() -> None:
    assert [half_days(leave(d), CAL) for d in (0.5, 1, 3)] == [1, 2, 6]


def test_unapproved_leave_covers_no_punch_and_is_a_red_card() -> None:
    officer = next(s for s in HALL.staff if s.staff_id == A)
    day = MON.date()
    bad = (EventId("lv"), leave(1))  # no approver
    sheet = build_sheet(officer, day, [], [bad], [], {}, CAL, ATT, t(600), leave=RULES_OF_HALL)
    assert sheet is not None
    assert all(s.check_in.mark is Mark.MISSING for s in sheet.sessions)
    (c,) = status_conditions([bad], CAL, POSTS, RULES_OF_HALL)
    assert (c.rule, c.start) == (RuleId.LEAVE_UNAPPROVED, MON.replace(hour=8, minute=30))
    good = (EventId("lv2"), leave(1, approved_by=DEPUTY))
    sheet = build_sheet(officer, day, [], [good], [], {}, CAL, ATT, t(600), leave=RULES_OF_HALL)
    assert sheet is not None and all(s.check_in.mark is Mark.COVERED for s in sheet.sessions)
    assert status_conditions([good], CAL, POSTS, RULES_OF_HALL) == ()


# --- 5. A duty is at least half a day (002_… 领导值班制度 二) --------------------------------

L1 = StaffId("L001")
AM = DutySlot(day=MON.date(), half="am", leader=L1)
CLK = DeviceId("CLK-EAST")


def punch(eid: str, at: datetime, who: StaffId = L1) -> tuple[EventId, Punch]:
    return EventId(eid), Punch(device=CLK, staff=who, ts=at, verify=Verify.FINGERPRINT)


def local(hh: int, mm: int, day: date | None = None) -> datetime:
    day = day or MON.date()
    return datetime.combine(day, time(hh, mm), ZONE)


def test_a_leader_seen_only_at_the_start_is_short_of_half_a_day() -> None:
    """002_… 领导值班制度 二: 每次值班时间不少于半天. One punch at 08:25 is not a half-day."""
    heard = {CLK: local(13, 5)}
    o = assess_duty(
        AM, [punch("p", local(8, 25))], CAL, ATT, local(13, 5), clocks_heard_until=heard
    )
    assert o.state is DutyState.PRESENT and o.short and not o.full
    (c,) = o.conditions
    assert (c.rule, c.start, c.evidence) == (RuleId.DUTY_SHORT, local(12, 0), (EventId("p"),))
    # before the end window closes nothing is decided
    early = assess_duty(AM, [punch("p", local(8, 25))], CAL, ATT, local(12, 30))
    assert early.conditions == () and not early.short
    # seen near the end: a whole half-day
    both = [punch("p", local(8, 25)), punch("q", local(11, 45))]
    o = assess_duty(AM, both, CAL, ATT, local(13, 5), clocks_heard_until=heard)
    assert o.conditions == () and o.full


def test_the_daily_sheet_says_a_duty_fell_short() -> None:
    o = assess_duty(AM, [punch("p", local(8, 25))], CAL, ATT, local(15, 0))
    text = render_text([], MON.date(), "某县政务服务中心", duty=[o], zone=ZONE)
    assert "已到岗（不足半天）" in text


def test_a_short_half_day_does_not_count_towards_the_quota() -> None:
    half = HalfMonth.of(MON.date())
    one = [punch("p", local(8, 25))]
    (miss,) = quota_missed([L1], [AM], one, half, CAL, ATT)
    assert miss.done == 0
    assert quota_missed([L1], [AM], [*one, punch("q", local(12, 3))], half, CAL, ATT) == []


# --- 12. Holiday duty (001_… 第一篇(十)5) ----------------------------------------------------

SUNDAY = date(2026, 11, 22)
HOL = HolidaySlot(day=SUNDAY, staff=StaffId("S001"), start=time(9), end=time(17))


@pytest.mark.parametrize(
    ("seen", "now", "rules"),
    [
        ([], local(9, 20, SUNDAY), []),
        ([], local(9, 40, SUNDAY), [RuleId.HOLIDAY_DUTY_LATE]),
        ([], local(20, 0, SUNDAY), [RuleId.HOLIDAY_DUTY_LATE, RuleId.HOLIDAY_DUTY_ABSENT]),
        ([local(8, 50, SUNDAY), local(17, 5, SUNDAY)], local(20, 0, SUNDAY), []),
        ([local(8, 50, SUNDAY)], local(20, 0, SUNDAY), [RuleId.HOLIDAY_DUTY_SHORT]),
    ],
)
def test_holiday_duty_is_checked_like_the_rota(
    seen: list[datetime], now: datetime, rules: list[RuleId]
) -> None:
    punches = [punch(f"h{i}", x, HOL.staff) for i, x in enumerate(seen)]
    o = assess_holiday(HOL, punches, CAL, ATT, now)
    assert [c.rule for c in o.conditions] == rules
    assert not CAL.is_working_day(SUNDAY)


# --- through Supervision: the holiday rota's checkpoints on an off day, the status watch ------


def _hall_with_holiday_duty() -> Supervision:
    row = HolidayDutyConfig(date=SUNDAY, staff="S001")
    return Supervision(HALL.model_copy(update={"holiday_duty": [row]}))


def _feed(sup: Supervision, seq: int, ev: Event) -> None:
    ts = ev.ts
    sup.apply(Recorded(seq, EventId(f"e{seq}"), ts, ev))


def test_holiday_duty_is_planned_on_its_off_day_and_raises_its_cards() -> None:
    """001_… 第一篇(十)5: 坚持做好节假日值班制度 — a Sunday's duty, judged by the daemon's core."""
    sup = _hall_with_holiday_duty()
    sup.tick(local(7, 0, SUNDAY))
    sup.tick(local(20, 0, SUNDAY))
    rules = {c.rule for c in sup.engine.cards.values() if c.subject.staff == StaffId("S001")}
    assert rules == {RuleId.HOLIDAY_DUTY_LATE, RuleId.HOLIDAY_DUTY_ABSENT}
    came = _hall_with_holiday_duty()
    came.tick(local(7, 0, SUNDAY))
    _feed(came, 1, punch("h1", local(8, 50, SUNDAY), StaffId("S001"))[1])
    came.tick(local(20, 0, SUNDAY))
    rules = {c.rule for c in came.engine.cards.values() if c.subject.staff == StaffId("S001")}
    assert rules == {RuleId.HOLIDAY_DUTY_SHORT}


def test_an_unapproved_leave_is_a_card_on_the_officer_through_supervision() -> None:
    """001_… 第一篇(十)6: the example hall names L002 its deputy, L001 its head."""
    sup = Supervision(HALL)
    start = MON.replace(hour=8, minute=30)
    three_days = StaffStatus(
        staff=A,
        state=StaffState.LEAVE,
        ts=start - timedelta(hours=1),
        start=start,
        until=(start + timedelta(days=2)).replace(hour=17, minute=30),
        category=LeaveCategory.ANNUAL,
        approved_by=DEPUTY,  # the head's approval is missing
    )
    _feed(sup, 1, three_days)
    sup.tick(t(0))
    (card,) = [c for c in sup.engine.cards.values() if c.rule is RuleId.LEAVE_UNAPPROVED]
    assert (card.owner, card.subject.staff, card.raised_at) == (A, A, start)
    fixed = dataclasses.replace(three_days, head_approved_by=HEAD, ts=start - timedelta(minutes=50))
    _feed(sup, 2, fixed)  # the same leave, now with the head's approval: the card is void
    sup.tick(t(1))
    assert card.history[-1].why.value == "void"


# --- the contract: optional fields, decoded the same by both paths -------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "away", "reason": "踏勘", "whereabouts": "城东项目现场", "contact": "138"},
        {"state": "leave", "category": "annual", "approved_by": "L002", "head_approved_by": "L001"},
        {"state": "away", "reason": "踏勘"},  # a sender without the new fields: still accepted
    ],
)
def test_whereabouts_and_head_approval_decode_on_both_paths(fields: dict[str, str]) -> None:
    t = topic("staff", "S005", "status")
    payload = body(**{"from": "2026-11-23T08:20:00+08:00", **fields})
    directory, limits = HALL.directory(), contract.Limits()
    route = contract.route(t, HALL.hall.id)
    assert route is not None
    fast = contract._fast(t, route, payload, T0, directory, limits)
    ref = contract.decode_reference(t, payload, T0, HALL.hall.id, directory, limits)
    assert fast is not None and fast == ref
    ev = fast.event
    assert isinstance(ev, StaffStatus)
    assert (ev.whereabouts, ev.head_approved_by) == (
        fields.get("whereabouts"),
        fields.get("head_approved_by"),
    )

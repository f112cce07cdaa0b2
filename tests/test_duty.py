"""Leader on duty (alerts/duty.py): presence, lateness, absence, the half-month quota.

Sources: 002_1c43274b2048c468.txt 领导值班制度 二: window units' leaders sit in the hall on the
centre's timetable, 每半个月不少于一次，每次值班时间不少于半天; the timetable is made once a
quarter. Ours: yellow 30 min after the duty half-day starts without presence, red at its end.
Explicit instants throughout (the `now` argument is the fake clock).

The hall: morning 08:30-12:00, afternoon 14:00-17:30; 2026 national schedule (1-7 Oct off,
Sat 10 Oct worked).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.attendance import AttendanceConfig, PunchIn
from alerts.cases import Condition
from alerts.contract import makeup_of
from alerts.duty import (
    DutySlot,
    DutySlotConfig,
    DutyState,
    HalfMonth,
    assess_duty,
    check_rota,
    checkpoints,
    quota_missed,
    rota_of,
)
from alerts.events import Punch, Verify
from alerts.ids import DeviceId, EventId, StaffId
from alerts.rules import RuleId
from alerts.workdays import Session, Timetable, WorkCalendar
from monitor.reports.daysheet import render_text

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(
    SH,
    [
        Timetable(
            sessions=(
                Session(start=time(8, 30), end=time(12, 0)),
                Session(start=time(14, 0), end=time(17, 30)),
            )
        )
    ],
)
CFG = AttendanceConfig()
DAY = date(2026, 10, 9)
L1, L2, L3 = StaffId("L01"), StaffId("L02"), StaffId("L03")
CLK1, CLK2 = DeviceId("CLK1"), DeviceId("CLK2")
AM = DutySlot(day=DAY, half="am", leader=L1)
PM = DutySlot(day=DAY, half="pm", leader=L1)


def at(h: int, m: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(h, m), tzinfo=SH)


def punch(eid: str, t: datetime, leader: StaffId = L1, device: DeviceId = CLK2) -> PunchIn:
    return EventId(eid), Punch(device=device, staff=leader, ts=t, verify=Verify.FACE)


def rules_of(conditions: tuple[Condition, ...]) -> list[RuleId]:
    return [c.rule for c in conditions]


# --- the rota in configuration -------------------------------------------------------------


def test_duty_rows_parse_into_a_sorted_rota() -> None:
    rows = [
        DutySlotConfig.model_validate({"date": date(2026, 10, 12), "half": "pm", "leader": "L02"}),
        DutySlotConfig.model_validate({"date": DAY, "half": "am", "leader": "L01"}),
    ]
    assert rota_of(rows) == (AM, DutySlot(day=date(2026, 10, 12), half="pm", leader=L2))
    with pytest.raises(ValidationError):
        DutySlotConfig.model_validate({"date": DAY, "half": "evening", "leader": "L01"})
    with pytest.raises(ValidationError):
        DutySlotConfig.model_validate({"date": DAY, "half": "am", "leader": "L01", "x": 1})


# --- presence and lateness -------------------------------------------------------------------


def test_a_punch_before_the_half_day_is_presence() -> None:
    """Seen at any hall clock: CLK2 at 08:20 for the 08:30 morning."""
    o = assess_duty(AM, [punch("p", at(8, 20))], CAL, CFG, at(12, 30))
    assert (o.state, o.arrived, o.evidence, o.conditions) == (
        DutyState.PRESENT,
        at(8, 20),
        EventId("p"),
        (),
    )
    assert (o.start, o.end) == (at(8, 30), at(12))


def test_a_presence_at_the_duty_desk_counts_too() -> None:
    desk = [(EventId("d"), L1, at(14, 10))]
    o = assess_duty(PM, [], CAL, CFG, at(15), seen=desk)
    assert o.state is DutyState.PRESENT and o.evidence == EventId("d")


def test_other_peoples_punches_and_make_ups_do_not_count() -> None:
    other = punch("x", at(8, 20), leader=L2)
    mu = (
        EventId("mu"),
        Punch(
            device=CLK1,
            staff=L1,
            ts=at(8, 25),
            verify=Verify.TEMPORARY,
            state="makeup:L02",
            makeup=makeup_of("makeup:L02"),
        ),
    )
    o = assess_duty(AM, [other, mu], CAL, CFG, at(9, 10))
    assert o.state is DutyState.OVERDUE


@pytest.mark.parametrize(
    ("now", "state", "rules"),
    [
        (at(8), DutyState.NOT_STARTED, []),
        (at(8, 50), DutyState.WAITING, []),
        (at(9, 5), DutyState.OVERDUE, [RuleId.DUTY_LATE]),  # 30 min after 08:30
        (at(9, 20), DutyState.LATE, [RuleId.DUTY_LATE]),  # came at 09:10
    ],
)
def test_lateness_through_the_morning(now: datetime, state: DutyState, rules: list[RuleId]) -> None:
    came = [punch("p", at(9, 10))]
    o = assess_duty(AM, [p for p in came if p[1].ts <= now], CAL, CFG, now)
    assert o.state is state and rules_of(o.conditions) == rules
    if rules:
        (c,) = o.conditions
        assert c.start == at(9) and c.qualifier == "2026-10-09/am"
        assert c.end == (at(9, 10) if state is DutyState.LATE else None)


def test_absent_all_morning_is_red_at_its_end_and_the_yellow_gives_way() -> None:
    heard = {CLK1: at(12, 5), CLK2: at(12, 5)}
    o = assess_duty(AM, [], CAL, CFG, at(12, 10), clocks_heard_until=heard)
    assert o.state is DutyState.ABSENT
    yellow, red = o.conditions
    assert (yellow.rule, yellow.start, yellow.end, yellow.superseded) == (
        RuleId.DUTY_LATE,
        at(9),
        at(12),
        True,
    )
    assert (red.rule, red.start, red.end) == (RuleId.DUTY_ABSENT, at(12), at(12))


def test_a_silent_clock_delays_the_red_until_the_grace_is_over() -> None:
    """A clock that is offline is not evidence of absence (docs/contract.md)."""
    heard = {CLK1: at(12, 5), CLK2: at(7, 40)}
    o = assess_duty(AM, [], CAL, CFG, at(12, 10), clocks_heard_until=heard)
    assert o.state is DutyState.PENDING and o.silent_clocks == (CLK2,)
    assert rules_of(o.conditions) == [RuleId.DUTY_LATE]
    o = assess_duty(AM, [], CAL, CFG, at(14), clocks_heard_until=heard)
    assert o.state is DutyState.ABSENT and o.silent_clocks == (CLK2,)


def test_checkpoints_for_the_scheduler() -> None:
    # late, end, end + grace; the short-stay window's close (end + 60 min) and its grace
    assert checkpoints(AM, CAL, CFG) == (at(9), at(12), at(13), at(14), at(15))


def test_swapped_saturday_has_duty_and_a_holiday_has_no_session() -> None:
    sat = DutySlot(day=date(2026, 10, 10), half="pm", leader=L1)
    o = assess_duty(sat, [punch("p", at(13, 55, day=sat.day))], CAL, CFG, at(18, day=sat.day))
    assert o.state is DutyState.PRESENT
    hol = DutySlot(day=date(2026, 10, 2), half="am", leader=L1)
    o = assess_duty(hol, [], CAL, CFG, at(18, day=hol.day))
    assert o.state is DutyState.NO_SESSION and o.conditions == ()
    assert checkpoints(hol, CAL, CFG) == ()


# --- the half-month quota ------------------------------------------------------------------


def test_half_months() -> None:
    assert HalfMonth.of(date(2026, 10, 15)) == HalfMonth(2026, 10, 1)
    h2 = HalfMonth.of(date(2026, 2, 16))
    assert (h2.first, h2.last, h2.label, h2.label_zh) == (
        date(2026, 2, 16),
        date(2026, 2, 28),
        "2026-02-H2",
        "2026年2月下半月",
    )
    assert HalfMonth.of(date(2026, 12, 20)).last == date(2026, 12, 31)
    # the first half of October 2026 ends with Thursday 15 Oct, a working day
    assert HalfMonth(2026, 10, 1).closes(CAL) == at(17, 30, day=date(2026, 10, 15))


def test_every_leader_below_quota_at_the_end_of_the_half_month() -> None:
    """002_… 二: at least once every half month. L01 came; L02 was rostered and did not
    come; L03 was not even rostered."""
    rota = [AM, DutySlot(day=date(2026, 10, 12), half="pm", leader=L2)]
    punches = [punch("p", at(8, 20)), punch("p2", at(12, 2)), punch("q", at(20), leader=L2)]
    misses = quota_missed([L1, L2, L3], rota, punches, HalfMonth(2026, 10, 1), CAL, CFG)
    assert [(m.leader, m.scheduled, m.done, m.quota) for m in misses] == [
        (L2, 1, 0, 1),
        (L3, 0, 0, 1),
    ]
    c = misses[0].condition
    assert c.rule is RuleId.DUTY_QUOTA_MISSED and c.qualifier == "2026-10-H1"
    assert c.start == c.end == at(17, 30, day=date(2026, 10, 15))


def test_quota_of_two_half_days() -> None:
    cfg = AttendanceConfig(duty_quota=2)
    rota = [AM, PM]
    punches = [punch("a", at(8, 20)), punch("a2", at(11, 58))]
    punches += [punch("b", at(14, 40)), punch("b2", at(17, 35))]  # the afternoon late, stayed
    assert quota_missed([L1], rota, punches, HalfMonth(2026, 10, 1), CAL, cfg) == []
    misses = quota_missed([L1], rota, punches[:2], HalfMonth(2026, 10, 1), CAL, cfg)
    assert [(m.done, m.condition.evidence) for m in misses] == [(1, (EventId("a"),))]


def test_check_rota_of_a_quarter() -> None:
    rota = [
        AM,
        DutySlot(day=date(2026, 10, 20), half="am", leader=L1),
        DutySlot(day=date(2026, 10, 2), half="am", leader=L2),  # National Day
        DutySlot(day=date(2026, 10, 21), half="pm", leader=StaffId("X9")),
    ]
    problems = check_rota(rota, [L1, L2], date(2026, 10, 1), date(2026, 10, 31), CAL, CFG)
    assert "duty 2026-10-02 am: no am session that day (off day?)" in problems
    assert "duty 2026-10-21 pm: 'X9' is not a leader" in problems
    assert "2026-10-H2: 'L02' has 0 duty half-day(s), quota 1" in problems
    assert not any("'L01' has" in p for p in problems)


def test_the_daily_sheet_lists_the_leader_on_duty() -> None:
    o = assess_duty(AM, [punch("p", at(8, 20))], CAL, CFG, at(12, 30))
    late = assess_duty(PM, [punch("q", at(14, 45))], CAL, CFG, at(15))
    text = render_text([], DAY, "某县政务服务中心", duty=[o, late], zone=SH)
    assert "【值班领导】" in text and "08:20" in text and "已到岗" in text and "迟到" in text

"""Attendance (alerts/attendance.py) and the leader's daily sheet (monitor/reports/daysheet.py).

Worked examples at fixed instants (the "fake clock" is the explicit `now`). Sources:
- 001_cb60fd17e648c454.txt 第一篇(十)1: 指纹打卡签到签退, morning and afternoon, four a day;
  (十)4: meetings, trips, leave on the whereabouts board.
- practice elsewhere (docs/regulations.md): late or early ≤ 10 min −1 point; beyond 15 min
  counts as half a day's absence; no punch and no leave = absence; make-up punch within 1 day;
  temporary sign-in when the device or power fails.
- docs/contract.md: while a device is offline its silence is not evidence of absence.
- The 2026 national schedule (chinesecalendar): 1-7 Oct off, Sat 10 Oct worked.

The hall: morning 08:30-12:00, afternoon 14:00-17:30; default windows ±60 min around each
anchor: in 07:30-09:30 / 13:00-15:00, out 11:00-13:00 / 16:30-18:30.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.attendance import (
    AttendanceConfig,
    DaySheet,
    Fate,
    Mark,
    PunchIn,
    Source,
    Verdict,
    Why,
    build_sheet,
    heard_until,
    makeup_deadline,
    reads_hold,
)
from alerts.config import Staff
from alerts.contract import makeup_of
from alerts.events import (
    DeviceKind,
    DeviceStatus,
    LeaveCategory,
    Punch,
    StaffState,
    StaffStatus,
    Verify,
)
from alerts.ids import DeviceId, EventId, StaffId
from alerts.rules import RuleId
from alerts.workdays import Session, Timetable, WorkCalendar
from monitor.reports.daysheet import (
    CSV_HEAD,
    SIGNATURE,
    render_csv,
    render_html,
    render_text,
    width,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(
    SH,
    [
        Timetable(
            sessions=(
                Session(start=time(8, 30), end=time(12, 0), name="上午"),
                Session(start=time(14, 0), end=time(17, 30), name="下午"),
            )
        )
    ],
)
CFG = AttendanceConfig()
DAY = date(2026, 10, 9)  # a Friday, the day after the National Day week
CLK1, CLK2 = DeviceId("CLK1"), DeviceId("CLK2")
ZHANG = Staff(id="S001", name="张三", department="scjg")
LI = Staff(id="S002", name="李四", department="scjg")
WANG = Staff(id="S003", name="王五", department="bdc")
R = RuleId
PROPERTY = settings(max_examples=60, deadline=None)


def at(h: int, m: int = 0, s: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(h, m, s), tzinfo=SH)


def punch(
    eid: str,
    t: datetime,
    *,
    staff: str = "S001",
    device: DeviceId = CLK1,
    verify: Verify = Verify.FINGERPRINT,
    state: str | None = None,
    received: datetime | None = None,
) -> PunchIn:
    p = Punch(
        device=device,
        staff=StaffId(staff),
        ts=t,
        verify=verify,
        state=state,
        makeup=makeup_of(state),
    )
    return (EventId(eid), p) if received is None else (EventId(eid), p, received)


def full_day(staff: str = "S001", device: DeviceId = CLK1, day: date = DAY) -> list[PunchIn]:
    return [
        punch(f"{staff}-1", at(8, 25, day=day), staff=staff, device=device),
        punch(f"{staff}-2", at(12, 2, day=day), staff=staff, device=device),
        punch(f"{staff}-3", at(13, 55, day=day), staff=staff, device=device),
        punch(f"{staff}-4", at(17, 31, day=day), staff=staff, device=device),
    ]


def heard_all(t: datetime) -> dict[DeviceId, datetime | None]:
    return {CLK1: t, CLK2: t}


def sheet(
    punches: Sequence[PunchIn],
    now: datetime,
    *,
    staff: Staff = ZHANG,
    statuses: Sequence[tuple[EventId, StaffStatus]] = (),
    avail: Sequence[DeviceStatus] = (),
    heard: Mapping[DeviceId, datetime | None] | None = None,
    cfg: AttendanceConfig = CFG,
    day: date = DAY,
) -> DaySheet:
    h = heard_all(now - timedelta(minutes=10)) if heard is None else heard
    out = build_sheet(staff, day, punches, statuses, avail, h, CAL, cfg, now)
    assert out is not None
    return out


def marks(s: DaySheet) -> list[tuple[Mark, int]]:
    return [(e.mark, e.minutes) for x in s.sessions for e in (x.check_in, x.check_out)]


def rules(s: DaySheet) -> list[RuleId]:
    return [c.rule for c in s.conditions]


def status(dev: DeviceId, online: bool, t: datetime) -> DeviceStatus:
    return DeviceStatus(device_kind=DeviceKind.CLOCK, device=dev, online=online, ts=t)


EVENING = at(20, 0)
ON = (Mark.ON_TIME, 0)


# --- on time, late, early, the 15-minute threshold -------------------------------------------


def test_on_time_day_has_four_punches_and_no_conditions() -> None:
    """001_… 第一篇(十)1: four punches, each on time → present twice, nothing raised."""
    s = sheet(full_day(), EVENING)
    assert marks(s) == [ON] * 4
    assert [x.verdict for x in s.sessions] == [Verdict.PRESENT, Verdict.PRESENT]
    assert [x.key for x in s.sessions] == ["am", "pm"]
    assert s.conditions == () and s.final and s.silent_clocks == ()
    assert all(p.fate is Fate.COUNTED for p in s.punches)


@pytest.mark.parametrize(
    ("grace", "t", "mark", "minutes", "verdict", "rule"),
    [
        (0, at(8, 30, 59), Mark.ON_TIME, 0, Verdict.PRESENT, None),  # whole minutes count
        (0, at(8, 31), Mark.LATE, 1, Verdict.LATE, R.ATTENDANCE_LATE),
        (5, at(8, 34), Mark.ON_TIME, 0, Verdict.PRESENT, None),  # late within the grace
        (5, at(8, 36), Mark.LATE, 6, Verdict.LATE, R.ATTENDANCE_LATE),
        (0, at(8, 40), Mark.LATE, 10, Verdict.LATE, R.ATTENDANCE_LATE),  # ≤ 10: −1 point
        (0, at(8, 45), Mark.LATE, 15, Verdict.LATE, R.ATTENDANCE_LATE),  # not yet beyond 15
        (0, at(8, 46), Mark.LATE, 16, Verdict.HALF_DAY_ABSENT, R.ATTENDANCE_ABSENT_HALF_DAY),
        (0, at(9, 29), Mark.LATE, 59, Verdict.HALF_DAY_ABSENT, R.ATTENDANCE_ABSENT_HALF_DAY),
    ],
)
def test_morning_lateness_table(
    grace: int, t: datetime, mark: Mark, minutes: int, verdict: Verdict, rule: RuleId | None
) -> None:
    """Practice elsewhere: late ≤ 10 min −1 point; beyond 15 min = half a day's absence."""
    cfg = AttendanceConfig(grace_min=grace)
    s = sheet([punch("in", t), *full_day()[1:]], EVENING, cfg=cfg)
    assert marks(s)[0] == (mark, minutes)
    assert s.sessions[0].verdict is verdict
    assert rules(s) == ([rule] if rule else [])
    if rule is not None:
        c = s.conditions[0]
        assert c.start == t and c.evidence == (EventId("in"),)
        if rule is R.ATTENDANCE_LATE:  # a minor breach: live on the leader's view until close
            assert c.qualifier == "2026-10-09/am/in" and c.end == at(17, 30)
        else:
            assert c.qualifier == "2026-10-09/am" and c.end == c.start


def test_early_leave_is_final_only_after_the_out_window_closes() -> None:
    """Leaving at 17:20 is early by 10 (a later punch could still come until 18:30)."""
    day = [*full_day()[:3], punch("out", at(17, 20))]
    live = sheet(day, at(17, 25))
    assert live.sessions[1].check_out.mark is Mark.EARLY and not live.sessions[1].check_out.final
    assert live.conditions == ()
    done = sheet(day, at(18, 45))
    assert done.sessions[1].verdict is Verdict.EARLY
    (c,) = done.conditions
    assert (c.rule, c.start, c.qualifier) == (R.ATTENDANCE_EARLY, at(17, 20), "2026-10-09/pm/out")


def test_late_and_early_beyond_threshold_make_one_half_day_absence() -> None:
    day = [punch("in", at(8, 50)), punch("out", at(11, 40)), *full_day()[2:]]
    s = sheet(day, EVENING)
    assert s.sessions[0].verdict is Verdict.HALF_DAY_ABSENT
    (c,) = s.conditions
    assert c.rule is R.ATTENDANCE_ABSENT_HALF_DAY and c.start == at(8, 50)
    assert c.evidence == (EventId("in"), EventId("out"))


def test_earliest_in_and_latest_out_count_others_are_superseded() -> None:
    day = [punch("a", at(8, 20)), punch("b", at(8, 40), device=CLK2), *full_day()[1:]]
    s = sheet(day, EVENING)
    assert marks(s)[0] == ON
    fates = {p.event_id: p.fate for p in s.punches}
    assert fates[EventId("a")] is Fate.COUNTED and fates[EventId("b")] is Fate.SUPERSEDED


# --- missing punches ---------------------------------------------------------------------------


def test_missing_out_punch_is_pending_while_its_window_is_open_then_missing() -> None:
    """No punch and no leave = absence (practice elsewhere); not before the window has closed."""
    day = [full_day()[0]]
    open_ = sheet(day, at(12, 30))
    out = open_.sessions[0].check_out
    assert (out.mark, out.why, out.final) == (Mark.PENDING, Why.WINDOW_OPEN, False)
    assert open_.conditions == ()
    closed = sheet(day, at(13, 20))
    out = closed.sessions[0].check_out
    assert (out.mark, out.why, out.final) == (Mark.MISSING, Why.NO_PUNCH, True)
    assert closed.sessions[0].verdict is Verdict.HALF_DAY_ABSENT
    (c,) = closed.conditions
    assert (c.rule, c.qualifier, c.start) == (
        R.ATTENDANCE_MISSING_PUNCH,
        "2026-10-09/am/out",
        at(13),
    )


def test_missing_punch_need_not_count_as_absence() -> None:
    cfg = AttendanceConfig(missing_is_absence=False)
    s = sheet([full_day()[0], *full_day()[2:]], EVENING, cfg=cfg)
    assert s.sessions[0].verdict is Verdict.MISSING_PUNCH
    assert rules(s) == [R.ATTENDANCE_MISSING_PUNCH]


def test_no_punch_at_all_is_absent_with_a_card_per_missing_punch() -> None:
    s = sheet([], EVENING)
    assert [x.verdict for x in s.sessions] == [Verdict.ABSENT, Verdict.ABSENT]
    assert rules(s) == [R.ATTENDANCE_MISSING_PUNCH] * 4
    assert [c.start for c in s.conditions] == [at(9, 30), at(13), at(15), at(18, 30)]


# --- cover: leave, trips, meetings -------------------------------------------------------------


def leave(
    eid: str, start: datetime, until: datetime | None, **kw: object
) -> tuple[EventId, StaffStatus]:
    fields: dict[str, object] = {"state": StaffState.LEAVE, "category": LeaveCategory.PERSONAL}
    fields.update(kw)
    st = StaffStatus(staff=StaffId("S001"), ts=start, start=start, until=until, **fields)  # type: ignore[arg-type]
    return EventId(eid), st


def test_leave_covering_the_morning_excuses_both_punches() -> None:
    """001_… 第一篇(十)4, 6: leave with a note; a half day approved by the deputy."""
    s = sheet(full_day()[2:], EVENING, statuses=[leave("L1", at(8), at(13), approved_by="S100")])
    m = s.sessions[0]
    assert (m.check_in.mark, m.check_out.mark, m.verdict) == (
        Mark.COVERED,
        Mark.COVERED,
        Verdict.COVERED,
    )
    assert m.check_in.cover is not None and m.check_in.cover.event_id == EventId("L1")
    assert s.sessions[1].verdict is Verdict.PRESENT and s.conditions == ()


def test_a_trip_from_ten_covers_the_out_punch_only() -> None:
    """Came at 08:25, left on a trip at 10:00 until the officer's next status (on post 14:00)."""
    trip = (EventId("T1"), StaffStatus(staff=StaffId("S001"), state=StaffState.TRIP, ts=at(10)))
    back = (EventId("B1"), StaffStatus(staff=StaffId("S001"), state=StaffState.ON_POST, ts=at(14)))
    s = sheet([full_day()[0], *full_day()[2:]], EVENING, statuses=[trip, back])
    assert marks(s)[:2] == [ON, (Mark.COVERED, 0)]
    assert s.sessions[0].verdict is Verdict.PRESENT and s.conditions == ()


def test_an_away_notice_is_not_a_cover() -> None:
    """离岗告示 is a short absence during service, not an excuse for a punch."""
    away = leave("A1", at(11, 30), at(12, 30), state=StaffState.AWAY, category=None)
    s = sheet([full_day()[0], *full_day()[2:]], EVENING, statuses=[away])
    assert s.sessions[0].check_out.mark is Mark.MISSING


# --- make-up punches (补签) --------------------------------------------------------------------


def makeup(t: datetime, approver: str, received: datetime | None, eid: str = "MU") -> PunchIn:
    state = f"makeup:{approver}"
    return punch(eid, t, verify=Verify.TEMPORARY, state=state, received=received)


def test_make_up_recorded_on_the_next_working_day_counts_even_a_saturday() -> None:
    """Make-up within 1 day (elsewhere). Fri 9 Oct's next working day is Sat 10 Oct (调休)."""
    assert makeup_deadline(at(8, 30), CAL, CFG) == at(17, 30, day=date(2026, 10, 10))
    mu = makeup(at(8, 30), "S100", at(10, day=date(2026, 10, 10)))
    s = sheet([mu, *full_day()[1:]], at(11, day=date(2026, 10, 10)))
    e = s.sessions[0].check_in
    assert (e.mark, e.why) == (Mark.MADE_UP, Why.MADE_UP)
    assert e.punch is not None and e.punch.approved_by == StaffId("S100")
    assert e.punch.source is Source.MAKEUP
    assert s.sessions[0].verdict is Verdict.PRESENT and s.conditions == ()


@pytest.mark.parametrize(
    ("approver", "received", "fate"),
    [
        ("S100", at(9, day=date(2026, 10, 12)), Fate.MAKEUP_LATE),  # Monday: too late
        ("S001", at(10, day=date(2026, 10, 10)), Fate.MAKEUP_SELF_APPROVED),
        ("", at(10, day=date(2026, 10, 10)), Fate.MAKEUP_NO_APPROVER),
        ("S100", None, Fate.MAKEUP_UNRECORDED),
        ("S100", at(8), Fate.MAKEUP_AHEAD),  # recorded before the time it claims
    ],
)
def test_make_up_refused(approver: str, received: datetime | None, fate: Fate) -> None:
    s = sheet(
        [makeup(at(8, 30), approver, received), *full_day()[1:]], at(12, day=date(2026, 10, 12))
    )
    assert s.punches[0].fate is fate
    assert s.sessions[0].check_in.mark is Mark.MISSING
    assert R.ATTENDANCE_MISSING_PUNCH in rules(s)


def test_make_up_does_not_improve_a_real_punch() -> None:
    mu = makeup(at(8, 25), "S100", at(10, day=date(2026, 10, 10)))
    s = sheet([mu, punch("late", at(8, 41)), *full_day()[1:]], at(11, day=date(2026, 10, 10)))
    assert marks(s)[0] == (Mark.LATE, 11)
    assert {p.event_id: p.fate for p in s.punches}[EventId("MU")] is Fate.MAKEUP_NOT_NEEDED


def test_make_up_replaces_a_missing_card_learned_earlier() -> None:
    """At 10:00 the morning-in is missing (card); the make-up next morning removes it."""
    before = sheet(full_day()[1:], at(10))
    assert rules(before) == [R.ATTENDANCE_MISSING_PUNCH]
    mu = makeup(at(8, 30), "S100", at(9, day=date(2026, 10, 10)))
    after = sheet([mu, *full_day()[1:]], at(9, 5, day=date(2026, 10, 10)))
    assert after.conditions == ()


# --- silent clocks: offline, backlog -----------------------------------------------------------

CLK2_DOWN = [status(CLK1, True, at(6)), status(CLK2, True, at(6)), status(CLK2, False, at(7, 50))]


def heard_at(
    now: datetime, punches: Sequence[PunchIn], avail: Sequence[DeviceStatus]
) -> dict[DeviceId, datetime | None]:
    return {d: heard_until(d, punches, avail, now, CFG) for d in (CLK1, CLK2)}


def test_heard_until_from_online_spells_and_punches() -> None:
    assert heard_until(CLK1, [], CLK2_DOWN, at(11), CFG) == at(10, 50)
    assert heard_until(CLK2, [], CLK2_DOWN, at(11), CFG) == at(7, 40)  # before its silence
    backlog = [punch("b", at(8, 20), device=CLK2)]
    assert heard_until(CLK2, backlog, CLK2_DOWN, at(11), CFG) == at(8, 20)
    temp = [punch("t", at(9), device=CLK2, verify=Verify.TEMPORARY)]
    assert heard_until(CLK2, temp, CLK2_DOWN, at(11), CFG) == at(7, 40)  # manual: not the clock
    back = [*CLK2_DOWN, status(CLK2, True, at(15))]
    assert heard_until(CLK2, [], back, at(15, 5), CFG) == at(7, 40)  # still uploading
    assert heard_until(CLK2, [], back, at(15, 20), CFG) == at(15, 10)
    assert heard_until(DeviceId("NEW"), [], [], at(11), CFG) is None


def test_clock_offline_all_morning_makes_no_false_absence_and_is_named() -> None:
    """The contract: an offline device's silence is not evidence of absence. 张三 punched at
    CLK1; 李四 signed in by hand at the dead CLK2 (temporary: counts); 王五's punches are in
    CLK2's memory. At 11:00 nobody is missing; 王五 is pending on CLK2."""
    punches = [
        punch("z1", at(8, 25)),
        punch("l1", at(8, 28), staff="S002", device=CLK2, verify=Verify.TEMPORARY),
        punch("l0", at(8, 10), staff="S002", verify=Verify.TEMPORARY),  # CLK1 was up
    ]
    now = at(11)
    h = heard_at(now, punches, CLK2_DOWN)
    zhang, li, wang = (
        sheet(punches, now, staff=p, avail=CLK2_DOWN, heard=h) for p in (ZHANG, LI, WANG)
    )
    assert zhang.sessions[0].check_in.mark is Mark.ON_TIME
    li_in = li.sessions[0].check_in
    assert li_in.mark is Mark.ON_TIME and li_in.punch is not None
    assert li_in.punch.source is Source.TEMPORARY
    assert {p.event_id: p.fate for p in li.punches}[EventId("l0")] is Fate.DEVICE_UP
    w = wang.sessions[0].check_in
    assert (w.mark, w.why, w.silent_clocks) == (Mark.PENDING, Why.CLOCK_SILENT, (CLK2,))
    assert wang.silent_clocks == (CLK2,)
    assert zhang.conditions == li.conditions == wang.conditions == ()
    text = render_text([zhang, li, wang], DAY, "某县政务服务中心")
    assert "CLK2" in text and "待定" in text


def test_grace_over_with_a_clock_still_silent_makes_it_final_and_names_the_clock() -> None:
    """Finalization grace: 2 h after the morning's last window (13:00) → 15:00."""
    now = at(15, 1)
    s = sheet([], now, staff=WANG, avail=CLK2_DOWN, heard=heard_at(now, [], CLK2_DOWN))
    w = s.sessions[0].check_in
    assert (w.mark, w.why, w.silent_clocks) == (Mark.MISSING, Why.NO_PUNCH_AFTER_GRACE, (CLK2,))
    assert s.silent_clocks == (CLK2,)
    assert rules(s)[:2] == [R.ATTENDANCE_MISSING_PUNCH] * 2


def test_backlog_uploaded_at_three_pm_settles_the_morning() -> None:
    """CLK2 dies at 07:45 and comes back at 15:00 with 王五's 08:20 and 12:05 punches."""
    avail = [*CLK2_DOWN, status(CLK2, True, at(15))]
    afternoon = punch("w3", at(13, 56), staff="S003")
    backlog = [
        punch("w1", at(8, 20), staff="S003", device=CLK2, received=at(15, 0, 10)),
        punch("w2", at(12, 5), staff="S003", device=CLK2, received=at(15, 0, 11)),
    ]
    early = at(14, 30)  # before: nothing of CLK2's morning is known
    s = sheet(
        [afternoon], early, staff=WANG, avail=avail, heard=heard_at(early, [afternoon], avail)
    )
    assert [e.mark for e in (s.sessions[0].check_in, s.sessions[0].check_out)] == [Mark.PENDING] * 2
    assert s.sessions[0].verdict is Verdict.PENDING and s.conditions == ()
    late = at(15, 20)  # after: CLK2 online for 20 min, backlog in
    everything = [afternoon, *backlog]
    s = sheet(everything, late, staff=WANG, avail=avail, heard=heard_at(late, everything, avail))
    assert marks(s)[:3] == [ON, ON, ON]
    assert s.sessions[0].final and s.sessions[0].verdict is Verdict.PRESENT
    assert s.silent_clocks == () and s.conditions == ()


def test_a_late_punch_waits_for_silent_clocks_that_may_hold_an_earlier_one() -> None:
    day = [punch("in", at(8, 50))]
    h = {CLK1: at(10, 50), CLK2: at(7, 40)}
    s = sheet(day, at(11), heard=h)
    assert s.sessions[0].check_in.mark is Mark.LATE and not s.sessions[0].check_in.final
    assert s.conditions == ()


# --- the calendar: swapped working Saturday, holiday, seasons --------------------------------


def test_swapped_working_saturday_has_a_sheet() -> None:
    """2026-10-10 is a Saturday worked in exchange for the National Day week (调休)."""
    sat = date(2026, 10, 10)
    s = sheet(full_day(day=sat), at(20, day=sat), day=sat)
    assert s.day == sat and marks(s) == [ON] * 4


@pytest.mark.parametrize("day", [date(2026, 10, 2), date(2026, 10, 11)])
def test_no_sheet_on_a_holiday_or_a_sunday(day: date) -> None:
    assert build_sheet(ZHANG, day, [], [], [], {}, CAL, CFG, at(20, day=day)) is None


def test_per_session_windows_from_configuration() -> None:
    """Two halls' rules (regulations.md): morning-in 08:20-09:00. A 09:05 punch is outside it."""
    cfg = AttendanceConfig.model_validate(
        {"sessions": [{"check_in": {"before_min": 10, "after_min": 30}}]}
    )
    s = sheet([punch("x", at(9, 5)), *full_day()[1:]], EVENING, cfg=cfg)
    assert s.sessions[0].check_in.opens == at(8, 20) and s.sessions[0].check_in.closes == at(9)
    assert s.sessions[0].check_in.mark is Mark.MISSING
    assert s.punches[0].fate is Fate.OUTSIDE


def test_config_forbids_unknown_keys_and_checks_thresholds() -> None:
    with pytest.raises(ValidationError):
        AttendanceConfig.model_validate({"grace": 5})
    with pytest.raises(ValidationError):
        AttendanceConfig(grace_min=20, half_day_min=15)
    assert CFG.half_day_min == 15 and CFG.makeup_working_days == 1
    assert CFG.finalize_grace_min == 120 and CFG.grace_min == 0


# --- properties --------------------------------------------------------------------------------

_RANK = {
    Verdict.PRESENT: 0,
    Verdict.COVERED: 0,
    Verdict.LATE: 1,
    Verdict.EARLY: 1,
    Verdict.LATE_AND_EARLY: 2,
    Verdict.MISSING_PUNCH: 3,
    Verdict.HALF_DAY_ABSENT: 4,
    Verdict.ABSENT: 5,
}


def _morning(in_at: datetime | None, out_at: datetime | None) -> int:
    day = [punch(n, t) for n, t in (("i", in_at), ("o", out_at)) if t is not None]
    s = sheet(day, EVENING)
    return _RANK[s.sessions[0].verdict]


minute_offsets = st.integers(min_value=-60, max_value=59)


@PROPERTY
@given(a=minute_offsets, b=minute_offsets)
def test_an_earlier_in_punch_never_makes_the_verdict_worse(a: int, b: int) -> None:
    early, late = sorted((a, b))
    start = at(8, 30)
    first = _morning(start + timedelta(minutes=early), at(12))
    second = _morning(start + timedelta(minutes=late), at(12))
    assert first <= second


@PROPERTY
@given(a=minute_offsets, b=minute_offsets)
def test_a_later_out_punch_never_makes_the_verdict_worse(a: int, b: int) -> None:
    early, late = sorted((a, b))
    end = at(12)
    assert _morning(at(8, 30), end + timedelta(minutes=late)) <= _morning(
        at(8, 30), end + timedelta(minutes=early)
    )


@PROPERTY
@given(
    extra=st.lists(st.integers(min_value=0, max_value=11 * 60), max_size=4),
    added=st.integers(min_value=0, max_value=11 * 60),
)
def test_one_more_punch_never_makes_a_session_worse(extra: list[int], added: int) -> None:
    base = [punch(f"p{i}", at(7, 30) + timedelta(minutes=m)) for i, m in enumerate(extra)]
    more = [*base, punch("added", at(7, 30) + timedelta(minutes=added))]
    for a, b in zip(sheet(base, EVENING).sessions, sheet(more, EVENING).sessions, strict=True):
        assert _RANK[b.verdict] <= _RANK[a.verdict]


@PROPERTY
@given(minutes=st.integers(min_value=0, max_value=7 * 60 - 1))
def test_no_missing_punch_while_a_clock_is_silent_before_the_grace(minutes: int) -> None:
    now = at(8) + timedelta(minutes=minutes)  # 08:00 .. 14:59, morning grace ends 15:00
    s = sheet([], now, heard={CLK1: now, CLK2: None})
    morning = s.sessions[0]
    assert Mark.MISSING not in (morning.check_in.mark, morning.check_out.mark)
    assert all(not c.qualifier.startswith("2026-10-09/am") for c in s.conditions)


# --- the leader's daily sheet ------------------------------------------------------------------


def _day_of_three() -> list[DaySheet]:
    punches = [
        *full_day(),
        punch("l1", at(8, 42), staff="S002"),
        *full_day("S002")[1:],
        punch("w3", at(13, 58), staff="S003"),
    ]
    return [sheet(punches, EVENING, staff=p) for p in (ZHANG, LI, WANG)]


def test_text_sheet_is_fixed_width_with_chinese_labels_and_a_signature_line() -> None:
    text = render_text(_day_of_three(), DAY, "某县政务服务中心")
    lines = text.splitlines()
    assert lines[0] == "某县政务服务中心 考勤日报"
    assert "日期：2026-10-09（星期五）" in lines[1]
    assert "【上午 08:30–12:00】" in lines and "【下午 14:00–17:30】" in lines
    assert any("08:42 迟到12分" in ln for ln in lines)
    assert any("王五" in ln and "旷工" in ln for ln in lines)
    assert SIGNATURE in lines
    block = lines[lines.index("【上午 08:30–12:00】") + 1 : lines.index("【上午 08:30–12:00】") + 6]
    verdict_col = {width(ln[: ln.rindex("  ") + 2]) for ln in block if not ln.startswith("-")}
    assert len(verdict_col) == 1  # the last column starts at the same width on every row


def test_html_sheet_is_a4_printable_with_a_table_per_session() -> None:
    odd = Staff(id="S009", name="<赵>&钱", department="sw")
    sheets = [*_day_of_three(), sheet(full_day("S009"), EVENING, staff=odd)]
    page = render_html(sheets, DAY, "某县政务服务中心")
    assert "@page { size: A4" in page and page.count("<table>") == 2
    assert "值班领导签字：" in page and 'lang="zh-CN"' in page
    assert "&lt;赵&gt;&amp;钱" in page and "<赵>" not in page
    assert "迟到12分" in page


def test_csv_has_a_row_per_expected_punch() -> None:
    text = render_csv(_day_of_three(), DAY, "某县政务服务中心")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert tuple(rows[0]) == CSV_HEAD and len(rows) == 1 + 3 * 4
    li_in = next(r for r in rows if r[1] == "S002" and r[5] == "签到" and r[4] == "上午")
    assert li_in[7] == "08:42:00" and li_in[10] == "late" and li_in[11] == "12"


def test_an_off_day_sheet_says_so() -> None:
    assert "非工作日" in render_text([], date(2026, 10, 2), "某县政务服务中心")


def test_just_after_a_window_closes_the_clocks_are_settling_not_silent() -> None:
    """Both clocks online and pushing: at 09:31 they are heard until 09:21 (10 min margin)."""
    now = at(9, 31)
    avail = [status(CLK1, True, at(6)), status(CLK2, True, at(6))]
    s = sheet([], now, avail=avail, heard=heard_at(now, [], avail))
    e = s.sessions[0].check_in
    assert (e.mark, e.why, e.silent_clocks) == (Mark.PENDING, Why.SETTLING, ())
    later = at(9, 41)
    s = sheet([], later, avail=avail, heard=heard_at(later, [], avail))
    assert s.sessions[0].check_in.mark is Mark.MISSING and s.silent_clocks == ()


_MINUTES = st.integers(6 * 60, 24 * 60 - 1)  # a minute of the day, 06:00-23:59


def _clock_time(minute: int) -> datetime:
    return at(minute // 60, minute % 60)


@given(
    st.lists(st.tuples(_MINUTES, st.sampled_from([CLK1, CLK2])), max_size=6),
    st.lists(
        st.tuples(_MINUTES, st.one_of(st.none(), _MINUTES), st.one_of(st.none(), _MINUTES)),
        min_size=2,
        max_size=40,
    ),
)
@example(punched=[], asks=[(575, 560, 560), (600, 560, 560)])  # both clocks turn quiet
@settings(max_examples=300, deadline=None)
def test_a_sheet_whose_reads_hold_is_the_sheet_built_again(
    punched: list[tuple[int, DeviceId]], asks: list[tuple[int, int | None, int | None]]
) -> None:
    """People (alerts/people.py `_sheet`) keeps a sheet while the answers it read of time and
    of the clocks hold: whenever they do, building it again must give the same sheet."""
    punches = [punch(f"p{i}", _clock_time(m), device=d) for i, (m, d) in enumerate(punched)]
    kept: list[DaySheet] = []
    for now_m, h1, h2 in asks:
        heard = {
            CLK1: None if h1 is None else _clock_time(h1),
            CLK2: None if h2 is None else _clock_time(h2),
        }
        now = _clock_time(now_m)
        got = build_sheet(ZHANG, DAY, punches, [], [], heard, CAL, CFG, now)
        assert got is not None
        for sheet in kept:
            if reads_hold(sheet, heard, now, CFG):
                assert sheet == got
        kept.append(got)

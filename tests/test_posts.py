"""Windows on post: examples at fixed instants (docs/people.md; 001_… 第五篇 4, 第一篇(九))."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.config import work_calendar
from alerts.events import StaffState, StaffStatus
from alerts.ids import DeviceId, EventId, StaffId, WindowId
from alerts.posts import PostsConfig, Reading, WindowFacts, assess_window
from alerts.rules import RuleId
from tests.hall import example

CAL = work_calendar(example())
CFG = PostsConfig()
ZONE = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)  # a working Monday, in the morning session
A, B1, B2 = StaffId("S005"), StaffId("S006"), StaffId("S007")
Statuses = dict[StaffId, list[tuple[EventId, StaffStatus]]]


def facts(*seat: tuple[float, bool], b_posts: tuple[StaffId, ...] = (B1, B2)) -> WindowFacts:
    """Seat readings at minutes after MON, with a heartbeat every minute between them."""
    f = WindowFacts(WindowId("W03"), A, b_posts, watched_by_neighbour=True)
    marks = sorted(seat)
    for i, (minute, present) in enumerate(marks):
        until = marks[i + 1][0] if i + 1 < len(marks) else minute + 120
        t = minute
        while t < until:
            f.add_reading(Reading(MON + timedelta(minutes=t), present, EventId(f"p{t}")))
            t += 1 if t + 1 <= until else until - t
    return f


def status(who: StaffId, state: StaffState, start: float, until: float | None = None) -> Statuses:
    st = StaffStatus(
        staff=who,
        state=state,
        ts=MON + timedelta(minutes=start),
        start=MON + timedelta(minutes=start),
        until=None if until is None else MON + timedelta(minutes=until),
        reason="窗口咨询" if state is StaffState.AWAY else None,
        contact="138" if state is StaffState.AWAY else None,
        whereabouts="三楼档案室" if state is StaffState.AWAY else None,
    )
    return {who: [(EventId(f"s-{who}-{start}"), st)]}


def rules(f: WindowFacts, statuses: Statuses | None = None, at: float = 60) -> list[RuleId]:
    """Rules whose condition has begun by `at` minutes after MON."""
    now = MON + timedelta(minutes=at)
    a = assess_window(f, statuses or {}, CAL, CFG)
    return [c.rule for c in a.conditions if c.start <= now]


def test_flicker_below_the_confirm_time_moves_nothing() -> None:
    f = facts((0, True))
    for second in (600, 630):  # empty for 30 s, twice
        t = MON + timedelta(seconds=second)
        f.add_reading(Reading(t, False, EventId(f"flick{second}")))
        f.add_reading(Reading(t + timedelta(seconds=30), True, EventId(f"back{second}")))
    assert rules(f) == []


def test_empty_six_minutes_is_yellow_sixteen_is_red() -> None:
    f = facts((0, True), (10, False), (40, True))
    assert rules(f, at=14.5) == []
    assert rules(f, at=16) == [RuleId.POST_UNSTAFFED_WARNING]
    now = rules(f, at=26)
    assert RuleId.POST_UNSTAFFED in now
    a = assess_window(f, {}, CAL, CFG)
    red = next(c for c in a.conditions if c.rule is RuleId.POST_UNSTAFFED)
    assert red.start == (MON + timedelta(minutes=25)).astimezone(red.start.tzinfo)
    assert red.end == MON + timedelta(minutes=40)  # back in the seat: the light clears
    warn = next(c for c in a.conditions if c.rule is RuleId.POST_UNSTAFFED_WARNING)
    assert warn.end == red.start  # the red takes over


def test_an_absence_notice_covers_its_span_and_then_expires() -> None:
    f = facts((0, True), (10, False))
    notice = status(A, StaffState.AWAY, 10, 25)  # 离岗告示 until 09:25
    assert rules(f, notice, at=24) == []
    a = assess_window(f, notice, CAL, CFG)
    warn = next(c for c in a.conditions if c.rule is RuleId.POST_UNSTAFFED_WARNING)
    assert warn.start == MON + timedelta(minutes=30)  # 5 minutes after the notice expired


def test_a_notice_covers_at_most_thirty_minutes() -> None:
    f = facts((0, True), (10, False))
    a = assess_window(f, status(A, StaffState.AWAY, 10, 120), CAL, CFG)
    warn = next(c for c in a.conditions if c.rule is RuleId.POST_UNSTAFFED_WARNING)
    assert warn.start == MON + timedelta(minutes=45)


def test_a_single_officer_window_needs_a_watching_neighbour_or_a_named_substitute() -> None:
    alone = facts((0, True), (10, False), b_posts=())
    alone.watched_by_neighbour = False
    assert RuleId.POST_UNSTAFFED_WARNING in rules(alone, status(A, StaffState.AWAY, 10, 25), 16)


def test_a_on_leave_with_b1_in_the_seat_is_green() -> None:
    f = facts((0, True))
    assert rules(f, status(A, StaffState.LEAVE, 0)) == []


def test_a_and_b1_away_with_b2_on_post_is_green() -> None:
    f = facts((0, True))
    away = {**status(A, StaffState.LEAVE, 0), **status(B1, StaffState.TRIP, 0)}
    assert rules(f, away) == []


def test_a_and_every_b_away_is_red() -> None:
    f = facts((0, True))
    away = {
        **status(A, StaffState.LEAVE, 0),
        **status(B1, StaffState.TRIP, 5),
        **status(B2, StaffState.MEETING, 20, 50),
    }
    a = assess_window(f, away, CAL, CFG)
    ab = [c for c in a.conditions if c.rule is RuleId.POST_AB_UNCOVERED]
    assert [(c.start, c.end) for c in ab] == [
        (MON + timedelta(minutes=20), MON + timedelta(minutes=50))
    ]


def test_a_and_every_b_away_ends_only_once_the_statuses_are_heard_past_its_end() -> None:
    """Event time: B2's notice says until 09:50, but an earlier return may still be queued
    behind what the case system sent so far; the red ends at 09:50 once it is heard past it."""
    f = facts((0, True))
    away = {
        **status(A, StaffState.LEAVE, 0),
        **status(B1, StaffState.TRIP, 5),
        **status(B2, StaffState.MEETING, 20, 50),
    }

    def ab(heard: float) -> list[tuple[datetime, datetime | None]]:
        a = assess_window(f, away, CAL, CFG, MON + timedelta(minutes=heard))
        return [(c.start, c.end) for c in a.conditions if c.rule is RuleId.POST_AB_UNCOVERED]

    assert ab(19) == []  # not known yet
    assert ab(40) == [(MON + timedelta(minutes=20), None)]  # holds on: its end is not heard
    assert ab(55) == [(MON + timedelta(minutes=20), MON + timedelta(minutes=50))]


def test_camera_offline_is_unknown_not_red() -> None:
    f = facts((0, True), (10, False))
    f.camera(False, MON + timedelta(minutes=11))  # the camera drops out: nobody knows
    f.readings = [r for r in f.readings if r.ts <= MON + timedelta(minutes=11)]
    a = assess_window(f, {}, CAL, CFG)
    assert a.conditions == ()
    assert a.unknown[0] == (MON + timedelta(minutes=11), None)


def test_a_silent_camera_is_unknown_after_the_heartbeat_timeout() -> None:
    f = WindowFacts(WindowId("W03"), A, (B1,), watched_by_neighbour=True)
    f.add_reading(Reading(MON, False, EventId("last")))
    a = assess_window(f, {}, CAL, CFG)
    assert a.unknown == ((MON + timedelta(seconds=CFG.heartbeat_timeout_s), None),)
    assert a.conditions == ()  # 3 minutes of known emptiness never reach the 5-minute yellow


def test_the_lunch_break_does_not_count() -> None:
    """Empty from 11:58: 2 working minutes before lunch, so yellow at 14:03 (sessions 08:30–12:00,
    14:00–17:30 in the example hall)."""
    f = facts((0, True), (178, False), (330, True))
    a = assess_window(f, {}, CAL, CFG)
    warn = next(c for c in a.conditions if c.rule is RuleId.POST_UNSTAFFED_WARNING)
    assert warn.start == MON.replace(hour=14, minute=3)


def test_checkpoints_fire_on_a_swapped_saturday_never_on_a_holiday_and_catch_up() -> None:
    """The time-driven checks follow the calendar (2026: 10-10 worked, 10-01..07 off), and a
    daemon down for days runs every missed day's checks at their own times (docs/people.md)."""
    from alerts.cards import CardEngine
    from alerts.people import Check, People
    from alerts.supervision import policy

    cfg = example()
    people = People(cfg, CAL, CardEngine(CAL, policy(cfg), {}))
    people.tick(datetime(2026, 9, 29, 20, 0, tzinfo=ZONE))
    people.tick(datetime(2026, 10, 12, 20, 0, tzinfo=ZONE))  # down from 09-30 to 10-12
    assert not people.due(datetime(2026, 10, 12, 20, 0, tzinfo=ZONE))
    planned = sorted(d.isoformat() for d in people._planned if CAL.is_working_day(d))
    assert "2026-10-10" in planned and "2026-10-09" in planned and "2026-09-30" in planned
    assert {date(2026, 10, 2), date(2026, 10, 11)} <= people._planned  # looked at, off
    # Off days are looked at, but no sheet checkpoint is ever planned on them.
    people2 = People(cfg, CAL, CardEngine(CAL, policy(cfg), {}))
    people2._plan(date(2026, 10, 2))
    assert not [c for c in people2._checks if c[1] is Check.SHEETS]
    people2._plan(date(2026, 10, 10))
    assert [c for c in people2._checks if c[1:] == (Check.SHEETS, date(2026, 10, 10))]


def test_a_seat_warning_raises_and_clears_at_the_readings_instants_wherever_ticks_fall() -> None:
    """Event time: the camera is heard up to its latest reading; nothing after it is judged.
    The seat of W03 is empty from 09:10 to 09:17 (yellow from 09:15, cleared at 09:17), its
    readings arriving a minute apart; ticking after every reading, after every tenth, or once
    at the end gives the same transitions (the tick's own instant is always later)."""
    from alerts.cards import CardEngine
    from alerts.events import Presence
    from alerts.people import People
    from alerts.supervision import policy

    cfg = example()
    window = WindowId(cfg.windows[0].window_id)
    cam = DeviceId(next(c.id for c in cfg.cameras if window in c.windows))
    seat = [(m, not 10 <= m < 17) for m in range(0, 40)]
    lag = timedelta(minutes=30)  # the daemon's clock runs ahead of the readings (a backlog)

    def run(every: int) -> list[bytes]:
        people = People(cfg, CAL, CardEngine(CAL, policy(cfg), {}))
        out = []
        for i, (minute, present) in enumerate(seat):
            t = MON + timedelta(minutes=minute)
            ev = Presence(camera=cam, window=window, present=present, persons=int(present), ts=t)
            people.presence(EventId(f"r{minute}"), ev)
            if (i + 1) % every == 0 or i == len(seat) - 1:
                out += people.tick(t + lag)
        return [msgspec.json.encode(t.payload()) for t in out if t.rule.value.startswith("post.")]

    reference = run(len(seat))
    assert len(reference) == 2  # raised at 09:15, cleared at 09:17
    assert run(1) == run(10) == reference


def test_a_cameras_status_read_from_a_queue_vouches_for_nothing_past_its_readings() -> None:
    """A camera is heard as far as its readings go, never to a status's receive time: read
    from a queue hours late, `offline` would otherwise say the seat was known up to then, and a
    warning would end at the heartbeat timeout instead of at the officer's return still queued
    behind it (the fault suite's kill test found it)."""
    f = WindowFacts(WindowId("W12"), A, (), watched_by_neighbour=True)
    t = datetime(2026, 11, 30, 16, 51, 36, tzinfo=ZONE)
    f.add_reading(Reading(t, False, EventId("r1")))
    f.camera(False, t + timedelta(hours=3))  # received at the end of the day
    f.camera(True, t + timedelta(hours=3, seconds=1))
    assert f.heard_until() == t


@st.composite
def _seat_story(draw: st.DrawFn) -> list[tuple[str, Reading | float]]:
    """Readings in mostly increasing time (some late, some long silences), with ticks and
    a forgotten morning between them."""
    steps: list[tuple[str, Reading | float]] = []
    t = 0.0
    for i in range(draw(st.integers(1, 80))):
        t += draw(st.sampled_from([0.2, 0.5, 1.0, 1.0, 1.0, 2.0, 4.0]))
        late = draw(st.sampled_from([0.0, 0.0, 0.0, 0.0, 1.5, 6.0]))
        r = Reading(MON + timedelta(minutes=t - late), draw(st.booleans()), EventId(f"p{i:03d}"))
        steps.append(("read", r))
        action = draw(st.sampled_from(["", "", "tick", "tick", "forget", "notice"]))
        if action:
            steps.append((action, t - draw(st.sampled_from([0.0, 3.0, 30.0]))))
    return steps


@given(_seat_story(), st.integers(0, 120), st.integers(60, 240))
@settings(max_examples=300, deadline=None)
def test_a_tick_that_reads_only_new_readings_judges_as_one_that_reads_them_all(
    steps: list[tuple[str, Reading | float]], confirm_s: int, timeout_s: int
) -> None:
    cfg = PostsConfig(confirm_s=confirm_s, heartbeat_timeout_s=timeout_s)
    kept = facts()  # the window as the daemon keeps it: one scan carried from tick to tick
    kept.readings.clear()
    said: Statuses = {}  # statuses only grow, as People keeps them
    for action, arg in steps:
        if isinstance(arg, Reading):
            kept.add_reading(arg)
            continue
        if action == "forget":
            kept.forget_before(MON + timedelta(minutes=arg))
        if action == "notice":
            eid, notice = status(A, StaffState.AWAY, arg, arg + 10)[A][0]
            said.setdefault(A, []).append((EventId(f"{eid}-{len(said.get(A, []))}"), notice))
            continue
        fresh = facts()
        fresh.readings[:] = kept.readings
        fresh.offline = list(kept.offline)
        assert assess_window(kept, said, CAL, cfg) == assess_window(fresh, said, CAL, cfg)
    fresh = facts()
    fresh.readings[:] = kept.readings
    assert assess_window(kept, said, CAL, cfg) == assess_window(fresh, said, CAL, cfg)

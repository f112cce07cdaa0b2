"""A seat's presence flickering does not flap its warning (docs/people.md, `confirm_s`).

Found in a simulated day: two breaks of one officer drawn a few seconds apart leave the seat
"occupied" for 5 s between them; the post rules ended the absence there, so its yellow was
raised, closed, raised again and closed, and a long enough absence never turned red. A
seat is now occupied again only once it has been seen occupied for `confirm_s` (001_…
第五篇 4 离岗告示: the absence is one absence).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.cards import Why
from alerts.config import work_calendar
from alerts.contract import Accepted, decode, derived_id
from alerts.events import Recorded
from alerts.ids import EventId, StaffId, WindowId
from alerts.posts import PostsConfig, Reading, WindowFacts, assess_window
from alerts.rules import RuleId
from alerts.supervision import Supervision
from devices.simulation.model import Hall, Params, merge
from devices.simulation.people import plan_staffing
from devices.simulator import simulate_day
from monitor.ingest.ingestor import Rules
from tests.hall import example

CFG = example()
CAL = work_calendar(CFG)
POSTS = PostsConfig()
ZONE = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)  # a working Monday, morning session
WARN, RED = RuleId.POST_UNSTAFFED_WARNING, RuleId.POST_UNSTAFFED


def seat(spells: Sequence[tuple[float, float, bool]], every: float = 60) -> WindowFacts:
    """Readings at each change and a heartbeat every `every` s: (from s, to s, present)."""
    f = WindowFacts(WindowId("W03"), StaffId("S005"), (StaffId("S006"),), True)
    for a, b, present in spells:
        t = a
        while t < b:
            f.add_reading(Reading(MON + timedelta(seconds=t), present, EventId(f"r{t}")))
            t = min(t + every, b)
    return f


def conditions(f: WindowFacts) -> list[tuple[RuleId, datetime, datetime | None]]:
    a = assess_window(f, {}, CAL, POSTS)
    return [(c.rule, c.start, c.end) for c in a.conditions]


def at(seconds: float) -> datetime:
    return MON + timedelta(seconds=seconds)


def test_an_occupied_flicker_inside_an_absence_neither_clears_nor_restarts_it() -> None:
    # Empty from 09:00 for 20 min, "occupied" for 10 s every 4 minutes, then back for good.
    spells: list[tuple[float, float, bool]] = []
    for k in range(5):
        spells += [(240 * k, 240 * k + 230, False), (240 * k + 230, 240 * k + 240, True)]
    spells += [(1200, 1260, False), (1260, 1500, True)]
    assert conditions(seat(spells)) == [
        (WARN, at(300), at(900)),  # one warning, from 5 min …
        (RED, at(900), at(1260)),  # … red at 15 min, until the officer is back for good
    ]


def test_a_return_ends_the_absence_at_its_first_reading_once_seen_for_the_confirm_time() -> None:
    f = seat([(0, 420, False), (420, 440, True)])  # back at 09:07, heard for 20 s so far
    assert conditions(f) == [(WARN, at(300), None)]  # a return or a flicker: not known yet
    f.add_reading(Reading(at(480), True, EventId("r480")))  # seen occupied for 60 s
    assert conditions(f) == [(WARN, at(300), at(420))]  # cleared at the return's instant


def test_an_empty_flicker_inside_an_occupied_seat_still_moves_nothing() -> None:
    f = seat([(0, 600, True), (600, 630, False), (630, 1200, True)], every=30)
    assert conditions(f) == []


def _run_day(day: date, seed: int) -> Supervision:
    """The simulator's day into the rules in order, ticking every 30 s of its time."""
    rules = Rules.of(CFG)
    sup = Supervision(CFG)
    last: datetime | None = None
    for seq, m in enumerate(simulate_day(CFG, day, seed), start=1):
        d = decode(m.topic, m.payload, m.at, rules.hall, rules.directory, rules.limits)
        assert isinstance(d, Accepted), (m.topic, m.payload, d)
        if last is None or m.at - last >= timedelta(seconds=30):
            sup.tick(m.at)
            last = m.at
        eid = d.event_id or EventId(derived_id(m.topic, m.payload + m.at.isoformat().encode()))
        sup.apply(Recorded(seq, eid, m.at, d.event))
    assert last is not None
    sup.tick(last + timedelta(minutes=5))
    return sup


def test_a_simulated_day_gives_one_warning_per_absence() -> None:
    """Seed 14, 2026-11-25: W20's officer is off the seat 09:55:10–10:09:19 but for 5 s at
    10:02:05. Every warning of the day clears where an occupied spell of at least
    `confirm_s` begins (the simulator's own seat plan), never at a flicker."""
    day, seed = date(2026, 11, 25), 14
    sup = _run_day(day, seed)
    plan = plan_staffing(Hall(CFG, CAL), day, seed, Params()).seats
    confirm = timedelta(seconds=CFG.posts.confirm_s)
    warnings = [c for c in sup.engine.cards.values() if c.rule is WARN]
    assert warnings
    for card in warnings:
        spells = merge((a, b) for a, b, _ in plan[str(card.subject.window)])
        returns = {a for a, b in spells if b - a >= confirm}
        end = card.history[-1]
        if end.why is Why.CLEARED:
            assert end.ts in returns, f"{card.subject.window}: {card.raised_at} cleared {end.ts}"
    w20 = sorted(
        (c.raised_at, c.history[-1].ts)
        for c in warnings
        if c.subject.window == "W20" and c.raised_at.astimezone(ZONE).hour == 10
    )
    ten = datetime(2026, 11, 25, 10, tzinfo=ZONE)
    assert w20 == [(ten.replace(second=10), ten.replace(minute=9, second=19))]

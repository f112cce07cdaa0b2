"""Case clocks (alerts/cases.py) as a state machine: accept, suspend, resume, extend, complete.

Hypothesis drives one promised case (承诺件) through those events in any order, each at a
fixed instant after the last (a fake clock that only moves forward), and after every step
compares `assess` with a model written here: a clock that runs, pauses, stops or has passed
its deadline, moved by each event as it comes (docs/cards.md "Working days",
"Which limit runs"):
- the promised limit runs from acceptance; each suspension that begins before the deadline
  moves it by exactly the working time it covered; while suspended there is no deadline, and a
  suspension that covered no working time (a lunch break) never happened;
- an extension made before the deadline then in force replaces it (`extra_days` added, or
  `new_deadline`); one made after it passed moves nothing and is a breach (`000_…` 四(五));
  the legal limit is walked through the same suspensions but no extension;
- a warning holds from 1 working day before the deadline in force until the finish or the
  deadline; contiguous parts make one warning;
- the first `accepted` and the first `completed` count; a second `suspended` while suspended
  and a `resumed` without a suspension change nothing;
- with the hall's leaders known, an extension counts only if a leader approved it, with a
  reason and the applicant told; any other is `case.extension.unapproved` at its instant and
  moves nothing, not even into a late one (`000_…` 四(五)); with 超时默认 on (`003_…` 三) the
  case is deemed approved when its promised limit passes still open.

The calendar is the real 2026 one (chinesecalendar, 调休 included); the start instants sit in
the weeks around the 2026 holidays and their swapped working days. The model counts periods of
working days with chinesecalendar itself (tests/calendar_oracle.py), not alerts/workdays.py,
and takes only working time (suspensions) and the warning lead from the hall's calendar; every
deadline is checked against chinesecalendar and the service hours: it never falls on an off
day. Not modelled: events at one instant (ordered by lifecycle rank), an extension before the
acceptance, a `new_deadline` on an off day.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from alerts.cases import Assessment, Condition, Entry, assess
from alerts.events import CaseAction, CaseKind, Outcome
from alerts.ids import CaseId, EventId
from alerts.rules import Policy, RuleId
from tests.calendar_oracle import in_service_hours_of_a_working_day, period_end, working_day_after
from tests.case_builders import CAL, LEADER, OFFICER, SHANGHAI, Story, at

R, A = RuleId, CaseAction
MINUTE = timedelta(minutes=1)
WARN_DAYS = Policy().warning_for(CaseKind.PROMISED)
LEADERS = frozenset({LEADER})
# How an extension was approved: the fields it carries. Only "proper" counts once the hall's
# leaders are known (the case's officer S001 is no leader).
APPROVALS: dict[str, dict[str, object]] = {
    "proper": {"approved_by": LEADER, "reason": "需现场核查", "applicant_told": True},
    "by the officer": {"approved_by": OFFICER, "reason": "需现场核查", "applicant_told": True},
    "by nobody": {"reason": "需现场核查", "applicant_told": True},
    "without a reason": {"approved_by": LEADER, "reason": " ", "applicant_told": True},
    "applicant not told": {"approved_by": LEADER, "reason": "需现场核查"},
}
APPROVAL = st.sampled_from(["proper", "proper", *APPROVALS])
# Weeks around the 2026 holidays (国务院办公厅 2026 通知): New Year (Sun 4 Jan worked), Spring
# Festival (Sat 14 and Sat 28 Feb worked), Qingming, May Day (Sat 9 May worked), Dragon Boat,
# Mid-Autumn and National Day (Sun 20 Sep and Sat 10 Oct worked); one plain March week.
STARTS = [
    at(2026, 1, 2, 16),
    at(2026, 2, 12, 10),
    at(2026, 2, 13, 17, 45),
    at(2026, 3, 9, 10),
    at(2026, 4, 3, 11, 50),
    at(2026, 4, 30, 15),
    at(2026, 6, 18, 9),
    at(2026, 9, 18, 12, 30),
    at(2026, 9, 30, 10),
]
# Everything stays in 2026, a year the library holds: no deadline is estimated.
CAP = at(2026, 11, 1)
WAITS = st.one_of(
    st.integers(1, 90).map(lambda m: m * MINUTE),
    st.integers(1, 30).map(lambda h: timedelta(hours=h)),
    st.integers(1, 4).map(lambda d: timedelta(days=d)),
)


# --- the model ------------------------------------------------------------------------------


def warning_part(
    a: datetime, b: datetime | None, due: datetime
) -> tuple[datetime, datetime, bool] | None:
    """The warning within [a, b) (b None: open) while `due` is in force; superseded when it
    ran into the deadline."""
    begin = max(a, CAL.working_days_before(due, WARN_DAYS))
    end = due if b is None else min(b, due)
    if begin >= end:
        return None
    return begin, end, end == due and (b is None or b > due)


@dataclass
class Clock:
    """One limit, moved by the events as they come, in time order.

    `due` is the deadline in force while the clock runs; `held` the one a resume will move
    while it is paused. `passed` once an event came after the deadline with the clock running:
    from then on nothing moves it. `stopped` once the case finished.
    """

    extensible: bool  # the promised limit: extensions and warnings; the legal one: neither
    due: datetime | None = None
    held: datetime | None = None
    paused_at: datetime | None = None  # when the pause began (for the zero-length check)
    since: datetime | None = None  # from when the pause moves `held`
    stretch: datetime | None = None  # start of the current running stretch (for warnings)
    passed: bool = False
    stopped: datetime | None = None
    stopped_late: bool = False
    warnings: list[tuple[datetime, datetime, bool]] = field(default_factory=list)
    used: list[EventId] = field(default_factory=list)
    late: list[Entry] = field(default_factory=list)
    # The state before the pause and the events during it: a pause that turns out to cover no
    # working time is undone and those events applied to a running clock.
    before_pause: Clock | None = None
    during: list[Entry] = field(default_factory=list)

    def start(self, acc: Entry, base: datetime, paused: bool, finished: bool) -> None:
        self.due, self.stretch = base, acc.ts
        if finished:  # completed before it was accepted: nothing runs
            self.stopped = acc.ts
        elif paused:
            event("accepted while suspended")
            self.pause(acc.ts)

    def _warn(self, b: datetime | None) -> None:
        if not self.extensible or self.due is None or self.stretch is None:
            return
        part = warning_part(self.stretch, b, self.due)
        if part is None:
            return
        if self.warnings and self.warnings[-1][1] == part[0]:
            part = (self.warnings.pop()[0], part[1], part[2])
        self.warnings.append(part)

    def _check_passed(self, u: datetime) -> bool:
        """An event at `u` after the deadline with the clock running: the deadline passed."""
        if self.stopped is None and not self.passed and self.due is not None and self.due < u:
            self._warn(u)
            self.passed = True
        return self.passed or self.stopped is not None

    def pause(self, u: datetime) -> None:
        if self._check_passed(u) or self.due is None:
            return
        self.before_pause, self.during = copy.deepcopy(self), []
        self._warn(u)
        self.held, self.due, self.paused_at, self.since = self.due, None, u, u

    def resume(self, u: datetime) -> None:
        if self.paused_at is None:
            return
        before, during, paused_at = self.before_pause, self.during, self.paused_at
        self.before_pause, self.during, self.paused_at = None, [], None
        if not CAL.working_time(paused_at, u):  # outside service hours: it never happened
            event("a suspension covered no working time")
            assert before is not None
            self.__dict__.update(before.__dict__)
            for e in during:
                self.on(e)
            return
        if self.stopped is not None:  # finished while suspended: nothing moves any more
            return
        assert self.held is not None and self.since is not None
        self.due = CAL.add_working_time(self.held, CAL.working_time(self.since, u)).at
        self.held, self.stretch = None, u

    def on(self, e: Entry) -> None:
        """An extension or the finish (suspensions come through `pause` and `resume`)."""
        if self.paused_at is not None:
            self.during.append(e)
        if e.event.action is A.COMPLETED:
            self._complete(e)
        elif self.extensible:
            self._extend(e)

    def _complete(self, e: Entry) -> None:
        if self.stopped is not None:
            return
        self._check_passed(e.ts)
        if not self.passed:
            self._warn(e.ts)
        self.stopped, self.stopped_late = e.ts, self.passed
        how = "late" if self.passed else "while suspended" if self.due is None else "in time"
        event(f"finished {how}")

    def _extend(self, e: Entry) -> None:
        if self._check_passed(e.ts):
            if self.passed:
                event("an extension after the deadline")
                self.late.append(e)
            return
        ev = e.event
        if self.due is None:  # suspended: the held deadline is extended
            event("an extension while suspended")
            assert self.held is not None
            self.held = moved(self.held, ev.extra_days, ev.new_deadline)
            if ev.new_deadline is not None:
                self.since = e.ts
        else:
            self._warn(e.ts)
            self.due, self.stretch = moved(self.due, ev.extra_days, ev.new_deadline), e.ts
        self.used.append(e.event_id)

    def overdue(self) -> tuple[datetime, datetime | None] | None:
        """The breach of this limit: from the deadline until the finish."""
        if self.due is None or (self.stopped is not None and not self.stopped_late):
            return None
        return self.due, self.stopped

    def warning_list(self) -> list[tuple[datetime, datetime, bool]]:
        if self.stopped is not None or self.passed or self.due is None:
            return self.warnings
        part = warning_part(self.stretch or self.due, None, self.due)
        out = list(self.warnings)
        if part is not None and out and out[-1][1] == part[0]:
            part = (out.pop()[0], part[1], part[2])
        return [*out, part] if part is not None else out


def moved(due: datetime, extra_days: int | None, new_deadline: datetime | None) -> datetime:
    if new_deadline is not None:
        return new_deadline
    return period_end(due, extra_days) if extra_days else due


@dataclass
class CaseModel:
    """What the events of one promised case should give, event by event."""

    policy: Policy = field(default_factory=Policy)
    acc: Entry | None = None
    fin: Entry | None = None
    suspended_since: datetime | None = None
    promised: Clock = field(default_factory=lambda: Clock(extensible=True))
    legal: Clock | None = None
    unapproved: list[Entry] = field(default_factory=list)

    def clocks(self) -> list[Clock]:
        return [c for c in (self.promised, self.legal) if c is not None and self.acc is not None]

    def on(self, e: Entry) -> None:
        action = e.event.action
        if action is A.ACCEPTED and self.acc is None:
            self._accept(e)
        elif action is A.SUSPENDED and self.suspended_since is None:
            self.suspended_since = e.ts
            for c in self.clocks():
                c.pause(e.ts)
        elif action is A.RESUMED and self.suspended_since is not None:
            self.suspended_since = None
            for c in self.clocks():
                c.resume(e.ts)
        elif action is A.EXTENDED and not self._approved(e):
            self.unapproved.append(e)
        elif action is A.COMPLETED or action is A.EXTENDED:
            self.fin = self.fin or (e if action is A.COMPLETED else None)
            for c in self.clocks():
                c.on(e)

    def _approved(self, e: Entry) -> bool:
        leaders, ev = self.policy.leaders, e.event
        if leaders is None:
            return True
        told = ev.applicant_told is True and bool((ev.reason or "").strip())
        return ev.approved_by in leaders and ev.approved_by != OFFICER and told

    def _accept(self, e: Entry) -> None:
        self.acc = e
        ev = e.event
        assert ev.promised_days is not None
        paused, done = self.suspended_since is not None, self.fin is not None
        self.promised.start(e, period_end(e.ts, ev.promised_days), paused, done)
        if ev.legal_days is not None:
            self.legal = Clock(extensible=False)
            self.legal.start(e, period_end(e.ts, ev.legal_days), paused, done)

    def due(self) -> datetime | None:
        return self.promised.due if self.acc is not None else None

    def conditions(self) -> list[Condition]:
        acc = self.acc
        if acc is None:
            return []
        done = (self.fin.event_id,) if self.fin is not None else ()
        ids = (acc.event_id, *self.promised.used)
        out = [
            Condition(R.PROMISED_WARNING, "", b, e, False, ids, sup)
            for b, e, sup in self.promised.warning_list()
        ]
        out += [
            Condition(R.EXTENSION_LATE, x.event_id, x.ts, x.ts, False, (x.event_id,))
            for x in self.promised.late
        ]
        out += [
            Condition(R.EXTENSION_UNAPPROVED, x.event_id, x.ts, x.ts, False, (x.event_id,))
            for x in self.unapproved
        ]
        if (over := self.promised.overdue()) is not None:
            out.append(Condition(R.PROMISED_OVERDUE, "", *over, False, (*ids, *done)))
            if self.policy.deemed_approval:
                out.append(Condition(R.DEEMED_APPROVED, "", over[0], over[0], False, ids))
        if self.legal is not None and (over := self.legal.overdue()) is not None:
            out.append(Condition(R.LEGAL_OVERDUE, "", *over, False, (acc.event_id, *done)))
        return sorted(out, key=condition_key)


def condition_key(c: Condition) -> tuple[str, str, datetime]:
    return c.rule.value, c.qualifier, c.start


# --- the machine ----------------------------------------------------------------------------


class CaseClockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.story = Story(kind=CaseKind.PROMISED)
        self.policy = Policy()
        self.model = CaseModel()
        self.now = STARTS[0]
        self.last: datetime | None = None

    @initialize(start=st.sampled_from(STARTS), leaders=st.booleans(), deemed=st.booleans())
    def begin(self, start: datetime, leaders: bool, deemed: bool) -> None:
        """A hall with its leaders known or not (the core alone), 超时默认 on or off."""
        self.now = start
        self.policy = Policy(leaders=LEADERS if leaders else None, deemed_approval=deemed)
        self.model = CaseModel(policy=self.policy)

    def _event(self, action: CaseAction, **fields: object) -> None:
        """At `now`, or a minute after the last event: events are strictly after one another
        (ties at one instant, ordered by lifecycle rank, are not modelled)."""
        if self.last is not None and self.now <= self.last:
            self.now = self.last + MINUTE
        entry = self.story.add(action, self.now, **fields)
        self.model.on(entry)
        self.last = self.now

    # time ---------------------------------------------------------------------------------

    @rule(wait=WAITS)
    def wait(self, wait: timedelta) -> None:
        if self.now < CAP:  # a rule without precondition: hypothesis never runs out of rules
            self.now += wait

    @rule(which=st.sampled_from(["promised", "legal"]), offset=st.sampled_from([-1, 0, 1]))
    def to_the_deadline(self, which: str, offset: int) -> None:
        """Jump to a minute before, at, or a minute after a deadline in force: the edges."""
        clock = self.model.promised if which == "promised" else self.model.legal
        if clock is not None and clock.due is not None and clock.due + offset * MINUTE > self.now:
            self.now = clock.due + offset * MINUTE

    # events -------------------------------------------------------------------------------

    @rule(days=st.integers(0, 5), legal=st.none() | st.integers(0, 12))
    def accept(self, days: int, legal: int | None) -> None:
        self._event(A.ACCEPTED, promised_days=days, legal_days=legal)

    @rule()
    def suspend(self) -> None:
        self._event(A.SUSPENDED, reason="补正材料")

    @rule()
    def resume(self) -> None:
        self._event(A.RESUMED, reason="材料已补齐")

    @rule(days=st.integers(1, 3), approval=APPROVAL)
    def extend_by_days(self, days: int, approval: str) -> None:
        if self.model.acc is None:  # nothing to extend yet (an extension first is not modelled)
            return
        event(f"an extension {approval}")
        self._event(A.EXTENDED, extra_days=days, **APPROVALS[approval])

    @rule(
        days=st.integers(1, 8), close=st.sampled_from([time(12), time(17, 30)]), approval=APPROVAL
    )
    def extend_to_a_date(self, days: int, close: time, approval: str) -> None:
        """A new deadline: a session's end on a working day (chinesecalendar)."""
        if self.model.acc is None:
            return
        day = working_day_after(self.now.astimezone(SHANGHAI).date(), days)
        new = datetime.combine(day, close, SHANGHAI)
        self._event(A.EXTENDED, new_deadline=new, **APPROVALS[approval])

    @rule()
    def complete(self) -> None:
        self._event(A.COMPLETED, outcome=Outcome.APPROVED)

    # invariants ---------------------------------------------------------------------------

    def _assess(self) -> Assessment:
        return self.story.assess(self.policy)

    @invariant()
    @precondition(lambda self: self.story.entries)
    def matches_the_model(self) -> None:
        a = self._assess()
        due = self.model.due()
        assert (a.due.at if a.due else None) == due
        assert sorted(a.conditions, key=condition_key) == self.model.conditions()
        deemed = [c.start for c in a.conditions if c.rule is R.DEEMED_APPROVED]
        assert a.deemed_approved_at == (deemed[0] if deemed else None)

    @invariant()
    @precondition(lambda self: self.story.entries)
    def a_deadline_never_falls_on_an_off_day(self) -> None:
        a = self._assess()
        deadlines = [
            c.start for c in a.conditions if c.rule in (R.PROMISED_OVERDUE, R.LEGAL_OVERDUE)
        ]
        if a.due is not None:
            assert not a.due.estimated
            deadlines.append(a.due.at)
        assert a.unknown_years == frozenset()
        for t in deadlines:
            assert in_service_hours_of_a_working_day(t), t.astimezone(SHANGHAI)

    @invariant()
    @precondition(lambda self: self.story.entries)
    def the_order_learned_does_not_matter(self) -> None:
        entries = self.story.entries
        shuffled = assess(CaseId(self.story.case), entries[::-1], CAL, self.policy)
        assert shuffled == self._assess()


CaseClockMachine.TestCase.settings = settings(
    max_examples=400, stateful_step_count=40, deadline=None
)
TestCaseClocks = CaseClockMachine.TestCase

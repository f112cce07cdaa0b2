"""Case clocks: from one case's events to the conditions its cards stand for. Pure.

`assess` reads a case's journaled events in the order of their own timestamps (a late
upload lands where it belongs) and returns every rule condition with the instant it began to
hold and, if known, the instant it stopped. It does not look at the clock: a condition that
begins in the future is simply one whose start is later than `now` when the engine looks.

Clock rules (DOMAIN.md "Case kinds and their clocks"; thresholds from `Policy`):
- The promised (or legal) limit of N working days runs from acceptance to close of business of
  the Nth working day (monitor/workdays.py). A special case carries its own instant.
- A suspension (`suspended` → `resumed`, or a reported-up case from `reported_up` to
  `reply_received`) that begins before the deadline moves it forward by exactly the working
  time it covered; while a suspension is open the clock has no deadline.
- An extension counts only if made before the deadline then in force; a later one is itself a
  breach (`case.extension.late`) and moves nothing (000_… 四(五)).
- A case is finished by `completed` (or, for a refusal at the window, `returned`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.rules import Policy, RuleId
from monitor.events import CaseAction, CaseEvent, CaseKind, Outcome, ReviewVerdict
from monitor.ids import CaseId, EventId, StaffId, WindowId
from monitor.workdays import Due, WorkCalendar

A = CaseAction
_PROMISED_KINDS = (CaseKind.PROMISED, CaseKind.JOINT, CaseKind.REPORTED, CaseKind.SUPPLEMENT)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journaled case event: its own time, its journal position and id."""

    ts: datetime
    seq: int
    event_id: EventId
    event: CaseEvent


@dataclass(frozen=True, slots=True)
class Condition:
    rule: RuleId
    qualifier: str  # which step, or "" when the rule has one condition per case
    start: datetime  # when it began to hold
    end: datetime | None  # when it stopped holding; None while it still does
    estimated: bool  # depends on a year whose holiday schedule is unknown
    evidence: tuple[EventId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    case: CaseId
    kind: CaseKind | None
    window: WindowId | None
    staff: StaffId | None
    received_at: datetime | None
    accepted_at: datetime | None
    finished_at: datetime | None
    outcome: Outcome | None
    promised_days: int | None
    due: Due | None  # the limit in force; None while suspended or without a limit
    conditions: tuple[Condition, ...]
    unknown_years: frozenset[int]

    @property
    def open(self) -> bool:
        return self.finished_at is None


@dataclass(slots=True)
class _Step:
    started: datetime
    days: int
    evidence: list[EventId]
    finished: datetime | None = None


@dataclass(slots=True)
class _Facts:
    """What the events say, gathered in one pass in time order."""

    kind: CaseKind | None = None
    window: WindowId | None = None
    staff: StaffId | None = None
    received: Entry | None = None
    accepted: Entry | None = None
    completed: Entry | None = None
    delivered: Entry | None = None
    returned: Entry | None = None
    reported: Entry | None = None
    replied: Entry | None = None
    reviewed: Entry | None = None
    corrected: Entry | None = None
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    extensions: list[Entry] = field(default_factory=list)
    steps: dict[str, _Step] = field(default_factory=dict)

    @property
    def finished(self) -> Entry | None:
        return self.completed or self.returned

    @property
    def refused(self) -> Entry | None:
        c = self.completed
        if c is not None and c.event.outcome is Outcome.REFUSED:
            return c
        return self.returned


def assess(case: CaseId, entries: Sequence[Entry], cal: WorkCalendar, policy: Policy) -> Assessment:
    ordered = sorted(entries, key=lambda e: (e.ts, e.seq))
    f = _gather(ordered)
    out: list[Condition] = []
    due = _limits(f, cal, policy, out)
    _immediate(f, cal, policy, out)
    _steps(f, cal, out)
    _reported(f, cal, policy, out)
    _supplement(f, cal, policy, out)
    _refusal(f, cal, policy, out)
    finished = f.finished
    start = f.accepted or f.received
    open_dues = [c.start for c in out if c.end is None] + ([due.at] if due else [])
    unknown = (
        cal.unknown_years(start.ts, max(open_dues))
        if start and finished is None and open_dues
        else frozenset()
    )
    return Assessment(
        case=case,
        kind=f.kind,
        window=f.window,
        staff=f.staff,
        received_at=f.received.ts if f.received else None,
        accepted_at=f.accepted.ts if f.accepted else None,
        finished_at=finished.ts if finished else None,
        outcome=f.completed.event.outcome if f.completed else None,
        promised_days=f.accepted.event.promised_days if f.accepted else None,
        due=due,
        conditions=tuple(out),
        unknown_years=unknown,
    )


def _gather(ordered: Iterable[Entry]) -> _Facts:
    f = _Facts()
    for e in ordered:
        ev = e.event
        f.kind = ev.kind or f.kind
        f.window = ev.window or f.window
        f.staff = ev.staff or f.staff
        _note(f, e, ev)
    return f


_FIRST_OF = {
    A.RECEIVED: "received",
    A.ACCEPTED: "accepted",
    A.COMPLETED: "completed",
    A.DELIVERED: "delivered",
    A.RETURNED: "returned",
    A.REPORTED_UP: "reported",
    A.REPLY_RECEIVED: "replied",
    A.REFUSAL_REVIEWED: "reviewed",
    A.CORRECTED: "corrected",
}


def _note(f: _Facts, e: Entry, ev: CaseEvent) -> None:
    slot = _FIRST_OF.get(ev.action)
    if slot is not None:
        if getattr(f, slot) is None:  # the first one counts; repeats change nothing
            setattr(f, slot, e)
        if ev.action is A.REPORTED_UP:
            f.pauses.append((ev.ts, None))
        if ev.action is A.REPLY_RECEIVED:
            _resume(f, ev.ts)
        return
    if ev.action is A.SUSPENDED:
        f.pauses.append((ev.ts, None))
    elif ev.action is A.RESUMED:
        _resume(f, ev.ts)
    elif ev.action is A.EXTENDED:
        f.extensions.append(e)
    elif ev.action is A.STEP_STARTED and ev.step:
        f.steps.setdefault(ev.step, _Step(ev.ts, ev.step_days or 0, [e.event_id]))
    elif ev.action is A.STEP_FINISHED and ev.step in f.steps:
        step = f.steps[ev.step]
        if step.finished is None:
            step.finished = ev.ts
            step.evidence.append(e.event_id)


def _resume(f: _Facts, at: datetime) -> None:
    for i in range(len(f.pauses) - 1, -1, -1):
        start, end = f.pauses[i]
        if end is None:
            f.pauses[i] = (start, at)
            return


# --- the limit in force: promised, legal, special ----------------------------------------


def _limits(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> Due | None:
    acc = f.accepted
    if acc is None:
        return None
    ev = acc.event
    if f.kind is CaseKind.SPECIAL and ev.deadline is not None:
        base: Due | None = Due(ev.deadline, False)
        over, warn = RuleId.SPECIAL_OVERDUE, RuleId.SPECIAL_WARNING
    elif f.kind in _PROMISED_KINDS and ev.promised_days is not None:
        base = cal.add_working_days(acc.ts, ev.promised_days)
        over, warn = RuleId.PROMISED_OVERDUE, RuleId.PROMISED_WARNING
    else:
        base = None
    if f.kind in _PROMISED_KINDS and ev.legal_days is not None:
        legal = _paused(cal, cal.add_working_days(acc.ts, ev.legal_days), f.pauses)
        _deadline(f, legal, RuleId.LEGAL_OVERDUE, [acc.event_id], out)
    if base is None:
        return None
    due = _extended(f, cal, _paused(cal, base, f.pauses), out)
    if due is not None:
        _warning(f, cal, due, warn, policy.warning_for(f.kind), acc, out)
        _deadline(f, due, over, [acc.event_id, *(x.event_id for x in f.extensions)], out)
    return due


def _paused(
    cal: WorkCalendar, due: Due | None, pauses: Sequence[tuple[datetime, datetime | None]]
) -> Due | None:
    """Move a deadline by each suspension that began before it; None while one is open."""
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if due is None or start >= due.at:
            continue
        if end is None:
            return None
        moved = cal.add_working_time(due.at, cal.working_time(start, end))
        due = Due(moved.at, due.estimated or moved.estimated)
    return due


def _extended(f: _Facts, cal: WorkCalendar, due: Due | None, out: list[Condition]) -> Due | None:
    for x in sorted(f.extensions, key=lambda e: (e.ts, e.seq)):
        if due is None:
            return None
        if x.ts > due.at:
            out.append(Condition(RuleId.EXTENSION_LATE, "", x.ts, x.ts, False, (x.event_id,)))
            continue
        ev = x.event
        if ev.new_deadline is not None:
            due = Due(ev.new_deadline, due.estimated)
        elif ev.extra_days:
            more = cal.add_working_days(due.at, ev.extra_days)
            due = Due(more.at, due.estimated or more.estimated)
    return due


def _deadline(
    f: _Facts, due: Due | None, rule: RuleId, evidence: list[EventId], out: list[Condition]
) -> None:
    if due is None:
        return
    done = f.finished
    if done is None or done.ts > due.at:
        end = done.ts if done else None
        ids = (*evidence, done.event_id) if done else tuple(evidence)
        out.append(Condition(rule, "", due.at, end, due.estimated, ids))


def _warning(
    f: _Facts,
    cal: WorkCalendar,
    due: Due,
    rule: RuleId,
    days: int,
    acc: Entry,
    out: list[Condition],
) -> None:
    at = max(_days_before(cal, due.at, days), acc.ts)
    done = f.finished
    if days <= 0 or (done is not None and done.ts <= at):
        return
    end = min(done.ts, due.at) if done else due.at  # the red takes over at the deadline
    out.append(Condition(rule, "", at, end, due.estimated, (acc.event_id,)))


def _days_before(cal: WorkCalendar, at: datetime, days: int) -> datetime:
    """The same local time on the working day `days` working days before `at`'s day."""
    local = at.astimezone(cal.zone)
    day = local.date()
    for _ in range(days):
        day -= timedelta(days=1)
        while not cal.is_working_day(day):
            day -= timedelta(days=1)
    return local.replace(year=day.year, month=day.month, day=day.day).astimezone(at.tzinfo)


# --- kinds with rules of their own ------------------------------------------------------


def _immediate(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    start = f.received or f.accepted
    if f.kind is not CaseKind.IMMEDIATE or start is None:
        return
    slow = cal.add_working_minutes(start.ts, policy.immediate_warning_minutes)
    close = cal.add_working_days(start.ts, 0)
    _late(f.finished, slow, RuleId.IMMEDIATE_SLOW, "", [start.event_id], out)
    _late(f.finished, close, RuleId.IMMEDIATE_OPEN_AT_CLOSE, "", [start.event_id], out)


def _late(
    done: Entry | None,
    due: Due,
    rule: RuleId,
    qualifier: str,
    evidence: list[EventId],
    out: list[Condition],
) -> None:
    """The condition "not done by `due`": from `due` until it is done."""
    if done is not None and done.ts <= due.at:
        return
    ids = (*evidence, done.event_id) if done else tuple(evidence)
    out.append(Condition(rule, qualifier, due.at, done.ts if done else None, due.estimated, ids))


def _steps(f: _Facts, cal: WorkCalendar, out: list[Condition]) -> None:
    for name, step in sorted(f.steps.items()):
        if step.days <= 0:
            continue
        due = _paused(cal, cal.add_working_days(step.started, step.days), f.pauses)
        if due is None:
            continue
        if step.finished is not None and step.finished <= due.at:
            continue
        ids = tuple(step.evidence)
        out.append(Condition(RuleId.STEP_OVERDUE, name, due.at, step.finished, due.estimated, ids))


def _reported(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    if f.kind is not CaseKind.REPORTED or f.accepted is None:
        return
    report_due = cal.add_working_days(f.accepted.ts, policy.report_days)
    done = f.reported or (f.finished if f.reported is None else None)
    _late(done, report_due, RuleId.REPORTED_LATE_REPORT, "", [f.accepted.event_id], out)
    if f.replied is None:
        return
    answer_due = cal.add_working_days(f.replied.ts, policy.reply_answer_days)
    answers = [e for e in (f.completed, f.delivered) if e is not None and e.ts >= f.replied.ts]
    first = min(answers, key=lambda e: e.ts) if answers else None
    _late(first, answer_due, RuleId.REPORTED_LATE_ANSWER, "", [f.replied.event_id], out)


def _supplement(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    if f.kind is not CaseKind.SUPPLEMENT or f.received is None:
        return
    notice = _paused(cal, cal.add_working_days(f.received.ts, policy.supplement_days), f.pauses)
    if notice is None:
        return
    decided = [e for e in (f.accepted, f.returned) if e is not None]
    first = min(decided, key=lambda e: e.ts) if decided else None
    _late(first, notice, RuleId.SUPPLEMENT_NOTICE_LATE, "", [f.received.event_id], out)


def _refusal(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    ret = f.returned
    if ret is not None and not (ret.event.reason or "").strip():
        out.append(Condition(RuleId.RETURNED_NO_REASON, "", ret.ts, ret.ts, False, (ret.event_id,)))
    refusal = f.refused
    if refusal is None:
        return
    review_due = cal.add_working_days(refusal.ts, policy.refusal_review_days)
    _late(f.reviewed, review_due, RuleId.REFUSAL_REVIEW_LATE, "", [refusal.event_id], out)
    rv = f.reviewed
    if rv is None or rv.event.verdict is not ReviewVerdict.UNLAWFUL:
        return
    fix_due = cal.add_working_days(rv.ts, policy.correction_days)
    _late(f.corrected, fix_due, RuleId.REFUSAL_CORRECTION_LATE, "", [rv.event_id], out)

"""Case clocks: from one case's events to the conditions its cards stand for. Pure.

`assess` reads a case's journaled events in the order of their own timestamps (a late
upload lands where it belongs; events at one instant in lifecycle order) and returns every rule
condition with the instant it began to hold and, if known, the instant it stopped. It does not
look at the clock: a condition that begins in the future is simply one whose start is later
than `now` when the engine looks.

The result depends on the set of events only, never on the order they were learned in, and an
event never changes a condition that began before it: a condition that began at S is decided by
the events stamped before S (what later events can do is end it). That is what lets the card
engine void a card only when late evidence shows its condition never held.

Clock rules (docs/cards.md "Working days" and the case kinds; thresholds from `Policy`):
- The promised (or legal) limit of N working days runs from acceptance to close of business of
  the Nth working day (alerts/workdays.py). A special case carries its own instant.
- A suspension (`suspended` → `resumed`, or a reported-up case from `reported_up` to
  `reply_received`) that begins before the deadline moves it forward by exactly the working
  time it covered after the clock started; while a suspension is open the clock has no deadline
  (and no warning). Overlapping suspensions count once.
- An extension counts only if made before the deadline then in force; a later one is itself a
  breach (`case.extension.late`) and moves nothing (000_… 四(五)). An extension made while the
  clock is suspended counts. The legal limit is not moved by extensions of the promised one.
  With the hall's leaders known (`Policy.leaders`), an extension not approved by a leader, or
  by the case's own officer, or without a reason or the applicant told, is a breach
  (`case.extension.unapproved`) and moves nothing; a refusal review likewise
  (`case.refusal.review_unqualified`, and the review is still due).
- 超时默认 (`Policy.deemed_approval`, 003_… 三): a case open when its limit passes is deemed
  approved then (`case.deemed_approved`, `Assessment.deemed_approved_at`).
- A warning holds from `warning_for(kind)` working days before the deadline in force until the
  case finishes or the deadline passes (the red takes over: `superseded`).
- A case is finished by its first `completed`, `returned` (a refusal at the window) or
  `delivered`.
- An event naming its `item` gets from the hall's catalogue (`Policy.items`, alerts/items.py)
  what it leaves out: the kind, and on acceptance the promised and legal limits. Where the
  legal limit stands is `Assessment.legal`: given, none by law (000_… 四(三)), or missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

import msgspec

from alerts.events import CaseAction, CaseEvent, CaseKind, Outcome, ReviewVerdict
from alerts.ids import CaseId, EventId, StaffId, WindowId, qualifier
from alerts.items import LegalLimit, filled, legal_limit
from alerts.rules import Policy, RuleId
from alerts.workdays import Due, WorkCalendar

A = CaseAction
_PROMISED_KINDS = (CaseKind.PROMISED, CaseKind.JOINT, CaseKind.REPORTED, CaseKind.SUPPLEMENT)
_RANK = {action: i for i, action in enumerate(CaseAction)}  # lifecycle order at one instant
Pause = tuple[datetime, datetime | None]


_NO_YEARS: frozenset[int] = frozenset()  # shared: an empty frozenset() is not a singleton


@dataclass(frozen=True, slots=True)
class Entry:
    """One journaled case event: its own time, its journal position and id."""

    ts: datetime
    seq: int
    event_id: EventId
    event: CaseEvent


class Condition(msgspec.Struct, frozen=True, gc=False):
    rule: RuleId
    qualifier: str  # which step or extension, or "" when the rule has one condition per case
    start: datetime  # when it began to hold
    end: datetime | None  # when it stopped holding; None while it still does
    estimated: bool  # depends on a year whose holiday schedule is unknown
    evidence: tuple[EventId, ...]
    superseded: bool = False  # a warning that ended because its deadline passed (the red's turn)
    # Sources judged without: their bound ran out before they were heard past the instant
    # (a clock past `finalize_grace_min`). The card names them; a void of it is their doing.
    silent: tuple[str, ...] = ()


class Assessment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    case: CaseId
    kind: CaseKind | None
    window: WindowId | None
    staff: StaffId | None
    received_at: datetime | None
    accepted_at: datetime | None
    finished_at: datetime | None
    outcome: Outcome | None
    promised_days: int | None
    due: Due | None  # the limit in force (at the finish, if finished); None while suspended
    conditions: tuple[Condition, ...]
    unknown_years: frozenset[int]
    deemed_approved_at: datetime | None = None  # 超时默认 (Policy.deemed_approval): approved then
    item: str | None = None  # the catalogue's item code the acceptance named
    legal: LegalLimit = LegalLimit.NOT_APPLICABLE  # where the legal limit stands

    @property
    def open(self) -> bool:
        return self.finished_at is None


def entry_order(e: Entry) -> tuple[datetime, int, str, int]:
    """Own time, then lifecycle order, then id: the journal position never decides."""
    return (e.ts, _RANK[e.event.action], e.event_id, e.seq)


@dataclass(slots=True)
class _Step:
    started: Entry
    days: int
    finished: Entry | None = None


@dataclass(slots=True)
class _Facts:
    """What the events say, gathered in one pass in time order. The first of each counts."""

    first_kind: CaseKind | None = None
    kinds: set[CaseKind] = field(default_factory=set)
    window: WindowId | None = None
    staff: StaffId | None = None
    received: Entry | None = None
    accepted: Entry | None = None
    completed: Entry | None = None
    delivered: Entry | None = None
    returned: Entry | None = None
    finished: Entry | None = None
    refused: Entry | None = None
    reported: Entry | None = None
    replied: Entry | None = None
    reviews: list[Entry] = field(default_factory=list)
    corrections: list[Entry] = field(default_factory=list)
    suspensions: list[Pause] = field(default_factory=list)
    reports: list[Pause] = field(default_factory=list)
    extensions: list[Entry] = field(default_factory=list)
    requests: list[Entry] = field(default_factory=list)  # `suspended`s that opened a pause
    steps: dict[str, _Step] = field(default_factory=dict)

    @property
    def kind(self) -> CaseKind | None:
        """The kind the receipt was issued as, else the first one given."""
        acc = self.accepted
        return acc.event.kind if acc is not None and acc.event.kind else self.first_kind

    @property
    def pauses(self) -> list[Pause]:
        if not self.reports:
            return self.suspensions if len(self.suspensions) < 2 else _union(self.suspensions)
        return _union([*self.suspensions, *self.reports])


def assess(case: CaseId, entries: Sequence[Entry], cal: WorkCalendar, policy: Policy) -> Assessment:
    """The case's clocks and conditions from its events, in their own time order."""
    if policy.items:
        entries = _items_filled(entries, policy)
    if len(entries) == 1 and (quick := _accepted_only(case, entries[0], cal, policy)):
        return quick
    return _assess(case, entries, cal, policy)


def _items_filled(entries: Sequence[Entry], policy: Policy) -> Sequence[Entry]:
    """The entries with what their items give (alerts/items.py `filled`)."""
    if all(e.event.item is None for e in entries):
        return entries
    return [Entry(e.ts, e.seq, e.event_id, filled(e.event, policy.items)) for e in entries]


def _assess(
    case: CaseId, entries: Sequence[Entry], cal: WorkCalendar, policy: Policy
) -> Assessment:
    ordered = sorted(entries, key=entry_order) if len(entries) > 1 else entries
    f = _gather(ordered)
    out: list[Condition] = []
    acc, finished = f.accepted, f.finished
    extensions = _approved(f, policy, out)
    due = _limits(acc, f.kind, finished, f.pauses, extensions, cal, policy, out)
    _immediate(f, cal, policy, out)
    _steps(f, cal, out)
    _reported(f, cal, policy, out)
    _supplement(f, cal, policy, out)
    _refusal(f, cal, policy, out)
    return Assessment(
        case=case,
        kind=f.kind,
        window=f.window,
        staff=f.staff,
        received_at=f.received.ts if f.received else None,
        accepted_at=acc.ts if acc else None,
        finished_at=finished.ts if finished else None,
        outcome=f.completed.event.outcome if f.completed else None,
        promised_days=acc.event.promised_days if acc else None,
        due=due,
        conditions=tuple(out),
        unknown_years=_unknown(cal, ordered[0].ts, out, due if finished is None else None),
        deemed_approved_at=_deemed(out),
        item=acc.event.item if acc else None,
        legal=legal_limit(acc.event if acc else None, policy.items),
    )


# Kinds whose lone `accepted` event brings only the limits in force (`_limits`): the other
# rules need a receipt, a step, a report, a return or an immediate case.
_LIMITS_ONLY = frozenset({CaseKind.PROMISED, CaseKind.JOINT, CaseKind.SUPPLEMENT, CaseKind.SPECIAL})


def _accepted_only(case: CaseId, e: Entry, cal: WorkCalendar, policy: Policy) -> Assessment | None:
    """`_assess` of a case whose one event is its acceptance (most open cases, every one of
    them at each of its deadlines), without gathering facts; None for any other case.
    tests/test_cases_quick.py holds the two equal."""
    ev = e.event
    if ev.action is not A.ACCEPTED or ev.kind not in _LIMITS_ONLY:
        return None
    out: list[Condition] = []
    due = _limits(e, ev.kind, None, (), (), cal, policy, out)
    return Assessment(
        case=case,
        kind=ev.kind,
        window=ev.window,
        staff=ev.staff,
        received_at=None,
        accepted_at=e.ts,
        finished_at=None,
        outcome=None,
        promised_days=ev.promised_days,
        due=due,
        conditions=tuple(out),
        unknown_years=_unknown(cal, e.ts, out, due),
        deemed_approved_at=_deemed(out),
        item=ev.item,
        legal=legal_limit(ev, policy.items),
    )


def _deemed(out: list[Condition]) -> datetime | None:
    return next((c.start for c in out if c.rule is RuleId.DEEMED_APPROVED), None)


def _unknown(
    cal: WorkCalendar, first: datetime, out: list[Condition], due: Due | None
) -> frozenset[int]:
    """Years of unknown schedule between the first event and the furthest open instant
    (`due`: the limit in force of an open case)."""
    tips = [c.start for c in out if c.end is None]
    if due is not None:
        tips.append(due.at)
    return cal.unknown_years(first, max(tips)) if tips else _NO_YEARS


def _gather(ordered: Iterable[Entry]) -> _Facts:
    f = _Facts()
    for e in ordered:
        ev = e.event
        if ev.kind is not None:
            f.first_kind = f.first_kind or ev.kind
            f.kinds.add(ev.kind)
        # The officer who first handled it (首问责任人, 000_… 一) answers for the case.
        f.window = f.window or ev.window
        f.staff = f.staff or ev.staff
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
}
_FINISHING = (A.COMPLETED, A.RETURNED, A.DELIVERED)


def _note(f: _Facts, e: Entry, ev: CaseEvent) -> None:
    slot = _FIRST_OF.get(ev.action)
    if slot is not None and getattr(f, slot) is None:  # repeats change nothing
        setattr(f, slot, e)
    if ev.action in _FINISHING and f.finished is None:
        f.finished = e
    refusal = ev.action is A.RETURNED or ev.outcome is Outcome.REFUSED
    if ev.action in (A.RETURNED, A.COMPLETED) and refusal and f.refused is None:
        f.refused = e
    if ev.action is A.SUSPENDED and _start_pause(f.suspensions, ev.ts):
        f.requests.append(e)
    elif ev.action is A.REPORTED_UP:
        _start_pause(f.reports, ev.ts)
    elif ev.action in (A.RESUMED, A.REPLY_RECEIVED):
        _end_pause(f.suspensions if ev.action is A.RESUMED else f.reports, ev.ts)
    elif ev.action is A.EXTENDED:
        f.extensions.append(e)
    elif ev.action is A.REFUSAL_REVIEWED:
        f.reviews.append(e)
    elif ev.action is A.CORRECTED:
        f.corrections.append(e)
    elif ev.action is A.STEP_STARTED and ev.step and _days(ev.step_days) is not None:
        f.steps.setdefault(_step_key(ev.dept, ev.step), _Step(e, ev.step_days or 0))
    elif ev.action is A.STEP_FINISHED and ev.step:
        step = _find_step(f.steps, ev.dept, ev.step)
        if step is not None and step.finished is None:
            step.finished = e


def _start_pause(pauses: list[Pause], at: datetime) -> bool:
    """A pause from `at`, unless one is already running; True if this one started."""
    if not pauses or pauses[-1][1] is not None:  # a second `suspended` while suspended: no-op
        pauses.append((at, None))
        return True
    return False


def _end_pause(pauses: list[Pause], at: datetime) -> None:
    if pauses and pauses[-1][1] is None:
        pauses[-1] = (pauses[-1][0], at)


def _union(pauses: Iterable[Pause]) -> list[Pause]:
    """Overlapping suspensions (materials awaited while the higher level holds it) count once."""
    out: list[Pause] = []
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if out and (out[-1][1] is None or start <= out[-1][1]):
            last_end = out[-1][1]
            merged = None if end is None or last_end is None else max(end, last_end)
            out[-1] = (out[-1][0], merged)
        else:
            out.append((start, end))
    return out


def _step_key(dept: str | None, step: str) -> str:
    return qualifier(dept, step)  # the card qualifier of the step's own limit


def _find_step(steps: dict[str, _Step], dept: str | None, name: str) -> _Step | None:
    step = steps.get(_step_key(dept, name))
    if step is not None or dept:
        return step
    # `step_finished` without its dept: the one unfinished step of that name, if unique.
    same = [s for k, s in steps.items() if k.rpartition("/")[2] == name and s.finished is None]
    return same[0] if len(same) == 1 else None


def _days(n: int | None) -> int | None:
    return n if n is not None and n >= 0 else None


# --- one clock walked through its suspensions and extensions ------------------------------


@dataclass(slots=True)
class _Run:
    due: Due | None = None  # in force at the end (at the finish, if any); None while suspended
    overdue: Due | None = None  # the deadline that passed with the clock still running
    warnings: list[tuple[datetime, datetime, bool]] = field(default_factory=list)
    used: Sequence[Entry] = ()  # extensions that moved the deadline
    late: Sequence[Entry] = ()  # extensions after the deadline passed


class WalkMark(IntEnum):
    """What happens to a clock at an instant of its walk; at one instant in this order."""

    RESUME = 0  # a suspension ends: the deadline moves by the working time it lasted
    EXTEND = 1  # an extension (its index in `extensions`)
    PAUSE = 2  # a suspension begins: no deadline runs until it ends


def _walk(
    cal: WorkCalendar,
    start: datetime,
    base: Due,
    pauses: Sequence[Pause],
    finish: datetime | None,
    extensions: Sequence[Entry] = (),
    warn_days: int = 0,
) -> _Run:
    """The deadline in force over time, from `start` until `finish` (None: still open)."""
    if not pauses and not extensions:  # the common case: nothing moves the deadline
        return _straight(start, base, finish, cal, warn_days)
    marks: list[tuple[datetime, WalkMark, int]] = [
        (x.ts, WalkMark.EXTEND, i) for i, x in enumerate(extensions)
    ]
    for s, e in pauses:
        s = max(s, start)
        if e is None or (e > s and cal.working_time(s, e)):  # outside service hours: no pause
            marks.append((s, WalkMark.PAUSE, 0))
            if e is not None:
                marks.append((e, WalkMark.RESUME, 0))
    marks.sort()
    run = _Run()
    used: list[Entry] = []
    due: Due | None = base
    held: Due | None = None
    since = start
    t = start
    rest = len(marks)
    for i, (u, what, k) in enumerate(marks):
        if (finish is not None and finish <= u) or (due is not None and due.at < u):
            rest = i
            break
        if due is not None:
            _warn(run, cal, t, u, due, warn_days)
        if what is WalkMark.PAUSE:
            held, due, since = due, None, u
        elif what is WalkMark.RESUME and held is not None:
            moved = cal.add_working_time(held.at, cal.working_time(since, u))
            due, held = _shift(held, moved), None
        elif what is WalkMark.EXTEND:
            x = extensions[k]
            used.append(x)
            if due is not None:
                due = _extend(cal, due, x)
            elif held is not None:
                held = _extend(cal, held, x)
                since = u if x.event.new_deadline is not None else since
        t = u
    if due is not None:
        _warn(run, cal, t, finish, due, warn_days)
        if finish is None or finish > due.at:
            run.overdue = due
    run.due, run.used = due, used
    over = run.overdue
    late = [extensions[k] for u, what, k in marks[rest:] if what is WalkMark.EXTEND]
    run.late = [x for x in late if over is not None and x.ts > over.at]
    return run


def _straight(
    start: datetime, due: Due, finish: datetime | None, cal: WorkCalendar, warn_days: int
) -> _Run:
    """`_walk` of a clock without suspensions or extensions."""
    run = _Run(due=due)
    _warn(run, cal, start, finish, due, warn_days)
    if finish is None or finish > due.at:
        run.overdue = due
    return run


def _shift(due: Due, moved: Due) -> Due:
    return Due(moved.at, due.estimated or moved.estimated)


def _extend(cal: WorkCalendar, due: Due, x: Entry) -> Due:
    ev = x.event
    if ev.new_deadline is not None:
        return Due(ev.new_deadline, due.estimated)
    extra = _days(ev.extra_days)
    return _shift(due, cal.add_working_days(due.at, extra)) if extra else due


def _warn(
    run: _Run, cal: WorkCalendar, a: datetime, b: datetime | None, due: Due, days: int
) -> None:
    """The warning part of [a, b) with `due` in force; contiguous parts make one warning."""
    if days <= 0:
        return
    begin = max(a, cal.working_days_before(due.at, days))
    end = due.at if b is None else min(b, due.at)
    if begin >= end:
        return
    superseded = end == due.at and (b is None or b > due.at)
    if run.warnings and run.warnings[-1][1] == begin:
        begin = run.warnings.pop()[0]
    run.warnings.append((begin, end, superseded))


def _overdue(
    out: list[Condition],
    rule: RuleId,
    qualifier: str,
    run: _Run,
    evidence: tuple[EventId, ...],
    done: Entry | None,
) -> None:
    over = run.overdue
    if over is None:
        return
    ids = (*evidence, done.event_id) if done else evidence
    out.append(Condition(rule, qualifier, over.at, done.ts if done else None, over.estimated, ids))


def _late(
    out: list[Condition],
    rule: RuleId,
    due: Due,
    evidence: tuple[EventId, ...],
    done: Entry | None,
) -> None:
    """The condition "not done by `due`" of a clock nothing suspends: from `due` until done."""
    if done is not None and done.ts <= due.at:
        return
    ids = (*evidence, done.event_id) if done else evidence
    out.append(Condition(rule, "", due.at, done.ts if done else None, due.estimated, ids))


def _first(*entries: Entry | None, after: datetime | None = None) -> Entry | None:
    found = [e for e in entries if e is not None and (after is None or e.ts >= after)]
    return min(found, key=entry_order) if found else None


# --- the limit in force: promised, legal, special ----------------------------------------


def _limits(
    acc: Entry | None,
    kind: CaseKind | None,
    done: Entry | None,
    pauses: Sequence[Pause],
    extensions: Sequence[Entry],
    cal: WorkCalendar,
    policy: Policy,
    out: list[Condition],
) -> Due | None:
    if acc is None:
        return None
    ev = acc.event
    finish = done.ts if done else None
    legal_days = _days(ev.legal_days)
    if kind in _PROMISED_KINDS and legal_days is not None:
        legal = _walk(cal, acc.ts, cal.add_working_days(acc.ts, legal_days), pauses, finish)
        _overdue(out, RuleId.LEGAL_OVERDUE, "", legal, (acc.event_id,), done)
    promised_days = _days(ev.promised_days)
    if kind is CaseKind.SPECIAL and ev.deadline is not None:
        base = Due(ev.deadline, False)
        over, warn = RuleId.SPECIAL_OVERDUE, RuleId.SPECIAL_WARNING
    elif kind in _PROMISED_KINDS and promised_days is not None:
        base = cal.add_working_days(acc.ts, promised_days)
        over, warn = RuleId.PROMISED_OVERDUE, RuleId.PROMISED_WARNING
    else:
        return None
    lead = policy.warning_for(kind)
    run = _walk(cal, acc.ts, base, pauses, finish, extensions, lead)
    for x in run.late:
        late = Condition(RuleId.EXTENSION_LATE, x.event_id, x.ts, x.ts, False, (x.event_id,))
        out.append(late)
    ids = (acc.event_id, *(x.event_id for x in run.used))
    estimated = run.due.estimated if run.due else base.estimated
    for begin, end, superseded in run.warnings:
        out.append(Condition(warn, "", begin, end, estimated, ids, superseded))
    _overdue(out, over, "", run, ids, done)
    if policy.deemed_approval and run.overdue is not None:  # 003_… 三 超时默认
        at = run.overdue.at
        out.append(Condition(RuleId.DEEMED_APPROVED, "", at, at, run.overdue.estimated, ids))
    return run.due


# --- kinds with rules of their own ------------------------------------------------------


def _immediate(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    start = f.received or f.accepted
    if f.kind is not CaseKind.IMMEDIATE or start is None:
        return
    done, ids = f.finished, (start.event_id,)
    close = cal.add_working_days(start.ts, 0)
    minutes = policy.immediate_warning_minutes
    if minutes > 0:
        slow = cal.add_working_time(start.ts, timedelta(minutes=minutes))
        # A case received late in the day meets the red at close before any yellow.
        if slow.at < close.at and (done is None or done.ts > slow.at):
            late = done is None or done.ts > close.at
            end = close.at if late or done is None else done.ts
            rule = RuleId.IMMEDIATE_SLOW
            out.append(Condition(rule, "", slow.at, end, slow.estimated, ids, late))
    _late(out, RuleId.IMMEDIATE_OPEN_AT_CLOSE, close, ids, done)


def _steps(f: _Facts, cal: WorkCalendar, out: list[Condition]) -> None:
    """Each step (环节) on its own limit, even when the whole case is on time."""
    for key, step in sorted(f.steps.items()):
        begun = step.started
        end = _first(step.finished, f.finished)
        base = cal.add_working_days(begun.ts, step.days)
        run = _walk(cal, begun.ts, base, f.pauses, end.ts if end else None)
        _overdue(out, RuleId.STEP_OVERDUE, key, run, (begun.event_id,), end)


def _reported(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    acc = f.accepted
    if f.kind is not CaseKind.REPORTED or acc is None:
        return
    sent = _first(f.reported, f.finished)
    base = cal.add_working_days(acc.ts, policy.report_days)
    run = _walk(cal, acc.ts, base, f.suspensions, sent.ts if sent else None)
    _overdue(out, RuleId.REPORTED_LATE_REPORT, "", run, (acc.event_id,), sent)
    reply = f.replied
    if reply is None:
        return
    answered = _first(f.completed, f.delivered, after=reply.ts)
    base = cal.add_working_days(reply.ts, policy.reply_answer_days)
    run = _walk(cal, reply.ts, base, f.suspensions, answered.ts if answered else None)
    _overdue(out, RuleId.REPORTED_LATE_ANSWER, "", run, (reply.event_id,), answered)


def _supplement(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    """行政许可法 第三十二条: accept or refuse within 5 days, else deemed accepted."""
    got = f.received
    if CaseKind.SUPPLEMENT not in f.kinds or got is None:
        return
    decided = _first(f.accepted, f.returned, f.completed)
    base = cal.add_working_days(got.ts, policy.supplement_days)
    run = _walk(cal, got.ts, base, f.suspensions, decided.ts if decided else None)
    _overdue(out, RuleId.SUPPLEMENT_NOTICE_LATE, "", run, (got.event_id,), decided)
    # 000_… 八(四)2: everything missing is told at once; each further request is a breach.
    first = f.requests[0].event_id if f.requests else None
    for r in f.requests[1:]:
        rule, eid = RuleId.SUPPLEMENT_REPEATED, r.event_id
        out.append(Condition(rule, eid, r.ts, r.ts, False, (got.event_id, first or eid, eid)))


def _refusal(f: _Facts, cal: WorkCalendar, policy: Policy, out: list[Condition]) -> None:
    """000_… 六 否定报备制: written reasons; review within 2 working days; correction in 1."""
    refusal = f.refused
    if refusal is None:
        return
    # 000_… 二(二): a refusal at the window or a `completed` refused, both say why.
    if not (refusal.event.reason or "").strip():
        ids = (refusal.event_id,)
        out.append(Condition(RuleId.RETURNED_NO_REASON, "", refusal.ts, refusal.ts, False, ids))
    review_due = cal.add_working_days(refusal.ts, policy.refusal_review_days)
    reviews = _reviewed(f, policy, refusal, out)
    review = _first(*reviews, after=refusal.ts)
    _late(out, RuleId.REFUSAL_REVIEW_LATE, review_due, (refusal.event_id,), review)
    if review is None or review.event.verdict is not ReviewVerdict.UNLAWFUL:
        return
    fix_due = cal.add_working_days(review.ts, policy.correction_days)
    fixed = _first(*f.corrections, after=review.ts)
    _late(out, RuleId.REFUSAL_CORRECTION_LATE, fix_due, (review.event_id,), fixed)


# --- who may approve (000_… 四(五), 六(五)) ----------------------------------------------


def _by_leader(f: _Facts, leaders: frozenset[StaffId], who: StaffId | None) -> bool:
    """A leader of the hall, never the case's own officer."""
    return who is not None and who != f.staff and who in leaders


def _reviewed(f: _Facts, policy: Policy, refusal: Entry, out: list[Condition]) -> list[Entry]:
    """The reviews that count: by a leader (000_… 六(五)). Each other one is a card."""
    leaders = policy.leaders
    if leaders is None:
        return f.reviews
    good = []
    for r in f.reviews:
        if _by_leader(f, leaders, r.event.reviewer):
            good.append(r)
        else:
            ids = (refusal.event_id, r.event_id)
            out.append(
                Condition(RuleId.REFUSAL_REVIEW_UNQUALIFIED, r.event_id, r.ts, r.ts, False, ids)
            )
    return good


def _approved(f: _Facts, policy: Policy, out: list[Condition]) -> list[Entry]:
    """The extensions that may move a deadline: approved by a leader, with the reason given
    and the applicant told (000_… 四(五)). Each other one is a card and moves nothing."""
    leaders = policy.leaders
    if not f.extensions or leaders is None:
        return f.extensions
    good = []
    for x in f.extensions:
        ev = x.event
        reason = bool((ev.reason or "").strip())
        if _by_leader(f, leaders, ev.approved_by) and reason and ev.applicant_told:
            good.append(x)
        else:
            rule = RuleId.EXTENSION_UNAPPROVED
            out.append(Condition(rule, x.event_id, x.ts, x.ts, False, (x.event_id,)))
    return good

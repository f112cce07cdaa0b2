"""Complaints (效能投诉) and bad reviews (差评): from their events to card conditions. Pure.

A complaint's events (docs/contract.md `hall/{hall}/complaint/{id}/event`) are read in the order of
their own timestamps (events at one instant in lifecycle order, then by id), so a late upload
lands where it belongs; the first event of each action counts. Deadlines (`ComplaintsConfig`):

- `complaint.accept_late`: acceptance decided (`accepted`, or a decision or `closed`, which
  imply it) within `accept_days` = 5 working days of `received` (practice
  elsewhere, docs/regulations.md). Holds from the deadline until the acceptance.
- `complaint.result_late`: a result (`founded` / `unfounded`, or `closed` without one) within
  `result_days` = 10 working days of the acceptance (practice elsewhere: 十堰). Holds from the
  deadline until the result.
- `complaint.founded`: the first decision is `founded` — a breach at that instant, on the named
  officer and window (who answers and is charged: the named officer, else the window's A post,
  the 岗位责任人; a complaint that names only a case takes the case's window and officer).
- `complaint.handling_late`: a founded violation handled (`closed`) within `handling_months` = 1
  month of being founded (seed 000_… 五(八): 如果属实, 立即立案, 一个月内处理结束): the same
  local time that many months later, on the month's last day when it is shorter.

The three process cards are the complaint centre's own deadlines: their subject names no window
(they must not light one) and no owner (a supervisor answers them).

Bad reviews (好差评, practice elsewhere; levels 1–2 of 5 are bad): the first bad rating of a case
must be rectified within `review_rectify_days` = 5 working days (德州; 四川 allows 15). What
counts as rectified: a later rating of the same case at level 3 or better (the applicant's new
rating after the window's rectification and the call-back, 整改后回访改评), stamped before the
deadline. Otherwise `review.bad.unrectified` is a breach at the deadline on the case's window
(its officer answers, 陈述申辩: a window that did rectify but has no new rating says so there
and the centre revokes the card). Later bad ratings of the same case start nothing new.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from alerts.cases import Condition
from alerts.events import ComplaintAction, ComplaintEvent, Rating
from alerts.ids import CaseId, ComplaintId, EventId, StaffId, WindowId
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import WorkCalendar

BAD_LEVELS = frozenset({1, 2})
_RANK = {action: i for i, action in enumerate(ComplaintAction)}  # lifecycle order at one instant
_ACCEPTING = (
    ComplaintAction.ACCEPTED,
    ComplaintAction.FOUNDED,
    ComplaintAction.UNFOUNDED,
    ComplaintAction.CLOSED,
)
_DECIDING = (ComplaintAction.FOUNDED, ComplaintAction.UNFOUNDED, ComplaintAction.CLOSED)


class ComplaintsConfig(ConfigModel):
    """`[complaints]`: deadlines of complaints and bad reviews (docs/scores.md)."""

    accept_days: int = Field(
        5, ge=1, le=60, description="Acceptance decided within, working days (practice elsewhere)."
    )
    result_days: int = Field(
        10, ge=1, le=60, description="Result within, working days after acceptance (十堰)."
    )
    handling_months: int = Field(
        1, ge=1, le=12, description="A founded violation handled within (000_… 五(八): 一个月)."
    )
    review_rectify_days: int = Field(
        5,
        ge=1,
        le=60,
        description="A bad review rectified within, working days (德州 5, 四川 15).",
    )


@dataclass(frozen=True, slots=True)
class Filed:
    """One journaled complaint event."""

    event_id: EventId
    event: ComplaintEvent


@dataclass(frozen=True, slots=True)
class Rated:
    """One journaled rating: its own time, id and level (kept small: one per rated case)."""

    ts: datetime
    event_id: EventId
    level: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintAssessment:
    complaint: ComplaintId
    window: WindowId | None
    staff: StaffId | None
    case: CaseId | None
    received_at: datetime
    accepted_at: datetime | None
    decided_at: datetime | None
    founded: bool
    closed_at: datetime | None
    process: tuple[Condition, ...]  # the centre's deadlines: no window, no owner
    violation: tuple[Condition, ...]  # complaint.founded: on the named officer and window


def _order(f: Filed) -> tuple[datetime, int, str]:
    return (f.event.ts, _RANK[f.event.action], f.event_id)


def assess_complaint(
    complaint: ComplaintId, filed: Sequence[Filed], cal: WorkCalendar, cfg: ComplaintsConfig
) -> ComplaintAssessment:
    events = sorted(filed, key=_order)
    if not events:
        raise ValueError(f"complaint {complaint}: no events")
    first: dict[ComplaintAction, Filed] = {}
    for f in events:
        first.setdefault(f.event.action, f)
    received = first.get(ComplaintAction.RECEIVED, events[0])
    accepted = _earliest(first, _ACCEPTING)
    decided = _earliest(first, _DECIDING)
    closed = first.get(ComplaintAction.CLOSED)
    process = _late(RuleId.COMPLAINT_ACCEPT_LATE, received, accepted, cal, cfg.accept_days)
    if accepted is not None:
        process += _late(RuleId.COMPLAINT_RESULT_LATE, accepted, decided, cal, cfg.result_days)
    founded = decided is not None and decided.event.action is ComplaintAction.FOUNDED
    violation: tuple[Condition, ...] = ()
    if founded and decided is not None:
        at = decided.event.ts
        evidence = (decided.event_id, received.event_id)
        violation = (Condition(RuleId.COMPLAINT_FOUNDED, "", at, at, False, evidence),)
        due = add_months(at, cfg.handling_months, cal)
        if closed is None or closed.event.ts > due:
            end = None if closed is None else closed.event.ts
            ids = (decided.event_id,)
            process += (Condition(RuleId.COMPLAINT_HANDLING_LATE, "", due, end, False, ids),)
    named = [f.event for f in events]
    return ComplaintAssessment(
        complaint=complaint,
        window=next((e.window for e in named if e.window is not None), None),
        staff=next((e.staff for e in named if e.staff is not None), None),
        case=next((e.case for e in named if e.case is not None), None),
        received_at=received.event.ts,
        accepted_at=None if accepted is None else accepted.event.ts,
        decided_at=None if decided is None else decided.event.ts,
        founded=founded,
        closed_at=None if closed is None else closed.event.ts,
        process=process,
        violation=violation,
    )


def _earliest(
    first: Mapping[ComplaintAction, Filed], actions: Sequence[ComplaintAction]
) -> Filed | None:
    found = [first[a] for a in actions if a in first]
    return min(found, key=_order) if found else None


def _late(
    rule: RuleId, start: Filed, done: Filed | None, cal: WorkCalendar, days: int
) -> tuple[Condition, ...]:
    """A deadline `days` working days after `start`: a condition if `done` is not before it."""
    due = cal.add_working_days(start.event.ts, days)
    if done is not None and done.event.ts <= due.at:
        return ()
    end = None if done is None else done.event.ts
    return (Condition(rule, "", due.at, end, due.estimated, (start.event_id,)),)


def add_months(t: datetime, months: int, cal: WorkCalendar) -> datetime:
    """The same hall-local time `months` later; the month's last day when it is shorter."""
    local = t.astimezone(cal.zone)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(t.tzinfo)


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    """Whom a complaint or review card names: the window, the officer who answers, the case."""

    window: WindowId | None
    staff: StaffId | None
    case: CaseId | None


def named(
    a: ComplaintAssessment,
    a_posts: Mapping[WindowId, StaffId],
    case_people: Callable[[CaseId], tuple[WindowId | None, StaffId | None]],
) -> Who:
    """The complaint's officer and window; a window alone → its A post; a case alone → the
    case's window and officer."""
    window, staff = a.window, a.staff
    if window is None and staff is None and a.case is not None:
        window, staff = case_people(a.case)
    if staff is None and window is not None:
        staff = a_posts.get(window)
    return Who(window=window, staff=staff, case=a.case)


def assess_review(
    ratings: Sequence[Rated], cal: WorkCalendar, cfg: ComplaintsConfig
) -> tuple[Condition, ...]:
    """The first bad rating of a case, rectified by a later rating ≥ 3 before the deadline."""
    ordered = sorted(ratings, key=lambda r: (r.ts, r.event_id))
    bad = next((i for i, r in enumerate(ordered) if r.level in BAD_LEVELS), None)
    if bad is None:
        return ()
    first = ordered[bad]
    due = cal.add_working_days(first.ts, cfg.review_rectify_days)
    fixed = next((r for r in ordered[bad + 1 :] if r.level not in BAD_LEVELS), None)
    if fixed is not None and fixed.ts <= due.at:
        return ()
    ids = (first.event_id,)
    return (Condition(RuleId.REVIEW_BAD_UNRECTIFIED, "", due.at, due.at, due.estimated, ids),)


@dataclass(slots=True)
class Book:
    """Complaint events and ratings as journaled: the facts the rules above read."""

    complaints: dict[ComplaintId, list[Filed]]
    ratings: dict[CaseId, list[Rated]]

    @classmethod
    def empty(cls) -> Book:
        return cls({}, {})

    def file(self, event_id: EventId, ev: ComplaintEvent) -> list[Filed]:
        filed = self.complaints.setdefault(ev.complaint, [])
        filed.append(Filed(event_id, ev))
        return filed

    def rate(self, event_id: EventId, ev: Rating) -> list[Rated]:
        rated = self.ratings.setdefault(ev.case, [])
        rated.append(Rated(ev.ts, event_id, ev.level))
        return rated

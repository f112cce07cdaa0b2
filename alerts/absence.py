"""Whether a staff status excuses an absence: the absence notice and the leave note. Pure.

- An absence notice (离岗告示, status `away`) says why, where and how to reach the officer
  (001_… 第五篇(一)4: 内容包括离岗原因、去向和联系方式): `reason`, `whereabouts` and
  `contact`. A notice without all three covers no empty seat and is a card of its own
  (`post.notice_incomplete`, alerts/posts.py).
- A leave note (请假, status `leave`) is approved by length (001_… 第一篇(十)6): up to a day by
  the deputy (分管领导, `approved_by`); more than a day by the deputy and then the head
  (主要领导, `head_approved_by`). The seed names half a day for the deputy alone and the head
  only beyond a day; between the two the deputy's approval is enough (docs/people.md). The
  officer never approves their own leave. Unapproved leave covers nothing and is a card
  (`leave.unapproved`).

The length is counted in service sessions (half-days) of the calendar the leave overlaps; a
leave without `until` has no declared length and needs both approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.events import StaffState, StaffStatus
from alerts.ids import StaffId
from alerts.workdays import WorkCalendar

_LONGEST_COUNTED = 62  # days of a leave whose sessions are counted; longer is "more than a day"


class NoticeGap(StrEnum):
    NO_REASON = "no_reason"
    NO_WHEREABOUTS = "no_whereabouts"
    NO_CONTACT = "no_contact"


def notice_gaps(st: StaffStatus) -> tuple[NoticeGap, ...]:
    """What an absence notice lacks; () when it is complete (or not a notice)."""
    if st.state is not StaffState.AWAY:
        return ()
    fields = (
        (NoticeGap.NO_REASON, st.reason),
        (NoticeGap.NO_WHEREABOUTS, st.whereabouts),
        (NoticeGap.NO_CONTACT, st.contact),
    )
    return tuple(v for v, text in fields if text is None or not text.strip())


def notice_complete(st: StaffStatus) -> bool:
    return not notice_gaps(st)


class LeaveVerdict(StrEnum):
    APPROVED = "approved"
    NO_APPROVER = "no_approver"
    SELF_APPROVED = "self_approved"
    NOT_A_DEPUTY = "not_a_deputy"  # approved_by is not among those who may approve leave
    NO_HEAD = "no_head"  # more than a day, without the head's approval
    HEAD_SELF_APPROVED = "head_self_approved"
    NOT_A_HEAD = "not_a_head"


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveRules:
    """Who may approve leave: `deputies` up to a day (a head may too); beyond a day `heads`
    as well. The daemon builds it from the configuration (alerts/people.py `leave_rules`);
    where a function takes `LeaveRules | None`, None checks nobody (the core's own tests)."""

    deputies: frozenset[StaffId]
    heads: frozenset[StaffId]
    cal: WorkCalendar


def half_days(st: StaffStatus, cal: WorkCalendar) -> int | None:
    """Service sessions the leave overlaps; None: no `until`, or too long to count."""
    start, end = st.start or st.ts, st.until
    if end is None or end - start > timedelta(days=_LONGEST_COUNTED):
        return None
    day, last, n = start.astimezone(cal.zone).date(), end.astimezone(cal.zone).date(), 0
    while day <= last:
        n += sum(1 for s, e in cal.service_hours(day) if _overlap(s, e, start, end))
        day += timedelta(days=1)
    return n


def _overlap(s: datetime, e: datetime, a: datetime, b: datetime) -> bool:
    return max(s, a) < min(e, b)


def leave_verdict(st: StaffStatus, rules: LeaveRules | None) -> LeaveVerdict:
    """Whether a `leave` status is approved as its length requires (any other: APPROVED)."""
    if st.state is not StaffState.LEAVE or rules is None:
        return LeaveVerdict.APPROVED
    if st.approved_by is None:
        return LeaveVerdict.NO_APPROVER
    if st.approved_by == st.staff:
        return LeaveVerdict.SELF_APPROVED
    if st.approved_by not in rules.deputies | rules.heads:
        return LeaveVerdict.NOT_A_DEPUTY
    n = half_days(st, rules.cal)
    if n is not None and n <= 2:  # up to a day: the deputy
        return LeaveVerdict.APPROVED
    if st.head_approved_by is None:
        return LeaveVerdict.APPROVED if st.approved_by in rules.heads else LeaveVerdict.NO_HEAD
    if st.head_approved_by == st.staff:
        return LeaveVerdict.HEAD_SELF_APPROVED
    if st.head_approved_by not in rules.heads:
        return LeaveVerdict.NOT_A_HEAD
    return LeaveVerdict.APPROVED


def excuses(st: StaffStatus, rules: LeaveRules | None) -> bool:
    """The status may excuse an absence: a complete notice, an approved leave, any other."""
    return notice_complete(st) and leave_verdict(st, rules) is LeaveVerdict.APPROVED

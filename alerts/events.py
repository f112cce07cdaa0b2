"""The contract's inbound events as values (docs/contract.md, version 1).

All times are aware and in UTC; the hall's zone is applied at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from alerts.ids import CardId, CaseId, ComplaintId, DeviceId, EventId, StaffId, WindowId


class EventKind(StrEnum):
    PUNCH = "punch"
    CLOCK_HEARTBEAT = "clock_heartbeat"
    CLOCK_STATUS = "clock_status"
    CAMERA_STATUS = "camera_status"
    PRESENCE = "presence"
    CASE = "case"
    STAFF_STATUS = "staff_status"
    COMPLAINT = "complaint"
    RATING = "rating"
    CARD_COMMAND = "card_command"


class Verify(StrEnum):
    FINGERPRINT = "fingerprint"
    CARD = "card"
    FACE = "face"
    PASSWORD = "password"
    TEMPORARY = "temporary"


class DeviceKind(StrEnum):
    CLOCK = "clock"
    CAMERA = "camera"


class CaseKind(StrEnum):
    IMMEDIATE = "immediate"
    PROMISED = "promised"
    JOINT = "joint"
    REPORTED = "reported"
    SUPPLEMENT = "supplement"
    RETURNED = "returned"
    SPECIAL = "special"


class CaseAction(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    STEP_STARTED = "step_started"
    STEP_FINISHED = "step_finished"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    EXTENDED = "extended"
    REPORTED_UP = "reported_up"
    REPLY_RECEIVED = "reply_received"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    RETURNED = "returned"
    REFUSAL_REVIEWED = "refusal_reviewed"
    CORRECTED = "corrected"


class Outcome(StrEnum):
    APPROVED = "approved"
    REFUSED = "refused"


class ReviewVerdict(StrEnum):
    UPHELD = "upheld"
    UNLAWFUL = "unlawful"


class StaffState(StrEnum):
    ON_POST = "on_post"
    AWAY = "away"
    MEETING = "meeting"
    TRIP = "trip"
    LEAVE = "leave"
    OFF = "off"


class LeaveCategory(StrEnum):
    OFFICIAL = "official"
    PERSONAL = "personal"
    SICK = "sick"
    ANNUAL = "annual"


class ComplaintAction(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    FOUNDED = "founded"
    UNFOUNDED = "unfounded"
    CLOSED = "closed"


class ComplaintCategory(StrEnum):
    OVERTIME = "overtime"
    FEES = "fees"
    PROCEDURE = "procedure"
    DISCLOSURE = "disclosure"
    ATTITUDE = "attitude"
    OTHER = "other"


class CardAction(StrEnum):
    ANSWER = "answer"
    UPHOLD = "uphold"
    REVOKE = "revoke"
    MITIGATE = "mitigate"  # upheld with a lighter outcome (000_… 八(七)): `mitigation`, `text`


class Mitigation(StrEnum):
    """A mitigating decision (000_… 八(七)): 从轻, 减轻 or 免予处理, always with its reason."""

    LIGHTER = "lighter"  # 从轻处理
    REDUCED = "reduced"  # 减轻处理
    EXEMPT = "exempt"  # 免予处理


@dataclass(frozen=True, slots=True, kw_only=True)
class Makeup:
    """A make-up (补签) claimed by a punch: on the wire `"state": "makeup:<approver>"`
    (docs/attendance.md), decoded once by alerts/contract.py."""

    approved_by: StaffId | None  # None: the state names nobody (refused: makeup_no_approver)


@dataclass(frozen=True, slots=True, kw_only=True)
class Punch:
    device: DeviceId
    staff: StaffId
    ts: datetime
    verify: Verify
    state: str | None = None  # the contract's informative text, as sent
    makeup: Makeup | None = None  # `state` claims a make-up (attendance: only if temporary)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    device_kind: DeviceKind
    device: DeviceId
    online: bool
    ts: datetime  # receive time: the retained status carries no time of its own


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockHeartbeat:
    """A clock's bridge: every punch of `device` stamped before `ts` has been published
    (the clock polled with nothing left to upload). How far the clock is heard, with a time
    of its own, where the retained `online` has none (docs/contract.md)."""

    device: DeviceId
    ts: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence:
    camera: DeviceId
    window: WindowId
    present: bool
    persons: int
    ts: datetime
    confidence: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Applicant:
    """Who applied, as a refusal names them for the negative-filing register."""

    unit: str | None = None
    name: str | None = None
    phone: str | None = None


def applicant_of(unit: str | None, name: str | None, phone: str | None) -> Applicant | None:
    return (
        None
        if unit is None and name is None and phone is None
        else Applicant(unit=unit, name=name, phone=phone)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseEvent:
    case: CaseId
    action: CaseAction
    ts: datetime
    kind: CaseKind | None = None
    window: WindowId | None = None
    staff: StaffId | None = None
    promised_days: int | None = None
    legal_days: int | None = None
    deadline: datetime | None = None
    step: str | None = None
    step_days: int | None = None
    dept: str | None = None
    reason: str | None = None
    reason_code: int | None = None
    new_deadline: datetime | None = None
    extra_days: int | None = None
    approved_by: StaffId | None = None
    authority: str | None = None
    outcome: Outcome | None = None
    verdict: ReviewVerdict | None = None
    reviewer: StaffId | None = None
    applicant_told: bool | None = None  # `extended`: the applicant was told why (000_… 四(五))
    item: str | None = None  # the catalogue's item code (事项编码): its kind, limits (alerts/items)
    applicant: Applicant | None = None  # a refusal's applicant (000_… 六(三)3); one slot


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffStatus:
    staff: StaffId
    state: StaffState
    ts: datetime
    start: datetime | None = None  # the payload's "from"
    until: datetime | None = None
    reason: str | None = None
    contact: str | None = None
    substitute: StaffId | None = None
    approved_by: StaffId | None = None  # leave: the deputy (分管领导)
    category: LeaveCategory | None = None
    whereabouts: str | None = None  # an absence notice's 去向 (001_… 第五篇(一)4)
    head_approved_by: StaffId | None = None  # leave over a day: the head (主要领导)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintEvent:
    complaint: ComplaintId
    action: ComplaintAction
    ts: datetime
    category: ComplaintCategory | None = None
    window: WindowId | None = None
    staff: StaffId | None = None
    case: CaseId | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rating:
    case: CaseId
    level: int
    ts: datetime
    channel: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardCommand:
    card: CardId
    action: CardAction
    by: StaffId
    ts: datetime
    text: str | None = None
    mitigation: Mitigation | None = None  # with action mitigate only


Event = (
    Punch
    | ClockHeartbeat
    | DeviceStatus
    | Presence
    | CaseEvent
    | StaffStatus
    | ComplaintEvent
    | Rating
    | CardCommand
)


class Recorded(NamedTuple):
    """An event as the journal holds it: what derived state is built from."""

    seq: int
    event_id: EventId
    received_at: datetime
    event: Event

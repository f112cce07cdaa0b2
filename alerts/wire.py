"""The contract's JSON payloads as msgspec Structs, one per inbound kind, and the events
built from them: the fast path of alerts/contract.py `decode`.

The Structs are stricter than the contract on purpose: no unknown field
(`forbid_unknown_fields`) and only scalar values, so msgspec has read and checked every byte
of a payload it accepts (UTF-8, lone surrogates, NaN and Infinity, number ranges). What they
refuse, and what `build` declines, is decided by the reference decoder (alerts/contract.py
`decode_reference`), which words the contract's reasons: a payload with an unknown field or
an unusual time stamp is not refused here, only decoded the slow way. The one thing msgspec
lets through and RFC 8259 does not, a duplicate key (the last one would win), is caught by
`keys_unique`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Final, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from alerts.events import (
    CardAction,
    CardCommand,
    CaseAction,
    CaseEvent,
    CaseKind,
    ClockHeartbeat,
    ComplaintAction,
    ComplaintCategory,
    ComplaintEvent,
    Event,
    EventKind,
    LeaveCategory,
    Makeup,
    Mitigation,
    Outcome,
    Presence,
    Punch,
    Rating,
    ReviewVerdict,
    StaffState,
    StaffStatus,
    Verify,
    applicant_of,
)
from alerts.ids import CardId, CaseId, ComplaintId, DeviceId, StaffId, WindowId

MAX_TEXT: Final = 4096  # characters in one text field
DAYS: Final = 3650  # the longest period a case field may count in days
# Years a hall's clock can mean. Outside them a time is a device fault (a clock reset to
# 0001, a filler 9999), and the calendar arithmetic on it would overflow.
MIN_YEAR, MAX_YEAR = 1970, 2199

_LEN = msgspec.Meta(min_length=1, max_length=MAX_TEXT)
Text = Annotated[str, _LEN]
Staff = Annotated[StaffId, _LEN]
Window = Annotated[WindowId, _LEN]
Case = Annotated[CaseId, _LEN]
Days = Annotated[int, msgspec.Meta(ge=0, le=DAYS)]
# Absent and null are the same to the contract; UNSET (absent) is kept apart only so that
# `keys_unique` can count the keys a payload held.
Opt = UnsetType | None


class Wire(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    id: Text | Opt = UNSET  # the sender's event id; absent: derived from the bytes


class PunchWire(Wire):
    staff: Staff
    ts: Text
    verify: Verify
    state: Text | Opt = UNSET


class ClockHeartbeatWire(Wire):
    ts: Text


class PresenceWire(Wire):
    window: Window
    present: bool
    persons: Annotated[int, msgspec.Meta(ge=0, le=100)]
    ts: Text
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | Opt = UNSET


class CaseWire(Wire):
    case: Case
    action: CaseAction
    ts: Text
    kind: CaseKind | Opt = UNSET
    window: Window | Opt = UNSET
    staff: Staff | Opt = UNSET
    promised_days: Days | Opt = UNSET
    legal_days: Days | Opt = UNSET
    deadline: Text | Opt = UNSET
    step: Text | Opt = UNSET
    step_days: Days | Opt = UNSET
    dept: Text | Opt = UNSET
    reason: Text | Opt = UNSET
    reason_code: Annotated[int, msgspec.Meta(ge=1, le=6)] | Opt = UNSET
    new_deadline: Text | Opt = UNSET
    extra_days: Annotated[int, msgspec.Meta(ge=1, le=DAYS)] | Opt = UNSET
    approved_by: Staff | Opt = UNSET
    authority: Text | Opt = UNSET
    outcome: Outcome | Opt = UNSET
    verdict: ReviewVerdict | Opt = UNSET
    reviewer: Staff | Opt = UNSET
    applicant_told: bool | Opt = UNSET
    item: Text | Opt = UNSET
    applicant_unit: Text | Opt = UNSET
    applicant_name: Text | Opt = UNSET
    applicant_phone: Text | Opt = UNSET


class StaffStatusWire(Wire):
    state: StaffState
    ts: Text | Opt = UNSET
    start: Text | Opt = msgspec.field(default=UNSET, name="from")
    until: Text | Opt = UNSET
    reason: Text | Opt = UNSET
    contact: Text | Opt = UNSET
    substitute: Staff | Opt = UNSET
    approved_by: Staff | Opt = UNSET
    category: LeaveCategory | Opt = UNSET
    whereabouts: Text | Opt = UNSET
    head_approved_by: Staff | Opt = UNSET


class ComplaintWire(Wire):
    action: ComplaintAction
    ts: Text
    category: ComplaintCategory | Opt = UNSET
    window: Window | Opt = UNSET
    staff: Staff | Opt = UNSET
    case: Case | Opt = UNSET
    channel: Text | Opt = UNSET


class RatingWire(Wire):
    case: Case
    level: Annotated[int, msgspec.Meta(ge=1, le=5)]
    ts: Text
    channel: Text | Opt = UNSET


class CardCommandWire(Wire):
    action: CardAction
    by: Staff
    ts: Text
    text: Text | Opt = UNSET
    mitigation: Mitigation | Opt = UNSET


WIRES: Final[dict[EventKind, type[Wire]]] = {
    EventKind.PUNCH: PunchWire,
    EventKind.CLOCK_HEARTBEAT: ClockHeartbeatWire,
    EventKind.PRESENCE: PresenceWire,
    EventKind.CASE: CaseWire,
    EventKind.STAFF_STATUS: StaffStatusWire,
    EventKind.COMPLAINT: ComplaintWire,
    EventKind.RATING: RatingWire,
    EventKind.CARD_COMMAND: CardCommandWire,
}
_encode = msgspec.json.Encoder().encode
DECODERS: Final[dict[EventKind, msgspec.json.Decoder[Wire]]] = {
    kind: msgspec.json.Decoder(wire) for kind, wire in WIRES.items()
}


def keys_unique(payload: bytes, wire: Wire) -> bool:
    """No key of `payload` (which decoded to `wire`) appears twice.

    Every value is a scalar and every key a field name, so each colon of the JSON text
    outside its strings separates a key from its value. `wire` encoded again
    holds the keys that survived decoding (UNSET ones are left out) and the colons of the
    strings that survived; the payload holds as many, plus a key and a value's colons for
    each duplicate that was dropped. A colon escaped as ``\\u003a`` is counted by its
    ``\\u003`` (any ``\\u003X`` is: counting too many only sends a payload the slow way).
    Enum values hold no colon (tests/test_contract.py).
    """
    held = payload.count(b":") + payload.count(b"\\u003")
    return held == _encode(wire).count(b":")


_T = TypeVar("_T")


def given(value: _T | UnsetType | None) -> _T | None:
    """A field's value, None when the payload left it out or sent null."""
    return None if value is UNSET else value


MAKEUP_PREFIX = "makeup:"


def makeup_of(state: str | None) -> Makeup | None:
    """The make-up a punch's `state` claims: ``makeup:<approver>`` (docs/attendance.md).

    Decoded whatever the punch's `verify`: attendance honours it on a `temporary` punch only,
    and the leader's duty never counts a punch that claims one."""
    if state is None or not state.startswith(MAKEUP_PREFIX):
        return None
    approver = state[len(MAKEUP_PREFIX) :].strip()
    return Makeup(approved_by=StaffId(approver) if approver else None)


CASE_NEEDS: dict[CaseAction, tuple[str, ...]] = {
    CaseAction.RECEIVED: ("window", "staff", "kind"),
    CaseAction.ACCEPTED: ("kind", "window", "staff"),
    CaseAction.STEP_STARTED: ("step",),
    CaseAction.STEP_FINISHED: ("step",),
    CaseAction.SUSPENDED: ("reason",),
    CaseAction.EXTENDED: ("approved_by",),
    CaseAction.REPORTED_UP: ("authority",),
    CaseAction.COMPLETED: ("outcome",),
    # No `reason`: accepted, and a card (case.returned.no_reason, 000_d7818c12e4aa5d4b 二(二)).
    CaseAction.RETURNED: ("reason_code",),
    CaseAction.REFUSAL_REVIEWED: ("verdict", "reviewer"),
}
# With an `item`, the catalogue gives the kind (alerts/items.py): the event need not.
ITEM_GIVES: Final = frozenset({"kind"})


def case_needs(action: CaseAction, item: bool) -> tuple[str, ...]:
    """The fields a case event of `action` must carry; fewer when it names its item."""
    needs = CASE_NEEDS.get(action, ())
    return tuple(n for n in needs if n not in ITEM_GIVES) if item else needs


# --- Struct to event ---------------------------------------------------------------------------

_COMMON_TS: Final = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z)?", re.ASCII
).fullmatch
_YEARS: Final = f"{MIN_YEAR:04d}", f"{MAX_YEAR:04d}"  # four ASCII digits compare as numbers do


def stamp(text: str, zone: tzinfo | None) -> datetime:
    """The instant of a time stamp in the shapes devices send (whole seconds; an offset, Z or
    none, then `zone`), in UTC, as alerts/contract.py `parse_time` reads it. ValueError for
    any other text: `parse_time` reads that one, or refuses it with its reason (a builder
    lets it through: its event is then built the slow way)."""
    if _COMMON_TS(text) is not None and _YEARS[0] <= text[:4] <= _YEARS[1]:
        try:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None and zone is not None:
                value = value.replace(tzinfo=zone)
            if value.tzinfo is not None:
                return value.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise ValueError(text)


def _opt_stamp(text: str | UnsetType | None, zone: tzinfo | None) -> datetime | None:
    return None if text is None or text is UNSET else stamp(text, zone)


def _punch(w: PunchWire, key: str, _: datetime, zone: tzinfo | None) -> Punch:
    state = given(w.state)
    return Punch(
        device=DeviceId(key),
        staff=w.staff,
        ts=stamp(w.ts, zone),
        verify=w.verify,
        state=state,
        makeup=makeup_of(state),
    )


def _heartbeat(w: ClockHeartbeatWire, key: str, _: datetime, zone: tzinfo | None) -> ClockHeartbeat:
    return ClockHeartbeat(device=DeviceId(key), ts=stamp(w.ts, zone))


def _presence(w: PresenceWire, key: str, _: datetime, zone: tzinfo | None) -> Presence | None:
    if w.present and w.persons == 0:
        return None
    return Presence(
        camera=DeviceId(key),
        window=w.window,
        present=w.present,
        persons=w.persons,
        ts=stamp(w.ts, zone),
        confidence=given(w.confidence),
    )


def _case(w: CaseWire, key: str, _: datetime, zone: tzinfo | None) -> CaseEvent | None:
    if w.case != key:
        return None
    for name in case_needs(w.action, given(w.item) is not None):
        if given(getattr(w, name)) is None:
            return None
    return CaseEvent(
        case=w.case,
        action=w.action,
        ts=stamp(w.ts, zone),
        kind=given(w.kind),
        window=given(w.window),
        staff=given(w.staff),
        promised_days=given(w.promised_days),
        legal_days=given(w.legal_days),
        deadline=_opt_stamp(w.deadline, zone),
        step=given(w.step),
        step_days=given(w.step_days),
        dept=given(w.dept),
        reason=given(w.reason),
        reason_code=given(w.reason_code),
        new_deadline=_opt_stamp(w.new_deadline, zone),
        extra_days=given(w.extra_days),
        approved_by=given(w.approved_by),
        authority=given(w.authority),
        outcome=given(w.outcome),
        verdict=given(w.verdict),
        reviewer=given(w.reviewer),
        applicant_told=given(w.applicant_told),
        item=given(w.item),
        applicant=applicant_of(
            given(w.applicant_unit), given(w.applicant_name), given(w.applicant_phone)
        ),
    )


def _staff_status(
    w: StaffStatusWire, key: str, received_at: datetime, zone: tzinfo | None
) -> StaffStatus | None:
    start = _opt_stamp(w.start, zone)
    until = _opt_stamp(w.until, zone)
    category = given(w.category)
    if (start is not None and until is not None and until < start) or (
        w.state is StaffState.LEAVE and category is None
    ):
        return None
    return StaffStatus(
        staff=StaffId(key),
        state=w.state,
        ts=_opt_stamp(w.ts, zone) or start or received_at,
        start=start,
        until=until,
        reason=given(w.reason),
        contact=given(w.contact),
        substitute=given(w.substitute),
        approved_by=given(w.approved_by),
        category=category,
        whereabouts=given(w.whereabouts),
        head_approved_by=given(w.head_approved_by),
    )


def _complaint(w: ComplaintWire, key: str, _: datetime, zone: tzinfo | None) -> ComplaintEvent:
    return ComplaintEvent(
        complaint=ComplaintId(key),
        action=w.action,
        ts=stamp(w.ts, zone),
        category=given(w.category),
        window=given(w.window),
        staff=given(w.staff),
        case=given(w.case),
        channel=given(w.channel),
    )


def _rating(w: RatingWire, key: str, _: datetime, zone: tzinfo | None) -> Rating | None:
    if w.case != key:
        return None
    return Rating(case=w.case, level=w.level, ts=stamp(w.ts, zone), channel=given(w.channel))


def _card_command(
    w: CardCommandWire, key: str, _: datetime, zone: tzinfo | None
) -> CardCommand | None:
    text, mitigation = given(w.text), given(w.mitigation)
    if text is None and w.action is not CardAction.UPHOLD:
        return None
    if (mitigation is None) is (w.action is CardAction.MITIGATE):
        return None  # the reference decoder says why
    return CardCommand(
        card=CardId(key),
        action=w.action,
        by=w.by,
        ts=stamp(w.ts, zone),
        text=text,
        mitigation=mitigation if w.action is CardAction.MITIGATE else None,
    )


# The event of a Struct (its topic's key, the receive time, the device's zone for a naive
# stamp), as the reference decoder would build it; None, or ValueError, where the reference
# would refuse it or should look closer. alerts/contract.py then runs the checks of the
# whole event and those against the hall's configuration.
_Builder = Callable[[Any, str, datetime, tzinfo | None], Event | None]
BUILDERS: Final[dict[EventKind, _Builder]] = {
    EventKind.PUNCH: _punch,
    EventKind.CLOCK_HEARTBEAT: _heartbeat,
    EventKind.PRESENCE: _presence,
    EventKind.CASE: _case,
    EventKind.STAFF_STATUS: _staff_status,
    EventKind.COMPLAINT: _complaint,
    EventKind.RATING: _rating,
    EventKind.CARD_COMMAND: _card_command,
}

"""Pure decoder of the wire contract: (topic, payload bytes, receive time) → event or reason.

No sockets, no clock, no configuration file: membership checks take a `Directory`.
Every refusal carries a `RejectReason` and a sentence an operator can act on.

Two paths, one answer. `decode` first tries the fast one: the payload's msgspec Struct
(alerts/wire.py) in one call, a duplicate-key count, the common time stamp shapes, the event
built from the Struct. Anything that path does not accept outright (a refusal of any kind,
an unknown field, an unusual time stamp) is decided again by `decode_reference`, the field by
field decoder on stdlib json, which alone words the reasons: a rejection reads the same
whichever path saw the message first, and the fast path never accepts what the reference
would refuse (tests/test_contract.py holds the two equal on generated payloads).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from alerts import wire
from alerts.config import Directory
from alerts.errors import HallwatchError
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
    DeviceKind,
    DeviceStatus,
    Event,
    EventKind,
    LeaveCategory,
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
from alerts.ids import CardId, CaseId, ComplaintId, DeviceId, EventId, StaffId, WindowId
from alerts.items import PROMISED_KINDS
from alerts.wire import MAX_YEAR, MIN_YEAR, case_needs
from alerts.wire import makeup_of as makeup_of  # where it always was


class RejectReason(StrEnum):
    OVERSIZE = "oversize"
    NOT_UTF8 = "not_utf8"
    BAD_JSON = "bad_json"
    TOO_DEEP = "too_deep"
    NOT_OBJECT = "not_object"
    UNKNOWN_TOPIC = "unknown_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    BAD_TIME = "bad_time"
    NAIVE_TIME = "naive_time"
    FUTURE_TIME = "future_time"
    PAST_TIME = "past_time"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_WINDOW = "unknown_window"
    UNKNOWN_STAFF = "unknown_staff"
    UNKNOWN_ITEM = "unknown_item"
    INTERNAL = "internal_error"

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]


_LABELS_ZH = {
    RejectReason.OVERSIZE: "消息过大",
    RejectReason.NOT_UTF8: "非UTF-8编码",
    RejectReason.BAD_JSON: "JSON格式错误",
    RejectReason.TOO_DEEP: "嵌套过深",
    RejectReason.NOT_OBJECT: "不是JSON对象",
    RejectReason.UNKNOWN_TOPIC: "主题不在接口约定内",
    RejectReason.TOPIC_MISMATCH: "主题与内容不一致",
    RejectReason.MISSING_FIELD: "缺少字段",
    RejectReason.WRONG_TYPE: "字段类型错误",
    RejectReason.BAD_VALUE: "字段取值无效",
    RejectReason.BAD_TIME: "时间格式错误",
    RejectReason.NAIVE_TIME: "时间缺少时区",
    RejectReason.FUTURE_TIME: "时间超前",
    RejectReason.PAST_TIME: "时间过旧",
    RejectReason.UNKNOWN_DEVICE: "未登记的设备",
    RejectReason.UNKNOWN_WINDOW: "未登记的窗口",
    RejectReason.UNKNOWN_STAFF: "未登记的人员",
    RejectReason.UNKNOWN_ITEM: "事项清单中没有该事项",
    RejectReason.INTERNAL: "处理出错(已记录)",
}


class Accepted(msgspec.Struct, frozen=True, gc=False):
    """One per accepted message: a Struct, built four times faster than a frozen dataclass."""

    event_id: EventId
    kind: EventKind
    event: Event


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    detail: str


Decision = Accepted | Rejected


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int = 65536
    max_future_skew: timedelta = timedelta(minutes=5)
    max_past: timedelta = timedelta(days=60)


class _Refuse(HallwatchError):
    """A payload the contract refuses; caught in `decode`, never seen outside this module."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)
_E = TypeVar("_E", bound=StrEnum)
_I = TypeVar("_I", bound=str)  # an id type (alerts/ids.py)
_MAX_TEXT = wire.MAX_TEXT


def parse_time(text: str, naive_zone: tzinfo | None, field: str = "ts") -> datetime:
    m = _RFC3339.match(text)
    if m is None:
        raise _Refuse(RejectReason.BAD_TIME, f"{field} {text[:40]!r} is not RFC 3339")
    date, clock, frac, offset = m.groups()
    frac6 = (frac or "")[:7]
    if offset is None and naive_zone is None:
        raise _Refuse(RejectReason.NAIVE_TIME, f"{field} {text!r} has no UTC offset")
    if not MIN_YEAR <= int(date[:4]) <= MAX_YEAR:
        raise _Refuse(
            RejectReason.BAD_TIME, f"{field} {text!r}: year not in {MIN_YEAR}..{MAX_YEAR}"
        )
    try:
        value = datetime.fromisoformat(f"{date}T{clock}{frac6}{'' if offset is None else offset}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=naive_zone)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _Refuse(RejectReason.BAD_TIME, f"{field} {text!r}: {exc}") from exc


class _Fields:
    """Typed access to a payload object; each getter refuses with a precise reason.

    A `required_*` getter refuses a missing (or null) field; an `optional_*` one gives None.
    """

    __slots__ = ("data", "naive_zone")

    def __init__(self, data: dict[str, Any], naive_zone: tzinfo | None) -> None:
        self.data = data
        self.naive_zone = naive_zone

    def required(self, name: str) -> object:
        value: object = self.data.get(name)
        if value is None:
            raise _Refuse(RejectReason.MISSING_FIELD, f"field {name!r} is required")
        return value

    def required_text(self, name: str) -> str:
        return _text(name, self.required(name))

    def optional_text(self, name: str) -> str | None:
        value: object = self.data.get(name)
        return None if value is None else _text(name, value)

    def required_id(self, name: str, kind: Callable[[str], _I]) -> _I:
        return kind(self.required_text(name))

    def optional_id(self, name: str, kind: Callable[[str], _I]) -> _I | None:
        value = self.optional_text(name)
        return None if value is None else kind(value)

    def flag(self, name: str) -> bool:
        value = self.required(name)
        if not isinstance(value, bool):
            raise _Refuse(RejectReason.WRONG_TYPE, f"field {name!r} must be true or false")
        return value

    def optional_flag(self, name: str) -> bool | None:
        return None if self.data.get(name) is None else self.flag(name)

    def required_int(self, name: str, lo: int, hi: int) -> int:
        return _integer(name, self.required(name), lo, hi)

    def optional_int(self, name: str, lo: int, hi: int) -> int | None:
        value: object = self.data.get(name)
        return None if value is None else _integer(name, value, lo, hi)

    def ratio(self, name: str) -> float | None:
        value: object = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Refuse(RejectReason.WRONG_TYPE, f"field {name!r} must be a number")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise _Refuse(RejectReason.BAD_VALUE, f"field {name!r}={value} is not in 0..1")
        return float(value)

    def required_time(self, name: str) -> datetime:
        return parse_time(self.required_text(name), self.naive_zone, name)

    def optional_time(self, name: str) -> datetime | None:
        value = self.optional_text(name)
        return None if value is None else parse_time(value, self.naive_zone, name)

    def required_choice(self, name: str, enum: type[_E]) -> _E:
        return _choice(name, self.required_text(name), enum)

    def optional_choice(self, name: str, enum: type[_E]) -> _E | None:
        value = self.optional_text(name)
        return None if value is None else _choice(name, value, enum)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Refuse(RejectReason.WRONG_TYPE, f"field {name!r} must be a string")
    if not value or len(value) > _MAX_TEXT:
        raise _Refuse(RejectReason.BAD_VALUE, f"field {name!r} must hold 1–{_MAX_TEXT} chars")
    return value


def _integer(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refuse(RejectReason.WRONG_TYPE, f"field {name!r} must be an integer")
    if not lo <= value <= hi:
        raise _Refuse(RejectReason.BAD_VALUE, f"field {name!r}={value} is not in {lo}..{hi}")
    return value


def _choice(name: str, value: str, enum: type[_E]) -> _E:
    try:
        return enum(value)
    except ValueError as exc:
        allowed = ", ".join(e.value for e in enum)
        raise _Refuse(
            RejectReason.BAD_VALUE, f"field {name!r}={value[:40]!r} is not one of {allowed}"
        ) from exc


def _punch(f: _Fields, device: str) -> Punch:
    staff = f.required_id("staff", StaffId)
    ts = f.required_time("ts")
    verify = f.required_choice("verify", Verify)
    state = f.optional_text("state")
    return Punch(
        device=DeviceId(device),
        staff=staff,
        ts=ts,
        verify=verify,
        state=state,
        makeup=makeup_of(state),
    )


def _heartbeat(f: _Fields, clock: str) -> ClockHeartbeat:
    return ClockHeartbeat(device=DeviceId(clock), ts=f.required_time("ts"))


def _presence(f: _Fields, camera: str) -> Presence:
    present = f.flag("present")
    persons = f.required_int("persons", 0, 100)
    if present and persons == 0:
        raise _Refuse(RejectReason.BAD_VALUE, "present is true but persons is 0")
    return Presence(
        camera=DeviceId(camera),
        window=f.required_id("window", WindowId),
        present=present,
        persons=persons,
        ts=f.required_time("ts"),
        confidence=f.ratio("confidence"),
    )


_DAYS = wire.DAYS


def _case(f: _Fields, case: str) -> CaseEvent:
    if f.required_text("case") != case:
        raise _Refuse(RejectReason.TOPIC_MISMATCH, f"payload case differs from topic case {case!r}")
    action = f.required_choice("action", CaseAction)
    for name in case_needs(action, f.optional_text("item") is not None):
        f.required(name)
    ev = CaseEvent(
        case=CaseId(case),
        action=action,
        ts=f.required_time("ts"),
        kind=f.optional_choice("kind", CaseKind),
        window=f.optional_id("window", WindowId),
        staff=f.optional_id("staff", StaffId),
        promised_days=f.optional_int("promised_days", 0, _DAYS),
        legal_days=f.optional_int("legal_days", 0, _DAYS),
        deadline=f.optional_time("deadline"),
        step=f.optional_text("step"),
        step_days=f.optional_int("step_days", 0, _DAYS),
        dept=f.optional_text("dept"),
        reason=f.optional_text("reason"),
        reason_code=f.optional_int("reason_code", 1, 6),
        new_deadline=f.optional_time("new_deadline"),
        extra_days=f.optional_int("extra_days", 1, _DAYS),
        approved_by=f.optional_id("approved_by", StaffId),
        authority=f.optional_text("authority"),
        outcome=f.optional_choice("outcome", Outcome),
        verdict=f.optional_choice("verdict", ReviewVerdict),
        reviewer=f.optional_id("reviewer", StaffId),
        applicant_told=f.optional_flag("applicant_told"),
        item=f.optional_text("item"),
        applicant=applicant_of(
            f.optional_text("applicant_unit"),
            f.optional_text("applicant_name"),
            f.optional_text("applicant_phone"),
        ),
    )
    _check_case_kind(ev)
    return ev


def _check_case_kind(ev: CaseEvent) -> None:
    if ev.action is CaseAction.EXTENDED and ev.new_deadline is None and ev.extra_days is None:
        raise _Refuse(RejectReason.MISSING_FIELD, "extended needs new_deadline or extra_days")
    if ev.action is not CaseAction.ACCEPTED:
        return
    if ev.kind is CaseKind.SPECIAL and ev.deadline is None:
        raise _Refuse(RejectReason.MISSING_FIELD, "a special case needs 'deadline' when accepted")
    needs_days = (CaseKind.PROMISED, CaseKind.JOINT, CaseKind.REPORTED, CaseKind.SUPPLEMENT)
    if ev.kind in needs_days and ev.promised_days is None and ev.item is None:
        raise _Refuse(RejectReason.MISSING_FIELD, f"a {ev.kind} case needs 'promised_days'")


def _staff_status(f: _Fields, staff: str, received_at: datetime) -> StaffStatus:
    start = f.optional_time("from")
    until = f.optional_time("until")
    if start is not None and until is not None and until < start:
        raise _Refuse(RejectReason.BAD_VALUE, "'until' is before 'from'")
    state = f.required_choice("state", StaffState)
    category = (
        f.required_choice("category", LeaveCategory)
        if state is StaffState.LEAVE
        else f.optional_choice("category", LeaveCategory)
    )
    return StaffStatus(
        staff=StaffId(staff),
        state=state,
        ts=f.optional_time("ts") or start or received_at,
        start=start,
        until=until,
        reason=f.optional_text("reason"),
        contact=f.optional_text("contact"),
        substitute=f.optional_id("substitute", StaffId),
        approved_by=f.optional_id("approved_by", StaffId),
        category=category,
        whereabouts=f.optional_text("whereabouts"),
        head_approved_by=f.optional_id("head_approved_by", StaffId),
    )


def _complaint(f: _Fields, complaint: str) -> ComplaintEvent:
    return ComplaintEvent(
        complaint=ComplaintId(complaint),
        action=f.required_choice("action", ComplaintAction),
        ts=f.required_time("ts"),
        category=f.optional_choice("category", ComplaintCategory),
        window=f.optional_id("window", WindowId),
        staff=f.optional_id("staff", StaffId),
        case=f.optional_id("case", CaseId),
        channel=f.optional_text("channel"),
    )


def _rating(f: _Fields, case: str) -> Rating:
    if f.required_text("case") != case:
        raise _Refuse(RejectReason.TOPIC_MISMATCH, f"payload case differs from topic case {case!r}")
    return Rating(
        case=CaseId(case),
        level=f.required_int("level", 1, 5),
        ts=f.required_time("ts"),
        channel=f.optional_text("channel"),
    )


def _card_command(f: _Fields, card: str) -> CardCommand:
    action = f.required_choice("action", CardAction)
    by = f.required_id("by", StaffId)
    ts = f.required_time("ts")
    text = f.optional_text("text") if action is CardAction.UPHOLD else f.required_text("text")
    mitigation = None
    if action is CardAction.MITIGATE:
        mitigation = f.required_choice("mitigation", Mitigation)
    return CardCommand(
        card=CardId(card), action=action, by=by, ts=ts, text=text, mitigation=mitigation
    )


@dataclass(frozen=True, slots=True)
class Route:
    kind: EventKind
    key: str  # the topic's own id: device, case, staff, complaint or card


_ROUTES: dict[tuple[str, str | None], EventKind] = {
    ("clock", "punch"): EventKind.PUNCH,
    ("clock", "heartbeat"): EventKind.CLOCK_HEARTBEAT,
    ("clock", "status"): EventKind.CLOCK_STATUS,
    ("camera", "status"): EventKind.CAMERA_STATUS,
    ("camera", "presence"): EventKind.PRESENCE,
    ("case", "event"): EventKind.CASE,
    ("staff", "status"): EventKind.STAFF_STATUS,
    ("complaint", "event"): EventKind.COMPLAINT,
    ("rating", None): EventKind.RATING,
    ("card", "command"): EventKind.CARD_COMMAND,
}
INBOUND_AREAS = ("clock", "camera", "case", "staff", "complaint", "rating", "card")


def route(topic: str, hall: str) -> Route | None:
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != "hall" or parts[1] != hall or not parts[3]:
        return None
    leaf = parts[4] if len(parts) == 5 else None
    kind = _ROUTES.get((parts[2], leaf))
    return None if kind is None else Route(kind, parts[3])


_cached_route = functools.lru_cache(maxsize=4096)(route)


def _route(topic: str, hall: str) -> Route | None:
    """`route`, remembered for the topics a hall uses (a long topic is a stranger's)."""
    return _cached_route(topic, hall) if len(topic) <= _CACHED_TOPIC else route(topic, hall)


_CACHED_TOPIC = 160


def derived_id(topic: str, payload: bytes) -> EventId:
    digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
    return EventId("h:" + digest[:40])


class _NotJson(HallwatchError, ValueError):
    """RFC 8259 says no, though Python's json module would say yes."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _NotJson(RejectReason.BAD_JSON, f"duplicate key {_shown(dup)} (RFC 8259 §4)")
    return out


def _no_constant(name: str) -> Any:
    raise _NotJson(RejectReason.BAD_VALUE, f"{name} is not a JSON number (RFC 8259 §6)")


def _lone_surrogate(data: Any) -> str | None:
    """The first string, key or value, holding a lone surrogate (iterative: any depth)."""
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return v
        elif isinstance(v, dict):
            stack.extend(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(text: str) -> str:
    """A value for a reject's detail: short, and printable whatever it holds."""
    return ascii(text[:40])


def strict_json(text: str) -> Any:
    """RFC 8259 JSON text, stricter than `json.loads`: the one place these checks live.

    Python's parser accepts three things the RFC does not: duplicate keys (the last one
    wins, so two readers can disagree on a message), NaN/Infinity, and `\\ud800`-style
    escapes of lone surrogates (a str that cannot be encoded back to UTF-8, so storing it
    fails later, far from here). Raises `_NotJson` with the reason, or the parser's own
    ValueError / RecursionError.
    """
    data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    # A lone surrogate can only come from a \u escape: the text itself is valid UTF-8.
    if "\\u" in text and (bad := _lone_surrogate(data)) is not None:
        raise _NotJson(
            RejectReason.NOT_UTF8, f"{_shown(bad)} holds a lone surrogate: not Unicode text"
        )
    return data


def _load(payload: bytes, limit: int, strict: bool = True) -> dict[str, Any]:
    if len(payload) > limit:
        raise _Refuse(RejectReason.OVERSIZE, f"{len(payload)} bytes, limit {limit}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refuse(RejectReason.NOT_UTF8, f"invalid UTF-8 at byte {exc.start}") from exc
    try:
        data = strict_json(text) if strict else json.loads(text)
    except RecursionError as exc:
        raise _Refuse(RejectReason.TOO_DEEP, "JSON nested too deeply") from exc
    except _NotJson as exc:
        raise _Refuse(exc.reason, str(exc)) from exc
    except ValueError as exc:
        raise _Refuse(RejectReason.BAD_JSON, str(exc)[:200]) from exc
    if not isinstance(data, dict):
        raise _Refuse(RejectReason.NOT_OBJECT, f"payload is a JSON {type(data).__name__}")
    return data


def _status(payload: bytes, r: Route, received_at: datetime) -> DeviceStatus:
    text = payload.strip()
    if text not in (b"online", b"offline"):
        raise _Refuse(RejectReason.BAD_VALUE, "status must be 'online' or 'offline'")
    kind = DeviceKind.CLOCK if r.kind is EventKind.CLOCK_STATUS else DeviceKind.CAMERA
    return DeviceStatus(
        device_kind=kind, device=DeviceId(r.key), online=text == b"online", ts=received_at
    )


_Builder = Callable[[_Fields, str, datetime], Event]
_BUILDERS: dict[EventKind, _Builder] = {
    EventKind.PUNCH: lambda f, k, _: _punch(f, k),
    EventKind.CLOCK_HEARTBEAT: lambda f, k, _: _heartbeat(f, k),
    EventKind.PRESENCE: lambda f, k, _: _presence(f, k),
    EventKind.CASE: lambda f, k, _: _case(f, k),
    EventKind.STAFF_STATUS: _staff_status,
    EventKind.COMPLAINT: lambda f, k, _: _complaint(f, k),
    EventKind.RATING: lambda f, k, _: _rating(f, k),
    EventKind.CARD_COMMAND: lambda f, k, _: _card_command(f, k),
}


def _build(
    r: Route,
    payload: bytes,
    received_at: datetime,
    zone: tzinfo | None,
    limits: Limits,
    strict: bool = True,
) -> tuple[Event, EventId]:
    if r.kind in (EventKind.CLOCK_STATUS, EventKind.CAMERA_STATUS):
        if len(payload) > limits.max_payload_bytes:
            raise _Refuse(RejectReason.OVERSIZE, f"{len(payload)} bytes")
        return _status(payload, r, received_at), EventId("")
    data = _load(payload, limits.max_payload_bytes, strict)
    f = _Fields(data, zone)
    given = f.optional_text("id")
    event = _BUILDERS[r.kind](f, r.key, received_at)
    return event, EventId(given) if given else EventId("")


def decode(
    topic: str,
    payload: bytes,
    received_at: datetime,
    hall: str,
    directory: Directory,
    limits: Limits,
) -> Decision:
    """Decide one inbound message. Status messages get an empty id: the ingest dedups them."""
    r = _cached_route(topic, hall) if len(topic) <= _CACHED_TOPIC else route(topic, hall)
    if r is not None and r.kind in wire.BUILDERS:
        accepted = _fast(topic, r, payload, received_at, directory, limits)
        if accepted is not None:
            return accepted
    return decode_reference(topic, payload, received_at, hall, directory, limits)


def decode_reference(
    topic: str,
    payload: bytes,
    received_at: datetime,
    hall: str,
    directory: Directory,
    limits: Limits,
) -> Decision:
    """`decode` field by field on stdlib json: the decoder every rejection is worded by."""
    r = route(topic, hall)
    if r is None:
        return Rejected(RejectReason.UNKNOWN_TOPIC, f"topic {topic[:200]!r} is not in the contract")
    try:
        event, given = _build(r, payload, received_at, directory.zones.get(r.key), limits)
        _admit(event, directory)
        if event.ts - received_at > limits.max_future_skew:
            raise _Refuse(
                RejectReason.FUTURE_TIME,
                f"ts {event.ts.isoformat()} is more than {limits.max_future_skew} after receipt",
            )
        # A status without `ts` counts from its `from`: a sick leave posted weeks into it is
        # no reset clock, so the lower bound is for the stamped events only.
        if not isinstance(event, StaffStatus) and received_at - event.ts > limits.max_past:
            raise _Refuse(
                RejectReason.PAST_TIME,
                f"ts {event.ts.isoformat()} is more than {limits.max_past.days} days "
                "before receipt (ingest.max_past_days)",
            )
    except _Refuse as refusal:
        return Rejected(refusal.reason, refusal.detail)
    if given == "" and r.kind not in (EventKind.CLOCK_STATUS, EventKind.CAMERA_STATUS):
        given = derived_id(topic, payload)
    return Accepted(given, r.kind, event)


def _staff(d: Directory, name: str, value: str | None) -> None:
    if value is not None and value not in d.staff:
        raise _Refuse(RejectReason.UNKNOWN_STAFF, f"{name} {value!r} is not in the hall")


def _window(d: Directory, value: str | None) -> None:
    if value is not None and value not in d.windows:
        raise _Refuse(RejectReason.UNKNOWN_WINDOW, f"window {value!r} is unknown")


def _item(d: Directory, ev: CaseEvent) -> None:
    """An event that leaves its kind or its promise to an item the catalogue lacks is refused;
    one that carries them itself is not (its item is then only a label)."""
    if ev.item is None or ev.item in d.items:
        return
    needs_kind = ev.kind is None and "kind" in wire.CASE_NEEDS.get(ev.action, ())
    needs_days = ev.action is CaseAction.ACCEPTED and ev.promised_days is None
    if needs_kind or (needs_days and ev.kind in PROMISED_KINDS):
        raise _Refuse(RejectReason.UNKNOWN_ITEM, f"item {ev.item!r} is not in the catalogue")


def _admit(ev: Event, d: Directory) -> None:
    """Checks against the hall's configuration: devices, windows and people must be known.

    (A detail is worded only when it is needed: this runs on every message.)"""
    match ev:
        case Punch():
            if ev.device not in d.clocks:
                raise _Refuse(RejectReason.UNKNOWN_DEVICE, f"clock {ev.device!r}")
            _staff(d, "staff", ev.staff)
        case ClockHeartbeat():
            if ev.device not in d.clocks:
                raise _Refuse(RejectReason.UNKNOWN_DEVICE, f"clock {ev.device!r}")
        case Presence():
            if ev.camera not in d.cameras:
                raise _Refuse(RejectReason.UNKNOWN_DEVICE, f"camera {ev.camera!r}")
            _window(d, ev.window)
            if ev.window not in d.camera_windows[ev.camera]:
                raise _Refuse(
                    RejectReason.UNKNOWN_WINDOW,
                    f"camera {ev.camera!r} does not watch window {ev.window!r}",
                )
        case DeviceStatus():
            known = d.clocks if ev.device_kind is DeviceKind.CLOCK else d.cameras
            if ev.device not in known:
                raise _Refuse(RejectReason.UNKNOWN_DEVICE, f"{ev.device_kind} {ev.device!r}")
        case CaseEvent():
            _item(d, ev)
            _window(d, ev.window)
            for name in ("staff", "approved_by", "reviewer"):
                _staff(d, name, getattr(ev, name))
        case StaffStatus():
            for name in ("staff", "substitute", "approved_by", "head_approved_by"):
                _staff(d, name, getattr(ev, name))
        case ComplaintEvent():
            _window(d, ev.window)
            _staff(d, "staff", ev.staff)
        case CardCommand():
            _staff(d, "by", ev.by)
        case Rating():
            pass


def decode_journaled(topic: str, payload: bytes, hall: str, ts: datetime) -> Event:
    """Rebuild an accepted event from the journal, independent of today's configuration.

    The journal's `ts` column is authoritative: it already holds the device zone's reading
    of a naive time, so replay does not depend on the zone configured now. Decoding is not
    strict here: the journal holds what the rules of its day accepted.
    """
    r = _route(topic, hall)
    if r is None:
        raise ValueError(f"journal holds a topic outside the contract: {topic!r}")
    build = wire.BUILDERS.get(r.kind)
    if build is not None:
        try:
            fast = build(wire.DECODERS[r.kind].decode(payload), r.key, ts, UTC)
            if fast is not None:
                _settle(fast)
                return _with_ts(fast, ts)
        except (msgspec.MsgspecError, ValueError, _Refuse):
            pass
    event, _ = _build(r, payload, ts, UTC, Limits(max_payload_bytes=1 << 30), strict=False)
    return _with_ts(event, ts)


def _with_ts(event: Event, ts: datetime) -> Event:
    return event if event.ts == ts else replace(event, ts=ts)


# --- the fast path: a Struct per payload, the event built from it (alerts/wire.py) ------------


def _settle(event: Event) -> None:
    """The checks of a whole event the reference builder makes (a case's kind and its facts)."""
    if isinstance(event, CaseEvent):
        _check_case_kind(event)


def _fast(
    topic: str, r: Route, payload: bytes, received_at: datetime, d: Directory, limits: Limits
) -> Accepted | None:
    """The message accepted on the fast path, or None: the reference decides it."""
    if len(payload) > limits.max_payload_bytes:
        return None
    try:
        w = wire.DECODERS[r.kind].decode(payload)
        if not wire.keys_unique(payload, w):
            return None
        event = wire.BUILDERS[r.kind](w, r.key, received_at, d.zones.get(r.key))
        if event is None:
            return None
        if r.kind is EventKind.CASE:
            _settle(event)
        _admit(event, d)
    except (msgspec.MsgspecError, ValueError, _Refuse):
        return None
    if event.ts - received_at > limits.max_future_skew or (
        received_at - event.ts > limits.max_past and not isinstance(event, StaffStatus)
    ):
        return None
    eid = w.id
    return Accepted(
        EventId(eid) if isinstance(eid, str) else derived_id(topic, payload), r.kind, event
    )

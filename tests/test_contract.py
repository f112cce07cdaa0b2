"""The wire contract decoder: each malformed case has its own reason."""

from __future__ import annotations

import enum
import json
import typing
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts import contract, wire
from alerts.contract import (
    Accepted,
    Limits,
    Rejected,
    RejectReason,
    decode,
    decode_journaled,
    derived_id,
)
from alerts.events import CaseAction, CaseEvent, CaseKind, EventKind, Punch
from tests.hall import HALL, T0, body, example, punch, topic

DIRECTORY = example().directory()
PUNCH_T = topic("clock", "CLK-EAST", "punch")
CASE_T = topic("case", "C1", "event")


DEFAULT_LIMITS = Limits()


def escaped(**extra: Any) -> bytes:
    """A punch as a device's JSON encoder sends it: non-ASCII as \\u escapes (lone
    surrogates too: the bytes are valid UTF-8, the decoded text is not Unicode)."""
    doc = {"staff": "S001", "ts": "2026-11-23T08:25:00+08:00", "verify": "fingerprint"}
    return json.dumps({**doc, **extra}).encode("ascii")


def run(t: str, payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Accepted | Rejected:
    return decode(t, payload, T0, HALL, DIRECTORY, limits)


ACCEPTED_CASE = {
    "case": "C1",
    "action": "accepted",
    "kind": "promised",
    "ts": "2026-11-23T08:20:00+08:00",
    "window": "W03",
    "staff": "S005",
    "promised_days": 5,
    "legal_days": 20,
}

REJECTS: list[tuple[str, str, bytes, RejectReason]] = [
    ("oversize", PUNCH_T, b"{" + b" " * 70000 + b"}", RejectReason.OVERSIZE),
    ("invalid utf-8", PUNCH_T, b'{"staff": "\xff\xfe"}', RejectReason.NOT_UTF8),
    ("truncated json", PUNCH_T, b'{"staff": "S001"', RejectReason.BAD_JSON),
    ("json array", PUNCH_T, b"[1, 2]", RejectReason.NOT_OBJECT),
    ("json string", PUNCH_T, b'"hello"', RejectReason.NOT_OBJECT),
    ("deep nesting", PUNCH_T, b"[" * 30000 + b"]" * 30000, RejectReason.TOO_DEEP),
    ("huge integer", PUNCH_T, b'{"x": ' + b"9" * 5000 + b"}", RejectReason.BAD_JSON),
    (
        "missing staff",
        PUNCH_T,
        body(ts="2026-11-23T08:00:00+08:00", verify="card"),
        RejectReason.MISSING_FIELD,
    ),
    (
        "staff is a number",
        PUNCH_T,
        body(staff=1, ts="2026-11-23T08:00:00+08:00", verify="card"),
        RejectReason.WRONG_TYPE,
    ),
    ("unknown verify", PUNCH_T, punch(verify="retina"), RejectReason.BAD_VALUE),
    ("naive ts", PUNCH_T, punch(ts="2026-11-23T08:00:00"), RejectReason.NAIVE_TIME),
    ("date only", PUNCH_T, punch(ts="2026-11-23"), RejectReason.BAD_TIME),
    ("month 13", PUNCH_T, punch(ts="2026-13-23T08:00:00+08:00"), RejectReason.BAD_TIME),
    ("future", PUNCH_T, punch(ts="2026-11-23T10:00:00+08:00"), RejectReason.FUTURE_TIME),
    ("unknown staff", PUNCH_T, punch(staff="S999"), RejectReason.UNKNOWN_STAFF),
    ("unknown clock", topic("clock", "CLK-X", "punch"), punch(), RejectReason.UNKNOWN_DEVICE),
    ("other hall", "hall/other/clock/CLK-EAST/punch", punch(), RejectReason.UNKNOWN_TOPIC),
    ("extra level", PUNCH_T + "/x", punch(), RejectReason.UNKNOWN_TOPIC),
    ("unknown leaf", topic("clock", "CLK-EAST", "reboot"), punch(), RejectReason.UNKNOWN_TOPIC),
    ("bad status", topic("clock", "CLK-EAST", "status"), b"rebooting", RejectReason.BAD_VALUE),
    (
        "present as int",
        topic("camera", "CAM1", "presence"),
        body(window="W01", present=1, persons=1, ts="2026-11-23T08:00:00+08:00"),
        RejectReason.WRONG_TYPE,
    ),
    (
        "persons true",
        topic("camera", "CAM1", "presence"),
        body(window="W01", present=True, persons=True, ts="2026-11-23T08:00:00+08:00"),
        RejectReason.WRONG_TYPE,
    ),
    (
        "confidence NaN",
        topic("camera", "CAM1", "presence"),
        b'{"window":"W01","present":false,"persons":0,"ts":"2026-11-23T08:00:00+08:00",'
        b'"confidence":NaN}',
        RejectReason.BAD_VALUE,
    ),
    (
        "window of another camera",
        topic("camera", "CAM1", "presence"),
        body(window="W09", present=False, persons=0, ts="2026-11-23T08:00:00+08:00"),
        RejectReason.UNKNOWN_WINDOW,
    ),
    (
        "case id differs",
        CASE_T,
        body(**{**ACCEPTED_CASE, "case": "C2"}),
        RejectReason.TOPIC_MISMATCH,
    ),
    ("unknown action", CASE_T, body(**{**ACCEPTED_CASE, "action": "lost"}), RejectReason.BAD_VALUE),
    (
        "promised without days",
        CASE_T,
        body(**{**ACCEPTED_CASE, "promised_days": None}),
        RejectReason.MISSING_FIELD,
    ),
    (
        "negative days",
        CASE_T,
        body(**{**ACCEPTED_CASE, "promised_days": -1}),
        RejectReason.BAD_VALUE,
    ),
    (
        "special without deadline",
        CASE_T,
        body(**{**ACCEPTED_CASE, "kind": "special"}),
        RejectReason.MISSING_FIELD,
    ),
    (
        "unknown window",
        CASE_T,
        body(**{**ACCEPTED_CASE, "window": "W99"}),
        RejectReason.UNKNOWN_WINDOW,
    ),
    (
        "returned without reason code",
        CASE_T,
        body(case="C1", action="returned", ts="2026-11-23T09:00:00+08:00", reason="材料不全"),
        RejectReason.MISSING_FIELD,
    ),
    (
        "reason code 7",
        CASE_T,
        body(
            case="C1", action="returned", ts="2026-11-23T09:00:00+08:00", reason="x", reason_code=7
        ),
        RejectReason.BAD_VALUE,
    ),
    (
        "extension without deadline",
        CASE_T,
        body(case="C1", action="extended", ts="2026-11-23T09:00:00+08:00", approved_by="L001"),
        RejectReason.MISSING_FIELD,
    ),
    (
        "leave without category",
        topic("staff", "S001", "status"),
        body(state="leave", **{"from": "2026-11-23T08:00:00+08:00"}),
        RejectReason.MISSING_FIELD,
    ),
    (
        "until before from",
        topic("staff", "S001", "status"),
        body(
            state="away",
            **{"from": "2026-11-23T10:00:00+08:00", "until": "2026-11-23T09:00:00+08:00"},
        ),
        RejectReason.BAD_VALUE,
    ),
    (
        "unknown substitute",
        topic("staff", "S001", "status"),
        body(state="away", substitute="S404"),
        RejectReason.UNKNOWN_STAFF,
    ),
    (
        "rating 6",
        topic("rating", "C1"),
        body(case="C1", level=6, ts="2026-11-23T08:00:00+08:00"),
        RejectReason.BAD_VALUE,
    ),
    (
        "revoke without text",
        topic("card", "K-1", "command"),
        body(action="revoke", by="D001", ts="2026-11-23T08:00:00+08:00"),
        RejectReason.MISSING_FIELD,
    ),
    ("id is a number", PUNCH_T, punch(id=5), RejectReason.WRONG_TYPE),
    ("empty id", PUNCH_T, punch(id=""), RejectReason.BAD_VALUE),
    # RFC 8259 where Python's json module is laxer (alerts/contract.py strict_json)
    ("lone surrogate id", PUNCH_T, escaped(id="\ud800"), RejectReason.NOT_UTF8),
    ("lone low surrogate in a field", PUNCH_T, escaped(state="in\udc00"), RejectReason.NOT_UTF8),
    ("lone surrogate key", PUNCH_T, escaped(**{"\udbff": 1}), RejectReason.NOT_UTF8),
    (
        "lone surrogate deep in an ignored field",
        PUNCH_T,
        escaped(extra=[{"a": ["\ud800"]}]),
        RejectReason.NOT_UTF8,
    ),
    (
        "duplicate key",
        PUNCH_T,
        b'{"staff": "S001", "staff": "S002", "ts": "2026-11-23T08:25:00+08:00", "verify": "card"}',
        RejectReason.BAD_JSON,
    ),
    ("Infinity", PUNCH_T, punch()[:-1] + b', "x": Infinity}', RejectReason.BAD_VALUE),
    ("-Infinity", PUNCH_T, punch()[:-1] + b', "x": [-Infinity]}', RejectReason.BAD_VALUE),
    ("year 0001", PUNCH_T, punch(ts="0001-01-01T00:00:00+08:00"), RejectReason.BAD_TIME),
    ("year 9999", PUNCH_T, punch(ts="9999-12-31T23:59:59-08:00"), RejectReason.BAD_TIME),
    (
        "deadline in year 9999",
        CASE_T,
        body(**{**ACCEPTED_CASE, "kind": "special", "deadline": "9999-12-31T23:59:59-12:00"}),
        RejectReason.BAD_TIME,
    ),
    ("clock reset to 2000", PUNCH_T, punch(ts="2000-01-01T08:00:00+08:00"), RejectReason.PAST_TIME),
]


@pytest.mark.parametrize(("name", "t", "payload", "reason"), REJECTS, ids=[r[0] for r in REJECTS])
def test_rejects_with_specific_reason(
    name: str, t: str, payload: bytes, reason: RejectReason
) -> None:
    d = run(t, payload)
    assert isinstance(d, Rejected), d
    assert d.reason is reason, d.detail
    assert d.detail and reason.label_zh


def test_punch_accepted_in_utc_with_given_id() -> None:
    d = run(PUNCH_T, punch(id="CLK1-1"))
    assert isinstance(d, Accepted)
    assert d.event_id == "CLK1-1" and d.kind is EventKind.PUNCH
    assert isinstance(d.event, Punch)
    assert d.event.ts == T0 - timedelta(minutes=5)


def test_id_derived_from_topic_and_exact_bytes() -> None:
    a, b = run(PUNCH_T, punch()), run(PUNCH_T, punch())
    c = run(PUNCH_T, punch() + b" ")
    assert isinstance(a, Accepted) and isinstance(b, Accepted) and isinstance(c, Accepted)
    assert a.event_id == b.event_id == derived_id(PUNCH_T, punch()) != c.event_id


def test_naive_time_accepted_from_device_with_zone() -> None:
    d = run(topic("clock", "CLK-WEST", "punch"), punch(ts="2026-11-23T08:25:00"))
    assert isinstance(d, Accepted) and d.event.ts == T0 - timedelta(minutes=5)


def test_unknown_fields_are_ignored_and_case_decoded() -> None:
    d = run(CASE_T, body(**ACCEPTED_CASE, extra={"nested": [1, 2]}))
    assert isinstance(d, Accepted)
    ev = d.event
    assert ev.action is CaseAction.ACCEPTED and ev.kind is CaseKind.PROMISED  # type: ignore[union-attr]


def test_skew_is_configurable() -> None:
    late = punch(ts="2026-11-23T08:40:00+08:00")
    assert isinstance(run(PUNCH_T, late), Rejected)
    assert isinstance(run(PUNCH_T, late, Limits(max_future_skew=timedelta(minutes=15))), Accepted)


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    d = run(PUNCH_T, escaped(id="\ud83d\ude00"))  # json.dumps escapes it as a valid pair
    assert isinstance(d, Accepted) and d.event_id == "\U0001f600"


def test_a_clock_offline_for_a_week_still_uploads_and_past_days_are_configurable() -> None:
    week = punch(ts="2026-11-16T08:25:00+08:00")
    assert isinstance(run(PUNCH_T, week), Accepted)
    short = Limits(max_past=timedelta(days=5))
    d = run(PUNCH_T, week, short)
    assert isinstance(d, Rejected) and d.reason is RejectReason.PAST_TIME, d
    assert "ingest.max_past_days" in d.detail


def test_every_reason_has_a_chinese_label() -> None:
    assert RejectReason.PAST_TIME.label_zh == "时间过旧"
    assert all(r.label_zh for r in RejectReason)


def test_replay_decodes_what_an_older_daemon_accepted() -> None:
    """The journal may hold what an older, laxer decoder accepted: replay still reads it."""
    twice = (
        b'{"staff": "S009", "staff": "S001", "ts": "2026-11-23T08:25:00+08:00", "verify": "card"}'
    )
    assert isinstance(run(PUNCH_T, twice), Rejected)
    ev = decode_journaled(PUNCH_T, twice, HALL, T0)
    assert isinstance(ev, Punch) and ev.staff == "S001"


def test_details_of_hostile_text_are_printable() -> None:
    for payload in (escaped(id="\ud800"), escaped(**{"\udfff": 0})):
        d = run(PUNCH_T, payload)
        assert isinstance(d, Rejected)
        d.detail.encode("utf-8")  # storable in the journal as it is


# --- the fast path (alerts/wire.py) against the reference decoder ------------------------------

KIND_TOPICS = {
    EventKind.PUNCH: (
        PUNCH_T,
        topic("clock", "CLK-WEST", "punch"),
        topic("clock", "CLK-X", "punch"),
    ),
    EventKind.CLOCK_HEARTBEAT: (
        topic("clock", "CLK-WEST", "heartbeat"),
        topic("clock", "CLK-X", "heartbeat"),
    ),
    EventKind.PRESENCE: (topic("camera", "CAM1", "presence"), topic("camera", "CAM9", "presence")),
    EventKind.CASE: (CASE_T,),
    EventKind.STAFF_STATUS: (topic("staff", "S001", "status"), topic("staff", "X1", "status")),
    EventKind.COMPLAINT: (topic("complaint", "K-1", "event"),),
    EventKind.RATING: (topic("rating", "C1"),),
    EventKind.CARD_COMMAND: (topic("card", "K-1", "command"),),
}
TYPICAL = [
    (PUNCH_T, punch(id="CLK1-1")),
    (PUNCH_T, punch(state="makeup:L001", verify="temporary")),
    (topic("clock", "CLK-WEST", "punch"), punch(ts="2026-11-23T08:25:00")),
    (
        topic("camera", "CAM1", "presence"),
        b'{"window":"W01","present":true,"persons":1,"ts":"2026-11-23T08:25:00+08:00",'
        b'"confidence":0.87}',
    ),
    (CASE_T, body(**ACCEPTED_CASE)),
    (CASE_T, body(case="C1", action="suspended", ts="2026-11-23T00:29:00Z", reason="材料补正")),
    (
        topic("staff", "S001", "status"),
        body(state="leave", category="sick", **{"from": "2026-11-23T08:00:00+08:00"}),
    ),
    (topic("complaint", "K-1", "event"), body(action="received", ts="2026-11-23T08:00:00+08:00")),
    (topic("rating", "C1"), body(case="C1", level=5, ts="2026-11-23T08:00:00+08:00")),
    (
        topic("card", "K-1", "command"),
        body(action="answer", by="D001", ts="2026-11-23T08:00:00+08:00", text="已核实"),
    ),
]


def _fast(t: str, payload: bytes) -> Accepted | None:
    r = contract.route(t, HALL)
    assert r is not None
    return contract._fast(t, r, payload, T0, DIRECTORY, DEFAULT_LIMITS)


@pytest.mark.parametrize(("t", "payload"), TYPICAL, ids=[p.decode()[:40] for _, p in TYPICAL])
def test_typical_payloads_take_the_fast_path_and_decode_as_the_reference_does(
    t: str, payload: bytes
) -> None:
    fast = _fast(t, payload)
    assert fast is not None, "a typical payload must not need the reference decoder"
    assert fast == contract.decode_reference(t, payload, T0, HALL, DIRECTORY, DEFAULT_LIMITS)
    ts = fast.event.ts
    assert decode_journaled(t, payload, HALL, ts) == _journaled_reference(t, payload, ts)


@pytest.mark.parametrize(("name", "t", "payload", "reason"), REJECTS, ids=[r[0] for r in REJECTS])
def test_the_fast_path_accepts_no_reject(
    name: str, t: str, payload: bytes, reason: RejectReason
) -> None:
    r = contract.route(t, HALL)
    if r is not None and r.kind in wire.WIRES:
        assert contract._fast(t, r, payload, T0, DIRECTORY, DEFAULT_LIMITS) is None


def test_duplicate_keys_are_counted_however_they_hide() -> None:
    ts = '"ts": "2026-11-23T08:25:00+08:00", "verify": "card"'
    for text in (
        '{"staff": "S001", "staff": "S002", ' + ts + "}",
        '{"staff": "S001", "state": null, "state": "x", ' + ts + "}",
        '{"staff": "S001", "state": "a:b", "state": "ab", ' + ts + "}",
        '{"staff": "S001", "st\\u0061te": "a", "state": "x\\u003a", ' + ts + "}",
        '{"staff" : "S001", "staff":"S001", ' + ts + "}",
        '{"staff": "S001", ' + ts + ', "ts": "2026-11-23T08:25:00+08:00"}',
    ):
        payload = text.encode()
        assert _fast(PUNCH_T, payload) is None, text
        d = run(PUNCH_T, payload)
        assert isinstance(d, Rejected) and d.reason is RejectReason.BAD_JSON, text


def test_enum_values_hold_no_colon() -> None:
    """wire.keys_unique counts colons: only strings it sees as strings may hold one."""
    values = [e.value for w in wire.WIRES.values() for e in _enums(w)]
    assert len(values) > 40 and not [v for v in values if ":" in str(v)]


def _journaled_reference(t: str, payload: bytes, ts: datetime) -> object:
    r = contract.route(t, HALL)
    assert r is not None
    event, _ = contract._build(r, payload, ts, UTC, Limits(max_payload_bytes=1 << 30), False)
    return contract._with_ts(event, ts)


def _stamps() -> st.SearchStrategy[str]:
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    year = st.sampled_from([1969, 1970, 2000, 2026, 2199, 2200, 9999]).map(lambda n: f"{n:04d}")
    offset = st.one_of(
        st.sampled_from(["", "Z", "z", "+08:00", "-05:30", "+00:00", "+14:00", "+25:00", "+0800"]),
        st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), two, two),
    )
    frac = st.sampled_from(["", ".5", ".123456", ".1234567", "."])
    sep = st.sampled_from(["T", "t", " ", "_"])
    near = st.integers(-86_400 * 70, 3600).map(
        lambda s: (T0 + timedelta(seconds=s)).astimezone(timezone(timedelta(hours=8))).isoformat()
    )
    shaped = st.builds(
        lambda y, mo, d, s, h, mi, se, f, o, tail: f"{y}-{mo}-{d}{s}{h}:{mi}:{se}{f}{o}{tail}",
        year,
        st.sampled_from(["11", "01", "12", "13", "00", "1"]),
        st.sampled_from(["23", "01", "31", "30", "00"]),
        sep,
        st.sampled_from(["08", "00", "23", "24"]),
        st.sampled_from(["25", "00", "59", "60"]),
        st.sampled_from(["00", "59", "60", "5"]),
        frac,
        offset,
        st.sampled_from(["", "", "", "\n", " "]),
    )
    return st.one_of(near, near.map(lambda s: s[:19]), shaped, st.text(max_size=30))


def _enums(w: type[wire.Wire]) -> list[enum.Enum]:
    out: list[enum.Enum] = []
    for f in msgspec.structs.fields(w):
        for t in typing.get_args(f.type) or (f.type,):
            if isinstance(t, type) and issubclass(t, enum.Enum):
                out += list(t)
    return out


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 4000),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(0, 1),
    st.sampled_from(["", "S001", "L001", "W01", "W09", "C1", "K-1", "a:b", "::", "x" * 5000]),
    st.sampled_from([e.value for k in wire.WIRES.values() for e in _enums(k)]),
    st.text(max_size=12),
)
RAW = st.sampled_from(
    ["NaN", "-Infinity", "1e999", "1.0", "5.0", "0.10000000000000001", "-0", "[]", "{}",
     '"\\ud800"', '"\\u003a"', '"\\u0041"', '"a\\"b"', "9" * 5000, '"\\ud83d\\ude00"',
     "[1, [2]]", '{"a": 1}']
)  # fmt: skip


BASES: dict[EventKind, dict[str, Any]] = {
    EventKind.PUNCH: {"staff": "S001", "ts": "2026-11-23T08:25:00+08:00", "verify": "card"},
    EventKind.CLOCK_HEARTBEAT: {"ts": "2026-11-23T08:25:00+08:00"},
    EventKind.PRESENCE: {
        "window": "W01",
        "present": True,
        "persons": 1,
        "ts": "2026-11-23T08:25:00+08:00",
        "confidence": 0.5,
    },
    EventKind.CASE: ACCEPTED_CASE,
    EventKind.STAFF_STATUS: {"state": "away", "from": "2026-11-23T08:00:00+08:00"},
    EventKind.COMPLAINT: {"action": "received", "ts": "2026-11-23T08:00:00+08:00"},
    EventKind.RATING: {"case": "C1", "level": 4, "ts": "2026-11-23T08:00:00+08:00"},
    EventKind.CARD_COMMAND: {"action": "uphold", "by": "D001", "ts": "2026-11-23T08:00:00+08:00"},
}
TIMES = ("ts", "from", "until", "deadline", "new_deadline")


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid payload of a random kind with up to three defects or oddities: a field set to
    a random value, dropped, sent twice, an unknown or an escaped key."""
    kind = draw(st.sampled_from(list(wire.WIRES)))
    t = draw(st.sampled_from(KIND_TOPICS[kind]))
    names = [f.encode_name for f in msgspec.structs.fields(wire.WIRES[kind])]
    pairs = [(k, json.dumps(v)) for k, v in BASES[kind].items()]
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*names, "extra", "st\\u0061te"]))
        if key in TIMES and draw(st.booleans()):
            value = json.dumps(draw(_stamps()))
        elif draw(st.integers(0, 5)) == 0:
            value = draw(RAW)
        else:
            value = json.dumps(draw(SCALARS), ensure_ascii=draw(st.booleans()))
        edit = draw(st.sampled_from(["set", "set", "drop", "again"]))
        kept = [p for p in pairs if p[0] != key] if edit != "again" else pairs
        pairs = kept if edit == "drop" else [*kept, (key, value)]
    sep = draw(st.sampled_from([":", " : ", ":  "]))
    return t, ("{" + ", ".join(f'"{k}"{sep}{v}' for k, v in pairs) + "}").encode()


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_the_fast_path_decides_every_payload_as_the_reference_does(case: tuple[str, bytes]) -> None:
    t, payload = case
    d = run(t, payload)
    assert d == contract.decode_reference(t, payload, T0, HALL, DIRECTORY, DEFAULT_LIMITS)
    if isinstance(d, Accepted):
        ts = d.event.ts
        assert decode_journaled(t, payload, HALL, ts) == _journaled_reference(t, payload, ts)


@settings(max_examples=1000, deadline=None)
@given(stamp=_stamps(), zone=st.sampled_from([None, UTC, ZoneInfo("Asia/Shanghai")]))
def test_the_fast_time_parser_reads_a_stamp_as_parse_time_does(
    stamp: str, zone: tzinfo | None
) -> None:
    try:
        got = wire.stamp(stamp, zone)
    except ValueError:
        return  # declined: parse_time reads it
    assert got == contract.parse_time(stamp, zone)


def test_the_stamps_devices_send_take_the_fast_time_parser() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    for text in ("2026-11-23T08:25:00+08:00", "2026-11-23T00:25:00Z", "2026-11-23T08:25:00"):
        assert wire.stamp(text, shanghai) == T0 - timedelta(minutes=5), text


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.floats(0, 1), st.decimals(0, 1, places=20).map(str).map(float)))
def test_msgspec_reads_a_confidence_to_the_same_float_as_stdlib_json(x: float) -> None:
    for text in (repr(x), f"{x:.20f}", f"{x:.17e}"):
        assert msgspec.json.decode(text.encode(), type=float) == json.loads(text), text


def test_the_decode_bench_runs_at_its_tiniest_size_and_every_bench_takes_quick() -> None:
    from bench import decode as decode_bench
    from bench.__main__ import with_sizes
    from bench.common import Size

    result = decode_bench.run(Size.TINY)
    assert [v.measure for v in result.verdicts] == ["punch decoded", "presence decoded"]
    assert all(float(row[3]) > 0 for row in result.rows)
    assert with_sizes("e2e", ["--quick", "--rounds", "2"]) == ["--size", "quick", "--rounds", "2"]
    assert with_sizes("ingest", ["--tiny"]) == ["--events", "2000", "--rounds", "1"]
    assert with_sizes("scale", ["--size", "quick"]) == ["--size", "quick"]


# --- the case rules' compatible readings -------------------------------------------------

REFUSALS = [
    # 000_d7818c12e4aa5d4b 二(二): a refusal without reasons is a card, not a reject.
    body(case="C1", action="returned", ts="2026-11-23T08:20:00+08:00", reason_code=3),
    body(case="C1", action="completed", ts="2026-11-23T08:20:00+08:00", outcome="refused"),
]


@pytest.mark.parametrize("payload", REFUSALS, ids=["returned", "completed refused"])
def test_a_refusal_without_reason_is_accepted_on_both_paths(payload: bytes) -> None:
    d = run(CASE_T, payload)
    assert isinstance(d, Accepted), d
    assert isinstance(d.event, CaseEvent) and d.event.reason is None
    assert _fast(CASE_T, payload) == d


EXTENDED = {
    "case": "C1",
    "action": "extended",
    "ts": "2026-11-23T08:20:00+08:00",
    "extra_days": 2,
    "approved_by": "L001",
    "reason": "需现场核查",
}


@pytest.mark.parametrize(("told", "want"), [(True, True), (False, False), (None, None)])
def test_applicant_told_is_an_optional_flag(told: bool | None, want: bool | None) -> None:
    """`000_d7818c12e4aa5d4b 四(五)` 告知申办人延时办理理由: `applicant_told`, optional."""
    doc = {**EXTENDED, **({} if told is None else {"applicant_told": told})}
    d = run(CASE_T, body(**doc))
    assert isinstance(d, Accepted) and isinstance(d.event, CaseEvent), d
    assert d.event.applicant_told is want
    assert _fast(CASE_T, body(**doc)) == d


def test_applicant_told_must_be_a_boolean() -> None:
    d = run(CASE_T, body(**EXTENDED, applicant_told="yes"))
    assert isinstance(d, Rejected) and d.reason is RejectReason.WRONG_TYPE, d

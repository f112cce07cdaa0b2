"""The wire contract decoder: each malformed case has its own reason."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from alerts.contract import (
    Accepted,
    Limits,
    Rejected,
    RejectReason,
    decode,
    decode_journaled,
    derived_id,
)
from alerts.events import CaseAction, CaseKind, EventKind, Punch
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

"""devices/zkproto.py and devices/zkstate.py: the PUSH wire format and the status decision.

Bodies are written byte for byte as clocks send them: tab-separated fields, LF or CRLF line
ends, extra trailing fields on newer firmware, operation-log and user lines (GBK names) mixed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.zkproto import (
    MAX_LINE_KEPT,
    AttRecord,
    Endpoint,
    Options,
    ProtocolError,
    Refusal,
    Stamps,
    endpoint,
    is_legacy,
    options_reply,
    parse_attlog,
    parse_query,
    upload_reply,
)
from devices.zkstate import Availability, DeviceWatch, Why

# Black-and-white firmware (PUSH 1.x): PIN, time, status, verify, workcode, reserved, reserved.
OLD_ATTLOG = b"1\t2026-11-23 08:03:12\t0\t1\t0\t0\t0\n2\t2026-11-23 08:04:40\t0\t1\t0\t0\t0\n"
# TFT/Android firmware (PUSH 2.4): CRLF, five more reserved fields and a record id at the end.
NEW_ATTLOG = (
    b"1\t2026-11-23 08:03:12\t0\t15\t0\t0\t0\t0\t0\t0\t1024\r\n"
    b"3\t2026-11-23 12:01:05\t1\t4\t0\t0\t0\t0\t0\t0\t1025\r\n"
)
# Some firmware mixes operation-log and user records into the upload; names are GBK.
MIXED = (
    b"OPLOG 4\t0\t2026-11-23 08:02:00\t0\t0\t0\t0\n"
    b"1\t2026-11-23 08:03:12\t0\t1\t0\t0\t0\n"
    b"USER PIN=3\tName=" + "张三".encode("gbk") + b"\tPri=0\tPasswd=\tCard=\tGrp=1\n"
    b"\n"
    b"2\t2026-11-23 08:04:40\t0\t1\n"
)


def rec(pin: str, when: str, status: int, verify: int, workcode: str = "0") -> AttRecord:
    at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S")
    return AttRecord(pin=pin, time=at, status=status, verify=verify, workcode=workcode)


def test_old_firmware_records() -> None:
    batch = parse_attlog(OLD_ATTLOG)
    assert batch.records == (
        rec("1", "2026-11-23 08:03:12", 0, 1),
        rec("2", "2026-11-23 08:04:40", 0, 1),
    )
    assert batch.skipped == 0


def test_new_firmware_records_with_crlf_and_trailing_fields() -> None:
    batch = parse_attlog(NEW_ATTLOG)
    assert batch.records == (
        rec("1", "2026-11-23 08:03:12", 0, 15),
        rec("3", "2026-11-23 12:01:05", 1, 4),
    )


def test_operation_log_and_user_lines_are_skipped() -> None:
    batch = parse_attlog(MIXED)
    assert [r.pin for r in batch.records] == ["1", "2"]
    assert batch.skipped == 2


@pytest.mark.parametrize("body", [b"", b"\n", b"\r\n\r\n"])
def test_empty_upload(body: bytes) -> None:
    assert parse_attlog(body).records == ()


@pytest.mark.parametrize(
    ("line", "reason", "where"),
    [
        (b"1\t2026-13-45 08:00:00\t0\t1", Refusal.BAD_TIME, "line 2"),
        (b"1\t2026-11-23T08:00:00\t0\t1", Refusal.BAD_TIME, "line 2"),
        (b"1\t2026-11-23 08:00\t0\t1", Refusal.BAD_TIME, "line 2"),
        (b"1\t2026-11-23 08:00:00", Refusal.TOO_FEW_FIELDS, "line 2"),
        (b"1 2026-11-23 08:00:00 0 1", Refusal.TOO_FEW_FIELDS, "line 2"),
        (b"1;2\t2026-11-23 08:00:00\t0\t1", Refusal.BAD_PIN, "line 2"),
        (b"1\t2026-11-23 08:00:00\tx\t1", Refusal.BAD_NUMBER, "status"),
        (b"1\t2026-11-23 08:00:00\t0\t-1", Refusal.BAD_NUMBER, "verify"),
        (b"1\t2026-11-23 08:00:00\t0\t999", Refusal.BAD_NUMBER, "verify"),
        (b"\x00\xff\xfe garbage\t\t\t", Refusal.NOT_ASCII, "line 2"),
        ("王\t2026-11-23 08:00:00\t0\t1".encode(), Refusal.NOT_ASCII, "line 2"),
    ],
)
def test_a_bad_line_is_named_and_the_records_around_it_are_kept(
    line: bytes, reason: Refusal, where: str
) -> None:
    first, second = OLD_ATTLOG.splitlines(keepends=True)
    batch = parse_attlog(first + line + b"\r\n" + second)
    assert batch.records == parse_attlog(OLD_ATTLOG).records
    (bad,) = batch.bad
    assert (bad.number, bad.reason, bad.raw, bad.length) == (2, reason, line, len(line))
    assert where in bad.detail
    assert (batch.bad_lines, batch.taken) == (1, 3)


def test_a_long_bad_line_is_kept_cut() -> None:
    line = b"1\t" + b"x" * 5000
    (bad,) = parse_attlog(line).bad
    assert (len(bad.raw), bad.length) == (MAX_LINE_KEPT, len(line))


def test_past_the_bound_bad_lines_are_counted_in_one_entry() -> None:
    body = b"".join(b"garbage %d\n" % i for i in range(1, 251)) + OLD_ATTLOG
    batch = parse_attlog(body, max_bad=100)
    assert len(batch.records) == 2
    assert (len(batch.bad), batch.bad_lines, batch.taken) == (101, 250, 252)
    assert [b.number for b in batch.bad[:100]] == list(range(1, 101))
    summary = batch.bad[100]
    assert (summary.reason, summary.number, summary.raw) == (
        Refusal.TOO_MANY_BAD_LINES,
        101,
        b"garbage 101",
    )
    assert summary.detail.startswith("lines 101-250: 150 more line(s)")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/iclock/cdata", Endpoint.CDATA),
        ("/iclock/cdata.aspx", Endpoint.CDATA),
        ("/iclock/getrequest", Endpoint.GETREQUEST),
        ("/iclock/getrequest.aspx", Endpoint.GETREQUEST),
        ("/iclock/devicecmd", Endpoint.DEVICECMD),
        ("/iclock/ping", Endpoint.PING),
    ],
)
def test_endpoints(path: str, expected: Endpoint) -> None:
    assert endpoint(path) is expected


@pytest.mark.parametrize("path", ["/", "/iclock", "/iclock/registry", "/x/cdata", "/iclock/../x"])
def test_unknown_paths(path: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        endpoint(path)
    assert caught.value.reason.http_status == 404


def test_query_of_a_new_firmware_handshake() -> None:
    q = parse_query("SN=CJDE193560001&options=all&pushver=2.4.1&language=83&PushOptionsFlag=1")
    assert (q.serial, q.options, q.pushver, q.table) == ("CJDE193560001", "all", "2.4.1", None)


def test_query_of_an_upload_and_odd_stamps() -> None:
    assert parse_query("SN=A1&table=ATTLOG&Stamp=9999").stamp == "9999"
    assert parse_query("sn=A1&table=ATTLOG&Stamp=None").stamp is None
    assert parse_query("SN=A1&table=ATTLOG").stamp is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("options=all", Refusal.NO_SERIAL),
        ("SN=", Refusal.NO_SERIAL),
        ("SN=../x", Refusal.BAD_SERIAL),
    ],
)
def test_bad_serials(query: str, reason: Refusal) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_query(query)
    assert caught.value.reason is reason and caught.value.reason.http_status == 400


@pytest.mark.parametrize(
    ("pushver", "legacy"),
    [(None, True), ("", True), ("1.2", True), ("2.2.14", False), ("3.1.2", False)],
)
def test_legacy_detection(pushver: str | None, legacy: bool) -> None:
    assert is_legacy(pushver) is legacy


def test_options_for_new_firmware() -> None:
    text = options_reply(
        "CJDE193560001", Stamps(attlog="123", operlog="7"), Options(), timedelta(hours=8), "2.4.1"
    )
    lines = text.splitlines()
    assert lines[0] == "GET OPTION FROM: CJDE193560001"
    for expected in (
        "ATTLOGStamp=123",
        "OPERLOGStamp=7",
        "ATTPHOTOStamp=0",
        "ErrorDelay=60",
        "Delay=30",
        "TransTimes=00:00;14:05",
        "TransInterval=1",
        "TransFlag=TransData AttLog",
        "TimeZone=8",
        "Realtime=1",
        "Encrypt=0",
    ):
        assert expected in lines
    assert not any(line.startswith("Stamp=") for line in lines)


def test_options_for_old_firmware() -> None:
    text = options_reply("0316144680030", Stamps(), Options(delay_s=10), timedelta(hours=5.5), None)
    lines = text.splitlines()
    assert lines[:4] == ["GET OPTION FROM: 0316144680030", "Stamp=0", "OpStamp=0", "PhotoStamp=0"]
    assert "TransFlag=1000000000" in lines and "TimeZone=5.5" in lines and "Delay=10" in lines
    assert not any(line.startswith("ATTLOGStamp") for line in lines)


def test_upload_reply() -> None:
    assert upload_reply(3) == "OK: 3"


# --- the status decision ----------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
AFTER = timedelta(seconds=300)


def test_first_request_brings_a_clock_online_once() -> None:
    watch = DeviceWatch(["CLK-EAST"], AFTER, T0)
    first = watch.heard("CLK-EAST", T0 + timedelta(seconds=5))
    assert first is not None and (first.status, first.why) == (Availability.ONLINE, Why.FIRST_HEARD)
    assert watch.heard("CLK-EAST", T0 + timedelta(seconds=35)) is None


@pytest.mark.parametrize(
    ("heard_at", "swept_at", "expected"),
    [
        (None, 299, []),
        (None, 300, [(Availability.OFFLINE, Why.NEVER_HEARD)]),
        (10, 309, []),
        (10, 310, [(Availability.OFFLINE, Why.SILENT)]),
    ],
)
def test_silence_makes_a_clock_offline(
    heard_at: int | None, swept_at: int, expected: list[tuple[Availability, Why]]
) -> None:
    watch = DeviceWatch(["CLK-EAST"], AFTER, T0)
    if heard_at is not None:
        watch.heard("CLK-EAST", T0 + timedelta(seconds=heard_at))
    got = watch.sweep(T0 + timedelta(seconds=swept_at))
    assert [(t.status, t.why) for t in got] == expected


def test_offline_is_said_once_and_a_request_resumes() -> None:
    watch = DeviceWatch(["CLK-EAST", "CLK-WEST"], AFTER, T0)
    watch.heard("CLK-EAST", T0)
    watch.heard("CLK-WEST", T0 + timedelta(seconds=200))
    assert [t.device for t in watch.sweep(T0 + AFTER)] == ["CLK-EAST"]
    assert watch.sweep(T0 + AFTER + timedelta(seconds=1)) == []
    back = watch.heard("CLK-EAST", T0 + timedelta(seconds=400))
    assert back is not None and (back.status, back.why) == (Availability.ONLINE, Why.RESUMED)
    assert watch.status("CLK-WEST") is Availability.ONLINE

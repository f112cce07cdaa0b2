"""The ZKTeco PUSH ("ADMS", iclock) protocol as pure functions: bytes in, values out, no socket.

A clock is an HTTP client of ours. It says hello with ``GET /iclock/cdata?SN=..&options=all``
and gets its options back (upload stamps, poll delays, time zone); it uploads records with
``POST /iclock/cdata?SN=..&table=ATTLOG&Stamp=..`` (one tab-separated record per line, answered
``OK: <n>``); it polls ``GET /iclock/getrequest?SN=..`` for commands (``OK``: none) and reports
command results to ``POST /iclock/devicecmd``. docs/zkpush.md has the sources and the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl

from alerts.errors import HallwatchError
from alerts.events import Verify

# Lines of an upload that are not attendance records: operation log, user and template
# records that some firmware mixes into its uploads. They are skipped, never an error.
NON_ATTENDANCE_TAGS = frozenset(
    {
        "OPLOG",
        "USER",
        "FP",
        "FACE",
        "BIODATA",
        "BIOPHOTO",
        "USERPIC",
        "ATTPHOTO",
        "WORKCODE",
        "SMS",
        "USER_SMS",
        "IDCARD",
        "ERRORLOG",
    }
)
OK = "OK"
# Bad lines of one upload kept one by one; the rest of them are summed up in one more entry.
MAX_BAD_LINES = 100
MAX_LINE_KEPT = 512  # bytes of a bad line kept (a record is well under 200)
_SERIAL = re.compile(r"[A-Za-z0-9]{1,32}")
_PIN = re.compile(r"[A-Za-z0-9]{1,24}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_STAMP = re.compile(r"\d{1,20}")


# ZKTeco's verify-mode codes (the PUSH demo server's ATT_VERIFY table) → contract `verify`.
# A combined mode counts as its biometric part: face before fingerprint before card.
VERIFY_CODES: dict[int, Verify] = {
    0: Verify.PASSWORD,  # "FP/PW/RF"; black-and-white firmware reports a password as 0
    1: Verify.FINGERPRINT,
    2: Verify.PASSWORD,  # PIN (user id) keyed in
    3: Verify.PASSWORD,
    4: Verify.CARD,
    5: Verify.FINGERPRINT,  # FP/PW
    6: Verify.FINGERPRINT,  # FP/RF
    7: Verify.CARD,  # PW/RF
    8: Verify.FINGERPRINT,  # PIN&FP
    9: Verify.FINGERPRINT,  # FP&PW
    10: Verify.FINGERPRINT,  # FP&RF
    11: Verify.CARD,  # PW&RF
    12: Verify.FINGERPRINT,  # FP&PW&RF
    13: Verify.FINGERPRINT,  # PIN&FP&PW
    14: Verify.FINGERPRINT,  # FP&RF/PIN
    15: Verify.FACE,
    16: Verify.FACE,  # FACE&FP
    17: Verify.FACE,  # FACE&PW
    18: Verify.FACE,  # FACE&RF
    19: Verify.FACE,  # FACE&FP&RF
    20: Verify.FACE,  # FACE&FP&PW
}
STATES = {0: "check_in", 1: "check_out", 2: "break_out", 3: "break_in", 4: "ot_in", 5: "ot_out"}


class Endpoint(StrEnum):
    CDATA = "cdata"
    GETREQUEST = "getrequest"
    DEVICECMD = "devicecmd"
    PING = "ping"
    QUERYDATA = "querydata"


class Refusal(StrEnum):
    UNKNOWN_ENDPOINT = "unknown_endpoint"
    BAD_METHOD = "bad_method"
    NO_SERIAL = "no_serial"
    BAD_SERIAL = "bad_serial"
    UNKNOWN_DEVICE = "unknown_device"
    NO_TABLE = "no_table"
    NOT_ASCII = "not_ascii"
    TOO_FEW_FIELDS = "too_few_fields"
    BAD_PIN = "bad_pin"
    BAD_TIME = "bad_time"
    BAD_NUMBER = "bad_number"
    TOO_MANY_BAD_LINES = "too_many_bad_lines"

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH.get(self, self.value)

    @property
    def http_status(self) -> int:
        return _STATUS.get(self, 400)


_STATUS = {
    Refusal.UNKNOWN_ENDPOINT: 404,
    Refusal.BAD_METHOD: 405,
    Refusal.UNKNOWN_DEVICE: 403,
}


_LABELS_ZH = {
    Refusal.NOT_ASCII: "含非ASCII字符",
    Refusal.TOO_FEW_FIELDS: "字段不足",
    Refusal.BAD_PIN: "工号格式错误",
    Refusal.BAD_TIME: "时间格式错误",
    Refusal.BAD_NUMBER: "状态或验证方式不是数字",
    Refusal.TOO_MANY_BAD_LINES: "坏行过多(其余只计数)",
}


class ProtocolError(HallwatchError):
    """A request the bridge refuses; `reason` says why, `detail` says where."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    serial: str
    options: str | None = None
    table: str | None = None
    stamp: str | None = None
    pushver: str | None = None
    info: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttRecord:
    pin: str
    time: datetime  # the clock's local wall time, naive: the zone comes from configuration
    status: int  # in/out key: 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4/5 overtime
    verify: int
    workcode: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BadLine:
    """A line of an ATTLOG upload that is not an attendance record, and why."""

    number: int  # 1-based line number in the upload
    reason: Refusal
    detail: str
    raw: bytes  # the line as sent, cut to MAX_LINE_KEPT bytes
    length: int  # its whole length


@dataclass(frozen=True, slots=True, kw_only=True)
class AttBatch:
    records: tuple[AttRecord, ...]
    bad: tuple[BadLine, ...] = ()  # at most MAX_BAD_LINES, then one TOO_MANY_BAD_LINES entry
    bad_lines: int = 0  # every bad line, also those only counted
    skipped: int = 0  # non-attendance lines (OPLOG, USER, ...) mixed into the upload

    @property
    def taken(self) -> int:
        """Attendance lines the upload carried: the records and the bad lines."""
        return len(self.records) + self.bad_lines


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamps:
    """The last upload stamp per table; "0" asks the clock for everything it holds."""

    attlog: str = "0"
    operlog: str = "0"
    attphoto: str = "0"


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    delay_s: int = 30
    error_delay_s: int = 60
    trans_times: str = "00:00;14:05"
    trans_interval_min: int = 1


def endpoint(path: str) -> Endpoint:
    """``/iclock/cdata`` and the ``.aspx`` spelling of older firmware."""
    head, _, name = path.rstrip("/").rpartition("/")
    name = name.removesuffix(".aspx")
    if head != "/iclock":
        raise ProtocolError(Refusal.UNKNOWN_ENDPOINT, f"no such path {path[:80]!r}")
    try:
        return Endpoint(name)
    except ValueError as exc:
        raise ProtocolError(Refusal.UNKNOWN_ENDPOINT, f"no such path {path[:80]!r}") from exc


def parse_query(query: str) -> Query:
    # Firmware spells the keys SN / sn, table / TABLE: keys compare case-insensitively.
    fields = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    serial = fields.get("sn", "").strip()
    if not serial:
        raise ProtocolError(Refusal.NO_SERIAL, "the request carries no SN=")
    if not _SERIAL.fullmatch(serial):
        raise ProtocolError(Refusal.BAD_SERIAL, f"SN {serial[:40]!r} is not a serial number")
    stamp = fields.get("stamp")
    return Query(
        serial=serial,
        options=fields.get("options"),
        table=fields.get("table"),
        stamp=stamp if stamp is not None and _STAMP.fullmatch(stamp) else None,
        pushver=fields.get("pushver"),
        info=fields.get("info"),
    )


def parse_attlog(body: bytes, max_bad: int = MAX_BAD_LINES) -> AttBatch:
    """Every record of an ATTLOG upload, and the lines that are not records (never an error:
    one corrupt record must not hold back the good ones around it)."""
    records: list[AttRecord] = []
    bad: list[BadLine] = []
    first: BadLine | None = None  # the first bad line past `max_bad`, and the last one's number
    last = 0
    bad_lines = skipped = 0
    for number, raw in enumerate(body.split(b"\n"), start=1):
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        words = line.split(None, 1)
        if words[0].upper().decode("ascii", "replace") in NON_ATTENDANCE_TAGS:
            skipped += 1
            continue
        try:
            records.append(_record(line, number))
        except ProtocolError as exc:
            bad_lines += 1
            if len(bad) < max_bad:
                bad.append(_bad(line, number, exc))
            elif first is None:
                first = _bad(line, number, exc)
            last = number
    if first is not None:
        bad.append(_summary(first, last, bad_lines - len(bad)))
    return AttBatch(records=tuple(records), bad=tuple(bad), bad_lines=bad_lines, skipped=skipped)


def _bad(line: bytes, number: int, exc: ProtocolError) -> BadLine:
    return BadLine(
        number=number,
        reason=exc.reason,
        detail=exc.detail,
        raw=line[:MAX_LINE_KEPT],
        length=len(line),
    )


def _summary(first: BadLine, last: int, count: int) -> BadLine:
    detail = (
        f"lines {first.number}-{last}: {count} more line(s) that are not attendance "
        f"records, counted but not kept one by one; the first of them: {first.detail}"
    )
    return BadLine(
        number=first.number,
        reason=Refusal.TOO_MANY_BAD_LINES,
        detail=detail,
        raw=first.raw,
        length=first.length,
    )


def _record(line: bytes, number: int) -> AttRecord:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError(Refusal.NOT_ASCII, f"line {number}: not an attendance record") from exc
    fields = [f.strip() for f in text.split("\t")]
    if len(fields) < 4:
        raise ProtocolError(
            Refusal.TOO_FEW_FIELDS,
            f"line {number}: {len(fields)} field(s), an attendance record has at least 4 "
            "(PIN, time, status, verify)",
        )
    pin, when, status, verify = fields[:4]
    if not _PIN.fullmatch(pin):
        raise ProtocolError(Refusal.BAD_PIN, f"line {number}: PIN {pin[:30]!r}")
    return AttRecord(
        pin=pin,
        time=_time(when, number),
        status=_small_int(status, "status", number),
        verify=_small_int(verify, "verify", number),
        workcode=fields[4] if len(fields) > 4 else "",
    )


def _time(text: str, number: int) -> datetime:
    if _TIME.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            pass
    raise ProtocolError(
        Refusal.BAD_TIME, f"line {number}: time {text[:30]!r} is not YYYY-MM-DD HH:MM:SS"
    )


def _small_int(text: str, name: str, number: int) -> int:
    if text.isascii() and text.isdigit() and int(text) <= 255:
        return int(text)
    raise ProtocolError(Refusal.BAD_NUMBER, f"line {number}: {name} {text[:20]!r}")


def is_legacy(pushver: str | None) -> bool:
    """Firmware before PUSH 2.x sends no pushver (or 1.x) and knows the old option names."""
    if not pushver:
        return True
    major = pushver.split(".", 1)[0]
    return not major.isdigit() or int(major) < 2


def _hours(offset: timedelta) -> str:
    hours = offset.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:g}"


def options_reply(
    serial: str, stamps: Stamps, options: Options, utc_offset: timedelta, pushver: str | None
) -> str:
    """The answer to the handshake; only attendance records are asked for."""
    if is_legacy(pushver):
        head = [
            f"Stamp={stamps.attlog}",
            f"OpStamp={stamps.operlog}",
            f"PhotoStamp={stamps.attphoto}",
        ]
        # Ten flags: AttLog OpLog AttPhoto EnrollUser ChgUser EnrollFP ChgFP FPImag ...
        trans_flag = "1000000000"
    else:
        head = [
            f"ATTLOGStamp={stamps.attlog}",
            f"OPERLOGStamp={stamps.operlog}",
            f"ATTPHOTOStamp={stamps.attphoto}",
        ]
        trans_flag = "TransData AttLog"
    lines = [
        f"GET OPTION FROM: {serial}",
        *head,
        f"ErrorDelay={options.error_delay_s}",
        f"Delay={options.delay_s}",
        f"TransTimes={options.trans_times}",
        f"TransInterval={options.trans_interval_min}",
        f"TransFlag={trans_flag}",
        f"TimeZone={_hours(utc_offset)}",
        "Realtime=1",
        "Encrypt=0",
    ]
    if not is_legacy(pushver):
        # Some 2.x firmware uploads its backlog only to a server that states a version.
        lines.append("ServerVer=2.4.1")
    return "\n".join(lines) + "\n"


def upload_reply(count: int) -> str:
    return f"OK: {count}"

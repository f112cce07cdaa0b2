"""Time-series points: what cards, lights, attendance and statistics look like in InfluxDB. Pure.

Tags are low-cardinality only (hall, window, rule, level, state, kind); ids go in fields.
docs/timeseries.md is the schema's reference; keep the two in step.

Two points in the same series (measurement and tag set) at the same instant overwrite each
other in InfluxDB and VictoriaMetrics. Cards of one window and rule often change at the same
instant (every case accepted on one day falls due at the same close of service), so a card's
point is moved by a stable offset below one second derived from its id (`spread`): different
cards land on different instants, and the same card always on the same one, so a point sent
twice (a retry after a lost acknowledgement) overwrites itself instead of doubling.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.cards import CardState, Transition
from alerts.errors import HallwatchError
from alerts.rules import RULES

FieldValue = int | float | str

CARD = "card"
STATUSES = "statuses"  # InfluxDB's own check-status measurement (bucket _monitoring)
LIGHT = "light"
ATTENDANCE = "attendance"
HALL_STATS = "hall_stats"

LEVEL_CODE: dict[str, int] = {"green": 0, "yellow": 1, "red": 2, "unknown": -1}
# InfluxDB check levels: ok, info, warn, crit, unknown.
CHECK_LEVEL: dict[str, str] = {"green": "ok", "yellow": "warn", "red": "crit", "unknown": "unknown"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_MILLI = timedelta(milliseconds=1)  # VictoriaMetrics keeps milliseconds (docs/timeseries.md)


class PointError(HallwatchError, ValueError):
    """A point that line protocol cannot carry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time: datetime

    def __post_init__(self) -> None:
        if not self.measurement:
            raise PointError("a point needs a measurement")
        if not self.fields:
            raise PointError(f"{self.measurement}: a point needs at least one field")
        if self.time.tzinfo is None:
            raise PointError(f"{self.measurement}: time {self.time} has no offset")

    @property
    def time_ns(self) -> int:
        return time_ns(self.time)


def time_ns(t: datetime) -> int:
    """Exact nanoseconds since the epoch (a float would lose the microseconds)."""
    return (t - _EPOCH) // _MICRO * 1000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def spread(key: str) -> timedelta:
    """A stable offset in [0, 1 s) for `key`: see the module docstring."""
    digest = hashlib.sha256(key.encode()).digest()
    return timedelta(microseconds=int.from_bytes(digest[:8], "big") % 1_000_000)


# --- conversions -----------------------------------------------------------------------------


def points_for_transition(hall: str, t: Transition) -> list[Point]:
    """A card transition as a `card` point and a `statuses` point (InfluxDB check shape)."""
    at = t.ts + spread(t.card) + t.step * _MILLI  # a card's transitions at one instant apart
    tags = _tags(hall=hall, window=t.subject.window, rule=t.rule.value, level=t.level.value)
    fields: dict[str, FieldValue] = {
        "card": t.card,
        "reason": t.why.value,
        "evidence": len(t.evidence),
        "holds": int(t.holds),
        "estimated": int(t.estimated),
        "level_code": LEVEL_CODE[t.level.value],
    }
    optional = {
        "owner": t.owner,
        "case": t.subject.case,
        "staff": t.subject.staff,
        "by": t.by,
    }
    fields.update({k: v for k, v in optional.items() if v})
    if t.answer_by is not None:
        fields["answer_by"] = int(t.answer_by.timestamp())
    card = Point(measurement=CARD, tags={**tags, "state": t.state.value}, fields=fields, time=at)
    return [card, _status(hall, t, at)]


def check_level(t: Transition) -> str:
    """ok once the condition stopped holding or the card was revoked or closed."""
    if not t.holds or t.state in (CardState.REVOKED, CardState.CLOSED):
        return "ok"
    return CHECK_LEVEL[t.level.value]


def _status(hall: str, t: Transition, at: datetime) -> Point:
    title = RULES[t.rule].title_zh
    tags = _tags(
        hall=hall,
        window=t.subject.window,
        _check_id=t.rule.value,
        _check_name=title,
        _level=check_level(t),
        _source_measurement=CARD,
        _type="custom",
    )
    who = " ".join(f"{k}={v}" for k, v in _who(t) if v)
    message = f"{title} {t.card} {t.state.value}" + (f" ({who})" if who else "")
    fields: dict[str, FieldValue] = {
        "_message": message,
        "_source_timestamp": time_ns(t.ts),
        "card": t.card,
        "level_code": LEVEL_CODE[t.level.value],
    }
    return Point(measurement=STATUSES, tags=tags, fields=fields, time=at)


def _who(t: Transition) -> list[tuple[str, str | None]]:
    return [("window", t.subject.window), ("staff", t.subject.staff), ("case", t.subject.case)]


def points_for_lights(
    hall: str,
    lights: Mapping[str, str],
    at: datetime,
    cards: Mapping[str, int] | None = None,
) -> list[Point]:
    """Window lights (window id → green/yellow/red/unknown) as they stand at `at`."""
    out = []
    for window, level in sorted(lights.items()):
        if level not in LEVEL_CODE:
            raise PointError(f"window {window}: unknown light level {level!r}")
        fields: dict[str, FieldValue] = {"level": level, "code": LEVEL_CODE[level]}
        if cards is not None:
            fields["cards"] = int(cards.get(window, 0))
        out.append(
            Point(measurement=LIGHT, tags=_tags(hall=hall, window=window), fields=fields, time=at)
        )
    return out


def points_for_stats(hall: str, totals: Mapping[str, int | float], at: datetime) -> list[Point]:
    """Hall totals (received, completed, on_time_rate, …) as one point.

    Pass `at` truncated to the period the totals describe (the minute, the day): the same
    period written again then overwrites its point rather than adding one.
    """
    fields: dict[str, FieldValue] = {}
    for name, value in sorted(totals.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PointError(f"hall_stats.{name}: {value!r} is not a number")
        fields[name] = value
    return [Point(measurement=HALL_STATS, tags=_tags(hall=hall), fields=fields, time=at)]


def points_for_attendance(
    hall: str,
    *,
    staff: str,
    verdict: str,
    at: datetime,
    window: str | None = None,
    minutes: int | None = None,
) -> list[Point]:
    """One attendance verdict (kind: on_time, late, early_leave, absent, …) of one officer."""
    fields: dict[str, FieldValue] = {"staff": staff, "n": 1}
    if minutes is not None:
        fields["minutes"] = minutes
    tags = _tags(hall=hall, window=window, kind=verdict)
    return [Point(measurement=ATTENDANCE, tags=tags, fields=fields, time=at + spread(staff))]


def _tags(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


# --- line protocol ---------------------------------------------------------------------------

_MEASUREMENT_ESC = str.maketrans({",": r"\,", " ": r"\ ", "\n": " "})
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " "})
_STRING_ESC = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " "})


def to_line(p: Point) -> bytes:
    """InfluxDB line protocol, nanosecond precision; tags sorted (the servers' own order).

    The same bytes as `to_line_reference`, faster: a series (measurement and tags) and a
    field key are escaped once and remembered (tags are low-cardinality by design, above),
    and a string value is translated only when it holds a character that needs it.
    """
    fields = []
    for k, v in sorted(p.fields.items()):
        if type(v) is str:
            if '"' in v or "\\" in v or "\n" in v:
                v = v.translate(_STRING_ESC)
            fields.append(f'{_field_key(k)}"{v}"')
        elif type(v) is int:
            fields.append(f"{_field_key(k)}{v}i")
        else:  # bool, float, and subclasses of str or int (an enum): the general rule
            fields.append(_field_key(k) + _value(v))
    return (
        f"{_series(p.measurement, tuple(p.tags.items()))} {','.join(fields)} {p.time_ns}".encode()
    )


@functools.lru_cache(maxsize=4096)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    head = measurement.translate(_MEASUREMENT_ESC)
    return head + "".join(
        f",{k.translate(_KEY_ESC)}={v.translate(_KEY_ESC)}" for k, v in sorted(tags) if v
    )


@functools.lru_cache(maxsize=4096)
def _field_key(key: str) -> str:
    return key.translate(_KEY_ESC) + "="


def to_line_reference(p: Point) -> bytes:
    """The plain rendering `to_line` must match byte for byte (tests/test_sink_line.py)."""
    head = p.measurement.translate(_MEASUREMENT_ESC)
    tags = "".join(
        f",{k.translate(_KEY_ESC)}={v.translate(_KEY_ESC)}" for k, v in sorted(p.tags.items()) if v
    )
    fields = ",".join(f"{k.translate(_KEY_ESC)}={_value(v)}" for k, v in sorted(p.fields.items()))
    return f"{head}{tags} {fields} {p.time_ns}".encode()


def _value(v: FieldValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise PointError(f"line protocol has no {v}")
        return repr(v)
    return '"' + v.translate(_STRING_ESC) + '"'

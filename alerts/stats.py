"""Service statistics for a period: the figures a hall publishes (seed 003_…), from assessments.

Pure: case assessments (alerts/cases.py), ratings and the calendar in, rows out. Days are the
hall's local days; the period runs from `start` to `end`, both included.

Which case counts where. Each figure looks at the day of its own event, so one case can count
as received in March and completed in April (and, grouped by day or month, in two rows):
- received (收件量): the day the case entered, its `received` event, else its `accepted` one
  (a case with no separate receipt). Seed 003_…'s "受理 27,084" is this figure.
- accepted (受理量): the day of its `accepted` event (the receipt that starts the clock).
- completed (办结量): the day the case finished (`Assessment.finished_at`), with a decision,
  approved or refused. A case returned at the window (退件) is finished but not completed.
- on time (按时办结): a completed case finished at or before its limit in force (the promised
  limit after suspensions and timely extensions, a special case's instant, an immediate case's
  same-day close). The rate is over completed cases that have such a limit; an overdue case
  still open is a red card, not part of this rate (as in the published rates of seed 003_…).
- on the spot (现场办结): an immediate case (即办件) completed by close of business of the
  working day it was received; received after hours or on a day off, of the next working day
  (the limit of its card `case.immediate.open_at_close`). The rate is over completed immediate
  cases. Seed 004_… 二(一) sets both rates' target at 100 %.
- promised vs actual days (承诺天数 / 实际办理天数, seed 003_…): over completed cases accepted
  with `promised_days`. Actual = working days from the day after acceptance to the completion
  day, both included: completed on the day of acceptance is 0, on the next working day 1.
  Suspended days count as used (the applicant waited); extensions do not change the promise.
  Days early = average promised − average actual (can be negative).
- bad reviews (差评, docs/contract.md: levels 1 and 2 of 5): over finished cases (completed or
  returned) that have a rating, counted on the finishing day.

Figures are kept as integer counts and sums; rates and averages are exact `Fraction`s, rounded
half away from zero only when printed, so 10.3651 − 1.5749 prints 8.79 where the printed
10.37 − 1.57 would say 8.80 (both seed 003_…'s figures and its arithmetic).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from fractions import Fraction
from typing import Literal, get_args

from alerts.cases import Assessment
from alerts.events import CaseKind, Outcome
from alerts.ids import CaseId
from alerts.workdays import WorkCalendar

GroupBy = Literal["hall", "window", "staff", "day", "month"]
GROUPS: tuple[GroupBy, ...] = get_args(GroupBy)
BAD_LEVELS = frozenset({1, 2})
TOTAL_KEY = "合计"
UNKNOWN_KEY = "—"  # a case whose events name no window (or officer)

GROUP_LABELS_ZH: dict[GroupBy, str] = {
    "hall": "中心",
    "window": "窗口",
    "staff": "工作人员",
    "day": "日期",
    "month": "月份",
}

LABELS_ZH: dict[str, str] = {
    "received": "收件量",
    "accepted": "受理量",
    "completed": "办结量",
    "timed": "有时限办结量",
    "on_time": "按时办结量",
    "on_time_rate": "按时办结率",
    "immediate": "即办件办结量",
    "on_the_spot": "现场办结量",
    "on_the_spot_rate": "现场办结率",
    "promised": "承诺件办结量",
    "promised_days": "承诺天数合计",
    "actual_days": "实际天数合计",
    "avg_promised_days": "平均承诺天数",
    "avg_actual_days": "平均实际办理天数",
    "avg_days_early": "平均提前天数",
    "rated": "评价量",
    "bad_reviews": "差评量",
    "bad_review_rate": "差评率",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsRow:
    """One group's figures for the period: counts and sums; rates are derived, exact."""

    group: GroupBy
    key: str  # "hall", a window, an officer, "2026-11-23", "2026-11", or TOTAL_KEY
    received: int = 0
    accepted: int = 0
    completed: int = 0
    timed: int = 0  # completed with a limit: the on-time rate's denominator
    on_time: int = 0
    immediate: int = 0  # completed immediate cases: the on-the-spot rate's denominator
    on_the_spot: int = 0
    promised: int = 0  # completed with promised days: the averages' denominator
    promised_days: int = 0
    actual_days: int = 0
    rated: int = 0
    bad_reviews: int = 0

    @property
    def on_time_rate(self) -> Fraction | None:
        return _ratio(self.on_time, self.timed)

    @property
    def on_the_spot_rate(self) -> Fraction | None:
        return _ratio(self.on_the_spot, self.immediate)

    @property
    def avg_promised_days(self) -> Fraction | None:
        return _ratio(self.promised_days, self.promised)

    @property
    def avg_actual_days(self) -> Fraction | None:
        return _ratio(self.actual_days, self.promised)

    @property
    def avg_days_early(self) -> Fraction | None:
        return _ratio(self.promised_days - self.actual_days, self.promised)

    @property
    def bad_review_rate(self) -> Fraction | None:
        return _ratio(self.bad_reviews, self.rated)


COUNTS: tuple[str, ...] = tuple(f.name for f in fields(StatsRow) if f.name not in ("group", "key"))


def _ratio(num: int, den: int) -> Fraction | None:
    return Fraction(num, den) if den else None


def compute(
    assessments: Iterable[Assessment],
    ratings: Mapping[CaseId, int],
    cal: WorkCalendar,
    start: date,
    end: date,
    group_by: GroupBy,
    *,
    total: bool = False,
) -> list[StatsRow]:
    """Rows per group, sorted by key, plus a TOTAL_KEY row last when `total` is asked for."""
    if group_by not in GROUPS:
        raise ValueError(f"cannot group by {group_by!r}; one of {', '.join(GROUPS)}")
    if end < start:
        raise ValueError(f"period ends {end} before it starts {start}")
    tallies: dict[str, Counter[str]] = {}
    for a in assessments:
        for day, name, amount in _figures(a, ratings, cal):
            if start <= day <= end:
                key = _key(group_by, a, day)
                tallies.setdefault(key, Counter())[name] += amount
    rows = [_row(group_by, k, tallies[k]) for k in sorted(tallies)]
    if total:
        rows.append(_row(group_by, TOTAL_KEY, sum(tallies.values(), Counter())))
    return rows


def _row(group: GroupBy, key: str, counts: Counter[str]) -> StatsRow:
    return StatsRow(group=group, key=key, **{name: counts[name] for name in COUNTS})


def _key(group_by: GroupBy, a: Assessment, day: date) -> str:
    if group_by == "window":
        return a.window or UNKNOWN_KEY
    if group_by == "staff":
        return a.staff or UNKNOWN_KEY
    if group_by == "day":
        return day.isoformat()
    if group_by == "month":
        return f"{day:%Y-%m}"
    return "hall"


Figure = tuple[date, str, int]  # (the local day it counts on, figure, amount)


def _figures(a: Assessment, ratings: Mapping[CaseId, int], cal: WorkCalendar) -> list[Figure]:
    """What one case adds, each figure on the local day of its own event."""
    out: list[Figure] = []
    entered = a.received_at or a.accepted_at
    if entered is not None:
        out.append((_day(cal, entered), "received", 1))
    if a.accepted_at is not None:
        out.append((_day(cal, a.accepted_at), "accepted", 1))
    if a.finished_at is None:
        return out
    done = _day(cal, a.finished_at)
    if a.outcome in (Outcome.APPROVED, Outcome.REFUSED):
        out += [(done, name, n) for name, n in _completion(a, a.finished_at, cal)]
    level = ratings.get(a.case)
    if level is not None:
        if level not in range(1, 6):
            raise ValueError(f"case {a.case}: rating level {level} is not 1-5")
        out += [(done, "rated", 1), (done, "bad_reviews", int(level in BAD_LEVELS))]
    return out


def _completion(a: Assessment, finished: datetime, cal: WorkCalendar) -> list[tuple[str, int]]:
    out = [("completed", 1)]
    limit = _limit(a, cal)
    if limit is not None:
        out += [("timed", 1), ("on_time", int(finished <= limit))]
        if a.kind is CaseKind.IMMEDIATE:
            out += [("immediate", 1), ("on_the_spot", int(finished <= limit))]
    if a.promised_days is not None and a.accepted_at is not None:
        first = cal.next_working_day(_day(cal, a.accepted_at))
        used = cal.count_working_days(first, _day(cal, finished))
        out += [("promised", 1), ("promised_days", a.promised_days), ("actual_days", used)]
    return out


def _limit(a: Assessment, cal: WorkCalendar) -> datetime | None:
    """The limit a finished case is held to: see the module docstring, "on time"."""
    if a.kind is CaseKind.IMMEDIATE:
        entered = a.received_at or a.accepted_at
        return None if entered is None else cal.add_working_days(entered, 0).at
    return a.due.at if a.due is not None else None


def _day(cal: WorkCalendar, t: datetime) -> date:
    return t.astimezone(cal.zone).date()


# --- printing -----------------------------------------------------------------------------

TABLE_COLUMNS: tuple[str, ...] = (
    "received",
    "accepted",
    "completed",
    "on_time_rate",
    "on_the_spot_rate",
    "avg_promised_days",
    "avg_actual_days",
    "avg_days_early",
    "bad_review_rate",
)
CSV_COLUMNS: tuple[str, ...] = (*COUNTS, *(c for c in TABLE_COLUMNS if c not in COUNTS))
_PERCENT = frozenset({"on_time_rate", "on_the_spot_rate", "bad_review_rate"})


def cell(row: StatsRow, column: str) -> str:
    """A figure as printed: counts as they are, rates in % and averages to 2 places."""
    value: int | Fraction | None = getattr(row, column)
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    if column in _PERCENT:
        return rounded(value * 100, 2) + "%"
    return rounded(value, 2)


def rounded(value: Fraction, places: int) -> str:
    """`value` to `places` decimals, half away from zero, computed exactly."""
    scaled = abs(value) * 10**places
    units = int(scaled + Fraction(1, 2))
    sign = "-" if value < 0 and units else ""
    whole, frac = divmod(units, 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def render_table(rows: Sequence[StatsRow], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """A plain-text table with Chinese headings, aligned for a terminal (wide CJK glyphs)."""
    group = rows[0].group if rows else "hall"
    head = [GROUP_LABELS_ZH[group], *(LABELS_ZH[c] for c in columns)]
    body = [[r.key, *(cell(r, c) for c in columns)] for r in rows]
    widths = [max(_width(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = [_line(head, widths), "  ".join("-" * w for w in widths)]
    lines += [_line(line, widths) for line in body]
    return "\n".join(lines) + "\n"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *rest = zip(cells, widths, strict=True)
    parts = [first[0] + " " * (first[1] - _width(first[0]))]
    parts += [" " * (w - _width(c)) + c for c, w in rest]
    return "  ".join(parts).rstrip()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def to_csv(rows: Sequence[StatsRow], *, chinese_header: bool = False) -> str:
    """Every count and sum (so the rates can be recomputed) and the rates as printed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    group = rows[0].group if rows else "hall"
    if chinese_header:
        writer.writerow([GROUP_LABELS_ZH[group], *(LABELS_ZH[c] for c in CSV_COLUMNS)])
    else:
        writer.writerow([group, *CSV_COLUMNS])
    for r in rows:
        writer.writerow([r.key, *(cell(r, c) for c in CSV_COLUMNS)])
    return buf.getvalue()

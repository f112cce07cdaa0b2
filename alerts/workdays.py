"""The hall's working-day calendar: which days count, service hours, deadlines in working time.

Pure: nothing here reads the clock, a file or a socket. Instants are aware datetimes and come
back in UTC; the hall's zone is used only to find the local day of an instant and the instants
at which that day's sessions start and end.

Whether a day is working, first rule that applies:
1. the admin's overlay table (`DayOverride`): a local holiday, a schedule published after this
   release, a special service day. The overlay wins over the library;
2. the national schedule with its swapped working weekends (调休) from `chinesecalendar`, for
   the years it holds (`LIBRARY_YEARS`: 2004-2026 in chinesecalendar 1.11.0);
3. Monday to Friday.

Known years. A year is known when the library holds it or the calendar's `complete_years` lists
it, meaning the admin has entered every holiday and swapped working day of that year in the
overlay. An overlay entry alone does not make its year known: one local holiday in 2028 says
nothing of 2028's Spring Festival. An unknown year is never an error and never guessed at
silently: its days follow rules 1 and 3, and every result that looked at such a day says so
(`Due.estimated`, `unknown_years`).

Periods (民法典 第二百零一条, 第二百零三条): a period of N working days starts the day after
acceptance and ends at close of business (end of the day's last session) of the Nth working
day. N = 0 is the immediate case's "same working day": close of business of the acceptance day
if that is a working day whose close is still ahead of the acceptance, else of the next working
day (an application accepted after hours or on a holiday is due at the next close).

Working time is counted exactly, as `timedelta` (`working_time`, `add_working_time`);
`working_minutes` and `add_working_minutes` are float-minute conveniences over them. A
suspension moves a deadline forward by exactly the working time it covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise

import chinese_calendar
import msgspec

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MINUTE = timedelta(minutes=1)
_LEAP_YEAR = 2000  # for month-day checks: has a 29 February
_MEMO_MAX = 1 << 16  # entries per memo of WorkCalendar


def _library_years() -> range:
    days = chinese_calendar.holidays.keys()
    return range(min(days).year, max(days).year + 1)


LIBRARY_YEARS: range = _library_years()

# date -> (working, name); a swapped working day wins over a holiday, as in the library.
_NATIONAL: dict[date, tuple[bool, str]] = {
    **{d: (False, str(name)) for d, name in chinese_calendar.holidays.items()},
    **{d: (True, str(name)) for d, name in chinese_calendar.workdays.items()},
}


class DaySource(StrEnum):
    OVERRIDE = "override"  # the admin's overlay table
    NATIONAL = "national"  # a holiday or swapped working day of the national schedule
    REGULAR = "regular"  # an ordinary weekday or weekend of a known year
    ESTIMATED = "estimated"  # Monday to Friday, in a year whose schedule is unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A service session in local wall-clock time, e.g. 08:30-12:00."""

    start: time
    end: time
    name: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("session times are local wall-clock times, without tzinfo")
        if not self.start < self.end:
            raise ValueError(f"session {self.name!r}: start {self.start} is not before {self.end}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timetable:
    """The sessions of a working day, valid from one (month, day) to another, both inclusive.

    A range may wrap the new year, e.g. (10, 1) to (4, 30). Where ranges overlap, the first
    timetable in the calendar's list wins: list seasonal timetables before the all-year one.
    """

    sessions: tuple[Session, ...]
    valid_from: tuple[int, int] = (1, 1)
    valid_to: tuple[int, int] = (12, 31)

    def __post_init__(self) -> None:
        if not self.sessions:
            raise ValueError("a timetable needs at least one session")
        for earlier, later in pairwise(self.sessions):
            if later.start < earlier.end:
                raise ValueError(f"sessions overlap or are out of order: {earlier} / {later}")
        for month_day in (self.valid_from, self.valid_to):
            _check_month_day(month_day)

    def covers(self, month_day: tuple[int, int]) -> bool:
        if self.valid_from <= self.valid_to:
            return self.valid_from <= month_day <= self.valid_to
        return month_day >= self.valid_from or month_day <= self.valid_to


@dataclass(frozen=True, slots=True, kw_only=True)
class DayOverride:
    """One row of the admin's table: this day is off (or working), and why."""

    day: date
    working: bool
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DayStatus:
    day: date
    working: bool
    name: str
    source: DaySource


class Due(msgspec.Struct, frozen=True, gc=False):
    """A computed instant (UTC); `estimated` when it depended on a year of unknown schedule.

    The hot path's values (Due, Condition, Assessment, Subject, Transition) are frozen
    msgspec Structs: built several times per due deadline, a frozen dataclass's __init__ was
    a fifth of the engine's time at a million cases (bench/timers.py). `gc=False`: immutable
    values built from their parts, so they cannot form a reference cycle.
    """

    at: datetime
    estimated: bool


Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Day:
    status: DayStatus
    spans: tuple[Span, ...]  # service hours in UTC; empty on an off day
    close: datetime  # end of the timetable's last session, even on an off day
    total: timedelta

    def overlap(self, a: datetime, b: datetime) -> timedelta:
        return sum((max(min(e, b) - max(s, a), _ZERO) for s, e in self.spans), _ZERO)

    def consume(self, t: datetime, left: timedelta) -> tuple[datetime | None, timedelta]:
        """Spend `left` (> 0) of this day's service time after `t`: where it ends, or the rest."""
        if left > self.total and (not self.spans or t <= self.spans[0][0]):
            return None, left - self.total
        for s, e in self.spans:
            begin = max(s, t)
            if e <= begin:
                continue
            if left <= e - begin:
                return begin + left, _ZERO
            left -= e - begin
        return None, left


class WorkCalendar:
    """Working days and service hours of one hall; see the module docstring for the rules."""

    def __init__(
        self,
        zone: tzinfo,
        timetables: Sequence[Timetable],
        overrides: Sequence[DayOverride] = (),
        complete_years: Iterable[int] = (),
    ) -> None:
        self._zone = zone
        self._tables = _index_timetables(timetables)
        self._overrides = _index_overrides(overrides)
        self._complete = frozenset(complete_years)
        self._days: dict[date, _Day] = {}
        self._unknown: dict[tuple[int, int], frozenset[int]] = {}
        # Memos of pure answers, so a million deadlines share their work and their objects.
        # Bounded: emptied when full (a long-running daemon sees ever new days and instants).
        self._nth: dict[tuple[date, int], date] = {}
        self._before: dict[tuple[datetime, int], datetime] = {}
        self._dates: dict[datetime, date] = {}
        self._added: dict[tuple[datetime, timedelta], Due] = {}

    @property
    def zone(self) -> tzinfo:
        return self._zone

    def year_known(self, year: int) -> bool:
        return year in LIBRARY_YEARS or year in self._complete

    def unknown_years(self, a: date, b: date) -> frozenset[int]:
        """Years of unknown schedule among the local days from `a` to `b` (either order)."""
        return self._unknown_between(self._local_date(a).year, self._local_date(b).year)

    def _unknown_between(self, y1: int, y2: int) -> frozenset[int]:
        first, last = (y1, y2) if y1 <= y2 else (y2, y1)
        key = (first, last)
        found = self._unknown.get(key)
        if found is None:  # one shared set per span: a million open cases hold references
            found = frozenset(y for y in range(first, last + 1) if not self.year_known(y))
            self._unknown[key] = found
        return found

    def day_status(self, d: date) -> DayStatus:
        return self._day(self._local_date(d)).status

    def is_working_day(self, d: date) -> bool:
        return self._day(self._local_date(d)).status.working

    def service_hours(self, d: date) -> tuple[Span, ...]:
        """The day's sessions as UTC (start, end) pairs; empty on an off day."""
        return self._day(self._local_date(d)).spans

    def close_of_business(self, d: date) -> datetime:
        """End of the day's last session, in UTC; on an off day, when its timetable would end."""
        return self._day(self._local_date(d)).close

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        day = self._local_date(d) + _ONE_DAY
        while not self._day(day).status.working:
            day += _ONE_DAY
        return day

    def count_working_days(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included; 0 when `last` < `first`."""
        first, last = self._local_date(first), self._local_date(last)
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return sum(1 for d in days if self._day(d).status.working)

    def add_working_days(self, start: datetime, n: int) -> Due:
        """Deadline of a period of `n` working days accepted at `start` (module docstring)."""
        if n < 0:
            raise ValueError(f"a period cannot have {n} working days")
        start = _utc(start)
        day = self._local_date(start)
        if n == 0:
            return self._due(start, self._same_day_close(start, day))
        return self._due(start, self._day(self._nth_working_day(day, n)).close)

    def _nth_working_day(self, day: date, n: int) -> date:
        key = (day, n)
        found = self._nth.get(key)
        if found is None:
            found = day
            for _ in range(n):
                found = self.next_working_day(found)
            if len(self._nth) >= _MEMO_MAX:
                self._nth.clear()
            self._nth[key] = found
        return found

    def working_days_before(self, at: datetime, days: int) -> datetime:
        """The same local time on the working day `days` working days before `at`'s day (UTC).

        Equal answers are one shared object: a million open deadlines hold references.
        """
        at = _utc(at)
        key = (at, days)
        found = self._before.get(key)
        if found is None:
            local = at.astimezone(self._zone)
            day = local.date()
            for _ in range(days):
                day -= _ONE_DAY
                while not self._day(day).status.working:
                    day -= _ONE_DAY
            moved = local.replace(year=day.year, month=day.month, day=day.day)
            found = moved.astimezone(UTC)
            if len(self._before) >= _MEMO_MAX:
                self._before.clear()
            self._before[key] = found
        return found

    def working_time(self, a: datetime, b: datetime) -> timedelta:
        """Service time between two instants; negative when `b` is before `a`."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.working_time(b, a)
        first, last = self._local_date(a), self._local_date(b)
        total = self._day(first).overlap(a, b)
        if last == first:
            return total
        day = first + _ONE_DAY
        while day < last:
            total += self._day(day).total
            day += _ONE_DAY
        return total + self._day(last).overlap(a, b)

    def working_minutes(self, a: datetime, b: datetime) -> float:
        return self.working_time(a, b) / _MINUTE

    def add_working_time(self, t: datetime, amount: timedelta) -> Due:
        """The earliest instant `u` >= `t` with `working_time(t, u) == amount`.

        For a positive amount it lies in service hours (possibly at a session's end); a zero
        amount gives `t` itself.
        """
        if amount < _ZERO:
            raise ValueError(f"cannot add negative working time {amount}")
        key = (t, amount)
        found = self._added.get(key)
        if found is None:  # a seat's empty spell asks again at every tick of the day
            u = _utc(t)
            found = self._due(u, self._advance(u, amount) if amount else u)
            if len(self._added) >= _MEMO_MAX:
                self._added.clear()
            self._added[key] = found
        return found

    def add_working_minutes(self, t: datetime, minutes: float) -> Due:
        return self.add_working_time(t, timedelta(minutes=minutes))

    def _same_day_close(self, start: datetime, day: date) -> datetime:
        if not self._day(day).status.working:
            day = self.next_working_day(day)
        while self._day(day).close <= start:
            day = self.next_working_day(day)
        return self._day(day).close

    def _advance(self, t: datetime, left: timedelta) -> datetime:
        day = self._local_date(t)
        while True:
            landed, left = self._day(day).consume(t, left)
            if landed is not None:
                return landed
            day += _ONE_DAY

    def _due(self, start: datetime, at: datetime) -> Due:
        first, last = self._local_date(start).year, self._local_date(at).year
        return Due(at, bool(self._unknown_between(first, last)))

    def _local_date(self, x: date) -> date:
        if not isinstance(x, datetime):
            return x
        found = self._dates.get(x)  # aware datetimes hash by their instant
        if found is None:
            if x.utcoffset() is None:
                raise ValueError(f"naive datetime {x.isoformat()}: give the zone")
            found = x.astimezone(self._zone).date()
            if len(self._dates) >= _MEMO_MAX:
                self._dates.clear()
            self._dates[x] = found
        return found

    def _day(self, d: date) -> _Day:
        day = self._days.get(d)
        if day is None:
            day = self._days[d] = self._build_day(d)
        return day

    def _build_day(self, d: date) -> _Day:
        status = self._status(d)
        table = self._tables[(d.month, d.day)]
        spans = [(self._instant(d, s.start), self._instant(d, s.end)) for s in table.sessions]
        # A session inside a daylight-saving gap can come out empty: drop it.
        kept = tuple((s, e) for s, e in spans if s < e) if status.working else ()
        total = sum((e - s for s, e in kept), _ZERO)
        close = self._instant(d, table.sessions[-1].end)
        return _Day(status=status, spans=kept, close=close, total=total)

    def _status(self, d: date) -> DayStatus:
        entry = self._overrides.get(d)
        if entry is not None:
            return DayStatus(
                day=d, working=entry.working, name=entry.name, source=DaySource.OVERRIDE
            )
        national = _NATIONAL.get(d)
        if national is not None:
            working, name = national
            return DayStatus(day=d, working=working, name=name, source=DaySource.NATIONAL)
        source = DaySource.REGULAR if self.year_known(d.year) else DaySource.ESTIMATED
        return DayStatus(day=d, working=d.weekday() < 5, name="", source=source)

    def _instant(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self._zone).astimezone(UTC)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is UTC:
        return t
    if t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: give the zone")
    return t.astimezone(UTC)


def _check_month_day(month_day: tuple[int, int]) -> None:
    try:
        date(_LEAP_YEAR, *month_day)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a (month, day): {month_day!r}") from exc


def _index_timetables(timetables: Sequence[Timetable]) -> dict[tuple[int, int], Timetable]:
    """Every (month, day) of a leap year to its timetable; each one must be covered."""
    index: dict[tuple[int, int], Timetable] = {}
    day = date(_LEAP_YEAR, 1, 1)
    while day.year == _LEAP_YEAR:
        month_day = (day.month, day.day)
        table = next((t for t in timetables if t.covers(month_day)), None)
        if table is None:
            raise ValueError(f"no timetable covers {day:%m-%d}")
        index[month_day] = table
        day += _ONE_DAY
    return index


def _index_overrides(overrides: Sequence[DayOverride]) -> dict[date, DayOverride]:
    index: dict[date, DayOverride] = {}
    for entry in overrides:
        if entry.day in index:
            raise ValueError(f"two overlay entries for {entry.day}")
        index[entry.day] = entry
    return index

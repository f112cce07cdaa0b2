"""The working-day calendar (alerts/workdays.py): worked examples at fixed instants, properties.

National schedule: chinesecalendar's encoding of the State Council notices
(国务院办公厅关于20xx年部分节假日安排的通知); the 2026 rows below match the 2026 notice:
New Year 1-3 Jan off, Sun 4 Jan worked; Spring Festival 15-23 Feb off, Sat 14 and Sat 28 Feb
worked; Mid-Autumn 25-27 Sep off; National Day 1-7 Oct off, Sun 20 Sep and Sat 10 Oct worked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.workdays import (
    LIBRARY_YEARS,
    DayOverride,
    DaySource,
    Due,
    Session,
    Timetable,
    WorkCalendar,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGULAR = Timetable(
    sessions=(
        Session(start=time(8, 30), end=time(12, 0), name="morning"),
        Session(start=time(14, 0), end=time(17, 30), name="afternoon"),
    )
)
SUMMER = Timetable(
    sessions=(
        Session(start=time(8, 0), end=time(12, 0), name="morning"),
        Session(start=time(14, 30), end=time(18, 0), name="afternoon"),
    ),
    valid_from=(7, 1),
    valid_to=(9, 30),
)
LOCAL_HOLIDAY = DayOverride(day=date(2026, 3, 12), working=False, name="county holiday (example)")
SERVICE_SATURDAY = DayOverride(day=date(2026, 3, 14), working=True, name="service day (example)")

CAL = WorkCalendar(SHANGHAI, [SUMMER, REGULAR], overrides=[LOCAL_HOLIDAY, SERVICE_SATURDAY])
PLAIN = WorkCalendar(SHANGHAI, [REGULAR])  # the library and weekends only
LAST_KNOWN = LIBRARY_YEARS[-1]
UNKNOWN = LAST_KNOWN + 5  # beyond any schedule the installed library can hold

PROPERTY = settings(max_examples=150, deadline=None)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def local(t: datetime) -> date:
    return t.astimezone(SHANGHAI).date()


def weekday_from(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def test_library_holds_the_2026_schedule() -> None:
    assert LIBRARY_YEARS.start == 2004 and 2026 in LIBRARY_YEARS
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # a Saturday
    assert date(2026, 10, 10).weekday() == 5


@pytest.mark.parametrize(
    ("accepted", "n", "due"),
    [
        # National Day 2026: 1-7 Oct off, Saturday 10 Oct a swapped working day.
        pytest.param(at(2026, 9, 30, 10), 3, at(2026, 10, 10, 17, 30), id="national-day-2026"),
        pytest.param(
            datetime(2026, 9, 30, 2, tzinfo=UTC), 3, at(2026, 10, 10, 17, 30), id="given-in-utc"
        ),
        pytest.param(at(2026, 10, 3, 10), 1, at(2026, 10, 8, 17, 30), id="accepted-on-holiday"),
        # Spring Festival 2026: 15-23 Feb off, Saturdays 14 and 28 Feb worked.
        pytest.param(at(2026, 2, 13, 9), 1, at(2026, 2, 14, 17, 30), id="spring-sat-14-feb"),
        pytest.param(at(2026, 2, 13, 9), 2, at(2026, 2, 24, 17, 30), id="spring-after-break"),
        pytest.param(at(2026, 2, 13, 9), 6, at(2026, 2, 28, 17, 30), id="spring-sat-28-feb"),
        # Spring Festival 2025: 28 Jan-4 Feb off, Sunday 26 Jan and Saturday 8 Feb worked.
        pytest.param(at(2025, 1, 24, 9), 1, at(2025, 1, 26, 17, 30), id="spring-2025-sun"),
        pytest.param(at(2025, 1, 27, 9), 1, at(2025, 2, 5, 17, 30), id="spring-2025-break"),
        pytest.param(at(2025, 2, 5, 9), 3, at(2025, 2, 8, 17, 30), id="spring-2025-sat"),
        # New Year 2026 across the year end: Sunday 4 Jan worked.
        pytest.param(at(2025, 12, 31, 16), 1, at(2026, 1, 4, 17, 30), id="new-year-sunday"),
        # The overlay: a local holiday, a Saturday service day.
        pytest.param(at(2026, 3, 11, 10), 1, at(2026, 3, 13, 17, 30), id="local-holiday"),
        pytest.param(at(2026, 3, 13, 10), 1, at(2026, 3, 14, 17, 30), id="service-saturday"),
        # Summer timetable (1 Jul-30 Sep) closes at 18:00.
        pytest.param(at(2026, 7, 1, 9), 1, at(2026, 7, 2, 18), id="summer-close"),
        # N = 0: same working day, else the next close.
        pytest.param(at(2026, 3, 11, 10), 0, at(2026, 3, 11, 17, 30), id="same-day"),
        pytest.param(at(2026, 3, 11, 18), 0, at(2026, 3, 13, 17, 30), id="same-day-after-hours"),
        pytest.param(at(2026, 10, 3, 10), 0, at(2026, 10, 8, 17, 30), id="same-day-on-holiday"),
    ],
)
def test_worked_deadlines(accepted: datetime, n: int, due: datetime) -> None:
    result = CAL.add_working_days(accepted, n)
    assert result == Due(due, estimated=False)
    assert result.at.tzinfo is UTC


def test_the_overlay_wins_over_the_library() -> None:
    closed = DayOverride(day=date(2026, 10, 10), working=False, name="hall closed (example)")
    opened = DayOverride(day=date(2026, 10, 5), working=True, name="holiday duty (example)")
    assert WorkCalendar(SHANGHAI, [REGULAR], [closed]).add_working_days(
        at(2026, 9, 30, 10), 3
    ) == Due(at(2026, 10, 12, 17, 30), estimated=False)
    cal = WorkCalendar(SHANGHAI, [REGULAR], [opened])
    assert cal.add_working_days(at(2026, 9, 30, 10), 3).at == at(2026, 10, 9, 17, 30)
    assert cal.day_status(date(2026, 10, 5)).source is DaySource.OVERRIDE


def test_day_status_says_why() -> None:
    assert CAL.day_status(date(2026, 10, 10)).source is DaySource.NATIONAL
    assert CAL.day_status(date(2026, 10, 10)).working
    assert CAL.day_status(date(2026, 3, 12)).name == LOCAL_HOLIDAY.name
    assert CAL.day_status(date(2026, 3, 10)).source is DaySource.REGULAR
    assert CAL.day_status(date(UNKNOWN, 3, 10)).source is DaySource.ESTIMATED
    assert CAL.service_hours(date(2026, 10, 3)) == ()
    assert CAL.close_of_business(date(2026, 7, 1)) == at(2026, 7, 1, 18)


@pytest.mark.parametrize(
    ("a", "b", "minutes"),
    [
        pytest.param(at(2026, 3, 11, 11), at(2026, 3, 11, 15), 120.0, id="lunch-break"),
        pytest.param(at(2026, 9, 30, 16, 30), at(2026, 10, 8, 9, 30), 150.0, id="over-the-holiday"),
        pytest.param(at(2026, 3, 13, 17), at(2026, 3, 16, 9), 480.0, id="service-saturday"),
        pytest.param(at(2026, 3, 11, 15), at(2026, 3, 11, 11), -120.0, id="reversed"),
        pytest.param(at(2026, 3, 11, 19), at(2026, 3, 12, 10), 0.0, id="night-and-holiday"),
    ],
)
def test_worked_working_minutes(a: datetime, b: datetime, minutes: float) -> None:
    assert CAL.working_minutes(a, b) == minutes


@pytest.mark.parametrize(
    ("t", "minutes", "landed"),
    [
        pytest.param(at(2026, 3, 11, 11, 30), 60, at(2026, 3, 11, 14, 30), id="over-lunch"),
        pytest.param(at(2026, 3, 11, 11), 60, at(2026, 3, 11, 12), id="lands-at-session-end"),
        pytest.param(at(2026, 9, 30, 17, 30), 60, at(2026, 10, 8, 9), id="summer-to-regular"),
        pytest.param(at(2026, 3, 11, 20), 0, at(2026, 3, 11, 20), id="zero-stays"),
    ],
)
def test_worked_add_working_minutes(t: datetime, minutes: float, landed: datetime) -> None:
    assert CAL.add_working_minutes(t, minutes) == Due(landed, estimated=False)


def test_a_suspension_moves_the_deadline_by_its_working_time() -> None:
    deadline = CAL.add_working_days(at(2026, 3, 2, 10), 5).at
    assert deadline == at(2026, 3, 9, 17, 30)
    suspended = CAL.working_time(at(2026, 3, 4, 15), at(2026, 3, 5, 10))
    assert suspended == timedelta(minutes=150 + 90)
    assert CAL.add_working_time(deadline, suspended).at == at(2026, 3, 10, 14, 30)


def test_unknown_year_counts_weekends_only_and_says_so() -> None:
    wednesday = weekday_from(date(UNKNOWN, 3, 1), 2)
    due = PLAIN.add_working_days(datetime.combine(wednesday, time(10), SHANGHAI), 3)
    monday = datetime.combine(wednesday + timedelta(days=5), time(17, 30), SHANGHAI)
    assert due == Due(monday, estimated=True)
    assert not PLAIN.year_known(UNKNOWN)
    assert PLAIN.unknown_years(at(LAST_KNOWN, 6, 1), due.at) == frozenset(
        range(LAST_KNOWN + 1, UNKNOWN + 1)
    )


def test_a_period_running_into_an_unknown_year_is_estimated() -> None:
    assert PLAIN.add_working_days(at(LAST_KNOWN, 12, 28, 10), 10).estimated
    assert PLAIN.unknown_years(at(2025, 1, 1), at(LAST_KNOWN, 12, 31)) == frozenset()


def test_a_local_entry_does_not_make_its_year_known() -> None:
    thursday = weekday_from(date(UNKNOWN, 3, 1), 3)
    holiday = DayOverride(day=thursday, working=False, name="local holiday (example)")
    cal = WorkCalendar(SHANGHAI, [REGULAR], [holiday])
    due = cal.add_working_days(datetime.combine(thursday - timedelta(days=1), time(9), SHANGHAI), 1)
    assert due == Due(datetime.combine(thursday + timedelta(days=1), time(17, 30), SHANGHAI), True)
    assert not cal.year_known(UNKNOWN)


def test_a_complete_year_in_the_overlay_is_known_and_followed() -> None:
    thursday = weekday_from(date(UNKNOWN, 10, 1), 3)
    table = [
        DayOverride(day=thursday, working=False, name="National Day (entered)"),
        DayOverride(day=thursday + timedelta(days=1), working=False, name="National Day (entered)"),
        DayOverride(day=thursday + timedelta(days=2), working=True, name="swapped (entered)"),
    ]
    accepted = datetime.combine(thursday - timedelta(days=1), time(10), SHANGHAI)
    saturday_close = datetime.combine(thursday + timedelta(days=2), time(17, 30), SHANGHAI)
    pending = WorkCalendar(SHANGHAI, [REGULAR], table)
    assert pending.add_working_days(accepted, 1) == Due(saturday_close, estimated=True)
    published = WorkCalendar(SHANGHAI, [REGULAR], table, complete_years=[UNKNOWN])
    assert published.year_known(UNKNOWN)
    assert published.add_working_days(accepted, 1) == Due(saturday_close, estimated=False)
    assert published.unknown_years(accepted, saturday_close) == frozenset()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Session(start=time(12), end=time(8)),
        lambda: Timetable(sessions=()),
        lambda: Timetable(sessions=REGULAR.sessions[::-1]),
        lambda: Timetable(sessions=REGULAR.sessions, valid_from=(2, 30)),
        lambda: WorkCalendar(SHANGHAI, [SUMMER]),
        lambda: WorkCalendar(SHANGHAI, [REGULAR], [LOCAL_HOLIDAY, LOCAL_HOLIDAY]),
        lambda: CAL.add_working_days(datetime(2026, 3, 11, 10), 1),
        lambda: CAL.add_working_days(at(2026, 3, 11, 10), -1),
        lambda: CAL.add_working_time(at(2026, 3, 11, 10), timedelta(minutes=-1)),
    ],
)
def test_bad_input_is_refused(build: object) -> None:
    with pytest.raises(ValueError):
        assert callable(build)
        build()


def test_a_timetable_range_may_wrap_the_new_year() -> None:
    winter = Timetable(
        sessions=(Session(start=time(9), end=time(17)),), valid_from=(11, 1), valid_to=(2, 28)
    )
    cal = WorkCalendar(SHANGHAI, [winter, REGULAR])
    assert cal.close_of_business(date(2026, 1, 5)) == at(2026, 1, 5, 17)
    assert cal.close_of_business(date(2026, 3, 2)) == at(2026, 3, 2, 17, 30)


# Properties. Instants are local to the hall, microseconds included.
def instants(first: int, last: int) -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(first, 1, 1),
        max_value=datetime(last, 12, 31, 23, 59),
        timezones=st.just(SHANGHAI),
    )


KNOWN = st.datetimes(  # leaves room for 20 working days before the last known year ends
    min_value=datetime(LAST_KNOWN - 2, 1, 1),
    max_value=datetime(LAST_KNOWN, 11, 15),
    timezones=st.just(SHANGHAI),
)
ANY = instants(LAST_KNOWN - 2, LAST_KNOWN + 6)
DAYS = st.integers(min_value=0, max_value=25)
SPAN = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))


@PROPERTY
@given(ANY, DAYS)
def test_a_deadline_is_the_close_of_a_working_day_after_the_start(start: datetime, n: int) -> None:
    due = CAL.add_working_days(start, n).at
    assert CAL.is_working_day(local(due))
    assert due == CAL.close_of_business(local(due))
    assert due > start


@PROPERTY
@given(ANY, DAYS)
def test_deadlines_grow_with_n(start: datetime, n: int) -> None:
    this, following = CAL.add_working_days(start, n).at, CAL.add_working_days(start, n + 1).at
    assert this < following if n >= 1 else this <= following


@PROPERTY
@given(ANY, ANY, DAYS)
def test_deadlines_grow_with_the_start(a: datetime, b: datetime, n: int) -> None:
    a, b = sorted((a, b))
    assert CAL.add_working_days(a, n).at <= CAL.add_working_days(b, n).at


@PROPERTY
@given(ANY, st.integers(min_value=1, max_value=25))
def test_counting_back_gives_n(start: datetime, n: int) -> None:
    due = CAL.add_working_days(start, n).at
    assert CAL.count_working_days(local(start) + timedelta(days=1), local(due)) == n


@PROPERTY
@given(KNOWN, st.integers(min_value=0, max_value=40))
def test_working_days_agree_with_the_national_schedule(start: datetime, length: int) -> None:
    first = local(start)
    days = [first + timedelta(days=i) for i in range(length + 1)]
    expected = sum(1 for d in days if chinese_calendar.is_workday(d))
    assert PLAIN.count_working_days(first, days[-1]) == expected


@PROPERTY
@given(st.sampled_from(sorted(d for d in chinese_calendar.workdays if d.weekday() >= 5)))
def test_swapped_working_weekends_count(day: date) -> None:
    assert PLAIN.is_working_day(day)
    assert PLAIN.count_working_days(day, day) == 1
    assert PLAIN.next_working_day(day - timedelta(days=1)) == day
    assert PLAIN.service_hours(day)


@PROPERTY
@given(KNOWN, st.integers(min_value=0, max_value=20))
def test_known_years_are_not_estimated(start: datetime, n: int) -> None:
    assert not CAL.add_working_days(start, n).estimated


@PROPERTY
@given(ANY, DAYS)
def test_unknown_years_estimate_never_fail(start: datetime, n: int) -> None:
    due = PLAIN.add_working_days(start, n)
    assert due.estimated == (local(due.at).year > LAST_KNOWN)
    if local(start).year > LAST_KNOWN:
        assert local(due.at).weekday() < 5


@PROPERTY
@given(ANY, ANY, ANY)
def test_working_time_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert CAL.working_time(a, c) == CAL.working_time(a, b) + CAL.working_time(b, c)
    assert CAL.working_time(c, a) == -CAL.working_time(a, c)


@PROPERTY
@given(ANY, SPAN)
def test_adding_working_time_lands_in_service_hours(t: datetime, amount: timedelta) -> None:
    landed = CAL.add_working_time(t, amount).at
    assert CAL.working_time(t, landed) == amount
    if amount:
        assert any(s < landed <= e for s, e in CAL.service_hours(local(landed)))
        earlier = landed - timedelta(microseconds=1)
        assert CAL.working_time(t, earlier) < amount


@PROPERTY
@given(ANY, DAYS, st.integers(min_value=0, max_value=20 * 24 * 60), SPAN)
def test_a_suspension_shifts_the_deadline_by_the_working_time_suspended(
    start: datetime, n: int, offset: int, length: timedelta
) -> None:
    deadline = CAL.add_working_days(start, n).at
    suspended = start + timedelta(minutes=offset)
    resumed = suspended + length
    shifted = CAL.add_working_time(deadline, CAL.working_time(suspended, resumed)).at
    # The working time left when the clock stopped is the working time left when it restarts.
    assert CAL.working_time(resumed, shifted) == CAL.working_time(suspended, deadline)
    assert CAL.working_time(start, shifted) - CAL.working_time(suspended, resumed) == (
        CAL.working_time(start, deadline)
    )

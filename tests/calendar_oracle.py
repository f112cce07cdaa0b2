"""Working days by chinesecalendar itself, for checking deadlines without alerts/workdays.py.

The hall of tests/case_builders.py: Asia/Shanghai, sessions 08:30-12:00 and 14:00-17:30. In a
year chinesecalendar does not hold, Monday to Friday (as docs/cards.md says for unknown years).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar

from tests.case_builders import HOURS, SHANGHAI

_YEARS = {d.year for d in chinese_calendar.holidays}


def is_working_day(day: date) -> bool:
    """调休 included: a swapped working weekend counts, a holiday on a weekday does not."""
    if day.year in _YEARS:
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def working_day_after(day: date, n: int) -> date:
    """The `n`th working day after `day` (`day` itself for 0)."""
    while n:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day


def period_end(start: datetime, n: int) -> datetime:
    """A period of `n` working days from `start` (民法典 第二百零一条, docs/cards.md): close of
    business of the `n`th working day after the start's day; for 0, of the start's day if that
    is a working day still open, else of the next working day."""
    local = start.astimezone(SHANGHAI)
    day, close = local.date(), HOURS.sessions[-1].end
    if n == 0 and (not is_working_day(day) or local.time() >= close):
        n = 1
    return datetime.combine(working_day_after(day, n), close, SHANGHAI)


def in_service_hours_of_a_working_day(t: datetime) -> bool:
    """On a working day, within a session (its ends included): where a deadline may fall."""
    local = t.astimezone(SHANGHAI)
    inside = any(s.start <= local.time() <= s.end for s in HOURS.sessions)
    return inside and is_working_day(local.date())

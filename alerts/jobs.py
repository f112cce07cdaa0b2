"""The shell's wall-clock jobs: their `[jobs]` configuration and when each falls due (pure).

The daemon archives each working day's attendance sheet once the day's attendance is final,
the month's report on the first working day of the next month, and nightly writes its
snapshot and prunes old rejects (monitor/jobs.py runs them on APScheduler 3.x, docs/archives.md).
They are not the card checkpoints: those are ticks in the journal, fired in order with the
events (docs/people.md "When the rules run"). Nothing here reads the clock: a job's instants
come from its `DueOn` (a local day to the instant it falls due on that day, if it does), and
`next_due` / `last_due` take the instant to look from. Instants are UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from pydantic import Field, field_validator

from alerts.attendance import AttendanceConfig
from alerts.model import ConfigModel
from alerts.workdays import WorkCalendar

SEARCH_DAYS = 400  # looked ahead or back: past any month's first working day


class JobKind(StrEnum):
    DAILY_SHEET = "daily_sheet"
    MONTHLY_REPORT = "monthly_report"
    SNAPSHOT = "snapshot"
    PRUNE_REJECTS = "prune_rejects"


def _naive(t: time) -> time:
    if t.tzinfo is not None:
        raise ValueError("a local time of the hall, without an offset (e.g. 02:30:00)")
    return t


class DailySheetJob(ConfigModel):
    enabled: bool = Field(
        True, description="Archive each working day's attendance sheet as PDF and CSV."
    )
    after_final_min: int = Field(
        15,
        ge=0,
        le=720,
        description="Minutes after the day's attendance is final (the close of the last "
        "session's check-out window plus attendance.finalize_grace_min; example hall: "
        "18:30 + 2 h = 20:30, so 20:45). Default ours: room for the rules' last checkpoint.",
    )


class MonthlyReportJob(ConfigModel):
    enabled: bool = Field(
        True, description="Archive the month's report (效能考评) as PDF and XLSX."
    )
    at: time = Field(
        time(7, 0),
        description="Local time on the first working day of the next month (调休 Saturdays "
        "count, holidays do not). Default ours: before opening, every day of the month final.",
    )

    _local = field_validator("at")(_naive)


class SnapshotJob(ConfigModel):
    enabled: bool = Field(
        True,
        description="Write the snapshot nightly (docs/journal.md), so a crash replays one "
        "day's tail rather than the whole journal.",
    )
    at: time = Field(
        time(2, 30), description="Local time, every day. Default ours: the hall is closed."
    )

    _local = field_validator("at")(_naive)


class PruneRejectsJob(ConfigModel):
    enabled: bool = Field(
        True,
        description="Prune the rejects older than ingest.reject_keep_days nightly (the "
        "ingest also prunes hourly; this run is the one /healthz reports on).",
    )
    at: time = Field(
        time(2, 45), description="Local time, every day. Default ours: after the snapshot."
    )

    _local = field_validator("at")(_naive)


class JobsConfig(ConfigModel):
    """`[jobs]`: the daemon's scheduled jobs (docs/archives.md); every default is ours."""

    enabled: bool = Field(
        True, description="Run the scheduled jobs at all; false: none runs (CLI still works)."
    )
    archive_dir: str = Field(
        "archive",
        min_length=1,
        description="Folder of the archived sheets and reports, relative to journal.data_dir "
        "(or absolute): daily/2026-11-23.pdf, monthly/2026-11.xlsx.",
    )
    misfire_grace_min: int = Field(
        60,
        ge=1,
        le=1440,
        description="A run that could not start within this of its time (the machine was "
        "asleep, the previous run still busy) is missed and reported, not run late; a daemon "
        "stopped at that time does not run it later.",
    )
    daily_sheet: DailySheetJob = Field(DailySheetJob(), description="The daily attendance sheet.")
    monthly_report: MonthlyReportJob = Field(MonthlyReportJob(), description="The monthly report.")
    snapshot: SnapshotJob = Field(SnapshotJob(), description="The nightly snapshot.")
    prune_rejects: PruneRejectsJob = Field(
        PruneRejectsJob(), description="The nightly reject pruning."
    )


# --- when they fall due ----------------------------------------------------------------------

DueOn = Callable[[date], datetime | None]


def day_final(day: date, cal: WorkCalendar, att: AttendanceConfig) -> datetime | None:
    """When the day's attendance is final whatever the clocks say (docs/attendance.md): the
    close of the last session's check-out window plus the grace; None on an off day."""
    spans = cal.service_hours(day)
    if not spans:
        return None
    _, out = att.windows_for(len(spans) - 1)
    return spans[-1][1] + timedelta(minutes=out.after_min + att.finalize_grace_min)


def first_working_day(year: int, month: int, cal: WorkCalendar) -> date:
    first = date(year, month, 1)
    return first if cal.is_working_day(first) else cal.next_working_day(first)


def _local(day: date, at: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)


def daily_sheet_due(cal: WorkCalendar, att: AttendanceConfig, after_min: int) -> DueOn:
    def due(day: date) -> datetime | None:
        final = day_final(day, cal, att)
        return None if final is None else final + timedelta(minutes=after_min)

    return due


def monthly_report_due(cal: WorkCalendar, at: time) -> DueOn:
    def due(day: date) -> datetime | None:
        if day != first_working_day(day.year, day.month, cal):
            return None
        return _local(day, at, cal.zone)

    return due


def nightly_due(zone: tzinfo, at: time) -> DueOn:
    return lambda day: _local(day, at, zone)


def next_due(
    due: DueOn, zone: tzinfo, after: datetime, *, inclusive: bool = False
) -> datetime | None:
    """The first instant `due` gives after `after` (or at it, `inclusive`); None if none
    within `SEARCH_DAYS`. It looks from the day before: a day's instant may fall after its
    midnight (a late close plus the grace)."""
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(SEARCH_DAYS):
        t = due(day)
        if t is not None and (t > after or (inclusive and t == after)):
            return t
        day += timedelta(days=1)
    return None


def last_due(due: DueOn, zone: tzinfo, now: datetime) -> date | None:
    """The latest local day whose instant is at or before `now`: the one a run at `now` is
    for (a run that starts late still archives its own day)."""
    day = now.astimezone(zone).date() + timedelta(days=1)
    for _ in range(SEARCH_DAYS):
        t = due(day)
        if t is not None and t <= now:
            return day
        day -= timedelta(days=1)
    return None


def month_before(day: date) -> tuple[int, int]:
    """The month a report run on `day` is for."""
    return (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)

"""The shell's wall-clock jobs, on APScheduler 3.x (docs/archives.md).

Four jobs, each on the hall's zone and calendar (`[jobs]`, alerts/jobs.py): the day's
attendance sheet archived as PDF and CSV once the day's attendance is final, the month's
report as PDF and XLSX on the first working day of the next month, the snapshot written and
the old rejects pruned nightly. The card checkpoints are not among them: they are journaled
ticks, fired in the writer thread in order with the events, so a replay gives the same cards
(docs/people.md "When the rules run"); these jobs only read the state and write files.

APScheduler swallows a job's exception unless someone listens: `Jobs` listens for
`EVENT_JOB_ERROR` and `EVENT_JOB_MISSED`, logs them and keeps the job failing in /healthz
(`JobsHealth`, monitor/health.py) until its next run succeeds; /metrics counts the runs.

APScheduler fires on the machine's wall clock; what a run does takes `now` from the daemon's
`Clock` (`Work`), and the triggers compute their instants from the pure `DueOn` of
alerts/jobs.py with the `now` APScheduler passes in: the tests call both at fixed instants.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Protocol, TypeVar

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from alerts.config import HallConfig, work_calendar
from alerts.jobs import (
    DueOn,
    JobKind,
    daily_sheet_due,
    last_due,
    month_before,
    monthly_report_due,
    next_due,
    nightly_due,
)
from alerts.supervision import Supervision
from alerts.workdays import WorkCalendar
from hallkit.clock import Clock
from monitor.health import JobsHealth, Sample
from monitor.ingest import snapshot
from monitor.ingest.journal import Journal
from monitor.reports import archives, daysheet, downloads, monthly
from monitor.reports.names import HallNames
from monitor.reports.pdf import html_to_pdf
from monitor.runner import Runner
from monitor.web.console import attendance_html, day_sheet_parts, month_report

logger = logging.getLogger(__name__)

T = TypeVar("T")
SNAPSHOT_WAIT_S = 300.0  # the writer writes it at its next tick; a wedged writer fails the job


class Reader(Protocol):
    def __call__(self, fn: Callable[[Supervision], T], /) -> T: ...


class DueTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3.x ships no types
    """An APScheduler trigger over a `DueOn`: the first instant at or after `now` when there
    is no previous run, else the first after the previous run."""

    __slots__ = ("due", "name", "zone")

    def __init__(self, name: str, due: DueOn, zone: tzinfo) -> None:
        self.name, self.due, self.zone = name, due, zone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return next_due(self.due, self.zone, now, inclusive=True)
        return next_due(self.due, self.zone, previous_fire_time)

    def __str__(self) -> str:
        return self.name


class Plan:
    """The jobs' instants on the current configuration: the calendar is rebuilt when a
    reload brings a new one (a trigger follows it from its next computed instant)."""

    def __init__(self, config: Callable[[], HallConfig]) -> None:
        self._config = config
        self._built: tuple[HallConfig, WorkCalendar] | None = None

    def calendar(self) -> tuple[HallConfig, WorkCalendar]:
        cfg = self._config()
        if self._built is None or self._built[0] is not cfg:
            self._built = (cfg, work_calendar(cfg))
        return self._built

    def due(self, kind: JobKind) -> DueOn:
        def on(day: date) -> datetime | None:
            cfg, cal = self.calendar()
            jobs = cfg.jobs
            if kind is JobKind.DAILY_SHEET:
                return daily_sheet_due(cal, cfg.attendance, jobs.daily_sheet.after_final_min)(day)
            if kind is JobKind.MONTHLY_REPORT:
                return monthly_report_due(cal, jobs.monthly_report.at)(day)
            at = jobs.snapshot.at if kind is JobKind.SNAPSHOT else jobs.prune_rejects.at
            return nightly_due(cal.zone, at)(day)

        return on


class Work:
    """What each job does at `now`: the scheduler passes the daemon clock's, tests their own."""

    def __init__(
        self,
        config: Callable[[], HallConfig],
        read: Reader,
        journal: Journal,
        snapshot_soon: Callable[[HallConfig], Future[snapshot.Header | None]] | None = None,
    ) -> None:
        self.config, self.read, self.journal = config, read, journal
        self.plan = Plan(config)
        self._snapshot_soon = snapshot_soon
        self.pending: Future[snapshot.Header | None] | None = None  # cancelled at stop

    def run(self, kind: JobKind, now: datetime) -> list[str]:
        """The job `kind` at `now`; what it wrote (archive names) or did."""
        if kind is JobKind.DAILY_SHEET:
            return self.daily_sheet(now)
        if kind is JobKind.MONTHLY_REPORT:
            return self.monthly_report(now)
        if kind is JobKind.SNAPSHOT:
            return self.snapshot()
        return self.prune_rejects(now)

    def daily_sheet(self, now: datetime) -> list[str]:
        """The sheet of the last day whose run is due at `now`: CSV first, then the PDF (a
        missing Chromium fails the job after the CSV is kept)."""
        cfg = self.config()
        day = last_due(self.plan.due(JobKind.DAILY_SHEET), cfg.hall.zone, now)
        if day is None:
            return []

        def parts(sup: Supervision) -> tuple[str, str]:
            sheets, _, _ = day_sheet_parts(sup, cfg, day, now)
            csv = daysheet.render_csv(sheets, day, cfg.hall.name, names=HallNames.of(cfg))
            return attendance_html(sup, cfg, day, now), csv

        page, csv = self.read(parts)
        root = archives.folder(cfg)
        written = [archives.daily_name(day, "csv")]
        archives.write(root, written[0], csv.encode())
        written.append(archives.daily_name(day, "pdf"))
        archives.write(root, written[1], html_to_pdf(page))
        logger.info("archived the attendance sheet of %s: %s", day, ", ".join(written))
        return written

    def monthly_report(self, now: datetime) -> list[str]:
        """The report of the month before the first working day due at `now`: XLSX, then PDF."""
        cfg = self.config()
        day = last_due(self.plan.due(JobKind.MONTHLY_REPORT), cfg.hall.zone, now)
        if day is None:
            return []
        month = month_before(day)
        r = self.read(lambda sup: month_report(sup, cfg, month, now))
        charts = downloads.charts_or_none(r)  # drawn once, outside the state lock
        root = archives.folder(cfg)
        written = [archives.monthly_name(month, "xlsx"), archives.monthly_name(month, "pdf")]
        archives.write(root, written[0], monthly.render_month_xlsx(r, charts))
        archives.write(root, written[1], html_to_pdf(monthly.render_month_html(r, charts)))
        logger.info("archived the report of %d-%02d: %s", *month, ", ".join(written))
        return written

    def cancel(self) -> None:
        """At the daemon's stop: a snapshot still waited for will not come (the stop writes
        its own)."""
        if self.pending is not None:
            self.pending.cancel()

    def snapshot(self) -> list[str]:
        """Asks the writer thread for a snapshot at its next tick and waits for it."""
        if self._snapshot_soon is None:
            return []
        self.pending = asked = self._snapshot_soon(self.config())
        try:
            header = asked.result(timeout=SNAPSHOT_WAIT_S)  # CancelledError at the stop
        except TimeoutError as exc:
            raise TimeoutError(
                f"the ingest writer wrote no snapshot in {SNAPSHOT_WAIT_S:.0f} s"
            ) from exc
        return [] if header is None else [f"snapshot at event {header.last_seq}"]

    def prune_rejects(self, now: datetime) -> list[str]:
        n = self.journal.prune_rejects(now)
        if n:
            keep = self.journal.reject_bounds.keep_days
            logger.info("pruned %d rejects older than %d days", n, keep)
        return [f"{n} rejects pruned"]


@dataclass(slots=True)
class _Record:
    ok: int = 0
    errors: int = 0
    missed: int = 0
    last_ok: datetime | None = None
    problem: str | None = None  # until the next successful run


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled job: its id (a `JobKind` value, or a test's), trigger and body."""

    id: str
    trigger: Any  # an APScheduler 3.x trigger
    run: Callable[[datetime], object] = field(repr=False)


class Jobs:
    """The BackgroundScheduler, its listener and what /healthz and /metrics say of the jobs."""

    def __init__(
        self,
        jobs: Sequence[Job],
        zone: tzinfo,
        now: Callable[[], datetime],
        grace_s: int,
        on_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self._now, self._lock, self._on_stop = now, threading.Lock(), on_stop
        self._records = {j.id: _Record() for j in jobs}
        self._zone = zone
        self.scheduler = BackgroundScheduler(
            timezone=zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace_s},
        )
        self.scheduler.add_listener(
            self._heard, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        for j in jobs:
            self.scheduler.add_job(self._body(j), j.trigger, id=j.id, name=j.id)

    def _body(self, job: Job) -> Callable[[], object]:
        return lambda: job.run(self._now())

    def start(self) -> None:
        if self._records:
            self.scheduler.start()
            for j in self.scheduler.get_jobs():
                logger.info("scheduled job %s: next at %s", j.id, j.next_run_time)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # a run still busy finishes on its own
        self._on_stop()

    def _heard(self, event: JobExecutionEvent) -> None:
        """On APScheduler's threads: a run's end, its failure or its miss."""
        job = event.job_id
        when = event.scheduled_run_time.astimezone(self._zone).strftime("%Y-%m-%d %H:%M")
        problem = None
        if event.code == EVENT_JOB_MISSED:
            problem = f"scheduled job {job} missed its run at {when}"
        elif event.code == EVENT_JOB_ERROR:
            why = f"{type(event.exception).__name__}: {event.exception}"[:300]
            problem = f"scheduled job {job} failed at {when}: {why}"
        with self._lock:
            rec = self._records.setdefault(job, _Record())
            rec.problem = problem  # until the next successful run
            if problem is None:
                rec.ok, rec.last_ok = rec.ok + 1, self._now()
            elif event.code == EVENT_JOB_MISSED:
                rec.missed += 1
            else:
                rec.errors += 1
        if problem is None:
            logger.debug("job %s (%s) done: %s", job, when, event.retval)
        else:
            logger.error("%s", problem)

    def health(self) -> JobsHealth:
        with self._lock:
            records = sorted(self._records.items())
            problems = [r.problem for _, r in records if r.problem is not None]
            return JobsHealth(problems=problems, samples=_samples(records))


_RUNS = ("hallwatch_job_runs_total", "counter", "Scheduled job runs, by result.")
_FAILING = ("hallwatch_job_failing", "gauge", "1 while the job's last run failed or was missed.")
_LAST_OK = (
    "hallwatch_job_last_success_timestamp_seconds",
    "gauge",
    "When the job last succeeded (Unix time; 0: not since the daemon started).",
)


def _samples(records: Sequence[tuple[str, _Record]]) -> list[Sample]:
    """Each family's samples together, as /metrics renders them."""
    out: list[Sample] = []
    for job, r in records:
        for result, n in (("ok", r.ok), ("error", r.errors), ("missed", r.missed)):
            out.append((*_RUNS, {"job": job, "result": result}, n))
    out += [(*_FAILING, {"job": job}, 1 if r.problem else 0) for job, r in records]
    out += [
        (*_LAST_OK, {"job": job}, r.last_ok.timestamp() if r.last_ok else 0.0) for job, r in records
    ]
    return out


def production(config: Callable[[], HallConfig], work: Work) -> list[Job]:
    """The configured jobs (`[jobs]`), each on its `DueTrigger`."""
    cfg = config()
    if not cfg.jobs.enabled:
        return []
    on = {
        JobKind.DAILY_SHEET: cfg.jobs.daily_sheet.enabled,
        JobKind.MONTHLY_REPORT: cfg.jobs.monthly_report.enabled,
        JobKind.SNAPSHOT: cfg.jobs.snapshot.enabled,
        JobKind.PRUNE_REJECTS: cfg.jobs.prune_rejects.enabled,
    }
    zone = cfg.hall.zone
    return [
        Job(kind.value, DueTrigger(kind.value, work.plan.due(kind), zone), _runner(work, kind))
        for kind, enabled in on.items()
        if enabled
    ]


def _runner(work: Work, kind: JobKind) -> Callable[[datetime], object]:
    return lambda now: work.run(kind, now)


def start(
    config: Callable[[], HallConfig],
    runner: Runner,
    journal: Journal,
    clock: Clock,
    stop: threading.Event,
) -> Jobs:
    """The daemon's jobs, started; they stop when `stop` is set (the daemon's writer stop)."""
    work = Work(config, runner.read, journal, lambda cfg: runner.snapshot_soon(journal, cfg))
    cfg, grace = config(), config().jobs.misfire_grace_min * 60
    jobs = Jobs(production(config, work), cfg.hall.zone, clock.now, grace, work.cancel)
    jobs.start()
    threading.Thread(target=_stop_when, args=(stop, jobs), name="jobs-stop", daemon=True).start()
    return jobs


def _stop_when(stop: threading.Event, jobs: Jobs) -> None:
    stop.wait()
    jobs.stop()

"""The shell's scheduled jobs (monitor/jobs.py, alerts/jobs.py) on fixed instants: when each
falls due on the hall's calendar (a 调休 Saturday, the National Day holidays, a local holiday),
what each writes when run at an injected `now`, what /healthz and /metrics say of a failed or
missed run, and the real scheduler running the configured jobs on a fake clock."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, Future
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.events import JobExecutionEvent as Event
from apscheduler.triggers.interval import IntervalTrigger

from alerts.config import CalendarConfig, CalendarDay, HallConfig, work_calendar
from alerts.jobs import JobKind, day_final, first_working_day, last_due, month_before
from alerts.supervision import Supervision
from hallkit.clock import FakeClock
from monitor import health, jobs
from monitor.ingest import snapshot
from monitor.ingest.ingestor import Classifier, Inbound, IngestHealth, Ingestor, Rules
from monitor.ingest.journal import Journal
from monitor.outputs.cardstore import CardStore, OutboxWriter
from monitor.outputs.localstore import LocalStore
from monitor.outputs.publish import Presenter
from monitor.reports import archives
from monitor.reports.pdf import PdfError, find_browser
from monitor.runner import Runner
from monitor.web.display import DisplayHub
from tests.hall import HALL, example, punch, topic
from tests.running import wait_until
from tests.test_replay_cards import _NoAck

CFG = example()
SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def trigger(kind: JobKind, cfg: HallConfig = CFG) -> jobs.DueTrigger:
    return jobs.DueTrigger(kind.value, jobs.Plan(lambda: cfg).due(kind), cfg.hall.zone)


# --- when they fall due ----------------------------------------------------------------------


def test_the_day_is_final_at_the_last_windows_close_plus_the_grace() -> None:
    cal = work_calendar(CFG)
    # 17:30 close, its check-out window open 60 min, finalize_grace_min 120
    assert day_final(date(2026, 11, 23), cal, CFG.attendance) == local(2026, 11, 23, 20, 30)
    assert day_final(date(2026, 10, 10), cal, CFG.attendance) == local(2026, 10, 10, 20, 30)
    assert day_final(date(2026, 11, 22), cal, CFG.attendance) is None  # a Sunday
    assert day_final(date(2026, 10, 1), cal, CFG.attendance) is None  # 国庆节


@pytest.mark.parametrize(
    ("kind", "previous", "now", "want"),
    [
        # first computation (no previous run): the next instant at or after now
        (JobKind.DAILY_SHEET, None, local(2026, 11, 23, 10), local(2026, 11, 23, 20, 45)),
        (JobKind.DAILY_SHEET, None, local(2026, 11, 23, 20, 45), local(2026, 11, 23, 20, 45)),
        (JobKind.DAILY_SHEET, None, local(2026, 11, 21, 12), local(2026, 11, 23, 20, 45)),
        # after a run: the next working day's
        (JobKind.DAILY_SHEET, local(2026, 11, 27, 20, 45), None, local(2026, 11, 30, 20, 45)),
        (JobKind.DAILY_SHEET, local(2026, 10, 9, 20, 45), None, local(2026, 10, 10, 20, 45)),
        (JobKind.DAILY_SHEET, local(2026, 9, 30, 21, 15), None, local(2026, 10, 8, 20, 45)),
        # the summer timetable (夏季作息, to 09-30) closes at 18:00: its day is final later
        (JobKind.DAILY_SHEET, local(2026, 9, 29, 21, 15), None, local(2026, 9, 30, 21, 15)),
        (JobKind.DAILY_SHEET, local(2026, 2, 27, 20, 45), None, local(2026, 2, 28, 20, 45)),
        # the month's report: the first working day of the next month
        (JobKind.MONTHLY_REPORT, None, local(2026, 9, 15), local(2026, 10, 8, 7)),
        (JobKind.MONTHLY_REPORT, local(2026, 10, 8, 7), None, local(2026, 11, 2, 7)),
        (JobKind.MONTHLY_REPORT, local(2026, 11, 2, 7), None, local(2026, 12, 1, 7)),
        (JobKind.MONTHLY_REPORT, None, local(2026, 12, 1, 7, 1), local(2027, 1, 1, 7)),
        # nightly, holidays and weekends too
        (JobKind.SNAPSHOT, None, local(2026, 11, 23, 3), local(2026, 11, 24, 2, 30)),
        (JobKind.SNAPSHOT, local(2026, 10, 1, 2, 30), None, local(2026, 10, 2, 2, 30)),
        (JobKind.PRUNE_REJECTS, None, local(2026, 11, 22, 2, 40), local(2026, 11, 22, 2, 45)),
    ],
)
def test_the_triggers_fire_on_the_halls_calendar(
    kind: JobKind, previous: datetime | None, now: datetime | None, want: datetime
) -> None:
    """2026-10-10 is a 调休 Saturday (a working day), 10-01 to 10-07 the National Day
    holidays, 2026-02-28 a swapped Saturday. 2027 is in no library year: its 1 January (元旦,
    a Friday) counts as a working day until the admin enters the year (alerts/workdays.py)."""
    at = now or previous
    assert at is not None
    got = trigger(kind).get_next_fire_time(previous, at)
    assert got == want
    assert got is not None and got.tzinfo is not None


def test_a_local_holiday_in_the_configuration_moves_the_jobs() -> None:
    county = CalendarDay(date=date(2026, 11, 23), working=False, name="县庆")
    cfg = CFG.model_copy(update={"calendar": CalendarConfig(days=[county])})
    daily = trigger(JobKind.DAILY_SHEET, cfg)
    assert daily.get_next_fire_time(None, local(2026, 11, 23, 9)) == local(2026, 11, 24, 20, 45)
    worked = CalendarDay(date=date(2026, 11, 1), working=True, name="特别服务日")
    cfg = CFG.model_copy(update={"calendar": CalendarConfig(days=[worked])})
    assert first_working_day(2026, 11, work_calendar(cfg)) == date(2026, 11, 1)
    monthly = trigger(JobKind.MONTHLY_REPORT, cfg)
    assert monthly.get_next_fire_time(None, local(2026, 10, 20)) == local(2026, 11, 1, 7)


@pytest.mark.parametrize(
    ("now", "want"),
    [
        (local(2026, 10, 10, 21), date(2026, 10, 10)),  # the 调休 Saturday's own
        (local(2026, 10, 10, 20, 44), date(2026, 10, 9)),  # not yet: Friday's
        (local(2026, 10, 5, 12), date(2026, 9, 30)),  # during the holidays: the last worked
        (local(2026, 11, 24, 0, 30), date(2026, 11, 23)),  # a run that starts late
    ],
)
def test_a_daily_run_archives_the_last_day_due(now: datetime, want: date) -> None:
    due = jobs.Plan(lambda: CFG).due(JobKind.DAILY_SHEET)
    assert last_due(due, SH, now) == want


def test_a_report_run_is_for_the_month_before() -> None:
    assert month_before(date(2026, 10, 8)) == (2026, 9)
    assert month_before(date(2027, 1, 4)) == (2026, 12)


def test_a_time_with_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="without an offset"):
        CFG.jobs.snapshot.model_validate({"at": time(2, 30, tzinfo=UTC)})


# --- what they write, at an injected now ------------------------------------------------------


class Hall:
    """The daemon's writer side: journal, ingest and runner on a fake clock."""

    def __init__(self, data: Path, at: datetime) -> None:
        self.cfg = CFG.model_copy(
            update={"journal": CFG.journal.model_copy(update={"data_dir": str(data)})}
        )
        self.clock = FakeClock(at)
        self.journal = Journal.open(data, HALL, "normal")
        health_ = IngestHealth()
        sink = LocalStore.open(data)
        store = CardStore(
            HALL, sink, OutboxWriter(self.journal, self.clock, health_, threading.Event())
        )
        display = DisplayHub(CFG.hall.zone, now=self.clock.now)
        presenter = Presenter(CFG, lambda t, p, r: None, display, sink.write)
        sup = Supervision(self.cfg)
        self.runner = Runner(sup, CFG.hall.zone, store, presenter, None, self.clock, health_)
        self.ingestor = Ingestor(
            self.journal, Classifier(Rules.of(CFG), {}), _NoAck(), self.runner.apply, self.now
        )
        self.n = 0

    def now(self) -> datetime:
        return self.clock.now()

    def send(self, t: str, payload: bytes, at: datetime) -> None:
        self.ingestor.process([Inbound(t, payload, at, self.n)])
        self.n += 1

    def work(self) -> jobs.Work:
        return jobs.Work(
            lambda: self.cfg,
            self.runner.read,
            self.journal,
            lambda cfg: self.runner.snapshot_soon(self.journal, cfg),
        )


@pytest.fixture
def hall(tmp_path: Path) -> Hall:
    h = Hall(tmp_path / "data", local(2026, 11, 23, 8, 25))
    clock = "hall/demo-county/clock/CLK-EAST/punch"
    h.send(clock, punch("S001", "2026-11-23T08:25:00+08:00"), local(2026, 11, 23, 8, 25))
    h.send(clock, punch("S001", "2026-11-23T12:01:00+08:00"), local(2026, 11, 23, 12, 1))
    h.send(clock, punch("S001", "2026-11-23T13:55:00+08:00"), local(2026, 11, 23, 13, 55))
    h.send(clock, punch("S001", "2026-11-23T17:31:00+08:00"), local(2026, 11, 23, 17, 31))
    h.clock.at = local(2026, 11, 23, 20, 45)
    h.runner.tick(final=True)
    return h


needs_chromium = pytest.mark.skipif(find_browser() is None, reason="no Chromium to print with")


@needs_chromium
def test_the_daily_job_archives_the_days_sheet_as_csv_and_pdf(hall: Hall) -> None:
    written = hall.work().run(JobKind.DAILY_SHEET, local(2026, 11, 23, 20, 45))
    assert written == ["daily/2026-11-23.csv", "daily/2026-11-23.pdf"]
    root = archives.folder(hall.cfg)
    assert root == Path(hall.cfg.journal.data_dir) / "archive"
    csv = (root / "daily/2026-11-23.csv").read_text(encoding="utf-8-sig")
    rows = [r for r in csv.splitlines() if r.startswith("2026-11-23,S001,")]
    assert len(rows) == 4 and all("王伟" in r for r in rows)
    assert (root / "daily/2026-11-23.pdf").read_bytes()[:5] == b"%PDF-"
    listed = [e.name for e in archives.listing(root)]
    assert listed == ["daily/2026-11-23.pdf", "daily/2026-11-23.csv"]
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_without_chromium_the_daily_job_fails_after_keeping_the_csv(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMIUM", str(Path(hall.cfg.journal.data_dir) / "no-such-browser"))
    with pytest.raises(PdfError):
        hall.work().run(JobKind.DAILY_SHEET, local(2026, 11, 24, 8))
    root = archives.folder(hall.cfg)
    assert [e.name for e in archives.listing(root)] == ["daily/2026-11-23.csv"]


@needs_chromium
def test_the_monthly_job_archives_the_month_before_as_xlsx_and_pdf(hall: Hall) -> None:
    written = hall.work().run(JobKind.MONTHLY_REPORT, local(2026, 12, 1, 7, 2))
    assert written == ["monthly/2026-11.xlsx", "monthly/2026-11.pdf"]
    root = archives.folder(hall.cfg)
    book = openpyxl.load_workbook(root / "monthly/2026-11.xlsx")
    assert book.sheetnames
    assert (root / "monthly/2026-11.pdf").read_bytes()[:5] == b"%PDF-"
    kind, body = archives.read(root, "monthly/2026-11.xlsx") or ("", b"")
    assert kind == archives.TYPES["xlsx"] and body[:2] == b"PK"
    assert archives.read(root, "../journal.sqlite3") is None
    assert archives.read(root, "monthly/2026-10.pdf") is None


def test_the_snapshot_job_is_written_by_the_writer_at_its_next_tick(hall: Hall) -> None:
    asked, out = threading.Event(), []
    work = hall.work()
    soon = work._snapshot_soon
    assert soon is not None

    def ask(cfg: HallConfig) -> Future[snapshot.Header | None]:
        f = soon(cfg)
        asked.set()
        return f

    work._snapshot_soon = ask
    t = threading.Thread(target=lambda: out.append(work.run(JobKind.SNAPSHOT, hall.now())))
    t.start()
    assert asked.wait(10)
    path = snapshot.path_in(hall.cfg.journal.data_dir)
    assert not path.exists()  # the job's thread does not touch the state
    hall.runner.tick()
    t.join(10)
    assert out == [["snapshot at event 4"]]
    loaded = snapshot.load(path, hall.journal, hall.cfg)
    assert loaded is not None and loaded.header.last_seq == 4


def test_a_snapshot_asked_for_at_the_stop_is_cancelled_not_waited_for(hall: Hall) -> None:
    work = hall.work()
    result: list[object] = []

    def run() -> None:
        try:
            work.snapshot()
        except CancelledError as exc:
            result.append(exc)

    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: work.pending is not None, 10, "the snapshot asked for")
    work.cancel()
    t.join(10)
    assert len(result) == 1
    hall.runner.tick()  # the writer skips the cancelled request
    assert not snapshot.path_in(hall.cfg.journal.data_dir).exists()


def test_the_prune_job_deletes_the_rejects_past_their_keep_days(hall: Hall) -> None:
    hall.send(topic("clock", "CLK-EAST", "punch"), b"{not json", local(2026, 10, 1))
    hall.send(topic("clock", "CLK-EAST", "punch"), b"{not json", local(2026, 11, 23, 9))
    work = hall.work()
    assert work.run(JobKind.PRUNE_REJECTS, local(2026, 11, 24, 2, 45)) == ["1 rejects pruned"]
    assert len(hall.journal.rejects()) == 1
    assert hall.journal.counters["rejects_pruned"] == 1


# --- what /healthz and /metrics say ------------------------------------------------------------


def _jobs(*ids: str) -> jobs.Jobs:
    clock = FakeClock(local(2026, 11, 23, 20, 46))
    return jobs.Jobs([jobs.Job(i, IntervalTrigger(days=1), print) for i in ids], SH, clock.now, 60)


def _components(j: jobs.Jobs) -> health.Components:
    return health.Components(
        hall=HALL,
        version="t",
        connected=True,
        connects=1,
        fatal=None,
        session_problems=(),
        link_samples=(),
        ingest=IngestHealth(),
        queue=0,
        counters={},
        reloads={},
        jobs=j.health(),
    )


def test_a_failed_or_missed_run_fails_healthz_until_the_job_next_succeeds() -> None:
    j = _jobs("daily_sheet", "snapshot")
    at = local(2026, 11, 23, 20, 45)
    assert health.healthz(_components(j))[0] == 200
    j._heard(Event(EVENT_JOB_ERROR, "daily_sheet", "default", at, exception=PdfError("no")))
    j._heard(Event(EVENT_JOB_MISSED, "snapshot", "default", at))
    status, doc = health.healthz(_components(j))
    assert status == 503
    assert doc["problems"] == [
        "scheduled job daily_sheet failed at 2026-11-23 20:45: PdfError: no",
        "scheduled job snapshot missed its run at 2026-11-23 20:45",
    ]
    j._heard(Event(EVENT_JOB_EXECUTED, "daily_sheet", "default", at + timedelta(days=1)))
    status, doc = health.healthz(_components(j))
    assert status == 503 and len(doc["problems"]) == 1
    got = {(s[0], tuple(sorted(s[3].items()))): s[4] for s in health.samples(_components(j))}
    assert got[("hallwatch_job_runs_total", (("job", "daily_sheet"), ("result", "ok")))] == 1
    assert got[("hallwatch_job_runs_total", (("job", "daily_sheet"), ("result", "error")))] == 1
    assert got[("hallwatch_job_runs_total", (("job", "snapshot"), ("result", "missed")))] == 1
    assert got[("hallwatch_job_failing", (("job", "daily_sheet"),))] == 0
    assert got[("hallwatch_job_failing", (("job", "snapshot"),))] == 1
    last_ok = got[("hallwatch_job_last_success_timestamp_seconds", (("job", "daily_sheet"),))]
    assert last_ok == local(2026, 11, 23, 20, 46).timestamp()


def test_the_configured_jobs_follow_the_configuration(hall: Hall) -> None:
    work = hall.work()
    assert [j.id for j in jobs.production(lambda: CFG, work)] == [k.value for k in JobKind]
    off = CFG.jobs.model_copy(
        update={"snapshot": CFG.jobs.snapshot.model_copy(update={"enabled": False})}
    )
    cfg = CFG.model_copy(update={"jobs": off})
    assert JobKind.SNAPSHOT.value not in [j.id for j in jobs.production(lambda: cfg, work)]
    none = CFG.model_copy(update={"jobs": CFG.jobs.model_copy(update={"enabled": False})})
    assert jobs.production(lambda: none, work) == []


# --- the real scheduler, bounded polling ------------------------------------------------------


@needs_chromium
def test_the_real_scheduler_runs_the_configured_job_on_the_fake_clock(hall: Hall) -> None:
    """APScheduler runs the production daily job now; the job's `now` is the fake clock's
    (a Monday evening of 2026), so it archives that day."""
    work = hall.work()
    j = jobs.Jobs(jobs.production(lambda: hall.cfg, work), SH, hall.now, 3600)
    j.start()
    try:
        j.scheduler.modify_job(JobKind.DAILY_SHEET.value, next_run_time=datetime.now(UTC))
        done = lambda: "daily_sheet" in _ok(j)  # noqa: E731
        wait_until(done, 120, "the daily job's run")
    finally:
        j.stop()
    root = archives.folder(hall.cfg)
    assert {e.name for e in archives.listing(root)} == {
        "daily/2026-11-23.csv",
        "daily/2026-11-23.pdf",
    }
    assert health.healthz(_components(j))[0] == 200


def _ok(j: jobs.Jobs) -> set[str]:
    return {
        s[3]["job"]
        for s in j.health().samples
        if s[0] == "hallwatch_job_runs_total" and s[3]["result"] == "ok" and s[4] > 0
    }


def test_a_failing_job_on_a_short_interval_reaches_healthz() -> None:
    def boom(now: datetime) -> None:
        raise OSError(28, "No space left on device")

    j = jobs.Jobs([jobs.Job("boom", IntervalTrigger(seconds=0.05), boom)], SH, _now, 60)
    j.start()
    try:
        wait_until(lambda: bool(j.health().problems), 10, "the failure in the health")
    finally:
        j.stop()
    assert not j.scheduler.running
    status, doc = health.healthz(_components(j))
    assert status == 503
    assert doc["problems"][0].startswith("scheduled job boom failed at ")
    assert doc["problems"][0].endswith("OSError: [Errno 28] No space left on device")


def _now() -> datetime:
    return local(2026, 11, 23, 20, 45)

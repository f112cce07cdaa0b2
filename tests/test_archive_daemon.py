"""The scheduled jobs in the running daemon (real Mosquitto, in-process daemon): a failing job
on a short interval reaches /healthz and /metrics, and the archives are listed and served by
`GET /api/archives` to the roles that read reports or configure the hall."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from hallkit.config import load_config
from monitor.daemon import Daemon
from monitor.reports import archives
from tests.brokers import Mosquitto
from tests.running import wait_until, write_config
from tests.test_console_api import call, login


@pytest.fixture
def daemon(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Daemon]:
    path = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), 0, jobs=True)
    d = Daemon(load_config(path), path)
    stop = threading.Event()
    thread = threading.Thread(target=d.run, args=(stop,), daemon=True)
    thread.start()
    assert d.started.wait(30), "daemon did not start"
    wait_until(d.link.connected.is_set, 10, "the daemon's broker connection")
    try:
        yield d
    finally:
        stop.set()
        thread.join(30)
    wait_until(lambda: not d.jobs.scheduler.running, 10, "the jobs to stop with the daemon")


def _get(d: Daemon, path: str) -> tuple[int, str]:
    assert d.where is not None
    host, port = d.where.web
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_configured_jobs_are_scheduled_on_the_halls_zone(daemon: Daemon) -> None:
    scheduled = {j.id: j.next_run_time for j in daemon.jobs.scheduler.get_jobs()}
    assert set(scheduled) == {"daily_sheet", "monthly_report", "snapshot", "prune_rejects"}
    assert all(t is not None for t in scheduled.values())
    assert _get(daemon, "/healthz")[0] == 200


def test_a_failing_job_shows_in_healthz_and_metrics(daemon: Daemon) -> None:
    def boom() -> None:
        raise OSError(28, "No space left on device")

    daemon.jobs.scheduler.add_job(boom, IntervalTrigger(seconds=0.1), id="boom", name="boom")
    wait_until(lambda: "scheduled job boom" in _get(daemon, "/healthz")[1], 10, "the failure")
    status, body = _get(daemon, "/healthz")
    assert status == 503
    assert "scheduled job boom failed at " in body and "No space left on device" in body
    _, metrics = _get(daemon, "/metrics")
    assert 'hallwatch_job_failing{job="boom"} 1' in metrics
    assert 'hallwatch_job_runs_total{job="boom",result="error"}' in metrics
    assert 'hallwatch_job_failing{job="daily_sheet"} 0' in metrics


def test_the_archives_are_listed_and_served_by_name(daemon: Daemon) -> None:
    assert daemon.where is not None
    where, root = daemon.where.web, archives.folder(daemon.config)
    archives.write(root, archives.daily_name(date(2026, 11, 23), "csv"), "日期,工号\r\n".encode())
    archives.write(root, archives.monthly_name((2026, 11), "pdf"), b"%PDF-1.4 test")
    (root / "daily" / "notes.txt").write_text("not an archive")
    for role in ("leader", "supervisor", "admin"):
        cookie, _ = login(where, role)
        status, _, doc = call(where, "GET", "/api/archives", cookie=cookie)
        assert status == 200, (role, doc)
        assert [a["name"] for a in doc["archives"]] == [
            "daily/2026-11-23.csv",
            "monthly/2026-11.pdf",
        ]
    status, headers, body = call(
        where, "GET", "/api/archives?name=monthly/2026-11.pdf", cookie=cookie
    )
    assert status == 200 and body == b"%PDF-1.4 test"
    assert headers["content-type"] == "application/pdf"
    assert "hallwatch-demo-county-monthly-2026-11.pdf" in headers["content-disposition"]
    status, headers, body = call(
        where, "GET", "/api/archives?name=daily/2026-11-23.csv", cookie=cookie
    )
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert body.decode() == "日期,工号\r\n"
    assert call(where, "GET", "/api/archives?name=daily/2026-11-24.csv", cookie=cookie)[0] == 404
    assert call(where, "GET", "/api/archives?name=../journal.sqlite3", cookie=cookie)[0] == 400
    assert call(where, "GET", "/api/archives?name=daily/notes.txt", cookie=cookie)[0] == 400
    display, _ = login(where, "display")
    assert call(where, "GET", "/api/archives", cookie=display)[0] == 403
    assert call(where, "GET", "/api/archives")[0] == 401

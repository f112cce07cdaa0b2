"""The console's downloads (monitor/web/api.py, monitor/reports/downloads.py): the month's
report as XLSX and PDF and the day's sheet as PDF, for the roles that may read them, through
the running daemon's web server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from monitor.reports.downloads import XLSX_TYPE
from monitor.reports.pdf import find_browser
from tests.brokers import Mosquitto
from tests.test_console_api import NOW, Clock, call, login, running, submit_case

NEEDS_CHROMIUM = pytest.mark.skipif(find_browser() is None, reason="no Chromium to print with")


@pytest.fixture(scope="module")
def web(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_session: Mosquitto
) -> Iterator[tuple[str, int]]:
    with running(tmp_path_factory.mktemp("downloads"), mosquitto_session, Clock(NOW)) as daemon:
        assert daemon.where is not None
        submit_case(daemon, "C-LATE", "2026-11-16T09:00:00+08:00", 2)  # a red card in November
        yield daemon.where.web


def test_the_month_downloads_as_a_workbook_that_reads_back(web: tuple[str, int]) -> None:
    import openpyxl

    cookie, _ = login(web, "leader")
    status, headers, body = call(web, "GET", "/console/report.xlsx?month=2026-11", cookie=cookie)
    assert status == 200 and headers["content-type"] == XLSX_TYPE
    disposition = headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("''")[1]) == "hallwatch-demo-county-2026-11.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(body))
    windows = book["窗口"]
    assert windows["A2"].value == "W01" and isinstance(windows["D2"].value, int)


def test_downloads_need_a_login_and_the_right_role(web: tuple[str, int]) -> None:
    for path in ("/console/report.xlsx", "/console/report.pdf", "/console/attendance/sheet.pdf"):
        status, headers, _ = call(web, "GET", path)
        assert status == 303 and headers["location"].startswith("/console/login")
        cookie, _ = login(web, "display")
        assert call(web, "GET", path, cookie=cookie)[0] == 403


@NEEDS_CHROMIUM
def test_the_month_and_the_day_download_as_pdf(web: tuple[str, int]) -> None:
    cookie, _ = login(web, "leader")
    status, headers, body = call(web, "GET", "/console/report.pdf?month=2026-11", cookie=cookie)
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert body[:5] == b"%PDF-"
    status, headers, body = call(
        web, "GET", "/console/attendance/sheet.pdf?date=2026-11-23", cookie=cookie
    )
    assert status == 200 and body[:5] == b"%PDF-"
    assert "考勤日报-2026-11-23.pdf" in unquote(headers["content-disposition"])

"""The files a leader downloads: the month's report as PDF or XLSX, the day's sheet as PDF.

Shared by the console's download links and `hallwatch report`/`attendance`. A missing CJK font
leaves the charts out (the tables still tell it all); a missing Chromium is `PdfError`.
"""

from __future__ import annotations

import logging

from monitor.reports import monthly
from monitor.reports.charts import Chart, ChartError
from monitor.reports.pdf import html_to_pdf

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"


def charts_or_none(r: monthly.MonthReport) -> list[Chart]:
    try:
        return monthly.month_charts(r)
    except ChartError as exc:
        logger.warning("report charts left out: %s", exc)
        return []


def month_pdf(r: monthly.MonthReport) -> bytes:
    return html_to_pdf(monthly.render_month_html(r, charts_or_none(r)))


def month_xlsx(r: monthly.MonthReport) -> bytes:
    return monthly.render_month_xlsx(r, charts_or_none(r))


def month_name(hall: str, month: tuple[int, int], ext: str) -> str:
    return f"hallwatch-{hall}-{month[0]}-{month[1]:02d}.{ext}"


def sheet_name(hall: str, day: str) -> str:
    return f"hallwatch-{hall}-考勤日报-{day}.pdf"

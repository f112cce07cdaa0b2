"""A simulated month of the example hall in a journal, its report, and the docs' pictures.

    .venv/bin/python -m tests.report_shot [--out docs] [--only report|daysheet]

Writes docs/report.png (the PDF's first page, printed by headless Chromium and shot at A4 width)
and docs/report-chart.png (the on-time chart), from November 2026 of the example hall
(config/hall.example.toml) simulated with seed 7, reported as at 10 December 2026; and the
leader's daily sheet of 24 November 2026 as at 15:20 that day, a clock down since lunch, on a
desktop browser scrolled to the afternoon's notes (docs/daysheet.png) and as its A4 PDF's first
page rasterised by poppler's `pdftoppm` (docs/daysheet-a4.png).

`generate_month` is what the daemon would have done: every simulated message goes through the
real ingest into the journal, in publishing order, and time-driven checks fire at the end of
each simulated minute in which something is due, each journaled as a tick. Presence heartbeats
every 170 s instead of 60 (under the 180 s timeout) keep it quick; the seat rules are the same.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path

from alerts.config import HallConfig
from alerts.events import Recorded
from alerts.supervision import Supervision
from devices.simulator import Message, Params, simulate_days
from monitor.ingest.ingestor import Classifier, Inbound, Ingestor, Rules
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from monitor.outputs.outbox import rows
from monitor.reports import monthly
from monitor.reports.charts import Chart
from monitor.reports.pdf import html_to_pdf
from monitor.web import console
from tests.chromium import Chromium
from tests.hall import example

ROOT = Path(__file__).resolve().parent.parent
MONTH = (2026, 11)
SEED = 7
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # 10:00 on 10 December in the hall
PARAMS = Params(heartbeat_s=170)


class _NoAck:
    def ack(self, batch: Sequence[Inbound]) -> None:
        pass


def month_messages(cfg: HallConfig, start: date | None = None) -> list[Message]:
    """The simulated month (from `start`, if earlier, to its end)."""
    first = start or date(*MONTH, 1)
    nxt = date(MONTH[0] + MONTH[1] // 12, MONTH[1] % 12 + 1, 1)
    return simulate_days(cfg, first, (nxt - first).days, SEED, PARAMS)


def _minute(m: Message) -> datetime:
    return m.at.replace(second=0, microsecond=0)


def generate_month(
    data_dir: Path,
    cfg: HallConfig,
    msgs: Sequence[Message],
    *,
    ticks: bool = True,
    until: datetime | None = None,
) -> Supervision:
    """Journal `msgs` through the real ingest, with ticks as the daemon journals them (each
    simulated minute in which something is due; `ticks=False`: none) and a last one at
    `until`."""
    journal = Journal.open(data_dir, cfg.hall.id, "normal")
    sup = Supervision(cfg)
    clock = [msgs[0].at]

    def committed(fresh: Sequence[Recorded]) -> None:
        out = [t for r in fresh for t in sup.apply(r)]
        journal.record_outputs(rows(cfg.hall.id, out), None, fresh[-1].received_at)

    ing = Ingestor(journal, Classifier(Rules.of(cfg), {}), _NoAck(), committed, lambda: clock[0])
    n = 0
    try:
        for minute, group in groupby(msgs, key=_minute):
            batch = []
            for m in group:
                batch.append(Inbound(m.topic, m.payload, m.at, n))
                n += 1
            ing.process(batch)
            clock[0] = end = minute + timedelta(minutes=1)
            if ticks and sup.due(end):
                _tick(journal, sup, cfg, end)
        if until is not None:
            _tick(journal, sup, cfg, until)
    finally:
        journal.close()
    return sup


def _tick(journal: Journal, sup: Supervision, cfg: HallConfig, at: datetime) -> None:
    out = sup.tick(at)
    journal.record_outputs(rows(cfg.hall.id, out), (sup.state.last_seq, at), at)


def month_report(cfg: HallConfig, sup: Supervision, now: datetime = NOW) -> monthly.MonthReport:
    return console.month_report(sup, cfg, MONTH, now)


def first_page(html: Path, out: Path, workdir: Path) -> None:
    """The printed page's first A4 sheet as a PNG: Chromium lays it out for print, 794 px wide
    (A4 at 96 px an inch), and the shot is the height of one sheet."""
    browser = Chromium(workdir, width=794, height=1123)
    try:
        browser.send("Emulation.setEmulatedMedia", media="print")
        browser.navigate(html.as_uri())
        browser.wait_for(
            "document.readyState === 'complete' && document.fonts.status === 'loaded'"
            " && [...document.images].every(i => i.complete)",
            20,
            "the report page",
        )
        browser.screenshot(out)
    finally:
        browser.close()


def shoot(out_dir: Path) -> None:
    cfg = example()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        generate_month(data, cfg, month_messages(cfg))
        journal = Journal.open(data, cfg.hall.id)
        try:
            sup, _ = replay(journal, cfg)
        finally:
            journal.close()
        r = month_report(cfg, sup)
        charts = monthly.month_charts(r)
        html = Path(tmp) / "report.html"
        html.write_text(monthly.render_month_html(r, charts), encoding="utf-8")
        first_page(html, out_dir / "report.png", Path(tmp))
    chart = next(c for c in charts if c.name == "on_time")
    write_chart(chart, out_dir / "report-chart.png")


def write_chart(chart: Chart, path: Path) -> None:
    path.write_bytes(chart.png)


SHEET_DAY = date(2026, 11, 24)
SHEET_NOW = datetime(2026, 11, 24, 7, 20, tzinfo=UTC)  # 15:20 in the hall


def sheet_page(workdir: Path) -> str:
    """The daily sheet's A4 page of SHEET_DAY as at SHEET_NOW, through the real journal: the
    day simulated, CLK-WEST dropping off at 13:35 (its later punches never arrive)."""
    cfg = example()
    down = datetime(2026, 11, 24, 5, 35, tzinfo=UTC)
    msgs = [
        m
        for m in simulate_days(cfg, SHEET_DAY, 1, SEED, PARAMS)
        if m.at <= SHEET_NOW and not (m.at >= down and "/clock/CLK-WEST/" in m.topic)
    ]
    msgs.append(
        Message(
            topic=f"hall/{cfg.hall.id}/clock/CLK-WEST/status",
            payload=b"offline",
            at=down,
            user="CLK-WEST",
            retain=True,
        )
    )
    msgs.sort(key=lambda m: m.at)
    sup = generate_month(workdir / "day", cfg, msgs, until=SHEET_NOW)
    return console.attendance_html(sup, cfg, SHEET_DAY, SHEET_NOW)


def shoot_daysheet(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        page = sheet_page(work)
        html = work / "daysheet.html"
        html.write_text(page, encoding="utf-8")
        browser = Chromium(work, width=1280, height=1400)
        try:
            browser.navigate(html.as_uri())
            browser.wait_for(
                "document.readyState === 'complete' && document.fonts.status === 'loaded'",
                20,
                "the daily sheet",
            )
            browser.evaluate(
                "document.querySelector('.note').scrollIntoView({block: 'center'}), true"
            )
            browser.screenshot(out_dir / "daysheet.png")
        finally:
            browser.close()
        pdf = work / "daysheet.pdf"
        pdf.write_bytes(html_to_pdf(page))
        stem = work / "a4"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "96", "-f", "1", "-l", "1", "-singlefile", pdf, stem],
            check=True,
        )
        (out_dir / "daysheet-a4.png").write_bytes(stem.with_suffix(".png").read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--only", choices=["report", "daysheet"])
    args = parser.parse_args()
    if args.only != "daysheet":
        shoot(args.out)
        print(f"wrote {args.out / 'report.png'} and {args.out / 'report-chart.png'}")
    if args.only != "report":
        shoot_daysheet(args.out)
        print(f"wrote {args.out / 'daysheet.png'} and {args.out / 'daysheet-a4.png'}")


if __name__ == "__main__":
    main()

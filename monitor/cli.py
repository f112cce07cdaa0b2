"""The `hallwatch` command."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alerts.config import HallConfig
from alerts.errors import ConfigError
from alerts.supervision import Supervision
from hallkit import logs
from hallkit.clock import Clock
from hallkit.config import load_config
from hallkit.exits import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_NOINPUT,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    UsageParser,
)
from monitor import __version__
from monitor.daemon import Daemon
from monitor.datadir import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    DEMO_DIR,
    default_config,
    missing_journal,
    reporting_config,
)
from monitor.ingest.journal import Journal, JournalError, JournalMissing
from monitor.ingest.replay import replay

logger = logging.getLogger("hallwatch")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# Device adapters are their own programs with their own options: `hallwatch camera ...`
# hands everything after the word to `main(argv)` of the module named here.
DEVICE_COMMANDS = {
    "camera": ("devices.camera", "camera seat-presence agent (needs the [camera] extra)"),
    "zkpush": ("devices.zkpush", "ZKTeco PUSH (iclock) fingerprint-clock bridge"),
    "simulate": ("devices.simulator", "publish a simulated hall day to the broker"),
}
# An adapter that needs an optional extra: the modules it brings.
DEVICE_EXTRAS = {"camera": ("camera", ("cv2", "numpy"))}


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default_config(),
        help=f"hall configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG})",
    )


def _reporting_args(parser: argparse.ArgumentParser) -> None:
    """A reporting command's --config and --data-dir (monitor/datadir.py)."""
    parser.add_argument(
        "--config",
        type=Path,
        help=f"hall configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG} if it "
        f"exists, else the demo's hall)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"the hall's data directory, instead of journal.data_dir (default without "
        f"--config: ./{DEMO_DIR}/ when it exists)",
    )


def _parser() -> argparse.ArgumentParser:
    devices = "\n".join(f"  {name:<10}{text}" for name, (_, text) in DEVICE_COMMANDS.items())
    p = UsageParser(
        prog="hallwatch",
        description="政务服务中心电子监察 daemon",
        epilog=f"device adapters (hallwatch NAME --help):\n{devices}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hallwatch {__version__}")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon for one hall")
    _config_arg(run)
    check = sub.add_parser("check-config", help="validate a hall configuration file")
    check.add_argument(
        "file", type=Path, nargs="?", default=default_config(), help="default: as --config"
    )
    doctor = sub.add_parser(
        "doctor", help="check the broker login and ACL, time series, disk and calendar (体检)"
    )
    _config_arg(doctor)
    acl = sub.add_parser("broker-acl", help="print the hall's Mosquitto ACL (docs/broker.md)")
    _config_arg(acl)
    rep = sub.add_parser("replay", help="rebuild all derived state from the journal")
    _reporting_args(rep)
    rej = sub.add_parser("rejects", help="list the latest rejected messages and why")
    _reporting_args(rej)
    rej.add_argument("--limit", type=int, default=20)
    stats = sub.add_parser("stats", help="case statistics for a period (the seeds' figures)")
    _reporting_args(stats)
    stats.add_argument("--from", dest="start", required=True, type=_date, help="YYYY-MM-DD")
    stats.add_argument("--to", dest="end", required=True, type=_date, help="YYYY-MM-DD")
    stats.add_argument("--by", default="hall", choices=["hall", "window", "staff", "day", "month"])
    stats.add_argument("--window", help="only this window")
    stats.add_argument("--csv", action="store_true", help="CSV with Chinese headers")
    att = sub.add_parser("attendance", help="the leader's daily attendance sheet (考勤日报)")
    _reporting_args(att)
    att.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    att.add_argument("--html", type=Path, help="also write an A4 printable page here")
    att.add_argument("--csv", type=Path, help="also write a CSV (UTF-8 with BOM) here")
    att.add_argument("--pdf", type=Path, help="also print the A4 page to a PDF here (Chromium)")
    rep_m = sub.add_parser(
        "report", help="monthly efficiency report (效能考评): HTML, XLSX and PDF (Chromium)"
    )
    _reporting_args(rep_m)
    rep_m.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    rep_m.add_argument("--out", type=Path, default=Path("."), help="directory for the files")
    rep_m.add_argument("--no-pdf", action="store_true", help="HTML and XLSX only")
    reg = sub.add_parser(
        "register", help="the negative-filing register (否定报备登记): CSV or XLSX"
    )
    _reporting_args(reg)
    reg.add_argument("--from", dest="start", type=_date, help="refused on or after YYYY-MM-DD")
    reg.add_argument("--to", dest="end", type=_date, help="refused on or before YYYY-MM-DD")
    reg.add_argument("--window", help="only this window")
    reg.add_argument("--staff", help="only this officer")
    reg.add_argument("--xlsx", type=Path, help="write the workbook here (else CSV to stdout)")
    ann = sub.add_parser("annual", help="the year's roll-up of the monthly scores: HTML and XLSX")
    _reporting_args(ann)
    ann.add_argument("--year", required=True, type=int, help="YYYY")
    ann.add_argument("--out", type=Path, default=Path("."), help="directory for the files")
    query = sub.add_parser("query", help="read the local time-series store (no InfluxDB set)")
    _reporting_args(query)
    query.add_argument("measurement", nargs="?", help="card, statuses, light, ...; none: list")
    query.add_argument("--from", dest="start", type=_date, help="YYYY-MM-DD (default: today)")
    query.add_argument("--to", dest="end", type=_date, help="YYYY-MM-DD, inclusive")
    query.add_argument("--tag", action="append", default=[], help="KEY=VALUE, e.g. window=W03")
    pw = sub.add_parser(
        "passwd", help="hash a console password (read from the terminal, or a line of stdin)"
    )
    pw.add_argument("--user", help="also print a [[users]] entry for this login name")
    pw.add_argument("--role", choices=["display", "leader", "supervisor", "admin"])
    pw.add_argument("--staff", help="the staff id the user acts as (required for a supervisor)")
    demo = sub.add_parser("demo", help="broker, daemon and store on this machine, nothing else")
    demo.add_argument("--data-dir", type=Path, default=Path("hallwatch-demo"))
    demo.add_argument("--mqtt-port", type=int, default=1883)
    demo.add_argument("--web-port", type=int, default=8470)
    demo.add_argument(
        "--no-sample", action="store_true", help="no simulated hall: an idle broker and daemon"
    )
    demo.add_argument(
        "--sim-days", type=int, default=2, help="working days of history to simulate first"
    )
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] in DEVICE_COMMANDS:
        import importlib

        try:
            module = importlib.import_module(DEVICE_COMMANDS[words[0]][0])
        except ModuleNotFoundError as exc:
            return _missing_extra(words[0], exc)
        return int(module.main(words[1:]))
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    return guarded(lambda: _dispatch(args))


def _missing_extra(command: str, exc: ModuleNotFoundError) -> int:
    """A device adapter whose optional extra is not installed: say which, no traceback."""
    extra, modules = DEVICE_EXTRAS.get(command, ("", ()))
    if exc.name not in modules:
        raise exc
    sys.stderr.write(
        f"hallwatch {command}: 缺少可选组件 [{extra}]（未安装 {exc.name}）。"
        f"安装：pip install 'hallwatch[{extra}]'\n"
        f"hallwatch {command}: the [{extra}] extra is not installed ({exc.name} is missing); "
        f"install it with: pip install 'hallwatch[{extra}]' "
        f"(./dev install: EXTRAS={extra} ./dev install)\n"
    )
    return EXIT_UNAVAILABLE


def guarded(command: Callable[[], int]) -> int:
    """A command's exit code; a broken configuration or journal says why and exits non-zero."""
    try:
        return int(command())
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    except JournalMissing as exc:  # a reader never makes one: say where to look instead
        logger.error("%s", missing_journal(exc))
        return EXIT_NOINPUT
    except JournalError as exc:
        logger.error("%s", exc)
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        cfg = load_config(args.file)
        _out(
            f"{args.file}: OK — hall {cfg.hall.id} ({cfg.hall.name}), {len(cfg.windows)} "
            f"windows, {len(cfg.staff)} staff, {len(cfg.clocks)} clocks, "
            f"{len(cfg.cameras)} cameras"
        )
        return EXIT_OK
    if args.command == "run":
        return run_daemon(load_config(args.config), args.config)
    if args.command == "doctor":
        from monitor import doctor

        return doctor.main(load_config(args.config), args.config, _out)
    if args.command == "broker-acl":
        from alerts.brokeracl import broker_acl

        sys.stdout.write(broker_acl(load_config(args.config)))
        return EXIT_OK
    if args.command == "replay":
        return _replay(reporting_config(args.config, args.data_dir))
    if args.command == "rejects":
        return _rejects(args)
    if args.command == "stats":
        return _stats(args)
    if args.command == "query":
        return _query(args)
    if args.command == "attendance":
        return _attendance(args)
    if args.command == "report":
        return _report(args)
    if args.command == "register":
        return _register(args)
    if args.command == "annual":
        return _annual(args)
    if args.command == "passwd":
        return _passwd(args)
    return _demo(args)


def run_daemon(cfg: HallConfig, path: Path | None, clock: Clock | None = None) -> int:
    """`hallwatch run`: the daemon until SIGTERM or SIGINT (SIGHUP reloads); `clock` replaces
    the system's (tests/faults/clockd.py)."""
    daemon = Daemon(cfg, path, clock=clock)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    return daemon.run(stop)


def _replayed(cfg: HallConfig) -> Supervision:
    """The hall's state rebuilt from its journal (which must exist), closed again."""
    journal = Journal.open_existing(cfg.journal.data_dir, cfg.hall.id)
    try:
        return replay(journal, cfg)[0]
    finally:
        journal.close()


def _replay(cfg: HallConfig) -> int:
    sup = _replayed(cfg)
    _out(json.dumps({**sup.summary(), "digest": sup.digest()}, ensure_ascii=False, indent=1))
    return EXIT_OK


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _stats(args: argparse.Namespace) -> int:
    from alerts import stats

    cfg = reporting_config(args.config, args.data_dir)
    sup = _replayed(cfg)
    cases = [r.assessment for r in sup.engine.cases.values()]
    if args.window:
        cases = [a for a in cases if a.window == args.window]
    rows = stats.compute(
        cases, sup.state.ratings, sup.engine.calendar, args.start, args.end, args.by, total=True
    )
    if args.csv:
        sys.stdout.write(stats.to_csv(rows, chinese_header=True))
        return EXIT_OK
    where = f" 窗口 {args.window}" if args.window else ""
    _out(f"{cfg.hall.name} 办件统计 {args.start} 至 {args.end}{where}")
    _out(stats.render_table(rows))
    return EXIT_OK


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(x) for x in text.split("-"))
        date(year, month, 1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month YYYY-MM") from exc
    return year, month


def _report(args: argparse.Namespace) -> int:
    from monitor.reports import monthly
    from monitor.reports.charts import ChartError
    from monitor.reports.pdf import PdfError, print_pdf
    from monitor.web import console

    cfg = reporting_config(args.config, args.data_dir)
    sup = _replayed(cfg)  # the journal, not live state: a closed month reruns equal
    month = args.month
    r = console.month_report(sup, cfg, month, datetime.now(UTC))
    try:
        charts = monthly.month_charts(r)
    except ChartError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    name = f"hallwatch-{cfg.hall.id}-{month[0]}-{month[1]:02d}"
    args.out.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = args.out / f"{name}.html", args.out / f"{name}.xlsx"
    html_path.write_text(monthly.render_month_html(r, charts), encoding="utf-8")
    xlsx_path.write_bytes(monthly.render_month_xlsx(r, charts))
    state = "本月已结束" if r.scores.closed else "本月尚未结束，数字会变"
    _out(f"{cfg.hall.name} {month[0]}年{month[1]}月 效能考评（{state}）")
    _out(f"  {html_path}\n  {xlsx_path}")
    if args.no_pdf:
        return EXIT_OK
    pdf_path = args.out / f"{name}.pdf"
    try:
        print_pdf(html_path, pdf_path)
    except PdfError as exc:
        logger.warning("no PDF: %s; the HTML page prints the same", exc)
        return EXIT_OK
    _out(f"  {pdf_path}")
    return EXIT_OK


def _register(args: argparse.Namespace) -> int:
    """The negative-filing register from the journal: CSV (UTF-8 with BOM) on stdout, or the
    workbook with --xlsx; the same table as the console's (monitor/web/register.py)."""
    from monitor.web import register

    cfg = reporting_config(args.config, args.data_dir)
    sup = _replayed(cfg)
    query = register.RegisterQuery(
        window=args.window, staff=args.staff, start=args.start, end=args.end
    )
    now = datetime.now(UTC)
    if args.xlsx is None:
        sys.stdout.buffer.write(register.export(sup, cfg, query, now, "csv"))
        sys.stdout.flush()
        return EXIT_OK
    args.xlsx.write_bytes(register.export(sup, cfg, query, now, "xlsx"))
    found = len(register.chosen(sup, cfg, query, now))
    _out(f"{cfg.hall.name} 否定报备登记（{query.zh(cfg)}）：{found} 条\n  {args.xlsx}")
    return EXIT_OK


def _annual(args: argparse.Namespace) -> int:
    from monitor.reports import annual

    cfg = reporting_config(args.config, args.data_dir)
    r = annual.year_report(_replayed(cfg), cfg, args.year, datetime.now(UTC))
    name = f"hallwatch-{cfg.hall.id}-{args.year}-annual"
    args.out.mkdir(parents=True, exist_ok=True)
    html_path, xlsx_path = args.out / f"{name}.html", args.out / f"{name}.xlsx"
    html_path.write_text(annual.render_year_html(r), encoding="utf-8")
    xlsx_path.write_bytes(annual.render_year_xlsx(r))
    state = "本年度已结束" if r.scores.closed else "本年度尚未结束，数字会变"
    _out(f"{cfg.hall.name} {args.year}年 效能考评年度汇总（{state}）")
    _out(f"  {html_path}\n  {xlsx_path}")
    return EXIT_OK


def _attendance(args: argparse.Namespace) -> int:
    from monitor.reports import daysheet
    from monitor.reports.names import HallNames
    from monitor.reports.pdf import PdfError, html_to_pdf
    from monitor.web import console

    cfg = reporting_config(args.config, args.data_dir)
    sup = _replayed(cfg)
    now = datetime.now(UTC)
    day = args.date or now.astimezone(cfg.hall.zone).date()
    sheets, duty, cards = console.day_sheet_parts(sup, cfg, day, now)
    names, hall = HallNames.of(cfg), cfg.hall.name
    sys.stdout.write(daysheet.render_text(sheets, day, hall, duty=duty, cards=cards, names=names))
    page = daysheet.render_html(sheets, day, hall, duty=duty, cards=cards, names=names)
    if args.html is not None:
        args.html.write_text(page, encoding="utf-8")
    if args.csv is not None:
        args.csv.write_text(daysheet.render_csv(sheets, day, hall, names=names), encoding="utf-8")
    if args.pdf is not None:
        try:
            args.pdf.write_bytes(html_to_pdf(page))
        except PdfError as exc:
            sys.stderr.write(f"no PDF: {exc}\n")
            return EXIT_UNAVAILABLE
    return EXIT_OK


def _passwd(args: argparse.Namespace) -> int:
    """Print a scrypt hash for `password_hash` in [[users]]; the password is never echoed."""
    import getpass

    from monitor.web.auth import MAX_PASSWORD, hash_password

    if args.user is not None and args.role is None:
        sys.stderr.write("passwd: --user needs --role\n")
        return EXIT_CONFIG
    if sys.stdin.isatty():
        password = getpass.getpass("新密码 / new password: ")
        if getpass.getpass("再输一次 / again: ") != password:
            sys.stderr.write("passwd: the two passwords differ\n")
            return EXIT_CONFIG
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8 or len(password) > MAX_PASSWORD:
        sys.stderr.write(f"passwd: a password needs 8 to {MAX_PASSWORD} characters\n")
        return EXIT_CONFIG
    encoded = hash_password(password)
    if args.user is None:
        _out(encoded)
        return EXIT_OK
    lines = ["[[users]]", f"name = {json.dumps(args.user)}", f"role = {json.dumps(args.role)}"]
    if args.staff:
        lines.append(f"staff = {json.dumps(args.staff)}")
    _out("\n".join([*lines, f"password_hash = {json.dumps(encoded)}"]))
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    from monitor.outputs.localstore import LocalStore, render_query

    cfg = reporting_config(args.config, args.data_dir)
    if cfg.timeseries.url is not None:
        sys.stderr.write(f"points go to {cfg.timeseries.url}: query them there (Grafana)\n")
        return EXIT_CONFIG
    Journal.open_existing(cfg.journal.data_dir, cfg.hall.id).close()  # a hall's data dir
    store = LocalStore.open(cfg.journal.data_dir)
    try:
        if args.measurement is None:
            _out("\n".join(store.measurements()))
            return EXIT_OK
        zone = cfg.hall.zone
        first = args.start or datetime.now(zone).date()
        last = args.end or first
        start = datetime.combine(first, datetime.min.time(), zone)
        end = datetime.combine(last, datetime.min.time(), zone) + timedelta(days=1)
        tags = dict(t.split("=", 1) for t in args.tag)
        _out(render_query(store.query(args.measurement, start, end, tags), zone))
    finally:
        store.close()
    return EXIT_OK


def _rejects(args: argparse.Namespace) -> int:
    from alerts.contract import RejectReason

    if args.config is None and args.data_dir is not None:  # any hall's: no configuration
        data_dir, hall = args.data_dir, _hall_of(args.data_dir)
    else:
        cfg = reporting_config(args.config, args.data_dir)
        data_dir, hall = Path(cfg.journal.data_dir), cfg.hall.id
    journal = Journal.open_existing(data_dir, hall)
    try:
        rows = journal.rejects(args.limit)
        counters = dict(journal.counters)
    finally:
        journal.close()
    _out(
        f"accepted {counters.get('accepted', 0)}, duplicate {counters.get('duplicate', 0)}, "
        f"rejected {sum(v for k, v in counters.items() if k.startswith('rejected.'))} "
        f"(not stored, over their source's rate: {counters.get('rejects_limited', 0)}; "
        f"pruned: {counters.get('rejects_pruned', 0)})"
    )
    for r in rows:
        known = {e.value for e in RejectReason}
        label = RejectReason(r.reason).label_zh if r.reason in known else r.reason
        _out(
            f"{r.received_at.isoformat(timespec='seconds')}  {label}({r.reason})  {r.topic}\n"
            f"    {r.detail}\n    {r.size} bytes, sha256 {r.sha256[:16] or '-'}"
        )
    return EXIT_OK


def _hall_of(data_dir: Path) -> str:
    import sqlite3

    path = data_dir / "journal.sqlite3"
    if not path.is_file():
        raise JournalMissing(path)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='hall'").fetchone()
    if row is None:
        raise JournalError(f"{path} has no hall id")
    return str(row[0])


def _demo(args: argparse.Namespace) -> int:
    from monitor import demo

    mqtt_port = demo.port_or_free(args.mqtt_port)
    web_port = demo.port_or_free(args.web_port)
    cfg = demo.demo_config(args.data_dir, mqtt_port, web_port)
    with demo.embedded_broker(mqtt_port):
        daemon = Daemon(cfg, None)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        result: list[int] = []
        runner = threading.Thread(target=lambda: result.append(daemon.run(stop)), name="daemon")
        runner.start()
        if not daemon.started.wait(30) or daemon.where is None:
            stop.set()
            runner.join()
            return EXIT_FAILURE
        _out(demo.banner(cfg, mqtt_port, daemon.where.web, args.data_dir))
        if not daemon.link.subscribed.wait(30):
            _out("The daemon did not subscribe to the embedded broker within 30 s.")
        elif not args.no_sample:
            hall = threading.Thread(
                target=demo.live_hall,
                args=(cfg, mqtt_port, datetime.now(UTC), stop, _out, args.sim_days),
            )
            hall.start()
        stop.wait(args.duration)
        stop.set()
        runner.join()
    return result[0] if result else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

"""Scale: a large city hall, ten halls on one time-series server, a million open cases.

    .venv/bin/python -m bench.scale [--size tiny|quick|full] [--part large|province|timers]

- large: one `hallwatch run` on a generated hall of 200 windows and 2,000 officers (20
  departments, 40 cameras, 10 clocks; each window an A post and two B posts, the other 1,400
  officers back office, punching only). The simulator's stream of its last working day
  (1,200 cases) is queued in Mosquitto while the daemon is down; the daemon is started and
  timed until it has caught up (every message journaled; target, ours: < 30 s). Then the
  same day live into a fresh journal (published while the daemon runs, its ticks journaled
  as they come); its memory (VmRSS, and VmHWM, the peak), a restart from the snapshot
  (SIGTERM, start) and one by whole replay (SIGKILL, snapshot removed), each timed from the
  new process's start to a healthy /healthz (targets, ours: < 10 s). Baseline in the same
  run: the same hall started on an empty journal.
- province: ten `hallwatch run` (halls city-01 … city-10, each the example hall under its own
  id, data dir and broker session) on one Mosquitto, all writing to ONE VictoriaMetrics
  through their [timeseries] outboxes. Each hall's stream of its last working days is
  published at once; timed from the first publish until VictoriaMetrics holds every card
  point (counted by query: samples of card_level_code per hall = card transitions in that
  hall's journal). Baseline in the same run: one daemon alone with one hall's stream.
- timers: bench/timers.py (the card engine with N open cases, another engineer's benchmark)
  in a child process; its table is quoted as printed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from pathlib import Path

from alerts.config import HallConfig, work_calendar
from bench.common import (
    Result,
    Size,
    Verdict,
    mixed_stream,
    past_days,
    publish_all,
    ratio,
    rss_bytes,
    size_arg,
    start_broker,
)
from devices.simulation.model import Params
from devices.simulator import Message, simulate_days
from hallkit.config import example_config_path, load_config
from monitor.ingest.ingestor import Classifier, Inbound, Rules
from monitor.ingest.journal import Journal
from tests.brokers import Mosquitto, daemon_account, halls_broker, publisher_account
from tests.running import DaemonProcess, free_port, write_config
from tests.victoria import VictoriaMetrics

# (windows, officers, working days of journal) for the large hall; events per hall and
# halls for the province; open cases for the timers.
LARGE = {Size.TINY: (5, 20, 0.05), Size.QUICK: (200, 2000, 0.15), Size.FULL: (200, 2000, 1)}
PROVINCE = {Size.TINY: (300, 1), Size.QUICK: (13_000, 10), Size.FULL: (25_000, 10)}
TIMER_CASES = {Size.TINY: 500, Size.QUICK: 100_000, Size.FULL: 1_000_000}
DEPARTMENTS = 20
READY_TIMEOUT_S = 1800.0
DRAIN_TIMEOUT_S = 1800.0
VISIBLE_S = 10.0  # VictoriaMetrics: from a sample taken to a sample seen by queries, at most


# --- a generated hall -------------------------------------------------------------------------


def large_hall_toml(template: str, windows: int, officers: int) -> str:
    """The example hall's settings with a generated roster of `windows` and `officers`."""
    head = template[: template.index("\n[[departments]]")]
    out = [head, ""]
    for d in range(DEPARTMENTS):
        out += ["[[departments]]", f'id = "d{d:02d}"', f'name = "部门{d + 1:02d}"', ""]
    for i in range(officers):
        out += [
            "[[staff]]",
            f'id = "S{i + 1:04d}"',
            f'name = "工作人员{i + 1:04d}"',
            f'department = "d{i % DEPARTMENTS:02d}"',
            "",
        ]
    out += _leaders()
    for w in range(windows):
        a, b1, b2 = w, (w + windows) % officers, (w + 2 * windows) % officers
        out += [
            "[[windows]]",
            f'id = "W{w + 1:03d}"',
            f'name = "窗口{w + 1:03d}"',
            f'department = "d{w % DEPARTMENTS:02d}"',
            f'a_post = "S{a + 1:04d}"',
            f'b_posts = ["S{b1 + 1:04d}", "S{b2 + 1:04d}"]',
            "",
        ]
    out += [f'[[clocks]]\nid = "CLK-{c:02d}"\n' for c in range(1, 11)]
    for c in range(0, windows, 5):
        ids = ", ".join(f'"W{w + 1:03d}"' for w in range(c, min(c + 5, windows)))
        out += [f'[[cameras]]\nid = "CAM{c // 5 + 1:02d}"\nwindows = [{ids}]\n']
    return "\n".join(out) + "\n"


def _leaders() -> list[str]:
    rows = [("L001", "中心主任", "leader"), ("L002", "中心副主任", "leader")]
    rows.append(("D001", "效能投诉中心督查员", "supervisor"))
    out: list[str] = []
    for sid, post, role in rows:
        out += [
            "[[staff]]",
            f'id = "{sid}"',
            f'name = "{post}"',
            'department = "d00"',
            f'post = "{post}"',
            f'role = "{role}"',
            "",
        ]
    return out


def hall_config(
    workdir: Path,
    broker: Mosquitto,
    text: str | None = None,
    account: str = "hallwatch",
    **swap: str,
) -> Path:
    """The example hall (or `text`) pointed at `broker`, its own data dir and web port."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = write_config(workdir, broker.port, broker.password(account), free_port())
    body = text if text is not None else path.read_text(encoding="utf-8")
    if text is not None:  # keep the test settings write_config made
        head = path.read_text(encoding="utf-8")
        body = head[: head.index("\n[[departments]]")] + text[text.index("\n[[departments]]") :]
    for old, new in swap.items():
        body = body.replace(old, new, 1)
    path.write_text(body, encoding="utf-8")
    return path


def web_port(cfg: HallConfig) -> int:
    return cfg.web.port


def spawn(cfg_path: Path, log: Path) -> DaemonProcess:
    """`hallwatch run` as a child process, not waited for."""
    d = DaemonProcess(cfg_path, web_port(load_config(cfg_path)), log)
    with log.open("ab") as out:
        d.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(cfg_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return d


def wait_healthy(d: DaemonProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not d.healthy():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{d.config}: not healthy after {READY_TIMEOUT_S} s")
        time.sleep(0.02)


def start(cfg_path: Path, log: Path) -> tuple[DaemonProcess, float]:
    """`hallwatch run` as a child; seconds from its start to a healthy /healthz."""
    started = time.perf_counter()
    d = spawn(cfg_path, log)
    wait_healthy(d)
    return d, time.perf_counter() - started


def wait_taken(d: DaemonProcess, n: int) -> None:
    """Until the daemon counted `n` messages and its ingest queue is empty."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        doc = d.health() or {}
        if sum(doc.get("counters", {}).values()) >= n and doc.get("queue") == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{d.config}: did not take {n:,} messages in {DRAIN_TIMEOUT_S} s")


# --- large hall -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Large:
    windows: int
    officers: int
    events: int
    journal_bytes: int
    ticks: int  # time-driven checks the live run journaled
    ingest_rate: float  # events/s of the live run (the bench's publisher's pace)
    outage_ready_s: float  # process start after the outage -> healthy /healthz
    catchup_s: float  # process start after the outage -> the whole backlog taken
    rss: int
    hwm: int
    ready_s: float
    ready_rss: int
    crash_ready_s: float
    crash_rss: int
    empty_ready_s: float
    empty_rss: int
    day_ticks: int  # ticks of the day lived at its own pace (`live_day_journal`)
    day_ready_s: float  # its whole replay: start to ready


def large_stream(cfg: HallConfig, days: float) -> list[Message]:
    """The last `days` working days up to yesterday (a fraction: that share of the last)."""
    cal = work_calendar(cfg)
    first = past_days(cfg, 1)
    found = 0
    while found < max(1, math.ceil(days)):
        found += cal.is_working_day(first)
        first -= timedelta(days=1)
    first += timedelta(days=1)
    span = (past_days(cfg, 0) - first).days
    msgs = simulate_days(cfg, first, span, 1, Params(cases_per_day=1200.0))
    return msgs if days >= 1 else msgs[: int(len(msgs) * days)]


def _ticks(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'journal.sqlite3'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM ticks").fetchone()[0])


def live_day_journal(data: Path, cfg: HallConfig, msgs: Sequence[Message]) -> int:
    """The journal a day lived at its own pace leaves behind, written directly: each second's
    messages one batch received at their own time, and after it a tick at that second's end
    (the daemon ticks about once a second while facts arrive, monitor/runner.py
    FACTS_EVERY_S; a replay runs every tick again). How many ticks it journaled."""
    journal = Journal.open(data, cfg.hall.id, "normal")  # the bench's own writes: no fsync
    classifier = Classifier(Rules.of(cfg), {})
    ticks = last = 0
    try:
        ordered = sorted(msgs, key=lambda m: m.at)
        for _, group in groupby(ordered, key=lambda m: int(m.at.timestamp())):
            batch = [Inbound(m.topic, m.payload, m.at) for m in group]
            entries, _events, repeats, seen = classifier.classify(batch)
            seqs = journal.append(entries, repeats)
            classifier.remember(seen)
            last = max((q for q in seqs if q is not None), default=last)
            end = batch[-1].received_at.replace(microsecond=0) + timedelta(seconds=1)
            journal.record_outputs([], (last, end), end)
            ticks += 1
    finally:
        journal.close()
    return ticks


TARGET_CATCHUP_S = 30.0  # a day's backlog of the large hall (ours)
TARGET_READY_S = 10.0  # restart to ready, from the snapshot and by whole replay (ours)


def run_large(size: Size, tmp: Path) -> Large:
    windows, officers, days = LARGE[size]
    broker = start_broker(tmp / "broker")
    try:
        text = large_hall_toml(example_config_path().read_text(encoding="utf-8"), windows, officers)
        empty_path = hall_config(tmp / "empty", broker, text)
        empty, empty_ready = start(empty_path, tmp / "empty.log")
        assert empty.proc is not None
        empty_rss = rss_bytes(empty.proc.pid)[0]
        empty.stop()
        path = hall_config(tmp / "large", broker, text)
        cfg = load_config(path)
        msgs = large_stream(cfg, days)
        first, _ = start(path, tmp / "large.log")  # its persistent session, then an outage
        first.stop()
        publish_all(broker, msgs)  # the day's backlog queued in the session meanwhile
        started = time.perf_counter()
        d = spawn(path, tmp / "large.log")
        wait_healthy(d)
        outage_ready = time.perf_counter() - started
        wait_taken(d, len(msgs))
        catchup = time.perf_counter() - started
        d.stop()
        # The same day live: a fresh journal, the daemon up while the stream comes, its ticks
        # journaled as they come (a replay runs them all again: the replay's worst case).
        live_path = hall_config(tmp / "live", broker, text)
        d, _ = start(live_path, tmp / "live.log")
        started = time.perf_counter()
        publish_all(broker, msgs)
        wait_taken(d, len(msgs))
        rate = len(msgs) / (time.perf_counter() - started)
        assert d.proc is not None
        rss, hwm = rss_bytes(d.proc.pid)
        d.stop()
        data = tmp / "live" / "data"
        journal = sum(p.stat().st_size for p in data.glob("journal.sqlite3*"))
        ticks = _ticks(data)
        again, ready = start(live_path, tmp / "live.log")  # from the snapshot a clean stop wrote
        assert again.proc is not None
        ready_rss = rss_bytes(again.proc.pid)[0]
        again.kill()
        # Without a snapshot (new code, changed configuration): the whole journal replayed.
        (data / "snapshot.bin").unlink(missing_ok=True)
        crashed, crash_ready = start(live_path, tmp / "live.log")
        assert crashed.proc is not None
        crash_rss = rss_bytes(crashed.proc.pid)[0]
        crashed.stop()
        # The same day at its own pace: a tick each second facts came, every one replayed.
        day_path = hall_config(tmp / "day", broker, text)
        day_ticks = live_day_journal(tmp / "day" / "data", load_config(day_path), msgs)
        day, day_ready = start(day_path, tmp / "day.log")
        day.stop()
    finally:
        broker.stop()
    return Large(
        windows=windows,
        officers=officers,
        events=len(msgs),
        journal_bytes=journal,
        ticks=ticks,
        ingest_rate=rate,
        outage_ready_s=outage_ready,
        catchup_s=catchup,
        rss=rss,
        hwm=hwm,
        ready_s=ready,
        ready_rss=ready_rss,
        crash_ready_s=crash_ready,
        crash_rss=crash_rss,
        empty_ready_s=empty_ready,
        empty_rss=empty_rss,
        day_ticks=day_ticks,
        day_ready_s=day_ready,
    )


# --- province ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Province:
    halls: int
    events: int
    points: int
    seconds: float
    arrived: bool
    expected: int  # card transitions in the halls' journals
    found: int  # card samples in VictoriaMetrics
    waiting: int  # card points still in the daemons' outboxes after they stopped
    light_points: int


def card_samples(vm: VictoriaMetrics, hall: str, metric: str = "card_level_code") -> int:
    rows = vm.export(f'{metric}{{hall="{hall}"}}')
    return sum(len(r["values"]) for r in rows)


def _transitions(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'journal.sqlite3'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _outbox_cards(data: Path) -> int:
    """Card points a stopped daemon still holds in its outbox (sent at its next start)."""
    path = data / "tsdb-outbox.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE line LIKE 'card,%'").fetchone()
    return int(row[0])


def _count_query(vm: VictoriaMetrics, halls: Sequence[str]) -> int:
    """Card samples of these halls now in VictoriaMetrics (one instant query)."""
    sel = "|".join(halls)
    q = f'sum(count_over_time(card_level_code{{hall=~"{sel}"}}[400d]))'
    vm.force_flush()
    body = json.loads(vm.get("/api/v1/query", {"query": q}))
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def run_province(workdir: Path, vm: VictoriaMetrics, halls: int, per_hall: int) -> Province:
    names = [f"city-{workdir.name}-{i + 1:02d}" for i in range(halls)]
    broker = halls_broker(workdir / "broker", names)  # each daemon its own account
    broker.start()
    daemons: list[DaemonProcess] = []
    try:
        streams: list[list[Message]] = []
        for name in names:
            account = daemon_account(name)
            swap = {
                'id = "demo-county"': f'id = "{name}"',
                'username = "hallwatch"': f'username = "{account}"',
                "[cards]": _ts(vm) + "[cards]",
            }
            path = hall_config(workdir / name, broker, None, account, **swap)
            streams.append(mixed_stream(load_config(path), per_hall))
            daemons.append(spawn(path, workdir / f"{name}.log"))
        for d in daemons:  # started together: their start-up is not what is measured
            wait_healthy(d)
        started = time.perf_counter()
        pubs = [
            threading.Thread(target=publish_all, args=(broker, s, f"pub-{n}", publisher_account(n)))
            for n, s in zip(names, streams, strict=True)
        ]
        for t in pubs:
            t.start()
        for t in pubs:
            t.join()
        for d, s in zip(daemons, streams, strict=True):
            wait_taken(d, len(s))
        expected = sum(_transitions(workdir / n / "data") for n in names)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while _count_query(vm, names) < expected and time.monotonic() < deadline:
            time.sleep(0.25)
        seconds = time.perf_counter() - started
    finally:
        _stop_all(daemons)  # SIGTERM: each flushes its outbox on the way out
        broker.stop()
    # Ticks after the wait (a clean stop runs one last tick) may have added transitions: count
    # both sides once all stopped. VictoriaMetrics shows new samples to queries about a second
    # after it took them, so the count is given a few seconds to catch up.
    expected = sum(_transitions(workdir / n / "data") for n in names)
    waiting = sum(_outbox_cards(workdir / n / "data") for n in names)
    settle = time.monotonic() + VISIBLE_S
    while (exact := sum(card_samples(vm, n) for n in names)) + waiting < expected:
        if time.monotonic() > settle:
            break
        time.sleep(0.25)
    lights = sum(card_samples(vm, n, "light_code") for n in names)
    return Province(
        halls=halls,
        events=sum(len(s) for s in streams),
        points=2 * exact + lights,
        seconds=seconds,
        arrived=exact + waiting == expected,
        waiting=waiting,
        expected=expected,
        found=exact,
        light_points=lights,
    )


def _stop_all(daemons: Sequence[DaemonProcess]) -> None:
    for d in daemons:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
    for d in daemons:
        if d.proc is not None:
            d.proc.wait(60)


def _ts(vm: VictoriaMetrics) -> str:
    return f'[timeseries]\nurl = "{vm.url}"\nflush_interval_s = 1.0\n\n'


# --- timers -----------------------------------------------------------------------------------


def run_timers(cases: int) -> tuple[str, float]:
    """bench/timers.py in a child process: (its output, wall seconds)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.timers", "--cases", str(cases)],
        capture_output=True,
        text=True,
        check=False,
        timeout=7200,
    )
    if done.returncode not in (0, 1):  # 1: a target missed, still a result
        raise RuntimeError(f"bench.timers failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout, time.perf_counter() - started


# --- results ----------------------------------------------------------------------------------


def _arrival(p: Province) -> str:
    if not p.arrived:
        return f"no: {p.found:,} of {p.expected:,} ({p.waiting:,} still queued)"
    if not p.waiting:
        return "yes"
    return f"all accounted for: {p.found:,} arrived, {p.waiting:,} still queued on disk at the stop"


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def large_result(r: Large, seconds: float) -> Result:
    return Result(
        name="scale-large",
        title=f"Scale: one hall of {r.windows} windows, {r.officers:,} officers (bench/scale.py)",
        setup=(
            f"{r.events:,} simulated messages of its last working day (1,200 cases) queued in "
            "Mosquitto for the daemon's persistent session while `hallwatch run` was down (an "
            "outage); the daemon started and timed until it had taken the whole backlog. Then "
            "the same day live, into a fresh journal: published while the daemon ran, at "
            f"{r.ingest_rate:,.0f} events/s (the bench publisher's pace), {r.ticks:,} ticks "
            f"journaled (journal {r.journal_bytes / 2**20:,.0f} MiB); SIGTERM and a restart "
            "(from the snapshot a clean stop writes), then SIGKILL, the snapshot removed and a "
            "restart: the whole journal replayed, every tick again, as with new code or a "
            "changed configuration. Last, the same day's journal as a day at its own pace "
            "leaves it (written by the bench: each second's messages a batch, a tick after "
            "each) replayed whole. Ready: a healthy /healthz, timed from the process's start."
        ),
        header=("measure", "with the journal", "empty journal (baseline)", "ratio"),
        rows=[
            (
                "after the outage: start to ready",
                f"{r.outage_ready_s:,.1f} s",
                f"{r.empty_ready_s:,.1f} s",
                f"{ratio(r.outage_ready_s, r.empty_ready_s):,.1f}",
            ),
            (
                "after the outage: start to the backlog caught up (every message journaled)",
                f"{r.catchup_s:,.1f} s",
                "",
                f"{r.events / r.catchup_s:,.0f} events/s",
            ),
            (
                "restart after SIGTERM to ready (from the snapshot)",
                f"{r.ready_s:,.1f} s",
                f"{r.empty_ready_s:,.1f} s",
                f"{ratio(r.ready_s, r.empty_ready_s):,.1f}",
            ),
            (
                "restart without a snapshot to ready (whole journal replayed)",
                f"{r.crash_ready_s:,.1f} s",
                f"{r.empty_ready_s:,.1f} s",
                f"{ratio(r.crash_ready_s, r.empty_ready_s):,.1f}",
            ),
            (
                f"whole replay of the day at its own pace ({r.day_ticks:,} ticks) to ready",
                f"{r.day_ready_s:,.1f} s",
                f"{r.empty_ready_s:,.1f} s",
                f"{ratio(r.day_ready_s, r.empty_ready_s):,.1f}",
            ),
            (
                "RSS once ready: from the snapshot / by whole replay",
                f"{_mib(r.ready_rss)} / {_mib(r.crash_rss)}",
                _mib(r.empty_rss),
                f"{ratio(r.ready_rss, r.empty_rss):,.1f} / {ratio(r.crash_rss, r.empty_rss):,.1f}",
            ),
            ("RSS after the live day (VmRSS)", _mib(r.rss), "", ""),
            ("peak RSS during the live day (VmHWM)", _mib(r.hwm), "", ""),
        ],
        verdicts=[
            Verdict(
                measure="a day's backlog of the large hall caught up",
                value=f"{r.catchup_s:,.1f} s",
                target=f"< {TARGET_CATCHUP_S:.0f} s",
                met=r.catchup_s < TARGET_CATCHUP_S,
            ),
            Verdict(
                measure="restart to ready from the snapshot, large hall",
                value=f"{r.ready_s:,.1f} s",
                target=f"< {TARGET_READY_S:.0f} s",
                met=r.ready_s < TARGET_READY_S,
            ),
            Verdict(
                measure="restart to ready by whole replay of a day at its own pace, large hall",
                value=f"{r.day_ready_s:,.1f} s",
                target=f"< {TARGET_READY_S:.0f} s",
                met=r.day_ready_s < TARGET_READY_S,
            ),
        ],
        seconds=seconds,
    )


def province_result(alone: Province, many: Province, seconds: float) -> Result:
    rate1, rate10 = alone.points / alone.seconds, many.points / many.seconds
    return Result(
        name="scale-province",
        title=f"Scale: {_n(many.halls, 'daemon')}, one VictoriaMetrics (bench/scale.py)",
        setup=(
            f"{_n(many.halls, 'hall')} (the example hall, each under its own id), each "
            f"{many.events // many.halls:,} simulated messages, published at once into one "
            "Mosquitto; each daemon's outbox writes to the same VictoriaMetrics. Points = card "
            "and statuses points (2 per card transition) + light points. Timed from the first "
            "publish until VictoriaMetrics holds every card transition of every hall."
        ),
        header=("run", "events", "points", "seconds", "points/s", "all arrived"),
        rows=[
            (
                "one daemon alone (baseline)",
                f"{alone.events:,}",
                f"{alone.points:,}",
                f"{alone.seconds:,.1f}",
                f"{rate1:,.0f}",
                "yes" if alone.arrived else "NO",
            ),
            (
                f"{_n(many.halls, 'daemon')} together",
                f"{many.events:,}",
                f"{many.points:,}",
                f"{many.seconds:,.1f}",
                f"{rate10:,.0f}",
                "yes" if many.arrived else "NO",
            ),
            ("ratio together / alone (points/s)", "", "", "", f"{ratio(rate10, rate1):.2f}", ""),
        ],
        verdicts=[
            Verdict(
                measure=f"{_n(many.halls, 'daemon')}: every card point arrived (count by query)",
                value=_arrival(many),
                target="all",
                met=many.arrived and alone.arrived,
            )
        ],
        notes=[
            f"card transitions in the journals / card samples in VictoriaMetrics: alone "
            f"{alone.expected:,} / {alone.found:,}; together {many.expected:,} / {many.found:,}; "
            f"card points still in the outboxes once the daemons stopped (sent at their next "
            f"start): {alone.waiting:,} and {many.waiting:,}; light points: "
            f"{alone.light_points:,} and {many.light_points:,}"
        ],
        seconds=seconds,
    )


_TARGET = re.compile(r"<\s*[\d,.]+\s*\S+")


def timers_result(output: str, cases: int, seconds: float) -> Result:
    """bench/timers.py's printed table, quoted line by line; its PASS/FAIL rows as verdicts."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    verdicts = []
    for ln in lines:
        target = _TARGET.search(ln)
        if target and ln.endswith(("PASS", "FAIL")):
            cells = re.split(r"\s{2,}", ln[: target.start()].strip())
            verdicts.append(
                Verdict(
                    measure=cells[0],
                    value=cells[1] if len(cells) > 1 else "?",
                    target=target.group(0),
                    met=ln.endswith("PASS"),
                )
            )
    return Result(
        name="scale-timers",
        title=f"Scale: {cases:,} open cases in the card engine (bench/timers.py, quoted)",
        setup=f"`python -m bench.timers --cases {cases}` in a child process ({seconds:,.0f} s).",
        header=("bench/timers.py output",),
        rows=[(ln,) for ln in lines],
        verdicts=verdicts,
        seconds=seconds,
    )


def run(
    size: Size = Size.QUICK, parts: Sequence[str] = ("large", "province", "timers")
) -> list[Result]:
    out: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-scale-") as tmp:
        if "large" in parts:
            t = time.perf_counter()
            out.append(large_result(run_large(size, Path(tmp) / "large"), time.perf_counter() - t))
        if "province" in parts:
            t = time.perf_counter()
            per_hall, halls = PROVINCE[size]
            vm = VictoriaMetrics(Path(tmp) / "victoria")
            vm.start()
            try:
                alone = run_province(Path(tmp) / "a", vm, 1, per_hall)
                many = run_province(Path(tmp) / "b", vm, halls, per_hall)
            finally:
                vm.stop()
            out.append(province_result(alone, many, time.perf_counter() - t))
        if "timers" in parts:
            output, seconds = run_timers(TIMER_CASES[size])
            out.append(timers_result(output, TIMER_CASES[size], seconds))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--size", type=size_arg, default=Size.FULL, help="tiny, quick or full")
    ap.add_argument(
        "--part", action="append", choices=["large", "province", "timers"], help="default: all"
    )
    args = ap.parse_args()
    results = run(args.size, args.part or ("large", "province", "timers"))
    for r in results:
        print(r.text())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""End-to-end ingest: the simulator's mixed stream through Mosquitto into the daemon.

    .venv/bin/python -m bench.e2e [--size tiny|quick|full] [--events N] [--rounds R]

The stream is the hall simulator's (devices/simulator.py) for the example hall over the days
before today: seat presence and its heartbeats, punches (one clock without an offset), device
statuses (retained), leave and absence notices, case events, ratings, complaints, in
publishing order. Each consumer drains the same stream from its own fresh Mosquitto (the
project's config/mosquitto.conf, ACL and password file), queued for its persistent session
while it was offline, so the figure is the consumer's drain rate, not the publisher's:

- bare: a paho QoS 1 subscriber (account `hallwatch`, the daemon's filters) that only counts;
- daemon: `Daemon` of monitor/daemon.py on the example hall with the local store: each message
  decoded, journaled (`synchronous=FULL`), acknowledged, evaluated by the rules, card
  transitions stored in the journal's outbox and published to MQTT, points written to
  points.sqlite3. Timed from start-up until every message is counted in the journal
  (accepted, duplicate or rejected) and the outbox has nothing unsent.

Rounds alternate bare and daemon; medians. Target (ours): daemon / bare >= 0.80, in one
process (docs/architecture.md: why the rules do not run in a second one).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.common import (
    Result,
    Size,
    Verdict,
    client,
    median,
    mixed_stream,
    open_session,
    publish_all,
    ratio,
    size_arg,
    start_broker,
    stream_mix,
)
from devices.simulator import Message
from hallkit.config import load_config
from hallkit.sdnotify import SdNotifier
from monitor import daemon as daemon_module
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.mqtt import inbound_filters
from tests.brokers import Mosquitto
from tests.hall import HALL, example
from tests.running import free_port, write_config

TARGET = 0.80
SIZES = {Size.TINY: (800, 1), Size.QUICK: (30_000, 1), Size.FULL: (100_000, 3)}
TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonRound:
    rate: float
    accepted: int
    duplicate: int
    rejected: int
    transitions: int
    card_points: int


def bare_drain(workdir: Path, msgs: Sequence[Message]) -> float:
    """Events/s of a bare paho QoS 1 subscriber (auto-ack) draining its queued session."""
    broker = start_broker(workdir)
    try:
        return _bare(broker, msgs)
    finally:
        broker.stop()


def _bare(broker: Mosquitto, msgs: Sequence[Message]) -> float:
    done = threading.Event()
    count = [0]

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        count[0] += 1
        if count[0] == len(msgs):
            done.set()

    def session() -> tuple[float, mqtt.Client]:
        c = client(broker, "hallwatch", "bench-bare", clean=False)
        c.on_message = on_message
        c.connect(broker.host, broker.port)
        return time.perf_counter(), c

    open_session(broker, "hallwatch", "bench-bare", inbound_filters(HALL))
    publish_all(broker, msgs)
    started, c = session()
    c.loop_start()
    try:
        if not done.wait(TIMEOUT_S):
            raise RuntimeError(f"bare subscriber got {count[0]} of {len(msgs)}")
        return len(msgs) / (time.perf_counter() - started)
    finally:
        c.disconnect()
        c.loop_stop()


def daemon_drain(workdir: Path, msgs: Sequence[Message]) -> DaemonRound:
    broker = start_broker(workdir / "broker")
    try:
        return _daemon(broker, workdir, msgs)
    finally:
        broker.stop()


def _daemon(broker: Mosquitto, workdir: Path, msgs: Sequence[Message]) -> DaemonRound:
    cfg_path = write_config(workdir, broker.port, broker.password("hallwatch"), free_port())
    cfg = load_config(cfg_path)

    def run(until_done: bool) -> float:
        daemon = Daemon(cfg, cfg_path, notifier=SdNotifier.from_env({}))
        stop = threading.Event()
        runner = threading.Thread(target=daemon.run, args=(stop,), name="bench-daemon")
        started = time.perf_counter()  # start-up (an empty journal) is counted in
        runner.start()
        try:
            if not daemon.started.wait(60) or not daemon.link.subscribed.wait(60):
                raise RuntimeError("the daemon did not start and subscribe within 60 s")
            if until_done:
                _wait_drained(daemon, len(msgs))
            return time.perf_counter() - started
        finally:
            stop.set()
            runner.join(60)

    run(False)  # creates the persistent session and its subscriptions
    publish_all(broker, msgs)
    elapsed = run(True)
    return _round(workdir / "data", len(msgs) / elapsed)


# Where the writer thread's time goes: (label, file, function), cumulative time.
PROFILE_KEYS = (
    ("decode and classify", "monitor/ingest/ingestor.py", "classify"),
    ("journal commits", "monitor/ingest/journal.py", "append"),
    ("acknowledgements", "monitor/ingest/mqtt.py", "ack"),
    ("rules on each event (with storing their outputs)", "monitor/runner.py", "apply"),
    ("time-driven checks between batches (with outputs)", "monitor/runner.py", "tick"),
    ("… of which attendance day sheets", "alerts/attendance.py", "build_sheet"),
    ("… of which lights, totals, display", "monitor/outputs/publish.py", "refresh"),
    (
        "card outputs: points, outbox (inside the two above)",
        "monitor/outputs/cardstore.py",
        "store",
    ),
)


class _ProfiledIngestor(Ingestor):
    """The daemon's own Ingestor with cProfile around its writer loop (profiled round only)."""

    stats: pstats.Stats | None = None

    def run(self, stop: threading.Event) -> None:
        prof = cProfile.Profile()
        prof.enable()
        try:
            super().run(stop)
        finally:
            prof.disable()
            _ProfiledIngestor.stats = pstats.Stats(prof)


def profile_shares(workdir: Path, msgs: Sequence[Message]) -> list[tuple[str, float]]:
    """One more daemon drain, under cProfile: (what, share of the writer thread's time)."""
    setattr(daemon_module, "Ingestor", _ProfiledIngestor)  # noqa: B010  # this round only
    try:
        daemon_drain(workdir, msgs)
    finally:
        setattr(daemon_module, "Ingestor", Ingestor)  # noqa: B010
    stats = _ProfiledIngestor.stats
    if stats is None:
        return []
    table = stats.stats  # type: ignore[attr-defined]

    def cumulative(path: str, func: str) -> float:
        return float(sum(v[3] for k, v in table.items() if k[0].endswith(path) and k[2] == func))

    total = cumulative("monitor/ingest/ingestor.py", "run")
    return [(label, cumulative(p, f) / total) for label, p, f in PROFILE_KEYS if total]


def _wait_drained(daemon: Daemon, n: int) -> None:
    journal = daemon.ingestor.journal
    deadline = time.monotonic() + TIMEOUT_S
    while sum(dict(journal.counters).values()) < n or journal.unsent(1):
        if time.monotonic() > deadline:
            raise RuntimeError(f"daemon counted {sum(journal.counters.values())} of {n}")
        time.sleep(0.005)


def _round(data: Path, rate: float) -> DaemonRound:
    with sqlite3.connect(f"file:{data / 'journal.sqlite3'}?mode=ro", uri=True) as conn:
        counters = dict(conn.execute("SELECT name, value FROM counters"))
        transitions = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    with sqlite3.connect(f"file:{data / 'points.sqlite3'}?mode=ro", uri=True) as conn:
        points = conn.execute("SELECT count(*) FROM points WHERE measurement = 'card'").fetchone()
    rejected = sum(v for k, v in counters.items() if k.startswith("rejected"))
    return DaemonRound(
        rate=rate,
        accepted=counters.get("accepted", 0),
        duplicate=counters.get("duplicate", 0),
        rejected=rejected,
        transitions=int(transitions),
        card_points=int(points[0]),
    )


def run(size: Size = Size.QUICK, events: int | None = None, rounds: int | None = None) -> Result:
    n, r = SIZES[size]
    n, r = events or n, rounds or r
    started = time.perf_counter()
    msgs = mixed_stream(example(), n)
    bare: list[float] = []
    daemon: list[DaemonRound] = []
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-e2e-") as tmp:
        for i in range(r):
            bare.append(bare_drain(Path(tmp) / f"bare-{i}", msgs))
            daemon.append(daemon_drain(Path(tmp) / f"daemon-{i}", msgs))
            print(f"round {i + 1}: bare {bare[-1]:,.0f}/s, daemon {daemon[-1].rate:,.0f}/s")
        shares = profile_shares(Path(tmp) / "profiled", msgs)
    result = _result(msgs, bare, daemon, time.perf_counter() - started)
    if shares:
        result.notes.append(
            "where the daemon's writer thread spends its time (one more round under cProfile, "
            "not timed; shares of the thread's time): "
            + "; ".join(f"{label} {share:.0%}" for label, share in shares)
        )
    return result


def _result(
    msgs: Sequence[Message], bare: list[float], daemon: list[DaemonRound], seconds: float
) -> Result:
    b, d = median(bare), median([x.rate for x in daemon])
    q = ratio(d, b)
    last = daemon[-1]
    days = {m.at.date() for m in msgs}
    setup = (
        f"{len(msgs):,} messages of the simulated example hall ({len(days)} days up to "
        f"{max(days)}): {stream_mix(msgs)}. {len(bare)} alternating round(s), medians; each "
        "consumer on its own fresh Mosquitto (project config), stream queued while offline."
    )
    return Result(
        name="e2e",
        title="End-to-end ingest (bench/e2e.py)",
        setup=setup,
        header=("consumer", "events/s"),
        rows=[
            ("bare paho QoS 1 subscriber (drain, counts only)", f"{b:,.0f}"),
            ("hallwatch daemon (journaled, evaluated, cards out, points stored)", f"{d:,.0f}"),
            ("ratio daemon / bare", f"{q:.2f}"),
        ],
        verdicts=[
            Verdict(
                measure="daemon / bare",
                value=f"{q:.2f}",
                target=f">= {TARGET:.2f}",
                met=q >= TARGET,
            )
        ],
        notes=[
            f"per round: bare {', '.join(f'{x:,.0f}' for x in bare)}; daemon "
            f"{', '.join(f'{x.rate:,.0f}' for x in daemon)} events/s",
            f"last daemon round: {last.accepted:,} accepted, {last.duplicate:,} duplicates "
            f"(repeated statuses, identical heartbeats), {last.rejected:,} rejected; "
            f"{last.transitions:,} card transitions published, {last.card_points:,} card points "
            "in points.sqlite3",
        ],
        seconds=seconds,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--size", type=size_arg, default=Size.FULL, help="tiny, quick or full")
    ap.add_argument("--events", type=int, help="messages in the stream (overrides --size)")
    ap.add_argument("--rounds", type=int, help="alternating rounds (overrides --size)")
    args = ap.parse_args()
    result = run(args.size, args.events, args.rounds)
    print(result.text(), end="")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Time-series writes: points/s through the daemon's sink against a bare influxdb-client loop.

    .venv/bin/python -m bench.tsdb [--size tiny|quick|full] [--points N] [--rounds R]

The same N card points (the shape alerts/points.py gives a card transition: tags hall,
window, rule, level, state; fields card, case, staff, owner, reason, level_code, ...; each at
its own instant) are written to VictoriaMetrics twice per round, each time to a fresh server:

- sink: monitor/outputs/sinks.py `RemoteSink` as the daemon opens it (durable outbox in SQLite with
  synchronous=FULL, the sender thread, influxdb-client v2 write API, gzip, batches of 5,000):
  `write` in calls of 100 points, as the daemon hands over a batch's transitions, then `flush`;
  timed until the sender counted every point accepted;
- bare: influxdb-client's synchronous write API, gzip, the same points in batches of 5,000,
  rendered by the same `to_line` inside its timer (like for like: the sink renders inside
  its `write`).

Both are checked by query (samples of card_level_code = N). Rounds alternate; medians.
Target (ours): sink / bare >= 0.90. What bounds it is measured in the same run: the
latency of one fdatasync on the data disk, which the outbox pays once per `write` call
(its commit, synchronous=FULL: a point is on disk before the journal records its card as
output, monitor/outputs/cardstore.py), against what the bare loop spends per call in all.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.config import TimeSeriesConfig
from alerts.points import CARD, Point, spread, to_line
from bench.common import Result, Size, Verdict, median, ratio, size_arg
from monitor.outputs.sinks import RemoteSink
from tests.victoria import VictoriaMetrics

SIZES = {Size.TINY: (2_000, 1), Size.QUICK: (50_000, 1), Size.FULL: (200_000, 3)}
CALL = 100  # points per sink.write call
BATCH = 5_000  # the sink's default batch_size, and the bare loop's
TIMEOUT_S = 600.0
TARGET = 0.90
VISIBLE_S = 10.0
FLUSHES = 50  # fdatasync calls timed on the data disk
RULES = ("case.promised.warning", "case.promised.overdue", "post.empty", "attendance.late")


def card_points(n: int, hall: str = "bench-hall") -> list[Point]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    out = []
    for i in range(n):
        card = f"K-2026-{i:07d}"
        tags = {
            "hall": hall,
            "window": f"W{i % 20 + 1:02d}",
            "rule": RULES[i % len(RULES)],
            "level": "yellow" if i % 3 else "red",
            "state": "raised",
        }
        fields: dict[str, int | float | str] = {
            "card": card,
            "reason": "condition_met",
            "evidence": 1,
            "holds": 1,
            "estimated": 0,
            "level_code": 2 if i % 3 == 0 else 1,
            "owner": f"S{i % 40 + 1:03d}",
            "case": f"C2026-{i:07d}",
            "staff": f"S{i % 40 + 1:03d}",
        }
        at = base + timedelta(seconds=i // 4) + spread(card)
        out.append(Point(measurement=CARD, tags=tags, fields=fields, time=at))
    return out


def samples(vm: VictoriaMetrics) -> int:
    return sum(len(r["values"]) for r in vm.export("card_level_code"))


def arrived(vm: VictoriaMetrics, n: int) -> int:
    """Samples counted once all `n` show, or after VISIBLE_S: a sample the server took can
    take a moment to be seen by an export on a loaded machine (bench/scale.py: the same)."""
    deadline = time.monotonic() + VISIBLE_S
    while (count := samples(vm)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def through_sink(vm: VictoriaMetrics, points: list[Point], data: Path) -> tuple[float, float]:
    """(points/s until the server accepted them all, seconds inside `write` calls)."""
    cfg = TimeSeriesConfig(url=vm.url, batch_size=BATCH)
    sink = RemoteSink.open(cfg, data)
    sink.start()
    started = time.perf_counter()
    try:
        for i in range(0, len(points), CALL):
            if not sink.write(points[i : i + CALL]):
                raise RuntimeError("the sink refused points (outbox full)")
        sink.flush()
        enqueued = time.perf_counter() - started
        deadline = time.monotonic() + TIMEOUT_S
        while sink.sender.stats.sent < len(points):
            if time.monotonic() > deadline or sink.sender.stats.rejected:
                raise RuntimeError(f"sink sent {sink.sender.stats.sent} of {len(points)}")
            time.sleep(0.002)
        return len(points) / (time.perf_counter() - started), enqueued
    finally:
        sink.close()


def bare(vm: VictoriaMetrics, points: list[Point]) -> float:
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.domain.write_precision import WritePrecision

    started = time.perf_counter()  # rendering is inside the timer, as it is in the sink's
    with InfluxDBClient(url=vm.url, token="", org="-", enable_gzip=True) as c:
        api = c.write_api(write_options=SYNCHRONOUS)
        for i in range(0, len(points), BATCH):
            api.write(
                bucket="hallwatch",
                org="-",
                record=b"\n".join([to_line(p) for p in points[i : i + BATCH]]),
                write_precision=WritePrecision.NS,
            )
    return len(points) / (time.perf_counter() - started)


def flush_ms(workdir: Path) -> float:
    """Median milliseconds of one fdatasync after a small write, on `workdir`'s disk."""
    workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(workdir / "flush-probe", os.O_WRONLY | os.O_CREAT, 0o600)
    took = []
    try:
        for i in range(FLUSHES):
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
    return median(took)


def _fresh_vm(workdir: Path) -> VictoriaMetrics:
    vm = VictoriaMetrics(workdir)
    vm.start()
    return vm


def run(size: Size = Size.QUICK, n: int | None = None, rounds: int | None = None) -> Result:
    count, r = SIZES[size]
    count, r = n or count, rounds or r
    begun = time.perf_counter()
    points = card_points(count)
    sink_rates: list[float] = []
    enqueue: list[float] = []
    bare_rates: list[float] = []
    checked: list[int] = []
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-tsdb-") as tmp:
        for i in range(r):
            for side in ("bare", "sink"):
                vm = _fresh_vm(Path(tmp) / f"{side}-{i}" / "vm")
                try:
                    if side == "bare":
                        bare_rates.append(bare(vm, points))
                    else:
                        data = Path(tmp) / f"{side}-{i}" / "data"
                        rate, spent = through_sink(vm, points, data)
                        sink_rates.append(rate)
                        enqueue.append(spent)
                    checked.append(arrived(vm, len(points)))
                finally:
                    vm.stop()
            print(f"round {i + 1}: bare {bare_rates[-1]:,.0f}/s, sink {sink_rates[-1]:,.0f}/s")
        flush = flush_ms(Path(tmp) / "flush")
    render = rendering_s(points)
    result = _result(count, sink_rates, bare_rates, checked, time.perf_counter() - begun)
    calls = count / CALL
    waits, bare_s = calls * flush / 1000, count / median(bare_rates)
    result.notes += [
        f"of the sink's time, inside write() (outbox insert, one fsync'd transaction per call "
        f"of {CALL}): median {median(enqueue):,.2f} s of {count / median(sink_rates):,.2f} s",
        f"one fdatasync on the data disk: median {flush:,.2f} ms ({FLUSHES} timed); before its "
        f"last point is queued the sink's caller renders every point ({render:,.2f} s) and "
        f"waits for {calls:,.0f} commits' flushes (at least {waits:,.2f} s); the bare loop "
        f"took {bare_s:,.2f} s in all, so on this disk the ratio cannot exceed "
        f"{bare_s / (render + waits):.2f} (the sender's requests overlap the flushes)",
    ]
    return result


def rendering_s(points: list[Point]) -> float:
    """Seconds `to_line` takes over `points` (the better of two passes)."""
    took = []
    for _ in range(2):
        started = time.perf_counter()
        for p in points:
            to_line(p)
        took.append(time.perf_counter() - started)
    return min(took)


def _result(
    n: int, sink: list[float], base: list[float], checked: list[int], seconds: float
) -> Result:
    s, b = median(sink), median(base)
    q = ratio(s, b)
    complete = all(c == n for c in checked)
    return Result(
        name="tsdb",
        title="Time-series writes to VictoriaMetrics (bench/tsdb.py)",
        setup=(
            f"{n:,} card points per writer per round, {len(sink)} alternating round(s), "
            "medians; a fresh VictoriaMetrics for each writer."
        ),
        header=("writer", "points/s"),
        rows=[
            (
                "bare influxdb-client loop (to_line timed, synchronous, gzip, 5,000 per request)",
                f"{b:,.0f}",
            ),
            ("RemoteSink: durable outbox, sender thread, influxdb-client", f"{s:,.0f}"),
            ("ratio sink / bare", f"{q:.2f}"),
        ],
        verdicts=[
            Verdict(
                measure="every point arrived (samples counted by query)",
                value="yes" if complete else f"no: {checked}",
                target="all",
                met=complete,
            ),
            Verdict(
                measure="sink / bare (rendering timed on both sides)",
                value=f"{q:.2f}",
                target=f">= {TARGET:.2f}",
                met=q >= TARGET,
            ),
        ],
        notes=[
            f"per round: bare {', '.join(f'{x:,.0f}' for x in base)}; sink "
            f"{', '.join(f'{x:,.0f}' for x in sink)} points/s"
        ],
        seconds=seconds,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--size", type=size_arg, default=Size.FULL, help="tiny, quick or full")
    ap.add_argument("--points", type=int, help="points per writer (overrides --size)")
    ap.add_argument("--rounds", type=int, help="alternating rounds (overrides --size)")
    args = ap.parse_args()
    result = run(args.size, args.points, args.rounds)
    print(result.text(), end="")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

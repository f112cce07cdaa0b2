"""`./dev bench all [--quick] [--write docs/benchmarks.md]`: run every benchmark, write the page.

    .venv/bin/python -m bench.report [--size tiny|quick|full] [--quick] [--write FILE]
                                     [--only NAME ...]

Runs bench/e2e.py, bench/latency.py, bench/scale.py (large hall, ten halls, and
bench/timers.py), bench/tsdb.py and bench/decode.py, quotes bench/ingest.py, and renders
their tables, ratios and verdicts with the machine they ran on (CPU, cores, RAM, disk, OS,
Python, Mosquitto, VictoriaMetrics), the date and the load the machine carried, as Markdown.
The page is written by this command only, never by hand.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import decode, e2e, latency, scale, tsdb
from bench.common import Result, Size, Verdict, loadavg, machine, size_arg

PARTS = ("e2e", "latency", "scale", "tsdb", "ingest", "decode")
SCALE_PARTS = ("scale-large", "scale-province", "scale-timers")  # --only one part of scale
INGEST_ARGS = {Size.TINY: None, Size.QUICK: ("20000", "1"), Size.FULL: ("100000", "3")}


class LoadSampler:
    """The 1-minute load average every few seconds while the benchmarks run."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = [loadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(loadavg()[0])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10.0)
        self.samples.append(loadavg()[0])


def ingest_result(size: Size) -> Result | None:
    args = INGEST_ARGS[size]
    if args is None:
        return None
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--events", args[0], "--rounds", args[1]],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"bench.ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = [ln.rstrip() for ln in done.stdout.splitlines() if ln.strip()]
    return Result(
        name="ingest",
        title="Ingest, punches only (bench/ingest.py, quoted)",
        setup=f"`python -m bench.ingest --events {args[0]} --rounds {args[1]}` in a child process.",
        header=("bench/ingest.py output",),
        rows=[(ln,) for ln in lines],
        seconds=time.perf_counter() - started,
    )


def run_all(size: Size, only: Sequence[str]) -> list[Result]:
    steps: dict[str, list[tuple[str, Callable[[], list[Result]]]]] = {
        "e2e": [("e2e", lambda: [e2e.run(size)])],
        "latency": [("latency", lambda: [latency.run(size)])],
        "scale": [
            (f"scale-{part}", functools.partial(scale.run, size, (part,)))
            for part in ("large", "province", "timers")
        ],
        "tsdb": [("tsdb", lambda: [tsdb.run(size)])],
        "ingest": [("ingest", lambda: [r for r in [ingest_result(size)] if r is not None])],
        "decode": [("decode", lambda: [decode.run(size)])],
    }
    for pair in steps["scale"]:
        steps[pair[0]] = [pair]  # one part of the scale benchmark alone: --only scale-timers
    out: list[Result] = []
    for name, step in (pair for part in only for pair in steps[part]):
        print(f"--- {name} ({size})", flush=True)
        started = time.perf_counter()
        try:
            results = step()
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            results = [_failed(name, exc, time.perf_counter() - started)]
        for result in results:
            print(result.text(), flush=True)
            out.append(result)
    return out


def _failed(name: str, exc: Exception, seconds: float) -> Result:
    return Result(
        name=name,
        title=f"{name}: did not complete",
        setup=f"{name} raised {type(exc).__name__}: {exc}",
        header=("",),
        rows=[],
        verdicts=[Verdict(measure=f"{name} completed", value="no", target="yes", met=False)],
        seconds=seconds,
    )


# --- Markdown ---------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    out.append("| " + " | ".join("---" for _ in header) + " |")
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _section(r: Result) -> list[str]:
    out = [f"## {r.title}", "", r.setup, ""]
    if len(r.header) == 1:  # another benchmark's printout, quoted as it printed it
        out += ["```text", *[row[0] for row in r.rows], "```"]
    else:
        out += _table(r.header, r.rows)
    out.append("")
    out += [f"- {n}" for n in r.notes]
    out += [f"- run time {r.seconds:,.0f} s", ""]
    return out


def render(
    results: Sequence[Result],
    size: Size,
    hw: Sequence[tuple[str, str]],
    load: Sequence[float],
    when: datetime,
    took: float,
) -> str:
    cores = os.cpu_count() or 1
    busy = max(load) > cores * 0.75
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by `./dev bench all --write docs/benchmarks.md` (bench/report.py). "
        "Do not edit by hand: rerun the command. -->",
        "",
        f"Produced by `./dev bench all --write docs/benchmarks.md` (`python -m bench.report`), "
        f"size **{size}**, on {when:%Y-%m-%d %H:%M} UTC, {took / 60:,.0f} min in all. Each "
        "figure is measured against a baseline in the same run, on the same machine, so load "
        "from other work slows both sides of a ratio. The topology these figures support is "
        "in [topology.md](topology.md); the targets are the project's own.",
        "",
        "## Machine",
        "",
        *_table(("", ""), hw),
        "",
        f"Load average (1 min): {load[0]:.2f} at the start, highest sampled {max(load):.2f}, "
        f"{load[-1]:.2f} at the end, on {cores} cores."
        + (
            " The load went above three quarters of the cores (the benchmarks' own servers "
            "and clients, or other work on the machine): absolute figures are lower than on "
            "an idle machine; the ratios, measured side by side, less so."
            if busy
            else ""
        ),
        "",
        "## Summary",
        "",
    ]
    rows = [(r.name, v.measure, v.value, v.target, v.word) for r in results for v in r.verdicts]
    lines += _table(("bench", "measure", "value", "target", "verdict"), rows)
    lines.append("")
    for r in results:
        lines += _section(r)
    return "\n".join(lines).rstrip() + "\n"


def splice(page: str, results: Sequence[Result], note: str) -> str:
    """A page with these results' sections and summary rows replaced, and `note` added to
    the machine section: for rerunning one benchmark without rerunning all of them."""
    lines = page.split("\n")
    for name in dict.fromkeys(r.name for r in results):  # each in place: others lie between
        rows = [i for i, ln in enumerate(lines) if ln.startswith(f"| {name} |")]
        new_rows = [
            "| "
            + " | ".join(_cell(c) for c in (r.name, v.measure, v.value, v.target, v.word))
            + " |"
            for r in results
            if r.name == name
            for v in r.verdicts
        ]
        if rows:
            lines[rows[0] : rows[-1] + 1] = new_rows
        elif "## Summary" in lines:  # a benchmark new to the page: its rows end the summary
            end = lines.index("## Summary") + 1
            while end < len(lines) and not lines[end].startswith("|"):
                end += 1
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            lines[end:end] = new_rows
    page = "\n".join(lines)
    for r in results:
        head = f"\n## {r.title}\n"
        start = page.find(head)
        if start < 0:
            page = page.rstrip() + "\n\n" + "\n".join(_section(r))
            continue
        end = page.find("\n## ", start + len(head))
        end = len(page) if end < 0 else end + 1
        page = page[: start + 1] + "\n".join(_section(r)) + "\n" + page[end:]
    anchor = page.find("\n## Summary")
    return page[:anchor] + f"\n{note}\n" + page[anchor:]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--size", type=size_arg, default=Size.FULL, help="tiny, quick or full")
    ap.add_argument("--quick", action="store_true", help="same as --size quick")
    ap.add_argument("--write", type=Path, help="write the Markdown page here")
    ap.add_argument(
        "--only", nargs="+", choices=(*PARTS, *SCALE_PARTS), help=f"default: {' '.join(PARTS)}"
    )
    ap.add_argument(
        "--splice",
        type=Path,
        help="rerun --only these and replace their sections in this page (written in place)",
    )
    args = ap.parse_args(argv)
    size = Size.QUICK if args.quick else args.size
    when, started = datetime.now(UTC), time.perf_counter()
    sampler = LoadSampler()
    try:
        results = run_all(size, args.only or PARTS)
    finally:
        sampler.close()
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as tmp:
        hw = machine(Path(tmp))
    if args.splice is not None:
        load = sampler.samples
        note = (
            f"Rerun later with `python -m bench.report --size {size} --only "
            f"{' '.join(args.only or PARTS)} --splice {args.splice}` on {when:%Y-%m-%d %H:%M} "
            f"UTC: {', '.join(r.name for r in results)}; load average (1 min) {load[0]:.2f} at "
            f"its start, highest sampled {max(load):.2f}, {load[-1]:.2f} at its end."
        )
        args.splice.write_text(
            splice(args.splice.read_text(encoding="utf-8"), results, note), encoding="utf-8"
        )
        print(f"spliced into {args.splice}")
        return 0 if all(r.ok for r in results) else 1
    page = render(results, size, hw, sampler.samples, when, time.perf_counter() - started)
    if args.write is not None:
        args.write.write_text(page, encoding="utf-8")
        print(f"wrote {args.write}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

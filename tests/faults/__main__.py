"""`python -m tests.faults` (`./dev faults`): run the fault suite, write docs/reliability.md.

    python -m tests.faults                 # the suite, the soak included, page rewritten
    python -m tests.faults --no-soak       # without the month-long soak
    python -m tests.faults --out FILE      # write the page elsewhere

Runs pytest in this process with a small plugin that keeps, per test, its outcome, duration
and the numbers it recorded with `record_property`; then renders one row per fault of
tests/faults/catalog.py. The exit code is pytest's: non-zero when any fault test failed (the
page is written anyway, with the failure in it).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.faults.catalog import FAULTS, SOAK_ENV, Fault

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reliability.md"


@dataclass(slots=True)
class Result:
    outcome: str = "passed"
    duration: float = 0.0
    numbers: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class Collector:
    """A pytest plugin: what happened to each test, and the numbers it recorded."""

    def __init__(self) -> None:
        self.results: dict[str, Result] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        r = self.results.setdefault(report.nodeid, Result())
        r.duration += report.duration
        r.numbers.update(dict(report.user_properties))
        if report.failed:
            r.outcome = "failed"
            r.message = _first_line(report)
        elif report.skipped and r.outcome != "failed":
            r.outcome = "skipped"
            r.message = _skip_reason(report)


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.splitlines()[0][:200] if text else ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return ""


def targets() -> list[str]:
    """Every test of the catalog, as arguments pytest collects (files that exist)."""
    out: list[str] = []
    for fault in FAULTS:
        for node in fault.nodes:
            if "::" not in node:  # a file-name prefix: every such file
                out += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(node + "*.py"))
            elif (ROOT / node.partition("::")[0]).exists():
                out.append(node.removesuffix("::"))
    return list(dict.fromkeys(out))


def matching(results: dict[str, Result], fault: Fault) -> dict[str, Result]:
    return {n: r for n, r in results.items() if any(n.startswith(p) for p in fault.nodes)}


def verdict(found: dict[str, Result]) -> str:
    if not found:
        return "not run (no such test yet)"
    outcomes = [r.outcome for r in found.values()]
    if "failed" in outcomes:
        bad = [
            f"{n.split('::')[-1]}: {r.message}" for n, r in found.items() if r.outcome == "failed"
        ]
        return "**FAIL** — " + "; ".join(bad)
    if all(o == "skipped" for o in outcomes):
        reasons = sorted({r.message for r in found.values()})
        return "skipped — " + "; ".join(reasons)
    passed = outcomes.count("passed")
    return f"pass ({passed} test{'s' if passed > 1 else ''})"


def numbers(found: dict[str, Result]) -> str:
    parts = []
    for r in found.values():
        parts += [f"{k} {v if k == 'seed' else _fmt(v)}" for k, v in r.numbers.items()]
    seconds = sum(r.duration for r in found.values())
    parts.append(f"{seconds:.0f} s")
    return ", ".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def rerun(fault: Fault) -> str:
    prefix = f"{SOAK_ENV}=1 " if fault.on_demand else ""
    paths = " ".join(f"'{n.removesuffix('::')}'" if "::" in n else f"{n}*.py" for n in fault.nodes)
    return f"`{prefix}.venv/bin/pytest {paths}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine() -> list[str]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB RAM"
    return [
        f"{platform.system()} {platform.release()} ({platform.machine()}), "
        f"{os.cpu_count()} CPUs {cpu}, {mem}",
        f"Python {platform.python_version()}; {_version(['mosquitto', '-h'])}; "
        f"VictoriaMetrics {_version(['dpkg-query', '-W', '-f', '${Version}', 'victoria-metrics'])}",
    ]


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=10, env={**os.environ, "PATH": _path()}
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"{cmd[0]} not found"
    out = (done.stdout + done.stderr).strip().splitlines()
    return out[0].strip() if out else "unknown"


def _path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def render(results: dict[str, Result], started: datetime, elapsed: float, soak: bool) -> str:
    lines = [
        "# Reliability: the fault suite",
        "",
        "<!-- Generated by `./dev faults` (python -m tests.faults) from the test results: do not "
        "edit by hand. -->",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min in all"
        + ("" if soak else " (the soak not included: `--no-soak`)")
        + ". Machine:",
        "",
        *[f"- {m}" for m in machine()],
        "",
        "Every fault runs against the real components the daemon meets in a hall: Mosquitto "
        "started from `config/mosquitto.conf` and `config/mosquitto.acl` (tests/brokers.py), "
        "VictoriaMetrics (tests/victoria.py), the daemon as its own process "
        "(tests/running.py). The faults except the soak run with `./dev test`; the soak runs "
        f"on demand (`{SOAK_ENV}=1`). Numbers are what each test recorded in this run.",
        "",
        "| fault | how injected | what was checked | result | numbers | rerun |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fault in FAULTS:
        found = matching(results, fault)
        row = [
            fault.title,
            fault.injected,
            fault.checked,
            verdict(found),
            numbers(found) if found else "",
            rerun(fault),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    lines += [
        "",
        "Cards under kills: after each restart the daemon judges nothing before the broker's "
        "backlog for its session is read (a sync marker it publishes to itself comes back "
        "behind the queue); while a clock or the case system is still sending, time-driven "
        "rules judge only as far as it is heard (the injected clock stands, so no source goes "
        "idle); seat (post.*) warnings raise and clear at the instants the presence readings "
        "give. So where the ticks fall moves no card: the kill test compares every card, "
        "transition for transition, and finds none voided. tests/faults/test_evidence.py "
        "asserts the same for a day published live, queued, killed and interrupted, and that "
        "a silent clock's voids name it (docs/cards.md).",
        "",
        "Related, run with every `./dev test`: tests/test_durability.py (20,000 events, two "
        "SIGKILLs), tests/test_broker_config.py (the ACL topic by topic, a queued message "
        "across a broker restart), tests/test_hostile.py (one message per reject reason), "
        "tests/test_sinks.py (outage of the time-series server at the sink level).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults")
    parser.add_argument("--no-soak", action="store_true", help="leave the month-long soak out")
    parser.add_argument("--out", type=Path, default=PAGE, help="the page to write")
    args, extra = parser.parse_known_args(argv)
    if not args.no_soak:
        os.environ[SOAK_ENV] = "1"
    collector = Collector()
    started, t0 = datetime.now(UTC), time.monotonic()
    os.chdir(ROOT)
    code = pytest.main(["-p", "no:cacheprovider", "-q", *targets(), *extra], plugins=[collector])
    page = render(collector.results, started, time.monotonic() - t0, not args.no_soak)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out} ({len(collector.results)} tests, pytest exit {int(code)})")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())

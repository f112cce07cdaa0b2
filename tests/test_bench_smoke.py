"""The benchmarks at their tiniest sizes, so their code cannot rot (no speed is asserted).

Runs `python -m bench.report --size tiny` the way `./dev bench all` does, against real
Mosquitto, `hallwatch run` and VictoriaMetrics, and checks the page it writes: every
benchmark present, every figure a finite positive number, every point counted as arrived.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import report
from bench.common import Result, Size

pytestmark = pytest.mark.integration

EXPECTED = ("e2e", "latency", "scale-large", "scale-province", "scale-timers", "tsdb")


def _numbers(result: Result) -> list[float]:
    cells = " ".join(c for row in result.rows for c in row)
    return [float(x.replace(",", "")) for x in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", cells)]


def test_every_benchmark_runs_at_its_tiniest_size_and_writes_the_page(tmp_path: Path) -> None:
    results = report.run_all(Size.TINY, ("e2e", "latency", "scale", "tsdb"))
    assert [r.name for r in results] == list(EXPECTED)
    for r in results:
        numbers = _numbers(r)
        assert numbers, f"{r.name}: no figures in {r.rows}"
        assert all(math.isfinite(x) and x >= 0 for x in numbers), (r.name, r.rows)
        assert r.verdicts or r.name == "scale-large", r.name
    by_name = {r.name: r for r in results}
    e2e_ratio = float(by_name["e2e"].rows[2][1])
    assert 0 < e2e_ratio < 10
    seen = [row[1] for row in by_name["latency"].rows[:3]]
    assert all(a == b for a, b in (s.split("/") for s in seen)), seen  # every probe seen
    arrived = [(r.name, v) for r in results for v in r.verdicts if "arrived" in v.measure]
    assert [name for name, _ in arrived] == ["latency", "latency", "scale-province", "tsdb"]
    assert all(v.met for _, v in arrived), arrived

    page = report.render(
        results, Size.TINY, [("CPU", "x")], [0.5, 1.0], datetime(2026, 11, 23, 12, tzinfo=UTC), 60.0
    )
    out = tmp_path / "benchmarks.md"
    out.write_text(page, encoding="utf-8")
    text = out.read_text(encoding="utf-8")
    for r in results:
        assert f"## {r.title}" in text
    assert "Do not edit by hand" in text

"""bench/report.py `splice`: rerunning some benchmarks replaces their rows and sections only."""

from __future__ import annotations

from datetime import UTC, datetime

from bench import report
from bench.common import Result, Size, Verdict


def _result(name: str, value: str) -> Result:
    return Result(
        name=name,
        title=f"{name} (bench/{name}.py)",
        setup=f"{name} setup",
        header=("what", "value"),
        rows=[("figure", value)],
        verdicts=[Verdict(measure=f"{name} figure", value=value, target="-", met=None)],
    )


def test_splicing_two_benchmarks_keeps_the_rows_between_them() -> None:
    first = [_result(n, "1") for n in ("e2e", "latency", "scale-large", "tsdb", "decode")]
    when = datetime(2026, 12, 1, 12, tzinfo=UTC)
    page = report.render(first, Size.QUICK, [("CPU", "x")], [0.5], when, 60.0)
    again = [_result("latency", "2"), _result("tsdb", "3")]
    spliced = report.splice(page, again, "Rerun later: latency, tsdb.")
    summary = [ln for ln in spliced.split("\n") if ln.count(" | ") == 4 and " figure |" in ln]
    assert summary == [
        "| e2e | e2e figure | 1 | - | - |",
        "| latency | latency figure | 2 | - | - |",
        "| scale-large | scale-large figure | 1 | - | - |",
        "| tsdb | tsdb figure | 3 | - | - |",
        "| decode | decode figure | 1 | - | - |",
    ]
    assert spliced.count("## scale-large (bench/scale-large.py)") == 1
    assert "| figure | 3 |" in spliced and "Rerun later: latency, tsdb." in spliced

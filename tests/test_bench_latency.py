"""bench/latency.py's observers and verdicts, without running the benchmark.

The store observer once counted every card point written since the start: the daemon's
ticks also write card points at the present instant (the background's past-day cards
closing, most with no case), so the store looked complete before the last probe's point
had been read, the wait for it ended early and that probe was reported as never arriving.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.points import CARD, Point, time_ns
from bench.latency import RULE, Probes, _result, p99_of, probe_cases
from monitor.outputs.localstore import LocalStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _card(rule: str, state: str, case: str | None, at: datetime) -> Point:
    fields: dict[str, int | float | str] = {"card": f"K-{rule}-{case}", "level_code": 2}
    if case is not None:
        fields["case"] = case
    tags = {"hall": "H1", "window": "W03", "rule": rule, "level": "red", "state": state}
    return Point(measurement=CARD, tags=tags, fields=fields, time=at)


def test_the_store_observer_reads_the_probes_cards_only(tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path)
    store.write(
        [
            _card(RULE, "raised", "L1200-0000049", NOW + timedelta(milliseconds=3)),
            _card("attendance.missing_punch", "closed", None, NOW + timedelta(milliseconds=5)),
            _card("case.immediate.open_at_close", "closed", "C20261127-0033", NOW),
            _card(RULE, "raised", "L1200-0000099", NOW - timedelta(days=3)),  # before `since`
        ]
    )
    store.close()
    conn = sqlite3.connect(f"file:{tmp_path / 'points.sqlite3'}?mode=ro", uri=True)
    try:
        assert probe_cases(conn, time_ns(NOW)) == ["L1200-0000049"]
    finally:
        conn.close()


def test_the_wait_ends_only_once_every_probe_was_seen_everywhere() -> None:
    sent = {"L1": 1.0, "L2": 2.0}
    p = Probes(sent=sent, broker=dict(sent), mqtt=dict(sent), store={"L1": 1.1, "C9": 1.2})
    p.store["x"] = 1.3  # as many keys as probes, and still one probe short
    assert not p.settled()
    p.store["L2"] = 2.1
    assert p.settled()


def _probes(n: int, store_misses: int) -> Probes:
    sent = {f"L{i}": float(i) for i in range(n)}
    seen = {k: t + 0.010 for k, t in sent.items()}
    store = {k: t + 0.020 for k, t in list(sent.items())[store_misses:]}
    return Probes(sent=sent, broker=dict(seen), mqtt=dict(seen), store=store)


def test_each_verdict_is_judged_on_its_own_figures() -> None:
    p = _probes(400, store_misses=1)
    result = _result(p, 399, (20_000, 20.0, 1000.0), 2**26, 30.0)
    verdicts = {v.measure: v for v in result.verdicts}
    assert verdicts["p99 event → card on MQTT"].met
    assert verdicts["every probe's card on MQTT arrived"].met
    assert verdicts["every probe's card on MQTT arrived"].value == "400/400"
    assert verdicts["p99 event → card point in the store"].met  # 1 of 400 late is within p99
    assert not verdicts["every probe's card point in the store arrived"].met
    assert verdicts["every probe's card point in the store arrived"].value == "399/400"
    assert not result.ok


def test_a_probe_never_seen_counts_as_never_arriving_in_the_p99() -> None:
    assert p99_of([10.0] * 95, 100) == float("inf")  # 5 % missing: the p99 is one of them
    assert p99_of([10.0] * 100, 100) == 10.0
    p = _probes(100, store_misses=5)
    verdicts = {v.measure: v for v in _result(p, 95, (5_000, 5.0, 1000.0), 1, 1.0).verdicts}
    assert not verdicts["p99 event → card point in the store"].met
    assert verdicts["p99 event → card on MQTT"].met

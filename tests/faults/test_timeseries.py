"""Fault: the time-series server goes down while cards stream in, then comes back.

tests/test_sinks.py takes VictoriaMetrics down under the sink alone. Here the whole daemon
writes to a real VictoriaMetrics ([timeseries] url): the server is stopped before a stream of
case events that raise cards, started again later, and every card transition must reach it
exactly once. A second daemon with a small outbox bound (`max_outbox_rows`) meets a server that
stays down: past the bound it refuses new points and raises its system card on MQTT
(docs/timeseries.md), which closes once the server is back and the backlog drained.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.cards import CardState, Subject, Transition, Why
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.points import points_for_transition
from alerts.rules import Level, RuleId
from monitor.outputs.sinks import OUTBOX_FILE, Outbox
from monitor.system_cards import SINK_FULL_RULE
from tests.brokers import ConsoleWatch, Mosquitto
from tests.faults.common import publish_window, read_only, rebuilt
from tests.hall import HALL
from tests.running import DaemonProcess, free_port, wait_until, write_config
from tests.victoria import VictoriaMetrics

pytestmark = pytest.mark.integration

CASES = 40
BOUND = 300


def _daemon(
    broker: Mosquitto, directory: Path, vm: VictoriaMetrics, daemons: list[DaemonProcess], **ts: Any
) -> tuple[DaemonProcess, Path]:
    directory.mkdir()
    web = free_port()
    cfg = write_config(directory, broker.port, broker.password("hallwatch"), web)
    table = {"url": vm.url, "flush_interval_s": 0.2, "retry_min_s": 0.2, "retry_max_s": 1.0, **ts}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    with cfg.open("a", encoding="utf-8") as f:
        f.write("\n[timeseries]\n" + lines)
    daemon = DaemonProcess(cfg, web, directory / "daemon.log")
    daemons.append(daemon)
    daemon.start()
    return daemon, cfg


def _cases(prefix: str, n: int) -> list[tuple[str, bytes]]:
    """Promised cases accepted a month ago: each raises a warning, reds and escalations."""
    out = []
    at = datetime.now(UTC) - timedelta(days=30)
    for i in range(n):
        case = f"C-{prefix}-{i:03d}"
        doc = {
            "id": f"{case}-acc",
            "case": case,
            "action": "accepted",
            "kind": "promised",
            "ts": (at + timedelta(minutes=i)).isoformat(),
            "window": f"W{i % 20 + 1:02d}",
            "staff": f"S{i % 40 + 1:03d}",
            "promised_days": 3,
            "legal_days": 10,
        }
        out.append((f"hall/{HALL}/case/{case}/event", json.dumps(doc).encode()))
    return out


def _pending(data: Path) -> int:
    path = data / OUTBOX_FILE
    if not path.exists():
        return 0
    with read_only(path) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _journaled(data: Path) -> int:
    with read_only(data / "journal.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _holds(data: Path, n: int) -> Callable[[], bool]:
    return lambda: _journaled(data) >= n


def _cards_journaled(data: Path) -> int:
    try:
        with read_only(data / "journal.sqlite3") as conn:
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _expected(config: Path) -> Counter[tuple[frozenset[tuple[str, str]], int]]:
    """The `card` points of every transition a replay of the journal gives: labels, ms."""
    sup = rebuilt(config)
    out: Counter[tuple[frozenset[tuple[str, str]], int]] = Counter()
    for card in sup.engine.cards.values():
        for t in card.history:
            p = points_for_transition(HALL, t)[0]
            out[(frozenset(p.tags.items()), p.time_ns // 1_000_000)] += 1
    return out


def _stored(vm: VictoriaMetrics) -> Counter[tuple[frozenset[tuple[str, str]], int]]:
    out: Counter[tuple[frozenset[tuple[str, str]], int]] = Counter()
    for series in vm.export(f'{{__name__="card_holds",hall="{HALL}"}}'):
        labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
        for ms in series["timestamps"]:
            out[(frozenset(labels.items()), int(ms))] += 1
    return out


def test_server_outage_loses_nothing_and_a_full_outbox_raises_its_card(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    vm = VictoriaMetrics(tmp_path / "victoria")
    vm.start()
    try:
        daemon, cfg = _daemon(mosquitto, tmp_path / "outage", vm, daemons)
        data = tmp_path / "outage" / "data"
        vm.stop()
        publish_window(mosquitto, _cases("TS", CASES), "ts-cases")
        wait_until(lambda: _pending(data) > 0, 60, "points waiting in the outbox")
        waiting = _pending(data)
        vm.start()
        wait_until(lambda: _pending(data) == 0, 60, "the backlog drained")
        assert daemon.stop() == 0
        expected = _expected(cfg)
        assert sum(expected.values()) >= 3 * CASES
        wait_until(lambda: _stored(vm) == expected, 30, "every card point exactly once")
        record_property("transitions", sum(expected.values()))
        record_property("backlog_points", waiting)

        # A bound of 300 points while the server is down: refused past it, a card raised.
        watch = ConsoleWatch(mosquitto, "fault-cardwatch")
        try:
            bounded, _ = _daemon(
                mosquitto, tmp_path / "bounded", vm, daemons, max_outbox_rows=BOUND
            )
            full = tmp_path / "bounded" / "data"
            vm.stop()
            cases = _cases("FULL", CASES)
            for i in range(0, CASES, 4):  # a few cases at a time: the outbox fills gradually
                publish_window(mosquitto, cases[i : i + 4], f"ts-full-{i}")
                wait_until(_holds(full, i + 4), 30, "the cases journaled")
            wait_until(lambda: "raised" in watch.states(SINK_FULL_RULE), 60, "the outbox card")
            assert 0 < _pending(full) <= BOUND
            assert "time-series outbox is full" in bounded.log.read_text()
            vm.start()
            wait_until(
                lambda: watch.states(SINK_FULL_RULE) == ["raised", "closed"], 60, "card closed"
            )
            assert bounded.stop() == 0
            record_property("bound_points", BOUND)
            record_property("refused_episode_cards", 1)
            record_property("outbox_card", "raised, closed")
        finally:
            watch.close()
    finally:
        vm.stop()
    assert _cards_journaled(full) > 0


def test_a_write_bigger_than_the_room_left_does_not_block_the_outbox_for_good(
    tmp_path: Path,
) -> None:
    """Found by the fault above: refused with nothing queued, the outbox stayed full forever."""
    calls: list[int] = []
    outbox = Outbox.open(tmp_path, max_rows=10, on_full=calls.append)
    big = [p for i in range(8) for p in points_for_transition(HALL, _transition(i))]
    assert len(big) > 10 and not outbox.enqueue(big)
    assert outbox.full and calls == [len(big)]
    assert outbox.peek(10) == [] and not outbox.full  # the sender finds it empty: over
    assert outbox.enqueue(big[:4]) and outbox.pending() == 4
    outbox.close()


def _transition(i: int) -> Transition:
    return Transition(
        card=CardId(f"K-{i}"),
        rule=RuleId.PROMISED_OVERDUE,
        level=Level.RED,
        state=CardState.RAISED,
        why=Why.CONDITION_MET,
        subject=Subject(case=CaseId(f"C{i}"), window=WindowId("W01"), staff=StaffId("S001")),
        owner=StaffId("S001"),
        answer_by=None,
        ts=datetime(2026, 11, 20, 9, i, tzinfo=UTC),
        evidence=(EventId(f"e{i}"),),
        holds=True,
    )

"""The daemon's throttles and retry loops on a fake clock (hallkit.clock.FakeClock): the
card outputs' retry, the ingest's commit retry, a crashed thread's restarts, the gathering of
attendance facts and the lights' refresh rate. No test sleeps: a wait moves the clock."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.config import HallConfig
from alerts.ids import StaffId, WindowId
from alerts.supervision import Supervision
from hallkit.clock import FakeClock
from monitor.ingest.ingestor import Classifier, Inbound, IngestHealth, Ingestor, Rules
from monitor.ingest.journal import Entry, Journal
from monitor.outputs.cardstore import CardStore, OutboxWriter
from monitor.outputs.localstore import LocalStore
from monitor.outputs.publish import Presenter
from monitor.runner import FACTS_EVERY_S, Runner
from monitor.threads import restarting
from monitor.web.display import DisplayHub
from tests.hall import HALL, example, punch, topic

CFG = example()
T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # Monday 09:30 in the hall


def _writer(tmp_path: Path, clock: FakeClock) -> tuple[OutboxWriter, IngestHealth]:
    health = IngestHealth()
    return OutboxWriter(Journal.open(tmp_path, HALL), clock, health, threading.Event()), health


def test_card_outputs_are_retried_with_a_doubling_delay_up_to_30_s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    writer, health = _writer(tmp_path, clock)
    failures = iter(range(8))

    def write() -> str:
        if next(failures, None) is not None:
            raise OSError(28, "No space left on device")
        return "stored"

    with caplog.at_level(logging.INFO):
        assert writer.until_stored(write) == "stored"
    assert clock.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert clock.at == T0.replace(minute=31, second=31, microsecond=500000)
    assert health.failures == 8 and health.journal_error is None
    assert "card outputs stored again" in caplog.text


def test_a_failing_card_output_says_why_in_the_health_while_it_waits(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    writer, health = _writer(tmp_path, clock)
    seen: list[str | None] = []

    def write() -> None:
        seen.append(health.journal_error)
        if len(seen) < 3:
            raise sqlite3.OperationalError("disk I/O error")

    writer.until_stored(write)
    assert seen == [None, "OperationalError: disk I/O error", "OperationalError: disk I/O error"]
    assert health.journal_error is None


class _FullDisk(Journal):
    fail = 0

    def append(self, entries: Sequence[Entry], known_duplicates: int = 0) -> list[int | None]:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return super().append(entries, known_duplicates)


class _Acks:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, batch: Sequence[Inbound]) -> None:
        self.acked += [m.mid for m in batch]


def test_the_ingest_retries_a_failed_commit_on_the_clock_and_acks_after_it(
    tmp_path: Path,
) -> None:
    clock, stop, acks = FakeClock(T0), threading.Event(), _Acks()
    journal = _FullDisk.open(tmp_path, HALL)
    assert isinstance(journal, _FullDisk)
    journal.fail = 3
    ing = Ingestor(
        journal,
        Classifier(Rules.of(CFG), {}),
        acks,
        lambda fresh: None,
        clock.now,
        on_idle=stop.set,  # one batch, then stop
        clock=clock,
    )
    ing.submit(Inbound(topic("clock", "CLK-EAST", "punch"), punch(), T0, mid=7))
    ing.run(stop)
    assert clock.waits == [0.5, 1.0, 2.0]
    assert acks.acked == [7] and journal.event_count() == 1
    assert ing.health.failures == 3 and ing.health.journal_error is None


def test_a_crashing_thread_restarts_each_second_then_every_30_s(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, stop, runs = FakeClock(T0), threading.Event(), [0]

    def body() -> None:
        runs[0] += 1
        if runs[0] <= 7:
            raise RuntimeError("injected")

    with caplog.at_level(logging.ERROR):
        restarting("outbox", body, stop, clock, max_restarts=5)
    assert runs == [8]
    assert clock.waits == [1.0] * 5 + [30.0, 30.0]
    assert "outbox crashed 6 times in a minute; next attempt in 30 s" in caplog.text


def test_a_stopped_thread_is_not_restarted() -> None:
    clock, stop = FakeClock(T0), threading.Event()

    def body() -> None:
        stop.set()
        raise RuntimeError("injected")

    restarting("outbox", body, stop, clock, max_restarts=5)
    assert clock.waits == []


class _Asked(Supervision):
    """The real state, saying which ticks were allowed to run the rules on new facts."""

    def __init__(self, cfg: HallConfig) -> None:
        super().__init__(cfg)
        self.asked: list[bool] = []
        self.waiting = True  # facts wait for the rules whenever they may run

    def due(self, now: datetime, facts: bool = True) -> bool:
        self.asked.append(facts)
        return facts and self.waiting


class _Counted(Presenter):
    refreshes = 0

    def refresh(
        self,
        sup: Supervision,
        now: datetime,
        unknown: Collection[WindowId] = (),
        on_post: Mapping[WindowId, StaffId | None] | None = None,
        staffed: int | None = None,
    ) -> None:
        self.refreshes += 1
        super().refresh(sup, now, unknown, on_post, staffed)


# The throttles, not the sources' rule (tests/test_sources.py): judged at the clock's time.
AT_ONCE = CFG.model_copy(update={"cards": CFG.cards.model_copy(update={"idle_after_s": 0})})


def _runner(tmp_path: Path, clock: FakeClock) -> tuple[Runner, _Asked, _Counted]:
    sup, health = _Asked(AT_ONCE), IngestHealth()
    journal = Journal.open(tmp_path, HALL)
    sink = LocalStore.open(tmp_path)
    store = CardStore(HALL, sink, OutboxWriter(journal, clock, health, threading.Event()))
    display = DisplayHub(CFG.hall.zone, now=clock.now)
    presenter = _Counted(CFG, lambda t, p, r: None, display, sink.write)
    return Runner(sup, CFG.hall.zone, store, presenter, None, clock, health), sup, presenter


def test_attendance_facts_gather_for_a_second_under_a_stream(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    runner, sup, _ = _runner(tmp_path, clock)
    for step in (0.0, 0.25, 0.5, 0.5, 0.25, 0.5, 0.5):  # ticks between batches
        clock.advance(step)
        runner.tick()
    runner.final_tick()  # a clean stop judges every fact that waits
    assert FACTS_EVERY_S == 1.0
    assert sup.asked == [True, False, False, True, False, False, True, True]


def test_lights_refresh_once_a_second_after_a_change_and_every_10_s_idle(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    runner, sup, presenter = _runner(tmp_path, clock)
    sup.waiting = False  # no rules run: nothing changes but the clock
    runner.tick()  # the first tick: never refreshed yet
    assert presenter.refreshes == 1
    clock.advance(9.75)
    runner.tick()
    assert presenter.refreshes == 1
    clock.advance(0.25)
    runner.tick()
    assert presenter.refreshes == 2
    runner.reconfigure(CFG)  # a change: the next tick marks the lights stale
    clock.advance(0.5)
    runner.tick()
    assert presenter.refreshes == 2
    clock.advance(0.5)
    runner.tick()
    assert presenter.refreshes == 3

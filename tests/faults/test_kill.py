"""Fault: the daemon SIGKILLed ten times at random moments while a simulated hall day streams in.

tests/test_durability.py kills twice under 20,000 uniform events and checks the journal; this
test kills ten times under the simulator's mixed day (punches, presence heartbeats, device
status, cases, ratings, complaints) and also checks the derived result: the cards rebuilt from
the killed daemon's journal equal those of an undisturbed daemon fed the same stream through
its own broker, both on the same injected clock.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.faults.common import (
    Publisher,
    card_differences,
    expected_ids,
    is_status,
    journal_rows,
    replayed,
    sim_stream,
    start_clocked,
)
from tests.hall import example
from tests.running import DaemonProcess, wait_until

pytestmark = pytest.mark.integration

KILLS = 10
SEED = 8


def _holds(data: Path, want: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        path = data / "journal.sqlite3"
        return path.exists() and want <= {i for i, _ in journal_rows(data)}

    return check


def _reached(data: Path, n: int) -> Callable[[], bool]:
    return lambda: _count(data) >= n


def _count(data: Path) -> int:
    path = data / "journal.sqlite3"
    return len(journal_rows(data)) if path.exists() else 0


def test_ten_sigkills_during_a_stream_leave_the_journal_and_cards_of_an_undisturbed_run(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    msgs = sim_stream(example(), days=1, seed=SEED)
    want = expected_ids((m.topic, m.payload) for m in msgs)
    started = time.monotonic()
    # Both runs on one injected, standing clock: the same receive times and tick instants, so
    # any difference in the cards is the kills' doing (tests/faults/clockd.py).
    at = datetime.now(UTC)

    # The undisturbed run: its own broker, its own data directory.
    quiet = Mosquitto(tmp_path / "quiet-broker")
    quiet.start()
    try:
        ref_dir = tmp_path / "quiet"
        ref, ref_cfg = start_clocked(quiet, ref_dir, daemons, at)
        Publisher(quiet, msgs, "quiet").run()
        wait_until(_holds(ref_dir / "data", want), 180, "the undisturbed run to journal all")
        assert ref.stop() == 0
    finally:
        quiet.stop()

    # The same stream while the daemon is SIGKILLed at random moments.
    run_dir = tmp_path / "killed"
    daemon, cfg = start_clocked(mosquitto, run_dir, daemons, at)
    data = run_dir / "data"
    publisher = Publisher(mosquitto, msgs, "killed")
    publisher.start()
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    record_property("seed", seed)
    total = len(want)
    thresholds = sorted(rng.sample(range(total // 20, total * 9 // 10), KILLS))
    restarts = []
    for threshold in thresholds:
        wait_until(_reached(data, threshold), 120, f"{threshold} journaled")
        time.sleep(rng.uniform(0, 0.05))  # a random moment, not always right after a commit
        daemon.kill()
        t0 = time.monotonic()
        daemon.start()
        restarts.append(time.monotonic() - t0)
    sent = publisher.finish(180)
    wait_until(_holds(data, want), 180, "every event journaled after the kills")
    assert daemon.stop() == 0

    quiet_rows, killed_rows = journal_rows(ref_dir / "data"), journal_rows(data)
    killed_ids = [i for i, t in killed_rows if not is_status(t)]
    assert len(killed_ids) == len(set(killed_ids)) == total, "each event journaled exactly once"
    assert set(killed_ids) == want == {i for i, t in quiet_rows if not is_status(t)}
    statuses = [t for _, t in killed_rows if is_status(t)]
    assert len(statuses) == len([t for _, t in quiet_rows if is_status(t)])

    assert [i for i, t in killed_rows if not is_status(t)] == [
        i for i, t in quiet_rows if not is_status(t)
    ], "the same events in the same journal order"

    undisturbed, killed = replayed(ref_cfg), replayed(cfg)
    # Every card, seat warnings included, transition for transition, and none voided: after
    # a restart the daemon judges nothing before the broker's backlog is read (the sync
    # marker); while a source is still sending, time-driven rules judge only as far as it is
    # heard (the clock stands still here, so no source ever goes idle); seat warnings raise
    # and clear at the readings' instants (docs/cards.md, "Sources and how far each is heard").
    assert killed.cards == undisturbed.cards, card_differences(undisturbed, killed)
    assert killed.transitions > 0 and len(killed.cards) > 0
    voided = [c for c, h in killed.cards.items() if json.loads(h[-1])["reason"] == "void"]
    assert not voided, f"cards raised and then voided: {voided}"
    record_property("cards_exact", len(killed.cards))
    record_property("seat_cards", len(killed.kept("post.")))
    for key, value in {
        "messages": sent,
        "events": total,
        "kills": KILLS,
        "cards": len(killed.cards),
        "transitions": killed.transitions,
        "restart_max_s": round(max(restarts), 2),
        "duration_s": round(time.monotonic() - started, 1),
    }.items():
        record_property(key, value)

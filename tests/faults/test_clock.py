"""Fault: the wall clock steps back an hour, then forward a day, while cases are open.

The daemon runs on an injected clock (tests/faults/clockd.py): the production daemon with its
`now` read from a file. Promised cases accepted over the last working days have deadlines
behind, just ahead of and well after the clock. The clock steps back an hour (a few cases are
completed then), then forward a day. Every deadline the day passed must give its red card once,
stamped with the deadline itself, never twice, never before the deadline; the cards the daemon
published live (its journal's outbox) must equal a replay of its journal.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.config import work_calendar
from tests.brokers import Mosquitto
from tests.faults.common import ClockedDaemon, publish_window, read_only, replayed, start_clocked
from tests.hall import HALL, example
from tests.running import DaemonProcess, wait_until

pytestmark = pytest.mark.integration

CASES = 80
OVERDUE = "case.promised.overdue"


def _published(data: Path) -> list[dict[str, Any]]:
    """Card transitions the daemon stored for publishing, in order (the journal's outbox)."""
    with read_only(data / "journal.sqlite3") as conn:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY seq")]


def _clock_of(daemon: ClockedDaemon) -> datetime:
    url = f"http://127.0.0.1:{daemon.web_port}/display/state"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return datetime.fromtimestamp(json.load(resp)["now"] / 1000, UTC)


def _step(daemon: ClockedDaemon, at: datetime) -> None:
    daemon.set_clock(at)
    wait_until(lambda: abs(_clock_of(daemon) - at) < timedelta(seconds=1), 10, f"clock {at}")


def _overdue_raised(data: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t in _published(data):
        if t["rule"] == OVERDUE and t["state"] == "raised" and t["reason"] == "condition_met":
            out.setdefault(t["subject"]["case"], []).append(t)
    return out


def test_clock_stepped_back_an_hour_and_forward_a_day_misses_and_doubles_no_deadline(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    cfg = example()
    cal = work_calendar(cfg)
    t0 = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(11)
    cases: dict[str, datetime] = {}  # case → promised deadline
    accepted = []
    for i in range(CASES):
        case = f"C-CLK-{i:03d}"
        at = t0 - timedelta(hours=rng.uniform(2, 24 * 8))
        days = rng.randint(1, 5)
        cases[case] = cal.add_working_days(at, days).at
        doc = {
            "id": f"{case}-acc",
            "case": case,
            "action": "accepted",
            "kind": "promised",
            "ts": at.isoformat(),
            "window": f"W{i % 20 + 1:02d}",
            "staff": f"S{i % 40 + 1:03d}",
            "promised_days": days,
            "legal_days": 20,
        }
        accepted.append((f"hall/{HALL}/case/{case}/event", json.dumps(doc).encode()))
    # The daemon's own clock steps here, while it stands between the steps: judged at once
    # (idle_after_s 0), not held for sources that a standing clock never lets go idle.
    daemon, cfg_path = start_clocked(mosquitto, tmp_path / "clocked", daemons, t0, 0)
    data = tmp_path / "clocked" / "data"
    publish_window(mosquitto, accepted, "clock-cases")
    due_now = {c for c, d in cases.items() if d <= t0}
    wait_until(lambda: due_now <= _overdue_raised(data).keys(), 60, "the overdue reds at t0")

    back = t0 - timedelta(hours=1)
    _step(daemon, back)
    # While the clock is an hour behind, a few cases due later are completed in time.
    later = sorted(c for c, d in cases.items() if d > t0 + timedelta(days=1))
    done_at = back - timedelta(minutes=5)
    completed = set(later[: max(1, len(later) // 3)])
    completions = [
        (
            f"hall/{HALL}/case/{c}/event",
            json.dumps(
                {
                    "id": f"{c}-done",
                    "case": c,
                    "action": "completed",
                    "outcome": "approved",
                    "ts": done_at.isoformat(),
                }
            ).encode(),
        )
        for c in sorted(completed)
    ]
    publish_window(mosquitto, completions, "clock-done")
    wait_until(
        lambda: len(_published(data)) > 0 and _journaled(data) == CASES + len(completed),
        30,
        "the completions journaled",
    )

    ahead = t0 + timedelta(days=1)
    _step(daemon, ahead)
    due = {c for c, d in cases.items() if d <= ahead}
    wait_until(lambda: due <= _overdue_raised(data).keys(), 60, "the reds the day brought")
    assert daemon.stop() == 0

    assert due_now and due - due_now and completed, "the stream covers every situation"
    raised = _overdue_raised(data)
    assert set(raised) == due, "a red for every passed deadline and for no other case"
    assert all(len(v) == 1 for v in raised.values()), "no red raised twice"
    for case, [t] in raised.items():
        assert datetime.fromisoformat(t["ts"]) == cases[case], "stamped with its deadline"
    live = _published(data)
    per_card: dict[str, list[datetime]] = {}
    for t in live:
        per_card.setdefault(t["card"], []).append(datetime.fromisoformat(t["ts"]))
    assert all(ts == sorted(ts) for ts in per_card.values()), "a card's history never goes back"
    assert not [c for c in completed if c in raised], "completed in time: no red"
    replay = replayed(cfg_path)
    from_replay = Counter(p for h in replay.cards.values() for p in h)
    from_live = Counter(json.dumps(t, ensure_ascii=False, sort_keys=True).encode() for t in live)
    assert from_live == from_replay, "what was published live equals a replay of the journal"
    record_property("cases", CASES)
    record_property("due_before_step", len(due_now))
    record_property("due_in_the_day", len(due - due_now))
    record_property("completed_behind", len(completed))
    record_property("transitions", len(live))


def _journaled(data: Path) -> int:
    with read_only(data / "journal.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])

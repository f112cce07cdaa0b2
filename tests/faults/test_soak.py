"""Soak (on demand, HALLWATCH_SOAK=1): a simulated month of the example hall at full speed.

The simulator's last 30 working days, over a month (punches, seat presence heartbeats, cases,
ratings, complaints) goes through Mosquitto into the daemon as fast as both take it. Recorded:
the daemon's resident memory after start, at half the stream and at the end; journal and store
sizes. Checked: the running daemon's totals and cards (/state) and every card transition it
published (the journal's outbox) equal a replay of its journal.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.brokers import Mosquitto
from tests.faults.catalog import SOAK_ENV
from tests.faults.common import (
    expected_ids,
    journal_rows,
    publish_window,
    read_only,
    replayed,
    sim_stream,
)
from tests.hall import example
from tests.running import DaemonProcess, start_daemon, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get(SOAK_ENV), reason=f"on demand: {SOAK_ENV}=1"),
]

DAYS = 30  # working days: six calendar weeks


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise AssertionError("no VmRSS")


def _state(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/state", timeout=10) as resp:
        return dict(json.load(resp))


def _size_mb(data: Path, name: str) -> float:
    files = [p for p in data.iterdir() if p.name.startswith(name)]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def test_a_simulated_month_at_full_speed(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    msgs = sim_stream(example(), days=DAYS, seed=30)
    want = expected_ids((m.topic, m.payload) for m in msgs)
    daemon, cfg = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    assert daemon.proc is not None
    pid, data = daemon.proc.pid, tmp_path / "data"
    rss = [_rss_mb(pid)]
    started = time.monotonic()
    half = len(msgs) // 2
    items = [(m.topic, m.payload) for m in msgs]
    publish_window(mosquitto, items[:half], "soak-1")
    first = expected_ids(items[:half])
    wait_until(lambda: first <= {i for i, _ in journal_rows(data)}, 600, "the first half")
    rss.append(_rss_mb(pid))
    publish_window(mosquitto, items[half:], "soak-2")
    wait_until(lambda: want <= {i for i, _ in journal_rows(data)}, 900, "the whole month")
    elapsed = time.monotonic() - started
    count = len(journal_rows(data))
    wait_until(lambda: _state(daemon.web_port)["events_applied"] == count, 30, "all applied")
    live = _state(daemon.web_port)
    rss.append(_rss_mb(pid))
    assert daemon.stop() == 0

    replay = replayed(cfg)
    keys = ("cards", "cards_open", "cards_holding", "card_transitions")
    assert {k: live[k] for k in keys} == {k: replay.summary[k] for k in keys}
    same = {k: v for k, v in live.items() if k in replay.summary and k not in keys}
    assert same == {k: replay.summary[k] for k in same}, "totals equal the replay's"
    with read_only(data / "journal.sqlite3") as conn:
        published = Counter(bytes(p) for (p,) in conn.execute("SELECT payload FROM outbox"))
    assert published == Counter(p for h in replay.cards.values() for p in h)
    assert rss[-1] < 1024, f"resident memory {rss} MB"
    for key, value in {
        "days": DAYS,
        "messages": len(msgs),
        "events": len(want),
        "events_per_s": round(len(msgs) / elapsed),
        "rss_mb_start_half_end": " / ".join(map(str, rss)),
        "journal_mb": _size_mb(data, "journal.sqlite3"),
        "store_mb": _size_mb(data, "points.sqlite3"),
        "cards": len(replay.cards),
        "transitions": replay.transitions,
    }.items():
        record_property(key, value)

"""The daemon's own cards (monitor/system_cards.py): built by the core's card payload, one
card per episode, raised then closed, on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from alerts.points import Point
from hallkit.clock import FakeClock
from monitor.ingest.journal import OutboxRow
from monitor.outputs.localstore import LocalStore
from monitor.system_cards import SESSION_RULE, SINK_FULL_RULE, TITLES, SystemCards

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


class _Recorded:
    def __init__(self) -> None:
        self.rows: list[tuple[OutboxRow, datetime]] = []

    def __call__(self, rows: Sequence[OutboxRow], at: datetime) -> None:
        self.rows += [(r, at) for r in rows]

    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(r.payload) for r, _ in self.rows]


class _Sink:
    """A remote sink, as far as the main loop looks at it: its outbox, full or not."""

    def __init__(self, full: bool) -> None:
        self.outbox = SimpleNamespace(full=full)
        self.path = Path("tsdb-outbox.sqlite3")

    def write(self, points: Sequence[Point]) -> bool:
        return not self.outbox.full

    def start(self) -> None:
        pass

    def close(self, timeout_s: float = 5.0) -> None:
        pass


def test_an_unstable_session_raises_one_card_and_closes_it() -> None:
    clock, rec = FakeClock(T0), _Recorded()
    cards = SystemCards("demo-county", clock, rec)
    cards.session(False)
    cards.session(True)
    clock.advance(60)
    cards.session(True)  # still the same episode
    clock.advance(240)
    cards.session(False)
    raised, closed = rec.docs()
    assert raised == {
        "card": raised["card"],
        "rule": SESSION_RULE,
        "level": "red",
        "state": "raised",
        "subject": {"case": None, "window": None, "staff": None},
        "owner": None,
        "answer_by": None,
        "ts": "2026-11-23T01:30:00+00:00",
        "evidence": [],
        "reason": "condition_met",
        "holds": True,
        "title": TITLES[SESSION_RULE],
    }
    assert raised["card"].startswith("K-") and len(raised["card"]) == 18
    assert closed == {
        **raised,
        "state": "closed",
        "reason": "cleared",
        "holds": False,
        "ts": "2026-11-23T01:35:00+00:00",
    }
    (r1, at1), (r2, at2) = rec.rows
    assert r1.topic == r2.topic == f"hall/demo-county/cards/{raised['card']}"
    assert r1.id != r2.id and (at1, at2) == (T0, clock.now())


def test_each_full_episode_of_the_sink_is_a_card_of_its_own() -> None:
    clock, rec = FakeClock(T0), _Recorded()
    cards = SystemCards("demo-county", clock, rec)
    cards.sink_refused(10)
    cards.sink_room(_Sink(full=True))  # still full: the card stays
    clock.advance(5)
    cards.sink_room(_Sink(full=False))
    cards.sink_room(_Sink(full=False))  # closed once
    clock.advance(5)
    cards.sink_refused(3)
    docs = rec.docs()
    assert [(d["rule"], d["state"], d["holds"]) for d in docs] == [
        (SINK_FULL_RULE, "raised", True),
        (SINK_FULL_RULE, "closed", False),
        (SINK_FULL_RULE, "raised", True),
    ]
    assert docs[0]["card"] == docs[1]["card"] != docs[2]["card"]
    assert docs[0]["title"] == TITLES[SINK_FULL_RULE] and cards.sink_full == 2


def test_a_local_store_has_no_outbox_to_fill(tmp_path: Path) -> None:
    rec = _Recorded()
    cards = SystemCards("demo-county", FakeClock(T0), rec)
    cards.sink_refused(1)
    cards.sink_room(LocalStore.open(tmp_path))  # no outbox: nothing to close
    assert len(rec.rows) == 1

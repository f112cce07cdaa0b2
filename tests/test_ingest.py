"""The ingest's one promise: nothing is acknowledged before the batch holding it committed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.contract import decode, decode_journaled
from alerts.events import DeviceStatus, Event, Recorded
from alerts.supervision import Supervision
from monitor.ingest.ingestor import Classifier, Inbound, Ingestor, Rules
from monitor.ingest.journal import Entry, Journal
from monitor.ingest.replay import replay
from tests.hall import HALL, T0, body, example, punch, topic

CFG = example()


class RecordingJournal(Journal):
    """The real journal, with the order of commits and acks written down."""

    def __init__(self, inner: Journal, log: list[tuple[str, int]], fail: int = 0) -> None:
        super().__init__(inner._conn, inner.path)
        self.log = log
        self.fail = fail

    def append(self, entries: Sequence[Entry], known_duplicates: int = 0) -> list[int | None]:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        out = super().append(entries, known_duplicates)
        self.log.append(("commit", len(entries) + known_duplicates))
        return out


class RecordingAcker:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log

    def ack(self, msg: Inbound) -> None:
        self.log.append(("ack", msg.mid))


def _ingestor(tmp_path: Path, fail: int = 0) -> tuple[Ingestor, list[tuple[str, int]], list[Event]]:
    log: list[tuple[str, int]] = []
    seen: list[Event] = []
    journal = RecordingJournal(Journal.open(tmp_path, HALL), log, fail)
    ing = Ingestor(
        journal,
        Classifier(Rules.of(CFG), {}),
        RecordingAcker(log),
        lambda fresh: seen.extend(r.event for r in fresh),
        now=lambda: T0,
        batch_max=50,
        batch_wait_s=0,
    )
    return ing, log, seen


def _msg(i: int, payload: bytes | None = None, t: str | None = None) -> Inbound:
    ts = (T0 - timedelta(seconds=i)).isoformat()
    return Inbound(
        topic=t or topic("clock", "CLK-EAST", "punch"),
        payload=payload if payload is not None else punch(ts=ts, id=f"e{i}"),
        received_at=T0,
        mid=i + 1,
    )


def test_every_ack_follows_the_commit_of_its_batch(tmp_path: Path) -> None:
    ing, log, seen = _ingestor(tmp_path)
    for i in range(120):
        ing.submit(_msg(i, b"not json" if i % 7 == 0 else None))
    stop = threading.Event()
    stop.set()
    ing.run(stop)  # stop already set: drains what is queued, then returns
    committed = 0
    for what, n in log:
        if what == "commit":
            committed += n
        else:
            assert n <= committed, "message acknowledged before its batch was committed"
    assert committed == 120 and sum(1 for w, _ in log if w == "ack") == 120
    assert len(seen) == 120 - len(range(0, 120, 7))
    assert ing.journal.counters["rejected.bad_json"] == len(range(0, 120, 7))


def test_failed_commit_acks_nothing_and_retries(tmp_path: Path) -> None:
    ing, log, _ = _ingestor(tmp_path, fail=2)
    batch = [_msg(i) for i in range(10)]
    with pytest.raises(sqlite3.OperationalError):
        ing.process(batch)
    assert log == []
    stop = threading.Event()
    retry = threading.Thread(target=ing._commit_until_done, args=(batch, stop))
    retry.start()
    retry.join(timeout=10)
    assert not retry.is_alive()
    assert [w for w, _ in log].count("ack") == 10 and ing.health.journal_error is None
    assert ing.health.failures == 1


def test_duplicates_are_journaled_once(tmp_path: Path) -> None:
    ing, _, seen = _ingestor(tmp_path)
    ing.process([_msg(1), _msg(2)])
    ing.process([_msg(1), _msg(2), _msg(3)])
    assert len(seen) == 3 and ing.journal.event_count() == 3
    assert ing.journal.counters == {"accepted": 3, "duplicate": 2}


def test_device_status_is_journaled_on_change_only(tmp_path: Path) -> None:
    ing, _, seen = _ingestor(tmp_path)
    st_t = topic("clock", "CLK-EAST", "status")
    for i, payload in enumerate((b"online", b"online", b"offline", b"offline", b"online")):
        ing.process([Inbound(topic=st_t, payload=payload, received_at=T0 + timedelta(seconds=i))])
    assert [e.online for e in seen if isinstance(e, DeviceStatus)] == [True, False, True]
    assert ing.journal.counters["duplicate"] == 2


def test_replay_equals_live_state(tmp_path: Path) -> None:
    live = Supervision(CFG)
    ing, _, _ = _ingestor(tmp_path)

    def apply(fresh: Sequence[Recorded]) -> None:
        for rec in fresh:
            live.apply(rec)

    ing._on_committed = apply
    msgs = [_msg(i) for i in range(30)]
    msgs += [_msg(0, b"online", topic("camera", "CAM1", "status"))]
    msgs += [
        _msg(
            0,
            body(window="W02", present=True, persons=1, ts=T0.isoformat()),
            topic("camera", "CAM1", "presence"),
        )
    ]
    ing.process(msgs)
    rebuilt, _ = replay(ing.journal, CFG)
    assert rebuilt.digest() == live.digest() and rebuilt.state.applied == 32


STAFF = st.sampled_from(["S001", "S002", "S040", "L001"])
NAIVE_OR_NOT = st.sampled_from(["", "+08:00", "Z", "+05:30"])


@settings(max_examples=200, deadline=None)
@given(
    staff=STAFF,
    seconds=st.integers(min_value=-86400 * 30, max_value=200),
    suffix=NAIVE_OR_NOT,
    device=st.sampled_from(["CLK-EAST", "CLK-WEST"]),
)
def test_journaled_event_decodes_to_the_live_event(
    staff: str, seconds: int, suffix: str, device: str
) -> None:
    local = (T0 + timedelta(seconds=seconds)).astimezone(CFG.hall.zone).replace(tzinfo=None)
    payload = punch(staff=staff, ts=local.isoformat() + suffix)
    t = topic("clock", device, "punch")
    d = decode(t, payload, T0, HALL, Rules.of(CFG).directory, Rules.of(CFG).limits)
    if hasattr(d, "event"):
        assert decode_journaled(t, payload, HALL, d.event.ts) == d.event

"""The ingest's one promise: nothing is acknowledged before the batch holding it committed.

Messages come from the in-package fake bus (monitor/ingest/bus.py); the link itself is tested
against Mosquitto (tests/test_daemon_ops.py, tests/test_broker_config.py, tests/faults/)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.contract import INBOUND_AREAS, decode, decode_journaled
from alerts.events import DeviceStatus, Event, Recorded
from alerts.supervision import Supervision
from monitor.ingest.bus import Bus, MemoryBus
from monitor.ingest.ingestor import Classifier, Inbound, Ingestor, Rules, RulesFailed, reject_source
from monitor.ingest.journal import AcceptEntry, Entry, Journal
from monitor.ingest.mqtt import MqttLink
from monitor.ingest.replay import replay
from tests.hall import HALL, T0, body, example, punch, topic

CFG = example()
BUSES: tuple[type[Bus], ...] = (MqttLink, MemoryBus)  # mypy: the link and its fake are buses


class RecordingJournal(Journal):
    """The real journal, with each commit written down: (messages, acks the bus had by then)."""

    def __init__(self, inner: Journal, bus: MemoryBus, fail: int = 0) -> None:
        super().__init__(inner._conn, inner.path)
        self.bus = bus
        self.commits: list[tuple[int, int]] = []
        self.fail = fail

    def append(self, entries: Sequence[Entry], known_duplicates: int = 0) -> list[int | None]:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        out = super().append(entries, known_duplicates)
        self.commits.append((len(entries) + known_duplicates, len(self.bus.acked)))
        return out


def _ingestor(
    tmp_path: Path, fail: int = 0, poison: bytes | None = None, batch_max: int = 50
) -> tuple[Ingestor, MemoryBus, list[Event]]:
    bus = MemoryBus()
    seen: list[Event] = []
    inner = Journal.open(tmp_path, HALL)
    journal = (
        RecordingJournal(inner, bus, fail) if poison is None else PoisonJournal(inner, bus, poison)
    )
    ing = Ingestor(
        journal,
        Classifier(Rules.of(CFG), {}),
        bus,
        lambda fresh: seen.extend(r.event for r in fresh),
        now=lambda: T0,
        batch_max=batch_max,
        batch_wait_s=0,
    )
    bus.subscribe(ing.submit)
    return ing, bus, seen


def _msg(i: int, payload: bytes | None = None, t: str | None = None) -> Inbound:
    ts = (T0 - timedelta(seconds=i)).isoformat()
    return Inbound(
        topic=t or topic("clock", "CLK-EAST", "punch"),
        payload=payload if payload is not None else punch(ts=ts, id=f"e{i}"),
        received_at=T0,
        mid=i + 1,
    )


def _inject(bus: MemoryBus, i: int, payload: bytes | None = None) -> Inbound:
    m = _msg(i, payload)
    return bus.inject(m.topic, m.payload, m.received_at)


def test_every_ack_follows_the_commit_of_its_batch(tmp_path: Path) -> None:
    ing, bus, seen = _ingestor(tmp_path)
    sent = [_inject(bus, i, b"not json" if i % 7 == 0 else None) for i in range(120)]
    assert [m.mid for m in sent] == list(range(1, 121))
    stop = threading.Event()
    stop.set()
    ing.run(stop)  # stop already set: drains what is queued, then returns
    assert isinstance(ing.journal, RecordingJournal)
    committed = acks = 0
    for n, acks_by_then in [*ing.journal.commits, (0, len(bus.acked))]:
        for m in bus.acked[acks:acks_by_then]:  # acknowledged since the commit before
            assert m.mid <= committed, "message acknowledged before its batch was committed"
        committed, acks = committed + n, acks_by_then
    assert committed == 120 and len(bus.acked) == 120
    assert len(seen) == 120 - len(range(0, 120, 7))
    assert ing.journal.counters["rejected.bad_json"] == len(range(0, 120, 7))


def test_failed_commit_acks_nothing_and_retries(tmp_path: Path) -> None:
    ing, bus, _ = _ingestor(tmp_path, fail=2)
    batch = [_msg(i) for i in range(10)]
    with pytest.raises(sqlite3.OperationalError):
        ing.process(batch)
    assert bus.acked == []
    stop = threading.Event()
    retry = threading.Thread(target=ing._commit_until_done, args=(batch, stop))
    retry.start()
    retry.join(timeout=10)
    assert not retry.is_alive()
    assert len(bus.acked) == 10 and ing.health.journal_error is None
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


class PoisonJournal(RecordingJournal):
    """The real journal, whose insert fails (as UnicodeEncodeError did) on one payload."""

    def __init__(self, inner: Journal, bus: MemoryBus, poison: bytes) -> None:
        super().__init__(inner, bus)
        self.poison = poison

    def append(self, entries: Sequence[Entry], known_duplicates: int = 0) -> list[int | None]:
        if any(isinstance(e, AcceptEntry) and e.payload == self.poison for e in entries):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return super().append(entries, known_duplicates)


def test_a_message_that_breaks_the_insert_is_kept_and_the_batch_goes_on(tmp_path: Path) -> None:
    poison = punch(ts=(T0 - timedelta(seconds=7)).isoformat(), id="poison")
    ing, bus, seen = _ingestor(tmp_path, poison=poison, batch_max=1000)
    journal = ing.journal
    for i in range(200):
        _inject(bus, i, poison if i == 77 else None)
    stop = threading.Event()
    stop.set()
    ing.run(stop)
    assert ing.health.writer_error is None and ing.health.journal_error is None
    assert journal.event_count() == 199 and len(seen) == 199
    (kept,) = journal.rejects()
    assert kept.reason == "internal_error" and kept.payload == poison
    assert "UnicodeEncodeError" in kept.detail
    acks = [m.mid for m in bus.acked]
    assert sorted(acks) == list(range(1, 201)), "every message acknowledged exactly once"
    assert ing.health.isolated == 1


def test_an_event_the_rules_fail_on_is_kept_and_the_others_applied(tmp_path: Path) -> None:
    applied: list[str] = []

    def rules(fresh: Sequence[Recorded]) -> None:
        failed = []
        for r in fresh:
            if r.event_id == "e5":
                failed.append((r, ZeroDivisionError("a rule's bug")))
            else:
                applied.append(r.event_id)
        if failed:
            raise RulesFailed(failed)

    ing, _, _ = _ingestor(tmp_path)
    ing._on_committed = rules
    ing.process([_msg(i) for i in range(10)])
    assert len(applied) == 9 and ing.journal.event_count() == 10
    (kept,) = ing.journal.rejects()
    assert kept.reason == "internal_error" and "ZeroDivisionError" in kept.detail
    assert kept.payload == _msg(5).payload and ing.health.rules_errors == 1


def test_a_writer_that_dies_says_why(tmp_path: Path) -> None:
    ing, _, _ = _ingestor(tmp_path)

    def broken() -> None:
        raise RuntimeError("a bug between batches")

    ing._on_idle = broken
    ing.run(threading.Event())  # returns: the daemon sees the thread end and exits
    assert ing.health.writer_error == "RuntimeError: a bug between batches"


def test_rejects_over_a_sources_rate_are_counted_not_stored(tmp_path: Path) -> None:
    ing, _, _ = _ingestor(tmp_path)
    rules = Rules.of(CFG)
    assert (rules.reject_rate_per_s, rules.reject_burst) == (1.0, 100)
    east, west = topic("clock", "CLK-EAST", "punch"), topic("clock", "CLK-WEST", "punch")
    for start in range(0, 300, 50):
        ing.process([_msg(i, b"x") for i in range(start, start + 50)])
    ing.process([_msg(i, b"x", west) for i in range(10)])
    later = [Inbound(topic=east, payload=b"x", received_at=T0 + timedelta(seconds=30), mid=1)] * 40
    ing.process(later)
    j = ing.journal
    assert j.counters["rejected.bad_json"] == 350, "every reject counted by its reason"
    stored = Counter(r.topic for r in j.rejects(1000))
    assert stored == {east: 100 + 30, west: 10}
    assert j.counters["rejects_limited"] == j.counters["rejects_limited.clock"] == 210


def test_a_source_is_a_device_or_an_area() -> None:
    assert reject_source(topic("clock", "CLK-EAST", "punch")) == ("clock/CLK-EAST", "clock")
    assert reject_source(
        topic(
            "camera",
            "CAM1",
            "presence",
        )
    ) == ("camera/CAM1", "camera")
    assert reject_source(topic("case", "C1", "event")) == ("case", "case")
    assert reject_source("hall/x") == ("other", "other")


# Topics a hostile account could reach: every inbound area, any key and leaf (lone
# surrogates included), and a few other shapes.
CHARS = st.characters(exclude_categories=())  # lone surrogates (category Cs) too
ANY_TEXT = st.text(CHARS | st.sampled_from("\ud800\udfff/+#\x00é"), max_size=12)
AREAS = st.sampled_from([*INBOUND_AREAS, "light", ""])
REAL_TOPICS = st.sampled_from(
    [
        topic("clock", "CLK-EAST", "punch"),
        topic("clock", "CLK-WEST", "punch"),
        topic("clock", "CLK-EAST", "status"),
        topic("camera", "CAM1", "presence"),
        topic("camera", "CAM1", "status"),
        topic("case", "C1", "event"),
        topic("staff", "S001", "status"),
        topic("complaint", "K-1", "event"),
        topic("rating", "C1"),
        topic("card", "K-1", "command"),
    ]
)
HOSTILE_TOPIC = st.one_of(
    REAL_TOPICS,
    REAL_TOPICS,
    st.builds(lambda a, k, leaf: f"hall/{HALL}/{a}/{k}/{leaf}", AREAS, ANY_TEXT, ANY_TEXT),
    st.builds(lambda a, k: f"hall/{HALL}/{a}/{k}", AREAS, ANY_TEXT),
    ANY_TEXT.map(lambda t: f"hall/{HALL}/" + t),
)
JSON_ISH = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.dictionaries(
    st.sampled_from(["id", "staff", "ts", "verify", "state", "window", "case", "action"]),
    JSON_ISH,
)
TIMES = st.sampled_from(
    ["2026-11-23T08:20:00+08:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "x"]
)
NEAR_VALID = st.builds(
    lambda f, ts: json.dumps({"staff": "S001", "ts": ts, "verify": "card", **f}).encode(),
    FIELDS,
    TIMES,
)
# A valid punch but for one text, like the lone surrogate that once stalled ingest (journal.md).
ONE_HOSTILE_TEXT = st.builds(
    lambda k, v: json.dumps({"staff": "S001", "ts": T0.isoformat(), "verify": "card", k: v}),
    st.sampled_from(["id", "state", "note"]),
    ANY_TEXT,
).map(str.encode)
HOSTILE_PAYLOAD = st.one_of(
    ONE_HOSTILE_TEXT,
    st.binary(max_size=200),
    FIELDS.map(lambda f: json.dumps(f).encode()),  # \u escapes, NaN, Infinity included
    NEAR_VALID,
)


def apply_all(live: Supervision, fresh: Sequence[Recorded]) -> None:
    for r in fresh:
        live.apply(r)


@settings(max_examples=150, deadline=None)
@given(hostile=st.lists(st.tuples(HOSTILE_TOPIC, HOSTILE_PAYLOAD), max_size=25), data=st.data())
def test_any_bytes_on_any_topic_leave_every_valid_event_journaled_once(
    hostile: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    valid = [
        _msg(i, punch(ts=(T0 - timedelta(seconds=i)).isoformat(), id=f"valid-{i}"))
        for i in range(20)
    ]
    hostile_msgs = [
        Inbound(topic=t, payload=p, received_at=T0, mid=1000 + i)
        for i, (t, p) in enumerate(hostile)
    ]
    stream = data.draw(st.permutations(valid + hostile_msgs))
    with tempfile.TemporaryDirectory() as tmp:
        live = Supervision(CFG)
        bus = MemoryBus()
        journal = Journal.open(tmp, HALL, synchronous="normal")
        ing = Ingestor(
            journal,
            Classifier(Rules.of(CFG), {}),
            bus,
            lambda fresh: apply_all(live, fresh),
            now=lambda: T0,
            batch_max=data.draw(st.integers(1, 50)),
            batch_wait_s=0,
        )
        bus.subscribe(ing.submit)
        delivered = [bus.inject(m.topic, m.payload, m.received_at) for m in stream]
        stop = threading.Event()
        stop.set()
        ing.run(stop)
        h = ing.health
        assert h.writer_error is None and h.journal_error is None and h.failures == 0
        ids = Counter(str(r.event_id) for r in journal.events())
        assert all(ids[f"valid-{i}"] == 1 for i in range(20)), ids
        acks = sorted(m.mid for m in bus.acked)
        assert acks == sorted(m.mid for m in delivered), "each message acknowledged once"
        counted = sum(v for k, v in journal.counters.items() if k.startswith("rejected."))
        assert counted + journal.counters.get("accepted", 0) + journal.counters.get(
            "duplicate", 0
        ) == len(stream), "every message decided"
        rebuilt, _ = replay(journal, CFG)
        assert rebuilt.digest() == live.digest()
        journal.close()

"""Bounded rejects (docs/journal.md): a kept head with length and hash, pruned by size and age."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

from monitor.ingest.journal import Journal, RejectBounds, RejectEntry
from tests.hall import HALL, T0

TOPIC = f"hall/{HALL}/clock/CLK-EAST/punch"


def _reject(payload: bytes, at_s: float = 0, topic: str = TOPIC, detail: str = "x") -> RejectEntry:
    return RejectEntry(
        topic=topic,
        received_at=T0 + timedelta(seconds=at_s),
        reason="bad_json",
        detail=detail,
        payload=payload,
    )


def test_a_reject_keeps_its_head_with_the_whole_length_and_hash(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    payload = bytes(range(256)) * 256  # 64 KiB
    j.append([_reject(payload)])
    (row,) = j.rejects()
    assert row.payload == payload[:4096] and row.size == 65536
    assert row.sha256 == hashlib.sha256(payload).hexdigest()


def test_hostile_text_in_a_reject_cannot_break_the_insert(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    j.append([_reject(b"\xed\xa0\x80", topic=TOPIC + "/\ud800", detail="bad \udfff")])
    (row,) = j.rejects()
    assert row.topic.endswith("/\\ud800") and row.detail == "bad \\udfff"


def test_rejects_stay_under_their_size_bound_and_count_what_was_pruned(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    j.reject_bounds = RejectBounds(keep_bytes=4096, max_bytes=1 << 20, keep_days=30)
    for batch in range(100):
        j.append([_reject(b"z" * 5000, batch) for _ in range(10)])  # 1,000 x 4 KiB kept
    assert j.reject_bytes <= 1 << 20
    with sqlite3.connect(j.path) as conn:
        (on_disk,) = conn.execute(
            "SELECT sum(length(payload) + length(detail) + length(topic) + 100) FROM rejects"
        ).fetchone()
        (rows,) = conn.execute("SELECT count(*) FROM rejects").fetchone()
    assert on_disk == j.reject_bytes, "the running total matches the table"
    assert j.counters["rejected.bad_json"] == 1000, "every reject still counted by reason"
    assert j.counters["rejects_pruned"] == 1000 - rows and rows > 200
    newest = j.rejects(1)[0]
    assert newest.received_at == T0 + timedelta(seconds=99), "the oldest go first"
    reopened = Journal.open(tmp_path, HALL)
    assert reopened.reject_bytes == j.reject_bytes


def test_rejects_older_than_keep_days_are_pruned(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    j.reject_bounds = RejectBounds(keep_days=30)
    day = 86_400
    j.append([_reject(b"a", 0), _reject(b"b", 10 * day), _reject(b"c", 40 * day)])
    assert j.prune_rejects(T0 + timedelta(days=41)) == 2
    assert [r.payload for r in j.rejects()] == [b"c"]
    assert j.counters["rejects_pruned"] == 2 and j.prune_rejects(T0 + timedelta(days=41)) == 0


def test_rate_limited_rejects_are_counted_without_a_row(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    limited = RejectEntry(
        topic=TOPIC,
        received_at=T0,
        reason="bad_json",
        detail="x",
        payload=b"x",
        stored=False,
        limited_as="clock",
    )
    j.append([limited, _reject(b"y")])
    assert [r.payload for r in j.rejects()] == [b"y"]
    c = j.counters
    assert (c["rejected.bad_json"], c["rejects_limited"], c["rejects_limited.clock"]) == (2, 1, 1)


def test_a_schema_2_journal_is_upgraded_in_place(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, HALL)
    j.append([_reject(b"old")])
    j.close()
    with sqlite3.connect(tmp_path / "journal.sqlite3") as conn:
        conn.execute("ALTER TABLE rejects DROP COLUMN sha256")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    j = Journal.open(tmp_path, HALL)
    j.append([_reject(b"new")])
    assert [(r.payload, bool(r.sha256)) for r in j.rejects()] == [(b"new", True), (b"old", False)]

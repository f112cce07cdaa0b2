"""Snapshots (monitor/ingest/snapshot.py): a start from a snapshot plus the journal's tail gives the
state of a whole replay, bit for bit; a snapshot that no longer fits is not used."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.config import HallConfig
from alerts.events import Recorded
from alerts.supervision import Supervision
from monitor.ingest import snapshot
from monitor.ingest.ingestor import Classifier, Inbound, Ingestor, Rules
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from monitor.outputs.outbox import rows
from tests.hall import HALL, example
from tests.test_replay_cards import START, Sent, _NoAck, in_order, story

CFG = example()


class Hall:
    """What the daemon does, in two runs: a snapshot at the stop in between."""

    def __init__(self, data_dir: Path) -> None:
        self.journal = Journal.open(data_dir, HALL, "normal")
        self.sup = Supervision(CFG)
        self.ingestor = Ingestor(
            self.journal, Classifier(Rules.of(CFG), {}), _NoAck(), self._committed, lambda: START
        )

    def _committed(self, fresh: Sequence[Recorded]) -> None:
        out = [t for r in fresh for t in self.sup.apply(r)]
        self.journal.record_outputs(rows(HALL, out), None, fresh[-1].received_at)

    def feed(self, sends: Sequence[tuple[Sent, datetime]], first: int) -> None:
        batch = [Inbound(s.topic, s.payload, at, first + i) for i, (s, at) in enumerate(sends)]
        for i in range(0, len(batch), 500):
            self.ingestor.process(batch[i : i + 500])
        end = max(at for _, at in sends) + timedelta(hours=3)
        tick = self.sup.tick(end)
        self.journal.record_outputs(rows(HALL, tick), (self.sup.state.last_seq, end), end)


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 case events; a snapshot written after the first half; live digest kept."""
    data = tmp_path_factory.mktemp("snap")
    sends = in_order(story(seed=13, at_least=1200))
    half = len(sends) // 2
    hall = Hall(data)
    hall.feed(sends[:half], 0)
    assert snapshot.save(snapshot.path_in(data), hall.sup, hall.journal, CFG) is not None
    hall.feed(sends[half:], half)
    (data / "live.digest").write_text(hall.sup.digest())
    hall.journal.close()
    return data


def test_snapshot_and_tail_give_the_whole_replay_bit_for_bit(journal_dir: Path) -> None:
    journal = Journal.open(journal_dir, HALL)
    whole, out_whole = replay(journal, CFG)
    fast, out_tail = replay(journal, CFG, snapshot.path_in(journal_dir))
    journal.close()
    assert fast.digest() == whole.digest() == (journal_dir / "live.digest").read_text()
    assert 0 < len(out_tail) < len(out_whole)
    assert [t.payload() for t in out_tail] == [t.payload() for t in out_whole[-len(out_tail) :]]


def _used(data: Path, cfg: HallConfig = CFG) -> bool:
    journal = Journal.open(data, HALL)
    try:
        loaded = snapshot.load(snapshot.path_in(data), journal, cfg)
    finally:
        journal.close()
    return loaded is not None


def test_a_snapshot_that_no_longer_fits_is_not_used(journal_dir: Path, tmp_path: Path) -> None:
    assert _used(journal_dir)
    other = CFG.model_copy(update={"hall": CFG.hall.model_copy(update={"name": "另一个大厅"})})
    assert not _used(journal_dir, other), "another configuration"

    elsewhere = tmp_path / "other-journal"  # same file beside a different journal
    Journal.open(elsewhere, HALL).close()
    shutil.copy(snapshot.path_in(journal_dir), snapshot.path_in(elsewhere))
    assert not _used(elsewhere), "another journal"

    broken = tmp_path / "broken"
    shutil.copytree(journal_dir, broken)
    path = snapshot.path_in(broken)
    path.write_bytes(path.read_bytes()[:-100])  # cut short
    assert not _used(broken), "truncated"
    journal = Journal.open(broken, HALL)
    sup, _ = replay(journal, CFG, path)  # falls back to the whole journal
    journal.close()
    assert sup.digest() == (journal_dir / "live.digest").read_text()

    stale = tmp_path / "stale"
    shutil.copytree(journal_dir, stale)
    text = snapshot.path_in(stale).read_bytes()
    code = snapshot.code_fingerprint().encode()
    snapshot.path_in(stale).write_bytes(text.replace(code, b"0" * len(code), 1))
    assert not _used(stale), "written by other code"

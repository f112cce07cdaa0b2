"""Rebuild everything derived from the journal: the daemon's start-up and `hallwatch replay`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from alerts.cards import Transition
from alerts.config import HallConfig
from alerts.contract import decode_journaled
from alerts.events import Recorded
from alerts.supervision import Supervision, Tick, replay_all
from monitor.ingest.gcpolicy import uncollected
from monitor.ingest.journal import Journal
from monitor.ingest.snapshot import load

logger = logging.getLogger(__name__)


def recorded(journal: Journal, hall: str, after_seq: int = 0) -> Iterator[Recorded]:
    for row in journal.events(after_seq):
        event = decode_journaled(row.topic, row.payload, hall, row.ts)
        yield Recorded(row.seq, row.event_id, row.received_at, event)


def replay(
    journal: Journal, cfg: HallConfig, snapshot: Path | None = None
) -> tuple[Supervision, list[Transition]]:
    """The journal replayed into a fresh Supervision, and every transition the replay produced.

    With `snapshot` (the daemon's start-up), a usable snapshot there
    (monitor/ingest/snapshot.py) stands
    for the journal up to its position, and only the events and ticks after it are replayed.
    """
    started = time.monotonic()
    all_ticks = [Tick(after, at) for after, at in journal.ticks()]
    loaded = load(snapshot, journal, cfg) if snapshot is not None else None
    with uncollected():
        if loaded is None:
            sup, after_seq, ticks = Supervision(cfg), 0, all_ticks
        else:
            sup, after_seq = loaded.sup, loaded.header.last_seq
            ticks = all_ticks[loaded.header.ticks :]
        out = replay_all(sup, recorded(journal, cfg.hall.id, after_seq), ticks)
    logger.info(
        "replayed %d events and %d ticks from %s%s in %.2f s: %d cards",
        sup.state.last_seq - after_seq,
        len(ticks),
        journal.path,
        f" after a snapshot at event {after_seq}" if loaded else "",
        time.monotonic() - started,
        len(sup.engine.cards),
    )
    return sup, out

"""Rebuild everything derived from the journal: the daemon's start-up and `hallwatch replay`."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator

from alerts.cards import Transition
from monitor.config import HallConfig
from monitor.contract import decode_journaled
from monitor.ingest import Recorded
from monitor.journal import Journal
from monitor.supervision import Supervision, Tick, replay_all

logger = logging.getLogger(__name__)


def recorded(journal: Journal, hall: str) -> Iterator[Recorded]:
    for row in journal.events():
        event = decode_journaled(row.topic, row.payload, hall, row.ts)
        yield Recorded(row.seq, row.event_id, row.received_at, event)


def replay(journal: Journal, cfg: HallConfig) -> tuple[Supervision, list[Transition]]:
    """A fresh Supervision fed the whole journal, and every transition it produced."""
    sup = Supervision(cfg)
    started = time.monotonic()
    ticks = [Tick(after, at) for after, at in journal.ticks()]
    gc.disable()  # a replay builds millions of long-lived objects: collecting them is waste
    try:
        out = replay_all(sup, recorded(journal, cfg.hall.id), ticks)
    finally:
        gc.enable()
        gc.freeze()  # what the replay built stays: keep it out of later collections
    logger.info(
        "replayed %d events and %d ticks from %s in %.2f s: %d cards",
        sup.state.applied,
        len(ticks),
        journal.path,
        time.monotonic() - started,
        len(sup.engine.cards),
    )
    return sup, out

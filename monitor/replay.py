"""Rebuild derived state from the journal: the daemon's start-up and `hallwatch replay`."""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from monitor.contract import decode_journaled
from monitor.journal import Journal
from monitor.state import HallState

logger = logging.getLogger(__name__)


def replay(journal: Journal, hall: str, zone: ZoneInfo) -> HallState:
    state = HallState(zone=zone)
    started = time.monotonic()
    for row in journal.events():
        state.apply(row.seq, decode_journaled(row.topic, row.payload, hall, row.ts))
    logger.info(
        "replayed %d events from %s in %.2f s",
        state.applied,
        journal.path,
        time.monotonic() - started,
    )
    return state

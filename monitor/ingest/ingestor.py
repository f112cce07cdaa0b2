"""From MQTT message to journal row: classify, commit in batches, then acknowledge.

The order inside a batch is the whole guarantee: decide every message, store the batch
in one transaction, and only after the commit returned acknowledge each message. A
failed commit acknowledges nothing; the batch is retried and the broker keeps it.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from alerts.config import Directory, HallConfig
from alerts.contract import Accepted, Limits, Rejected, RejectReason, decode, derived_id
from alerts.events import Event, EventKind, Recorded
from monitor.ingest.journal import AcceptEntry, Entry, Journal, RejectEntry

logger = logging.getLogger(__name__)

_STATUS_KINDS = (EventKind.CLOCK_STATUS, EventKind.CAMERA_STATUS)


class Inbound(NamedTuple):
    """One MQTT message as the network thread handed it over (a tuple: cheap to make there)."""

    topic: str
    payload: bytes
    received_at: datetime
    mid: int = 0
    qos: int = 1
    generation: int = 0  # connection it arrived on: an ack is only valid on that connection


class Acker(Protocol):
    def ack(self, msg: Inbound) -> None: ...


Committed = Callable[[Sequence[Recorded]], None]


@dataclass(slots=True)
class IngestHealth:
    batches: int = 0
    last_commit: datetime | None = None
    journal_error: str | None = None
    commit_seconds_total: float = 0.0
    failures: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the classifier needs from configuration; swapped whole on reload."""

    hall: str
    directory: Directory
    limits: Limits

    @classmethod
    def of(cls, cfg: HallConfig) -> Rules:
        limits = Limits(
            max_payload_bytes=cfg.ingest.max_payload_bytes,
            max_future_skew=timedelta(seconds=cfg.ingest.max_future_skew_s),
        )
        return cls(hall=cfg.hall.id, directory=cfg.directory(), limits=limits)


class Classifier:
    """Turns a batch of messages into journal entries; remembers device status for dedup."""

    def __init__(self, rules: Rules, last_status: dict[str, bytes]) -> None:
        self.rules = rules
        self._last_status = last_status

    def classify(
        self, batch: Sequence[Inbound]
    ) -> tuple[list[Entry], list[Event | None], int, dict[str, bytes]]:
        """Entries to store, the event behind each entry, repeats found, status changes."""
        rules = self.rules
        entries: list[Entry] = []
        events: list[Event | None] = []
        seen = dict(self._last_status)
        repeats = 0
        for m in batch:
            d = _decide(m, rules)
            if isinstance(d, Rejected):
                entries.append(_reject(m, d))
                events.append(None)
                continue
            event_id = d.event_id
            if d.kind in _STATUS_KINDS:
                if seen.get(m.topic) == m.payload:
                    repeats += 1  # a retained or repeated status is not a new transition
                    continue
                seen[m.topic] = m.payload
                event_id = derived_id(m.topic, m.payload + m.received_at.isoformat().encode())
            entries.append(_accept(m, d, event_id))
            events.append(d.event)
        return entries, events, repeats, seen

    def remember(self, seen: dict[str, bytes]) -> None:
        self._last_status = seen


def _decide(m: Inbound, rules: Rules) -> Accepted | Rejected:
    try:
        return decode(m.topic, m.payload, m.received_at, rules.hall, rules.directory, rules.limits)
    except Exception as exc:  # a decoder bug must not stop ingest: keep the message, say why
        logger.exception("decoder failed on a message of %s", m.topic)
        return Rejected(RejectReason.INTERNAL, f"{type(exc).__name__}: {exc}"[:500])


def _reject(m: Inbound, d: Rejected) -> RejectEntry:
    return RejectEntry(
        topic=m.topic,
        received_at=m.received_at,
        reason=d.reason.value,
        detail=d.detail,
        payload=m.payload,
    )


def _accept(m: Inbound, d: Accepted, event_id: str) -> AcceptEntry:
    return AcceptEntry(
        event_id=type(d.event_id)(event_id),
        kind=d.kind,
        topic=m.topic,
        received_at=m.received_at,
        ts=d.event.ts,
        payload=m.payload,
    )


class Ingestor:
    """The single writer: a queue in from the network thread, batches out to the journal."""

    def __init__(
        self,
        journal: Journal,
        classifier: Classifier,
        acker: Acker,
        on_committed: Committed,
        now: Callable[[], datetime],
        batch_max: int = 1000,
        batch_wait_s: float = 0.005,
        on_idle: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._on_idle = on_idle
        self._on_stop = on_stop
        self.queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self.journal = journal
        self.classifier = classifier
        self._acker = acker
        self._on_committed = on_committed
        self._now = now
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self.health = IngestHealth()

    def submit(self, msg: Inbound) -> None:
        self.queue.put(msg)

    def run(self, stop: threading.Event) -> None:
        """Writer loop; on stop, whatever is already queued is still committed and acked."""
        while not stop.is_set():
            batch = self._take(0.2)
            if batch:
                self._commit_until_done(batch, stop)
            if self._on_idle is not None:
                self._on_idle()  # time-driven work runs here, in order with the events
        while batch := self._take(0.0):
            self._commit_until_done(batch, stop)
        if self._on_stop is not None:
            self._on_stop()  # the last time-driven work, after the last event

    def _take(self, timeout: float) -> list[Inbound]:
        try:
            first = self.queue.get(timeout=timeout) if timeout else self.queue.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        deadline_wait = self._batch_wait_s
        while len(batch) < self._batch_max:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                if deadline_wait <= 0:
                    break
                try:
                    batch.append(self.queue.get(timeout=deadline_wait))
                except queue.Empty:
                    break
                deadline_wait = 0
        return batch

    def _commit_until_done(self, batch: list[Inbound], stop: threading.Event) -> None:
        delay = 0.5
        while True:
            try:
                self.process(batch)
                return
            except sqlite3.Error as exc:
                self.health.failures += 1
                self.health.journal_error = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "journal commit failed, %d messages held unacknowledged: %s", len(batch), exc
                )
            if stop.wait(delay):
                return  # unacknowledged: the broker redelivers them after restart
            delay = min(delay * 2, 30.0)

    def process(self, batch: Sequence[Inbound]) -> None:
        """Classify, commit, acknowledge, then hand new events on. Raises on journal error."""
        entries, events, repeats, seen = self.classifier.classify(batch)
        started = self._now()
        seqs = self.journal.append(entries, repeats)
        self.classifier.remember(seen)
        for m in batch:
            self._acker.ack(m)
        finished = self._now()
        h = self.health
        h.batches += 1
        h.last_commit = finished
        h.commit_seconds_total += (finished - started).total_seconds()
        if h.journal_error is not None:
            logger.info("journal commits again after %d failed attempt(s)", h.failures)
            h.journal_error = None
        fresh = [
            Recorded(s, n.event_id, n.received_at, e)
            for s, n, e in zip(seqs, entries, events, strict=True)
            if s is not None and e is not None and isinstance(n, AcceptEntry)
        ]
        if fresh:
            self._on_committed(fresh)

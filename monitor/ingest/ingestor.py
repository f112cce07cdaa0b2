"""From MQTT message to journal row: classify, commit in batches, then acknowledge.

The order inside a batch is the whole guarantee: decide every message, store the batch
in one transaction, and only after the commit returned acknowledge each message. A
failed commit acknowledges nothing; the batch is retried and the broker keeps it.

No message can stop the writer: one that fails anywhere (decoder, journal insert, rules)
becomes an `internal_error` reject with its bytes and the rest of its batch goes on. A
storage failure (disk full, I/O) is not the message's fault: the batch waits and retries.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from alerts.config import Directory, HallConfig
from alerts.contract import (
    INBOUND_AREAS,
    Accepted,
    Limits,
    Rejected,
    RejectReason,
    decode,
    derived_id,
)
from alerts.errors import HallwatchError
from alerts.events import Event, EventKind, Recorded
from hallkit.clock import Clock, SystemClock
from monitor.ingest.journal import AcceptEntry, Entry, Journal, RejectBounds, RejectEntry

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 60.0  # rejects older than ingest.reject_keep_days go this often
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
    def ack(self, batch: Sequence[Inbound]) -> None:
        """Every message of `batch` is journaled: the broker may forget them."""


Committed = Callable[[Sequence[Recorded]], None]


class RulesFailed(HallwatchError):
    """Raised by a `Committed` callback that applied every record but these (with why)."""

    def __init__(self, failed: Sequence[tuple[Recorded, Exception]]) -> None:
        super().__init__(f"{len(failed)} event(s) failed in the rules")
        self.failed = list(failed)


def storage_failure(exc: BaseException) -> bool:
    """The journal's disk or file failed (retry the batch), not something a message did."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


@dataclass(slots=True)
class IngestHealth:
    batches: int = 0
    last_commit: datetime | None = None
    journal_error: str | None = None
    commit_seconds_total: float = 0.0
    failures: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    writer_error: str | None = None  # set when the writer thread died: the daemon exits
    isolated: int = 0  # messages that failed past the decoder, kept as internal_error rejects
    rules_errors: int = 0  # journaled events the rules or outputs failed on
    # Cards voided, by cause (the runner counts them: monitor/runner.py): a silent source's
    # name (alerts/cards.py `_void`), or "unattributed" for a void no source's lateness explains.
    voids: dict[str, int] = field(default_factory=dict)
    # How far time-driven rules have judged (every due check up to it done; the runner sets
    # it), and the sources still sending that hold judgement back, each with how far it is
    # heard (alerts/sources.py). Replaced whole: /healthz reads them unlocked.
    judged: datetime | None = None
    holding: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the classifier needs from configuration; swapped whole on reload."""

    hall: str
    directory: Directory
    limits: Limits
    bounds: RejectBounds = field(default_factory=RejectBounds)
    reject_rate_per_s: float = 1.0
    reject_burst: int = 100

    @classmethod
    def of(cls, cfg: HallConfig) -> Rules:
        i = cfg.ingest
        limits = Limits(
            max_payload_bytes=i.max_payload_bytes,
            max_future_skew=timedelta(seconds=i.max_future_skew_s),
            max_past=timedelta(days=i.max_past_days),
        )
        bounds = RejectBounds(
            keep_bytes=i.reject_keep_bytes,
            max_bytes=i.reject_max_mb << 20,
            keep_days=i.reject_keep_days,
        )
        return cls(
            hall=cfg.hall.id,
            directory=cfg.directory(),
            limits=limits,
            bounds=bounds,
            reject_rate_per_s=i.reject_rate_per_s,
            reject_burst=i.reject_burst,
        )


_DEVICE_AREAS = ("clock", "camera")


def reject_source(topic: str) -> tuple[str, str]:
    """Who a reject is charged to: (bucket, counter label).

    The daemon sees topics, not broker accounts. A device's topics carry its id, which the
    broker's ACL binds to the device's account, so a device is its own source; the other
    areas (case, staff, complaint, rating, card) take any key from their one or two
    accounts (case system, console), so each area is one source.
    """
    parts = topic.split("/", 4)
    area = parts[2] if len(parts) > 3 and parts[2] in INBOUND_AREAS else "other"
    if area in _DEVICE_AREAS:
        return f"{area}/{parts[3]}", area
    return area, area


class RejectLimiter:
    """Token buckets per source, on the messages' receive times: beyond its rate and burst a
    source's rejects are counted, not stored. Bounded: at most `max_sources` buckets."""

    def __init__(self, rate_per_s: float, burst: int, max_sources: int = 1024) -> None:
        self.rate, self.burst, self.max_sources = rate_per_s, float(burst), max_sources
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, at)

    def allow(self, source: str, at: datetime) -> bool:
        t = at.timestamp()
        tokens, last = self._buckets.get(source, (self.burst, t))
        tokens = min(self.burst, tokens + max(0.0, t - last) * self.rate)
        if source not in self._buckets and len(self._buckets) >= self.max_sources:
            self._forget_full(t)
            if len(self._buckets) >= self.max_sources:
                source = source.split("/", 1)[0] + "/*"  # many sources: share one bucket
                tokens, last = self._buckets.get(source, (self.burst, t))
                tokens = min(self.burst, tokens + max(0.0, t - last) * self.rate)
        ok = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if ok else tokens, max(t, last))
        return ok

    def _forget_full(self, t: float) -> None:
        """Buckets refilled to their burst hold no state worth keeping."""
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + max(0.0, t - last) * self.rate >= self.burst:
                del self._buckets[key]


class Classifier:
    """Turns a batch of messages into journal entries; remembers device status for dedup."""

    def __init__(self, rules: Rules, last_status: dict[str, bytes]) -> None:
        self.rules = rules
        self._last_status = last_status
        self.limiter = RejectLimiter(rules.reject_rate_per_s, rules.reject_burst)

    def classify(
        self, batch: Sequence[Inbound]
    ) -> tuple[list[Entry], list[Event | None], int, dict[str, bytes]]:
        """Entries to store, the event behind each entry, repeats found, status changes."""
        rules = self.rules
        entries: list[Entry] = []
        events: list[Event | None] = []
        seen = dict(self._last_status)
        repeats = 0
        limiter = self.limiter
        limiter.rate, limiter.burst = rules.reject_rate_per_s, float(rules.reject_burst)
        for m in batch:
            try:
                entry, event = _entry(m, _decide(m, rules), seen)
            except Exception as exc:  # a bug here must not stop ingest either
                logger.exception("classifying a message of %s failed", m.topic[:200])
                entry, event = _reject(m, _internal(exc)), None
            if entry is None:
                repeats += 1  # a retained or repeated status is not a new transition
                continue
            if isinstance(entry, RejectEntry):
                source, label = reject_source(m.topic)
                if not limiter.allow(source, m.received_at):
                    entry = replace(entry, stored=False, limited_as=label)
            entries.append(entry)
            events.append(event)
        return entries, events, repeats, seen

    def remember(self, seen: dict[str, bytes]) -> None:
        self._last_status = seen


def _entry(
    m: Inbound, d: Accepted | Rejected, seen: dict[str, bytes]
) -> tuple[Entry | None, Event | None]:
    """The journal entry for one decided message; None for a repeated device status."""
    if isinstance(d, Rejected):
        return _reject(m, d), None
    event_id = d.event_id
    if d.kind in _STATUS_KINDS:
        if seen.get(m.topic) == m.payload:
            return None, None
        seen[m.topic] = m.payload
        event_id = derived_id(m.topic, m.payload + m.received_at.isoformat().encode())
    entry = _accept(m, d, event_id)
    problem = _unstorable(entry)
    if problem is not None:
        return _reject(m, Rejected(RejectReason.INTERNAL, problem)), None
    return entry, d.event


def _unstorable(e: AcceptEntry) -> str | None:
    """Why the journal could not store this accepted event's text, if it could not."""
    for name, text in (("id", e.event_id), ("topic", e.topic)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} {text[:80]!a} is not encodable as UTF-8"
    return None


def _internal(exc: BaseException) -> Rejected:
    return Rejected(RejectReason.INTERNAL, f"{type(exc).__name__}: {exc}"[:500])


def _decide(m: Inbound, rules: Rules) -> Accepted | Rejected:
    try:
        return decode(m.topic, m.payload, m.received_at, rules.hall, rules.directory, rules.limits)
    except Exception as exc:  # a decoder bug must not stop ingest: keep the message, say why
        logger.exception("decoder failed on a message of %s", m.topic[:200])
        return _internal(exc)


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
        *,
        marker: tuple[str, Callable[[Inbound], None]] | None = None,
        inbox: queue.SimpleQueue[Inbound] | None = None,
        health: IngestHealth | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`inbox`: the queue the network thread fills (made here if not given); `clock`:
        the prune interval and the commit retry's waits (the system's, with `now`);
        `marker`: the link's sync topic and what to tell when the writer reaches a message of
        it (every message before it is committed and applied; it is never journaled)."""
        self._marker = marker
        self._on_idle = on_idle
        self._on_stop = on_stop
        self.queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue() if inbox is None else inbox
        self.journal = journal
        self.classifier = classifier
        self._acker = acker
        self._on_committed = on_committed
        self._now = now
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self.health = IngestHealth() if health is None else health
        self._clock = SystemClock(now) if clock is None else clock

    def submit(self, msg: Inbound) -> None:
        self.queue.put(msg)

    def run(self, stop: threading.Event) -> None:
        """Writer loop; on stop, whatever is already queued is still committed and acked.

        If it dies anyway (a bug outside any one message), it returns with
        `health.writer_error` saying why: the daemon then answers 503 and exits non-zero for
        systemd to restart it.
        """
        try:
            self._run(stop)
        except Exception as exc:
            self.health.writer_error = f"{type(exc).__name__}: {exc}"[:500]
            logger.critical("the ingest writer died: %s", self.health.writer_error, exc_info=True)

    def _run(self, stop: threading.Event) -> None:
        pruned = self._clock.monotonic()
        while not stop.is_set():
            batch = self._take(0.2)
            if batch:
                self._commit_marked(batch, stop)
            if self._on_idle is not None:
                self._on_idle()  # time-driven work runs here, in order with the events
            if self._clock.monotonic() - pruned >= PRUNE_EVERY_S:
                pruned = self._clock.monotonic()
                self._prune()
        while batch := self._take(0.0):
            self._commit_marked(batch, stop)
        if self._on_stop is not None:
            self._on_stop()  # the last time-driven work, after the last event

    def _prune(self) -> None:
        try:
            n = self.journal.prune_rejects(self._now())
        except sqlite3.Error as exc:
            logger.warning("old rejects not pruned (next time): %s", exc)
            return
        if n:
            logger.info(
                "pruned %d rejects older than %d days", n, self.journal.reject_bounds.keep_days
            )

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

    def _commit_marked(self, batch: list[Inbound], stop: threading.Event) -> None:
        """Commit the batch; each sync marker in it is told once what came before it is."""
        if self._marker is None:
            self._commit_until_done(batch, stop)
            return
        topic, reached = self._marker
        start = 0
        for i, m in enumerate(batch):
            if m.topic == topic:
                if i > start:
                    self._commit_until_done(batch[start:i], stop)
                reached(m)
                start = i + 1
        if start < len(batch):
            self._commit_until_done(batch[start:], stop)

    def _commit_until_done(self, batch: list[Inbound], stop: threading.Event) -> None:
        pending = list(batch)  # what is not yet committed and acknowledged
        delay = 0.5
        while True:
            try:
                self._commit_isolated(pending)
                return
            except Exception as exc:
                if not storage_failure(exc):
                    raise
                self.health.failures += 1
                self.health.journal_error = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "journal commit failed, %d messages held unacknowledged: %s", len(pending), exc
                )
            if self._clock.wait(stop, delay):
                return  # unacknowledged: the broker redelivers them after restart
            delay = min(delay * 2, 30.0)

    def _commit_isolated(self, pending: list[Inbound]) -> None:
        """Commit `pending` as one batch; if a message makes that fail, one by one, each
        failing message kept as an internal_error reject. Empties `pending` as it goes;
        raises a storage failure (retry what is left) or a failure to keep a reject."""
        if len(pending) > 1:
            try:
                self.process(pending)
                pending.clear()
                return
            except Exception as exc:
                if storage_failure(exc):
                    raise
                logger.error("a batch of %d failed (%r): one message at a time", len(pending), exc)
        while pending:
            try:
                self.process(pending[:1])
            except Exception as exc:
                if storage_failure(exc):
                    raise
                self._keep_failed(pending[0], exc)
            pending.pop(0)

    def _keep_failed(self, m: Inbound, exc: Exception) -> None:
        """A message that failed past the decoder: an internal_error reject with its bytes."""
        logger.error("message of %s failed: kept as internal_error", m.topic[:200], exc_info=exc)
        self.health.isolated += 1
        entry = _reject(m, _internal(exc))
        self.journal.append([entry])  # a failure here is the journal's, not the message's
        self._ack([m])

    def _ack(self, batch: Sequence[Inbound]) -> None:
        try:
            self._acker.ack(batch)
        except Exception:  # unacknowledged: redelivered after a reconnect, deduplicated
            logger.exception("acknowledging %d message(s) failed", len(batch))

    def process(self, batch: Sequence[Inbound]) -> None:
        """Classify, commit, acknowledge, then hand new events on.

        Raises only before the commit (nothing stored, nothing acknowledged): a journal
        error, or something a message did to the insert.
        """
        entries, events, repeats, seen = self.classifier.classify(batch)
        started = self._now()
        self.journal.reject_bounds = self.classifier.rules.bounds
        seqs = self.journal.append(entries, repeats)
        self.classifier.remember(seen)
        self._ack(batch)
        finished = self._now()
        h = self.health
        h.batches += 1
        h.last_commit = finished
        h.commit_seconds_total += (finished - started).total_seconds()
        if h.journal_error is not None:
            logger.info("journal commits again after %d failed attempt(s)", h.failures)
            h.journal_error = None
        fresh = [
            (Recorded(s, n.event_id, n.received_at, e), n)
            for s, n, e in zip(seqs, entries, events, strict=True)
            if s is not None and e is not None and isinstance(n, AcceptEntry)
        ]
        if fresh:
            self._hand_on(fresh)

    def _hand_on(self, fresh: Sequence[tuple[Recorded, AcceptEntry]]) -> None:
        """The committed events to the rules; what fails there is kept as a reject too (the
        event stays journaled: a replay applies it again)."""
        try:
            self._on_committed([r for r, _ in fresh])
            return
        except RulesFailed as exc:
            failed = exc.failed
        except Exception as exc:  # which event is unknown: blame the batch
            failed = [(r, exc) for r, _ in fresh]
        by_seq = {r.seq: e for r, e in fresh}
        notes = []
        for rec, why in failed:
            logger.error("rules failed on event %s (seq %d)", rec.event_id, rec.seq, exc_info=why)
            e = by_seq[rec.seq]
            detail = f"journaled as seq {rec.seq}, rules failed: {type(why).__name__}: {why}"
            notes.append(
                RejectEntry(
                    topic=e.topic,
                    received_at=e.received_at,
                    reason=RejectReason.INTERNAL.value,
                    detail=detail[:500],
                    payload=e.payload,
                )
            )
        self.health.rules_errors += len(notes)
        try:
            self.journal.append(notes)
        except sqlite3.Error as exc:
            logger.error("the rules' failures were not journaled: %s", exc)

"""Notices to people, durably: from the journal's outbox of card transitions to the channels.

    journal.sqlite3 outbox          every card transition, once per id (monitor/outputs/outbox.py)
      │  read after a cursor        the same rows the console topic gets: a replay adds none
      ▼
    notify.sqlite3                  cursor, notices (pending | sent | cancelled), skipped, channels
      │  due, within the per-person rate, channel not backing off
      ▼
    Channel                         monitor/outputs/channels.py: Apprise, DingTalk, the fake

At least once: the cursor moves in the transaction that stores the notices it produced, and a
notice is marked sent only after its channel took it. Deduplicated: a notice's id hashes its
transition, person and channel (`alerts.notify.notice_id`), stored once. A channel that fails
backs off (retry_min_s doubling to retry_max_s), its notices wait and none is dropped; it shows
in the metrics and in /healthz, and after `failing_card_after_s` it raises the system card
`system.notify_channel_failing`, closed when the channel takes notices again.

The first start with notification on begins after the journal's newest transition: nobody is
told of history.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.cards import CardState, Subject, Why, card_id, card_payload
from alerts.config import HallConfig, work_calendar
from alerts.ids import CardId, CaseId
from alerts.notify import (
    CardNews,
    People,
    Skip,
    cancels,
    decode_news,
    plan,
    rate_wait,
    retry_delay,
)
from alerts.rules import Level
from alerts.supervision import Supervision, payload_bytes
from hallkit.clock import Clock
from hallkit.loops import woken
from monitor.ingest.journal import Journal, OutboxRow
from monitor.outputs.channels import Channel, Outgoing, SendFailed, build_channel

logger = logging.getLogger(__name__)

NOTIFY_FILE = "notify.sqlite3"
FAILING_RULE = "system.notify_channel_failing"
KEEP_DAYS = 180  # sent and cancelled notices are kept this long (who was told what)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL            -- the journal outbox's last row read
);
CREATE TABLE IF NOT EXISTS notices (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,        -- alerts.notify.notice_id: transition, person, channel
    card TEXT NOT NULL,
    transition TEXT NOT NULL,
    staff TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    timing TEXT NOT NULL,
    created INTEGER NOT NULL,       -- microseconds since the epoch, UTC
    next_at INTEGER NOT NULL,       -- not before: sending hours, rate limit
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | cancelled
    sent_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notices_due ON notices(next_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notices_card ON notices(card);
CREATE INDEX IF NOT EXISTS notices_staff ON notices(staff, sent_at);
CREATE INDEX IF NOT EXISTS notices_unsent ON notices(created) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS skipped (
    transition TEXT NOT NULL,
    card TEXT NOT NULL,
    who TEXT NOT NULL,
    why TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (transition, who, why)
);
CREATE INDEX IF NOT EXISTS skipped_card ON skipped(card);
CREATE TABLE IF NOT EXISTS channels (
    name TEXT PRIMARY KEY,
    failing_since INTEGER,          -- first failure since the last success
    card TEXT                       -- the system card raised for this episode
);
"""


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _at(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


# --- the durable part ------------------------------------------------------------------------


@dataclass(slots=True)
class ChannelState:
    sent: int = 0
    failures: int = 0
    in_row: int = 0
    retry_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    card: CardId | None = None


@dataclass(slots=True)
class Counts:
    planned: int = 0
    cancelled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0


Deadline = Callable[[CardNews], datetime | None]


class Notifier:
    """Reads transitions from the journal, plans notices, sends them. One thread (`run`)."""

    def __init__(
        self,
        config: Callable[[], HallConfig],
        journal: Journal,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        deadline: Deadline = lambda _n: None,
        path: Path | None = None,
    ) -> None:
        cfg = config()
        self._config, self._journal, self._clock, self._deadline = config, journal, clock, deadline
        self.wake = threading.Event()
        self.channels = dict(channels)
        self.state = {name: ChannelState() for name in self.channels}
        self.counts = Counts()
        file = path or Path(cfg.journal.data_dir) / NOTIFY_FILE
        self._db = sqlite3.connect(file, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # The console reads through its own connection: never behind a send that hangs.
        self._reader = sqlite3.connect(file, check_same_thread=False)
        self._reader.execute("PRAGMA query_only=ON")
        self._read_lock = threading.Lock()
        self._reading = True
        self._feed = sqlite3.connect(
            f"file:{journal.path}?mode=ro", uri=True, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._persisted: dict[str, tuple[str, int | None, str | None]] = {}
        self._pruned: datetime | None = None
        self._start_cursor()
        self._load_channels()

    @classmethod
    def open(
        cls,
        config: Callable[[], HallConfig],
        config_path: Path | None,
        journal: Journal,
        clock: Clock,
        deadline: Deadline = lambda _n: None,
    ) -> Notifier | None:
        """The daemon's notifier, or None when no channel is configured (notification off).
        Channels are built once: a reload changes routes and hours, new channels need a
        restart."""
        cfg = config()
        if not cfg.notify.channels:
            return None
        channels = {c.name: build_channel(c, config_path, clock.now) for c in cfg.notify.channels}
        return cls(config, journal, channels, clock, deadline=deadline)

    def _start_cursor(self) -> None:
        if self._db.execute("SELECT seq FROM cursor").fetchone() is None:
            last = self._feed.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
            self._db.execute("INSERT INTO cursor(one, seq) VALUES (1, ?)", (int(last),))
            logger.info(
                "notification starts after journal outbox row %d: history is not told", last
            )

    def _load_channels(self) -> None:
        for name, since, card in self._db.execute("SELECT name, failing_since, card FROM channels"):
            self._persisted[name] = (name, since, card)
            st = self.state.setdefault(name, ChannelState())
            st.failing_since = _at(since) if since is not None else None
            st.card = CardId(card) if card else None

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, every_s: float = 1.0) -> None:
        """Until `stop` (set `wake` too to end the wait): a failing step is logged and retried."""

        def step() -> None:
            self.step()

        woken(stop, self.wake, step, every_s=every_s, clock=self._clock, retry_s=5.0)

    def start(self, stop: threading.Event) -> None:
        """The daemon's thread; `stop` ends it (then `close`)."""
        self._stop = stop
        self._thread = threading.Thread(target=self.run, args=(stop,), name="notify", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread if it runs, then close the files; what is pending stays on disk."""
        thread = getattr(self, "_thread", None)
        if thread is not None:
            self._stop.set()
            self.wake.set()
            thread.join(timeout_s)
            if thread.is_alive():
                logger.warning("notify thread still sending at stop; its files stay open")
                return
        with self._lock, self._read_lock:
            self._feed.close()
            self._db.close()
            self._reader.close()
            self._reading = False

    def step(self) -> int:
        """Take new transitions, then send what is due; how many notices went out."""
        now = self._clock.now()
        with self._lock:
            while self._intake(now):
                pass
            sent = self._send_due(now)
            self._watch_channels(now)
            self._prune(now)
        return sent

    def _prune(self, now: datetime) -> None:
        """Once a day: sent and cancelled notices older than `KEEP_DAYS` go (pending stay)."""
        if self._pruned is not None and now - self._pruned < timedelta(days=1):
            return
        self._pruned = now
        old = _us(now - timedelta(days=KEEP_DAYS))
        self._db.execute("DELETE FROM notices WHERE status != 'pending' AND created < ?", (old,))
        self._db.execute("DELETE FROM skipped WHERE at < ?", (old,))

    def _intake(self, now: datetime, limit: int = 200) -> bool:
        cfg = self._config()
        (after,) = self._db.execute("SELECT seq FROM cursor").fetchone()
        rows = self._feed.execute(
            "SELECT seq, id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        if not rows:
            return False
        people, calendar = People.of(cfg), work_calendar(cfg)
        console = cfg.notify.console_url or f"http://{cfg.web.listen}:{cfg.web.port}"
        inserts: list[tuple[Any, ...]] = []  # in order; [1] is the card
        skips: list[tuple[Any, ...]] = []
        closed: list[str] = []
        for _seq, tid, payload in rows:
            news = decode_news(bytes(payload))
            if news is None:
                continue
            if cancels(news):  # also what this batch planned for it (a late upload's raise)
                closed.append(news.card)
                kept = [row for row in inserts if row[1] != news.card]
                self.counts.cancelled += len(inserts) - len(kept)
                inserts = kept
            p = plan(
                news,
                tid,
                cfg.notify,
                people,
                calendar,
                deadline=self._deadline(news) if news.subject.case else None,
                console_url=console,
                now=now,
            )
            for n in p.notices:
                inserts.append(
                    (n.id, n.card, n.transition, n.staff, n.channel, n.address, n.title, n.body)
                )
                inserts[-1] += (n.timing.value, _us(now), _us(n.not_before))
            skips += [
                (tid, news.card, who, why.value, _us(now))
                for who, why in p.skipped
                if why is not Skip.NOT_TOLD  # most transitions tell nobody: not worth a row
            ]
        self._store(rows[-1][0], inserts, skips, closed)
        return len(rows) == limit

    def _store(
        self,
        last: int,
        inserts: list[tuple[Any, ...]],
        skips: list[tuple[Any, ...]],
        closed: list[str],
    ) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for card in closed:  # its condition is over: a warning still waiting is not sent
                cur = db.execute(
                    "UPDATE notices SET status = 'cancelled' WHERE card = ? AND status = 'pending'",
                    (card,),
                )
                self.counts.cancelled += cur.rowcount
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO notices(id, card, transition, staff, channel, address, "
                "title, body, timing, created, next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                inserts,
            )
            self.counts.planned += db.total_changes - before
            db.executemany("INSERT OR IGNORE INTO skipped VALUES (?,?,?,?,?)", skips)
            db.execute("UPDATE cursor SET seq = ?", (last,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        for _t, card, who, why, _a in skips:
            self.counts.skipped[why] = self.counts.skipped.get(why, 0) + 1
            logger.warning("card %s: %s not told (%s)", card, who, why)

    def _send_due(self, now: datetime) -> int:
        rows = self._db.execute(
            "SELECT seq, staff, channel, address, title, body FROM notices "
            "WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, seq LIMIT 200",
            (_us(now),),
        ).fetchall()
        sent = 0
        per_hour = self._config().notify.per_person_per_hour
        for seq, staff, channel, address, title, body in rows:
            st = self.state.setdefault(channel, ChannelState())
            if st.retry_at is not None and st.retry_at > now:
                continue  # the channel backs off: its notices wait
            wait = rate_wait(self._sent_to(staff, now), now, per_hour)
            if wait is not None:
                self.counts.rate_limited += 1
                self._db.execute("UPDATE notices SET next_at = ? WHERE seq = ?", (_us(wait), seq))
                continue
            if self._send_one(seq, channel, Outgoing(address, title, body), st, now):
                sent += 1
        return sent

    def _sent_to(self, staff: str, now: datetime) -> list[datetime]:
        rows = self._db.execute(
            "SELECT sent_at FROM notices WHERE staff = ? AND status = 'sent' AND sent_at > ?",
            (staff, _us(now - timedelta(hours=1))),
        )
        return [_at(r[0]) for r in rows]

    def _send_one(
        self, seq: int, name: str, msg: Outgoing, st: ChannelState, now: datetime
    ) -> bool:
        channel = self.channels.get(name)
        try:
            if channel is None:
                raise SendFailed(f"channel {name!r} is no longer configured")
            channel.send(msg)
        except SendFailed as exc:
            self._failed(seq, name, st, str(exc), now)
            return False
        self._db.execute(
            "UPDATE notices SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
            "last_error = NULL WHERE seq = ?",
            (_us(now), seq),
        )
        st.sent += 1
        if st.failing_since is not None:
            logger.info("notify channel %s delivers again", name)
        st.in_row, st.retry_at, st.failing_since, st.last_error = 0, None, None, None
        return True

    def _failed(self, seq: int, name: str, st: ChannelState, error: str, now: datetime) -> None:
        cfg = self._config().notify
        self._db.execute(
            "UPDATE notices SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
            (error[:500], seq),
        )
        st.failures += 1
        st.in_row += 1
        st.retry_at = now + retry_delay(st.in_row, cfg.retry_min_s, cfg.retry_max_s)
        st.last_error = error
        if st.failing_since is None:
            st.failing_since = now
            logger.warning("notify channel %s failed, retrying: %s", name, error)

    # --- failing channels: the system card ---------------------------------------------------

    def _watch_channels(self, now: datetime) -> None:
        bound = timedelta(seconds=self._config().notify.failing_card_after_s)
        for name, st in self.state.items():
            if st.failing_since is not None and st.card is None and now - st.failing_since >= bound:
                st.card = card_id(FAILING_RULE, name, "", st.failing_since)
                logger.error(
                    "notify channel %s failing since %s: system card", name, st.failing_since
                )
                self._system_card(st.card, name, CardState.RAISED, now)
            elif st.failing_since is None and st.card is not None:
                self._system_card(st.card, name, CardState.CLOSED, now)
                st.card = None
            row = (name, _us(st.failing_since) if st.failing_since else None, st.card)
            if self._persisted.get(name) != row:  # kept across restarts: the card closes later
                self._db.execute("INSERT OR REPLACE INTO channels VALUES (?, ?, ?)", row)
                self._persisted[name] = row

    def _system_card(self, card: CardId, channel: str, state: CardState, now: datetime) -> None:
        """Published like the daemon's own system cards (monitor/system_cards.py)."""
        doc = card_payload(
            card=card,
            rule=FAILING_RULE,
            title=f"通知渠道 {channel} 发送失败，通知积压待发",
            level=Level.RED,
            state=state,
            why=Why.CONDITION_MET if state is CardState.RAISED else Why.CLEARED,
            subject=Subject(),
            owner=None,
            answer_by=None,
            ts=now,
            evidence=(),
            holds=state is CardState.RAISED,
        )
        row_id = card_id(FAILING_RULE, card, state.value, now)  # one outbox row per transition
        topic = f"hall/{self._config().hall.id}/cards/{card}"
        self._journal.record_outputs([OutboxRow(row_id, topic, payload_bytes(doc))], None, now)

    # --- what the operator sees --------------------------------------------------------------

    def pending(self) -> int:
        with self._read_lock:
            if self._closed():
                return 0
            sql = "SELECT count(*) FROM notices WHERE status = 'pending'"
            return int(self._reader.execute(sql).fetchone()[0])

    def channel_log(self) -> list[dict[str, Any]]:
        """Each channel's state now, by name (the console's page of failed notices)."""
        return [
            {
                "channel": name,
                "ok": st.failing_since is None,
                "failing_since": st.failing_since,
                "retry_at": st.retry_at if st.failing_since is not None else None,
                "last_error": st.last_error,
                "sent": st.sent,
                "failures": st.failures,
            }
            for name, st in sorted(self.state.copy().items())
        ]

    def notices(self, card: str | None = None) -> list[dict[str, Any]]:
        """Who was told what, when, through which channel (newest last); times as ISO text."""
        where, args = ("WHERE card = ?", (card,)) if card else ("", ())
        out = self._rows(f"{where} ORDER BY seq", args)
        for doc in out:
            for k in ("created", "next_at", "sent_at", "next_try"):
                doc[k] = doc[k].isoformat() if doc[k] is not None else None
        return out

    def card_log(self, card: str) -> list[dict[str, Any]]:
        """A card's notices, oldest first, times as datetimes (the console's card page)."""
        return self._rows("WHERE card = ? ORDER BY seq", (card,))

    def unsent(
        self, *, failed: bool | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]:
        """Notices not yet sent, newest first: how many, and one page. `failed`: only those
        whose last attempt failed (True) or never tried (False; held by hours or the rate)."""
        where = "WHERE status = 'pending'"
        if failed is not None:
            where += " AND last_error IS NOT NULL" if failed else " AND last_error IS NULL"
        with self._read_lock:
            if self._closed():
                return 0, []
            (total,) = self._reader.execute(f"SELECT count(*) FROM notices {where}").fetchone()
        page = self._rows(
            f"{where} ORDER BY created DESC, seq DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return int(total), page

    def skipped(self, card: str) -> list[dict[str, Any]]:
        """Whom a route named for this card but nobody could tell, and why (`alerts.notify.Skip`):
        `who` is a staff id or a recipient (owner, window_head, supervisors, admins)."""
        with self._read_lock:
            if self._closed():
                return []
            rows = self._reader.execute(
                "SELECT transition, who, why, at FROM skipped WHERE card = ? ORDER BY at, who",
                (card,),
            ).fetchall()
        return [{"transition": t, "who": w, "why": y, "at": _at(a)} for t, w, y, a in rows]

    def _closed(self) -> bool:
        return not self._reading  # after `close`: the console finds nothing, not an error

    def _rows(self, tail: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._read_lock:
            if self._closed():
                return []
            rows = self._reader.execute(f"SELECT {', '.join(_READ)} FROM notices {tail}", args)
            docs = [dict(zip(_READ, r, strict=True)) for r in rows.fetchall()]
        for doc in docs:
            for k in ("created", "next_at", "sent_at"):
                doc[k] = _at(doc[k]) if doc[k] is not None else None
            doc["delivery"] = _delivery(doc["status"], doc["last_error"])
            doc["next_try"] = self._next_try(doc) if doc["status"] == "pending" else None
            st = self.state.get(doc["channel"])
            doc["channel_ok"] = st is None or st.failing_since is None
        return docs

    def _next_try(self, doc: dict[str, Any]) -> datetime:
        """Not before its own time (hours, rate), nor while its channel backs off."""
        st = self.state.get(doc["channel"])
        retry = st.retry_at if st is not None else None
        at: datetime = doc["next_at"]
        return max(at, retry) if retry is not None else at

    def health(self) -> dict[str, Any]:
        return {
            "pending": self.pending(),
            "skipped": dict(self.counts.skipped),
            "channels": {
                name: {
                    "ok": st.failing_since is None,
                    "failing_since": st.failing_since.isoformat() if st.failing_since else None,
                    "last_error": st.last_error,
                    "sent": st.sent,
                    "failures": st.failures,
                }
                for name, st in sorted(self.state.items())
            },
        }

    def problems(self) -> list[str]:
        """Channels failing past the bound (the same moment the system card is raised)."""
        return [
            f"notify channel {name} failing since {st.failing_since.isoformat()}: {st.last_error}"
            for name, st in sorted(self.state.items())
            if st.failing_since is not None and st.card is not None
        ]

    def metrics(self) -> list[tuple[str, str, str, dict[str, str], float]]:
        rows: list[tuple[str, str, str, dict[str, str], float]] = [
            ("hallwatch_notify_pending", "gauge", "Notices waiting to be sent.", {}, self.pending())
        ]
        for name, st in sorted(self.state.items()):
            labels = {"channel": name}
            rows += [
                ("hallwatch_notify_sent_total", "counter", "Notices sent.", labels, st.sent),
                (
                    "hallwatch_notify_failures_total",
                    "counter",
                    "Failed sends (each retried).",
                    labels,
                    st.failures,
                ),
                (
                    "hallwatch_notify_channel_up",
                    "gauge",
                    "0 while the channel fails.",
                    labels,
                    0 if st.failing_since else 1,
                ),
            ]
        for why, n in sorted(self.counts.skipped.items()):
            rows.append(
                (
                    "hallwatch_notify_unaddressed_total",
                    "counter",
                    "People a route names who could not be told, by reason.",
                    {"reason": why},
                    n,
                )
            )
        return rows


_READ = (
    "seq",
    "card",
    "staff",
    "channel",
    "status",
    "timing",
    "created",
    "next_at",
    "sent_at",
    "attempts",
    "last_error",
    "title",
)


def _delivery(status: str, last_error: str | None) -> str:
    """sent | waiting (not tried yet, or held by the hours or the rate) | failed (its last
    attempt failed; it is retried) | cancelled."""
    if status == "pending":
        return "failed" if last_error is not None else "waiting"
    return status


def case_deadline(
    read: Callable[[Callable[[Supervision], datetime | None]], datetime | None],
) -> Deadline:
    """The deadline of a card's case from the live state (`Daemon._read`, under its lock)."""

    def lookup(news: CardNews) -> datetime | None:
        def due(sup: Supervision) -> datetime | None:
            rec = sup.engine.cases.get(CaseId(news.subject.case or ""))
            d = rec.assessment.due if rec is not None else None
            return d.at if d is not None else None

        return read(due)

    return lookup

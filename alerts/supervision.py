"""Everything derived from the journal, in one place: hall state and the card engine.

Plain code over plain data: `apply` takes journaled events in journal order with their
receive times as `now`; `tick` moves time forward. The daemon journals each tick that fired
something (after which event it happened, and when), so a replay interleaves the same ticks
at the same places and gives the same cards, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.accountability import Accountability
from alerts.cards import CardEngine, CardState, Subject, Transition, WatchKind, watch_key
from alerts.cases import Condition
from alerts.complaints import Book, assess_complaint, assess_review, named
from alerts.config import HallConfig, work_calendar
from alerts.events import (
    CardCommand,
    CaseEvent,
    CaseKind,
    ClockHeartbeat,
    ComplaintEvent,
    DeviceKind,
    DeviceStatus,
    Presence,
    Punch,
    Rating,
    Recorded,
    StaffStatus,
)
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.items import catalogue
from alerts.people import People
from alerts.roles import StaffRole
from alerts.rules import Policy
from alerts.sources import CASE_SYSTEM, COMPLAINTS, RATINGS, SourceKind, Sources
from alerts.state import HallState

# The case system's account sends cases, staff statuses, complaints and ratings, in order.
_CASE_ACCOUNT = (CASE_SYSTEM, COMPLAINTS, RATINGS)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time moved to `at` after journal event `after_seq`, and something fired."""

    after_seq: int
    at: datetime


def policy(cfg: HallConfig) -> Policy:
    c = cfg.cards
    return Policy(
        warning_days=c.warning_days,
        warning_days_by_kind={CaseKind(k): n for k, n in c.warning_days_by_kind.items()},
        immediate_warning_minutes=c.immediate_warning_minutes,
        report_days=c.report_days,
        reply_answer_days=c.reply_answer_days,
        supplement_days=c.supplement_days,
        refusal_review_days=c.refusal_review_days,
        correction_days=c.correction_days,
        answer_days=c.answer_days,
        leaders=frozenset(s.staff_id for s in cfg.staff if s.role is StaffRole.LEADER),
        deemed_approval=c.deemed_approval,
        items=catalogue(cfg.items),
    )


class Supervision:
    def __init__(self, cfg: HallConfig) -> None:
        self.state = HallState(zone=cfg.hall.zone)
        roles = {StaffId(s.id): s.role for s in cfg.staff}
        self.engine = CardEngine(work_calendar(cfg), policy(cfg), roles)
        self.people = People(cfg, self.engine.calendar, self.engine)
        self.complaints_cfg = cfg.complaints
        self.book = Book.empty()
        self.a_posts = {w.window_id: StaffId(w.a_post) for w in cfg.windows}
        self.accountability = Accountability(self.engine, cfg)
        self.transitions = 0
        # How far each clock and the case system are heard: time-driven rules judge up to
        # the least of them while they are still sending (alerts/sources.py); the case
        # system's own events are judged at how far it is heard (`_heard`).
        self.sources = Sources(timedelta(seconds=cfg.cards.idle_after_s))

    def apply(self, rec: Recorded) -> list[Transition]:
        if rec.seq <= self.state.last_seq:
            return []  # already applied: replay and live tail may overlap
        self.state.apply(rec.seq, rec.event)
        ev = rec.event
        now, eid = rec.received_at, rec.event_id
        self._hear(ev, now)
        match ev:
            case CaseEvent():
                out = self.engine.on_case_event(rec.seq, eid, ev, self._heard(ev.ts, now))
            case CardCommand():
                out = self.engine.on_command(ev, now)
                out += self.accountability.decided(eid, out, now)
            case ComplaintEvent():
                out = self._complaint(eid, ev, self._heard(ev.ts, now))
            case Rating():
                out = self._rating(eid, ev, self._heard(ev.ts, now))
            case Presence():
                self.people.presence(eid, ev)
                return []
            case Punch():
                self.people.punch(eid, ev, now)
                return []
            case ClockHeartbeat():
                self.people.heartbeat(ev)
                return []
            case StaffStatus():
                self._heard(ev.ts, now)  # the case system's account sends them, in order
                self.people.status(eid, ev)
                return []
            case DeviceStatus():
                self.people.device(ev)
                return []
            case _:
                return []
        self.transitions += len(out)
        return out

    def _hear(self, ev: object, received: datetime) -> None:
        """How far the event's source is heard (alerts/sources.py)."""
        match ev:
            case Punch() | ClockHeartbeat():
                self.sources.event(SourceKind.CLOCK, ev.device, ev.ts, received)
            case CaseEvent() | StaffStatus():
                self.sources.event(SourceKind.CASES, CASE_SYSTEM, ev.ts, received)
            case ComplaintEvent():
                self.sources.event(SourceKind.CASES, COMPLAINTS, ev.ts, received)
            case Rating():
                self.sources.event(SourceKind.CASES, RATINGS, ev.ts, received)
            case DeviceStatus() if ev.device_kind is DeviceKind.CLOCK:
                self.sources.status(ev.device, ev.online, received)

    def judge_until(self, now: datetime, started: datetime | None = None) -> datetime | None:
        """The instant time-driven rules may judge up to at the daemon's `now`: the least of
        how far each source still sending is heard; None while nothing may be judged yet, in
        the first `idle_after` after the daemon `started` (alerts/sources.py)."""
        return self.sources.until(now, started)

    def _heard(self, ts: datetime, now: datetime) -> datetime:
        """An event of the case system (a case, a complaint, a rating, a staff status) at
        `ts`, already heard (`_hear`): the instant to judge at, min(now, how far the case
        system is heard with it). Not its receive time: a backlog read at 20:00 must not pass
        a 17:30 deadline before the completion queued behind it is read."""
        heard = max(self.sources.heard[n].ts for n in _CASE_ACCOUNT if n in self.sources.heard)
        self.people.statuses_heard = heard
        return min(now, heard)

    def _complaint(self, eid: EventId, ev: ComplaintEvent, now: datetime) -> list[Transition]:
        """A complaint's cards: the centre's deadlines, and a founded one on whom it names."""
        filed = self.book.file(eid, ev)
        a = assess_complaint(ev.complaint, filed, self.engine.calendar, self.complaints_cfg)
        who = named(a, self.a_posts, self._people_of)
        key = watch_key(WatchKind.COMPLAINT, ev.complaint)
        out = self._watch(key, Subject(case=who.case), None, a.process, now)
        subject = Subject(case=who.case, window=who.window, staff=who.staff)
        founded = watch_key(WatchKind.COMPLAINT, ev.complaint, "founded")
        return out + self._watch(founded, subject, who.staff, a.violation, now)

    def _rating(self, eid: EventId, ev: Rating, now: datetime) -> list[Transition]:
        rated = self.book.rate(eid, ev)
        conditions = assess_review(rated, self.engine.calendar, self.complaints_cfg)
        window, staff = self._people_of(ev.case)
        subject = Subject(case=ev.case, window=window, staff=staff)
        return self._watch(watch_key(WatchKind.REVIEW, ev.case), subject, staff, conditions, now)

    def _watch(
        self,
        key: str,
        subject: Subject,
        owner: StaffId | None,
        conditions: tuple[Condition, ...],
        now: datetime,
    ) -> list[Transition]:
        if not conditions and key not in self.engine.watches:
            return []  # nothing to watch (a good rating, a complaint on time so far)
        return self.engine.on_conditions(key, subject, owner, conditions, now)

    def _people_of(self, case: CaseId) -> tuple[WindowId | None, StaffId | None]:
        rec = self.engine.cases.get(case)
        return (None, None) if rec is None else (rec.assessment.window, rec.assessment.staff)

    def reconfigure(self, cfg: HallConfig, now: datetime) -> list[Transition]:
        """A reloaded configuration: new calendar and thresholds apply from `now` on."""
        self.engine.policy = policy(cfg)
        self.complaints_cfg = cfg.complaints
        self.a_posts = {w.window_id: StaffId(w.a_post) for w in cfg.windows}
        self.engine.roles = {StaffId(s.id): s.role for s in cfg.staff}
        self.accountability.reconfigure(cfg)
        out = self.engine.recalendar(work_calendar(cfg), now)
        self.people.recalendar(self.engine.calendar)
        self.transitions += len(out)
        return out

    def due(self, now: datetime, facts: bool = True) -> bool:
        """Something to do at `now`: a deadline came, or (with `facts`) new attendance facts
        wait for the rules (People.due)."""
        nxt = self.engine.next_due()
        return (nxt is not None and nxt <= now) or self.people.due(now, facts)

    def tick(self, now: datetime) -> list[Transition]:
        """Time moved to `now` (the shell passes `judge_until`'s instant, and journals it)."""
        self.sources.judging(now)
        out = self.people.tick(now) + self.engine.advance(now)
        self.transitions += len(out)
        return out

    def summary(self) -> dict[str, Any]:
        cards = self.engine.cards.values()
        return {
            **self.state.summary(),
            "cards": len(self.engine.cards),
            "cards_open": sum(1 for c in cards if c.state is not CardState.CLOSED),
            "cards_holding": {
                lvl: sum(1 for c in cards if c.holds and c.level.value == lvl)
                for lvl in ("yellow", "red")
            },
            "card_transitions": self.transitions,
        }

    def digest(self) -> str:
        """State and every card's full history: equal digests, equal results."""
        h = hashlib.sha256(self.state.digest().encode())
        for cid in sorted(self.engine.cards):
            for t in self.engine.cards[cid].history:
                h.update(transition_bytes(t))
        return h.hexdigest()


def transition_bytes(t: Transition) -> bytes:
    return payload_bytes(t.payload())


def payload_bytes(doc: Mapping[str, Any]) -> bytes:
    """A card payload as published and digested (every card's, the daemon's own too)."""
    # A lone surrogate (an old journal's text) stays its JSON escape: valid JSON, no crash.
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    return text.encode("utf-8", "backslashreplace")


def transition_id(t: Transition) -> str:
    """One id per transition, stable under replay: the outbox stores each once."""
    text = f"{t.card}|{t.state}|{t.why}|{t.ts.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def replay_all(
    sup: Supervision, events: Iterable[Recorded], ticks: Iterable[Tick]
) -> list[Transition]:
    """Events in journal order with the journaled ticks interleaved where they happened."""
    pending = iter(sorted(ticks, key=lambda t: (t.after_seq, t.at)))
    nxt = next(pending, None)
    out: list[Transition] = []
    for rec in events:
        while nxt is not None and nxt.after_seq < rec.seq:
            out += sup.tick(nxt.at)
            nxt = next(pending, None)
        out += sup.apply(rec)
    while nxt is not None:
        out += sup.tick(nxt.at)
        nxt = next(pending, None)
    return out

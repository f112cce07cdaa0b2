"""Cards and their lifecycle, driven by case assessments, card commands and time. Pure.

A card stands for one rule condition of one subject. It carries two separate things:
- `holds`: whether its condition still holds now. This drives the lights: a yellow warning
  clears when the case finishes in time, a red overdue stops holding when the case finishes.
- `state`: its accountability: raised → escalated (unanswered past `answer_by`) → answered →
  upheld | revoked → closed. A red stays on the record until a supervisor decides it.

Every change is a `Transition` with its true time: a card raised for a deadline that passed
at 17:30 says 17:30, even when the engine learns of it later (a late upload, a replay); a
card's own transitions never go back in time. Published transitions are never rewritten: if
late evidence shows a raised card's condition never held, a new `closed` transition says so
(reason `void`, at the time it was learned); if later evidence brings the condition back, the
same card is raised again. A red whose condition stops holding while it is still undecided
gets a transition in the same state with reason `condition_ended` and `holds` false.

The engine is deterministic in the journal: feeding the same events with the same receive
times gives the same transitions, whatever the wall clock did in between; feeding them in
another order (late uploads) ends with the same cards, apart from those voided on the way.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from alerts.cases import Assessment, Condition, Entry, assess
from alerts.rules import RULES, Level, Policy, RuleId
from monitor.events import CardAction, CardCommand, CaseEvent
from monitor.ids import CardId, CaseId, EventId, StaffId, WindowId
from monitor.workdays import WorkCalendar


class CardState(StrEnum):
    RAISED = "raised"
    ESCALATED = "escalated"
    ANSWERED = "answered"
    UPHELD = "upheld"
    REVOKED = "revoked"
    CLOSED = "closed"


class Why(StrEnum):
    """Why a transition happened: every decision carries its reason."""

    CONDITION_MET = "condition_met"
    CONDITION_ENDED = "condition_ended"  # a red's condition stopped holding; still undecided
    ANSWER_OVERDUE = "answer_overdue"
    ANSWERED = "answered"
    UPHELD = "upheld"
    REVOKED = "revoked"
    CLEARED = "cleared"  # a warning whose condition stopped holding
    SUPERSEDED = "superseded"  # a warning whose deadline passed: the red took over
    DECIDED = "decided"  # decided and its condition no longer holds
    VOID = "void"  # late evidence: the condition never held


class Refusal(StrEnum):
    UNKNOWN_CARD = "unknown_card"
    NOT_ALLOWED = "not_allowed"
    WRONG_STATE = "wrong_state"
    NOT_HEARD = "not_heard"  # uphold before the owner answered or let answer_by pass (000_… 八(八))


_OPEN = (CardState.RAISED, CardState.ESCALATED, CardState.ANSWERED)
_DECIDED = (CardState.UPHELD, CardState.REVOKED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    case: CaseId | None = None
    window: WindowId | None = None
    staff: StaffId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    card: CardId
    rule: RuleId
    level: Level
    state: CardState
    why: Why
    subject: Subject
    owner: StaffId | None
    answer_by: datetime | None
    ts: datetime
    evidence: tuple[EventId, ...]
    holds: bool
    estimated: bool = False
    by: StaffId | None = None
    text: str | None = None

    def payload(self) -> dict[str, Any]:
        """The contract's card payload (CONTRACT.md), plus optional fields of our own."""
        subject = dict(_subject_items(self.subject))
        doc: dict[str, Any] = {
            "card": self.card,
            "rule": self.rule.value,
            "level": self.level.value,
            "state": self.state.value,
            "subject": subject,
            "owner": self.owner,
            "answer_by": _iso(self.answer_by),
            "ts": _iso(self.ts),
            "evidence": list(self.evidence),
            "reason": self.why.value,
            "holds": self.holds,
            "title": RULES[self.rule].title_zh,
        }
        if self.estimated:
            doc["estimated"] = True
        if self.by is not None:
            doc["by"] = self.by
        if self.text is not None:
            doc["text"] = self.text
        return doc


def _subject_items(s: Subject) -> Iterator[tuple[str, str | None]]:
    yield "case", s.case
    yield "window", s.window
    yield "staff", s.staff


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


@dataclass(slots=True)
class Card:
    id: CardId
    rule: RuleId
    level: Level
    subject: Subject
    owner: StaffId | None
    raised_at: datetime
    answer_by: datetime | None
    evidence: tuple[EventId, ...]
    estimated: bool
    state: CardState = CardState.RAISED
    holds: bool = True
    history: list[Transition] = field(default_factory=list)


def card_id(rule: RuleId, key: str, qualifier: str, start: datetime) -> CardId:
    """Stable under replay; a moved deadline is a different card (the old one is voided)."""
    text = f"{rule}|{key}|{qualifier}|{start.isoformat()}"
    return CardId("K-" + hashlib.sha256(text.encode()).hexdigest()[:16].upper())


@dataclass(slots=True)
class _Case:
    entries: list[Entry]
    assessment: Assessment
    cards: list[CardId] = field(default_factory=list)
    wake: datetime | None = None

    @property
    def key(self) -> str:
        return self.assessment.case

    @property
    def subject(self) -> Subject:
        a = self.assessment
        return Subject(case=a.case, window=a.window, staff=a.staff)

    @property
    def owner(self) -> StaffId | None:
        return self.assessment.staff

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.assessment.conditions


_WATCH = "\0w:"  # heap keys of watches, apart from case ids


@dataclass(slots=True)
class _Watch:
    """A subject other than a case (a window, an officer's day, a duty half-day): its
    conditions are worked out by the caller (alerts/posts.py, attendance.py, duty.py)."""

    key: str
    subject: Subject
    owner: StaffId | None
    conditions: tuple[Condition, ...]
    cards: list[CardId] = field(default_factory=list)
    wake: datetime | None = None


class CardEngine:
    """All cards of a hall. Feed it in journal order; `advance` fires what time makes due."""

    def __init__(
        self, calendar: WorkCalendar, policy: Policy, roles: Mapping[StaffId, str]
    ) -> None:
        self.calendar = calendar
        self.policy = policy
        self.roles = roles
        self.cases: dict[CaseId, _Case] = {}
        self.watches: dict[str, _Watch] = {}
        self.cards: dict[CardId, Card] = {}
        self.refusals: list[tuple[CardCommand, Refusal]] = []
        self._heap: list[tuple[datetime, str]] = []
        self._now: datetime | None = None
        self._missing: dict[int, CardId] = {}
        self._notices: set[int] = set()

    # --- input ---------------------------------------------------------------------------

    def on_case_event(
        self, seq: int, event_id: EventId, ev: CaseEvent, now: datetime
    ) -> list[Transition]:
        out = self.advance(now)
        now = self._now or now  # what advance settled on: time never runs backwards
        rec = self.cases.get(ev.case)
        entry = Entry(ev.ts, seq, event_id, ev)
        entries = [*rec.entries, entry] if rec else [entry]
        assessment = assess(ev.case, entries, self.calendar, self.policy)
        if rec is None:
            rec = self.cases[ev.case] = _Case(entries, assessment)
        rec.entries, rec.assessment = entries, assessment
        out += self._sync(rec, now)
        out += self._calendar_cards(rec.assessment, now)
        return out

    def on_conditions(
        self,
        key: str,
        subject: Subject,
        owner: StaffId | None,
        conditions: tuple[Condition, ...],
        now: datetime,
    ) -> list[Transition]:
        """The current conditions of a non-case subject; its cards follow as for cases."""
        out = self.advance(now)
        now = self._now or now
        rec = self.watches.get(key)
        if rec is None:
            rec = self.watches[key] = _Watch(key, subject, owner, conditions)
        rec.subject, rec.owner, rec.conditions = subject, owner, conditions
        out += self._sync(rec, now)
        return out

    def on_command(self, cmd: CardCommand, now: datetime) -> list[Transition]:
        """A card command; one refused is recorded in `refusals` with its reason."""
        out = self.advance(now)
        card = self.cards.get(cmd.card)
        refusal = self._refuse(card, cmd)
        if refusal is not None or card is None:
            self.refusals.append((cmd, refusal or Refusal.UNKNOWN_CARD))
            return out
        if cmd.action is CardAction.ANSWER:
            out.append(self._move(card, CardState.ANSWERED, Why.ANSWERED, cmd.ts, cmd))
            return out
        state = CardState.UPHELD if cmd.action is CardAction.UPHOLD else CardState.REVOKED
        why = Why.UPHELD if state is CardState.UPHELD else Why.REVOKED
        out.append(self._move(card, state, why, cmd.ts, cmd))
        if not card.holds:
            out.append(self._move(card, CardState.CLOSED, Why.DECIDED, cmd.ts))
        return out

    def _refuse(self, card: Card | None, cmd: CardCommand) -> Refusal | None:
        """Answer: the owner, a leader or a supervisor. Uphold, revoke: a supervisor."""
        if card is None:
            return Refusal.UNKNOWN_CARD
        role = self.roles.get(cmd.by)
        if cmd.action is CardAction.ANSWER:
            if cmd.by != card.owner and role not in ("supervisor", "leader"):
                return Refusal.NOT_ALLOWED
            return None if card.state in _OPEN[:2] else Refusal.WRONG_STATE
        if role != "supervisor":
            return Refusal.NOT_ALLOWED
        if card.state not in _OPEN:
            return Refusal.WRONG_STATE
        # Heard before any penalty (000_… 八(八)): answered, or answer_by passed unanswered.
        if cmd.action is CardAction.UPHOLD and card.state is CardState.RAISED:
            return Refusal.NOT_HEARD
        return None

    # --- time ----------------------------------------------------------------------------

    def advance(self, now: datetime) -> list[Transition]:
        """Fire everything due at or before `now`, in time order."""
        out: list[Transition] = []
        if self._now is not None and now < self._now:
            now = self._now  # receive times may step back a little: time never runs backwards
        self._now = now
        self._schedule_year_notice(now)
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            if key.startswith("\0year:"):
                out += self._missing_card(int(key[6:]), at)
                continue
            rec: _Case | _Watch | None
            if key.startswith(_WATCH):
                rec = self.watches.get(key[len(_WATCH) :])
            else:
                rec = self.cases.get(CaseId(key))
            if rec is not None and rec.wake == at:
                rec.wake = None
                out += self._sync(rec, at)
        return out

    def next_due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def recalendar(self, calendar: WorkCalendar, now: datetime) -> list[Transition]:
        """A new holiday table: recompute every case; the cards follow."""
        out = self.advance(now)
        now = self._now or now
        self.calendar = calendar
        for rec in self.cases.values():
            rec.assessment = assess(rec.assessment.case, rec.entries, calendar, self.policy)
            out += self._sync(rec, now)
        for year, cid in sorted(self._missing.items()):
            card = self.cards[cid]
            if calendar.year_known(year) and card.holds:
                card.holds = False
                out.append(self._move(card, CardState.CLOSED, Why.CLEARED, now))
        for rec in self.cases.values():
            out += self._calendar_cards(rec.assessment, now)
        return out

    # --- the heart: conditions at `now` versus cards ---------------------------------------

    def _sync(self, rec: _Case | _Watch, now: datetime) -> list[Transition]:
        out: list[Transition] = []
        wanted: set[CardId] = set()
        wake: list[datetime] = []
        for c in rec.conditions:
            key = card_id(c.rule, rec.key, c.qualifier, c.start)
            if c.start > now:
                wake.append(c.start)
                continue
            wanted.add(key)
            card = self.cards.get(key)
            if card is None:
                card = self._raise(rec, key, c, out)
            else:
                out += self._again(card, c, now)
            out += self._follow(card, c, now, wake)
        for key in rec.cards:
            card = self.cards[key]
            if key not in wanted and card.history[-1].why is not Why.VOID:
                card.holds = False  # late evidence: its condition never held
                out.append(self._move(card, CardState.CLOSED, Why.VOID, now))
        self._sleep(rec, min(wake) if wake else None)
        out.sort(key=lambda t: (t.ts, t.card))
        return out

    def _raise(self, rec: _Case | _Watch, key: CardId, c: Condition, out: list[Transition]) -> Card:
        rule = RULES[c.rule]
        answer_by = None
        if rule.level is Level.RED:
            answer_by = self.calendar.add_working_days(c.start, self.policy.answer_days).at
        card = Card(
            id=key,
            rule=c.rule,
            level=rule.level,
            subject=rec.subject,
            owner=rec.owner,
            raised_at=c.start,
            answer_by=answer_by,
            evidence=c.evidence,
            estimated=c.estimated,
            # A breach at an instant (a refusal without reasons, a late extension) is on the
            # record from the start without holding on.
            holds=c.end is None or c.end > c.start,
        )
        self.cards[key] = card
        rec.cards.append(key)
        out.append(self._move(card, CardState.RAISED, Why.CONDITION_MET, c.start))
        return card

    def _again(self, card: Card, c: Condition, now: datetime) -> list[Transition]:
        """Later evidence brought back a condition that was voided or had stopped holding."""
        holds = c.end is None or c.end > now
        if card.history[-1].why is not Why.VOID and (card.holds or not holds):
            return []
        card.holds = True
        state = CardState.RAISED if card.state is CardState.CLOSED else card.state
        return [self._move(card, state, Why.CONDITION_MET, now)]

    def _follow(
        self, card: Card, c: Condition, now: datetime, wake: list[datetime]
    ) -> list[Transition]:
        """Escalation and the end of the condition, each at its own time, in time order."""
        card.estimated = c.estimated
        steps: list[tuple[datetime, int]] = []
        if card.state is CardState.RAISED and card.answer_by is not None:
            if card.answer_by <= now:
                steps.append((card.answer_by, 1))
            else:
                wake.append(card.answer_by)
        if c.end is not None and c.end > now:
            wake.append(c.end)
        elif c.end is not None and card.holds:
            steps.append((c.end, 0))
        out: list[Transition] = []
        for at, what in sorted(steps):
            if what == 1:
                out.append(self._move(card, CardState.ESCALATED, Why.ANSWER_OVERDUE, at))
            else:
                out.append(self._ended(card, c, at))
        return out

    def _ended(self, card: Card, c: Condition, at: datetime) -> Transition:
        card.holds = False
        if card.state in _DECIDED:
            return self._move(card, CardState.CLOSED, Why.DECIDED, at)
        if card.level is not Level.RED:
            why = Why.SUPERSEDED if c.superseded else Why.CLEARED
            return self._move(card, CardState.CLOSED, why, at)
        return self._move(card, card.state, Why.CONDITION_ENDED, at)  # on record until decided

    def _move(
        self,
        card: Card,
        state: CardState,
        why: Why,
        ts: datetime,
        cmd: CardCommand | None = None,
    ) -> Transition:
        if card.history and ts < card.history[-1].ts:
            ts = card.history[-1].ts  # learned late: a card's history never goes back in time
        card.state = state
        t = Transition(
            card=card.id,
            rule=card.rule,
            level=card.level,
            state=state,
            why=why,
            subject=card.subject,
            owner=card.owner,
            answer_by=card.answer_by,
            ts=ts,
            evidence=card.evidence,
            holds=card.holds,
            estimated=card.estimated,
            by=cmd.by if cmd else None,
            text=cmd.text if cmd else None,
        )
        card.history.append(t)
        return t

    def _sleep(self, rec: _Case | _Watch, at: datetime | None) -> None:
        if at is not None and at != rec.wake:
            key = rec.key if isinstance(rec, _Case) else _WATCH + rec.key
            heapq.heappush(self._heap, (at, key))
        rec.wake = at

    # --- calendar.missing --------------------------------------------------------------

    def _calendar_cards(self, a: Assessment, now: datetime) -> list[Transition]:
        return [t for y in sorted(a.unknown_years) for t in self._missing_card(y, now)]

    def _missing_card(self, year: int, at: datetime) -> list[Transition]:
        """One card per year, raised when first needed; its id depends on the year alone."""
        if year in self._missing or self.calendar.year_known(year):
            return []
        key = card_id(RuleId.CALENDAR_MISSING, str(year), "", datetime(year, 1, 1, tzinfo=UTC))
        card = Card(
            id=key,
            rule=RuleId.CALENDAR_MISSING,
            level=RULES[RuleId.CALENDAR_MISSING].level,
            subject=Subject(),
            owner=None,
            raised_at=at,
            answer_by=None,
            evidence=(),
            estimated=True,
        )
        self.cards[key] = card
        self._missing[year] = key
        return [self._move(card, CardState.RAISED, Why.CONDITION_MET, at)]

    def _schedule_year_notice(self, now: datetime) -> None:
        """From 1 November (policy) the coming year's schedule must be known, and this one's."""
        local = now.astimezone(self.calendar.zone)
        month, day = self.policy.calendar_notice
        for year in (local.year, local.year + 1):
            if year > MAXYEAR or year in self._notices or self.calendar.year_known(year):
                continue
            self._notices.add(year)
            notice = datetime.combine(date(year - 1, month, day), time(), self.calendar.zone)
            heapq.heappush(self._heap, (notice.astimezone(UTC), f"\0year:{year}"))

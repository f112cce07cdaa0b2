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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

import msgspec

from alerts.cases import Assessment, Condition, Entry, assess
from alerts.events import CardAction, CardCommand, CaseEvent, Mitigation
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.roles import StaffRole
from alerts.rules import RULES, Level, Policy, RuleId
from alerts.workdays import WorkCalendar


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
    MITIGATED = "mitigated"  # upheld with 从轻, 减轻 or 免予处理 (000_… 八(七)): see `mitigation`
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
    SYSTEM_CARD = "system_card"  # about the system's own setup: fixed by the admin, not heard


# Cards about the hall's setup, not about anyone's conduct: nobody answers for them and no
# supervisor decides them; they close when the admin fixes the cause (docs/cards.md).
SYSTEM_RULES = frozenset({RuleId.CALENDAR_MISSING})


_DECISION_WHY = {
    CardAction.UPHOLD: Why.UPHELD,
    CardAction.MITIGATE: Why.MITIGATED,
    CardAction.REVOKE: Why.REVOKED,
}
_OPEN = (CardState.RAISED, CardState.ESCALATED, CardState.ANSWERED)
_DECIDED = (CardState.UPHELD, CardState.REVOKED)


class Subject(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    case: CaseId | None = None
    window: WindowId | None = None
    staff: StaffId | None = None


class Transition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
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
    cause: str | None = None  # a void's: the silent sources whose late evidence voided it
    silent: tuple[str, ...] = ()  # the sources the card was judged without (beside evidence)
    step: int = 0  # its position in the card's history: orders a card's points at one instant
    mitigation: Mitigation | None = None  # an upholding's mitigation (Why.MITIGATED)

    def payload(self) -> dict[str, Any]:
        """The contract's card payload (docs/contract.md), plus optional fields of our own."""
        doc = card_payload(
            card=self.card,
            rule=self.rule.value,
            title=RULES[self.rule].title_zh,
            level=self.level,
            state=self.state,
            why=self.why,
            subject=self.subject,
            owner=self.owner,
            answer_by=self.answer_by,
            ts=self.ts,
            evidence=self.evidence,
            holds=self.holds,
        )
        if self.estimated:
            doc["estimated"] = True
        if self.by is not None:
            doc["by"] = self.by
        if self.text is not None:
            doc["text"] = self.text
        if self.silent:
            doc["silent"] = list(self.silent)
        if self.cause is not None:
            doc["cause"] = self.cause
        if self.mitigation is not None:
            doc["mitigation"] = self.mitigation.value
        return doc


def card_payload(
    *,
    card: str,
    rule: str,
    title: str,
    level: Level,
    state: CardState,
    why: Why,
    subject: Subject,
    owner: str | None,
    answer_by: datetime | None,
    ts: datetime,
    evidence: Sequence[str],
    holds: bool,
) -> dict[str, Any]:
    """Every card's payload: a rule's transition, or a card the daemon raises about itself
    (`monitor/system_cards.py`: a rule id and a title the rules table does not hold)."""
    return {
        "card": card,
        "rule": rule,
        "level": level.value,
        "state": state.value,
        "subject": dict(_subject_items(subject)),
        "owner": owner,
        "answer_by": _iso(answer_by),
        "ts": _iso(ts),
        "evidence": list(evidence),
        "reason": why.value,
        "holds": holds,
        "title": title,
    }


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
    qualifier: str = ""  # which step or extension: with rule and raised_at, what its id hashes
    silent: tuple[str, ...] = ()  # the sources it was judged without (Condition.silent)


def silent_note(silent: Sequence[str]) -> str | None:
    """What a card judged without silent sources says of them: ``CLK-WEST 未上报``."""
    return f"{'、'.join(silent)} 未上报" if silent else None


def card_id(rule: str, key: str, qualifier: str, start: datetime) -> CardId:
    """Stable under replay; a moved deadline is a different card (the old one is voided).

    The instant is hashed in UTC: one instant is one card however its time was written (a
    condition may begin at an event's own `ts`, in the zone it came with).
    """
    text = f"{rule}|{key}|{qualifier}|{start.astimezone(UTC).isoformat()}"
    return CardId("K-" + hashlib.sha256(text.encode()).hexdigest()[:16].upper())


class WatchKind(StrEnum):
    """The subjects other than a case that cards are raised on (a `_Watch`)."""

    WINDOW = "window"  # a window's posts (alerts/posts.py)
    ATTENDANCE = "attendance"  # an officer's working day (alerts/attendance.py)
    DUTY = "duty"  # a leader's duty half-day (alerts/duty.py)
    QUOTA = "quota"  # a leader's duty quota in a half month
    COMPLAINT = "complaint"  # a complaint's handling; with "founded", whom it names
    REVIEW = "review"  # a bad rating's rectification (alerts/complaints.py)
    STAFF = "staff"  # an officer's own statuses: absence notices, leave notes (alerts/posts.py)
    HEAD = "head"  # a window head warned of an upheld 000_… 八(五) breach (alerts/supervision.py)
    REPEAT = "repeat"  # an officer's second upheld breach in a year (000_… 八(六)3)


def watch_key(kind: WatchKind, *parts: str | date) -> str:
    """A watch's key, which its cards' ids hash: ``attendance:S001:2026-11-20`` (the parts
    joined by ":", dates in ISO form); the qualifier (alerts/ids.py) tells its cards apart."""
    return ":".join([kind, *(p.isoformat() if isinstance(p, date) else p for p in parts)])


@dataclass(slots=True)
class _Clocks:
    """What an assessment depends on besides the events: one per engine, shared by its cases."""

    calendar: WorkCalendar
    policy: Policy


@dataclass(slots=True)
class _Case:
    """One case: its journaled events and its cards.

    Its assessment is not kept (memory: a million open cases): it is worked out again from the
    events when one arrives and when one of its instants comes due.
    """

    entries: tuple[Entry, ...]
    clocks: _Clocks
    cards: tuple[CardId, ...] = ()
    wake: datetime | None = None

    @property
    def key(self) -> str:
        return self.entries[0].event.case

    @property
    def assessment(self) -> Assessment:
        clocks = self.clocks
        return assess(self.entries[0].event.case, self.entries, clocks.calendar, clocks.policy)


_Kept = tuple[tuple[Entry, ...], WorkCalendar, Policy, Assessment]  # `CardEngine._day_kept`


class _Live(NamedTuple):
    """What `_sync` needs of a subject: its key, who it is, and its conditions now."""

    key: str
    subject: Subject
    owner: StaffId | None
    conditions: tuple[Condition, ...]


def _case_live(a: Assessment) -> _Live:
    subject = Subject(case=a.case, window=a.window, staff=a.staff)
    return _Live(a.case, subject, a.staff, a.conditions)


class Wake(IntEnum):
    """What a heap entry (instant, wake, key) wakes, in this order at one instant."""

    WATCH = 0  # a watch (window, attendance day, duty half-day, complaint): key is its key
    YEAR = 1  # the notice that a year's holiday schedule is missing: key is the year
    CASE = 2  # a case: key is its id
    CARD = 3  # a card's answer_by (escalation): key is the card id


@dataclass(slots=True)
class _Watch:
    """A subject other than a case (a window, an officer's day, a duty half-day): its
    conditions are worked out by the caller (alerts/posts.py, attendance.py, duty.py)."""

    key: str
    subject: Subject
    owner: StaffId | None
    conditions: tuple[Condition, ...]
    cards: tuple[CardId, ...] = ()
    wake: datetime | None = None
    # The caller's facts before this are let go (`on_conditions`): its cards raised before
    # it stay as they are, at every sync (a wake too), never voided for that.
    settled_before: datetime | None = None

    def live(self) -> _Live:
        return _Live(self.key, self.subject, self.owner, self.conditions)


class CardEngine:
    """All cards of a hall. Feed it in journal order; `advance` fires what time makes due."""

    def __init__(
        self, calendar: WorkCalendar, policy: Policy, roles: Mapping[StaffId, StaffRole]
    ) -> None:
        self._clocks = _Clocks(calendar, policy)
        self.roles = roles
        self.cases: dict[CaseId, _Case] = {}
        self.days: dict[date, list[CaseId]] = {}  # local day -> cases with an event stamped then
        self.watches: dict[str, _Watch] = {}
        self.cards: dict[CardId, Card] = {}
        self.refusals: list[tuple[CardCommand, Refusal]] = []
        self._heap: list[tuple[datetime, Wake, str]] = []
        self._now: datetime | None = None
        self._missing: dict[int, CardId] = {}
        self._notices: set[int] = set()
        self._notices_checked_until: datetime | None = None
        # The assessments of one day's cases (the hall totals', asked at each refresh of the
        # lights), each kept while its case's events, the calendar and the policy are the ones
        # it was worked out from: a refresh works out only the cases that moved.
        self._day_kept: tuple[date, dict[CaseId, _Kept]] | None = None

    @property
    def calendar(self) -> WorkCalendar:
        return self._clocks.calendar

    @property
    def policy(self) -> Policy:
        return self._clocks.policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        """New thresholds apply from the next assessment of each case on."""
        self._clocks.policy = policy

    def assessments(self, day: date | None = None) -> list[Assessment]:
        """Every case's assessment, or those of the cases with an event stamped on local `day`.

        Worked out now from the events: cost grows with the cases asked for. Those of the
        last `day` asked are kept (`_day_kept`), for as long as what they came from holds.
        """
        if day is None:
            return [rec.assessment for rec in self.cases.values()]
        kept = self._day_kept[1] if self._day_kept and self._day_kept[0] == day else {}
        self._day_kept = (day, kept)
        cal, policy = self._clocks.calendar, self._clocks.policy
        out = []
        for c in dict.fromkeys(self.days.get(day, ())):
            rec, k = self.cases[c], kept.get(c)
            if k is None or k[0] is not rec.entries or k[1] is not cal or k[2] is not policy:
                k = kept[c] = (rec.entries, cal, policy, rec.assessment)
            out.append(k[3])
        return out

    # --- input ---------------------------------------------------------------------------

    def on_case_event(
        self, seq: int, event_id: EventId, ev: CaseEvent, now: datetime
    ) -> list[Transition]:
        out = self.advance(now)
        now = self._now or now  # what advance settled on: time never runs backwards
        rec = self.cases.get(ev.case)
        entry = Entry(ev.ts, seq, event_id, ev)
        if rec is None:
            rec = self.cases[ev.case] = _Case((entry,), self._clocks)
        else:
            rec.entries = (*rec.entries, entry)
        day = ev.ts.astimezone(self.calendar.zone).date()
        self.days.setdefault(day, []).append(ev.case)
        assessment = rec.assessment
        out += self._sync(rec, _case_live(assessment), now)
        out += self._calendar_cards(assessment, now)
        return out

    def on_conditions(
        self,
        key: str,
        subject: Subject,
        owner: StaffId | None,
        conditions: tuple[Condition, ...],
        now: datetime,
        *,
        settled_before: datetime | None = None,
    ) -> list[Transition]:
        """The current conditions of a non-case subject; its cards follow as for cases.

        `settled_before`: the facts before it are forgotten (a window's seat readings), so
        the conditions omit what began before it; its cards stay as they are, never voided
        for their evidence having been let go."""
        out = self.advance(now)
        now = self._now or now
        rec = self.watches.get(key)
        if rec is None:
            rec = self.watches[key] = _Watch(key, subject, owner, conditions)
        rec.subject, rec.owner, rec.conditions = subject, owner, conditions
        rec.settled_before = settled_before
        out += self._sync(rec, rec.live(), now, settled_before)
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
        state = CardState.REVOKED if cmd.action is CardAction.REVOKE else CardState.UPHELD
        why = _DECISION_WHY[cmd.action]
        out.append(self._move(card, state, why, cmd.ts, cmd))
        if not card.holds:
            out.append(self._move(card, CardState.CLOSED, Why.DECIDED, cmd.ts))
        return out

    def _refuse(self, card: Card | None, cmd: CardCommand) -> Refusal | None:
        """Answer: the owner, a leader or a supervisor. Uphold, revoke: a supervisor."""
        if card is None:
            return Refusal.UNKNOWN_CARD
        if card.rule in SYSTEM_RULES:
            return Refusal.SYSTEM_CARD
        role = self.roles.get(cmd.by)
        if cmd.action is CardAction.ANSWER:
            if cmd.by != card.owner and role not in (StaffRole.SUPERVISOR, StaffRole.LEADER):
                return Refusal.NOT_ALLOWED
            return None if card.state in _OPEN[:2] else Refusal.WRONG_STATE
        if role != StaffRole.SUPERVISOR:
            return Refusal.NOT_ALLOWED
        if card.state not in _OPEN:
            return Refusal.WRONG_STATE
        # Heard before any penalty (000_… 八(八)): answered, or answer_by passed unanswered.
        penalty = cmd.action in (CardAction.UPHOLD, CardAction.MITIGATE)
        if penalty and card.state is CardState.RAISED:
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
            at, what, key = heapq.heappop(self._heap)
            if what is Wake.YEAR:
                out += self._missing_card(int(key), at)
                continue
            if what is Wake.CARD:
                out += self._escalate(self.cards[CardId(key)], at)
                continue
            rec: _Case | _Watch | None
            rec = self.watches.get(key) if what is Wake.WATCH else self.cases.get(CaseId(key))
            if rec is not None and rec.wake == at:
                rec.wake = None
                if isinstance(rec, _Case):
                    out += self._sync(rec, _case_live(rec.assessment), at)
                else:
                    out += self._sync(rec, rec.live(), at, rec.settled_before)
        return out

    def next_due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def recalendar(self, calendar: WorkCalendar, now: datetime) -> list[Transition]:
        """A new holiday table: recompute every case; the cards follow."""
        out = self.advance(now)
        now = self._now or now
        self._clocks.calendar = calendar
        self._notices_checked_until = None
        assessments = [rec.assessment for rec in self.cases.values()]
        for rec, a in zip(self.cases.values(), assessments, strict=True):
            out += self._sync(rec, _case_live(a), now)
        for year, cid in sorted(self._missing.items()):
            card = self.cards[cid]
            if calendar.year_known(year) and card.holds:
                card.holds = False
                out.append(self._move(card, CardState.CLOSED, Why.CLEARED, now))
        for a in assessments:
            out += self._calendar_cards(a, now)
        return out

    # --- the heart: conditions at `now` versus cards ---------------------------------------

    def _sync(
        self,
        rec: _Case | _Watch,
        live: _Live,
        now: datetime,
        settled_before: datetime | None = None,
    ) -> list[Transition]:
        out: list[Transition] = []
        wanted: set[CardId] = set()
        wake: list[datetime] = []
        for c in live.conditions:
            if c.start > now:
                wake.append(c.start)
                continue
            card = self._card_of(rec, c)
            if card is None:
                card = self._raise(
                    rec, live, card_id(c.rule, live.key, c.qualifier, c.start), c, out
                )
            else:
                out += self._again(card, c, now)
            wanted.add(card.id)
            out += self._follow(card, c, now, wake)
        for key in rec.cards:
            card = self.cards[key]
            if key in wanted or card.history[-1].why is Why.VOID:
                continue
            if settled_before is not None and card.raised_at < settled_before:
                continue  # its evidence was let go, not contradicted
            card.holds = False  # late evidence: its condition never held
            out.append(self._void(card, now))
        self._sleep(rec, min(wake) if wake else None)
        if len(out) > 1:
            out.sort(key=lambda t: (t.ts, t.card))
        return out

    def _card_of(self, rec: _Case | _Watch, c: Condition) -> Card | None:
        """The subject's card for `c`, if raised: the one `card_id` would name, found without
        hashing (a subject has a handful of cards)."""
        for key in rec.cards:
            card = self.cards[key]
            if card.raised_at == c.start and card.rule is c.rule and card.qualifier == c.qualifier:
                return card
        return None

    def _raise(
        self, rec: _Case | _Watch, live: _Live, key: CardId, c: Condition, out: list[Transition]
    ) -> Card:
        rule = RULES[c.rule]
        answer_by = None
        if rule.level is Level.RED:
            answer_by = self.calendar.add_working_days(c.start, self.policy.answer_days).at
        card = Card(
            id=key,
            rule=c.rule,
            level=rule.level,
            subject=live.subject,
            owner=live.owner,
            raised_at=c.start,
            answer_by=answer_by,
            evidence=c.evidence,
            estimated=c.estimated,
            # A breach at an instant (a refusal without reasons, a late extension) is on the
            # record from the start without holding on.
            holds=c.end is None or c.end > c.start,
            qualifier=c.qualifier,
            silent=c.silent,
        )
        self.cards[key] = card
        rec.cards = (*rec.cards, key)
        if answer_by is not None:  # unanswered by then: escalated, without assessing the case
            heapq.heappush(self._heap, (answer_by, Wake.CARD, key))
        note = silent_note(c.silent)
        out.append(self._move(card, CardState.RAISED, Why.CONDITION_MET, c.start, text=note))
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
        answer_by = card.answer_by  # when later: a wake of its own (`_raise`)
        if card.state is CardState.RAISED and answer_by is not None and answer_by <= now:
            steps.append((answer_by, 1))
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
        *,
        text: str | None = None,
        cause: str | None = None,
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
            text=cmd.text if cmd else text,
            cause=cause,
            silent=card.silent,
            step=len(card.history),
            mitigation=cmd.mitigation if cmd else None,
        )
        card.history.append(t)
        return t

    def _void(self, card: Card, now: datetime) -> Transition:
        """Late evidence showed the condition never held. A card judged without a silent
        source (its bound ran out) is voided by that source's backlog: the void says so."""
        if not card.silent:
            return self._move(card, CardState.CLOSED, Why.VOID, now)
        names = "、".join(card.silent)
        text = f"{names} 未上报时判定；其补传的数据表明条件不成立"
        cause = ",".join(card.silent)
        return self._move(card, CardState.CLOSED, Why.VOID, now, text=text, cause=cause)

    def _escalate(self, card: Card, at: datetime) -> list[Transition]:
        """`answer_by` came and the card is still unanswered (not voided, not decided)."""
        if card.state is not CardState.RAISED or card.answer_by != at:
            return []
        return [self._move(card, CardState.ESCALATED, Why.ANSWER_OVERDUE, at)]

    def _sleep(self, rec: _Case | _Watch, at: datetime | None) -> None:
        if at is not None and at != rec.wake:
            what = Wake.CASE if isinstance(rec, _Case) else Wake.WATCH
            heapq.heappush(self._heap, (at, what, rec.key))
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
        until = self._notices_checked_until
        if until is not None and now < until:
            return  # same local year as last time: nothing new to schedule
        zone = self.calendar.zone
        local = now.astimezone(zone)
        month, day = self.policy.calendar_notice
        for year in (local.year, local.year + 1):
            if year > MAXYEAR or year in self._notices or self.calendar.year_known(year):
                continue
            self._notices.add(year)
            notice = datetime.combine(date(year - 1, month, day), time(), zone)
            heapq.heappush(self._heap, (notice.astimezone(UTC), Wake.YEAR, str(year)))
        if local.year < MAXYEAR:
            self._notices_checked_until = datetime(local.year + 1, 1, 1, tzinfo=zone)

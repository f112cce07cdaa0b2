"""The card lifecycle (alerts/cards.py) as a state machine: cards raised, escalated, answered,
upheld or revoked, closed and voided, driven by case events, commands and time.

Hypothesis runs a hall of three cases on the real 2026 calendar (chinesecalendar, 调休
included): case events stamped now or uploaded late (a backlog: cards raised at their true
times, then voided by late evidence), twins of an event at its very instant with the time
written in the other zone (UTC or hall time) and an id sorting before or after, card
commands from the owner, another officer, a leader, the supervisor and a stranger, and time
moving forward (a fake clock: every `now` is written out; jumps land exactly on the instants
the engine has due). After every step, for every card (docs/cards.md "A card"):
- nothing is deleted: a card, once raised, stays; its history only grows (what was published
  stays as it was), in time order, and what grew is exactly what the step returned;
- each transition follows an allowed edge for its reason: raised → escalated (at `answer_by`)
  → answered → upheld | revoked → closed, plus the edges of the condition (`condition_ended`,
  `cleared`, `superseded`, `void`, raised again by later evidence);
- heard before any penalty (`000_…` 八(八)): an uphold only of a card answered, or whose
  `answer_by` has passed; a red's `answer_by` is 2 working days after its raise, by
  chinesecalendar, at close of business;
- a command (received now, stamped now or earlier) is taken or refused as docs/cards.md says,
  with its reason;
- every condition of the cases' assessments begun by now has its card, and the card holds
  exactly while its condition does (a breach at an instant never holds); a card whose
  condition is gone is void;
- the card id is the hash of rule, subject, step and raise time.
At the end the same inputs are replayed into a fresh engine, once all of them and once with
only the ticks that fired something (fewer than the daemon journals: it keeps every tick that
had something due): identical cards, transition for transition, and the same refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from alerts.cards import Card, CardState, Refusal, Transition, Why, card_id
from alerts.cases import Entry
from alerts.events import (
    CardAction,
    CardCommand,
    CaseAction,
    CaseKind,
    Mitigation,
    Outcome,
    ReviewVerdict,
)
from alerts.ids import CardId, EventId, StaffId
from alerts.rules import Level, RuleId
from tests.calendar_oracle import in_service_hours_of_a_working_day, period_end
from tests.case_builders import (
    LEADER,
    OFFICER,
    OTHER,
    ROLES,
    SHANGHAI,
    SUPERVISOR,
    Hall,
    Story,
    at,
)

S, W, A, R = CardState, Why, CaseAction, RuleId
MINUTE = timedelta(minutes=1)
STRANGER = StaffId("X999")
PEOPLE = [OFFICER, OTHER, LEADER, SUPERVISOR, STRANGER]
UNKNOWN = CardId("K-0000000000000000")
CASES = ["C1", "C2", "C3"]
# Around the Spring Festival (Sat 14 and 28 Feb worked), May Day (Sat 9 May worked), National
# Day (Sun 20 Sep and Sat 10 Oct worked), a plain March week, and late October (from 1
# November the 2027 schedule is missing: a system card).
STARTS = [at(2026, 2, 11, 9), at(2026, 3, 9, 8), at(2026, 4, 29, 10), at(2026, 9, 17, 9)]
STARTS.append(at(2026, 10, 28, 9))
CAP = at(2026, 11, 20)  # answer_by and every deadline stay in 2026
WAITS = st.one_of(
    st.integers(1, 120).map(lambda m: m * MINUTE),
    st.integers(1, 30).map(lambda h: timedelta(hours=h)),
    st.integers(1, 4).map(lambda d: timedelta(days=d)),
)
LAGS = st.sampled_from([0, 0, 0, 5, 180, 24 * 60, 3 * 24 * 60]).map(lambda m: m * MINUTE)
ACTIONS = st.sampled_from(
    [
        A.ACCEPTED,
        A.ACCEPTED,
        A.SUSPENDED,
        A.RESUMED,
        A.EXTENDED,
        A.COMPLETED,
        A.COMPLETED,
        A.RETURNED,
        A.REFUSAL_REVIEWED,
        A.CORRECTED,
    ]
)
INSTANT = (R.RETURNED_NO_REASON, R.EXTENSION_LATE)  # conditions that begin and end at once
OPEN = (S.RAISED, S.ESCALATED, S.ANSWERED)
ANY = (*OPEN, S.UPHELD, S.REVOKED, S.CLOSED)
# Why → the (state before, state after) it may join; None before the first transition.
EDGES: dict[Why, set[tuple[CardState | None, CardState]]] = {
    W.CONDITION_MET: {(None, S.RAISED), (S.CLOSED, S.RAISED)} | {(s, s) for s in ANY[:-1]},
    W.CONDITION_ENDED: {(s, s) for s in OPEN},
    W.ANSWER_OVERDUE: {(S.RAISED, S.ESCALATED)},
    W.ANSWERED: {(S.RAISED, S.ANSWERED), (S.ESCALATED, S.ANSWERED)},
    W.UPHELD: {(S.ESCALATED, S.UPHELD), (S.ANSWERED, S.UPHELD)},
    W.MITIGATED: {(S.ESCALATED, S.UPHELD), (S.ANSWERED, S.UPHELD)},  # 000_… 八(七)
    W.REVOKED: {(s, S.REVOKED) for s in OPEN},
    W.CLEARED: {(s, S.CLOSED) for s in OPEN},
    W.SUPERSEDED: {(s, S.CLOSED) for s in OPEN},
    W.DECIDED: {(S.UPHELD, S.CLOSED), (S.REVOKED, S.CLOSED)},
    W.VOID: {(s, S.CLOSED) for s in ANY},
}
COMMANDED = {
    W.ANSWERED: CardAction.ANSWER,
    W.UPHELD: CardAction.UPHOLD,
    W.MITIGATED: CardAction.MITIGATE,
    W.REVOKED: CardAction.REVOKE,
}


@dataclass(frozen=True)
class Fed:
    """One input to the engine, kept for the replays."""

    what: Literal["event", "tick", "command"]
    now: datetime
    story: str = ""
    index: int = 0  # the entry of the story
    command: CardCommand | None = None
    fired: bool = False  # a tick that fired something


def fields(action: CaseAction, days: int, legal: int | None, flag: bool) -> dict[str, object]:
    """What an event of `action` carries, from the drawn numbers."""
    if action is A.ACCEPTED:
        return {"promised_days": days, "legal_days": legal}
    if action is A.EXTENDED:
        return {"extra_days": days % 3 + 1, "approved_by": LEADER}
    if action is A.COMPLETED:
        return {"outcome": Outcome.REFUSED if flag and days == 0 else Outcome.APPROVED}
    if action is A.RETURNED:
        return {"reason": "材料不全" if flag else " "}
    if action is A.REFUSAL_REVIEWED:
        return {"verdict": ReviewVerdict.UNLAWFUL if flag else ReviewVerdict.UPHELD}
    return {}


def heard(card: Card, now: datetime) -> bool:
    """`000_…` 八(八): answered, or given the chance and let `answer_by` pass."""
    if card.state is S.ANSWERED:
        return True
    return card.answer_by is not None and now >= card.answer_by


def expected_refusal(card: Card | None, cmd: CardCommand, now: datetime) -> Refusal | None:
    """docs/cards.md "Card commands": answer by the owner, a leader or a supervisor; uphold
    and revoke by a supervisor; anything else, or in the wrong state, changes nothing."""
    if card is None:
        return Refusal.UNKNOWN_CARD
    if card.rule is R.CALENDAR_MISSING:  # a system card: the admin fixes its cause
        return Refusal.SYSTEM_CARD
    role = ROLES.get(cmd.by)
    if cmd.action is CardAction.ANSWER:
        if cmd.by != card.owner and role not in ("leader", "supervisor"):
            return Refusal.NOT_ALLOWED
        return None if card.state in (S.RAISED, S.ESCALATED) else Refusal.WRONG_STATE
    if role != "supervisor":
        return Refusal.NOT_ALLOWED
    if card.state not in OPEN:
        return Refusal.WRONG_STATE
    penalty = cmd.action in (CardAction.UPHOLD, CardAction.MITIGATE)  # mitigate: 000_… 八(七)
    if penalty and not heard(card, now):
        return Refusal.NOT_HEARD
    return None


def expected_id(card: Card) -> CardId:
    if card.rule is R.CALENDAR_MISSING:  # one per year: the year alone names it
        return card_id(card.rule, "2027", "", datetime(2027, 1, 1, tzinfo=UTC))
    assert card.subject.case is not None
    return card_id(card.rule, card.subject.case, card.qualifier, card.raised_at)


class CardLifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.hall = Hall()
        self.stories: dict[str, Story] = {}
        self.fed: list[Fed] = []
        self.now = STARTS[0]
        self.got: list[Transition] = []  # returned since the last check
        self.seen: dict[CardId, list[Transition]] = {}

    @initialize(
        start=st.sampled_from(STARTS),
        kinds=st.lists(
            st.sampled_from([CaseKind.PROMISED, CaseKind.PROMISED, CaseKind.IMMEDIATE]),
            min_size=len(CASES),
            max_size=len(CASES),
        ),
    )
    def open_the_hall(self, start: datetime, kinds: list[CaseKind]) -> None:
        self.now = start
        self.stories = {c: Story(case=c, kind=k) for c, k in zip(CASES, kinds, strict=True)}

    # time ---------------------------------------------------------------------------------

    def _tick(self) -> None:
        got = self.hall.advance(self.now)
        self.fed.append(Fed("tick", self.now, fired=bool(got)))
        self.got += got

    @rule(wait=WAITS)
    def wait(self, wait: timedelta) -> None:
        if self.now < CAP:  # a rule without precondition: hypothesis never runs out of rules
            self.now += wait
        self._tick()

    @rule()
    def to_the_next_due(self) -> None:
        """Exactly to the next instant the engine has due (a deadline, an `answer_by`)."""
        due = self.hall.engine.next_due()
        if due is not None and self.now < due < CAP:
            self.now = due
            self._tick()

    # case events --------------------------------------------------------------------------

    @rule(
        case=st.sampled_from(CASES),
        action=ACTIONS,
        lag=LAGS,
        days=st.integers(0, 4),
        legal=st.none() | st.integers(2, 8),
        flag=st.booleans(),
    )
    def case_event(
        self,
        case: str,
        action: CaseAction,
        lag: timedelta,
        days: int,
        legal: int | None,
        flag: bool,
    ) -> None:
        """An event stamped now, or uploaded late (stamped up to three days ago)."""
        entry = self.stories[case].add(action, self.now - lag, **fields(action, days, legal, flag))
        self._send(case, entry)
        if lag:
            event("an event uploaded late")

    @rule(
        data=st.data(),
        case=st.sampled_from(CASES),
        action=ACTIONS,
        days=st.integers(0, 4),
        legal=st.none() | st.integers(2, 8),
        flag=st.booleans(),
        first=st.booleans(),
    )
    def twin_event(
        self,
        data: st.DataObject,
        case: str,
        action: CaseAction,
        days: int,
        legal: int | None,
        flag: bool,
        first: bool,
    ) -> None:
        """An event at the very instant of one already sent, its time written in the other
        zone (UTC for hall time, and back), its id sorting before every other or after: of
        events at one instant, lifecycle rank and id decide, never how a time is written."""
        story = self.stories[case]
        if not story.entries:
            return
        twin = data.draw(st.sampled_from(story.entries), label="twin")
        zone = SHANGHAI if twin.ts.utcoffset() == timedelta(0) else UTC
        entry = story.add(action, twin.ts.astimezone(zone), **fields(action, days, legal, flag))
        if first:  # event ids are any strings: "-" sorts before every digit
            entry = replace(entry, event_id=EventId(f"{case}--{entry.seq}"))
            story.entries[-1] = entry
        self._send(case, entry)
        event(f"a twin at one instant, {'before' if first else 'after'} it by id")

    def _send(self, case: str, entry: Entry) -> None:
        self.got += self.hall.feed([entry], now=self.now)
        self.fed.append(
            Fed("event", self.now, story=case, index=len(self.stories[case].entries) - 1)
        )

    @rule(
        case=st.sampled_from(CASES),
        back=st.integers(1, 4 * 24 * 60).map(lambda m: m * MINUTE),
        length=st.sampled_from([10, 60, 90, 8 * 60, 24 * 60]).map(lambda m: m * MINUTE),
    )
    def late_suspension(self, case: str, back: timedelta, length: timedelta) -> None:
        """A suspension and its resumption uploaded late, one after the other: the first voids
        the cards of the old deadline, the second brings them back if the pause covered no
        working time (docs/cards.md "Late events")."""
        story = self.stories[case]
        for action, ts in ((A.SUSPENDED, self.now - back), (A.RESUMED, self.now - back + length)):
            self._send(case, story.add(action, min(ts, self.now), reason="听证"))

    # commands -----------------------------------------------------------------------------

    @rule(
        data=st.data(),
        action=st.sampled_from(list(CardAction)),
        by=st.sampled_from(PEOPLE),
        lag=LAGS,
    )
    def command(self, data: st.DataObject, action: CardAction, by: StaffId, lag: timedelta) -> None:
        """A command received now, stamped now or earlier (a console's queue): its transitions
        carry its own time, never before the card's last one."""
        cards = self.hall.engine.cards
        which = data.draw(st.sampled_from([*sorted(cards), UNKNOWN]), label="card")
        card = cards.get(which)
        mitigation = Mitigation.LIGHTER if action is CardAction.MITIGATE else None
        cmd = CardCommand(
            card=which, action=action, by=by, ts=self.now - lag, text="说明", mitigation=mitigation
        )
        refusal = expected_refusal(card, cmd, self.now)
        refused = len(self.hall.engine.refusals)
        got = self.hall.engine.on_command(cmd, self.now)
        self.hall.out += got
        self.fed.append(Fed("command", self.now, command=cmd))
        self.got += got
        event(f"{action.value}: {refusal.value if refusal else 'taken'}")
        if refusal is not None:
            assert got == [] and self.hall.engine.refusals[refused:] == [(cmd, refusal)]
            return
        assert card is not None and len(self.hall.engine.refusals) == refused
        ts = max(cmd.ts, self.seen[which][-1].ts)
        state, why = {
            CardAction.ANSWER: (S.ANSWERED, W.ANSWERED),
            CardAction.UPHOLD: (S.UPHELD, W.UPHELD),
            CardAction.MITIGATE: (S.UPHELD, W.MITIGATED),
        }.get(action, (S.REVOKED, W.REVOKED))
        expected: list[tuple[CardId, CardState, Why, StaffId | None, datetime]]
        expected = [(which, state, why, by, ts)]
        if action is not CardAction.ANSWER and not self.seen[which][-1].holds:
            expected.append((which, S.CLOSED, W.DECIDED, None, ts))  # decided, not holding
        assert [(t.card, t.state, t.why, t.by, t.ts) for t in got] == expected

    # invariants ---------------------------------------------------------------------------

    @invariant()
    def nothing_is_deleted_and_history_only_grows(self) -> None:
        cards = self.hall.engine.cards
        assert self.seen.keys() <= cards.keys(), "a card disappeared"
        grown: list[Transition] = []
        for cid, card in cards.items():
            before = self.seen.get(cid, [])
            assert card.history[: len(before)] == before, f"{cid}: its published history changed"
            new = card.history[len(before) :]
            assert new == [t for t in self.got if t.card == cid]
            grown += new
            self.seen[cid] = list(card.history)
        assert len(grown) == len(self.got)
        assert all(t.ts <= self.now for t in self.got), "a transition from the future"
        for t in self.got:
            again = " again" if t.step and t.why is W.CONDITION_MET else ""
            event(
                f"{t.rule.value if t.rule is R.CALENDAR_MISSING else t.level.value} "
                f"{t.state.value} ({t.why.value}){again}"
            )
        self.got = []

    @invariant()
    def cards_follow_the_conditions(self) -> None:
        """Every condition begun by now has its card, under its id, not voided; a card holds
        exactly while its condition does (the lights); a card without a condition is void."""
        cards = self.hall.engine.cards
        wanted: set[CardId] = set()
        for story in self.stories.values():
            if not story.entries:
                continue
            for c in story.assess().conditions:
                if c.start > self.now:
                    continue
                cid = card_id(c.rule, story.case, c.qualifier, c.start)
                assert cid in cards, f"{c.rule} from {c.start}: no card"
                card = cards[cid]
                assert card.history[-1].why is not W.VOID
                assert card.holds is (c.end is None or c.end > self.now)
                wanted.add(cid)
        for cid, card in cards.items():
            if card.rule is R.CALENDAR_MISSING:
                assert card.holds  # 2027 stays unknown here
            elif cid not in wanted:
                assert card.history[-1].why is W.VOID and not card.holds

    @invariant()
    def every_card_follows_its_lifecycle(self) -> None:
        for card in self.hall.engine.cards.values():
            check_card(card)

    # replay -------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Card ids and transitions are stable under replay: all inputs again into a fresh
        engine, and again without the ticks that fired nothing."""
        if not self.fed:
            return
        for kept in (self.fed, [f for f in self.fed if f.what != "tick" or f.fired]):
            again = self.replay(kept)
            assert again.out == self.hall.out
            assert again.engine.cards.keys() == self.hall.engine.cards.keys()
            for cid, card in self.hall.engine.cards.items():
                assert again.engine.cards[cid].history == card.history
            assert again.engine.refusals == self.hall.engine.refusals

    def replay(self, fed: list[Fed]) -> Hall:
        hall = Hall()
        for f in fed:
            if f.what == "tick":
                hall.advance(f.now)
            elif f.what == "event":
                hall.feed([self.stories[f.story].entries[f.index]], now=f.now)
            else:
                assert f.command is not None
                hall.out += hall.engine.on_command(f.command, f.now)
        return hall


def check_card(card: Card) -> None:
    history = card.history
    first = history[0]
    assert (first.state, first.why) == (S.RAISED, W.CONDITION_MET)
    # A breach at an instant is on the record from the start without holding on (the lights).
    assert first.holds is (card.rule not in INSTANT)
    assert card.raised_at == first.ts
    assert card.id == expected_id(card)
    assert (card.state, card.holds) == (history[-1].state, history[-1].holds)
    if card.level is Level.RED:
        assert card.answer_by == period_end(card.raised_at, 2), "answer_by: 2 working days"
        assert in_service_hours_of_a_working_day(card.answer_by)
    else:
        assert card.answer_by is None
    before: Transition | None = None
    for i, t in enumerate(history):
        assert (t.card, t.rule, t.level, t.subject, t.owner) == (
            card.id,
            card.rule,
            card.level,
            card.subject,
            card.owner,
        )
        assert t.step == i and t.answer_by == card.answer_by
        edge = (before.state if before else None, t.state)
        assert edge in EDGES[t.why], f"{card.id}: {edge} for {t.why}"
        assert (t.by is not None) is (t.why in COMMANDED)
        check_step(card, before, t)
        before = t


def check_step(card: Card, before: Transition | None, t: Transition) -> None:
    if before is not None:
        assert before.ts <= t.ts, "a card's history runs back in time"
        assert not (before.why is W.VOID and t.why is W.VOID)
    if t.state is S.CLOSED:
        assert not t.holds
    if t.why is W.CONDITION_ENDED:
        assert card.level is Level.RED and not t.holds
    if t.why in (W.CLEARED, W.SUPERSEDED):
        assert card.level is Level.YELLOW
    if t.why is W.ANSWER_OVERDUE:
        assert card.answer_by is not None and t.ts >= card.answer_by
        assert before is not None and (t.ts == card.answer_by or t.ts == before.ts)
    if t.why in (W.UPHELD, W.MITIGATED):  # heard before any penalty (000_… 八(八))
        assert before is not None
        answered = before.state is S.ANSWERED
        assert answered or (card.answer_by is not None and t.ts >= card.answer_by)


def checked(m: CardLifecycleMachine) -> None:
    m.nothing_is_deleted_and_history_only_grows()
    m.cards_follow_the_conditions()
    m.every_card_follows_its_lifecycle()


def promised_hall(start: datetime) -> CardLifecycleMachine:
    m = CardLifecycleMachine()
    m.open_the_hall(start=start, kinds=[CaseKind.PROMISED] * len(CASES))
    checked(m)
    return m


@settings(max_examples=1, database=None, deadline=None)
@given(start=st.just(at(2026, 4, 29, 10)))  # fixed runs: the machine records hypothesis events
def test_a_later_acceptance_of_one_instant_in_utc_finds_its_card(start: datetime) -> None:
    """The random search's counterexample (without twins), shrunk by hand: a card is its
    instant's, however the time is written.

    C1 is accepted (promised 0 days) at 10:00 hall time; its warning card is raised then. A
    day later a second `accepted` of the same instant arrives, written in UTC (every `now` after
    a jump to the engine's next due is). Of two acceptances at one instant the lower event id
    counts (`C1-10` < `C1-2`), so the warning begins at the same instant, written otherwise:
    the card already raised is its card, under the id the instant gives.
    """
    m = promised_hall(start)

    def event(action: CaseAction, lag: timedelta = timedelta(0)) -> None:
        m.case_event(case="C1", action=action, lag=lag, days=0, legal=None, flag=False)
        checked(m)

    for _ in range(2):
        event(A.RESUMED)  # nothing suspended: changes nothing, only takes an event id
    event(A.ACCEPTED)  # C1-2, 10:00 +08:00
    for _ in range(7):
        event(A.RESUMED)
    m.to_the_next_due()  # 17:30, the warning's end, written in UTC
    m.wait(timedelta(hours=16))
    m.wait(30 * MINUTE)  # 10:00 the next morning
    event(A.ACCEPTED, lag=24 * 60 * MINUTE)  # C1-10: 02:00 UTC, the instant of C1-2
    assert m.stories["C1"].entries[-1].ts == m.stories["C1"].entries[2].ts
    m.teardown()


@settings(max_examples=1, database=None, deadline=None)
@given(data=st.data())
def test_a_refusal_and_its_twin_in_utc_find_their_card(data: st.DataObject) -> None:
    """The search's shrunk counterexample with twins: a `returned` without reasons at 09:00
    hall time, then a `completed` refused at that instant written in UTC. The completion ranks
    first at one instant, so `case.returned.no_reason` begins at the same instant written
    in UTC: still its card."""
    m = promised_hall(at(2026, 2, 11, 9))
    m.case_event(case="C1", action=A.RETURNED, lag=timedelta(0), days=0, legal=None, flag=False)
    checked(m)
    m.twin_event(  # the one entry is the only twin to draw
        data=data, case="C1", action=A.COMPLETED, days=0, legal=None, flag=True, first=False
    )
    checked(m)
    m.teardown()


# A random search, as many examples as the fixed one it replaced took in the same time (7-11 s
# on two cores): each run looks somewhere new; what one finds becomes a fixed run above.
CardLifecycleMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
)
TestCardLifecycle = CardLifecycleMachine.TestCase

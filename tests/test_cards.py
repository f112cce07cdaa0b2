"""The card engine (alerts/cards.py): cards from case clocks, their lifecycle, late events.

A fake clock throughout: every `now` is an explicit instant; nothing sleeps or reads the wall
clock. Calendar and seeds as in tests/test_cases.py (2026 schedule, 08:30-12:00 and
14:00-17:30; March 2026 has no holiday).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.cards import CardEngine, CardState, Refusal, Subject, Transition, Why, card_id
from alerts.cases import Condition, Entry
from alerts.events import CardAction, CaseAction, CaseEvent, CaseKind, Outcome, ReviewVerdict
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.rules import RULES, Level, Policy, RuleId
from alerts.workdays import LIBRARY_YEARS, DayOverride, WorkCalendar
from tests.case_builders import (
    CAL,
    HOURS,
    LEADER,
    OFFICER,
    OTHER,
    ROLES,
    SHANGHAI,
    SUPERVISOR,
    Hall,
    Story,
    at,
    steps,
)

R, S, W, A = RuleId, CardState, Why, CaseAction
ANSWER, UPHOLD, REVOKE = CardAction.ANSWER, CardAction.UPHOLD, CardAction.REVOKE
LAST = LIBRARY_YEARS[-1]  # the last year chinesecalendar holds (2026 in 1.11)


def promised(days: int = 3, legal: int | None = 20) -> Story:
    s = Story(kind=CaseKind.PROMISED)
    s.accepted(at(2026, 3, 9, 10), promised_days=days, legal_days=legal)
    return s


# --- promised: yellow, red, clearing, accountability ------------------------------------------


def test_promised_yellow_then_red_at_their_true_times() -> None:
    """到期前1个工作日提示 (a city's e-supervision rule): yellow 1 working day before the promised
    limit; red when it passes (`000_…` 八(四)5 超过承诺时限). The yellow closes as the red
    takes over (reason `superseded`)."""
    hall = Hall()
    hall.feed(promised().entries)
    assert hall.advance(at(2026, 3, 11, 17, 29)) == []
    [yellow] = hall.advance(at(2026, 3, 11, 17, 30))
    assert (yellow.rule, yellow.level, yellow.state) == (R.PROMISED_WARNING, Level.YELLOW, S.RAISED)
    assert yellow.answer_by is None and yellow.holds
    got = hall.advance(at(2026, 3, 12, 18))
    assert {(t.rule, t.state, t.why, t.ts) for t in got} == {
        (R.PROMISED_OVERDUE, S.RAISED, W.CONDITION_MET, at(2026, 3, 12, 17, 30)),
        (R.PROMISED_WARNING, S.CLOSED, W.SUPERSEDED, at(2026, 3, 12, 17, 30)),
    }
    red = hall.card(R.PROMISED_OVERDUE)
    assert red.level is Level.RED and red.holds and red.owner == OFFICER
    assert red.answer_by == at(2026, 3, 16, 17, 30)  # 2 working days to answer (陈述申辩)


def test_yellow_clears_when_the_case_completes_in_time() -> None:
    """A yellow clears when the case finishes in time (docs/cards.md: holds drives the lights)."""
    hall = Hall()
    s = promised()
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 12, 9))
    hall.feed([s.add(A.COMPLETED, at(2026, 3, 12, 10), outcome=Outcome.APPROVED)])
    hall.advance(at(2026, 4, 30))
    yellow = hall.card(R.PROMISED_WARNING)
    assert steps(yellow) == [
        (S.RAISED, W.CONDITION_MET, at(2026, 3, 11, 17, 30), True),
        (S.CLOSED, W.CLEARED, at(2026, 3, 12, 10), False),
    ]
    assert hall.cards(R.PROMISED_OVERDUE) == [] and hall.cards(R.LEGAL_OVERDUE) == []


def test_red_for_a_late_case_stays_until_a_supervisor_decides() -> None:
    """A red stays on the record when the case finishes late (holds becomes False) until it is
    decided; before any penalty the officer is heard (`000_…` 八(八) 陈述和申辩)."""
    hall = Hall()
    s = promised()
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 13, 8))
    got = hall.feed([s.add(A.COMPLETED, at(2026, 3, 13, 9), outcome=Outcome.APPROVED)])
    red = hall.card(R.PROMISED_OVERDUE)
    assert [(t.state, t.why, t.holds) for t in got] == [(S.RAISED, W.CONDITION_ENDED, False)]
    assert red.state is S.RAISED and not red.holds
    hall.command(red.id, UPHOLD, SUPERVISOR, at(2026, 3, 13, 10))
    assert hall.engine.refusals[-1][1] is Refusal.NOT_HEARD
    hall.command(red.id, ANSWER, OFFICER, at(2026, 3, 13, 11), "申请人补正材料延误")
    hall.command(red.id, UPHOLD, SUPERVISOR, at(2026, 3, 13, 15), "情况属实")
    assert steps(red)[-3:] == [
        (S.ANSWERED, W.ANSWERED, at(2026, 3, 13, 11), False),
        (S.UPHELD, W.UPHELD, at(2026, 3, 13, 15), False),
        (S.CLOSED, W.DECIDED, at(2026, 3, 13, 15), False),
    ]
    assert [t.by for t in red.history] == [None, None, OFFICER, SUPERVISOR, None]


def test_revoked_while_the_case_is_still_open_closes_when_it_ends() -> None:
    """A supervisor may revoke a red before the case ends (mitigation, `000_…` 八(七)); the card
    stays revoked while its condition holds and closes when it stops."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 13, 8))
    red = hall.card(R.PROMISED_OVERDUE)
    hall.command(red.id, REVOKE, SUPERVISOR, at(2026, 3, 13, 9), "系统故障所致")
    assert red.state is S.REVOKED and red.holds
    hall.feed([s.add(A.COMPLETED, at(2026, 3, 13, 10), outcome=Outcome.APPROVED)])
    assert steps(red)[-2:] == [
        (S.REVOKED, W.REVOKED, at(2026, 3, 13, 9), True),
        (S.CLOSED, W.DECIDED, at(2026, 3, 13, 10), False),
    ]


def test_lifecycle_escalated_answered_upheld_closed() -> None:
    """raised → escalated (unanswered past answer_by, 2 working days) → answered → upheld →
    closed (docs/cards.md "A card"); every transition says who and when; nothing is deleted."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 12, 18))
    red = hall.card(R.PROMISED_OVERDUE)
    assert hall.advance(at(2026, 3, 16, 17, 29)) == []
    [esc] = hall.advance(at(2026, 3, 16, 17, 30))
    assert (esc.card, esc.state, esc.why) == (red.id, S.ESCALATED, W.ANSWER_OVERDUE)
    hall.command(red.id, ANSWER, LEADER, at(2026, 3, 17, 9), "窗口负责人说明")
    hall.command(red.id, UPHOLD, SUPERVISOR, at(2026, 3, 17, 9, 30), "维持")
    assert red.state is S.UPHELD and red.holds  # still open: stays upheld
    hall.feed([s.add(A.COMPLETED, at(2026, 3, 17, 10), outcome=Outcome.APPROVED)])
    assert [(t.state, t.why, t.by, t.ts.astimezone(SHANGHAI)) for t in red.history] == [
        (S.RAISED, W.CONDITION_MET, None, at(2026, 3, 12, 17, 30)),
        (S.ESCALATED, W.ANSWER_OVERDUE, None, at(2026, 3, 16, 17, 30)),
        (S.ANSWERED, W.ANSWERED, LEADER, at(2026, 3, 17, 9)),
        (S.UPHELD, W.UPHELD, SUPERVISOR, at(2026, 3, 17, 9, 30)),
        (S.CLOSED, W.DECIDED, None, at(2026, 3, 17, 10)),
    ]
    assert red.history[2].text == "窗口负责人说明"


def test_commands_from_the_wrong_person_are_refused_with_a_reason() -> None:
    """Answer: the owner, a leader or a supervisor; uphold/revoke: a supervisor (效能投诉中心).
    A refused command changes nothing and is recorded with its reason."""
    hall = Hall()
    hall.feed(promised().entries)
    hall.advance(at(2026, 3, 12, 18))
    red = hall.card(R.PROMISED_OVERDUE)
    before = list(red.history)
    t = at(2026, 3, 13, 9)
    hall.command(red.id, ANSWER, OTHER, t)  # another officer
    hall.command(red.id, UPHOLD, LEADER, t)  # a leader does not decide
    hall.command(red.id, REVOKE, OFFICER, t)  # nor the owner
    hall.command(red.id, ANSWER, StaffId("X999"), t)  # nobody we know
    hall.command(CardId("K-0000000000000000"), ANSWER, OFFICER, t)
    hall.command(red.id, UPHOLD, SUPERVISOR, t)  # not heard yet
    assert red.history == before
    hall.command(red.id, ANSWER, OFFICER, t)
    hall.command(red.id, ANSWER, OFFICER, t)  # once
    assert [r for _, r in hall.engine.refusals] == [
        Refusal.NOT_ALLOWED,
        Refusal.NOT_ALLOWED,
        Refusal.NOT_ALLOWED,
        Refusal.NOT_ALLOWED,
        Refusal.UNKNOWN_CARD,
        Refusal.NOT_HEARD,
        Refusal.WRONG_STATE,
    ]
    hall.command(red.id, REVOKE, SUPERVISOR, t)
    hall.command(red.id, REVOKE, SUPERVISOR, t)
    assert hall.engine.refusals[-1][1] is Refusal.WRONG_STATE
    assert red.state is S.REVOKED


def test_escalated_card_can_be_upheld_without_an_answer() -> None:
    """Heard means given the chance: past answer_by unanswered, the supervisor may decide."""
    hall = Hall()
    hall.feed(promised(legal=None).entries)
    hall.advance(at(2026, 3, 17, 9))
    red = hall.card(R.PROMISED_OVERDUE)
    assert red.history[-1].state is S.ESCALATED
    [upheld] = hall.command(red.id, UPHOLD, SUPERVISOR, at(2026, 3, 17, 10))
    assert upheld.state is S.UPHELD and hall.engine.refusals == []


# --- every rule, through the engine -------------------------------------------------------


def _story_legal() -> Story:
    return promised(days=3, legal=5)


def _story_immediate() -> Story:
    s = Story(kind=CaseKind.IMMEDIATE)
    s.received(at(2026, 3, 10, 9))
    return s


def _story_step() -> Story:
    s = Story(kind=CaseKind.JOINT)
    s.accepted(at(2026, 3, 9, 10), promised_days=10)
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept="gaj")
    s.add(A.COMPLETED, at(2026, 3, 13, 10), outcome=Outcome.APPROVED)
    return s


def _story_reported() -> Story:
    s = Story(kind=CaseKind.REPORTED)
    s.accepted(at(2026, 3, 9, 10), promised_days=5)
    s.add(A.REPORTED_UP, at(2026, 3, 13, 9), authority="市局")
    s.add(A.REPLY_RECEIVED, at(2026, 3, 16, 10), authority="市局")
    return s


def _story_supplement() -> Story:
    s = Story(kind=CaseKind.SUPPLEMENT)
    s.received(at(2026, 3, 9, 10))
    return s


def _story_supplement_again() -> Story:
    s = _story_supplement()
    s.add(A.SUSPENDED, at(2026, 3, 9, 10, 30), reason="补正材料")
    s.add(A.RESUMED, at(2026, 3, 9, 14), reason="材料已补齐")
    s.add(A.SUSPENDED, at(2026, 3, 9, 15), reason="补正材料")
    return s


def _story_returned() -> Story:
    s = Story(kind=CaseKind.RETURNED)
    s.received(at(2026, 3, 10, 9))
    s.add(A.RETURNED, at(2026, 3, 10, 10), reason=" ", reason_code=1)
    s.add(A.REFUSAL_REVIEWED, at(2026, 3, 13, 10), verdict=ReviewVerdict.UNLAWFUL)
    return s


def _story_special() -> Story:
    s = Story(kind=CaseKind.SPECIAL)
    s.accepted(at(2026, 3, 9, 10), deadline=at(2026, 3, 11, 12))
    return s


def _story_extension_late() -> Story:
    s = promised()
    s.add(A.EXTENDED, at(2026, 3, 13, 9), extra_days=5, approved_by=LEADER)
    return s


EVERY_RULE: list[tuple[Callable[[], Story], RuleId, datetime]] = [
    (promised, R.PROMISED_WARNING, at(2026, 3, 11, 17, 30)),
    (promised, R.PROMISED_OVERDUE, at(2026, 3, 12, 17, 30)),
    (_story_legal, R.LEGAL_OVERDUE, at(2026, 3, 16, 17, 30)),
    (_story_immediate, R.IMMEDIATE_SLOW, at(2026, 3, 10, 11)),
    (_story_immediate, R.IMMEDIATE_OPEN_AT_CLOSE, at(2026, 3, 10, 17, 30)),
    (_story_step, R.STEP_OVERDUE, at(2026, 3, 11, 17, 30)),
    (_story_reported, R.REPORTED_LATE_REPORT, at(2026, 3, 12, 17, 30)),
    (_story_reported, R.REPORTED_LATE_ANSWER, at(2026, 3, 18, 17, 30)),
    # 000_d7818c12e4aa5d4b 二 一次性告知制: on the spot, by close of the receipt's day.
    (_story_supplement, R.SUPPLEMENT_NOTICE_LATE, at(2026, 3, 9, 17, 30)),
    (_story_supplement_again, R.SUPPLEMENT_REPEATED, at(2026, 3, 9, 15)),
    (_story_returned, R.RETURNED_NO_REASON, at(2026, 3, 10, 10)),
    (_story_returned, R.REFUSAL_REVIEW_LATE, at(2026, 3, 12, 17, 30)),
    (_story_returned, R.REFUSAL_CORRECTION_LATE, at(2026, 3, 16, 17, 30)),
    (_story_special, R.SPECIAL_WARNING, at(2026, 3, 10, 12)),
    (_story_special, R.SPECIAL_OVERDUE, at(2026, 3, 11, 12)),
    (_story_extension_late, R.EXTENSION_LATE, at(2026, 3, 13, 9)),
]


@pytest.mark.parametrize(
    ("story", "rule", "raised"), [pytest.param(*row, id=row[1].value) for row in EVERY_RULE]
)
def test_every_rule_raises_its_card_at_its_time(
    story: Callable[[], Story], rule: RuleId, raised: datetime
) -> None:
    """Each case rule (sources in alerts/rules.py RULES) becomes a card of its level,
    raised at the instant its condition began, with the case as subject."""
    hall = Hall()
    entries = story().entries
    hall.feed(e for e in entries if e.ts < raised)
    hall.advance(raised - timedelta(minutes=1))
    assert all(c.rule is not rule for c in hall.engine.cards.values())
    hall.advance(raised)
    hall.feed(e for e in entries if e.ts >= raised)
    card = hall.card(rule)
    assert card.level is RULES[rule].level
    assert card.history[0].ts == raised and card.raised_at == raised
    assert card.subject.case == entries[0].event.case and card.subject.window == "W03"
    assert (card.answer_by is not None) is (card.level is Level.RED)


# Rules that need the hall's staff list or option (the daemon passes both: alerts/supervision.py).
OPTIONS = Policy(leaders=frozenset({LEADER}), deemed_approval=True)


def _story_extension_by_officer() -> Story:
    s = promised()
    s.add(A.EXTENDED, at(2026, 3, 11, 9), extra_days=5, approved_by=OFFICER, reason="需核查")
    return s


def _story_review_by_officer() -> Story:
    s = Story(kind=CaseKind.RETURNED)
    s.received(at(2026, 3, 10, 9))
    s.add(A.RETURNED, at(2026, 3, 10, 10), reason="不符合法定条件", reason_code=1)
    s.add(A.REFUSAL_REVIEWED, at(2026, 3, 11, 9), verdict=ReviewVerdict.UPHELD, reviewer=OFFICER)
    return s


WITH_OPTIONS: list[tuple[Callable[[], Story], RuleId, datetime]] = [
    (_story_extension_by_officer, R.EXTENSION_UNAPPROVED, at(2026, 3, 11, 9)),  # 000 四(五)
    (_story_review_by_officer, R.REFUSAL_REVIEW_UNQUALIFIED, at(2026, 3, 11, 9)),  # 000 六(五)
    (promised, R.DEEMED_APPROVED, at(2026, 3, 12, 17, 30)),  # 003 三 超时默认
]


@pytest.mark.parametrize(
    ("story", "rule", "raised"), [pytest.param(*row, id=row[1].value) for row in WITH_OPTIONS]
)
def test_every_optional_rule_raises_its_card_on_the_officer(
    story: Callable[[], Story], rule: RuleId, raised: datetime
) -> None:
    """`000_d7818c12e4aa5d4b 四(五)`, 六(五); `003_fc486b7e164530f7 三`: with the staff list and
    the hall's 超时默认 on, each is a card of its level on the case's officer at its instant."""
    hall = Hall(OPTIONS)
    entries = story().entries
    hall.feed(e for e in entries if e.ts < raised)
    hall.advance(raised - timedelta(minutes=1))
    assert all(c.rule is not rule for c in hall.engine.cards.values())
    hall.advance(raised)
    hall.feed(e for e in entries if e.ts >= raised)
    card = hall.card(rule)
    assert card.level is RULES[rule].level and card.raised_at == raised
    assert card.owner == OFFICER and card.subject.case == entries[0].event.case


def test_every_case_rule_is_exercised() -> None:
    every = {r for _, r, _ in EVERY_RULE} | {r for _, r, _ in WITH_OPTIONS}
    assert every == {r for r in RuleId if r.value.startswith("case.")}
    assert {r for _, r, _ in EVERY_RULE} & {r for _, r, _ in WITH_OPTIONS} == set()


def test_completed_refused_without_reason_raises_on_the_officer() -> None:
    """`000_d7818c12e4aa5d4b 二(二)`: 一次性告知不能办理的理由和依据 — a `completed` refused with
    no reason raises case.returned.no_reason on the officer, as a bare `returned` does."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 10), outcome=Outcome.REFUSED)
    hall = Hall()
    hall.feed(s.entries)
    card = hall.card(R.RETURNED_NO_REASON)
    assert card.owner == OFFICER and card.raised_at == at(2026, 3, 10, 10)


def test_immediate_completed_on_the_spot_raises_no_card() -> None:
    """即办件当场办结 (`001_…` 第五篇 1): completed on the spot, nothing to see."""
    s = _story_immediate()
    s.add(A.COMPLETED, at(2026, 3, 10, 9, 20), outcome=Outcome.APPROVED)
    hall = Hall()
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 31))
    assert hall.engine.cards == {}


def test_a_breach_at_an_instant_is_on_the_record_without_holding() -> None:
    """A refusal without reasons (`000_…` 六) is raised, owned and answerable, but lights
    nothing: its condition never lasts."""
    hall = Hall()
    hall.feed(_story_returned().entries[:2])
    card = hall.card(R.RETURNED_NO_REASON)
    assert steps(card) == [(S.RAISED, W.CONDITION_MET, at(2026, 3, 10, 10), False)]


def test_each_step_its_own_card() -> None:
    """联办件 (`001_…` 第五篇 3): two co-departments late on the same day: two cards."""
    s = Story(kind=CaseKind.JOINT)
    s.accepted(at(2026, 3, 9, 10), promised_days=10)
    for dept in ("gaj", "zrj"):
        s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept=dept)
    hall = Hall()
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 12, 9))
    cards = hall.cards(R.STEP_OVERDUE)
    assert len({c.id for c in cards}) == 2
    assert hall.cards(R.PROMISED_OVERDUE) == []


# --- extensions ----------------------------------------------------------------------------


def test_extension_in_time_moves_the_red() -> None:
    """`000_…` 四(五): an approved extension made before the limit replaces it."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.feed([s.add(A.EXTENDED, at(2026, 3, 12, 10), extra_days=2, approved_by=LEADER)])
    hall.advance(at(2026, 3, 16, 17))
    assert hall.cards(R.PROMISED_OVERDUE) == []
    hall.advance(at(2026, 3, 16, 17, 30))
    assert hall.card(R.PROMISED_OVERDUE).raised_at == at(2026, 3, 16, 17, 30)


def test_extension_learned_after_the_old_red_voids_it() -> None:
    """An extension approved at 10:00 but uploaded the next morning: the red already published
    for the old limit is voided (not deleted) and a new card follows the new limit."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 13, 8))
    old = hall.card(R.PROMISED_OVERDUE)
    ext = s.add(A.EXTENDED, at(2026, 3, 12, 10), extra_days=2, approved_by=LEADER)
    hall.feed([ext], now=at(2026, 3, 13, 9))
    assert steps(old) == [
        (S.RAISED, W.CONDITION_MET, at(2026, 3, 12, 17, 30), True),
        (S.CLOSED, W.VOID, at(2026, 3, 13, 9), False),
    ]
    hall.advance(at(2026, 3, 16, 18))
    new = [c for c in hall.cards(R.PROMISED_OVERDUE) if c.id != old.id]
    assert [c.raised_at for c in new] == [at(2026, 3, 16, 17, 30)]


def test_late_extension_is_a_red_and_moves_nothing() -> None:
    """`000_…` 四(五): an extension after the limit passed is itself a breach."""
    hall = Hall()
    hall.feed(_story_extension_late().entries[:1])
    hall.advance(at(2026, 3, 13, 8))
    hall.feed(_story_extension_late().entries[1:])
    late = hall.card(R.EXTENSION_LATE)
    assert late.level is Level.RED and not late.holds and late.state is S.RAISED
    red = hall.card(R.PROMISED_OVERDUE)
    assert red.holds and red.history[-1].why is W.CONDITION_MET


# --- late events ---------------------------------------------------------------------------


def test_completion_learned_late_voids_the_red_with_a_new_transition() -> None:
    """The contract: decisions already published are corrected by new transitions, never
    rewritten. A completion stamped 16:00 but uploaded after the 17:30 red fired voids it at
    the time it was learned."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 12, 17, 30))
    red = hall.card(R.PROMISED_OVERDUE)
    first = red.history[0]
    done = s.add(A.COMPLETED, at(2026, 3, 12, 16), outcome=Outcome.APPROVED)
    got = hall.feed([done], now=at(2026, 3, 13, 9))
    void = next(t for t in got if t.card == red.id)
    assert (void.state, void.why, void.ts, void.holds) == (
        S.CLOSED,
        W.VOID,
        at(2026, 3, 13, 9),
        False,
    )
    assert red.history[0] is first and len(red.history) == 2  # the raise stays as published


def test_a_backlog_raises_cards_with_their_true_times() -> None:
    """A case system offline for days uploads its backlog: the cards that should have been
    raised are raised now, each with the instant its condition began."""
    hall = Hall()
    hall.advance(at(2026, 3, 13, 12))
    got = hall.feed(promised(legal=None).entries, now=at(2026, 3, 13, 12))
    assert got[0].rule is R.PROMISED_WARNING and got[0].ts == at(2026, 3, 11, 17, 30)
    assert {(t.rule, t.state, t.why, t.ts) for t in got[1:]} == {
        (R.PROMISED_OVERDUE, S.RAISED, W.CONDITION_MET, at(2026, 3, 12, 17, 30)),
        (R.PROMISED_WARNING, S.CLOSED, W.SUPERSEDED, at(2026, 3, 12, 17, 30)),
    }


def test_a_suspension_learned_late_brings_the_card_back_when_resumed() -> None:
    """A voided card whose condition comes back (same id) is raised again, never rewritten."""
    hall = Hall()
    s = promised(legal=None)
    hall.feed(s.entries)
    hall.advance(at(2026, 3, 12, 18))
    red = hall.card(R.PROMISED_OVERDUE)
    # Suspended and resumed at lunch: zero working time, the deadline does not move.
    hall.feed([s.add(A.SUSPENDED, at(2026, 3, 12, 12, 30), reason="听证")], at(2026, 3, 12, 19))
    assert red.history[-1].state is S.CLOSED and red.history[-1].why is W.VOID
    hall.feed([s.add(A.RESUMED, at(2026, 3, 12, 13), reason="听证结束")], at(2026, 3, 12, 20))
    assert [t.why for t in red.history] == [W.CONDITION_MET, W.VOID, W.CONDITION_MET]
    assert red.state is S.RAISED and red.holds and red.raised_at == at(2026, 3, 12, 17, 30)


def test_time_never_runs_backwards() -> None:
    """Receive times that step back (two ingest threads) are taken as the latest one seen."""
    hall = Hall()
    hall.advance(at(2026, 3, 13, 12))
    got = hall.feed(promised(legal=None).entries, now=at(2026, 3, 9, 10))
    assert {t.rule for t in got} == {R.PROMISED_WARNING, R.PROMISED_OVERDUE}


# --- determinism ---------------------------------------------------------------------------

BASE = at(2026, 3, 2, 8)
HALF_HOUR = timedelta(minutes=30)
OPTIONAL = [
    A.SUSPENDED,
    A.RESUMED,
    A.EXTENDED,
    A.STEP_STARTED,
    A.STEP_FINISHED,
    A.REPORTED_UP,
    A.REPLY_RECEIVED,
    A.COMPLETED,
    A.COMPLETED,
    A.DELIVERED,
    A.RETURNED,
    A.REFUSAL_REVIEWED,
    A.CORRECTED,
]
DELAYS = [0, 0, 0, 0, 30, 240, 24 * 60, 3 * 24 * 60]  # minutes between ts and receipt


def _fields(draw: st.DrawFn, action: CaseAction, t0: datetime) -> dict[str, Any]:
    if action is A.EXTENDED:
        if draw(st.booleans()):
            return {"extra_days": draw(st.integers(1, 2)), "approved_by": LEADER}
        later = t0 + HALF_HOUR * draw(st.integers(1, 20 * 48))
        return {"new_deadline": later, "approved_by": LEADER}
    if action is A.STEP_STARTED:
        return {"step": "会签", "step_days": draw(st.integers(0, 2)), "dept": draw(DEPTS)}
    if action is A.STEP_FINISHED:
        return {"step": "会签", "dept": draw(st.sampled_from(["gaj", "zrj", None]))}
    if action is A.COMPLETED:
        return {"outcome": draw(st.sampled_from(list(Outcome)))}
    if action is A.RETURNED:
        return {"reason": draw(st.sampled_from(["", " ", "材料不全"]))}
    if action is A.REFUSAL_REVIEWED:
        return {"verdict": draw(st.sampled_from(list(ReviewVerdict)))}
    return {}


DEPTS = st.sampled_from(["gaj", "zrj"])


@st.composite
def case_history(draw: st.DrawFn, case: str) -> list[CaseEvent]:
    kind = draw(st.sampled_from(list(CaseKind)))
    t0 = BASE + HALF_HOUR * draw(st.integers(0, 10 * 48))
    base: dict[str, Any] = {"kind": kind, "window": WindowId("W03"), "staff": OFFICER}
    cid = CaseId(case)
    out = [CaseEvent(case=cid, action=A.RECEIVED, ts=t0, **base)]
    acc: dict[str, Any] = {**base, "promised_days": draw(st.integers(0, 4))}
    acc["legal_days"] = draw(st.none() | st.integers(2, 8))
    if kind is CaseKind.SPECIAL:
        acc["deadline"] = t0 + HALF_HOUR * draw(st.integers(1, 8 * 48))
    accepted = t0 + HALF_HOUR * draw(st.integers(0, 4) | st.integers(0, 8 * 48))
    if draw(st.integers(0, 4)):  # now and then never accepted (补正 notice late)
        out.append(CaseEvent(case=cid, action=A.ACCEPTED, ts=accepted, **acc))
    for action in draw(st.lists(st.sampled_from(OPTIONAL), max_size=7)):
        ts = t0 + HALF_HOUR * draw(st.integers(0, 12 * 48))
        fields = _fields(draw, action, t0)
        out.append(CaseEvent(case=cid, action=action, ts=ts, **fields))
    return out


@st.composite
def hall_history(draw: st.DrawFn) -> tuple[list[tuple[EventId, CaseEvent]], list[int]]:
    """A few cases' events with their ids, and each event's upload delay in minutes."""
    events: list[tuple[EventId, CaseEvent]] = []
    for n in range(draw(st.integers(1, 3))):
        for i, ev in enumerate(draw(case_history(f"C{n}"))):
            events.append((EventId(f"C{n}-{i}"), ev))
    delays = draw(st.lists(st.sampled_from(DELAYS), min_size=len(events), max_size=len(events)))
    return events, delays


Feed = list[tuple[EventId, CaseEvent, datetime]]


def run(feed: Feed, end: datetime) -> tuple[CardEngine, list[Transition]]:
    engine = CardEngine(CAL, Policy(), ROLES)
    out: list[Transition] = []
    for seq, (eid, ev, now) in enumerate(feed):
        out += engine.on_case_event(seq, eid, ev, now)
    out += engine.advance(end)
    return engine, out


def final_cards(engine: CardEngine) -> list[tuple[str, str, str, datetime, bool, str]]:
    """Every card but those voided on the way, as (id, rule, level, raised, holds, state)."""
    return sorted(
        (c.id, c.rule.value, c.level.value, c.raised_at, c.holds, c.state.value)
        for c in engine.cards.values()
        if c.history[-1].why is not Why.VOID
    )


@settings(max_examples=100, deadline=None)
@given(hall_history(), st.randoms(use_true_random=False))
def test_late_uploads_in_any_order_end_with_the_same_cards(
    history: tuple[list[tuple[EventId, CaseEvent]], list[int]], rng: random.Random
) -> None:
    """The contract: events may arrive late and out of order, each counts at its own ts. Fed
    on time, or uploaded late in a shuffled order (each `now` its receive time, never before
    its ts), the same events end with the same cards: ids, rules, levels, raise times, holds,
    states. The same input twice gives identical transitions (card ids stable under replay)."""
    events, delays = history
    calm: Feed = sorted(((eid, ev, ev.ts) for eid, ev in events), key=lambda x: (x[2], x[0]))
    late: Feed = [
        (eid, ev, ev.ts + timedelta(minutes=d)) for (eid, ev), d in zip(events, delays, strict=True)
    ]
    rng.shuffle(late)
    late.sort(key=lambda x: x[2])  # stable: equal receive times stay shuffled
    end = max(now for _, _, now in late) + timedelta(days=40)
    calm_engine, _ = run(calm, end)
    late_engine, late_out = run(late, end)
    assert final_cards(late_engine) == final_cards(calm_engine)
    for card in late_engine.cards.values():
        assert [t.ts for t in card.history] == sorted(t.ts for t in card.history)
        assert card.history[0].state is S.RAISED and card.history[0].ts == card.raised_at
    again, again_out = run(late, end)
    assert [t.payload() for t in again_out] == [t.payload() for t in late_out]
    assert again.cards.keys() == late_engine.cards.keys()


def test_card_ids_depend_on_rule_subject_and_start_only() -> None:
    """Deterministic ids (docs/cards.md): the same condition, the same id, whatever the run."""
    start = at(2026, 3, 12, 17, 30)
    one = card_id(R.PROMISED_OVERDUE, "C1", "", start)
    assert one == card_id(R.PROMISED_OVERDUE, "C1", "", start.astimezone(SHANGHAI))
    assert one.startswith("K-") and len(one) == 18
    assert one != card_id(R.PROMISED_OVERDUE, "C1", "", start + timedelta(days=1))
    assert one != card_id(R.STEP_OVERDUE, "C1", "", start)


# --- calendar.missing ----------------------------------------------------------------------


def _reaching(case: str, accepted: datetime, days: int) -> list[Entry]:
    s = Story(case=case)
    s.accepted(accepted, promised_days=days)
    return s.entries


def test_calendar_missing_raised_once_when_a_deadline_reaches_an_unknown_year() -> None:
    """The schedule for a year is published late in the year before; a deadline reaching into
    an unknown year raises one `calendar.missing` card for it, and the deadline says
    `estimated` (docs/cards.md "Working days")."""
    hall = Hall()
    now = at(LAST, 10, 20, 10)
    got = hall.feed(_reaching("C1", now, 60), now=now)
    missing = hall.card(R.CALENDAR_MISSING)
    assert missing.raised_at == now and missing.holds and missing.estimated
    assert [t.rule for t in got] == [R.CALENDAR_MISSING]
    a = hall.engine.cases[CaseId("C1")].assessment
    assert a.due is not None and a.due.estimated and a.unknown_years == {LAST + 1}
    hall.feed(_reaching("C2", at(LAST, 10, 21, 10), 70))
    hall.advance(at(LAST, 11, 5))  # past 1 November: still one card for the year
    assert len(hall.cards(R.CALENDAR_MISSING)) == 1


def test_calendar_missing_from_1_november_anyway() -> None:
    """From 1 November of the year before, the next year's schedule must be in (docs/cards.md)."""
    hall = Hall()
    hall.advance(at(LAST, 6, 1))
    assert hall.advance(at(LAST, 10, 31, 23, 59)) == []
    [t] = hall.advance(at(LAST, 11, 2))
    assert (t.rule, t.state, t.ts, t.level) == (
        R.CALENDAR_MISSING,
        S.RAISED,
        at(LAST, 11, 1),
        Level.YELLOW,
    )
    assert t.payload()["estimated"] is True


def test_recalendar_closes_the_card_and_deadlines_are_no_longer_estimated() -> None:
    """When the admin enters the year (complete_years), every open deadline is recomputed and
    the card closes (reason `cleared`)."""
    hall = Hall()
    now = at(LAST, 12, 28, 10)
    hall.feed(_reaching("C1", now, 10), now=now)
    missing = hall.card(R.CALENDAR_MISSING)
    known = WorkCalendar(SHANGHAI, [HOURS], complete_years=[LAST + 1])
    got = hall.engine.recalendar(known, at(LAST, 12, 29, 9))
    assert [(t.card, t.state, t.why) for t in got] == [(missing.id, S.CLOSED, W.CLEARED)]
    a = hall.engine.cases[CaseId("C1")].assessment
    assert a.due is not None and not a.due.estimated and a.unknown_years == frozenset()
    assert not missing.holds


def test_recalendar_moves_an_estimated_deadline() -> None:
    """The weekends-only guess counted 1 January as working; the entered schedule does not:
    the red raised on the guess is voided and a new one follows the real deadline."""
    year = LAST + 1
    if date(year, 1, 1).weekday() >= 5:
        pytest.skip("1 January of the next year is a weekend: the guess is right")
    hall = Hall()
    s = Story()
    s.accepted(at(LAST, 12, 30, 10), promised_days=2)  # due on the 2nd working day
    hall.feed(s.entries)
    due = hall.engine.cases[CaseId(s.case)].assessment.due
    assert due is not None and due.estimated
    hall.advance(due.at + timedelta(minutes=1))
    old = hall.card(R.PROMISED_OVERDUE)
    holidays = [DayOverride(day=d, working=False, name="元旦") for d in _new_year(year)]
    real = WorkCalendar(SHANGHAI, [HOURS], holidays, complete_years=[year])
    hall.engine.recalendar(real, due.at + timedelta(minutes=2))
    assert old.history[-1].why is W.VOID
    moved = hall.engine.cases[CaseId(s.case)].assessment.due
    assert moved is not None and moved.at > due.at and not moved.estimated


def _new_year(year: int) -> list[date]:
    return [date(year, 1, d) for d in (1, 2, 3)]


@settings(max_examples=30, deadline=None)
@given(
    years_ahead=st.integers(0, 30),
    days=st.integers(0, 400),
    actions=st.lists(st.sampled_from(OPTIONAL), max_size=6),
)
def test_unknown_years_never_crash(years_ahead: int, days: int, actions: list[CaseAction]) -> None:
    """A year with no schedule must never stop the daemon (docs/cards.md): any case, far ahead."""
    hall = Hall()
    t0 = at(LAST + years_ahead, 12, 1, 10)
    s = Story()
    s.accepted(t0, promised_days=days, legal_days=days + 10)
    for i, action in enumerate(actions):
        s.add(action, t0 + timedelta(days=i), step="s", step_days=1, extra_days=1)
    hall.feed(s.entries)
    hall.advance(t0 + timedelta(days=days * 2 + 30))
    assert hall.cards(R.CALENDAR_MISSING)


# --- the payload ---------------------------------------------------------------------------


def test_payload_matches_the_contract() -> None:
    """docs/contract.md "Card transitions": card, rule, level, state, subject{case, window, staff},
    owner, answer_by, ts, evidence; our own optional fields beside them."""
    hall = Hall()
    hall.feed(promised(legal=None).entries)
    [red] = [t for t in hall.advance(at(2026, 3, 13)) if t.rule is R.PROMISED_OVERDUE]
    doc = red.payload()
    assert set(doc) >= {
        "card",
        "rule",
        "level",
        "state",
        "subject",
        "owner",
        "answer_by",
        "ts",
        "evidence",
    }
    assert doc["card"] == red.card and doc["card"].startswith("K-")
    assert (doc["rule"], doc["level"], doc["state"]) == ("case.promised.overdue", "red", "raised")
    assert doc["subject"] == {"case": "C2026-000123", "window": "W03", "staff": "S001"}
    assert doc["owner"] == "S001" and doc["evidence"] == ["C2026-000123-0"]
    ts = datetime.fromisoformat(doc["ts"])
    assert ts.utcoffset() is not None and ts == at(2026, 3, 12, 17, 30)
    assert datetime.fromisoformat(doc["answer_by"]) == at(2026, 3, 16, 17, 30)
    assert (doc["reason"], doc["holds"], doc["title"]) == ("condition_met", True, "超过承诺时限")
    assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc
    yellow = hall.card(R.PROMISED_WARNING).history[0].payload()
    assert yellow["answer_by"] is None and yellow["level"] == "yellow"


def test_payload_of_a_system_card_keeps_the_subject_shape() -> None:
    """A system card (calendar.missing) has no case, window or officer: nulls, same keys."""
    hall = Hall()
    hall.advance(at(LAST, 11, 2))
    doc = hall.card(R.CALENDAR_MISSING).history[0].payload()
    assert doc["subject"] == {"case": None, "window": None, "staff": None}
    assert doc["owner"] is None and doc["evidence"] == []


def test_command_payload_says_who() -> None:
    hall = Hall()
    hall.feed(promised(legal=None).entries)
    hall.advance(at(2026, 3, 13))
    red = hall.card(R.PROMISED_OVERDUE)
    [t] = hall.command(red.id, ANSWER, OFFICER, at(2026, 3, 13, 9), "材料补正中")
    assert msgspec.structs.replace(t, text=None).payload().get("text") is None
    assert t.payload()["by"] == "S001" and t.payload()["text"] == "材料补正中"


def test_a_card_judged_without_a_silent_source_names_it_and_its_void_says_why() -> None:
    """Bounded lateness said out loud (docs/cards.md): a missing punch judged once the grace ran
    out without CLK-WEST says so; when CLK-WEST's backlog shows the punch, the void names it."""
    engine = CardEngine(CAL, Policy(), ROLES)
    closes, grace_over, upload = at(2026, 3, 2, 9, 30), at(2026, 3, 2, 15), at(2026, 3, 2, 15, 1)
    key, who = "attendance:S001:2026-03-02", StaffId(OFFICER)
    missing = Condition(
        R.ATTENDANCE_MISSING_PUNCH, "q", closes, closes, False, (), silent=("CLK-WEST",)
    )
    subject = Subject(staff=who)
    raised = engine.on_conditions(key, subject, who, (missing,), grace_over)
    doc = raised[0].payload()
    assert (doc["reason"], doc["ts"], doc["text"]) == (
        "condition_met",
        closes.isoformat(),
        "CLK-WEST 未上报",
    )
    assert doc["silent"] == ["CLK-WEST"] and "cause" not in doc
    voided = engine.on_conditions(key, subject, who, (), upload)
    void = voided[-1].payload()
    assert (void["reason"], void["cause"], void["ts"]) == ("void", "CLK-WEST", upload.isoformat())
    assert "CLK-WEST" in void["text"]
    # A card judged on complete evidence and voided later has no cause to name.
    plain = Condition(R.ATTENDANCE_MISSING_PUNCH, "p", closes, closes, False, ())
    engine.on_conditions(key + "x", subject, who, (plain,), grace_over)
    last = engine.on_conditions(key + "x", subject, who, (), upload)[-1].payload()
    assert last["reason"] == "void" and "cause" not in last and "text" not in last


def test_a_watch_whose_facts_were_let_go_keeps_its_cards_at_every_sync() -> None:
    """A window's seat readings are forgotten after a day (alerts/people.py `_forget`): the
    conditions they gave are gone from the next assessment, and their cards, raised before
    `settled_before`, stay as they were, through a later assessment and the watch's own wake
    alike. Before, such a card, cleared days ago, was voided days later (the demo: 14)."""
    engine = CardEngine(CAL, Policy(), ROLES)
    day = datetime(2026, 11, 27, 8, 38, tzinfo=CAL.zone)
    key, subject = "window|W08", Subject(window=WindowId("W08"), staff=StaffId("S015"))
    old = Condition(
        RuleId.POST_UNSTAFFED_WARNING, "", day, day + timedelta(minutes=2), False, (EventId("r1"),)
    )
    later = day + timedelta(days=3, hours=6)
    pending = Condition(RuleId.POST_UNSTAFFED_WARNING, "", later, None, False, (EventId("r2"),))
    engine.on_conditions(key, subject, StaffId("S015"), (old,), day + timedelta(minutes=5))
    horizon = day + timedelta(days=2)
    out = engine.on_conditions(
        key, subject, StaffId("S015"), (pending,), later, settled_before=horizon
    )
    out += engine.advance(later + timedelta(hours=1))  # the pending warning's wake, and on
    (card,) = [c for c in engine.cards.values() if c.raised_at == day]
    assert card.history[-1].why is Why.CLEARED
    assert not [t for t in out if t.why is Why.VOID]
    # Without the horizon the same assessment says the old condition never held: a void.
    assert any(
        t.why is Why.VOID
        for t in engine.on_conditions(key, subject, StaffId("S015"), (pending,), later)
    )


@settings(max_examples=100, deadline=None)
@given(hall_history(), st.lists(st.sampled_from(["event", "policy", "calendar"]), max_size=40))
def test_the_kept_assessments_of_a_day_are_those_worked_out_afresh(
    history: tuple[list[tuple[EventId, CaseEvent]], list[int]], steps_: list[str]
) -> None:
    """`CardEngine.assessments(day)` keeps a day's assessments between refreshes of the hall
    totals; asked for each day in turn as events arrive, the policy changes and a new holiday
    table comes, they are the assessments worked out from the events as they are now."""
    from alerts.cases import assess

    events, _ = history
    engine = CardEngine(CAL, Policy(), ROLES)
    queue = sorted(events, key=lambda x: x[1].ts)
    off = DayOverride(day=queue[0][1].ts.date(), working=False, name="临时闭厅")
    seq = 0
    for step in [*steps_, *["event"] * len(queue)]:
        if step == "event" and queue:
            eid, ev = queue.pop(0)
            engine.on_case_event(seq, eid, ev, ev.ts)
            seq += 1
        elif step == "policy":
            engine.policy = Policy(warning_days=engine.policy.warning_days % 3 + 1)
        elif step == "calendar" and engine._now is not None:
            cal = CAL if engine.calendar is not CAL else WorkCalendar(SHANGHAI, [HOURS], [off])
            engine.recalendar(cal, engine._now)
        # The first case's day at every step (what it kept carries over), now and then
        # every day (asking another day starts the kept ones over).
        for day in sorted(engine.days) if seq % 5 == 0 else [off.day]:
            fresh = [
                assess(c, engine.cases[c].entries, engine.calendar, engine.policy)
                for c in dict.fromkeys(engine.days.get(day, ()))
            ]
            assert engine.assessments(day) == fresh
            assert engine.assessments(day) == fresh  # asked again, from what it kept

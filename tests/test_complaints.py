"""Complaints and bad reviews as cards: each rule at fixed instants, then through Supervision
and the monthly score (founded −5 on the officer, unrectified −2 on the window, revocable).

Sources: practice elsewhere in docs/regulations.md ("complaints": acceptance within 5 working
days, result within 10; "good/bad reviews": rectified within 5 (德州) to 15 (四川) working
days), seed 000_… 五(八)
(属实 → 立即立案, 一个月内处理结束). November 2026: Mon 16 … Fri 20, Mon 23 … Mon 30 are
working days, service 08:30–12:00 and 14:00–17:30 (tests/case_builders.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.cards import Card, CardState, Why
from alerts.complaints import (
    ComplaintsConfig,
    Filed,
    Rated,
    add_months,
    assess_complaint,
    assess_review,
)
from alerts.events import (
    CardAction,
    CardCommand,
    CaseAction,
    CaseEvent,
    CaseKind,
    ComplaintAction,
    ComplaintEvent,
    Event,
    Rating,
    Recorded,
)
from alerts.ids import CardId, CaseId, ComplaintId, EventId, StaffId, WindowId
from alerts.rules import RuleId
from alerts.scores import Verdict, score_month
from alerts.supervision import Supervision
from tests.case_builders import CAL, at
from tests.hall import example

CFG = ComplaintsConfig()
OURS = {r for r in RuleId if r.value.startswith(("complaint.", "review."))}
K = ComplaintId("K-1")
W07 = WindowId("W07")
A = ComplaintAction


def filed(*steps: tuple[ComplaintAction, datetime], staff: str | None = "S001") -> list[Filed]:
    out = []
    for i, (action, ts) in enumerate(steps):
        window = WindowId("W03") if i == 0 else None
        who = StaffId(staff) if staff and i == 0 else None
        ev = ComplaintEvent(complaint=K, action=action, ts=ts, window=window, staff=who)
        out.append(Filed(EventId(f"k{i}"), ev))
    return out


def rules(steps: list[Filed]) -> list[tuple[RuleId, datetime, datetime | None]]:
    a = assess_complaint(K, steps, CAL, CFG)
    return [(c.rule, c.start, c.end) for c in (*a.process, *a.violation)]


RECEIVED = (A.RECEIVED, at(2026, 11, 16, 10))
ACCEPT_DUE = at(2026, 11, 23, 17, 30)  # 5 working days after Mon 16 Nov
ACCEPTED = (A.ACCEPTED, at(2026, 11, 17, 9))
RESULT_DUE = at(2026, 12, 1, 17, 30)  # 10 working days after Tue 17 Nov


@pytest.mark.parametrize(
    ("steps", "want"),
    [
        pytest.param([RECEIVED], [(RuleId.COMPLAINT_ACCEPT_LATE, ACCEPT_DUE, None)], id="never"),
        pytest.param(
            [RECEIVED, (A.ACCEPTED, ACCEPT_DUE)],
            [(RuleId.COMPLAINT_RESULT_LATE, at(2026, 12, 7, 17, 30), None)],  # its result is due
            id="accepted-at-the-limit",
        ),
        pytest.param(
            [RECEIVED, (A.ACCEPTED, at(2026, 11, 24, 9))],
            [
                (RuleId.COMPLAINT_ACCEPT_LATE, ACCEPT_DUE, at(2026, 11, 24, 9)),
                (RuleId.COMPLAINT_RESULT_LATE, at(2026, 12, 8, 17, 30), None),
            ],
            id="accepted-late-then-its-own-10-days",
        ),
        pytest.param(
            [RECEIVED, ACCEPTED],
            [(RuleId.COMPLAINT_RESULT_LATE, RESULT_DUE, None)],
            id="no-result",
        ),
        pytest.param(
            [RECEIVED, ACCEPTED, (A.UNFOUNDED, at(2026, 12, 2, 9)), (A.CLOSED, at(2026, 12, 2, 9))],
            [(RuleId.COMPLAINT_RESULT_LATE, RESULT_DUE, at(2026, 12, 2, 9))],
            id="result-late",
        ),
        pytest.param(
            [RECEIVED, (A.UNFOUNDED, at(2026, 11, 18, 9))], [], id="a-decision-implies-acceptance"
        ),
    ],
)
def test_acceptance_within_5_and_result_within_10_working_days(
    steps: list[tuple[ComplaintAction, datetime]],
    want: list[tuple[RuleId, datetime, datetime | None]],
) -> None:
    assert rules(filed(*steps)) == want


FOUNDED_AT = at(2026, 11, 20, 10)
HANDLE_DUE = at(2026, 12, 20, 10)  # one month (000_… 五(八))


def test_a_founded_complaint_is_a_breach_at_its_instant_on_the_named_officer() -> None:
    steps = filed(RECEIVED, ACCEPTED, (A.FOUNDED, FOUNDED_AT), (A.CLOSED, HANDLE_DUE))
    a = assess_complaint(K, steps, CAL, CFG)
    assert a.process == ()  # closed exactly at the month: in time
    (v,) = a.violation
    assert (v.rule, v.start, v.end, v.evidence) == (
        RuleId.COMPLAINT_FOUNDED,
        FOUNDED_AT,
        FOUNDED_AT,
        ("k2", "k0"),
    )
    assert (a.window, a.staff, a.founded) == ("W03", "S001", True)


def test_a_founded_complaint_not_handled_within_a_month() -> None:
    late = at(2026, 12, 21, 9)
    assert rules(filed(RECEIVED, ACCEPTED, (A.FOUNDED, FOUNDED_AT), (A.CLOSED, late)))[0] == (
        RuleId.COMPLAINT_HANDLING_LATE,
        HANDLE_DUE,
        late,
    )
    still_open = rules(filed(RECEIVED, ACCEPTED, (A.FOUNDED, FOUNDED_AT)))
    assert (RuleId.COMPLAINT_HANDLING_LATE, HANDLE_DUE, None) in still_open


def test_the_first_decision_counts_and_order_of_arrival_does_not() -> None:
    steps = filed(RECEIVED, ACCEPTED, (A.UNFOUNDED, at(2026, 11, 19)), (A.FOUNDED, FOUNDED_AT))
    assert not assess_complaint(K, steps, CAL, CFG).founded
    assert rules(list(reversed(steps))) == rules(steps)


@pytest.mark.parametrize(
    ("t", "months", "want"),
    [
        (at(2026, 11, 20, 10), 1, at(2026, 12, 20, 10)),
        (at(2026, 1, 31, 9), 1, at(2026, 2, 28, 9)),  # a shorter month: its last day
        (at(2026, 12, 15, 9), 1, at(2027, 1, 15, 9)),
        (at(2026, 11, 30, 23), 3, at(2027, 2, 28, 23)),
    ],
)
def test_one_month_is_the_same_local_time_a_month_later(
    t: datetime, months: int, want: datetime
) -> None:
    assert add_months(t.astimezone(UTC), months, CAL) == want


BAD_AT = at(2026, 11, 16, 15)
RECTIFY_DUE = at(2026, 11, 23, 17, 30)  # 5 working days (德州)


def rated(*levels: tuple[int, datetime]) -> list[Rated]:
    return [Rated(ts, EventId(f"r{i}"), level) for i, (level, ts) in enumerate(levels)]


@pytest.mark.parametrize(
    ("ratings", "rectify_days", "want"),
    [
        pytest.param([(5, BAD_AT)], 5, None, id="good"),
        pytest.param([(2, BAD_AT), (4, at(2026, 11, 23, 16))], 5, None, id="re-rated-in-time"),
        pytest.param([(1, BAD_AT), (3, RECTIFY_DUE)], 5, None, id="re-rated-at-the-limit"),
        pytest.param([(2, BAD_AT), (4, at(2026, 11, 24, 9))], 5, RECTIFY_DUE, id="re-rated-late"),
        pytest.param([(2, BAD_AT), (2, at(2026, 11, 18, 9))], 5, RECTIFY_DUE, id="still-bad"),
        pytest.param([(1, BAD_AT)], 15, at(2026, 12, 7, 17, 30), id="sichuan-15-days"),
        pytest.param([(4, at(2026, 11, 13)), (2, BAD_AT)], 5, RECTIFY_DUE, id="bad-after-good"),
    ],
)
def test_a_bad_review_is_rectified_by_a_rating_of_3_or_more_in_time(
    ratings: list[tuple[int, datetime]], rectify_days: int, want: datetime | None
) -> None:
    cfg = ComplaintsConfig(review_rectify_days=rectify_days)
    got = assess_review(rated(*ratings), CAL, cfg)
    if want is None:
        assert got == ()
        return
    (c,) = got
    assert (c.rule, c.start, c.end) == (RuleId.REVIEW_BAD_UNRECTIFIED, want, want)


# --- through Supervision: wiring, subjects, deadlines fired by time, scores -------------------


class Feed:
    def __init__(self) -> None:
        self.sup = Supervision(example())
        self.seq = 0

    def __call__(self, ev: Event, received: datetime | None = None) -> None:
        self.seq += 1
        ts = received or ev.ts
        self.sup.apply(Recorded(self.seq, EventId(f"e{self.seq}"), ts, ev))

    def ours(self) -> list[Card]:
        """Cards of the complaint and review rules (the example hall's empty day gives
        attendance cards too, which are not what these tests look at)."""
        return [c for c in self.sup.engine.cards.values() if c.rule in OURS]

    def card(self, rule: RuleId) -> list[tuple[str | None, str | None, str | None, CardState]]:
        cards = self.sup.engine.cards.values()
        return [
            (c.subject.window, c.subject.staff, c.owner, c.state) for c in cards if c.rule is rule
        ]


def _case(feed: Feed) -> None:
    def ev(action: CaseAction, ts: datetime) -> CaseEvent:
        return CaseEvent(
            case=CaseId("C-9"),
            action=action,
            ts=ts,
            kind=CaseKind.IMMEDIATE,
            window=WindowId("W05"),
            staff=StaffId("S009"),
        )

    feed(ev(CaseAction.RECEIVED, at(2026, 11, 16, 9)))
    feed(ev(CaseAction.ACCEPTED, at(2026, 11, 16, 9, 5)))
    feed(ev(CaseAction.COMPLETED, at(2026, 11, 16, 9, 20)))


def test_supervision_raises_review_and_complaint_cards_and_scores_count_them() -> None:
    feed = Feed()
    _case(feed)
    feed(Rating(case=CaseId("C-9"), level=1, ts=BAD_AT))
    # No officer named: the window's A post answers.
    feed(ComplaintEvent(complaint=K, action=A.RECEIVED, ts=at(2026, 11, 16, 20), window=W07))
    feed(ComplaintEvent(complaint=K, action=A.ACCEPTED, ts=at(2026, 11, 17, 9)))
    feed(ComplaintEvent(complaint=K, action=A.FOUNDED, ts=FOUNDED_AT))
    assert feed.card(RuleId.COMPLAINT_FOUNDED) == [("W07", "S013", "S013", CardState.RAISED)]
    assert feed.card(RuleId.REVIEW_BAD_UNRECTIFIED) == []  # its deadline is still ahead
    feed.sup.tick(at(2026, 11, 23, 17, 29))
    assert feed.card(RuleId.REVIEW_BAD_UNRECTIFIED) == []
    assert feed.sup.due(RECTIFY_DUE)
    feed.sup.tick(at(2026, 12, 31))
    assert feed.card(RuleId.REVIEW_BAD_UNRECTIFIED) == [
        ("W05", "S009", "S009", CardState.ESCALATED)
    ]
    (late,) = feed.card(RuleId.COMPLAINT_HANDLING_LATE)
    assert late[:3] == (None, None, None)  # the centre's own deadline lights no window
    cfg = example()
    officers = [s.id for s in cfg.staff if s.role == "officer"]
    windows = [w.id for w in cfg.windows]
    m = score_month(
        feed.ours(),
        cfg.scores,
        (2026, 11),
        CAL.zone,
        at(2026, 12, 31),
        windows,
        officers,
    )
    by_id = {r.id: r for r in (*m.windows, *m.officers)}
    assert by_id["S013"].score == 95  # founded complaint −5 (officer)
    assert by_id["W05"].score == 98  # bad review not rectified −2 (window)
    assert by_id["S009"].score == 100 and by_id["W07"].score == 100


def test_a_rectifying_rerating_in_time_voids_nothing_and_raises_nothing() -> None:
    feed = Feed()
    _case(feed)
    feed(Rating(case=CaseId("C-9"), level=2, ts=BAD_AT))
    feed(Rating(case=CaseId("C-9"), level=4, ts=at(2026, 11, 20, 10)))
    feed.sup.tick(at(2026, 12, 31))
    assert feed.card(RuleId.REVIEW_BAD_UNRECTIFIED) == []


def test_a_late_uploaded_rerating_voids_the_card_and_a_revoked_card_never_counts() -> None:
    feed = Feed()
    _case(feed)
    feed(Rating(case=CaseId("C-9"), level=2, ts=BAD_AT))
    feed.sup.tick(at(2026, 11, 25))
    ((_, _, _, state),) = feed.card(RuleId.REVIEW_BAD_UNRECTIFIED)
    assert state is CardState.RAISED
    late = Rating(case=CaseId("C-9"), level=5, ts=at(2026, 11, 20, 10))
    feed(late, received=at(2026, 11, 26))  # the call-back's rating, uploaded late
    (card,) = feed.ours()
    assert card.history[-1].why is Why.VOID
    feed2 = Feed()
    _case(feed2)
    feed2(Rating(case=CaseId("C-9"), level=2, ts=BAD_AT))
    feed2.sup.tick(at(2026, 11, 25))
    (cid,) = [c.id for c in feed2.ours()]
    feed2(
        CardCommand(
            card=CardId(cid),
            action=CardAction.ANSWER,
            by=StaffId("S009"),
            ts=at(2026, 11, 25, 9),
            text="已整改并回访, 申请人口头表示满意",
        )
    )
    feed2(
        CardCommand(
            card=CardId(cid),
            action=CardAction.REVOKE,
            by=StaffId("D001"),
            ts=at(2026, 11, 25, 10),
            text="回访记录属实",
        )
    )
    cfg = example()
    m = score_month(
        feed2.ours(),
        cfg.scores,
        (2026, 11),
        CAL.zone,
        at(2026, 12, 31),
        [w.id for w in cfg.windows],
        [],
    )
    assert m.verdicts[CardId(cid)] is Verdict.REVOKED
    assert next(r for r in m.windows if r.id == "W05").score == 100

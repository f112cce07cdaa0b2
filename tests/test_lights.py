"""Window lights and the summary payload: table-driven, at fixed instants."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from alerts.cards import Card, CardState, Subject
from alerts.ids import CardId, WindowId
from alerts.lights import (
    SHORT_ZH,
    HallTotals,
    Light,
    changed,
    light_payload,
    open_cards,
    removed,
    short_reason,
    summary_payload,
    window_lights,
)
from alerts.rules import RULES, Level, RuleId

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
W = [WindowId(f"W0{i}") for i in range(1, 4)]


def card(
    cid: str,
    rule: RuleId,
    window: str | None = "W01",
    *,
    holds: bool = True,
    state: CardState = CardState.RAISED,
    minutes: int = 0,
) -> Card:
    return Card(
        id=CardId(cid),
        rule=rule,
        level=RULES[rule].level,
        subject=Subject(window=WindowId(window) if window else None),
        owner=None,
        raised_at=T0 + timedelta(minutes=minutes),
        answer_by=None,
        evidence=(),
        estimated=False,
        state=state,
        holds=holds,
    )


WARN = RuleId.PROMISED_WARNING
OVER = RuleId.PROMISED_OVERDUE
LEGAL = RuleId.LEGAL_OVERDUE

# (name, cards, unknown windows, expected W01 level, W01 cards, W01 reason)
CASES = [
    ("no cards: green", [], set(), Level.GREEN, (), "正常"),
    ("a warning: yellow", [card("K1", WARN)], set(), Level.YELLOW, ("K1",), "承诺时限将到"),
    (
        "red beats yellow, listed first",
        [card("K1", WARN), card("K2", OVER, minutes=5)],
        set(),
        Level.RED,
        ("K2", "K1"),
        "超过承诺时限",
    ),
    (
        "two reds: the earliest gives the reason",
        [card("K9", LEGAL, minutes=10), card("K3", OVER, minutes=1)],
        set(),
        Level.RED,
        ("K3", "K9"),
        "超过承诺时限",
    ),
    (
        "same instant: card id breaks the tie",
        [card("KB", LEGAL), card("KA", OVER)],
        set(),
        Level.RED,
        ("KA", "KB"),
        "超过承诺时限",
    ),
    ("condition no longer holds", [card("K1", OVER, holds=False)], set(), Level.GREEN, (), "正常"),
    (
        "answered red still lights",
        [card("K1", OVER, state=CardState.ANSWERED)],
        set(),
        Level.RED,
        ("K1",),
        "超过承诺时限",
    ),
    (
        "upheld red still lights while it holds",
        [card("K1", OVER, state=CardState.UPHELD)],
        set(),
        Level.RED,
        ("K1",),
        "超过承诺时限",
    ),
    (
        "revoked card does not light",
        [card("K1", OVER, state=CardState.REVOKED)],
        set(),
        Level.GREEN,
        (),
        "正常",
    ),
    ("unknown input: grey", [], {"W01"}, Level.UNKNOWN, (), "状态未知"),
    (
        "unknown beats yellow (cards still listed)",
        [card("K1", WARN)],
        {"W01"},
        Level.UNKNOWN,
        ("K1",),
        "状态未知",
    ),
    ("red beats unknown", [card("K1", OVER)], {"W01"}, Level.RED, ("K1",), "超过承诺时限"),
    ("other window's card", [card("K1", OVER, "W02")], set(), Level.GREEN, (), "正常"),
    ("card without a window", [card("K1", OVER, None)], set(), Level.GREEN, (), "正常"),
    ("unconfigured window ignored", [card("K1", OVER, "W99")], set(), Level.GREEN, (), "正常"),
]


@pytest.mark.parametrize(
    ("cards", "unknown", "level", "ids", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_window_light(
    cards: list[Card], unknown: set[str], level: Level, ids: tuple[str, ...], reason: str
) -> None:
    lights = window_lights(cards, W, {WindowId(u) for u in unknown})
    assert list(lights) == W  # one light per configured window, in order
    want = tuple(CardId(i) for i in ids)
    assert lights[W[0]] == Light(window=W[0], level=level, cards=want, reason_zh=reason)


def test_every_rule_has_a_reason_that_fits_a_tile() -> None:
    """A new rule with a long title fails here: give it a few words in SHORT_ZH."""
    for rule in RuleId:
        assert 0 < len(short_reason(rule)) <= 7, rule
    assert short_reason(RuleId.IMMEDIATE_SLOW) == SHORT_ZH[RuleId.IMMEDIATE_SLOW]


def test_light_payload_is_exactly_the_contract() -> None:
    light = Light(window=W[2], level=Level.YELLOW, cards=(CardId("K-1"),), reason_zh="x")
    doc = json.loads(light_payload(light, datetime(2026, 11, 23, 9, 15, 0, 123, tzinfo=CST)))
    assert doc == {
        "window": "W03",
        "level": "yellow",
        "cards": ["K-1"],
        "ts": "2026-11-23T09:15:00+08:00",
    }


def test_payload_refuses_a_naive_time() -> None:
    light = Light(window=W[0], level=Level.GREEN, cards=(), reason_zh="正常")
    with pytest.raises(ValueError, match="offset"):
        light_payload(light, datetime(2026, 11, 23, 9, 0))


def test_changed_and_removed() -> None:
    old = window_lights([card("K1", WARN)], W, set())
    same = window_lights([card("K1", WARN)], W, set())
    assert changed(old, same) == []
    new = window_lights([card("K1", WARN), card("K2", WARN, minutes=1)], W, set())
    assert changed(old, new) == [new[W[0]]]  # same level, one more card: republished
    assert changed({}, old) == list(old.values())  # start: everything
    assert removed(old, {w: old[w] for w in W[:2]}) == [W[2]]


def test_open_cards_by_level() -> None:
    cards = [
        card("K1", WARN),
        card("K2", OVER, state=CardState.ESCALATED),
        card("K3", OVER, state=CardState.CLOSED, holds=False),
        card("K4", RuleId.CALENDAR_MISSING, None),
    ]
    assert open_cards(cards) == {Level.YELLOW: 2, Level.RED: 1}


@pytest.mark.parametrize(
    ("rate", "printed"),
    [(None, None), (Fraction(27028, 27031), 0.9999), (1.0, 1.0), (Fraction(2, 3), 0.6667)],
)
def test_summary_payload(rate: Fraction | float | None, printed: float | None) -> None:
    totals = HallTotals(
        day=date(2026, 11, 23),
        received=402,
        completed=387,
        on_time_rate=rate,
        cards_open={Level.YELLOW: 2, Level.RED: 1},
        windows_staffed=18,
        windows=20,
    )
    doc = json.loads(summary_payload(totals, datetime(2026, 11, 23, 10, 0, tzinfo=CST)))
    assert doc == {
        "day": "2026-11-23",
        "received": 402,
        "completed": 387,
        "on_time_rate": printed,
        "cards_open": {"red": 1, "yellow": 2},
        "windows_staffed": 18,
        "windows": 20,
        "ts": "2026-11-23T10:00:00+08:00",
    }

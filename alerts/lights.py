"""Window lights and hall totals, derived from cards: the contract's retained topics. Pure.

A window's light is the worst level among the cards whose condition holds now (red > yellow >
green). A revoked card does not light a window: the supervisor decided it should not stand.
A window whose inputs are untrustworthy (a camera offline) shows `unknown`, unless a red holds:
a breach is a breach whatever the camera says. Cards with no window (calendar.missing) light
nothing.

The daemon keeps the last lights it published and publishes only what `changed` returns, so the
LED controllers and the display see one retained message per real change.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from alerts.cards import Card, CardState
from alerts.ids import CardId, WindowId
from alerts.rules import RULES, Level, RuleId

# Worst first: the order in which levels win a window.
_RANK = {Level.RED: 3, Level.UNKNOWN: 2, Level.YELLOW: 1, Level.GREEN: 0}

# A few words that fit a tile on the hall display; a rule missing here shows its full title.
SHORT_ZH: dict[RuleId, str] = {
    RuleId.REPEAT_OFFENDER: "一年内多次违规",
    RuleId.PROMISED_WARNING: "承诺时限将到",
    RuleId.PROMISED_OVERDUE: "超过承诺时限",
    RuleId.LEGAL_OVERDUE: "超过法定时限",
    RuleId.SPECIAL_WARNING: "特办件将到期",
    RuleId.SPECIAL_OVERDUE: "特办件超时",
    RuleId.IMMEDIATE_SLOW: "即办件超2小时",
    RuleId.IMMEDIATE_OPEN_AT_CLOSE: "即办件当日未结",
    RuleId.STEP_OVERDUE: "办理环节超时",
    RuleId.REPORTED_LATE_REPORT: "未按时上报",
    RuleId.REPORTED_LATE_ANSWER: "未按时答复",
    RuleId.SUPPLEMENT_NOTICE_LATE: "补正告知超时",
    RuleId.RETURNED_NO_REASON: "退件未说明理由",
    RuleId.REFUSAL_REVIEW_LATE: "否定报备未审核",
    RuleId.REFUSAL_CORRECTION_LATE: "违规否定未纠正",
    RuleId.EXTENSION_LATE: "超期后才延期",
    RuleId.CALENDAR_MISSING: "节假日未录入",
}

REASON_GREEN = "正常"
REASON_UNKNOWN = "状态未知"


@dataclass(frozen=True, slots=True, kw_only=True)
class Light:
    window: WindowId
    level: Level
    cards: tuple[CardId, ...]  # holding cards, worst first
    reason_zh: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HallTotals:
    """Today's figures for `hall/{hall}/summary` and the display; plain inputs."""

    day: date
    received: int
    completed: int
    on_time_rate: Fraction | float | None  # None: nothing with a time limit completed yet
    cards_open: Mapping[Level, int]
    windows_staffed: int | None  # None: no presence input yet
    windows: int


def short_reason(rule: RuleId) -> str:
    return SHORT_ZH.get(rule) or RULES[rule].title_zh


def window_lights(
    cards: Iterable[Card], windows: Sequence[WindowId], unknown: Set[WindowId]
) -> dict[WindowId, Light]:
    """One light per configured window, in `windows` order."""
    holding: dict[WindowId, list[Card]] = {w: [] for w in windows}
    for card in cards:
        w = card.subject.window
        if card.holds and card.state is not CardState.REVOKED and w in holding:
            holding[w].append(card)
    return {w: _light(w, holding[w], w in unknown) for w in windows}


def _light(window: WindowId, cards: list[Card], unknown: bool) -> Light:
    cards.sort(key=lambda c: (-_RANK[c.level], c.raised_at, c.id))
    ids = tuple(c.id for c in cards)
    worst = cards[0] if cards else None
    if worst is None:
        level, reason = Level.GREEN, REASON_GREEN
    else:
        level, reason = worst.level, short_reason(worst.rule)
    if unknown and level is not Level.RED:
        level, reason = Level.UNKNOWN, REASON_UNKNOWN
    return Light(window=window, level=level, cards=ids, reason_zh=reason)


def changed(old: Mapping[WindowId, Light], new: Mapping[WindowId, Light]) -> list[Light]:
    """The lights to publish: new windows and those whose level, cards or reason moved."""
    return [light for w, light in new.items() if old.get(w) != light]


def removed(old: Mapping[WindowId, Light], new: Mapping[WindowId, Light]) -> list[WindowId]:
    """Windows dropped by a reload: clear their retained topic (an empty retained message)."""
    return [w for w in old if w not in new]


def open_cards(cards: Iterable[Card]) -> dict[Level, int]:
    """Cards not yet closed, by level (the same count as the daemon's /state `cards_open`)."""
    counts = Counter(c.level for c in cards if c.state is not CardState.CLOSED)
    return {Level.YELLOW: counts[Level.YELLOW], Level.RED: counts[Level.RED]}


def light_payload(light: Light, ts: datetime) -> bytes:
    """Exactly the contract's window light: {"window", "level", "cards", "ts"}."""
    doc = {"window": light.window, "level": light.level.value, "cards": list(light.cards)}
    return _dumps({**doc, "ts": _rfc3339(ts)})


def summary_payload(totals: HallTotals, ts: datetime) -> bytes:
    """`hall/{hall}/summary`: today's figures (docs/display.md describes each field)."""
    doc = {
        "day": totals.day.isoformat(),
        "received": totals.received,
        "completed": totals.completed,
        "on_time_rate": rate(totals.on_time_rate),
        "cards_open": {lvl.value: n for lvl, n in sorted(totals.cards_open.items())},
        "windows_staffed": totals.windows_staffed,
        "windows": totals.windows,
        "ts": _rfc3339(ts),
    }
    return _dumps(doc)


def rate(value: Fraction | float | None) -> float | None:
    """A share in [0, 1] with four decimals (99.99 % is 0.9999), or None."""
    return None if value is None else round(float(value), 4)


def _rfc3339(ts: datetime) -> str:
    if ts.utcoffset() is None:
        raise ValueError("a contract timestamp needs an offset")
    return ts.isoformat(timespec="seconds")


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

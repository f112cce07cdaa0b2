"""Shared helpers for the case clock and card tests: a 2026 hall calendar, case stories, a hall.

Nothing here reads the clock: every instant is written out, and the engine is told `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from alerts.cards import Card, CardEngine, CardState, Transition, Why
from alerts.cases import Assessment, Condition, Entry, assess
from alerts.events import CardAction, CardCommand, CaseAction, CaseEvent, CaseKind
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.roles import StaffRole
from alerts.rules import Policy, RuleId
from alerts.workdays import Session, Timetable, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = Timetable(
    sessions=(
        Session(start=time(8, 30), end=time(12, 0), name="上午"),
        Session(start=time(14, 0), end=time(17, 30), name="下午"),
    )
)
CAL = WorkCalendar(SHANGHAI, [HOURS])  # the national 2026 schedule from chinesecalendar
OFFICER, OTHER = StaffId("S001"), StaffId("S002")
LEADER, SUPERVISOR = StaffId("L001"), StaffId("D001")
ROLES = {
    OFFICER: StaffRole.OFFICER,
    OTHER: StaffRole.OFFICER,
    LEADER: StaffRole.LEADER,
    SUPERVISOR: StaffRole.SUPERVISOR,
}
WINDOW = WindowId("W03")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An instant in hall time (Asia/Shanghai)."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@dataclass
class Story:
    """One case's events, written in the order they happened; ids `{case}-{n}`."""

    case: str = "C2026-000123"
    kind: CaseKind = CaseKind.PROMISED
    entries: list[Entry] = field(default_factory=list)

    def add(self, action: CaseAction, ts: datetime, **fields: Any) -> Entry:
        if action in (CaseAction.RECEIVED, CaseAction.ACCEPTED):
            fields = {"kind": self.kind, "window": WINDOW, "staff": OFFICER, **fields}
        ev = CaseEvent(case=CaseId(self.case), action=action, ts=ts, **fields)
        n = len(self.entries)
        entry = Entry(ts, n, EventId(f"{self.case}-{n}"), ev)
        self.entries.append(entry)
        return entry

    def received(self, ts: datetime, **fields: Any) -> Entry:
        return self.add(CaseAction.RECEIVED, ts, **fields)

    def accepted(self, ts: datetime, **fields: Any) -> Entry:
        return self.add(CaseAction.ACCEPTED, ts, **fields)

    def assess(self, policy: Policy | None = None, cal: WorkCalendar = CAL) -> Assessment:
        return assess(CaseId(self.case), self.entries, cal, policy or Policy())


def only(a: Assessment, rule: RuleId) -> Condition:
    found = [c for c in a.conditions if c.rule is rule]
    assert len(found) == 1, f"{rule}: {found}"
    return found[0]


def rules(a: Assessment) -> list[RuleId]:
    return sorted(c.rule for c in a.conditions)


class Hall:
    """A card engine with the 2026 calendar and a staff directory, fed with explicit `now`s."""

    def __init__(self, policy: Policy | None = None, cal: WorkCalendar = CAL) -> None:
        self.engine = CardEngine(cal, policy or Policy(), ROLES)
        self.out: list[Transition] = []

    def feed(self, entries: Iterable[Entry], now: datetime | None = None) -> list[Transition]:
        """Each entry received at `now`, or on time (at its own ts) when `now` is None."""
        got: list[Transition] = []
        for e in entries:
            got += self.engine.on_case_event(e.seq, e.event_id, e.event, now or e.ts)
        self.out += got
        return got

    def advance(self, now: datetime) -> list[Transition]:
        got = self.engine.advance(now)
        self.out += got
        return got

    def command(
        self, card: CardId, action: CardAction, by: StaffId, ts: datetime, text: str = "…"
    ) -> list[Transition]:
        cmd = CardCommand(card=card, action=action, by=by, ts=ts, text=text)
        got = self.engine.on_command(cmd, ts)
        self.out += got
        return got

    def card(self, rule: RuleId) -> Card:
        found = [c for c in self.engine.cards.values() if c.rule is rule]
        assert len(found) == 1, f"{rule}: {[c.id for c in found]}"
        return found[0]

    def cards(self, rule: RuleId) -> list[Card]:
        return sorted(
            (c for c in self.engine.cards.values() if c.rule is rule), key=lambda c: c.raised_at
        )


def steps(card: Card) -> list[tuple[CardState, Why, datetime, bool]]:
    """A card's history as (state, why, ts in hall time, holds)."""
    return [(t.state, t.why, t.ts.astimezone(SHANGHAI), t.holds) for t in card.history]

"""What an upheld breach sets off beyond its own card (seed 000_… 八). Pure.

- A breach of 000_… 八(五) (a rule marked `honours` in `[scores.rules]`: the legal limit, a
  joint case delayed) upheld and not exempted: a card to the window's head (`windows[].head`),
  告诫窗口负责人, rule `accountability.head_warning`.
- An officer's second upheld accountable breach raised in one hall-local year (000_… 八(六)3:
  一年内出现两次以上; `[scores] repeat_offender_count`): a card to the hall's leadership
  (`[scores] leadership`), rule `accountability.repeat_offender`.

Both are yellow notices at the instant of the decision, with no condition that holds on (they
light nothing); their evidence is the decision's command and what the breach rested on. They
come from journaled commands alone, so a replay rebuilds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from alerts.cards import Card, CardEngine, CardState, Subject, Transition, WatchKind, watch_key
from alerts.cases import Condition
from alerts.config import HallConfig, ScoresConfig
from alerts.ids import CardId, EventId, StaffId
from alerts.rules import RuleId
from alerts.scores import deduction_rule, violation


class Accountability:
    def __init__(self, engine: CardEngine, cfg: HallConfig) -> None:
        self.engine = engine
        self.reconfigure(cfg)
        # (officer, year) → the upheld breaches in decision order, each with its command
        self.upheld: dict[tuple[StaffId, int], list[tuple[CardId, EventId]]] = defaultdict(list)

    def reconfigure(self, cfg: HallConfig) -> None:
        self.cfg: ScoresConfig = cfg.scores
        self.heads = {w.window_id: StaffId(w.head) for w in cfg.windows if w.head}

    def decided(
        self, command: EventId, out: Sequence[Transition], now: datetime
    ) -> list[Transition]:
        """The cards set off by the upholdings in `out` (a command's transitions)."""
        raised: list[Transition] = []
        for t in out:
            card = self.engine.cards[t.card]
            if t.state is not CardState.UPHELD or not violation(card, t.ts, self.cfg):
                continue
            raised += self._head(card, command, t.ts, now)
            raised += self._repeat(card, command, t.ts, now)
        return raised

    def _head(self, card: Card, command: EventId, at: datetime, now: datetime) -> list[Transition]:
        rule = deduction_rule(card, self.cfg)
        window = card.subject.window
        if rule is None or not rule.honours or window is None:
            return []
        subject = Subject(case=card.subject.case, window=window, staff=card.subject.staff)
        evidence = (command, *card.evidence)
        c = Condition(RuleId.HEAD_WARNING, "", at, at, False, evidence)
        key = watch_key(WatchKind.HEAD, card.id)
        return self.engine.on_conditions(key, subject, self.heads.get(window), (c,), now)

    def _repeat(
        self, card: Card, command: EventId, at: datetime, now: datetime
    ) -> list[Transition]:
        officer = card.owner or card.subject.staff
        if officer is None:
            return []
        year = card.raised_at.astimezone(self.engine.calendar.zone).year
        breaches = self.upheld[officer, year]
        breaches.append((card.id, command))
        n = self.cfg.repeat_offender_count
        if len(breaches) != n:
            return []  # one card a year, raised by the n-th
        cards = self.engine.cards
        evidence = tuple(e for cid, cmd in breaches for e in (cmd, *cards[cid].evidence))
        c = Condition(RuleId.REPEAT_OFFENDER, "", at, at, False, evidence)
        key = watch_key(WatchKind.REPEAT, officer, str(year))
        subject = Subject(staff=officer)
        lead = StaffId(self.cfg.leadership) if self.cfg.leadership else None
        return self.engine.on_conditions(key, subject, lead, (c,), now)

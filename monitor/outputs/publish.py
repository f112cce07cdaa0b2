"""What the hall sees: retained window lights, the hall summary and the display's snapshot.

Lights derive from the cards whose condition holds (alerts/lights.py). They are published
retained on every change and all again after each (re)connection to the broker; the display
gets the same snapshot, with who is on post and the staffed count (alerts/onpost.py, passed
in by the runner) and whom each light's card is about (`card_subjects`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from alerts.cards import Card
from alerts.config import HallConfig
from alerts.ids import CardId, StaffId, WindowId
from alerts.lights import (
    HallTotals,
    Light,
    changed,
    light_payload,
    open_cards,
    removed,
    summary_payload,
    window_lights,
)
from alerts.points import Point, points_for_lights, points_for_stats
from alerts.rules import RuleId
from alerts.stats import compute
from alerts.supervision import Supervision
from monitor.reports.monthly import unstaffed_minutes
from monitor.web.display import DisplayHub, snapshot

logger = logging.getLogger(__name__)

_MS = timedelta(milliseconds=1)

Publish = Callable[[str, bytes, bool], None]  # topic, payload, retain


class Presenter:
    def __init__(
        self,
        cfg: HallConfig,
        publish: Publish,
        display: DisplayHub,
        write_points: Callable[[Sequence[Point]], bool] | None = None,
    ) -> None:
        self.cfg = cfg
        self._publish = publish
        self._write_points = write_points
        self.display = display
        self.lights: dict[WindowId, Light] = {}
        self.totals: HallTotals | None = None
        self._stats_at: datetime | None = None

    def refresh(
        self,
        sup: Supervision,
        now: datetime,
        unknown: Collection[WindowId] = (),
        on_post: Mapping[WindowId, StaffId | None] | None = None,
        staffed: int | None = None,
    ) -> None:
        """Publish what changed. Call with the state lock held (it reads the engine)."""
        cfg = self.cfg
        hall = cfg.hall.id
        local = now.astimezone(cfg.hall.zone)
        windows = [w.window_id for w in cfg.windows]
        lights = window_lights(sup.engine.cards.values(), windows, set(unknown))
        moved = changed(self.lights, lights)
        for light in moved:
            self._publish(f"hall/{hall}/light/{light.window}", light_payload(light, local), True)
        for window in removed(self.lights, lights):
            self._publish(f"hall/{hall}/light/{window}", b"", True)
        self.lights = lights
        totals = self._totals(sup, local, staffed)
        written = self.totals
        if totals != self.totals:
            self._publish(f"hall/{hall}/summary", summary_payload(totals, local), True)
            self.totals = totals
        if (moved or totals != written) and self._write_points is not None:
            levels = {str(light.window): light.level.value for light in moved}
            counts = {str(light.window): len(light.cards) for light in moved}
            lit = points_for_lights(hall, levels, now, counts) if moved else []
            self._write_points([*lit, *self._stats(sup, totals, now)])  # one commit for both
        about = card_subjects(lights, sup.engine.cards)
        self.display.update(snapshot(cfg, lights, totals, on_post, about))

    def _stats(self, sup: Supervision, totals: HallTotals, now: datetime) -> list[Point]:
        """Today's totals as a `hall_stats` point, each at its own millisecond (a standing clock
        or two refreshes in one millisecond would otherwise give VictoriaMetrics two samples
        at one instant, and it keeps either)."""
        at = now if self._stats_at is None or now > self._stats_at else self._stats_at + _MS
        self._stats_at = at
        local = now.astimezone(self.cfg.hall.zone)
        month = (local.year, local.month)
        per_window = unstaffed_minutes(
            sup.engine.cards.values(), sup.engine.calendar, self.cfg.posts.yellow_min, month, now
        )
        today = sum(m for (_, day), m in per_window.items() if day == local.date())
        return stats_points(self.cfg.hall.id, totals, today, at)

    def republish(self, now: datetime) -> None:
        """After a (re)connection: every retained light and the summary again."""
        local = now.astimezone(self.cfg.hall.zone)
        for light in changed({}, self.lights):
            self._publish(
                f"hall/{self.cfg.hall.id}/light/{light.window}", light_payload(light, local), True
            )
        if self.totals is not None:
            self._publish(
                f"hall/{self.cfg.hall.id}/summary", summary_payload(self.totals, local), True
            )

    def _totals(self, sup: Supervision, local: datetime, staffed: int | None) -> HallTotals:
        today = local.date()
        cases = sup.engine.assessments(today)  # today's figures need today's cases only
        rows = compute(cases, sup.state.ratings, sup.engine.calendar, today, today, "hall")
        row = rows[0] if rows else None
        return HallTotals(
            day=today,
            received=row.received if row else 0,
            completed=row.completed if row else 0,
            on_time_rate=row.on_time_rate if row else None,
            cards_open=open_cards(sup.engine.cards.values()),
            windows_staffed=staffed,
            windows=len(self.cfg.windows),
        )


_WINDOW_RULES = frozenset(
    (RuleId.POST_UNSTAFFED_WARNING, RuleId.POST_UNSTAFFED, RuleId.POST_AB_UNCOVERED)
)


def card_subjects(
    lights: Mapping[WindowId, Light], cards: Mapping[CardId, Card]
) -> dict[WindowId, StaffId]:
    """Whom the card behind each light (its worst) is about; the post rules are about the
    window, whoever holds its A post."""
    out: dict[WindowId, StaffId] = {}
    for w, light in lights.items():
        card = cards.get(light.cards[0]) if light.cards else None
        if card is not None and card.subject.staff is not None and card.rule not in _WINDOW_RULES:
            out[w] = card.subject.staff
    return out


def stats_points(hall: str, totals: HallTotals, unstaffed_min: float, at: datetime) -> list[Point]:
    """Today's totals as a `hall_stats` point at `at` (docs/timeseries.md): the latest point of
    a day is that day's figure."""
    fields: dict[str, int | float] = {
        "received": totals.received,
        "completed": totals.completed,
        "windows": totals.windows,
        "unstaffed_minutes": round(unstaffed_min, 1),
        **{f"cards_open_{lvl.value}": n for lvl, n in totals.cards_open.items()},
    }
    if totals.on_time_rate is not None:
        fields["on_time_rate"] = float(totals.on_time_rate)
    if totals.windows_staffed is not None:
        fields["windows_staffed"] = totals.windows_staffed
    return points_for_stats(hall, fields, at)

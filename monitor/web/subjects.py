"""A window's or an officer's page: its state now, its open cards, and month by month its
cases, on-time rate, cards and deductions (alerts/stats.py, alerts/scores.py), from the
replayed journal. Pure: the daemon's state lock is held by the caller."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.cards import Card
from alerts.config import HallConfig
from alerts.events import StaffState
from alerts.ids import StaffId
from alerts.roles import StaffRole
from alerts.rules import Level
from alerts.scores import month_bounds, score_month
from alerts.stats import compute
from alerts.supervision import Supervision
from monitor.web.console import LEVEL_ZH, Names, card_row, voided

Kind = Literal["window", "officer"]
STATUS_ZH = {
    StaffState.ON_POST: "在岗",
    StaffState.AWAY: "暂离",
    StaffState.MEETING: "会议",
    StaffState.TRIP: "出差",
    StaffState.LEAVE: "请假",
    StaffState.OFF: "休息",
}
MONTHS = 6


def _months(now: datetime, zone: Any, n: int) -> list[tuple[int, int]]:
    local = now.astimezone(zone)
    y, m = local.year, local.month
    out = []
    for _ in range(n):
        out.append((y, m))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _names(c: Card, kind: Kind, key: str) -> bool:
    if kind == "window":
        return c.subject.window == key
    return key in (c.subject.staff, c.owner)


def _pct(x: Any) -> float | None:
    return None if x is None else round(float(x) * 100, 2)


def subject_page(
    sup: Supervision, cfg: HallConfig, kind: Kind, key: str, now: datetime
) -> dict[str, Any] | None:
    names, zone = Names.of(cfg), cfg.hall.zone
    if kind == "window":
        if key not in names.windows:
            return None
        title = names.windows[key]
    else:
        if key not in names.staff:
            return None
        title = names.staff[key]
    mine = [c for c in sup.engine.cards.values() if _names(c, kind, key) and not voided(c)]
    open_ = [c for c in mine if c.state.value != "closed"]
    open_.sort(key=lambda c: c.raised_at, reverse=True)
    holding = [c for c in open_ if c.holds]
    light = (
        Level.RED
        if any(c.level is Level.RED for c in holding)
        else Level.YELLOW
        if holding
        else Level.GREEN
    )
    field = "window" if kind == "window" else "staff"
    assessments = [a for a in sup.engine.assessments() if getattr(a, field) == key]
    windows = [w.id for w in cfg.windows]
    officers = [s.id for s in cfg.staff if s.role is StaffRole.OFFICER]
    cal = sup.engine.calendar
    history = []
    for month in _months(now, zone, MONTHS):
        start, end = month_bounds(month, zone)
        last = (end - timedelta(days=1)).date()
        rows = compute(assessments, sup.state.ratings, cal, start.date(), last, "hall")
        row = rows[0] if rows else None
        scores = score_month(mine, cfg.scores, month, zone, now, windows, officers)
        pool = scores.windows if kind == "window" else scores.officers
        sc = next((s for s in pool if s.id == key), None)
        raised = [c for c in mine if start <= c.raised_at < end]
        history.append(
            {
                "month": f"{month[0]:04d}-{month[1]:02d}",
                "received": row.received if row else 0,
                "completed": row.completed if row else 0,
                "on_time": row.on_time if row else 0,
                "on_time_pct": _pct(row.on_time_rate) if row else None,
                "cards": len(raised),
                "red": sum(c.level is Level.RED for c in raised),
                "yellow": sum(c.level is Level.YELLOW for c in raised),
                "score": sc.score if sc else None,
                "grade": sc.grade if sc else None,
                "deducted": sc.deducted if sc else 0,
                "deductions": [
                    {"card": d.card, "rule": d.rule, "points": d.points, "day": d.day.isoformat()}
                    for d in (sc.deductions if sc else ())
                ],
            }
        )
    status = sup.state.staff.get(StaffId(key)) if kind == "officer" else None
    staff_of = {s.id: s for s in cfg.staff}
    return {
        "kind": kind,
        "id": key,
        "name": title,
        "light": light.value,
        "light_zh": LEVEL_ZH[light],
        "status": None if status is None else status.state.value,
        "status_zh": None if status is None else STATUS_ZH[status.state],
        "department": staff_of[key].department if kind == "officer" else None,
        "open_cases": sum(1 for a in assessments if a.open),
        "open_cards": [card_row(c, names, zone) for c in open_[:200]],
        "open_total": len(open_),
        "open_by_rule": dict(Counter(c.rule.value for c in open_)),
        "history": history,
    }

"""The evaluation beyond one month's deductions (alerts/scores.py). Pure.

- The star rating of seed 004_… 三(二)(三): 100 points = the creation items (80) and the panel's
  mark (10), both entered in the configuration, plus satisfaction (10 × 满意率 of the rating
  period, from the ratings); ≥ 95 five stars, ≥ 90 four, ≥ 85 three; rated every two years;
  a proven violation while holding the stars (an upheld red card of the window, not exempted)
  removes them. The monthly deduction score is a figure of its own and never makes stars.
- The year's roll-up of the monthly scores (seed 000_… 九(三): 效能考评每年组织一次).
- The service targets of seed 004_… 二(一) (on time 100 %, on the spot 100 %, satisfaction
  ≥ 98 %), flagged where a month misses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Literal

from alerts.cards import Card
from alerts.config import ScoresConfig, StarEntry
from alerts.ids import CardId, CaseId
from alerts.scores import (
    Completion,
    MonthScores,
    SatisfactionRow,
    SubjectScore,
    month_bounds,
    satisfaction,
    score_month,
    stars_for,
    violation,
)
from alerts.stats import TOTAL_KEY, StatsRow
from alerts.workdays import WorkCalendar

# --- the 004 star rating -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StarRating:
    window: str
    year: int  # the rating's year; it covers `period` and is held the years after it
    period: tuple[int, int]  # first and last year whose cases make the satisfaction figure
    creation: float  # 创建项目考核, as entered
    satisfaction_rate: Fraction | None  # 满意率 of the period's finished cases; None: none
    satisfaction: float  # satisfaction_max × the rate (0 without a rate)
    panel: float  # 考评小组评定, as entered
    total: float
    awarded: int  # stars the total gives
    removed_by: tuple[CardId, ...]  # proven violations while holding them (004_… 三(二))

    @property
    def stars(self) -> int:
        """The stars held now: none once a violation is proven."""
        return 0 if self.removed_by else self.awarded


def star_ratings(
    cards: Iterable[Card],
    ratings: Mapping[CaseId, int],
    completions: Mapping[CaseId, Completion],
    cfg: ScoresConfig,
    cal: WorkCalendar,
    now: datetime,
) -> list[StarRating]:
    """Each configured rating with its satisfaction and whether its stars still stand."""
    sat = satisfaction(ratings, completions, now, cal, unrated_after_days=cfg.unrated_after_days)
    cards = list(cards)
    return [_rating(e, sat, cards, cfg, cal.zone, now) for e in cfg.star_rating.entries]


def _rating(
    e: StarEntry,
    sat: Sequence[SatisfactionRow],
    cards: Sequence[Card],
    cfg: ScoresConfig,
    zone: tzinfo,
    now: datetime,
) -> StarRating:
    sr = cfg.star_rating
    first = e.year - sr.period_years + 1
    rows = [r for r in sat if r.window == e.window and first <= int(r.month[:4]) <= e.year]
    counted = sum(r.counted for r in rows)
    rate = Fraction(counted - sum(r.bad for r in rows), counted) if counted else None
    points = round(float(sr.satisfaction_max * rate), 2) if rate is not None else 0.0
    total = round(e.creation + points + e.panel, 2)
    # Held from the first day after the rating year until the next rating (every period).
    held_from = month_bounds((e.year + 1, 1), zone)[0]
    held_until = month_bounds((e.year + 1 + sr.period_years, 1), zone)[0]
    removed = tuple(
        c.id
        for c in sorted(cards, key=lambda c: (c.raised_at, c.id))
        if c.subject.window == e.window
        and held_from <= c.raised_at < held_until
        and violation(c, now, cfg)
    )
    return StarRating(
        window=e.window,
        year=e.year,
        period=(first, e.year),
        creation=e.creation,
        satisfaction_rate=rate,
        satisfaction=points,
        panel=e.panel,
        total=total,
        awarded=stars_for(total, cfg),
        removed_by=removed,
    )


# --- the year's roll-up ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class YearRow:
    kind: Literal["window", "officer"]
    id: str
    months: tuple[int | None, ...]  # January to December; None: not yet begun at `now`
    deducted: int
    honours_lost: int  # months without honours (windows)
    last_place: int  # months in last place (windows)

    @property
    def average(self) -> Fraction | None:
        given = [m for m in self.months if m is not None]
        return Fraction(sum(given), len(given)) if given else None


@dataclass(frozen=True, slots=True, kw_only=True)
class YearScores:
    year: int
    closed: bool
    windows: tuple[YearRow, ...]
    officers: tuple[YearRow, ...]
    months: tuple[MonthScores, ...]  # the months begun by `now`


def year_scores(
    cards: Iterable[Card],
    cfg: ScoresConfig,
    year: int,
    zone: tzinfo,
    now: datetime,
    windows: Sequence[str],
    officers: Sequence[str],
    since: datetime | None = None,
) -> YearScores:
    """Every month of `year` begun by `now`, scored as the monthly report scores it; not
    the months that ended before `since` (the earliest evidence: a hall not yet watched
    then has no score, not a full 100)."""
    cards = list(cards)
    months = tuple(
        score_month(cards, cfg, (year, m), zone, now, windows, officers)
        for m in range(1, 13)
        if month_bounds((year, m), zone)[0] <= now
        and (since is None or month_bounds((year, m), zone)[1] > since)
    )

    def rows(kind: Literal["window", "officer"]) -> tuple[YearRow, ...]:
        ids: dict[str, None] = {}
        for ms in months:
            ids.update(dict.fromkeys(r.id for r in _rows(ms, kind)))
        return tuple(_year_row(kind, sid, months) for sid in ids)

    return YearScores(
        year=year,
        closed=now >= month_bounds((year + 1, 1), zone)[0],
        windows=rows("window"),
        officers=rows("officer"),
        months=months,
    )


def _rows(ms: MonthScores, kind: str) -> tuple[SubjectScore, ...]:
    return ms.windows if kind == "window" else ms.officers


def _year_row(
    kind: Literal["window", "officer"], sid: str, months: Sequence[MonthScores]
) -> YearRow:
    scores: list[int | None] = [None] * 12
    deducted = lost = last = 0
    for ms in months:
        row = next((r for r in _rows(ms, kind) if r.id == sid), None)
        if row is None:
            continue
        scores[ms.month[1] - 1] = row.score
        deducted += row.deducted
        lost += bool(row.honours_lost_by)
        last += row.last_place
    return YearRow(
        kind=kind,
        id=sid,
        months=tuple(scores),
        deducted=deducted,
        honours_lost=lost,
        last_place=last,
    )


# --- the 004 service targets -----------------------------------------------------------------

Measure = Literal["on_time", "on_the_spot", "satisfaction"]
MEASURE_ZH: dict[Measure, str] = {
    "on_time": "按时办结率",
    "on_the_spot": "现场办结率",
    "satisfaction": "满意率",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetMiss:
    subject: str  # a window, or TOTAL_KEY for the hall
    measure: Measure
    value: Fraction
    target: Fraction  # a fraction of 1


def missed_targets(
    stats_rows: Sequence[StatsRow], sat: Sequence[SatisfactionRow], cfg: ScoresConfig
) -> list[TargetMiss]:
    """Windows (and the hall, TOTAL_KEY) below a 004_… 二(一) target; no figure, no flag."""
    t = cfg.targets
    goal: dict[Measure, Fraction] = {
        "on_time": Fraction(str(t.on_time)) / 100,
        "on_the_spot": Fraction(str(t.on_the_spot)) / 100,
        "satisfaction": Fraction(str(t.satisfaction)) / 100,
    }
    out: list[TargetMiss] = []
    for r in stats_rows:
        measures: tuple[tuple[Measure, Fraction | None], ...] = (
            ("on_time", r.on_time_rate),
            ("on_the_spot", r.on_the_spot_rate),
        )
        for measure, value in measures:
            if value is not None and value < goal[measure]:
                out.append(
                    TargetMiss(subject=r.key, measure=measure, value=value, target=goal[measure])
                )
    for key, rate in _satisfaction_rates(sat).items():
        if rate is not None and rate < goal["satisfaction"]:
            target = goal["satisfaction"]
            out.append(TargetMiss(subject=key, measure="satisfaction", value=rate, target=target))
    return sorted(out, key=lambda m: (m.subject == TOTAL_KEY, m.subject, m.measure))


def _satisfaction_rates(sat: Sequence[SatisfactionRow]) -> dict[str, Fraction | None]:
    out = {r.window: r.rate for r in sat}
    counted = sum(r.counted for r in sat)
    out[TOTAL_KEY] = Fraction(counted - sum(r.bad for r in sat), counted) if counted else None
    return out

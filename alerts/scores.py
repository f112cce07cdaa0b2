"""Monthly efficiency scores (效能考评), star levels and good/bad reviews. Pure.

Cards in, a month's scores out. Deduction rules are data (`ScoresConfig.rules`): a hall changes
points, who is charged and the monthly cap without code. What counts (the hearing, 陈述申辩,
seed 000_… 八(八)), per card, at `now`:
- voided (its last transition is `void`: the condition never held): never counts;
- revoked at any time: never counts;
- upheld: counts;
- answered and not yet decided: pending (shown, not deducted);
- raised or escalated with `answer_by` passed and no answer: counts;
- raised before its `answer_by`: pending;
- without `answer_by` (the yellow attendance cards): counts unless answered or revoked;
- upheld with a mitigation (000_… 八(七)): counts at the configured share of its points, 免予处理
  at none (then it is no violation: no honours lost, no repeat).
A card belongs to the hall-local month of its `raised_at`. Founded complaints and bad reviews not
rectified in time are cards like any other (alerts/complaints.py). See docs/scores.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from alerts.cards import Card, CardState, Why
from alerts.cases import Assessment
from alerts.config import DeductionRule, ScoresConfig, Who
from alerts.events import Mitigation
from alerts.ids import CardId, CaseId, EventId, WindowId
from alerts.rules import Level, RuleId
from alerts.workdays import WorkCalendar

Month = tuple[int, int]


class Verdict(StrEnum):
    """Why a card counts, waits or does not count."""

    UPHELD = "upheld"
    MITIGATED = "mitigated"  # upheld with 从轻 or 减轻处理: a share of the points
    EXEMPTED = "exempted"  # upheld with 免予处理: no points, no violation
    UNANSWERED = "unanswered"  # answer_by passed without an answer
    NO_HEARING = "no_hearing"  # a card without answer_by
    ANSWERED = "answered"  # pending: awaiting the supervisor's decision
    BEFORE_ANSWER_BY = "before_answer_by"  # pending: the owner may still answer
    REVOKED = "revoked"
    VOID = "void"
    NOT_SCORED = "not_scored"  # no deduction rule for it


_COUNTS = (Verdict.UPHELD, Verdict.MITIGATED, Verdict.UNANSWERED, Verdict.NO_HEARING)
REPEAT_OVERTIME = "scores.repeat_overtime"  # a deduction of its own, no card rule (000_… 八(五)7)
_PENDING = (Verdict.ANSWERED, Verdict.BEFORE_ANSWER_BY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Deduction:
    card: CardId
    rule: str
    subject: str
    points: int  # charged, after the cap
    nominal: int  # per the rule, before the cap
    verdict: Verdict
    day: date  # hall-local day the card was raised
    window: str | None  # the card's window, for the heat map
    evidence: tuple[EventId, ...]
    mitigation: Mitigation | None = None
    joint: bool = False  # a joint case's co-department step: 000_… 八(五)2


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    card: CardId
    rule: str
    subject: str
    points: int  # what it would cost if it counts
    verdict: Verdict
    answer_by: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectScore:
    kind: Literal["window", "officer"]
    id: str
    score: int  # the monthly deduction score: base minus what counted (not the 004 stars)
    grade: str
    deductions: tuple[Deduction, ...]
    pending: tuple[Pending, ...]
    # Windows: why this month's honours (评优评先) are gone, e.g. a legal-limit breach's card
    # (000_… 八(五)), the repeat-overtime rule, or 末位 (002_… 领导服务责任制度 五).
    honours_lost_by: tuple[str, ...] = ()
    last_place: bool = False

    @property
    def deducted(self) -> int:
        return sum(d.points for d in self.deductions)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthScores:
    month: Month
    closed: bool
    windows: tuple[SubjectScore, ...]
    officers: tuple[SubjectScore, ...]
    cards_by_rule: dict[str, int]  # every card raised in the month that is not void
    verdicts: dict[CardId, Verdict]

    @property
    def label(self) -> str:
        return f"{self.month[0]:04d}-{self.month[1]:02d}"


def month_bounds(month: Month, zone: tzinfo) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's first instant, hall-local."""
    y, m = month
    nxt = (y + 1, 1) if m == 12 else (y, m + 1)
    return datetime(y, m, 1, tzinfo=zone), datetime(*nxt, 1, tzinfo=zone)


def verdict(card: Card, now: datetime, cfg: ScoresConfig) -> Verdict:
    """What the hearing has made of `card` at `now` (transitions after `now` are ignored)."""
    history = [t for t in card.history if t.ts <= now]
    if not history or history[-1].why is Why.VOID:
        return Verdict.VOID
    if deduction_rule(card, cfg) is None:
        return Verdict.NOT_SCORED
    states = {t.state for t in history}
    if CardState.REVOKED in states:
        return Verdict.REVOKED
    if CardState.UPHELD in states:
        m = mitigation_of(card, now)
        if m is None:
            return Verdict.UPHELD
        return Verdict.EXEMPTED if m is Mitigation.EXEMPT else Verdict.MITIGATED
    if CardState.ANSWERED in states:
        return Verdict.ANSWERED
    if card.answer_by is None:
        return Verdict.NO_HEARING
    return Verdict.UNANSWERED if card.answer_by <= now else Verdict.BEFORE_ANSWER_BY


def deduction_rule(card: Card, cfg: ScoresConfig) -> DeductionRule | None:
    """The rule `card` is scored by, None when it deducts nothing. A co-department's step of a
    joint case (the step's qualifier names the department) is 000_… 八(五)2, not 八(四)7."""
    rule = cfg.joint_step if is_joint_step(card) else cfg.rules.get(card.rule.value)
    return rule if rule is not None and rule.points > 0 else None


def is_joint_step(card: Card) -> bool:
    return card.rule is RuleId.STEP_OVERDUE and "/" in card.qualifier


def mitigation_of(card: Card, now: datetime) -> Mitigation | None:
    """The mitigation of `card`'s upholding (000_… 八(七)), as decided by `now`."""
    for t in card.history:
        if t.ts <= now and t.state is CardState.UPHELD:
            return t.mitigation
    return None


def violation(card: Card, now: datetime, cfg: ScoresConfig) -> bool:
    """A proven (查实) accountable breach: a red card upheld, not exempted (免予处理)."""
    return card.level is Level.RED and verdict(card, now, cfg) in (
        Verdict.UPHELD,
        Verdict.MITIGATED,
    )


def _charged(card: Card, who: Who) -> list[tuple[Literal["window", "officer"], str]]:
    out: list[tuple[Literal["window", "officer"], str]] = []
    officer = card.owner or card.subject.staff
    if who in ("officer", "both") and officer is not None:
        out.append(("officer", officer))
    if who in ("window", "both") and card.subject.window is not None:
        out.append(("window", card.subject.window))
    return out


def score_month(
    cards: Iterable[Card],
    cfg: ScoresConfig,
    month: Month,
    zone: tzinfo,
    now: datetime,
    windows: Sequence[str],
    officers: Sequence[str],
) -> MonthScores:
    """Scores of `month`: a row per configured window and officer, plus any other subject
    a counted or pending card names."""
    start, end = month_bounds(month, zone)
    chosen = sorted(
        (c for c in cards if start <= c.raised_at < end), key=lambda c: (c.raised_at, c.id)
    )
    verdicts = {c.id: verdict(c, now, cfg) for c in chosen}
    by_rule = Counter(c.rule.value for c in chosen if verdicts[c.id] is not Verdict.VOID)
    found: dict[tuple[str, str], list[Deduction]] = defaultdict(list)
    waiting: dict[tuple[str, str], list[Pending]] = defaultdict(list)
    used: Counter[tuple[str, str]] = Counter()
    for c in chosen:
        v = verdicts[c.id]
        if v not in _COUNTS and v not in _PENDING:
            continue
        rule = deduction_rule(c, cfg)
        assert rule is not None  # NOT_SCORED otherwise
        for kind, sid in _charged(c, rule.who):
            if v in _PENDING:
                p = Pending(
                    card=c.id,
                    rule=c.rule.value,
                    subject=sid,
                    points=rule.points,
                    verdict=v,
                    answer_by=c.answer_by,
                )
                waiting[kind, sid].append(p)
                continue
            day = c.raised_at.astimezone(zone).date()
            m = mitigation_of(c, now)
            d = _deduct(rule, sid, c, v, day, used, (_share(m, cfg), m))
            found[kind, sid].append(d)
    honours = _honours(chosen, verdicts, cfg)
    for officer, (d, lost) in _repeat_overtime(chosen, verdicts, cfg, zone).items():
        found["officer", officer].append(d)
        for w in lost:
            honours[w].append(REPEAT_OVERTIME)

    def rows(kind: Literal["window", "officer"], ids: Sequence[str]) -> tuple[SubjectScore, ...]:
        seen = {sid for k, sid in (*found, *waiting) if k == kind}
        return tuple(
            _row(kind, sid, found[kind, sid], waiting[kind, sid], cfg)
            for sid in [*ids, *sorted(seen - set(ids))]
        )

    return MonthScores(
        month=month,
        closed=now >= end,
        windows=_ranked(rows("window", windows), honours, cfg),
        officers=rows("officer", officers),
        cards_by_rule=dict(sorted(by_rule.items())),
        verdicts=verdicts,
    )


def _share(m: Mitigation | None, cfg: ScoresConfig) -> int:
    """Percent of the rule's points a counted card costs: all, or the mitigation's share."""
    if m is None:
        return 100
    return {
        Mitigation.LIGHTER: cfg.mitigation.lighter,
        Mitigation.REDUCED: cfg.mitigation.reduced,
        Mitigation.EXEMPT: cfg.mitigation.exempt,
    }[m]


def _honours(
    cards: Sequence[Card], verdicts: Mapping[CardId, Verdict], cfg: ScoresConfig
) -> dict[str, list[str]]:
    """Window → the cards that cost it the month's honours: a counted, unexempted card of a
    rule marked `honours` (000_… 八(五): 取消该窗口当月评优评先资格)."""
    out: dict[str, list[str]] = defaultdict(list)
    for c in cards:
        rule = deduction_rule(c, cfg)
        if rule is None or not rule.honours or c.subject.window is None:
            continue
        if verdicts[c.id] in _COUNTS:
            out[c.subject.window].append(c.id)
    return out


def _repeat_overtime(
    cards: Sequence[Card], verdicts: Mapping[CardId, Verdict], cfg: ScoresConfig, zone: tzinfo
) -> dict[str, tuple[Deduction, set[str]]]:
    """Officer → one more deduction when their counted overtime cards of the month reach
    `repeat_overtime.count` (000_… 八(五)7: 多次出现超时办结), and the windows it concerns."""
    rc = cfg.repeat_overtime
    counted = (Verdict.UPHELD, Verdict.MITIGATED, Verdict.UNANSWERED)
    mine: dict[str, list[Card]] = defaultdict(list)
    for c in cards:
        who = c.owner or c.subject.staff
        if c.rule.value in rc.rules and verdicts[c.id] in counted and who is not None:
            mine[who].append(c)
    out: dict[str, tuple[Deduction, set[str]]] = {}
    for officer, own in mine.items():
        if len(own) < rc.count or rc.points == 0:
            continue
        last = own[rc.count - 1]
        d = Deduction(
            card=last.id,
            rule=REPEAT_OVERTIME,
            subject=officer,
            points=rc.points,
            nominal=rc.points,
            verdict=verdicts[last.id],
            day=last.raised_at.astimezone(zone).date(),
            window=last.subject.window,
            evidence=tuple(e for c in own for e in c.evidence),
        )
        out[officer] = (d, {c.subject.window for c in own if c.subject.window is not None})
    return out


def _ranked(
    rows: tuple[SubjectScore, ...], honours: Mapping[str, list[str]], cfg: ScoresConfig
) -> tuple[SubjectScore, ...]:
    """Honours lost, and the last place (002_… 领导服务责任制度 五: 服务评议结果处于末位, 取消
    评先资格): the lowest score, when not every window has it."""
    low = min((r.score for r in rows), default=None)
    last = cfg.last_place and low is not None and any(r.score > low for r in rows)
    out = []
    for r in rows:
        is_last = last and r.score == low
        lost = (*honours.get(r.id, ()), *(["末位"] if is_last else []))
        out.append(replace(r, honours_lost_by=tuple(dict.fromkeys(lost)), last_place=is_last))
    return tuple(out)


def _deduct(
    rule: DeductionRule,
    sid: str,
    c: Card,
    v: Verdict,
    day: date,
    used: Counter[tuple[str, str]],
    mitigated: tuple[int, Mitigation | None],
) -> Deduction:
    name = c.rule.value
    points = nominal = rule.points * mitigated[0] // 100
    if rule.cap is not None:
        points = max(0, min(points, rule.cap - used[name, sid]))
    used[name, sid] += points
    return Deduction(
        card=c.id,
        rule=name,
        subject=sid,
        points=points,
        nominal=nominal,
        verdict=v,
        day=day,
        window=c.subject.window,
        evidence=c.evidence,
        mitigation=mitigated[1],
        joint=is_joint_step(c),
    )


def _row(
    kind: Literal["window", "officer"],
    sid: str,
    deductions: Sequence[Deduction],
    pending: Sequence[Pending],
    cfg: ScoresConfig,
) -> SubjectScore:
    score = cfg.base - sum(d.points for d in deductions)
    score = max(cfg.min_score, min(cfg.max_score, score))
    return SubjectScore(
        kind=kind,
        id=sid,
        score=score,
        grade=grade_for(score, cfg),
        deductions=tuple(deductions),
        pending=tuple(pending),
    )


def grade_for(score: int, cfg: ScoresConfig) -> str:
    for band in sorted(cfg.grades, key=lambda b: -b.min_score):
        if score >= band.min_score:
            return band.name
    return cfg.below_grades


def stars_for(score: float, cfg: ScoresConfig) -> int:
    for band in sorted(cfg.stars, key=lambda b: -b.min_score):
        if score >= band.min_score:
            return band.stars
    return 0


# --- good and bad reviews (好差评) -----------------------------------------------------------

BAD = frozenset({1, 2})


@dataclass(frozen=True, slots=True, kw_only=True)
class SatisfactionRow:
    window: str
    month: str  # "YYYY-MM", hall-local month of completion
    levels: dict[int, int]  # level → cases, defaulted ones included as 3
    rated: int
    defaulted: int  # unrated past the wait: counted as 3 (基本满意)
    waiting: int  # unrated, still inside the wait: not counted yet

    @property
    def counted(self) -> int:
        return self.rated + self.defaulted

    @property
    def bad(self) -> int:
        return sum(n for lvl, n in self.levels.items() if lvl in BAD)

    @property
    def rate(self) -> Fraction | None:
        """满意率: levels 3–5 (基本满意 and better) over every counted case."""
        return Fraction(self.counted - self.bad, self.counted) if self.counted else None


Completion = tuple[WindowId | str | None, datetime]


def satisfaction(
    ratings: Mapping[CaseId, int],
    completions: Mapping[CaseId, Completion],
    now: datetime,
    cal: WorkCalendar,
    *,
    unrated_after_days: int = 7,
) -> list[SatisfactionRow]:
    """Per window and month of completion. Natural days for the wait (practice elsewhere)."""
    tally: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    wait = timedelta(days=unrated_after_days)
    for case, (window, done) in completions.items():
        key = (window or "—", f"{done.astimezone(cal.zone):%Y-%m}")
        level = ratings.get(case)
        if level is not None:
            if level not in range(1, 6):
                raise ValueError(f"case {case}: rating level {level} is not 1-5")
            tally[key][str(level)] += 1
            tally[key]["rated"] += 1
        elif now >= done + wait:
            tally[key]["3"] += 1
            tally[key]["defaulted"] += 1
        else:
            tally[key]["waiting"] += 1
    return [
        SatisfactionRow(
            window=w,
            month=m,
            levels={lvl: t[str(lvl)] for lvl in range(1, 6)},
            rated=t["rated"],
            defaulted=t["defaulted"],
            waiting=t["waiting"],
        )
        for (w, m), t in sorted(tally.items())
    ]


def completions_from(assessments: Iterable[Assessment]) -> dict[CaseId, Completion]:
    """Finished cases (completed or returned) of `alerts.cases.Assessment`s: window and time."""
    return {a.case: (a.window, a.finished_at) for a in assessments if a.finished_at is not None}

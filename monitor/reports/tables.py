"""The monthly report's tables, shared by the page and the workbook. Pure.

A cell keeps its value and how it prints: counts are ints, rates and averages `Num` (the exact
figure as printed, from alerts/stats.py's rounding, and the float a spreadsheet sums), a
missing figure None (printed "—"). Every id stands beside its name from the configuration,
every time is the hall's local time, text is stripped of control characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Literal

from alerts.config import ScoresConfig
from alerts.rules import RULES, RuleId
from alerts.scores import MonthScores, SatisfactionRow, SubjectScore, Verdict
from alerts.stats import GROUP_LABELS_ZH, LABELS_ZH, TABLE_COLUMNS, TOTAL_KEY, StatsRow, rounded
from monitor.reports.names import HallNames, clean

Format = Literal["pct", "2dp", "1dp"]


@dataclass(frozen=True, slots=True)
class Num:
    """A figure: `value` for a spreadsheet (a rate as a fraction of 1), `text` as printed."""

    value: float
    fmt: Format
    text: str


Cell = str | int | float | Num | None
Table = tuple[list[str], list[list[Cell]]]

VERDICT_ZH: dict[Verdict, str] = {
    Verdict.UPHELD: "经申辩维持",
    Verdict.UNANSWERED: "逾期未申辩",
    Verdict.NO_HEARING: "无需申辩",
    Verdict.ANSWERED: "已申辩待决定",
    Verdict.BEFORE_ANSWER_BY: "申辩期内",
    Verdict.REVOKED: "已撤销",
    Verdict.VOID: "作废",
    Verdict.NOT_SCORED: "不计分",
}

_STAR_ZH = {5: "五星", 4: "四星", 3: "三星", 2: "二星", 1: "一星"}


def rule_title(rule: str) -> str:
    try:
        return RULES[RuleId(rule)].title_zh
    except ValueError:
        return rule


def basis(rule: str, names: HallNames) -> str:
    """The rule's 依据 in the hall's regulations (alerts/basis.py, `[basis]`)."""
    return names.bases.text(rule)


def local(t: datetime | None, zone: tzinfo) -> str:
    return "—" if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def pct(rate: Fraction | None) -> Num | None:
    return None if rate is None else Num(float(rate), "pct", rounded(rate * 100, 2) + "%")


def figure(row: StatsRow, column: str) -> Cell:
    value: int | Fraction | None = getattr(row, column)
    if value is None or isinstance(value, int):
        return value
    if column.endswith("_rate"):
        return pct(value)
    return Num(float(value), "2dp", rounded(value, 2))


def text_of(c: Cell) -> str:
    if c is None:
        return "—"
    if isinstance(c, Num):
        return c.text
    return clean(str(c))


def _stars(n: int) -> str:
    return "★" * n if n else "—"


def score_table(rows: Sequence[SubjectScore], heading: str, names: HallNames) -> Table:
    officers = heading != "窗口"
    head = [heading, "姓名" if officers else "名称", *(["部门"] if officers else [])]
    head += ["得分", "扣分", "等级", "星级", "待定卡片", "取消星级依据"]
    body: list[list[Cell]] = []
    for r in rows:
        who: list[Cell] = [r.id, names.person(r.id)] if officers else [r.id, names.window(r.id)]
        if officers:
            who.append(names.department_of(r.id))
        removed = " ".join(r.star_removed_by) or "—"
        body.append([*who, r.score, r.deducted, r.grade, _stars(r.stars), len(r.pending), removed])
    return head, body


def _all(scores: MonthScores) -> list[SubjectScore]:
    return [*scores.windows, *scores.officers]


def _name(r: SubjectScore, names: HallNames) -> str:
    return names.window(r.id) if r.kind == "window" else names.person(r.id)


def deduction_table(scores: MonthScores, names: HallNames) -> Table:
    head = ["对象", "名称", "类别", "规则", "依据", "结论", "卡片", "日期", "扣分", "证据事件"]
    body: list[list[Cell]] = []
    for r in _all(scores):
        for d in r.deductions:
            capped = "（已达上限）" if d.points < d.nominal else ""
            body.append(
                [
                    r.id,
                    _name(r, names),
                    "窗口" if r.kind == "window" else "人员",
                    rule_title(d.rule),
                    basis(d.rule, names),
                    VERDICT_ZH[d.verdict] + capped,
                    d.card,
                    d.day.isoformat(),
                    -d.points,
                    " ".join(d.evidence) or "—",
                ]
            )
    return head, body


def pending_table(scores: MonthScores, names: HallNames, zone: tzinfo) -> Table:
    head = ["对象", "名称", "规则", "依据", "卡片", "如维持扣分", "状态", "申辩期限"]
    body: list[list[Cell]] = []
    for r in _all(scores):
        for p in r.pending:
            state = VERDICT_ZH[p.verdict]
            who = [r.id, _name(r, names), rule_title(p.rule), basis(p.rule, names), p.card]
            body.append([*who, -p.points, state, local(p.answer_by, zone)])
    return head, body


def stats_table(rows: Sequence[StatsRow], names: HallNames) -> Table:
    group = rows[0].group if rows else "window"
    head = [GROUP_LABELS_ZH[group], "名称", *(LABELS_ZH[c] for c in TABLE_COLUMNS)]
    body: list[list[Cell]] = []
    for r in rows:
        label = "" if r.key == TOTAL_KEY else names.window(r.key)
        body.append([r.key, label, *(figure(r, c) for c in TABLE_COLUMNS)])
    return head, body


def satisfaction_table(rows: Sequence[SatisfactionRow], names: HallNames) -> Table:
    head = ["窗口", "名称", "月份", "评价数", "默认基本满意", "待评价", "差评", "满意率"]
    body: list[list[Cell]] = [
        [
            r.window,
            names.window(r.window),
            r.month,
            r.rated,
            r.defaulted,
            r.waiting,
            r.bad,
            pct(r.rate),
        ]
        for r in rows
    ]
    return head, body


def summary_table(
    scores: MonthScores, stats_rows: Sequence[StatsRow], sat: Sequence[SatisfactionRow]
) -> Table:
    """The seed 003_… figures of the whole hall, satisfaction and the cards, in one row."""
    total = next((r for r in stats_rows if r.key == TOTAL_KEY), None)
    columns = ["received", "completed", "on_time_rate", "avg_promised_days", "avg_actual_days"]
    columns.append("avg_days_early")
    head = [LABELS_ZH[c] for c in columns] + ["满意率", "本月卡片", "计分扣分"]
    figures: list[Cell] = [figure(total, c) if total else None for c in columns]
    counted = sum(r.counted for r in sat if r.month == scores.label)
    bad = sum(r.bad for r in sat if r.month == scores.label)
    rate = pct(Fraction(counted - bad, counted)) if counted else None
    deducted = sum(r.deducted for r in _all(scores))
    return head, [[*figures, rate, sum(scores.cards_by_rule.values()), deducted]]


def tiers_zh(cfg: ScoresConfig) -> str:
    """The grade and star tiers as configured, for the page's note."""
    grades = sorted(cfg.grades, key=lambda b: -b.min_score)
    words = [f"{b.min_score} 分及以上为{clean(b.name)}" for b in grades]
    words.append(f"其下为{clean(cfg.below_grades)}")
    stars = sorted(cfg.stars, key=lambda b: -b.min_score)
    star_words = [f"{b.min_score} 分及以上{_STAR_ZH.get(b.stars, f'{b.stars}星')}" for b in stars]
    out = f"等级：{'，'.join(words)}。"
    if star_words:
        out += f"星级：{'，'.join(star_words)}；当月有经维持的红牌即取消星级。"
    return out

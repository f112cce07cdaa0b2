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
from alerts.evaluation import MEASURE_ZH, StarRating, TargetMiss, YearRow
from alerts.events import Mitigation
from alerts.rules import RULES, RuleId
from alerts.scores import (
    REPEAT_OVERTIME,
    Deduction,
    MonthScores,
    SatisfactionRow,
    SubjectScore,
    Verdict,
)
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
    Verdict.MITIGATED: "维持，从轻或减轻处理",
    Verdict.EXEMPTED: "维持，免予处理",
    Verdict.UNANSWERED: "逾期未申辩",
    Verdict.NO_HEARING: "无需申辩",
    Verdict.ANSWERED: "已申辩待决定",
    Verdict.BEFORE_ANSWER_BY: "申辩期内",
    Verdict.REVOKED: "已撤销",
    Verdict.VOID: "作废",
    Verdict.NOT_SCORED: "不计分",
}

_NINE = "《行政效能建设九项制度》"
_FIVE = "扣岗位责任人当月考评10—15分，取消窗口当月评优资格"
# Two deductions the rule table cannot say by rule alone (alerts/basis.py holds the rest).
JOINT_STEP_ZH = f"{_NINE}第八条第五项第2目（联办事项中不配合牵头窗口造成延误）：{_FIVE}"
REPEAT_OVERTIME_ZH = f"{_NINE}第八条第五项第7目（多次出现超时办结）：{_FIVE}"
_STARS_DOC = "《关于创建“五星级”政务服务体系的实施意见（试行）》"
_STAR_ZH = {5: "五星", 4: "四星", 3: "三星", 2: "二星", 1: "一星"}


def rule_title(rule: str) -> str:
    if rule == REPEAT_OVERTIME:
        return "多次超时办结"
    try:
        return RULES[RuleId(rule)].title_zh
    except ValueError:
        return rule


def basis(rule: str, names: HallNames, joint: bool = False) -> str:
    """The rule's 依据 in the hall's regulations (alerts/basis.py, `[basis]`); a joint case's
    co-department step and repeated overtime cite their own item of 000_… 八(五)."""
    if rule == REPEAT_OVERTIME:
        return REPEAT_OVERTIME_ZH
    if joint:
        return JOINT_STEP_ZH
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


def stars_text(n: int) -> str:
    return "★" * n if n else "—"


def score_table(rows: Sequence[SubjectScore], heading: str, names: HallNames) -> Table:
    """The monthly deduction score (月度考评得分), apart from the 004 star rating."""
    officers = heading != "窗口"
    head = [heading, "姓名" if officers else "名称", *(["部门"] if officers else [])]
    head += ["月度考评得分", "扣分", "等级", "待定卡片"]
    if not officers:
        head += ["当月评优评先", "取消依据"]
    body: list[list[Cell]] = []
    for r in rows:
        who: list[Cell] = [r.id, names.person(r.id)] if officers else [r.id, names.window(r.id)]
        if officers:
            who.append(names.department_of(r.id))
        line: list[Cell] = [*who, r.score, r.deducted, r.grade, len(r.pending)]
        if not officers:
            line += ["取消" if r.honours_lost_by else "保留", _lost_zh(r.honours_lost_by)]
        body.append(line)
    return head, body


def _lost_zh(lost: Sequence[str]) -> str:
    words = {REPEAT_OVERTIME: "多次超时办结", "末位": "考评末位"}
    return " ".join(words.get(x, x) for x in lost) or "—"


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
                    basis(d.rule, names, d.joint),
                    _verdict_zh(d) + capped,
                    d.card,
                    d.day.isoformat(),
                    -d.points,
                    " ".join(d.evidence) or "—",
                ]
            )
    return head, body


_MITIGATION_ZH = {
    Mitigation.LIGHTER: "维持，从轻处理",
    Mitigation.REDUCED: "维持，减轻处理",
    Mitigation.EXEMPT: "维持，免予处理",
}


def _verdict_zh(d: Deduction) -> str:
    return VERDICT_ZH[d.verdict] if d.mitigation is None else _MITIGATION_ZH[d.mitigation]


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
    out = f"月度考评等级：{'，'.join(words)}。"
    if star_words:
        sr = cfg.star_rating
        out += (
            f"星级不按月度得分评定：依{_STARS_DOC}三(二)，"
            f"总分100分＝创建项目{sr.creation_max}分＋群众满意度{sr.satisfaction_max}分"
            f"＋考评小组评定{sr.panel_max}分，{'，'.join(star_words)}，每{sr.period_years}年评定一次；"
            "取得星级期间出现经查实的违法违纪行为即取消星级。"
        )
    return out


def targets_table(misses: Sequence[TargetMiss], names: HallNames) -> Table:
    """The 004_… 二(一) service targets missed this month (windows, then the hall)."""
    head = ["对象", "名称", "指标", "本月", "目标", "依据"]
    basis_zh = f"{_STARS_DOC}二(一)：按时办结率100%，现场办结率100%，服务对象满意率98%以上"
    body: list[list[Cell]] = [
        [
            m.subject,
            "全中心" if m.subject == TOTAL_KEY else names.window(m.subject),
            MEASURE_ZH[m.measure],
            pct(m.value),
            pct(m.target),
            basis_zh,
        ]
        for m in misses
    ]
    return head, body


def star_table(ratings: Sequence[StarRating], names: HallNames) -> Table:
    """The 004_… 三(二) rating: its three parts, the total, the stars and what removed them."""
    head = ["窗口", "名称", "评定年度", "满意度期间", "创建项目", "群众满意度", "满意率"]
    head += ["考评小组", "综合得分", "评定星级", "现有星级", "取消依据"]
    body: list[list[Cell]] = []
    for r in ratings:
        period = f"{r.period[0]}—{r.period[1]}"
        parts: list[Cell] = [r.creation, r.satisfaction, pct(r.satisfaction_rate), r.panel]
        stars: list[Cell] = [r.total, stars_text(r.awarded), stars_text(r.stars)]
        removed = " ".join(r.removed_by) or "—"
        body.append([r.window, names.window(r.window), r.year, period, *parts, *stars, removed])
    return head, body


def year_table(rows: Sequence[YearRow], heading: str, names: HallNames) -> Table:
    """000_… 九(三): each month's score of the year, the year's average and what it lost."""
    officers = heading != "窗口"
    head = [heading, "姓名" if officers else "名称", *(f"{m}月" for m in range(1, 13))]
    head += ["年度平均", "全年扣分"]
    if not officers:
        head += ["取消评优评先月数", "末位月数"]
    body: list[list[Cell]] = []
    for r in rows:
        name = names.person(r.id) if officers else names.window(r.id)
        avg = None if r.average is None else Num(float(r.average), "2dp", rounded(r.average, 2))
        line: list[Cell] = [r.id, name, *r.months, avg, r.deducted]
        if not officers:
            line += [r.honours_lost, r.last_place]
        body.append(line)
    return head, body

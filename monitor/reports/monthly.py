"""The monthly report for the hall director: a printable Chinese HTML page and an XLSX. Pure.

`month_report` gathers a month's figures from cards, case assessments and ratings (what a
replay of the journal gives); `month_charts` draws its charts (monitor/reports/charts.py);
the renderers turn them into bytes: the page here, the workbook in monitor/reports/workbook.py,
both from the tables of monitor/reports/tables.py (ids beside names, local times, each
deduction's basis and verdict in their own columns). Nothing here reads the journal or the
clock: `now` is passed in. A voided card (late evidence: its condition never held) is no card:
it is neither scored, counted nor drawn.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from html import escape

from alerts.cards import Card, CardState, Why
from alerts.cases import Assessment
from alerts.config import ScoresConfig
from alerts.evaluation import StarRating, TargetMiss, missed_targets, star_ratings
from alerts.ids import CaseId
from alerts.rules import RuleId
from alerts.scores import (
    MonthScores,
    SatisfactionRow,
    completions_from,
    month_bounds,
    satisfaction,
    score_month,
)
from alerts.stats import StatsRow, compute
from alerts.workdays import WorkCalendar
from monitor.reports.charts import Chart, cards_by_rule, heat_map, on_time_trend
from monitor.reports.names import HallNames, clean
from monitor.reports.tables import (
    Cell,
    Table,
    deduction_table,
    pct,
    pending_table,
    rule_title,
    satisfaction_table,
    score_table,
    star_table,
    stats_table,
    summary_table,
    targets_table,
    text_of,
    tiers_zh,
)
from monitor.reports.workbook import ChartSpec, xlsx

# --- HTML ------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", SimSun,
  sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 4mm; }
h2 { font-size: 12pt; border-bottom: 1px solid #444; margin: 5mm 0 2mm; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
th, td { border: 1px solid #888; padding: 1mm 1.5mm; text-align: center; }
th { background: #eee; }
tr { page-break-inside: avoid; }
.banner { border: 2px solid #b00; color: #b00; padding: 2mm; margin-bottom: 3mm;
  font-weight: bold; text-align: center; }
.small { font-size: 8pt; word-break: break-all; }
@media screen and (max-width: 600px) {
  table { display: block; overflow-x: auto; white-space: nowrap; }
  img, svg { max-width: 100%; height: auto; }
}
"""


def html_table(table: Table, css_class: str = "") -> str:
    head, body = table
    cls = f' class="{css_class}"' if css_class else ""
    ths = "".join(f"<th>{escape(clean(h))}</th>" for h in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{escape(text_of(c))}</td>" for c in row) + "</tr>" for row in body
    )
    if not body:
        trs = f'<tr><td colspan="{len(head)}">无</td></tr>'
    return f"<table{cls}><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"


def month_days(month: tuple[int, int]) -> list[date]:
    y, m = month
    first = date(y, m, 1)
    nxt = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
    return [date.fromordinal(o) for o in range(first.toordinal(), nxt.toordinal())]


def render_html(
    scores: MonthScores,
    stats_rows: Sequence[StatsRow],
    satisfaction: Sequence[SatisfactionRow],
    hall_name: str,
    month: tuple[int, int],
    *,
    charts: Sequence[Chart] = (),
    names: HallNames | None = None,
    zone: tzinfo = UTC,
    cfg: ScoresConfig | None = None,
    targets: Sequence[TargetMiss] = (),
    stars: Sequence[StarRating] = (),
) -> str:
    """The printable page. `charts` (from `month_charts`) are embedded as SVG pictures;
    `names` puts the configuration's names beside the ids, `zone` is the hall's (the answer
    deadlines), `cfg` states the grade and star tiers; `targets` are the 004 targets missed,
    `stars` the 004 star ratings (their own figure, beside the monthly score)."""
    names = names or HallNames()
    label = f"{month[0]}年{month[1]}月"
    banner = ""
    if not scores.closed:
        banner = '<div class="banner">本月尚未结束：以下为截至生成时的数据，月末后将变化。</div>'
    sections = [
        ("概况", html_table(summary_table(scores, stats_rows, satisfaction))),
        ("图表", "".join(_figure(c) for c in charts) or "<p>无图表</p>"),
        ("服务目标未达标（按时办结率、现场办结率、满意率）", _targets_html(targets, names)),
        ("窗口考评", html_table(score_table(scores.windows, "窗口", names))),
        ("人员考评", html_table(score_table(scores.officers, "工号", names))),
        (
            "扣分明细（每项可追溯至卡片与证据事件）",
            html_table(deduction_table(scores, names), "small"),
        ),
        (
            "待申辩、待决定卡片（未计入得分）",
            html_table(pending_table(scores, names, zone), "small"),
        ),
        ("办件统计（按窗口）", html_table(stats_table(stats_rows, names))),
        ("群众满意度（好差评）", html_table(satisfaction_table(satisfaction, names))),
    ]
    if stars:
        sections.append(("星级评定（与月度考评得分分列）", html_table(star_table(stars, names))))
    body = "".join(f"<h2>{escape(h)}</h2>{content}" for h, content in sections)
    title = f"{escape(clean(hall_name))} {label} 效能考评月报"
    tiers = escape(tiers_zh(cfg or ScoresConfig()))
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1>{banner}{body}"
        '<p class="small">说明：只计已维持的卡片与逾期未申辩的卡片；撤销、作废的卡片不计；'
        f"已申辩待决定的卡片列于待定表。{tiers}"
        "投诉查实、差评未按时整改均为卡片，同样经过陈述申辩。“依据”为规则出处，"
        "“结论”为该卡片经陈述申辩后的处理结果。时间均为本中心所在时区的当地时间。</p>"
        "</body></html>"
    )


def _targets_html(targets: Sequence[TargetMiss], names: HallNames) -> str:
    if not targets:
        return "<p>本月各项服务目标均已达到（或尚无可计的数据）。</p>"
    return html_table(targets_table(targets, names))


def _figure(c: Chart) -> str:
    data = base64.b64encode(c.svg).decode("ascii")
    return f'<figure><img alt="{escape(c.title)}" src="data:image/svg+xml;base64,{data}"/></figure>'


# --- gathering a month -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthReport:
    """Everything the month's page, workbook and charts show, computed once."""

    hall_name: str
    month: tuple[int, int]
    scores: MonthScores
    stats_rows: tuple[StatsRow, ...]  # per window, then the 合计 row
    satisfaction: tuple[SatisfactionRow, ...]  # this month's rows
    trend: tuple[tuple[str, Fraction | None], ...]  # earlier months, then each day so far
    trend_days_from: int  # index of the first day in `trend`
    unstaffed: dict[tuple[str, date], float]  # window, day → working minutes unstaffed
    windows: tuple[str, ...]
    days: tuple[date, ...]
    zone: tzinfo = UTC
    names: HallNames = field(default_factory=HallNames)
    scores_cfg: ScoresConfig = field(default_factory=ScoresConfig)
    targets: tuple[TargetMiss, ...] = ()  # the 004_… 二(一) targets missed this month
    stars: tuple[StarRating, ...] = ()  # the 004_… 三(二) ratings, as at `now`


def month_report(
    *,
    cards: Iterable[Card],
    assessments: Sequence[Assessment],
    ratings: Mapping[CaseId, int],
    cal: WorkCalendar,
    cfg: ScoresConfig,
    unstaffed_grace_min: int,
    windows: Sequence[str],
    officers: Sequence[str],
    hall_name: str,
    month: tuple[int, int],
    now: datetime,
    months_before: int = 11,
    names: HallNames | None = None,
) -> MonthReport:
    """The month's figures from a replay's cards, case assessments and ratings, as at `now`.

    `unstaffed_grace_min`: the posts' `yellow_min` (a window's empty minutes before its yellow
    card, added back to each episode in the heat map)."""
    cards = list(cards)
    scores = score_month(cards, cfg, month, cal.zone, now, windows, officers)
    start, end = month_bounds(month, cal.zone)
    last = (end - timedelta(days=1)).date()
    rows = compute(assessments, ratings, cal, start.date(), last, "window", total=True)
    completions = completions_from(assessments)
    sat = satisfaction(ratings, completions, now, cal)
    this_month = tuple(r for r in sat if r.month == scores.label)
    earliest = _add_months(start.date(), -months_before)
    before = compute(assessments, ratings, cal, earliest, start.date() - timedelta(days=1), "month")
    shown = [d for d in month_days(month) if d <= now.astimezone(cal.zone).date()]
    by_day = {r.key: r for r in compute(assessments, ratings, cal, start.date(), last, "day")}
    trend = [(r.key, r.on_time_rate) for r in before]
    trend += [(f"{d.day}日", _rate(by_day.get(d.isoformat()))) for d in shown]
    return MonthReport(
        hall_name=hall_name,
        month=month,
        scores=scores,
        stats_rows=tuple(rows),
        satisfaction=this_month,
        trend=tuple(trend),
        trend_days_from=len(before),
        unstaffed=unstaffed_minutes(cards, cal, unstaffed_grace_min, month, now),
        windows=tuple(windows),
        days=tuple(month_days(month)),
        zone=cal.zone,
        names=names or HallNames(),
        scores_cfg=cfg,
        targets=tuple(missed_targets(rows, this_month, cfg)),
        stars=tuple(star_ratings(cards, ratings, completions, cfg, cal, now)),
    )


def _rate(row: StatsRow | None) -> Fraction | None:
    return None if row is None else row.on_time_rate


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


_UNSTAFFED = (RuleId.POST_UNSTAFFED_WARNING, RuleId.POST_UNSTAFFED)


def unstaffed_minutes(
    cards: Iterable[Card], cal: WorkCalendar, grace_min: int, month: tuple[int, int], now: datetime
) -> dict[tuple[str, date], float]:
    """Working minutes each window sat empty without a reason, per hall-local day.

    From the `post.unstaffed.warning` and `post.unstaffed` cards (voided or revoked ones left
    out): each card from its raise until its condition ended (or `now`), plus `grace_min` for
    each warning (the minutes before the yellow). A red follows its warning without a gap, so
    an episode counts once from the seat's first empty minute."""
    start, end = month_bounds(month, cal.zone)
    out: dict[tuple[str, date], float] = {}
    for c in cards:
        if c.rule not in _UNSTAFFED or c.subject.window is None:
            continue
        if not start <= c.raised_at < end or not _stands(c):
            continue
        stop = next((t.ts for t in c.history if not t.holds), now)
        minutes = cal.working_minutes(c.raised_at, min(stop, now))
        if c.rule is RuleId.POST_UNSTAFFED_WARNING:
            minutes += grace_min
        key = (c.subject.window, c.raised_at.astimezone(cal.zone).date())
        out[key] = out.get(key, 0.0) + max(0.0, minutes)
    return out


def _stands(c: Card) -> bool:
    return c.history[-1].why is not Why.VOID and all(
        t.state is not CardState.REVOKED for t in c.history
    )


def month_charts(r: MonthReport) -> list[Chart]:
    """On-time trend (axis from 0 %), cards by rule, the window × day heat map of unstaffed
    minutes (windows by name)."""
    titles = {rule: rule_title(rule) for rule in r.scores.cards_by_rule}
    labels = [r.names.window(w) for w in r.windows]
    return [
        on_time_trend(r.trend, "按时办结率（此前各月与本月每日）", r.trend_days_from),
        cards_by_rule(r.scores.cards_by_rule, titles, f"{r.scores.label} 卡片（按规则）"),
        heat_map(
            r.unstaffed, r.windows, r.days, "窗口×日 无人且未说明的分钟数（工作时间）", labels
        ),
    ]


def render_month_html(r: MonthReport, charts: Sequence[Chart]) -> str:
    return render_html(
        r.scores,
        r.stats_rows,
        r.satisfaction,
        r.hall_name,
        r.month,
        charts=charts,
        names=r.names,
        zone=r.zone,
        cfg=r.scores_cfg,
        targets=r.targets,
        stars=r.stars,
    )


TREND_SHEET, RULES_SHEET = "按时办结率趋势", "卡片按规则"


def chart_tables(r: MonthReport) -> list[tuple[str, Table]]:
    """The charts' numbers as sheets, for a workbook user who wants to chart them again."""
    trend: list[list[Cell]] = [[label, pct(rate)] for label, rate in r.trend]
    rules: list[list[Cell]] = [
        [rule_title(rule), n] for rule, n in sorted(r.scores.cards_by_rule.items())
    ]
    heat: list[list[Cell]] = [
        [w, r.names.window(w), *(round(r.unstaffed.get((w, d), 0.0), 1) for d in r.days)]
        for w in r.windows
    ]
    return [
        (TREND_SHEET, (["期间", "按时办结率"], trend)),
        (RULES_SHEET, (["规则", "卡片数"], rules)),
        ("窗口无人分钟", (["窗口", "名称", *(d.isoformat() for d in r.days)], heat)),
    ]


CHARTS = (
    ChartSpec(sheet=TREND_SHEET, kind="line", title="按时办结率", column=1, percent=True),
    ChartSpec(sheet=RULES_SHEET, kind="bar", title="本月卡片（按规则）", column=1),
)


def render_xlsx(
    scores: MonthScores,
    stats_rows: Sequence[StatsRow],
    satisfaction: Sequence[SatisfactionRow],
    hall_name: str,
    month: tuple[int, int],
    *,
    charts: Sequence[Chart] = (),
    extra: Sequence[tuple[str, Table]] = (),
    names: HallNames | None = None,
    zone: tzinfo = UTC,
    targets: Sequence[TargetMiss] = (),
    stars: Sequence[StarRating] = (),
) -> bytes:
    """Sheets 概况, 窗口, 人员, 扣分明细, 待定卡片, 办件统计, 满意度, then `extra` (the charts'
    numbers, `chart_tables`, with Excel charts of their own) and the charts as pictures on 图表.
    `hall_name` and `month` are the caller's file name; the sheets keep one shape."""
    names = names or HallNames()
    return xlsx(
        [
            ("概况", summary_table(scores, stats_rows, satisfaction)),
            ("窗口", score_table(scores.windows, "窗口", names)),
            ("人员", score_table(scores.officers, "工号", names)),
            ("扣分明细", deduction_table(scores, names)),
            ("待定卡片", pending_table(scores, names, zone)),
            ("办件统计", stats_table(stats_rows, names)),
            ("满意度", satisfaction_table(satisfaction, names)),
            ("目标未达标", targets_table(targets, names)),
            ("星级评定", star_table(stars, names)),
            *extra,
        ],
        [(c.title, c.png) for c in charts],
        CHARTS,
    )


def render_month_xlsx(r: MonthReport, charts: Sequence[Chart]) -> bytes:
    return render_xlsx(
        r.scores,
        r.stats_rows,
        r.satisfaction,
        r.hall_name,
        r.month,
        charts=charts,
        extra=chart_tables(r),
        names=r.names,
        zone=r.zone,
        targets=r.targets,
        stars=r.stars,
    )

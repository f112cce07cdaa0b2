"""The monthly report for the hall director: a printable Chinese HTML page and an XLSX. Pure.

`month_report` gathers a month's figures from cards, case assessments and ratings (what a
replay of the journal gives); `month_charts` draws its charts (monitor/reports/charts.py);
the renderers turn them into bytes. Nothing here reads the journal or the clock: `now` is
passed in. The XLSX is minimal SpreadsheetML written with the standard library: inline
strings, no styles, one sheet per table, the charts as pictures on their own sheet.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from html import escape
from xml.sax.saxutils import escape as xml_escape

from alerts.cards import Card, CardState, Why
from alerts.cases import Assessment
from alerts.config import ScoresConfig
from alerts.ids import CaseId
from alerts.rules import RULES, RuleId
from alerts.scores import (
    MonthScores,
    Pending,
    SatisfactionRow,
    SubjectScore,
    Verdict,
    completions_from,
    month_bounds,
    satisfaction,
    score_month,
)
from alerts.stats import (
    GROUP_LABELS_ZH,
    LABELS_ZH,
    TABLE_COLUMNS,
    TOTAL_KEY,
    StatsRow,
    cell,
    compute,
    rounded,
)
from alerts.workdays import WorkCalendar
from monitor.reports.charts import Chart, cards_by_rule, heat_map, on_time_trend

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
Cell = str | int | float
Table = tuple[list[str], list[list[Cell]]]


def rule_title(rule: str) -> str:
    try:
        return RULES[RuleId(rule)].title_zh
    except ValueError:
        return rule


def _stars(n: int) -> str:
    return "★" * n if n else "—"


# --- tables, shared by both formats -----------------------------------------------------------


def score_table(rows: Sequence[SubjectScore], heading: str) -> Table:
    head = [heading, "得分", "扣分", "等级", "星级", "待定卡片", "取消星级依据"]
    body: list[list[Cell]] = [
        [
            r.id,
            r.score,
            r.deducted,
            r.grade,
            _stars(r.stars),
            len(r.pending),
            " ".join(r.star_removed_by) or "—",
        ]
        for r in rows
    ]
    return head, body


def _all(scores: MonthScores) -> list[SubjectScore]:
    return [*scores.windows, *scores.officers]


def deduction_table(scores: MonthScores) -> Table:
    head = ["对象", "类别", "规则", "规则编号", "卡片", "日期", "扣分", "依据", "证据事件"]
    body: list[list[Cell]] = []
    for r in _all(scores):
        for d in r.deductions:
            kind = "窗口" if r.kind == "window" else "人员"
            body.append(
                [
                    r.id,
                    kind,
                    rule_title(d.rule),
                    d.rule,
                    d.card,
                    d.day.isoformat(),
                    -d.points,
                    VERDICT_ZH[d.verdict] + ("（已达上限）" if d.points < d.nominal else ""),
                    " ".join(d.evidence) or "—",
                ]
            )
    return head, body


def pending_table(scores: MonthScores) -> Table:
    head = ["对象", "规则", "卡片", "如维持扣分", "状态", "申辩期限"]
    body: list[list[Cell]] = []
    for r in _all(scores):
        for p in r.pending:
            body.append([r.id, rule_title(p.rule), p.card, -p.points, *_pending_state(p)])
    return head, body


def _pending_state(p: Pending) -> list[Cell]:
    by = p.answer_by.isoformat(timespec="minutes") if p.answer_by else "—"
    return [VERDICT_ZH[p.verdict], by]


def stats_table(rows: Sequence[StatsRow]) -> Table:
    group = rows[0].group if rows else "window"
    head = [GROUP_LABELS_ZH[group], *(LABELS_ZH[c] for c in TABLE_COLUMNS)]
    return head, [[r.key, *(cell(r, c) for c in TABLE_COLUMNS)] for r in rows]


def satisfaction_table(rows: Sequence[SatisfactionRow]) -> Table:
    head = ["窗口", "月份", "评价数", "默认基本满意", "待评价", "差评", "满意率"]
    body: list[list[Cell]] = [
        [
            r.window,
            r.month,
            r.rated,
            r.defaulted,
            r.waiting,
            r.bad,
            "—" if r.rate is None else rounded(r.rate * 100, 2) + "%",
        ]
        for r in rows
    ]
    return head, body


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
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
"""


def _html_table(table: Table, css_class: str = "") -> str:
    head, body = table
    cls = f' class="{css_class}"' if css_class else ""
    ths = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in body
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
) -> str:
    """The printable page. `charts` (from `month_charts`) are embedded as SVG pictures."""
    label = f"{month[0]}年{month[1]}月"
    banner = ""
    if not scores.closed:
        banner = '<div class="banner">本月尚未结束：以下为截至生成时的数据，月末后将变化。</div>'
    sections = [
        ("概况", _html_table(summary_table(scores, stats_rows, satisfaction))),
        ("图表", "".join(_figure(c) for c in charts) or "<p>无图表</p>"),
        ("窗口考评", _html_table(score_table(scores.windows, "窗口"))),
        ("人员考评", _html_table(score_table(scores.officers, "工作人员"))),
        ("扣分明细（每项可追溯至卡片与证据事件）", _html_table(deduction_table(scores), "small")),
        ("待申辩、待决定卡片（未计入得分）", _html_table(pending_table(scores), "small")),
        ("办件统计（按窗口）", _html_table(stats_table(stats_rows))),
        ("群众满意度（好差评）", _html_table(satisfaction_table(satisfaction))),
    ]
    body = "".join(f"<h2>{escape(h)}</h2>{content}" for h, content in sections)
    title = f"{escape(hall_name)} {label} 效能考评月报"
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1>{banner}{body}"
        '<p class="small">说明：只计已维持的卡片与逾期未申辩的卡片；撤销、作废的卡片不计；'
        "已申辩待决定的卡片列于待定表。星级按 95/90/85 分评定，当月有经维持的红牌即取消星级。"
        "投诉查实、差评未按时整改均为卡片，同样经过陈述申辩。</p>"
        "</body></html>"
    )


def _figure(c: Chart) -> str:
    data = base64.b64encode(c.svg).decode("ascii")
    return f'<figure><img alt="{escape(c.title)}" src="data:image/svg+xml;base64,{data}"/></figure>'


def summary_table(
    scores: MonthScores, stats_rows: Sequence[StatsRow], sat: Sequence[SatisfactionRow]
) -> Table:
    """The seed 003_… figures of the whole hall, satisfaction and the cards, in one row."""
    total = next((r for r in stats_rows if r.key == TOTAL_KEY), None)
    columns = ["received", "completed", "on_time_rate", "avg_promised_days", "avg_actual_days"]
    columns.append("avg_days_early")
    head = [LABELS_ZH[c] for c in columns] + ["满意率", "本月卡片", "计分扣分"]
    figures: list[Cell] = [cell(total, c) if total else "—" for c in columns]
    counted = sum(r.counted for r in sat if r.month == scores.label)
    bad = sum(r.bad for r in sat if r.month == scores.label)
    rate = rounded(Fraction(counted - bad, counted) * 100, 2) + "%" if counted else "—"
    deducted = sum(r.deducted for r in _all(scores))
    return head, [[*figures, rate, sum(scores.cards_by_rule.values()), deducted]]


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
) -> MonthReport:
    """The month's figures from a replay's cards, case assessments and ratings, as at `now`.

    `unstaffed_grace_min`: the posts' `yellow_min` (a window's empty minutes before its yellow
    card, added back to each episode in the heat map)."""
    cards = list(cards)
    scores = score_month(cards, cfg, month, cal.zone, now, windows, officers)
    start, end = month_bounds(month, cal.zone)
    last = (end - timedelta(days=1)).date()
    rows = compute(assessments, ratings, cal, start.date(), last, "window", total=True)
    sat = satisfaction(ratings, completions_from(assessments), now, cal)
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
        satisfaction=tuple(r for r in sat if r.month == scores.label),
        trend=tuple(trend),
        trend_days_from=len(before),
        unstaffed=unstaffed_minutes(cards, cal, unstaffed_grace_min, month, now),
        windows=tuple(windows),
        days=tuple(month_days(month)),
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
    """On-time trend, cards by rule, the window × day heat map of unstaffed minutes."""
    titles = {rule: rule_title(rule) for rule in r.scores.cards_by_rule}
    return [
        on_time_trend(r.trend, "按时办结率（此前各月与本月每日）", r.trend_days_from),
        cards_by_rule(r.scores.cards_by_rule, titles, f"{r.scores.label} 卡片（按规则）"),
        heat_map(r.unstaffed, r.windows, r.days, "窗口×日 无人且未说明的分钟数（工作时间）"),
    ]


def render_month_html(r: MonthReport, charts: Sequence[Chart]) -> str:
    return render_html(r.scores, r.stats_rows, r.satisfaction, r.hall_name, r.month, charts=charts)


def chart_tables(r: MonthReport) -> list[tuple[str, Table]]:
    """The charts' numbers as sheets, for a workbook user who wants to chart them again."""
    trend: list[list[Cell]] = [
        [label, "—" if rate is None else rounded(rate * 100, 2) + "%"] for label, rate in r.trend
    ]
    rules: list[list[Cell]] = [
        [rule, rule_title(rule), n] for rule, n in sorted(r.scores.cards_by_rule.items())
    ]
    heat: list[list[Cell]] = [
        [w, *(round(r.unstaffed.get((w, d), 0.0), 1) for d in r.days)] for w in r.windows
    ]
    return [
        ("按时办结率趋势", (["期间", "按时办结率"], trend)),
        ("卡片按规则", (["规则编号", "规则", "卡片数"], rules)),
        ("窗口无人分钟", (["窗口", *(d.isoformat() for d in r.days)], heat)),
    ]


# --- XLSX ------------------------------------------------------------------------------------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _xml_cell(ref: str, value: Cell) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = xml_escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def sheet_xml(table: Table, drawing: bool = False) -> str:
    head, body = table
    rows = []
    for r, values in enumerate([list[Cell](head), *body], start=1):
        cells = "".join(_xml_cell(f"{_col(c)}{r}", v) for c, v in enumerate(values))
        rows.append(f'<row r="{r}">{cells}</row>')
    pictures = '<drawing r:id="rId1"/>' if drawing else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}">'
        f"<sheetData>{''.join(rows)}</sheetData>{pictures}</worksheet>"
    )


_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_EMU_PER_PX = 9525  # 914,400 EMU an inch at 96 px an inch
_ROW_PX = 20  # the default row height (15 pt)
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _drawing(pictures: Sequence[tuple[str, bytes]]) -> tuple[str, str]:
    """The drawing part that stacks `pictures` (title, PNG) down a sheet, and its rels."""
    anchors, rels, row = [], [], 2
    for i, (title, png) in enumerate(pictures, start=1):
        w, h = _png_size(png)
        cx, cy = w * _EMU_PER_PX, h * _EMU_PER_PX
        anchors.append(
            f"<xdr:oneCellAnchor><xdr:from><xdr:col>0</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f'<xdr:ext cx="{cx}" cy="{cy}"/><xdr:pic><xdr:nvPicPr>'
            f'<xdr:cNvPr id="{i + 1}" name="图{i}" descr="{xml_escape(title)}"/><xdr:cNvPicPr/>'
            f'</xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rId{i}"/><a:stretch><a:fillRect/>'
            f'</a:stretch></xdr:blipFill><xdr:spPr><a:xfrm><a:off x="0" y="0"/>'
            f'<a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
            "</a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/></xdr:oneCellAnchor>"
        )
        rels.append(
            f'<Relationship Id="rId{i}" Type="{_REL}/image" Target="../media/image{i}.png"/>'
        )
        row += -(-h // _ROW_PX) + 2
    drawing = (
        f'{_HEAD}<xdr:wsDr xmlns:xdr="{_XDR}" xmlns:a="{_A}" xmlns:r="{_REL}">'
        f"{''.join(anchors)}</xdr:wsDr>"
    )
    return drawing, f'{_HEAD}<Relationships xmlns="{_PKG}">{"".join(rels)}</Relationships>'


def _put(z: zipfile.ZipFile, name: str, data: str | bytes) -> None:
    """A member with a fixed time stamp: the same workbook gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def xlsx(sheets: Iterable[tuple[str, Table]], pictures: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A minimal valid workbook: one worksheet per (name, table), inline strings; the
    pictures (title, PNG), if any, on a last sheet 图表."""
    named = list(sheets)
    if pictures:
        named.append(("图表", (["图表见下"], [])))
    n = len(named)
    types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    if pictures:
        types += (
            '<Default Extension="png" ContentType="image/png"/>'
            '<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.drawing+xml"/>'
        )
    content_types = (
        f"{_HEAD}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{types}</Types>"
    )
    root_rels = (
        f'{_HEAD}<Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheets_xml = "".join(
        f'<sheet name="{xml_escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, (name, _) in enumerate(named, start=1)
    )
    workbook = (
        f'{_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>{sheets_xml}</sheets></workbook>'
    )
    wb_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _put(z, "[Content_Types].xml", content_types)
        _put(z, "_rels/.rels", root_rels)
        _put(z, "xl/workbook.xml", workbook)
        _put(
            z,
            "xl/_rels/workbook.xml.rels",
            f'{_HEAD}<Relationships xmlns="{_PKG}">{wb_rels}</Relationships>',
        )
        for i, (_, table) in enumerate(named, start=1):
            _put(z, f"xl/worksheets/sheet{i}.xml", sheet_xml(table, bool(pictures) and i == n))
        if pictures:
            drawing, rels = _drawing(pictures)
            _put(
                z,
                f"xl/worksheets/_rels/sheet{n}.xml.rels",
                f'{_HEAD}<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                f'Type="{_REL}/drawing" Target="../drawings/drawing1.xml"/></Relationships>',
            )
            _put(z, "xl/drawings/drawing1.xml", drawing)
            _put(z, "xl/drawings/_rels/drawing1.xml.rels", rels)
            for i, (_, png) in enumerate(pictures, start=1):
                _put(z, f"xl/media/image{i}.png", png)
    return buf.getvalue()


def render_xlsx(
    scores: MonthScores,
    stats_rows: Sequence[StatsRow],
    satisfaction: Sequence[SatisfactionRow],
    hall_name: str,
    month: tuple[int, int],
    *,
    charts: Sequence[Chart] = (),
    extra: Sequence[tuple[str, Table]] = (),
) -> bytes:
    """Sheets 概况, 窗口, 人员, 扣分明细, 待定卡片, 办件统计, 满意度, then `extra` (the charts'
    numbers, `chart_tables`) and the charts as pictures on 图表."""
    return xlsx(
        [
            ("概况", summary_table(scores, stats_rows, satisfaction)),
            ("窗口", score_table(scores.windows, "窗口")),
            ("人员", score_table(scores.officers, "工作人员")),
            ("扣分明细", deduction_table(scores)),
            ("待定卡片", pending_table(scores)),
            ("办件统计", stats_table(stats_rows)),
            ("满意度", satisfaction_table(satisfaction)),
            *extra,
        ],
        [(c.title, c.png) for c in charts],
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
    )

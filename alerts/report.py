"""The monthly report for the hall director: a printable Chinese HTML page and an XLSX. Pure.

Inputs are values already computed (alerts/scores.py, alerts/stats.py); nothing here reads
the journal or the clock. The XLSX is minimal SpreadsheetML written with the standard library:
inline strings, no styles, one sheet per table.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from html import escape
from xml.sax.saxutils import escape as xml_escape

from alerts.rules import RULES, RuleId
from alerts.scores import (
    COMPLAINT_FOUNDED,
    REVIEW_BAD_UNRECTIFIED,
    Deduction,
    MonthScores,
    Pending,
    SatisfactionRow,
    SubjectScore,
    Verdict,
)
from alerts.stats import GROUP_LABELS_ZH, LABELS_ZH, TABLE_COLUMNS, StatsRow, cell, rounded

VERDICT_ZH: dict[Verdict, str] = {
    Verdict.UPHELD: "经申辩维持",
    Verdict.UNANSWERED: "逾期未申辩",
    Verdict.NO_HEARING: "无需申辩",
    Verdict.INPUT: "录入",
    Verdict.ANSWERED: "已申辩待决定",
    Verdict.BEFORE_ANSWER_BY: "申辩期内",
    Verdict.REVOKED: "已撤销",
    Verdict.VOID: "作废",
    Verdict.NOT_SCORED: "不计分",
}
_INPUT_TITLES = {COMPLAINT_FOUNDED: "投诉查实", REVIEW_BAD_UNRECTIFIED: "差评未按时整改"}

Cell = str | int | float
Table = tuple[list[str], list[list[Cell]]]


def rule_title(rule: str) -> str:
    if rule in _INPUT_TITLES:
        return _INPUT_TITLES[rule]
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
                    d.card or "—",
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


def bar_chart(counts: Mapping[str, int], title: str) -> str:
    """Horizontal bars, one per rule, as inline SVG."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = max((n for _, n in items), default=0) or 1
    row, label_w, bar_w = 18, 170, 300
    height = row * len(items) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 50}" '
        f'height="{height}" aria-label="{escape(title)}">',
        f'<text x="0" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (rule, n) in enumerate(items):
        y = 24 + i * row
        w = round(bar_w * n / top)
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 12}" font-size="11" text-anchor="end">'
            f"{escape(rule_title(rule))}</text>"
            f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{row - 5}" fill="#c0392b"/>'
            f'<text x="{label_w + w + 4}" y="{y + 12}" font-size="11">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heat_map(
    cells: Mapping[tuple[str, date], int], windows: Sequence[str], days: Sequence[date]
) -> str:
    """Window × day grid of counted cards, as inline SVG; darker is more."""
    size, left, top_h = 14, 60, 28
    peak = max(cells.values(), default=0) or 1
    width, height = left + size * len(days) + 4, top_h + size * len(windows) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        'aria-label="窗口×日 计分卡片热力图">',
        '<text x="0" y="12" font-size="12" font-weight="bold">窗口×日 计分卡片数</text>',
    ]
    for j, d in enumerate(days):
        if d.day % 5 == 1:
            x = left + j * size
            parts.append(f'<text x="{x}" y="{top_h - 4}" font-size="9">{d.day}</text>')
    for i, w in enumerate(windows):
        y = top_h + i * size
        parts.append(f'<text x="{left - 4}" y="{y + 11}" font-size="10" text-anchor="end">')
        parts.append(f"{escape(w)}</text>")
        for j, d in enumerate(days):
            n = cells.get((w, d), 0)
            shade = 255 - round(200 * n / peak)
            fill = f"rgb(255,{shade},{shade})" if n else "#f4f4f4"
            x = left + j * size
            parts.append(
                f'<rect x="{x}" y="{y}" width="{size - 1}" height="{size - 1}" fill="{fill}">'
                f"<title>{escape(w)} {d.isoformat()}: {n}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def heat_cells(scores: MonthScores) -> dict[tuple[str, date], int]:
    """Counted cards per window and day; a card charged to two subjects counts once."""
    seen: dict[str, Deduction] = {}
    for r in _all(scores):
        for d in r.deductions:
            if d.card is not None and d.window is not None:
                seen.setdefault(d.card, d)
    return dict(Counter((d.window or "", d.day) for d in seen.values()))


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
) -> str:
    label = f"{month[0]}年{month[1]}月"
    banner = ""
    if not scores.closed:
        banner = '<div class="banner">本月尚未结束：以下为截至生成时的数据，月末后将变化。</div>'
    windows = [r.id for r in scores.windows]
    sections = [
        ("窗口考评", _html_table(score_table(scores.windows, "窗口"))),
        ("人员考评", _html_table(score_table(scores.officers, "工作人员"))),
        ("扣分明细（每项可追溯至卡片与证据事件）", _html_table(deduction_table(scores), "small")),
        ("待申辩、待决定卡片（未计入得分）", _html_table(pending_table(scores), "small")),
        ("办件统计", _html_table(stats_table(stats_rows))),
        ("群众满意度（好差评）", _html_table(satisfaction_table(satisfaction))),
        (
            "图表",
            bar_chart(scores.cards_by_rule, "本月卡片（按规则）")
            + "<br/>"
            + heat_map(heat_cells(scores), windows, month_days(month)),
        ),
    ]
    body = "".join(f"<h2>{escape(h)}</h2>{content}" for h, content in sections)
    title = f"{escape(hall_name)} {label} 效能考评月报"
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1>{banner}{body}"
        '<p class="small">说明：只计已维持的卡片与逾期未申辩的卡片；撤销、作废的卡片不计；'
        "已申辩待决定的卡片列于待定表。星级按 95/90/85 分评定，当月有经维持的红牌即取消星级。</p>"
        "</body></html>"
    )


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


def sheet_xml(table: Table) -> str:
    head, body = table
    rows = []
    for r, values in enumerate([list[Cell](head), *body], start=1):
        cells = "".join(_xml_cell(f"{_col(c)}{r}", v) for c, v in enumerate(values))
        rows.append(f'<row r="{r}">{cells}</row>')
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}">'
        f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )


def xlsx(sheets: Iterable[tuple[str, Table]]) -> bytes:
    """A minimal valid workbook: one worksheet per (name, table), inline strings."""
    named = list(sheets)
    n = len(named)
    types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{types}</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheets_xml = "".join(
        f'<sheet name="{xml_escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, (name, _) in enumerate(named, start=1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>{sheets_xml}</sheets></workbook>'
    )
    wb_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG}">{wb_rels}</Relationships>',
        )
        for i, (_, table) in enumerate(named, start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", sheet_xml(table))
    return buf.getvalue()


def render_xlsx(
    scores: MonthScores,
    stats_rows: Sequence[StatsRow],
    satisfaction: Sequence[SatisfactionRow],
    hall_name: str,
    month: tuple[int, int],
) -> bytes:
    """Sheets 窗口, 人员, 扣分明细, 待定卡片, 办件统计, 满意度."""
    return xlsx(
        [
            ("窗口", score_table(scores.windows, "窗口")),
            ("人员", score_table(scores.officers, "工作人员")),
            ("扣分明细", deduction_table(scores)),
            ("待定卡片", pending_table(scores)),
            ("办件统计", stats_table(stats_rows)),
            ("满意度", satisfaction_table(satisfaction)),
        ]
    )

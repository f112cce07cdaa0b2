"""The leader's daily sheet (值班领导考勤日报): text, A4 HTML and CSV from day sheets. Pure.

One table per session, in window order: every officer's window, name and department (the
configuration's names, `HallNames`), his in and out punch with its mark, and the session's verdict;
then what each mark means, each silent clock with the last punch heard from it, the leader on
duty, the day's cards (voided ones are not cards) and a signature line. Times are the hall's
local time (each sheet carries its zone). The PDF is the HTML printed by Chromium
(monitor/reports/pdf.py).
"""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from alerts.attendance import (
    Cover,
    DaySheet,
    Expect,
    Expected,
    Mark,
    SessionSheet,
    Source,
    Verdict,
)
from alerts.cards import Card, Why
from alerts.duty import DutyOutcome, DutyState
from alerts.events import LeaveCategory, StaffState
from alerts.rules import RULES, Level
from monitor.reports.names import HallNames, clean

SIGNATURE = "值班领导签字：____________        日期：____________"
_WEEKDAYS = "一二三四五六日"
_HALF_ZH = {"am": "上午", "pm": "下午"}

MARK_ZH: dict[Mark, str] = {
    Mark.ON_TIME: "正常",
    Mark.LATE: "迟到",
    Mark.EARLY: "早退",
    Mark.MISSING: "缺卡",
    Mark.PENDING: "待定",
    Mark.COVERED: "请假",
    Mark.MADE_UP: "补签",
}
VERDICT_ZH: dict[Verdict, str] = {
    Verdict.PRESENT: "出勤",
    Verdict.LATE: "迟到",
    Verdict.EARLY: "早退",
    Verdict.LATE_AND_EARLY: "迟到早退",
    Verdict.MISSING_PUNCH: "缺卡",
    Verdict.HALF_DAY_ABSENT: "按旷工半天",
    Verdict.ABSENT: "旷工",
    Verdict.COVERED: "请假",
    Verdict.PENDING: "待定",
}
_STATE_ZH: dict[StaffState, str] = {
    StaffState.LEAVE: "请假",
    StaffState.TRIP: "出差",
    StaffState.MEETING: "会议",
    StaffState.OFF: "休息",
    StaffState.AWAY: "离岗",
    StaffState.ON_POST: "在岗",
}
_LEAVE_ZH: dict[LeaveCategory, str] = {
    LeaveCategory.OFFICIAL: "公假",
    LeaveCategory.PERSONAL: "事假",
    LeaveCategory.SICK: "病假",
    LeaveCategory.ANNUAL: "休假",
}
_DUTY_ZH: dict[DutyState, str] = {
    DutyState.NO_SESSION: "无此时段",
    DutyState.NOT_STARTED: "未开始",
    DutyState.WAITING: "待到岗",
    DutyState.OVERDUE: "未到岗",
    DutyState.PRESENT: "已到岗",
    DutyState.LATE: "迟到",
    DutyState.PENDING: "待定",
    DutyState.ABSENT: "缺岗",
}
_HEAD = ("窗口", "姓名", "部门", "签到", "签退", "结论")
LEGEND: tuple[tuple[str, str], ...] = (
    ("正常", "在规定时间内打卡"),
    ("迟到N分 / 早退N分", "晚于上班或早于下班时间 N 分钟打卡；超过半天限度的按旷工半天计"),
    ("缺卡", "应打卡而无记录，且无请假等去向，考勤机也已上报完毕"),
    ("待定", "尚不能下结论：打卡时段未结束，或考勤机的记录还未全部上报"),
    ("?", "结论可能因考勤机补传的记录而改变（如补传更早的签到）"),
    ("公假 / 事假 / 病假 / 休假 / 出差 / 会议", "去向牌上登记的不在岗事由，不计迟到缺卡"),
    ("补签(审批人)", "经他人批准的补签，括号内为审批人工号"),
    ("(临时)", "考勤机故障或断电时的手工签到"),
    ("按旷工半天 / 旷工", "一个时段缺卡或迟到早退超过限度 / 一个时段两次均缺卡"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardLine:
    """A card of the day as the sheet lists it."""

    at: datetime
    level_zh: str  # 黄牌 / 红牌
    title_zh: str
    subject: str  # an officer's name, a window


# --- words ---------------------------------------------------------------------------------


def cover_zh(c: Cover) -> str:
    if c.state is StaffState.LEAVE and c.category is not None:
        return _LEAVE_ZH[c.category]
    return _STATE_ZH.get(c.state, str(c.state))


def _hm(t: datetime, zone: tzinfo) -> str:
    return t.astimezone(zone).strftime("%H:%M")


def punch_zh(e: Expected, zone: tzinfo) -> str:
    """One expected punch in a few words: 08:42 迟到12分, — 缺卡, 08:30 补签(S100)."""
    at = _hm(e.punch.punch.ts, zone) if e.punch else "—"
    if e.mark is Mark.COVERED and e.cover is not None:
        word = cover_zh(e.cover)
    elif e.mark in (Mark.LATE, Mark.EARLY):
        word = f"{MARK_ZH[e.mark]}{e.minutes}分"
    elif e.mark is Mark.MADE_UP and e.punch is not None:
        word = f"补签({e.punch.approved_by})"
    else:
        word = MARK_ZH[e.mark]
    if e.punch is not None and e.punch.source is Source.TEMPORARY:
        word += "(临时)"
    if e.mark is Mark.PENDING and e.silent_clocks:
        word += f"({','.join(e.silent_clocks)}未上报)"
    if not e.final and e.mark in (Mark.LATE, Mark.EARLY):
        word += "?"
    return f"{at} {word}"


def verdict_zh(s: SessionSheet) -> str:
    if s.verdict is Verdict.COVERED and s.check_in.cover is not None:
        return cover_zh(s.check_in.cover)
    return VERDICT_ZH[s.verdict]


def _session_title(s: SessionSheet, zone: tzinfo) -> str:
    name = _HALF_ZH.get(s.key, s.key)
    return f"{name} {_hm(s.start, zone)}–{_hm(s.end, zone)}"


def _day_zh(day: date) -> str:
    return f"{day.isoformat()}（星期{_WEEKDAYS[day.weekday()]}）"


def ordered(sheets: Sequence[DaySheet], names: HallNames) -> list[DaySheet]:
    """By window in configuration order (officers without a window last), then staff id."""
    return sorted(sheets, key=lambda s: names.window_order(s.staff))


def _rows(sheets: Sequence[DaySheet], index: int, names: HallNames) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for sh in ordered(sheets, names):
        if index < len(sh.sessions):
            s = sh.sessions[index]
            cells = (punch_zh(s.check_in, sh.zone), punch_zh(s.check_out, sh.zone))
            who = (names.window_of(sh.staff), clean(sh.name), names.department(sh.department))
            out.append((*who, *cells, verdict_zh(s)))
    return out


def _expected(sheets: Sequence[DaySheet]) -> list[Expected]:
    return [e for sh in sheets for s in sh.sessions for e in (s.check_in, s.check_out)]


def last_heard(sheets: Sequence[DaySheet]) -> dict[str, datetime]:
    """The latest clock punch of each clock among the sheets' punches (a clock uploads in
    order, so it has reported everything before it)."""
    out: dict[str, datetime] = {}
    for sh in sheets:
        for p in sh.punches:
            ts = p.punch.ts
            if p.source is Source.CLOCK and ts >= out.get(p.punch.device, ts):
                out[p.punch.device] = ts
    return out


def silence_notes(sheets: Sequence[DaySheet], names: HallNames) -> list[str]:
    """One line per clock a result waits for (or was settled without): what was heard from it
    and which results it holds. A clock is named only for results it could still change."""
    zone = sheets[0].zone if sheets else UTC
    heard = last_heard(sheets)
    out = []
    for clock in sorted({d for e in _expected(sheets) for d in e.silent_clocks}):
        waits = [e for e in _expected(sheets) if clock in e.silent_clocks]
        pending = sum(not e.final for e in waits)
        settled = len(waits) - pending
        last = heard.get(clock)
        said = (
            f"最后收到 {last.astimezone(zone).strftime('%m-%d %H:%M')} 的打卡，此后未上报"
            if last is not None
            else "本日未收到其任何打卡"
        )
        held = [f"{pending} 项结论待其上报后确定" if pending else ""]
        held.append(f"{settled} 项已按现有记录定论" if settled else "")
        out.append(f"考勤机 {names.clock(clock)}：{said}；{'，'.join(h for h in held if h)}。")
    return out


def _notes(sheets: Sequence[DaySheet], names: HallNames) -> list[str]:
    out = silence_notes(sheets, names)
    if any(not sh.final for sh in sheets):
        out.append("注：带“待定”或“?”的结论尚未最终确定，以考勤机全部上报后的日报为准。")
    if any(sh.estimated for sh in sheets):
        out.append("注：本年度节假日安排未录入，工作日为推定。")
    return out


def _legend_lines() -> list[str]:
    return ["【标记说明】", *(f"{mark}：{meaning}" for mark, meaning in LEGEND)]


def _duty_rows(
    duty: Sequence[DutyOutcome], zone: tzinfo, names: HallNames
) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for d in sorted(duty, key=lambda x: (x.slot.half, x.slot.leader)):
        arrived = _hm(d.arrived, zone) if d.arrived else "—"
        who = clean(names.person(d.slot.leader))
        state = _DUTY_ZH[d.state] + ("（不足半天）" if d.short else "")  # duty.short
        out.append((_HALF_ZH[d.slot.half], who, arrived, state))
    return out


def _card_rows(cards: Sequence[CardLine], zone: tzinfo) -> list[tuple[str, ...]]:
    ordered = sorted(cards, key=lambda c: c.at)
    return [(_hm(c.at, zone), c.level_zh, c.title_zh, clean(c.subject)) for c in ordered]


def _zone(sheets: Sequence[DaySheet], fallback: tzinfo | None) -> tzinfo:
    return sheets[0].zone if sheets else fallback or UTC


def card_lines(cards: Iterable[Card], day: date, zone: tzinfo, names: HallNames) -> list[CardLine]:
    """The day's people cards (raised that local day; case cards belong to the monthly report)
    as the sheet lists them. A card voided by later evidence (its last transition `void`: the
    condition never held) is not a card and is left out."""
    out = []
    for c in sorted(cards, key=lambda c: (c.raised_at, c.id)):
        if c.raised_at.astimezone(zone).date() != day or c.rule.value.startswith("case."):
            continue
        if c.history and c.history[-1].why is Why.VOID:
            continue
        staff, window = c.subject.staff, c.subject.window
        subject = names.person(staff) if staff else names.window(window) if window else ""
        level = "红牌" if c.level is Level.RED else "黄牌"
        title = RULES[c.rule].title_zh
        out.append(CardLine(at=c.raised_at, level_zh=level, title_zh=title, subject=subject))
    return out


# --- text ----------------------------------------------------------------------------------


def width(text: str) -> int:
    """Columns on a terminal or a fixed-width printout: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    cols = [max(width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join("-" * c for c in cols)
    fmt = [("  ".join(_pad(c, w) for c, w in zip(r, cols, strict=True))).rstrip() for r in rows]
    return ["  ".join(_pad(h, w) for h, w in zip(head, cols, strict=True)).rstrip(), line, *fmt]


def render_text(
    sheets: Sequence[DaySheet],
    day: date,
    hall_name: str,
    *,
    duty: Sequence[DutyOutcome] = (),
    cards: Sequence[CardLine] = (),
    zone: tzinfo | None = None,
    names: HallNames | None = None,
) -> str:
    """A fixed-width printable sheet (CJK counted double width)."""
    names = names or HallNames()
    out = [f"{clean(hall_name)} 考勤日报", f"日期：{_day_zh(day)}", ""]
    if not sheets:
        out += ["本日无考勤记录（非工作日不考勤）。", ""]
    tz = _zone(sheets, zone)
    for i, s in enumerate(sheets[0].sessions if sheets else ()):
        out += [f"【{_session_title(s, tz)}】", *_table(_HEAD, _rows(sheets, i, names)), ""]
    out += [*_notes(sheets, names)]
    if duty:
        rows = _duty_rows(duty, tz, names)
        out += ["", "【值班领导】", *_table(("时段", "领导", "到岗", "情况"), rows)]
    if cards:
        out += [
            "",
            "【当日黄红牌】",
            *_table(("时间", "等级", "事项", "对象"), _card_rows(cards, tz)),
        ]
    if sheets:
        out += ["", *_legend_lines()]
    out += ["", SIGNATURE, ""]
    return "\n".join(out)


# --- HTML ----------------------------------------------------------------------------------

_CSS = """@page { size: A4; margin: 12mm 10mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun",
  sans-serif; font-size: 10.5pt; color: #000; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 4mm; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; }
table { border-collapse: collapse; width: 100%; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 1mm 2mm; text-align: left; }
th { background: #eee; }
.bad { font-weight: bold; }
.note { font-size: 10pt; margin: 1.5mm 0; }
.legend { font-size: 9.5pt; margin-top: 2mm; }
.legend th { width: 30%; font-weight: normal; background: #f6f6f6; }
.sign { margin-top: 12mm; font-size: 12pt; }
@media screen { body { max-width: 210mm; margin: 8mm auto; } }"""

_BAD = (Verdict.ABSENT, Verdict.HALF_DAY_ABSENT, Verdict.MISSING_PUNCH)


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], bad: Sequence[bool]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for row, flag in zip(rows, bad, strict=True):
        cls = ' class="bad"' if flag else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_legend() -> str:
    rows = "".join(
        f"<tr><th>{html.escape(mark)}</th><td>{html.escape(meaning)}</td></tr>"
        for mark, meaning in LEGEND
    )
    return f'<h2>标记说明</h2><table class="legend"><tbody>{rows}</tbody></table>'


def render_html(
    sheets: Sequence[DaySheet],
    day: date,
    hall_name: str,
    *,
    duty: Sequence[DutyOutcome] = (),
    cards: Sequence[CardLine] = (),
    zone: tzinfo | None = None,
    names: HallNames | None = None,
) -> str:
    """An A4 printable page: a table per session, notes, duty, cards, what the marks mean,
    the signature line."""
    names = names or HallNames()
    hall_name = clean(hall_name)
    tz = _zone(sheets, zone)
    title = f"{hall_name} 考勤日报 {day.isoformat()}"
    parts = [f"<h1>{html.escape(hall_name)} 考勤日报</h1>", f"<p>日期：{_day_zh(day)}</p>"]
    if not sheets:
        parts.append("<p>本日无考勤记录（非工作日不考勤）。</p>")
    for i, s in enumerate(sheets[0].sessions if sheets else ()):
        rows = _rows(sheets, i, names)
        flags = [
            sh.sessions[i].verdict in _BAD for sh in ordered(sheets, names) if i < len(sh.sessions)
        ]
        parts.append(f"<h2>{html.escape(_session_title(s, tz))}</h2>")
        parts.append(_html_table(_HEAD, rows, flags))
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in _notes(sheets, names)]
    if duty:
        rows = _duty_rows(duty, tz, names)
        parts.append("<h2>值班领导</h2>")
        parts.append(_html_table(("时段", "领导", "到岗", "情况"), rows, [False] * len(rows)))
    if cards:
        rows = _card_rows(cards, tz)
        parts.append("<h2>当日黄红牌</h2>")
        parts.append(_html_table(("时间", "等级", "事项", "对象"), rows, [False] * len(rows)))
    if sheets:
        parts.append(_html_legend())
    parts.append(f'<p class="sign">{html.escape(SIGNATURE)}</p>')
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>\n{_CSS}\n</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


# --- CSV -----------------------------------------------------------------------------------

CSV_HEAD = (
    "日期", "工号", "姓名", "部门", "时段", "类别", "应打卡", "打卡时间", "来源", "考勤机",
    "结果", "分钟", "说明", "审批人", "已确定", "时段结论", "窗口",
)  # fmt: skip


def render_csv(
    sheets: Sequence[DaySheet],
    day: date,
    hall_name: str,
    *,
    bom: bool = True,
    names: HallNames | None = None,
) -> str:
    """One row per expected punch, in window order; a BOM by default so spreadsheet programs
    read UTF-8. `hall_name` is for the file name the caller picks; the rows keep one shape."""
    names = names or HallNames()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEAD)
    for sh in ordered(sheets, names):
        for s in sh.sessions:
            for e in (s.check_in, s.check_out):
                w.writerow(_csv_row(sh, s, e, names))
    return ("\ufeff" if bom else "") + buf.getvalue()


def _csv_row(sh: DaySheet, s: SessionSheet, e: Expected, names: HallNames) -> list[str]:
    p = e.punch
    return [
        sh.day.isoformat(),
        sh.staff,
        clean(sh.name),
        names.department(sh.department),
        _HALF_ZH.get(s.key, s.key),
        "签到" if e.kind is Expect.IN else "签退",
        _hm(e.anchor, sh.zone),
        p.punch.ts.astimezone(sh.zone).strftime("%H:%M:%S") if p else "",
        str(p.source) if p else "",
        p.punch.device if p else "",
        str(e.mark),
        str(e.minutes) if e.mark in (Mark.LATE, Mark.EARLY) else "",
        punch_zh(e, sh.zone),
        (p.approved_by or "") if p else "",
        "是" if e.final else "否",
        verdict_zh(s),
        names.window_of(sh.staff),
    ]

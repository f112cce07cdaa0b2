"""The leader's daily sheet (值班领导考勤日报): text, A4 HTML and CSV from day sheets. Pure.

One table per session: every officer's in and out punch with its mark, and the session's
verdict; then silent clocks, the leader on duty, the cards of the day and a signature line.
Times are the hall's local time (each sheet carries its zone).
"""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from collections.abc import Sequence
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
from alerts.duty import DutyOutcome, DutyState
from alerts.events import LeaveCategory, StaffState

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
_HEAD = ("工号", "姓名", "部门", "签到", "签退", "结论")


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


def _ordered(sheets: Sequence[DaySheet]) -> list[DaySheet]:
    return sorted(sheets, key=lambda s: (s.department, s.staff))


def _rows(sheets: Sequence[DaySheet], index: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for sh in _ordered(sheets):
        if index < len(sh.sessions):
            s = sh.sessions[index]
            cells = (punch_zh(s.check_in, sh.zone), punch_zh(s.check_out, sh.zone))
            out.append((sh.staff, sh.name, sh.department, *cells, verdict_zh(s)))
    return out


def _notes(sheets: Sequence[DaySheet]) -> list[str]:
    silent = sorted({d for sh in sheets for d in sh.silent_clocks})
    out = []
    if silent:
        out.append(f"未上报考勤机：{'、'.join(silent)}（其打卡记录未到，相关结论待定或按缺卡计）")
    if any(not sh.final for sh in sheets):
        out.append("注：带“待定”或“?”的结论尚未最终确定。")
    if any(sh.estimated for sh in sheets):
        out.append("注：本年度节假日安排未录入，工作日为推定。")
    return out


def _duty_rows(duty: Sequence[DutyOutcome], zone: tzinfo) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for d in sorted(duty, key=lambda x: (x.slot.half, x.slot.leader)):
        arrived = _hm(d.arrived, zone) if d.arrived else "—"
        out.append((_HALF_ZH[d.slot.half], d.slot.leader, arrived, _DUTY_ZH[d.state]))
    return out


def _card_rows(cards: Sequence[CardLine], zone: tzinfo) -> list[tuple[str, ...]]:
    ordered = sorted(cards, key=lambda c: c.at)
    return [(_hm(c.at, zone), c.level_zh, c.title_zh, c.subject) for c in ordered]


def _zone(sheets: Sequence[DaySheet], fallback: tzinfo | None) -> tzinfo:
    return sheets[0].zone if sheets else fallback or UTC


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
) -> str:
    """A fixed-width printable sheet (CJK counted double width)."""
    out = [f"{hall_name} 考勤日报", f"日期：{_day_zh(day)}", ""]
    if not sheets:
        out += ["本日无考勤记录（非工作日不考勤）。", ""]
    tz = _zone(sheets, zone)
    for i, s in enumerate(sheets[0].sessions if sheets else ()):
        out += [f"【{_session_title(s, tz)}】", *_table(_HEAD, _rows(sheets, i)), ""]
    out += [*_notes(sheets)]
    if duty:
        out += ["", "【值班领导】", *_table(("时段", "领导", "到岗", "情况"), _duty_rows(duty, tz))]
    if cards:
        out += [
            "",
            "【当日黄红牌】",
            *_table(("时间", "等级", "事项", "对象"), _card_rows(cards, tz)),
        ]
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
.note { font-size: 9pt; }
.sign { margin-top: 12mm; font-size: 12pt; }"""

_BAD = (Verdict.ABSENT, Verdict.HALF_DAY_ABSENT, Verdict.MISSING_PUNCH)


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], bad: Sequence[bool]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for row, flag in zip(rows, bad, strict=True):
        cls = ' class="bad"' if flag else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(
    sheets: Sequence[DaySheet],
    day: date,
    hall_name: str,
    *,
    duty: Sequence[DutyOutcome] = (),
    cards: Sequence[CardLine] = (),
    zone: tzinfo | None = None,
) -> str:
    """An A4 printable page: a table per session, notes, duty, cards, the signature line."""
    tz = _zone(sheets, zone)
    title = f"{hall_name} 考勤日报 {day.isoformat()}"
    parts = [f"<h1>{html.escape(hall_name)} 考勤日报</h1>", f"<p>日期：{_day_zh(day)}</p>"]
    if not sheets:
        parts.append("<p>本日无考勤记录（非工作日不考勤）。</p>")
    for i, s in enumerate(sheets[0].sessions if sheets else ()):
        rows = _rows(sheets, i)
        flags = [sh.sessions[i].verdict in _BAD for sh in _ordered(sheets) if i < len(sh.sessions)]
        parts.append(f"<h2>{html.escape(_session_title(s, tz))}</h2>")
        parts.append(_html_table(_HEAD, rows, flags))
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in _notes(sheets)]
    if duty:
        rows = _duty_rows(duty, tz)
        parts.append("<h2>值班领导</h2>")
        parts.append(_html_table(("时段", "领导", "到岗", "情况"), rows, [False] * len(rows)))
    if cards:
        rows = _card_rows(cards, tz)
        parts.append("<h2>当日黄红牌</h2>")
        parts.append(_html_table(("时间", "等级", "事项", "对象"), rows, [False] * len(rows)))
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
    "结果", "分钟", "说明", "审批人", "已确定", "时段结论",
)  # fmt: skip


def render_csv(sheets: Sequence[DaySheet], day: date, hall_name: str, *, bom: bool = True) -> str:
    """One row per expected punch; a BOM by default so spreadsheet programs read UTF-8.

    `hall_name` is for the file name the caller picks; the rows keep one shape."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEAD)
    for sh in _ordered(sheets):
        for s in sh.sessions:
            for e in (s.check_in, s.check_out):
                w.writerow(_csv_row(sh, s, e))
    return ("\ufeff" if bom else "") + buf.getvalue()


def _csv_row(sh: DaySheet, s: SessionSheet, e: Expected) -> list[str]:
    p = e.punch
    return [
        sh.day.isoformat(),
        sh.staff,
        sh.name,
        sh.department,
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
    ]

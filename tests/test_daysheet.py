"""The leader's daily sheet as a leader signs it (monitor/reports/daysheet.py): names from the
configuration, window order, the marks explained on the page, each silent clock with what was
heard from it, no voided card, the A4 page printed to PDF."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from alerts.attendance import DaySheet
from alerts.cards import CardState, Why
from alerts.rules import RuleId
from monitor.reports import daysheet
from monitor.reports.names import HallNames
from monitor.reports.pdf import find_browser, html_to_pdf
from tests.test_attendance import (
    CLK1,
    CLK2,
    DAY,
    EVENING,
    LI,
    SH,
    WANG,
    ZHANG,
    at,
    full_day,
    heard_at,
    punch,
    sheet,
    status,
)
from tests.test_scores import card

NAMES = HallNames(
    staff={"S001": "张三", "S002": "李四", "S003": "王五", "L01": "赵局长"},
    staff_department={"S001": "scjg", "S002": "scjg", "S003": "bdc"},
    departments={"scjg": "市场监督管理局", "bdc": "不动产登记中心"},
    windows={"W01": "不动产登记", "W02": "企业开办"},
    seat={"S003": "W01", "S002": "W02", "S001": "W02"},
    clocks={"CLK1": "大厅东门", "CLK2": "大厅西门"},
)


def _three() -> list[DaySheet]:
    punches = [*full_day(), *full_day("S002"), *full_day("S003", device=CLK2)]
    return [sheet(punches, EVENING, staff=p) for p in (ZHANG, LI, WANG)]


def test_the_sheet_names_windows_people_and_departments_in_window_order() -> None:
    text = daysheet.render_text(_three(), DAY, "某县政务服务中心", names=NAMES)
    lines = text.splitlines()
    first = lines.index("【上午 08:30–12:00】")
    assert lines[first + 1].split()[:3] == ["窗口", "姓名", "部门"]
    rows = [ln.split()[:3] for ln in lines[first + 3 : first + 6]]
    assert rows == [
        ["不动产登记", "王五", "不动产登记中心"],  # W01 first, though bdc sorts before scjg
        ["企业开办", "张三", "市场监督管理局"],
        ["企业开办", "李四", "市场监督管理局"],
    ]
    page = daysheet.render_html(_three(), DAY, "某县政务服务中心", names=NAMES)
    assert "scjg" not in page and "bdc" not in page and "S001" not in page
    assert "市场监督管理局" in page and "不动产登记" in page
    rows_csv = list(
        csv.reader(io.StringIO(daysheet.render_csv(_three(), DAY, "x", names=NAMES)[1:]))
    )
    assert (
        rows_csv[1][1:4] == ["S003", "王五", "不动产登记中心"] and rows_csv[1][-1] == "不动产登记"
    )


def test_the_marks_are_explained_on_the_page() -> None:
    page = daysheet.render_html(_three(), DAY, "某县政务服务中心", names=NAMES)
    legend = page[page.index("<h2>标记说明</h2>") :]
    for mark in ("正常", "迟到N分", "缺卡", "待定", "<th>?</th>", "补签(审批人)", "(临时)"):
        assert mark in legend, mark
    assert page.index("标记说明") < page.index("值班领导签字")
    text = daysheet.render_text(_three(), DAY, "某县政务服务中心", names=NAMES)
    assert "【标记说明】" in text and "?：结论可能因考勤机补传的记录而改变" in text


def test_a_silent_clock_is_named_with_what_was_heard_from_it_and_a_reporting_one_is_not() -> None:
    """The afternoon: both clocks show punches; CLK2 went offline at 14:10, so 王五's missing
    afternoon sign-in (his punches are on CLK2) waits for it. CLK1, online all day, is heard
    up to 10 minutes ago: it is not named, though nobody punched it since 13:55."""
    avail = [status(CLK1, True, at(6)), status(CLK2, True, at(6)), status(CLK2, False, at(14, 10))]
    punches = [
        *full_day()[:2],
        punch("z3", at(13, 55)),
        *full_day("S002", device=CLK2)[:2],
        punch("l3", at(13, 50), staff="S002", device=CLK2),
        *full_day("S003", device=CLK2)[:2],
    ]
    now = at(15, 30)
    heard = heard_at(now, punches, avail)
    sheets = [sheet(punches, now, staff=p, avail=avail, heard=heard) for p in (ZHANG, LI, WANG)]
    notes = daysheet.silence_notes(sheets, NAMES)
    assert notes == [
        "考勤机 CLK2（大厅西门）：最后收到 10-09 13:50 的打卡，此后未上报；1 项结论待其上报后确定。"
    ]
    text = daysheet.render_text(sheets, DAY, "某县政务服务中心", names=NAMES)
    assert "CLK1" not in text and "未上报考勤机：CLK1" not in text
    assert "— 待定(CLK2未上报)" in text


def test_a_clock_never_heard_today_says_so() -> None:
    now = at(9, 40)  # 王五's sign-in window closed at 09:30; CLK2 has said nothing today
    s = sheet([], now, staff=WANG, heard={CLK1: now - timedelta(minutes=10), CLK2: None})
    assert daysheet.silence_notes([s], NAMES) == [
        "考勤机 CLK2（大厅西门）：本日未收到其任何打卡；1 项结论待其上报后确定。"
    ]


def test_voided_cards_are_not_on_the_sheet_and_subjects_are_names() -> None:
    raised = at(9, 0)
    late = card(RuleId.ATTENDANCE_LATE, [], n=1, raised=raised, staff="S001", answer_by=None)
    void = card(
        RuleId.ATTENDANCE_MISSING_PUNCH,
        [(CardState.CLOSED, Why.VOID, raised + timedelta(hours=6))],
        n=2,
        raised=raised,
        staff="S002",
    )
    unstaffed = card(RuleId.POST_UNSTAFFED, [], n=3, raised=raised, window="W01", staff=None)
    case = card(RuleId.PROMISED_OVERDUE, [], n=4, raised=raised)
    other_day = card(RuleId.ATTENDANCE_LATE, [], n=5, raised=raised + timedelta(days=1))
    cards = [late, void, unstaffed, case, other_day]
    lines = daysheet.card_lines(cards, DAY, SH, NAMES)
    assert [(c.title_zh, c.subject, c.level_zh) for c in lines] == [
        ("迟到", "张三", "黄牌"),
        ("窗口离岗超时", "不动产登记", "红牌"),
    ]


@pytest.mark.skipif(find_browser() is None, reason="no Chromium to print with")
def test_the_a4_page_prints_to_pdf() -> None:
    page = daysheet.render_html(_three(), DAY, "某县政务服务中心", names=NAMES)
    pdf = html_to_pdf(page)
    assert pdf[:5] == b"%PDF-" and b"/MediaBox [0 0 594.95996 841.91998]" in pdf  # A4 in pt

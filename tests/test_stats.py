"""Service statistics (alerts/stats.py): worked figures for a small month, computed by hand.

The measures are the ones halls publish: seed 003_… (received 27,084, finished 27,031, on-time
99.99 %, average promised 10.37 days against 1.57 actual, 8.79 days early) and the targets of
seed 004_… 二(一) (按时办结率 100 %, 现场办结率 100 %, 满意率 98 % or more). Bad reviews are
levels 1 and 2 of 5 (docs/contract.md, 好差评).

November 2026 has no public holiday: Sunday 1 November, weekdays Monday 2 to Friday 6, 9 to 13,
..., Monday 30. Service hours 08:30-12:00 and 14:00-17:30, Asia/Shanghai.

The cases (window, officer; promised days; limit; actual working days):
  X   W01 S001 promised 2, accepted Fri 30 Oct 10:00, approved Mon 2 Nov 10:00.
      Limit Tue 3 Nov 17:30: on time. Actual 1 (31 Oct, 1 Nov are a weekend).
  P1  W01 S001 promised 5, accepted Mon 2 Nov 09:00, approved Wed 4 Nov 10:00.
      Limit Mon 9 Nov 17:30: on time. Actual 2 (3, 4 Nov). Rated 5.
  P2  W01 S002 promised 3, received Mon 2 Nov 15:00, accepted Tue 3 Nov 09:00, refused Mon
      9 Nov 16:00. Limit Fri 6 Nov 17:30: late. Actual 4 (4, 5, 6, 9 Nov). Rated 2 (bad).
  P3  W02 S003 promised 10, accepted and approved Thu 5 Nov (10:00, 16:00): on time, actual 0.
  P4  W02 S003 promised 2, accepted Mon 16 Nov 09:00, suspended 14:00 Mon 16 to 14:00 Wed 18
      (14 working hours = 2 working days), approved Thu 19 Nov 16:00. Limit Wed 18 Nov 17:30
      moved to Fri 20 Nov 17:30: on time. Actual 3 (17, 18, 19 Nov; the suspension counts).
  I1  W02 S003 immediate, received Fri 6 Nov 09:00, approved 11:00: on the spot. Rated 4.
  I2  W02 S004 immediate, received Fri 6 Nov 16:00, approved Mon 9 Nov 09:00: not on the spot.
  I3  W01 S001 immediate, received Sat 7 Nov 10:00 (a day off), approved Mon 9 Nov 10:00:
      on the spot (the limit is the next working day's close).
  R1  W01 S002 returned at the window Tue 10 Nov 09:30 with a reason: finished, not completed.
      Rated 1 (bad).
  O1  W02 S004 promised 5, accepted Mon 30 Nov 10:00, approved Tue 1 Dec 10:00. Rated 5.
  O2  W02 S004 immediate, received Mon 30 Nov 16:00, still open.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, datetime, time
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.cases import Assessment, Entry, assess
from alerts.events import CaseAction, CaseEvent, CaseKind, Outcome
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.rules import Policy
from alerts.stats import (
    TOTAL_KEY,
    StatsRow,
    cell,
    compute,
    render_table,
    rounded,
    to_csv,
)
from alerts.workdays import Session, Timetable, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(
    SHANGHAI,
    [
        Timetable(
            sessions=(
                Session(start=time(8, 30), end=time(12)),
                Session(start=time(14), end=time(17, 30)),
            )
        )
    ],
)
A = CaseAction
NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


def at(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=SHANGHAI)


def case(
    name: str,
    kind: CaseKind,
    window: str,
    staff: str,
    *steps: tuple[CaseAction, datetime, dict[str, Any]],
) -> Assessment:
    entries = []
    for seq, (action, ts, extra) in enumerate(steps):
        ev = CaseEvent(
            case=CaseId(name),
            action=action,
            ts=ts,
            kind=kind,
            window=WindowId(window),
            staff=StaffId(staff),
            **extra,
        )
        entries.append(Entry(ts, seq, EventId(f"{name}-{seq}"), ev))
    return assess(CaseId(name), entries, CAL, Policy())


def accepted(ts: datetime, days: int) -> tuple[CaseAction, datetime, dict[str, Any]]:
    return (A.ACCEPTED, ts, {"promised_days": days})


def done(
    ts: datetime, outcome: Outcome = Outcome.APPROVED
) -> tuple[CaseAction, datetime, dict[str, Any]]:
    return (A.COMPLETED, ts, {"outcome": outcome})


def received(ts: datetime) -> tuple[CaseAction, datetime, dict[str, Any]]:
    return (A.RECEIVED, ts, {})


P, IM = CaseKind.PROMISED, CaseKind.IMMEDIATE
CASES = [
    case("X", P, "W01", "S001", accepted(at(10, 30, 10), 2), done(at(11, 2, 10))),
    case("P1", P, "W01", "S001", accepted(at(11, 2, 9), 5), done(at(11, 4, 10))),
    case(
        "P2",
        P,
        "W01",
        "S002",
        received(at(11, 2, 15)),
        accepted(at(11, 3, 9), 3),
        done(at(11, 9, 16), Outcome.REFUSED),
    ),
    case("P3", P, "W02", "S003", accepted(at(11, 5, 10), 10), done(at(11, 5, 16))),
    case(
        "P4",
        P,
        "W02",
        "S003",
        accepted(at(11, 16, 9), 2),
        (A.SUSPENDED, at(11, 16, 14), {"reason": "补正"}),
        (A.RESUMED, at(11, 18, 14), {}),
        done(at(11, 19, 16)),
    ),
    case("I1", IM, "W02", "S003", received(at(11, 6, 9)), done(at(11, 6, 11))),
    case("I2", IM, "W02", "S004", received(at(11, 6, 16)), done(at(11, 9, 9))),
    case("I3", IM, "W01", "S001", received(at(11, 7, 10)), done(at(11, 9, 10))),
    case(
        "R1",
        CaseKind.RETURNED,
        "W01",
        "S002",
        received(at(11, 10, 9)),
        (A.RETURNED, at(11, 10, 9, 30), {"reason": "材料不属本窗口受理范围", "reason_code": 1}),
    ),
    case("O1", P, "W02", "S004", accepted(at(11, 30, 10), 5), done(at(12, 1, 10))),
    case("O2", IM, "W02", "S004", received(at(11, 30, 16))),
]
RATINGS = {CaseId(k): v for k, v in {"P1": 5, "P2": 2, "I1": 4, "R1": 1, "X": 3, "O1": 5}.items()}


def test_the_limits_behind_the_worked_figures() -> None:
    dues = {a.case: a.due.at if a.due else None for a in CASES}
    assert dues[CaseId("X")] == at(11, 3, 17, 30)
    assert dues[CaseId("P2")] == at(11, 6, 17, 30)
    assert dues[CaseId("P4")] == at(11, 20, 17, 30)  # the suspension moved it two working days


def test_the_month_for_the_whole_hall() -> None:
    (row,) = compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "hall")
    assert row == StatsRow(
        group="hall",
        key="hall",
        received=10,  # all but X (entered in October)
        accepted=5,  # P1 P2 P3 P4 O1: immediate and returned cases have no acceptance
        completed=8,  # X P1 P2 P3 P4 I1 I2 I3: R1 was returned, O1 finished in December
        timed=8,
        on_time=6,  # P2 and I2 late
        immediate=3,
        on_the_spot=2,  # I1, I3
        promised=5,  # X P1 P2 P3 P4
        promised_days=2 + 5 + 3 + 10 + 2,
        actual_days=1 + 2 + 4 + 0 + 3,
        rated=5,  # X P1 P2 I1 R1 (O1's rating counts in December)
        bad_reviews=2,  # P2, R1
    )
    assert row.on_time_rate == Fraction(3, 4)
    assert row.on_the_spot_rate == Fraction(2, 3)
    assert row.avg_days_early == Fraction(12, 5)
    assert [cell(row, c) for c in ("on_time_rate", "on_the_spot_rate", "bad_review_rate")] == [
        "75.00%",
        "66.67%",
        "40.00%",
    ]
    assert [cell(row, c) for c in ("avg_promised_days", "avg_actual_days", "avg_days_early")] == [
        "4.40",
        "2.00",
        "2.40",
    ]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # P1 P2 I3 R1 received; X P1 P2 I3 completed, P2 late; promised 5+3+2, actual 2+4+1.
        ("W01", ["4", "2", "4", "75.00%", "100.00%", "3.33", "2.33", "1.00", "50.00%"]),
        # P3 I1 I2 O1 O2 P4 received; P3 I1 I2 P4 completed, I2 late; promised 10+2, actual 0+3.
        ("W02", ["6", "3", "4", "75.00%", "50.00%", "6.00", "1.50", "4.50", "0.00%"]),
        (TOTAL_KEY, ["10", "5", "8", "75.00%", "66.67%", "4.40", "2.00", "2.40", "40.00%"]),
    ],
)
def test_per_window_with_a_total(window: str, expected: list[str]) -> None:
    rows = {r.key: r for r in compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "window", total=True)}
    assert list(rows) == ["W01", "W02", TOTAL_KEY]
    columns = [
        "received",
        "accepted",
        "completed",
        "on_time_rate",
        "on_the_spot_rate",
        "avg_promised_days",
        "avg_actual_days",
        "avg_days_early",
        "bad_review_rate",
    ]
    assert [cell(rows[window], c) for c in columns] == expected


def test_per_officer() -> None:
    rows = {r.key: r for r in compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "staff")}
    assert sorted(rows) == ["S001", "S002", "S003", "S004"]
    s003 = rows["S003"]  # P3 P4 I1, all on time
    assert (s003.received, s003.completed, s003.on_time, s003.on_the_spot) == (3, 3, 3, 1)
    assert (s003.promised_days, s003.actual_days) == (12, 3)
    s004 = rows["S004"]  # I2 late; O1 and O2 received at the end of the month
    assert (s004.received, s004.accepted, s004.completed, s004.on_time) == (3, 1, 1, 0)
    assert s004.avg_promised_days is None and cell(s004, "avg_days_early") == "—"


def test_each_figure_counts_on_the_day_of_its_own_event() -> None:
    rows = {r.key: r for r in compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "day")}
    nov_2 = rows["2026-11-02"]  # P1 and P2 entered, P1 accepted, X completed (rated 3)
    assert (nov_2.received, nov_2.accepted, nov_2.completed, nov_2.rated) == (2, 1, 1, 1)
    nov_7 = rows["2026-11-07"]  # a Saturday: I3 handed in
    assert (nov_7.received, nov_7.completed) == (1, 0)
    nov_9 = rows["2026-11-09"]  # P2 (late), I2 (late), I3 (on the spot)
    assert (nov_9.completed, nov_9.on_time, nov_9.immediate, nov_9.on_the_spot) == (3, 1, 2, 1)
    assert "2026-11-01" not in rows and "2026-12-01" not in rows


def test_per_month_across_the_period() -> None:
    rows = compute(CASES, RATINGS, CAL, date(2026, 10, 1), date(2026, 12, 31), "month")
    by = {r.key: r for r in rows}
    assert list(by) == ["2026-10", "2026-11", "2026-12"]
    assert (by["2026-10"].received, by["2026-10"].accepted, by["2026-10"].completed) == (1, 1, 0)
    # X: entered and accepted in October, completed in November.
    assert (by["2026-11"].received, by["2026-11"].completed) == (10, 8)
    dec = by["2026-12"]  # O1: accepted Mon 30 Nov, approved Tue 1 Dec, 1 working day of 5
    assert (dec.completed, dec.on_time, dec.promised_days, dec.actual_days) == (1, 1, 5, 1)
    assert (dec.rated, dec.bad_reviews) == (1, 0)


def test_seed_003_figures_print_as_published() -> None:
    # 003_…: 受理 27,084, 办结 27,031, 按时办结率 99.99 %; 平均承诺 10.37 天, 实际 1.57 天,
    # 平均提前 8.79 天. The printed averages subtract to 8.80: the hall subtracted unrounded
    # averages, as we do (10.3651 − 1.5749 = 8.7902).
    row = StatsRow(
        group="hall",
        key="hall",
        received=27_084,
        completed=27_031,
        timed=27_031,
        on_time=27_028,
        promised=10_000,
        promised_days=103_651,
        actual_days=15_749,
    )
    assert [
        cell(row, c)
        for c in (
            "received",
            "completed",
            "on_time_rate",
            "avg_promised_days",
            "avg_actual_days",
            "avg_days_early",
        )
    ] == ["27084", "27031", "99.99%", "10.37", "1.57", "8.79"]


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Fraction(1, 3), 2, "0.33"),
        (Fraction(2, 3), 2, "0.67"),
        (Fraction(1, 200), 2, "0.01"),  # half away from zero
        (Fraction(-1, 200), 2, "-0.01"),
        (Fraction(-1, 1000), 2, "0.00"),  # no "-0.00"
        (Fraction(-7, 4), 1, "-1.8"),
        (Fraction(5, 2), 0, "3"),
    ],
)
def test_rounding_is_exact(value: Fraction, places: int, text: str) -> None:
    assert rounded(value, places) == text


def test_the_printed_table_lines_up() -> None:
    text = render_table(compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "window", total=True))
    lines = text.splitlines()
    assert lines[0].split() == [
        "窗口",
        "收件量",
        "受理量",
        "办结量",
        "按时办结率",
        "现场办结率",
        "平均承诺天数",
        "平均实际办理天数",
        "平均提前天数",
        "差评率",
    ]
    assert lines[2].split() == [
        "W01",
        "4",
        "2",
        "4",
        "75.00%",
        "100.00%",
        "3.33",
        "2.33",
        "1.00",
        "50.00%",
    ]
    assert lines[-1].split()[0] == TOTAL_KEY
    widths = {
        sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in ln) for ln in lines
    }
    assert len(widths) == 1  # CJK headings take two columns each


def test_csv_keeps_the_counts_behind_the_rates() -> None:
    rows = compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "window")
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [t["window"] for t in table] == ["W01", "W02"]
    assert (table[1]["on_the_spot"], table[1]["immediate"], table[1]["on_the_spot_rate"]) == (
        "1",
        "2",
        "50.00%",
    )
    header = next(csv.reader(io.StringIO(to_csv(rows, chinese_header=True))))
    assert header[:4] == ["窗口", "收件量", "受理量", "办结量"]


def test_no_cases_no_rows_and_bad_input_refused() -> None:
    assert compute([], {}, CAL, NOV_1, NOV_30, "hall") == []
    assert compute([], {}, CAL, NOV_1, NOV_30, "hall", total=True)[0].on_time_rate is None
    with pytest.raises(ValueError, match="rating level 7"):
        compute(CASES, {CaseId("P1"): 7}, CAL, NOV_1, NOV_30, "hall")
    with pytest.raises(ValueError, match="before it starts"):
        compute(CASES, RATINGS, CAL, NOV_30, NOV_1, "hall")
    with pytest.raises(ValueError, match="cannot group by"):
        compute(CASES, RATINGS, CAL, NOV_1, NOV_30, "year")  # type: ignore[arg-type]

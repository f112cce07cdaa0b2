"""Case clocks (alerts/cases.py): every case kind and every rule, worked at fixed instants.

Calendar: Asia/Shanghai, sessions 08:30-12:00 and 14:00-17:30, the official 2026 schedule
(国务院办公厅关于2026年部分节假日安排的通知, via chinesecalendar): 1-7 Oct off, Saturday 10 Oct
worked. March 2026 has no holiday: Mon 9 Mar to Fri 13 Mar, Mon 16 Mar to Fri 20 Mar are the
working days used below. A day of service is 7 working hours.

Seeds are cited by file name: `000_…` (溆浦县 九项制度), `001_…` (县行政服务中心制度汇编),
`003_…` (塔城 经验交流: 即办件、承诺件、联办件、上报件、补办件、退回件、特办件).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from alerts.cases import Condition
from alerts.events import CaseAction, CaseKind, Outcome, ReviewVerdict
from alerts.ids import StaffId
from alerts.rules import Policy, RuleId
from alerts.workdays import LIBRARY_YEARS, WorkCalendar
from tests.case_builders import CAL, HOURS, LEADER, OFFICER, OTHER, SHANGHAI, Story, at, only, rules

R = RuleId
A = CaseAction


def span(c: Condition) -> tuple[object, object]:
    return c.start, c.end


# --- promised (承诺件) --------------------------------------------------------------------


def promised(days: int = 3, legal: int = 20) -> Story:
    s = Story(kind=CaseKind.PROMISED)
    s.accepted(at(2026, 3, 9, 10), promised_days=days, legal_days=legal)
    return s


def test_promised_warning_one_working_day_before_then_red() -> None:
    """承诺件 (`001_…` 第五篇 2 承诺办理制): yellow 1 working day before the promised limit
    (a city's e-supervision rule, 到期前1个工作日提示), red when it passes (`000_…` 八(四)5)."""
    a = promised().assess()
    assert a.due is not None and a.due.at == at(2026, 3, 12, 17, 30)
    warn = only(a, R.PROMISED_WARNING)
    assert span(warn) == (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 17, 30))
    assert warn.superseded  # the red takes over at the deadline
    red = only(a, R.PROMISED_OVERDUE)
    assert span(red) == (at(2026, 3, 12, 17, 30), None)
    assert red.evidence == ("C2026-000123-0",)


def test_promised_completed_in_time_clears_the_warning() -> None:
    """A case finished within its promised limit (`001_…` 第一篇(四) 限时办结) has no red;
    its warning ends when the case finishes."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 12, 10), outcome=Outcome.APPROVED)
    a = s.assess()
    assert rules(a) == [R.PROMISED_WARNING]
    warn = only(a, R.PROMISED_WARNING)
    assert span(warn) == (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 10))
    assert not warn.superseded
    assert a.finished_at == at(2026, 3, 12, 10) and not a.open


def test_completed_before_the_warning_raises_nothing() -> None:
    """Finished early (seed `003_…`: actual 1.57 days against 10.37 promised): no card."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 9), outcome=Outcome.APPROVED)
    assert s.assess().conditions == ()


def test_promised_late_completion_ends_the_red() -> None:
    """Finished past the promised limit (`000_…` 八(四)5 超过承诺时限): the red ends at the
    completion, which joins its evidence."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 13, 9), outcome=Outcome.APPROVED)
    red = only(s.assess(), R.PROMISED_OVERDUE)
    assert span(red) == (at(2026, 3, 12, 17, 30), at(2026, 3, 13, 9))
    assert red.evidence == ("C2026-000123-0", "C2026-000123-1")


def test_completed_exactly_at_the_limit_is_on_time() -> None:
    """The limit is close of business of the last working day (民法典 第二百零三条)."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 12, 17, 30), outcome=Outcome.APPROVED)
    assert R.PROMISED_OVERDUE not in rules(s.assess())


def test_legal_limit_is_tracked_too() -> None:
    """超过法定时限 (`000_…` 八(五)1): the legal limit runs beside the promised one."""
    a = promised(days=3, legal=5).assess()
    legal = only(a, R.LEGAL_OVERDUE)
    assert span(legal) == (at(2026, 3, 16, 17, 30), None)
    s = promised(days=3, legal=5)
    s.add(A.COMPLETED, at(2026, 3, 16, 9), outcome=Outcome.APPROVED)
    assert R.LEGAL_OVERDUE not in rules(s.assess())  # late for the promise, in time by law
    assert R.PROMISED_OVERDUE in rules(s.assess())


def test_national_day_2026_swapped_saturday() -> None:
    """The worked example of docs/cards.md: accepted 2026-09-30 10:00 with 3 working days → due
    at close of business on Saturday 2026-10-10, a swapped working day (调休) of the 2026
    schedule."""
    s = Story()
    s.accepted(at(2026, 9, 30, 10), promised_days=3)
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 10, 10, 17, 30) and not a.due.estimated
    assert a.due.at.astimezone(SHANGHAI).weekday() == 5
    # 1 working day before the Saturday is Friday 9 Oct (1-7 Oct are off).
    assert only(a, R.PROMISED_WARNING).start == at(2026, 10, 9, 17, 30)


def test_warning_lead_per_kind() -> None:
    """Thresholds are configuration per hall and per case kind (docs/cards.md "Rules")."""
    policy = Policy(warning_days_by_kind={CaseKind.PROMISED: 2})
    assert only(promised().assess(policy), R.PROMISED_WARNING).start == at(2026, 3, 10, 17, 30)
    joint = Story(kind=CaseKind.JOINT)
    joint.accepted(at(2026, 3, 9, 10), promised_days=3)
    assert only(joint.assess(policy), R.PROMISED_WARNING).start == at(2026, 3, 11, 17, 30)
    none = Policy(warning_days_by_kind={CaseKind.PROMISED: 0})
    assert R.PROMISED_WARNING not in rules(promised().assess(none))


def test_policy_rejects_bad_thresholds() -> None:
    """A day that not every year has (29 February) would crash the calendar notice."""
    with pytest.raises(ValueError, match="calendar_notice"):
        Policy(calendar_notice=(2, 29))
    with pytest.raises(ValueError, match="negative"):
        Policy(warning_days=-1)


# --- immediate (即办件) -------------------------------------------------------------------


def immediate(received_hh: int, received_mm: int = 0) -> Story:
    s = Story(kind=CaseKind.IMMEDIATE)
    s.received(at(2026, 3, 10, received_hh, received_mm))
    return s


def test_immediate_yellow_after_two_working_hours_red_at_close() -> None:
    """即办件当场办结 (`001_…` 第五篇 1 直接办理制, `000_…` 五(四) 当日能办结的必须当日办结):
    yellow 2 working hours after receipt (our default), red if open at close of business."""
    a = immediate(9).assess()
    slow = only(a, R.IMMEDIATE_SLOW)
    assert span(slow) == (at(2026, 3, 10, 11), at(2026, 3, 10, 17, 30)) and slow.superseded
    assert span(only(a, R.IMMEDIATE_OPEN_AT_CLOSE)) == (at(2026, 3, 10, 17, 30), None)


def test_immediate_working_hours_skip_the_lunch_break() -> None:
    """Working time counts service hours only: 11:00 + 2 h = 15:00 (12:00-14:00 is closed)."""
    assert only(immediate(11).assess(), R.IMMEDIATE_SLOW).start == at(2026, 3, 10, 15)


def test_immediate_received_late_in_the_day_goes_straight_to_red() -> None:
    """Received at 16:30, two working hours would end tomorrow: the red at 17:30 comes first."""
    assert rules(immediate(16, 30).assess()) == [R.IMMEDIATE_OPEN_AT_CLOSE]


def test_immediate_completed_on_the_spot_raises_nothing() -> None:
    """现场办结: finished within the hour → no card at all."""
    s = immediate(9)
    s.add(A.COMPLETED, at(2026, 3, 10, 9, 40), outcome=Outcome.APPROVED)
    assert s.assess().conditions == ()


def test_immediate_finished_in_the_afternoon_only_the_yellow() -> None:
    """Slow but done the same day: the yellow ends at completion, no red."""
    s = immediate(9)
    s.add(A.COMPLETED, at(2026, 3, 10, 16), outcome=Outcome.APPROVED)
    a = s.assess()
    assert rules(a) == [R.IMMEDIATE_SLOW]
    assert span(only(a, R.IMMEDIATE_SLOW)) == (at(2026, 3, 10, 11), at(2026, 3, 10, 16))


# --- joint (联办件) and steps (环节) --------------------------------------------------------


def test_joint_co_department_steps_each_on_their_own_limit() -> None:
    """联合办理制 (`001_…` 第五篇 3): each co-department gives its opinion within its own
    limit; a step over its limit is a card (a city's e-supervision rule, art. 6: 环节超时)
    even when the whole case is on time (`000_…` 八(五)2 延误联办事项)."""
    s = Story(kind=CaseKind.JOINT)
    s.accepted(at(2026, 3, 9, 10), promised_days=10, legal_days=45)
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept="gaj")
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept="zrj")
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="踏勘", step_days=3, dept="zjj")
    s.add(A.STEP_FINISHED, at(2026, 3, 11, 16), step="会签", dept="gaj")  # in time
    s.add(A.STEP_FINISHED, at(2026, 3, 12, 9), step="会签", dept="zrj")  # late
    s.add(A.COMPLETED, at(2026, 3, 13, 10), outcome=Outcome.APPROVED)  # 踏勘 ends with the case
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 23, 17, 30)
    assert R.PROMISED_OVERDUE not in rules(a)
    step = only(a, R.STEP_OVERDUE)
    assert step.qualifier == "zrj/会签"
    assert span(step) == (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 9))
    assert step.evidence == ("C2026-000123-2", "C2026-000123-5")


def test_two_late_steps_are_two_conditions() -> None:
    """Each step its own card: the same instant, two departments, two qualifiers."""
    s = Story(kind=CaseKind.JOINT)
    s.accepted(at(2026, 3, 9, 10), promised_days=10)
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept="gaj")
    s.add(A.STEP_STARTED, at(2026, 3, 10, 9), step="会签", step_days=1, dept="zrj")
    s.add(A.STEP_FINISHED, at(2026, 3, 12, 9), step="会签")  # no dept: ambiguous, matches none
    found = [c for c in s.assess().conditions if c.rule is R.STEP_OVERDUE]
    assert [c.qualifier for c in found] == ["gaj/会签", "zrj/会签"]
    assert all(span(c) == (at(2026, 3, 11, 17, 30), None) for c in found)


# --- reported up (上报件) -------------------------------------------------------------------


def reported() -> Story:
    s = Story(kind=CaseKind.REPORTED)
    s.accepted(at(2026, 3, 9, 10), promised_days=5, legal_days=20)
    return s


def test_reported_late_report() -> None:
    """上报办理制 (`001_…` 第五篇 4; `000_…` 八(四)9 不按时上报): reported up within 3 working
    days of acceptance (a hall's case rules)."""
    s = reported()
    s.add(A.REPORTED_UP, at(2026, 3, 13, 9), authority="市局")
    late = only(s.assess(), R.REPORTED_LATE_REPORT)
    assert span(late) == (at(2026, 3, 12, 17, 30), at(2026, 3, 13, 9))


def test_reported_time_with_the_higher_level_is_suspended() -> None:
    """The time the higher level holds it is not the window's (docs/cards.md, 上报件): 11 Mar
    10:00 to 17 Mar 10:00 is 28 working hours (4 days), so the promised limit moves from
    16 Mar to 20 Mar 17:30. The applicant is told within 2 working days of the reply."""
    s = reported()
    s.add(A.REPORTED_UP, at(2026, 3, 11, 10), authority="市局")
    s.add(A.REPLY_RECEIVED, at(2026, 3, 17, 10), authority="市局")
    s.add(A.COMPLETED, at(2026, 3, 20, 9), outcome=Outcome.APPROVED)
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 20, 17, 30)
    assert R.PROMISED_OVERDUE not in rules(a) and R.REPORTED_LATE_REPORT not in rules(a)
    late = only(a, R.REPORTED_LATE_ANSWER)
    assert span(late) == (at(2026, 3, 19, 17, 30), at(2026, 3, 20, 9))


def test_reported_no_deadline_while_the_higher_level_holds_it() -> None:
    """While the case is with the higher level, the window's clock does not run."""
    s = reported()
    s.add(A.REPORTED_UP, at(2026, 3, 11, 10), authority="市局")
    a = s.assess()
    assert a.due is None
    assert rules(a) == []


def test_reported_answered_in_time() -> None:
    """Delivered the day after the reply: no late answer."""
    s = reported()
    s.add(A.REPORTED_UP, at(2026, 3, 10, 10), authority="市局")
    s.add(A.REPLY_RECEIVED, at(2026, 3, 12, 10), authority="市局")
    s.add(A.DELIVERED, at(2026, 3, 13, 10))
    assert rules(s.assess()) == []


# --- supplement (补办件, 补正) ----------------------------------------------------------------


OUTER = Policy(supplement_days=5)  # 行政许可法 第三十二条: the outer bound a hall may configure


def supplement() -> Story:
    s = Story(kind=CaseKind.SUPPLEMENT)
    s.received(at(2026, 3, 9, 10))
    return s


def test_supplement_notice_within_five_working_days() -> None:
    """行政许可法 第三十二条, configured as the hall's outer bound: accept, or tell the applicant
    everything missing, within 5 days (else it counts as accepted); `000_…` 八(四)2 一次性告知."""
    late = only(supplement().assess(OUTER), R.SUPPLEMENT_NOTICE_LATE)
    assert span(late) == (at(2026, 3, 16, 17, 30), None)
    s = supplement()
    s.accepted(at(2026, 3, 16, 10), promised_days=3)
    assert R.SUPPLEMENT_NOTICE_LATE not in rules(s.assess(OUTER))
    s = supplement()
    s.add(A.RETURNED, at(2026, 3, 17, 9), reason="材料不全", reason_code=3)
    assert span(only(s.assess(OUTER), R.SUPPLEMENT_NOTICE_LATE)) == (
        at(2026, 3, 16, 17, 30),
        at(2026, 3, 17, 9),
    )


def test_supplement_suspension_moves_the_deadline_by_exactly_the_time_suspended() -> None:
    """Waiting for the applicant's materials stops the clock (docs/cards.md, 补办件): 10 Mar 15:00
    to 11 Mar 09:00 covers 2.5 + 0.5 = 3 working hours, so 16 Mar 17:30 → 17 Mar 11:30."""
    s = supplement()
    s.add(A.SUSPENDED, at(2026, 3, 10, 15), reason="补正材料")
    s.add(A.RESUMED, at(2026, 3, 11, 9), reason="材料已补齐")
    late = only(s.assess(OUTER), R.SUPPLEMENT_NOTICE_LATE)
    assert late.start == at(2026, 3, 16, 17, 30) + timedelta(hours=18)  # = 17 Mar 11:30
    assert late.start == at(2026, 3, 17, 11, 30)
    assert CAL.working_time(at(2026, 3, 10, 15), at(2026, 3, 11, 9)) == timedelta(hours=3)


def test_suspension_before_acceptance_does_not_move_the_promised_limit() -> None:
    """The promised clock starts at the receipt (受理通知书): materials awaited before it are
    the notice clock's business, not the promise's."""
    s = supplement()
    s.add(A.SUSPENDED, at(2026, 3, 9, 11), reason="补正材料")
    s.add(A.RESUMED, at(2026, 3, 12, 9), reason="材料已补齐")
    s.accepted(at(2026, 3, 12, 9, 30), promised_days=3)
    a = s.assess(OUTER)
    assert a.due is not None and a.due.at == at(2026, 3, 17, 17, 30)
    assert R.SUPPLEMENT_NOTICE_LATE not in rules(a)


def test_open_suspension_has_no_deadline_and_no_warning() -> None:
    """While a suspension is open the clock has no deadline (docs/cards.md): the warning ends when
    the suspension begins, and starts again after it."""
    s = promised()
    s.add(A.SUSPENDED, at(2026, 3, 12, 9), reason="专家评审")
    a = s.assess()
    assert a.due is None
    assert span(only(a, R.PROMISED_WARNING)) == (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 9))
    s.add(A.RESUMED, at(2026, 3, 13, 9), reason="评审结束")  # 3 + 3.5 + 0.5 = 7 h: one day
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 13, 17, 30)
    warnings = [span(c) for c in a.conditions if c.rule is R.PROMISED_WARNING]
    assert warnings == [
        (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 9)),
        (at(2026, 3, 13, 9), at(2026, 3, 13, 17, 30)),
    ]


def test_suspension_after_the_deadline_moves_nothing() -> None:
    """A suspension begun after the limit passed does not excuse the breach."""
    s = promised()
    s.add(A.SUSPENDED, at(2026, 3, 13, 9), reason="补正材料")
    s.add(A.RESUMED, at(2026, 3, 16, 9), reason="材料已补齐")
    assert span(only(s.assess(), R.PROMISED_OVERDUE)) == (at(2026, 3, 12, 17, 30), None)


# --- returned (退回件) and the negative filing (否定报备制) -----------------------------------


def returned(reason: str | None) -> Story:
    s = Story(kind=CaseKind.RETURNED)
    s.received(at(2026, 3, 10, 9))
    s.add(A.RETURNED, at(2026, 3, 10, 10), reason=reason, reason_code=1)
    return s


@pytest.mark.parametrize("reason", [None, "", "   ", "\u3000"])
def test_returned_without_reason(reason: str | None) -> None:
    """否定报备制 (`000_…` 六(一), 二(二)): a refusal must give its reasons in writing; a blank
    reason (spaces, a full-width space) is none. A breach at an instant."""
    c = only(returned(reason).assess(), R.RETURNED_NO_REASON)
    assert span(c) == (at(2026, 3, 10, 10), at(2026, 3, 10, 10))


def test_refusal_not_reviewed_in_time() -> None:
    """`000_…` 六(五): the supervising leader reviews a refusal within 2 working days."""
    a = returned("不符合法定条件").assess()
    assert R.RETURNED_NO_REASON not in rules(a)
    assert span(only(a, R.REFUSAL_REVIEW_LATE)) == (at(2026, 3, 12, 17, 30), None)


def test_unlawful_refusal_corrected_late() -> None:
    """`000_…` 六(五): after the review finds a refusal unlawful, the officer corrects it and
    tells the applicant within 1 working day."""
    s = returned("不符合法定条件")
    s.add(A.REFUSAL_REVIEWED, at(2026, 3, 11, 10), verdict=ReviewVerdict.UNLAWFUL, reviewer="L001")
    s.add(A.CORRECTED, at(2026, 3, 13, 9))
    a = s.assess()
    assert R.REFUSAL_REVIEW_LATE not in rules(a)
    late = only(a, R.REFUSAL_CORRECTION_LATE)
    assert span(late) == (at(2026, 3, 12, 17, 30), at(2026, 3, 13, 9))


def test_lawful_refusal_needs_no_correction() -> None:
    """A refusal the leader upholds closes the negative filing."""
    s = returned("不符合法定条件")
    s.add(A.REFUSAL_REVIEWED, at(2026, 3, 11, 10), verdict=ReviewVerdict.UPHELD, reviewer="L001")
    assert rules(s.assess()) == []


def test_a_refused_decision_is_a_refusal_too() -> None:
    """A `completed` with outcome `refused` is filed and reviewed like a refusal at the window."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 10), outcome=Outcome.REFUSED)
    assert span(only(s.assess(), R.REFUSAL_REVIEW_LATE)) == (at(2026, 3, 12, 17, 30), None)


# --- special (特办件) ------------------------------------------------------------------------


def test_special_explicit_deadline() -> None:
    """特事特办 (`001_…` 第一篇(二)三, `003_…` 特办件): an explicit deadline per case; the warning
    comes the same lead before it."""
    s = Story(kind=CaseKind.SPECIAL)
    s.accepted(at(2026, 3, 9, 10), deadline=at(2026, 3, 11, 12))
    a = s.assess()
    assert span(only(a, R.SPECIAL_WARNING)) == (at(2026, 3, 10, 12), at(2026, 3, 11, 12))
    assert span(only(a, R.SPECIAL_OVERDUE)) == (at(2026, 3, 11, 12), None)
    assert R.PROMISED_OVERDUE not in rules(a)
    s.add(A.COMPLETED, at(2026, 3, 11, 11), outcome=Outcome.APPROVED)
    assert rules(s.assess()) == [R.SPECIAL_WARNING]


# --- extensions (延时办理) ------------------------------------------------------------------


def test_extension_before_the_deadline_moves_it() -> None:
    """`000_…` 四(五): an extension with a leader's approval, made in time, replaces the
    deadline (2 more working days: 12 Mar → 16 Mar)."""
    s = promised()
    s.add(A.EXTENDED, at(2026, 3, 12, 10), extra_days=2, approved_by="L001")
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 16, 17, 30)
    assert span(only(a, R.PROMISED_OVERDUE)) == (at(2026, 3, 16, 17, 30), None)
    assert only(a, R.PROMISED_OVERDUE).evidence == ("C2026-000123-0", "C2026-000123-1")
    warnings = [span(c) for c in a.conditions if c.rule is R.PROMISED_WARNING]
    assert warnings == [
        (at(2026, 3, 11, 17, 30), at(2026, 3, 12, 10)),  # the extension lifted it
        (at(2026, 3, 13, 17, 30), at(2026, 3, 16, 17, 30)),
    ]


def test_extension_to_a_new_deadline() -> None:
    """`new_deadline` replaces the limit with the instant given."""
    s = promised()
    s.add(A.EXTENDED, at(2026, 3, 11, 10), new_deadline=at(2026, 3, 20, 12), approved_by="L001")
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 20, 12)
    assert span(only(a, R.PROMISED_WARNING)) == (at(2026, 3, 19, 12), at(2026, 3, 20, 12))


def test_extension_after_the_deadline_is_a_breach_and_moves_nothing() -> None:
    """`000_…` 四(五): no extension without reason and approval in time; one made after the
    limit passed is itself a red and the overdue stands."""
    s = promised()
    s.add(A.EXTENDED, at(2026, 3, 13, 9), extra_days=5, approved_by="L001")
    a = s.assess()
    assert a.due is not None and a.due.at == at(2026, 3, 12, 17, 30)
    late = only(a, R.EXTENSION_LATE)
    assert span(late) == (at(2026, 3, 13, 9), at(2026, 3, 13, 9))
    assert late.evidence == ("C2026-000123-1",)
    assert span(only(a, R.PROMISED_OVERDUE)) == (at(2026, 3, 12, 17, 30), None)


def test_extension_does_not_move_the_legal_limit() -> None:
    """The legal limit (`000_…` 八(五)1) is the law's, not the promise's."""
    s = promised(days=3, legal=5)
    s.add(A.EXTENDED, at(2026, 3, 12, 10), extra_days=5, approved_by="L001")
    a = s.assess()
    assert span(only(a, R.LEGAL_OVERDUE)) == (at(2026, 3, 16, 17, 30), None)


# --- order and unknown years ----------------------------------------------------------------


def test_the_order_events_arrive_in_does_not_matter() -> None:
    """Events count at their own ts (the contract's common rules): a late upload lands in place."""
    s = reported()
    s.add(A.REPORTED_UP, at(2026, 3, 11, 10), authority="市局")
    s.add(A.REPLY_RECEIVED, at(2026, 3, 17, 10), authority="市局")
    s.add(A.COMPLETED, at(2026, 3, 20, 9), outcome=Outcome.APPROVED)
    shuffled = Story(kind=CaseKind.REPORTED, entries=list(reversed(s.entries)))
    assert shuffled.assess() == s.assess()


def test_a_deadline_in_an_unknown_year_is_estimated() -> None:
    """A year with no published schedule counts weekends only, and says so (docs/cards.md)."""
    last = LIBRARY_YEARS[-1]
    s = Story()
    s.accepted(at(last, 12, 28, 10), promised_days=10)
    a = s.assess()
    assert a.due is not None and a.due.estimated
    assert a.unknown_years == frozenset({last + 1})
    assert only(a, R.PROMISED_OVERDUE).estimated
    known = WorkCalendar(SHANGHAI, [HOURS], complete_years=[last + 1])
    b = s.assess(cal=known)
    assert b.due is not None and not b.due.estimated and b.unknown_years == frozenset()
    s.add(A.COMPLETED, at(last, 12, 29, 10), outcome=Outcome.APPROVED)
    assert s.assess().unknown_years == frozenset()  # nothing open reaches into it


# --- the rules as the seeds say (case rules) ---------------------------------------------


@pytest.mark.parametrize(
    ("decided", "late"),
    [
        (None, (at(2026, 3, 9, 17, 30), None)),  # nothing told that day: late at close
        (at(2026, 3, 9, 16), None),  # accepted the same visit: on the spot
        (at(2026, 3, 10, 9), (at(2026, 3, 9, 17, 30), at(2026, 3, 10, 9))),  # next day: late
    ],
)
def test_supplement_notice_on_the_spot_by_default(
    decided: datetime | None, late: tuple[object, object] | None
) -> None:
    """`000_d7818c12e4aa5d4b 二` 一次性告知制 (002 一次性告知制度 一/六 当场一次性告知): the notice
    belongs to the receipt's working day, not the licensing law's 5 days."""
    s = supplement()
    if decided is not None:
        s.accepted(decided, promised_days=3)
    a = s.assess()
    if late is None:
        assert R.SUPPLEMENT_NOTICE_LATE not in rules(a)
    else:
        assert span(only(a, R.SUPPLEMENT_NOTICE_LATE)) == late


def test_second_supplement_request_is_its_own_card() -> None:
    """`000_d7818c12e4aa5d4b 八(四)2`: 致使申办人因材料不合格多次申报 — the first request for
    materials is the notice; each later one on the same case is a breach at its instant."""
    s = supplement()
    s.add(A.SUSPENDED, at(2026, 3, 9, 10, 30), reason="补正材料")
    s.add(A.SUSPENDED, at(2026, 3, 9, 10, 40), reason="补正材料")  # still suspended: no-op
    s.add(A.RESUMED, at(2026, 3, 11, 9), reason="材料已补齐")
    assert R.SUPPLEMENT_REPEATED not in rules(s.assess())
    again = s.add(A.SUSPENDED, at(2026, 3, 11, 10), reason="又缺一份")
    c = only(s.assess(), R.SUPPLEMENT_REPEATED)
    assert span(c) == (at(2026, 3, 11, 10), at(2026, 3, 11, 10))
    assert c.qualifier == again.event_id and c.evidence[-1] == again.event_id


def test_completed_refused_without_reason_is_a_card() -> None:
    """`000_d7818c12e4aa5d4b 二(二)`: 一次性告知不能办理的理由和依据 — a `completed` refused
    with no reason is a refusal without reasons, like a bare `returned`."""
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 10), outcome=Outcome.REFUSED)
    assert span(only(s.assess(), R.RETURNED_NO_REASON)) == (at(2026, 3, 10, 10),) * 2
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 10), outcome=Outcome.REFUSED, reason="不符合法定条件")
    assert R.RETURNED_NO_REASON not in rules(s.assess())
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 10, 10), outcome=Outcome.APPROVED)
    assert R.RETURNED_NO_REASON not in rules(s.assess())


LEADERS = Policy(leaders=frozenset({LEADER}))
GOOD: dict[str, object] = {"approved_by": LEADER, "reason": "需现场核查", "applicant_told": True}


@pytest.mark.parametrize(
    ("fields", "moves"),
    [
        (GOOD, True),
        ({**GOOD, "approved_by": OFFICER}, False),  # the case's own officer
        ({**GOOD, "approved_by": OTHER}, False),  # not a leader
        ({**GOOD, "reason": None}, False),  # no reason
        ({**GOOD, "reason": "  "}, False),
        ({**GOOD, "applicant_told": None}, False),  # applicant not told
        ({**GOOD, "applicant_told": False}, False),
    ],
)
def test_extension_needs_a_leader_a_reason_and_the_applicant_told(
    fields: dict[str, object], moves: bool
) -> None:
    """`000_d7818c12e4aa5d4b 四(五)`: 报领导审批，并告知申办人延时办理理由. Otherwise a card at the
    extension's instant, and the deadline stays (12 Mar 17:30: red then)."""
    s = promised()
    x = s.add(A.EXTENDED, at(2026, 3, 11, 9), extra_days=2, **fields)
    a = s.assess(LEADERS)
    assert a.due is not None
    assert a.due.at == (at(2026, 3, 16, 17, 30) if moves else at(2026, 3, 12, 17, 30))
    if moves:
        assert R.EXTENSION_UNAPPROVED not in rules(a)
    else:
        c = only(a, R.EXTENSION_UNAPPROVED)
        assert (c.qualifier, span(c)) == (x.event_id, (x.ts, x.ts))
        assert only(a, R.PROMISED_OVERDUE).start == at(2026, 3, 12, 17, 30)


@pytest.mark.parametrize(("reviewer", "counts"), [(LEADER, True), (OFFICER, False), (OTHER, False)])
def test_refusal_review_needs_a_leader(reviewer: StaffId, counts: bool) -> None:
    """`000_d7818c12e4aa5d4b 六(五)`, 四(五): the leader reviews, never the case's own officer;
    a review by anyone else is a card and the review is still due."""
    s = returned("不符合法定条件")
    s.add(A.REFUSAL_REVIEWED, at(2026, 3, 11, 9), verdict=ReviewVerdict.UPHELD, reviewer=reviewer)
    a = s.assess(LEADERS)
    assert (R.REFUSAL_REVIEW_LATE not in rules(a)) is counts
    assert (R.REFUSAL_REVIEW_UNQUALIFIED in rules(a)) is not counts


DEEMED = Policy(deemed_approval=True)


def test_deemed_approved_past_the_limit_when_the_hall_says_so() -> None:
    """`003_fc486b7e164530f7 三` 限时办结，超时默认: with the hall option on, a case open past
    its limit is recorded as approved then, with its own card; off by default."""
    a = promised().assess(DEEMED)
    c = only(a, R.DEEMED_APPROVED)
    assert span(c) == (at(2026, 3, 12, 17, 30),) * 2
    assert a.deemed_approved_at == at(2026, 3, 12, 17, 30)
    assert R.PROMISED_OVERDUE in rules(a)  # still the officer's breach
    off = promised().assess()
    assert R.DEEMED_APPROVED not in rules(off) and off.deemed_approved_at is None
    s = promised()
    s.add(A.COMPLETED, at(2026, 3, 12, 17), outcome=Outcome.APPROVED)
    assert R.DEEMED_APPROVED not in rules(s.assess(DEEMED))

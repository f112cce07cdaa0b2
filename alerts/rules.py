"""The card rules as data: id, level, what triggers them, their thresholds and sources.

Thresholds live in `Policy`, one per hall, with per-kind overrides of the warning lead. The
defaults below are the ones documented in README.md; each names its source for developers,
and alerts/basis.py says it for users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from alerts.events import CaseKind
from alerts.ids import StaffId
from alerts.items import CaseItem


class Level(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


class RuleId(StrEnum):
    PROMISED_WARNING = "case.promised.warning"
    PROMISED_OVERDUE = "case.promised.overdue"
    LEGAL_OVERDUE = "case.legal.overdue"
    SPECIAL_WARNING = "case.special.warning"
    SPECIAL_OVERDUE = "case.special.overdue"
    IMMEDIATE_SLOW = "case.immediate.slow"
    IMMEDIATE_OPEN_AT_CLOSE = "case.immediate.open_at_close"
    STEP_OVERDUE = "case.step.overdue"
    REPORTED_LATE_REPORT = "case.reported.late_report"
    REPORTED_LATE_ANSWER = "case.reported.late_answer"
    SUPPLEMENT_NOTICE_LATE = "case.supplement.notice_late"
    SUPPLEMENT_REPEATED = "case.supplement.repeated"
    RETURNED_NO_REASON = "case.returned.no_reason"
    REFUSAL_REVIEW_LATE = "case.refusal.review_late"
    REFUSAL_CORRECTION_LATE = "case.refusal.correction_late"
    EXTENSION_LATE = "case.extension.late"
    EXTENSION_UNAPPROVED = "case.extension.unapproved"
    REFUSAL_REVIEW_UNQUALIFIED = "case.refusal.review_unqualified"
    DEEMED_APPROVED = "case.deemed_approved"
    CALENDAR_MISSING = "calendar.missing"
    POST_UNSTAFFED_WARNING = "post.unstaffed.warning"
    POST_UNSTAFFED = "post.unstaffed"
    POST_AB_UNCOVERED = "post.ab_uncovered"
    POST_NOTICE_INCOMPLETE = "post.notice_incomplete"
    LEAVE_UNAPPROVED = "leave.unapproved"
    ATTENDANCE_LATE = "attendance.late"
    ATTENDANCE_EARLY = "attendance.early"
    ATTENDANCE_ABSENT_HALF_DAY = "attendance.absent_half_day"
    ATTENDANCE_MISSING_PUNCH = "attendance.missing_punch"
    DUTY_LATE = "duty.late"
    DUTY_ABSENT = "duty.absent"
    DUTY_QUOTA_MISSED = "duty.quota_missed"
    DUTY_SHORT = "duty.short"
    HOLIDAY_DUTY_LATE = "holiday_duty.late"
    HOLIDAY_DUTY_ABSENT = "holiday_duty.absent"
    HOLIDAY_DUTY_SHORT = "holiday_duty.short"
    COMPLAINT_ACCEPT_LATE = "complaint.accept_late"
    COMPLAINT_RESULT_LATE = "complaint.result_late"
    COMPLAINT_FOUNDED = "complaint.founded"
    COMPLAINT_HANDLING_LATE = "complaint.handling_late"
    REVIEW_BAD_UNRECTIFIED = "review.bad.unrectified"
    HEAD_WARNING = "accountability.head_warning"
    REPEAT_OFFENDER = "accountability.repeat_offender"


@dataclass(frozen=True, slots=True)
class Rule:
    id: RuleId
    level: Level
    title_zh: str
    # The developer's note: which seed and article, which number is ours. Never shown to users:
    # they read the rule's basis in the hall's regulations (alerts/basis.py, one line per rule).
    source: str


RULES: dict[RuleId, Rule] = {
    r.id: r
    for r in (
        Rule(
            RuleId.PROMISED_WARNING,
            Level.YELLOW,
            "承诺时限即将到期",
            "a city's e-supervision rule: 到期前1个工作日提示",
        ),
        Rule(
            RuleId.PROMISED_OVERDUE,
            Level.RED,
            "超过承诺时限",
            "000_… 八: 超过承诺时限; 001_… 第五篇 六制办理",
        ),
        Rule(RuleId.LEGAL_OVERDUE, Level.RED, "超过法定时限", "000_… 八: 超过法定时限"),
        Rule(
            RuleId.SPECIAL_WARNING,
            Level.YELLOW,
            "特办件时限即将到期",
            "same lead as the promised warning (到期前1个工作日提示)",
        ),
        Rule(RuleId.SPECIAL_OVERDUE, Level.RED, "特办件超时", "001_… 第五篇 六制办理: 特事特办"),
        Rule(
            RuleId.IMMEDIATE_SLOW,
            Level.YELLOW,
            "即办件受理后2小时未办结",
            "本中心规定 (ours): yellow 2 working hours after receipt",
        ),
        Rule(
            RuleId.IMMEDIATE_OPEN_AT_CLOSE,
            Level.RED,
            "即办件当日未办结",
            "001_… 第五篇 六制办理: 即办件当场办结",
        ),
        Rule(
            RuleId.STEP_OVERDUE,
            Level.RED,
            "办理环节超时",
            "a city's e-supervision rule, art. 6: 环节超时",
        ),
        Rule(
            RuleId.REPORTED_LATE_REPORT,
            Level.RED,
            "上报件未按时上报",
            "a hall's case rules: report within 3 working days of acceptance",
        ),
        Rule(
            RuleId.REPORTED_LATE_ANSWER,
            Level.RED,
            "上级批复后未按时答复申请人",
            "a hall's case rules: tell the applicant within 2 working days of the reply",
        ),
        Rule(
            RuleId.SUPPLEMENT_NOTICE_LATE,
            Level.RED,
            "补正告知超时",
            "000_… 二 一次性告知制: 当场一次性告知 (same working day as receipt); "
            "行政许可法 第三十二条: 5 days the outer bound",
        ),
        Rule(
            RuleId.SUPPLEMENT_REPEATED,
            Level.RED,
            "多次补正告知",
            "000_… 八(四)2: 不一次性告知, 致使申办人因材料不合格多次申报",
        ),
        Rule(
            RuleId.RETURNED_NO_REASON,
            Level.RED,
            "退件未说明理由",
            "000_… 二(二): 一次性告知不能办理的理由和依据; 001_… 第五篇; 000_… 六 否定报备制",
        ),
        Rule(
            RuleId.REFUSAL_REVIEW_LATE,
            Level.RED,
            "否定报备未按时审核",
            "000_… 六(五): the leader reviews and corrects within 2 working days",
        ),
        Rule(
            RuleId.REFUSAL_CORRECTION_LATE,
            Level.RED,
            "违规否定未按时纠正",
            "000_… 六(五): correction within 1 working day after the review",
        ),
        Rule(
            RuleId.EXTENSION_LATE,
            Level.RED,
            "超期后才办理延期",
            "000_… 四(五): extension only with approval, before the limit",
        ),
        Rule(
            RuleId.EXTENSION_UNAPPROVED,
            Level.RED,
            "延期审批不合规",
            "000_… 四(五): 报领导审批, 并告知申办人延时办理理由 (a leader, not the officer; "
            "a reason; the applicant told)",
        ),
        Rule(
            RuleId.REFUSAL_REVIEW_UNQUALIFIED,
            Level.RED,
            "否定审核不合规",
            "000_… 六(五): the leader reviews (a leader, never the case's own officer)",
        ),
        Rule(
            RuleId.DEEMED_APPROVED,
            Level.RED,
            "超时默认办结",
            "003_… 三: 限时办结, 超时默认 (a hall option, off by default)",
        ),
        Rule(
            RuleId.CALENDAR_MISSING,
            Level.YELLOW,
            "节假日安排未录入",
            "本中心规定 (ours): never miscount when a year is missing; say so loudly",
        ),
        Rule(
            RuleId.POST_UNSTAFFED_WARNING,
            Level.YELLOW,
            "窗口无人",
            "本中心规定 (ours): empty and uncovered 5 working minutes",
        ),
        Rule(
            RuleId.POST_UNSTAFFED,
            Level.RED,
            "窗口离岗超时",
            "其他地区的做法 (苍南): away from the post 15 min or more",
        ),
        Rule(
            RuleId.POST_AB_UNCOVERED,
            Level.RED,
            "AB岗均不在岗",
            "001_… 第五篇 4: AB岗 — the first available B covers",
        ),
        Rule(
            RuleId.POST_NOTICE_INCOMPLETE,
            Level.YELLOW,
            "离岗告示不完整",
            "《行政服务中心办事制度》(一)4 离岗告示制度：上班期间因故暂时离开岗位时，"
            "应在窗口放置告示牌，内容包括离岗原因、去向和联系方式",
        ),
        Rule(
            RuleId.LEAVE_UNAPPROVED,
            Level.RED,
            "请假审批不合规",
            "《县行政服务中心管理办公室十项制度》(十)6：请假在半天之内由分管领导准假；"
            "超过一天的分管领导批准后须向主要领导准假",
        ),
        Rule(
            RuleId.ATTENDANCE_LATE,
            Level.YELLOW,
            "迟到",
            "001_… 第一篇(十)1 指纹打卡; 其他地区的做法 (苍南): late ≤ 10 min −1 point",
        ),
        Rule(
            RuleId.ATTENDANCE_EARLY,
            Level.YELLOW,
            "早退",
            "001_… 第一篇(十)1 指纹打卡; 其他地区的做法 (苍南): early ≤ 10 min −1 point",
        ),
        Rule(
            RuleId.ATTENDANCE_ABSENT_HALF_DAY,
            Level.RED,
            "按旷工半天计",
            "其他地区的做法 (苍南等): beyond 15 min counts as half a day's absence",
        ),
        Rule(
            RuleId.ATTENDANCE_MISSING_PUNCH,
            Level.RED,
            "缺卡",
            "其他地区的做法 (苍南等): no punch and no leave = absence; make-up within 1 day",
        ),
        Rule(
            RuleId.DUTY_LATE,
            Level.YELLOW,
            "值班领导未到岗",
            "本中心规定 (ours): yellow 30 min after the duty half-day starts without presence",
        ),
        Rule(
            RuleId.DUTY_ABSENT,
            Level.RED,
            "值班领导缺岗",
            "002_… 领导值班制度 二: 按时间表到中心值班; "
            "本中心规定 (ours): red at the half-day's end",
        ),
        Rule(
            RuleId.DUTY_QUOTA_MISSED,
            Level.RED,
            "半月值班不足",
            "002_… 领导值班制度 二: 每半个月不少于一次，每次不少于半天",
        ),
        Rule(
            RuleId.DUTY_SHORT,
            Level.RED,
            "值班不足半天",
            "《镇政务服务中心各项制度》领导值班制度 二：每次值班时间不少于半天",
        ),
        Rule(
            RuleId.HOLIDAY_DUTY_LATE,
            Level.YELLOW,
            "假日值班未到岗",
            "《县行政服务中心管理办公室十项制度》(十)5：坚持做好节假日值班制度，"
            "值班人员要严格值班时间；本中心规定：值班开始30分钟后未到亮黄牌",
        ),
        Rule(
            RuleId.HOLIDAY_DUTY_ABSENT,
            Level.RED,
            "节假日值班缺岗",
            "《县行政服务中心管理办公室十项制度》(十)5：坚持做好节假日值班制度，"
            "值班人员要严格值班时间",
        ),
        Rule(
            RuleId.HOLIDAY_DUTY_SHORT,
            Level.RED,
            "假日值班早退",
            "《县行政服务中心管理办公室十项制度》(十)5：值班人员要严格值班时间",
        ),
        Rule(
            RuleId.COMPLAINT_ACCEPT_LATE,
            Level.RED,
            "投诉未按时受理",
            "其他地区的做法 (一市投诉规定): decide acceptance within 5 working days",
        ),
        Rule(
            RuleId.COMPLAINT_RESULT_LATE,
            Level.RED,
            "投诉未按时答复",
            "其他地区的做法 (十堰): result within 10 working days of acceptance",
        ),
        Rule(
            RuleId.COMPLAINT_FOUNDED,
            Level.RED,
            "投诉查实",
            "000_… 五(八): 一经群众举报, 如果属实, 立即立案; 本中心规定 (ours): −5",
        ),
        Rule(
            RuleId.COMPLAINT_HANDLING_LATE,
            Level.RED,
            "投诉处理超期",
            "000_… 五(八): 一个月内处理结束",
        ),
        Rule(
            RuleId.REVIEW_BAD_UNRECTIFIED,
            Level.RED,
            "差评未按时整改",
            "其他地区的做法 (好差评, 国办发〔2019〕51号下的省级规定): "
            "rectified within 5 (德州) to 15 (四川) working days",
        ),
        # Raised by alerts/supervision.py when a breach is upheld (docs/scores.md).
        Rule(
            RuleId.HEAD_WARNING,
            Level.YELLOW,
            "告诫窗口负责人",
            "《行政效能建设九项制度》八(五)：扣岗位责任人当月考评10—15分，"
            "取消该窗口当月评优评先资格，并对该窗口负责人予以告诫",
        ),
        Rule(
            RuleId.REPEAT_OFFENDER,
            Level.YELLOW,
            "一年内两次以上应予追究",
            "《行政效能建设九项制度》八(六)3：一年内出现两次以上应予追究行政责任的行为的，"
            "应当从重或者加重处理，并通知该部门主要负责人",
        ),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Thresholds of one hall. Working days unless the name says otherwise."""

    warning_days: int = 1  # yellow this many working days before a promised/special limit
    warning_days_by_kind: dict[CaseKind, int] = field(default_factory=dict)
    immediate_warning_minutes: int = 120  # of working time after receipt
    report_days: int = 3  # reported-up case: report within
    reply_answer_days: int = 2  # reported-up case: tell the applicant after the reply
    # 000_… 二 一次性告知制: told on the spot, by close of the receipt's working day; 行政许可法
    # 第三十二条's 5 working days is the outer bound a hall may configure.
    supplement_days: int = 0
    refusal_review_days: int = 2  # 000_… 六
    correction_days: int = 1  # 000_… 六(五)
    answer_days: int = 2  # the owner's answer (陈述申辩) is due within
    calendar_notice: tuple[int, int] = (11, 1)  # month, day: look at next year's schedule from
    # Who may approve an extension or review a refusal (000_… 四(五), 六(五)): the staff with a
    # leader role. None: no staff list given (the core alone); the daemon always passes one.
    leaders: frozenset[StaffId] | None = None
    deemed_approval: bool = False  # 003_… 三 超时默认: a case open past its limit is approved
    # The item catalogue (事项清单, alerts/items.py): a case event may name its item alone.
    items: Mapping[str, CaseItem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            date(2001, *self.calendar_notice)  # a day every year has: no 29 February
        except (TypeError, ValueError) as exc:
            text = f"calendar_notice: not a (month, day): {self.calendar_notice}"
            raise ValueError(text) from exc
        days = (self.warning_days, *self.warning_days_by_kind.values(), self.report_days)
        days += (self.reply_answer_days, self.supplement_days, self.refusal_review_days)
        days += (self.correction_days, self.answer_days, self.immediate_warning_minutes)
        if min(days) < 0:
            raise ValueError("policy thresholds cannot be negative")

    def warning_for(self, kind: CaseKind | None) -> int:
        if kind is None:
            return self.warning_days
        return self.warning_days_by_kind.get(kind, self.warning_days)

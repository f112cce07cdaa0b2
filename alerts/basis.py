"""Each rule's basis (依据) as the people who read a card, a refusal or a report read it: the
hall's regulation by its Chinese title and article, and whether the rule's number is the
regulation's, the law's, or the hall's own (本中心规定). Pure.

One table, `BASES`, one line per rule; the console's card page, the printed notices, the
notices sent to people and the monthly report all render `Bases.text`. A hall names its own
regulations and may restate any rule's basis in `[basis]` (`BasisConfig`). The example hall's
defaults are the seeds' (the developer citations stay here, in comments):

- 九项制度 is `000_…` (parts 一 to 九 are 第一条 to 第九条, their items (一) 第一项, and a
  numbered point 1 第1目);
- the ten regulations of `001_…` 第一篇 each have their own title (限时办结制度 is 第一篇(四));
- 办事制度 is `001_…` 第五篇;
- 领导值班制度 is `002_… 领导值班制度`.

tests/test_basis.py fails when a rule has no entry, so a rule added anywhere gets its basis at
merge; it also checks each text is Chinese and names no seed file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import Field, field_validator

from alerts.model import ConfigModel
from alerts.rules import RULES, RuleId


class NumberFrom(StrEnum):
    """Whose number the rule's threshold is."""

    REGULATION = "regulation"  # the regulation says it (2个工作日)
    LAW = "law"  # a law says it (行政许可法)
    OURS = "ours"  # the hall's own (本中心规定), where the regulation gives no number
    ELSEWHERE = "elsewhere"  # the hall's own, taken from practice elsewhere
    NONE = "none"  # no number: the rule holds at once or at a limit the case carries


NUMBER_ZH: Final = {
    NumberFrom.REGULATION: "制度规定",
    NumberFrom.LAW: "法律规定",
    NumberFrom.OURS: "本中心规定",
    NumberFrom.ELSEWHERE: "本中心规定（参照其他地区做法）",
    NumberFrom.NONE: "无数字（即时或按办件自身时限）",
}

# The example hall's regulation titles: key → 《title》 (`[basis.regulations]` renames them).
REGULATIONS: Final[dict[str, str]] = {
    "nine": "《行政效能建设九项制度》",  # 000_…
    "pledge": "《县行政服务中心服务承诺制度》",  # 001_… 第一篇(二)
    "time_limit": "《县行政服务中心限时办结制度》",  # 001_… 第一篇(四)
    "negative": "《县行政服务中心否定报备制度》",  # 001_… 第一篇(五)
    "ab": "《县行政服务中心AB岗工作制度》",  # 001_… 第一篇(九)
    "signin": "《县行政服务中心管理办公室上下班签到及人员去向公示牌制度》",  # 001_… 第一篇(十)
    "handling": "《行政服务中心办事制度》",  # 001_… 第五篇
    "duty": "《镇政务服务中心领导值班制度》",  # 002_… 领导值班制度
    "licensing_law": "《中华人民共和国行政许可法》",
    "good_bad": "《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》",
}


@dataclass(frozen=True, slots=True)
class Cite:
    regulation: str  # a key of REGULATIONS
    article: str  # 第六条第五项
    gist: str  # what it says, in a few words


@dataclass(frozen=True, slots=True)
class Basis:
    cites: tuple[Cite, ...]
    number: NumberFrom
    default_zh: str  # the default threshold as a reader says it
    ours_zh: str = ""  # which number is the hall's own, when `number` is OURS or ELSEWHERE
    setting: str = ""  # the configuration key of the number ("cards.refusal_review_days")


def _b(number: NumberFrom, default: str, *cites: Cite, ours: str = "", setting: str = "") -> Basis:
    return Basis(cites, number, default, ours, setting)


def _c(regulation: str, article: str, gist: str) -> Cite:
    return Cite(regulation, article, gist)


R, N = RuleId, NumberFrom
_NEG = _c("nine", "第六条第五项", "主管领导审核，违法违规的应在2个工作日内纠正")  # 000_… 六(五)
_SIGN = _c("signin", "第1条、第2条", "指纹打卡签到签退，按时上下班")  # 001_… 第一篇(十)1
_AWAY = _c("handling", "第（一）部分第4条", "离岗告示：暂离岗位须放置告示牌")  # 001_… 第五篇 4
_DUTY = _c("duty", "第二条", "按中心编排的时间表到中心值班")  # 002_… 领导值班制度 二
_HOLIDAY = _c("signin", "第5条", "坚持节假日值班制度，值班人员严格值班时间")  # 001_… 第一篇(十)5
_PLEDGE = _c("time_limit", "第二条", "承诺办结时限，按时办结")  # 001_… 第一篇(四)
_SPECIAL = _c("pledge", "第三条", "特事特办、快事快办")  # 001_… 第一篇(二)三
_REPORTED = _c("handling", "第（二）部分第4条", "上报办理：在规定时限内上报")  # 001_… 第五篇 4
_COMPLAINTS = _c(
    "nine", "第八条第三项", "行政效能投诉中心负责投诉、举报的受理、查办"
)  # 000_… 八(三)
_FOUNDED = _c(
    "nine", "第五条第八项", "一经群众举报属实，立即立案，一个月内处理结束"
)  # 000_… 五(八)

HEARING: Final = _c("nine", "第八条第八项", "作出处理前应听取责任人的意见，保障其陈述和申辩的权利")

BASES: Final[dict[RuleId, Basis]] = {
    R.PROMISED_WARNING: _b(
        N.ELSEWHERE, "到期前1个工作日", _PLEDGE, ours="到期前提示", setting="cards.warning_days"
    ),
    R.PROMISED_OVERDUE: _b(
        N.NONE, "承诺时限届满", _c("nine", "第八条第四项第5目", "超过承诺时限办结")
    ),  # 000_… 八(四)5
    R.LEGAL_OVERDUE: _b(
        N.NONE, "法定时限届满", _c("nine", "第八条第五项第1目", "超过法定时限办结")
    ),  # 000_… 八(五)1
    R.SPECIAL_WARNING: _b(
        N.ELSEWHERE, "到期前1个工作日", _SPECIAL, ours="到期前提示", setting="cards.warning_days"
    ),
    R.SPECIAL_OVERDUE: _b(N.NONE, "办件自身的期限届满", _SPECIAL),
    R.IMMEDIATE_SLOW: _b(
        N.OURS,
        "收件后120个工作分钟",
        _c("handling", "第（二）部分第1条", "直接办理：即收即办、当场办理"),  # 001_… 第五篇 1
        ours="2个工作小时的提示",
        setting="cards.immediate_warning_minutes",
    ),
    R.IMMEDIATE_OPEN_AT_CLOSE: _b(
        N.REGULATION, "收件当日下班", _c("nine", "第五条第四项", "当日能办结的必须当日办结")
    ),  # 000_… 五(四)
    R.STEP_OVERDUE: _b(
        N.NONE,
        "环节自身的时限",
        _c("handling", "第（一）部分第2条", "办理期限按审批流程逐环节、逐岗位确定"),
    ),  # 001_… 第五篇 2
    R.REPORTED_LATE_REPORT: _b(
        N.ELSEWHERE, "受理后3个工作日", _REPORTED, ours="3个工作日", setting="cards.report_days"
    ),
    R.REPORTED_LATE_ANSWER: _b(
        N.ELSEWHERE,
        "上级批复后2个工作日",
        _REPORTED,
        ours="2个工作日",
        setting="cards.reply_answer_days",
    ),
    R.SUPPLEMENT_NOTICE_LATE: _b(
        N.LAW,
        "收件当日（0个工作日，最长5日）",
        _c("nine", "第二条第一项", "材料不齐全的，应一次性告知所需补齐的材料"),  # 000_… 二(一)
        _c("licensing_law", "第三十二条", "当场或者在五日内一次性告知需要补正的全部内容"),
        setting="cards.supplement_days",
    ),
    R.SUPPLEMENT_REPEATED: _b(
        N.NONE,
        "即时",
        _c("nine", "第八条第四项第2目", "不一次性告知补正材料，致使申办人多次申报"),
    ),  # 000_… 八(四)2
    R.RETURNED_NO_REASON: _b(
        N.NONE,
        "即时",
        _c("nine", "第二条第二项", "不能办理的，一次性告知理由和依据"),  # 000_… 二(二)
        _c("nine", "第六条第一项", "不批准的理由以书面形式报主管领导签字备案"),  # 000_… 六(一)
    ),
    R.REFUSAL_REVIEW_LATE: _b(
        N.REGULATION, "否定后2个工作日", _NEG, setting="cards.refusal_review_days"
    ),
    R.REFUSAL_CORRECTION_LATE: _b(
        N.REGULATION,
        "纠正意见后1个工作日",
        _c("nine", "第六条第五项", "经办人接到纠正意见后1个工作日内办好并告知申办人"),
        setting="cards.correction_days",
    ),
    R.EXTENSION_LATE: _b(
        N.NONE,
        "期限届满后的延期",
        _c("nine", "第四条第五项", "确需延时办理的，报领导审批并告知申办人理由"),  # 000_… 四(五)
    ),
    R.EXTENSION_UNAPPROVED: _b(
        N.NONE,
        "即时",
        _c("nine", "第四条第五项", "确需延时办理的，报领导审批并告知申办人理由"),
    ),
    R.REFUSAL_REVIEW_UNQUALIFIED: _b(
        N.NONE,
        "即时",
        _c("nine", "第六条第四项、第五项", "否定报备由主管领导审核"),  # 000_… 六(四), 六(五)
    ),
    R.DEEMED_APPROVED: _b(
        N.OURS,
        "默认关闭",
        _PLEDGE,
        ours="超时默认办结（可选做法，默认不启用）",
        setting="cards.deemed_approval",
    ),
    R.CALENDAR_MISSING: _b(
        N.OURS,
        "次年11月1日起",
        _c("time_limit", "第二条", "按时办结，期限按工作日计算"),
        ours="节假日安排未录入时提前提示",
    ),
    R.POST_UNSTAFFED_WARNING: _b(
        N.OURS, "无人且无人顶岗5个工作分钟", _AWAY, ours="5分钟", setting="posts.yellow_min"
    ),
    R.POST_UNSTAFFED: _b(
        N.ELSEWHERE, "无人且无人顶岗15个工作分钟", _AWAY, ours="15分钟", setting="posts.red_min"
    ),
    R.POST_NOTICE_INCOMPLETE: _b(
        N.NONE,
        "即时",
        _c(
            "handling", "第（一）部分第4条", "告示牌写明离岗原因、去向和联系方式"
        ),  # 001_… 第五篇(一)4
    ),
    R.LEAVE_UNAPPROVED: _b(
        N.REGULATION,
        "半天以内分管领导批准，超过一天的还须主要领导批准",
        _c(
            "signin", "第6条", "请假须办理手续，按时长报分管领导、主要领导批准"
        ),  # 001_… 第一篇(十)6
        ours="半天至一天之间由分管领导批准",
    ),
    R.POST_AB_UNCOVERED: _b(
        N.NONE,
        "即时",
        _c("ab", "第四条第4项", "B岗可为多人，按序顶岗"),  # 001_… 第一篇(九)
        _c("nine", "第七条第三项", "A岗离岗时B岗主动顶替上岗"),  # 000_… 七(三)
    ),
    R.ATTENDANCE_LATE: _b(
        N.OURS, "超过签到时间0分钟", _SIGN, ours="迟到的宽限", setting="attendance.grace_min"
    ),
    R.ATTENDANCE_EARLY: _b(
        N.OURS, "早于签退时间0分钟", _SIGN, ours="早退的宽限", setting="attendance.grace_min"
    ),
    R.ATTENDANCE_ABSENT_HALF_DAY: _b(
        N.ELSEWHERE,
        "迟到或早退超过15分钟",
        _SIGN,
        ours="超过15分钟按旷工半天",
        setting="attendance.half_day_min",
    ),
    R.ATTENDANCE_MISSING_PUNCH: _b(N.ELSEWHERE, "无打卡又无请假", _SIGN, ours="缺卡按旷工计"),
    R.DUTY_LATE: _b(
        N.OURS,
        "值班开始后30分钟",
        _DUTY,
        ours="30分钟的到岗时限",
        setting="attendance.duty_late_min",
    ),
    R.DUTY_ABSENT: _b(N.OURS, "值班半天结束时", _DUTY, ours="半天结束时判定缺岗"),
    R.DUTY_SHORT: _b(
        N.OURS,
        "值班半天结束前30分钟至结束后60分钟内未见到岗",
        _c("duty", "第二条", "每次值班时间不少于半天"),  # 002_… 领导值班制度 二
        ours="以半天结束前后的到岗记录认定值满半天",
        setting="attendance.duty_end_before_min",
    ),
    R.HOLIDAY_DUTY_LATE: _b(
        N.OURS,
        "值班开始后30分钟",
        _HOLIDAY,
        ours="30分钟的到岗时限",
        setting="attendance.duty_late_min",
    ),
    R.HOLIDAY_DUTY_ABSENT: _b(N.OURS, "值班结束时", _HOLIDAY, ours="值班结束时判定缺岗"),
    R.HOLIDAY_DUTY_SHORT: _b(
        N.OURS,
        "值班结束前30分钟至结束后60分钟内未见到岗",
        _HOLIDAY,
        ours="以值班结束前后的到岗记录认定值满",
        setting="attendance.duty_end_before_min",
    ),
    R.HEAD_WARNING: _b(
        N.NONE,
        "违规经处理维持时",
        # 000_… 八(五)
        _c("nine", "第八条第五项", "造成不良影响的，扣岗位责任人当月考评分，告诫窗口负责人"),
    ),
    R.REPEAT_OFFENDER: _b(
        N.REGULATION,
        "一年内两次以上",
        # 000_… 八(六)3
        _c("nine", "第八条第六项第3目", "一年内出现两次以上应予追究行政责任的行为，从重处理"),
    ),
    R.DUTY_QUOTA_MISSED: _b(
        N.REGULATION,
        "每半个月不少于1次",
        _c("duty", "第二条", "每半个月不少于一次，每次值班时间不少于半天"),
        setting="attendance.duty_quota",
    ),
    R.COMPLAINT_ACCEPT_LATE: _b(
        N.ELSEWHERE,
        "收到后5个工作日",
        _COMPLAINTS,
        ours="5个工作日",
        setting="complaints.accept_days",
    ),
    R.COMPLAINT_RESULT_LATE: _b(
        N.ELSEWHERE,
        "受理后10个工作日",
        _COMPLAINTS,
        ours="10个工作日",
        setting="complaints.result_days",
    ),
    R.COMPLAINT_FOUNDED: _b(N.NONE, "即时", _FOUNDED),
    R.COMPLAINT_HANDLING_LATE: _b(
        N.REGULATION, "查实后1个月", _FOUNDED, setting="complaints.handling_months"
    ),
    R.REVIEW_BAD_UNRECTIFIED: _b(
        N.ELSEWHERE,
        "差评后5个工作日",
        _c("good_bad", "", "差评须整改"),
        ours="5个工作日",
        setting="complaints.review_rectify_days",
    ),
}


# --- a hall's own wording ([basis]) -----------------------------------------------------------


class RuleBasisConfig(ConfigModel):
    regulation: str = Field(
        description="Key of the regulation (in [basis.regulations] or the built-in ones)."
    )
    article: str = Field("", description="Article in Chinese, e.g. 第六条第五项.")
    gist: str = Field(min_length=1, description="What it says, in a few Chinese words.")
    number: NumberFrom = Field(
        NumberFrom.NONE,
        description="Whose number the threshold is: regulation, law, ours, elsewhere or none.",
    )
    ours: str = Field("", description="Which number is the hall's own (本中心规定), if any.")


class BasisConfig(ConfigModel):
    regulations: dict[str, str] = Field(
        default_factory=dict,
        description="Regulation key → the hall's title, e.g. nine = 《某县…九项制度》.",
    )
    rules: dict[str, RuleBasisConfig] = Field(
        default_factory=dict, description="Rule id → its basis in the hall's own words."
    )

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: dict[str, RuleBasisConfig]) -> dict[str, RuleBasisConfig]:
        unknown = sorted(set(v) - {r.value for r in RuleId})
        if unknown:
            raise ValueError(f"unknown rule ids: {', '.join(unknown)}")
        return v

    def problems(self) -> list[str]:
        titles = {**REGULATIONS, **self.regulations}
        return [
            f"basis.rules.{rule}.regulation: unknown regulation {r.regulation!r}"
            for rule, r in self.rules.items()
            if r.regulation not in titles
        ]


@dataclass(frozen=True, slots=True)
class Bases:
    """The bases of one hall: the built-in table with the hall's titles and rules over it."""

    titles: Mapping[str, str]
    table: Mapping[RuleId, Basis]

    @classmethod
    def of(cls, cfg: BasisConfig | None = None) -> Bases:
        if cfg is None:
            return DEFAULT
        table = dict(BASES)
        for rule, r in cfg.rules.items():
            cite = Cite(r.regulation, r.article, r.gist)
            old = BASES.get(RuleId(rule))
            default = old.default_zh if old else ""
            setting = old.setting if old else ""
            table[RuleId(rule)] = Basis((cite,), r.number, default, r.ours, setting)
        return cls({**REGULATIONS, **cfg.regulations}, table)

    def text(self, rule: RuleId | str) -> str:
        """The basis in one line: 《title》article（gist）；which number is ours."""
        try:
            b = self.table[RuleId(rule)]
        except (KeyError, ValueError):
            return "本中心规定"
        cites = "；".join(self._cite(c) for c in b.cites)
        if b.number is NumberFrom.OURS and b.ours_zh:
            return f"{cites}；{b.ours_zh}为本中心规定"
        if b.number is NumberFrom.ELSEWHERE and b.ours_zh:
            return f"{cites}；{b.ours_zh}为本中心规定（参照其他地区做法）"
        return cites

    def _cite(self, c: Cite) -> str:
        return f"{self.titles.get(c.regulation, '')}{c.article}（{c.gist}）"

    def hearing_text(self) -> str:
        """The basis of a red card's answer deadline (申辩期限): the hearing is the regulation's
        (000_… 八(八)), its number of working days is the hall's own."""
        return f"{self._cite(HEARING)}；申辩期限为本中心规定"

    def number_zh(self, rule: RuleId) -> str:
        return NUMBER_ZH[self.table[rule].number]


DEFAULT: Final = Bases(REGULATIONS, BASES)


def title_zh(rule: RuleId | str) -> str:
    try:
        return RULES[RuleId(rule)].title_zh
    except (KeyError, ValueError):
        return str(rule)


def rule_table_md(bases: Bases = DEFAULT) -> str:
    """docs/cards.md's rule table, from this module (tests/test_basis.py keeps them equal)."""
    head = "| 规则 rule | 级别 | 名称 | 默认值 | 依据 | 数字来源 |\n" + "| --- " * 6 + "|"
    rows = [
        f"| `{r.value}` | {_LEVEL_ZH[RULES[r].level.value]} | {RULES[r].title_zh} | "
        f"{bases.table[r].default_zh} | {bases.text(r)} | {bases.number_zh(r)} |"
        for r in RuleId
        if r in bases.table
    ]
    return "\n".join([head, *rows])


_LEVEL_ZH: Final = {"yellow": "黄牌", "red": "红牌", "green": "绿", "unknown": "未知"}

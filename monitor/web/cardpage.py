"""One card for people (the console's card page): what happened in Chinese, with names, windows
and hall-local times; which punch or which deadline; the case's timeline; the statements under
the officer who made them; and only the actions the card's state and the user's role allow.

Pure functions over the replayed state and journal rows (the daemon's state lock held); the
raw evidence stays in `card_detail` for whoever wants the journal's own words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alerts.cards import SYSTEM_RULES, Card, CardState, Why
from alerts.events import CardAction, CaseAction, Mitigation
from alerts.ids import CaseId
from alerts.items import LEGAL_ZH, LegalLimit, filled
from alerts.rules import RULES, RuleId
from alerts.supervision import Supervision
from monitor.ingest.journal import JournalRow
from monitor.web.auth import Permission, Session
from monitor.web.console import ACTION_ZH, MITIGATION_ZH, Names, voided

PUNCH_ZH = {
    ("am", "in"): "上午签到",
    ("am", "out"): "上午签退",
    ("pm", "in"): "下午签到",
    ("pm", "out"): "下午签退",
}
HALF_ZH = {"am": "上午", "pm": "下午"}
VERIFY_ZH = {
    "fingerprint": "指纹",
    "card": "刷卡",
    "face": "人脸",
    "password": "密码",
    "temporary": "临时",
}
CASE_ACTION_ZH = {
    CaseAction.RECEIVED: "收件",
    CaseAction.ACCEPTED: "受理",
    CaseAction.STEP_STARTED: "环节开始",
    CaseAction.STEP_FINISHED: "环节完成",
    CaseAction.SUSPENDED: "暂停计时",
    CaseAction.RESUMED: "恢复计时",
    CaseAction.EXTENDED: "延期",
    CaseAction.REPORTED_UP: "上报",
    CaseAction.REPLY_RECEIVED: "收到上级批复",
    CaseAction.COMPLETED: "办结",
    CaseAction.DELIVERED: "送达",
    CaseAction.RETURNED: "退件",
    CaseAction.REFUSAL_REVIEWED: "不予受理复核",
    CaseAction.CORRECTED: "更正",
}
KIND_ZH = {
    "punch": "打卡",
    "clock_status": "考勤机状态",
    "camera_status": "摄像头状态",
    "presence": "在岗检测",
    "case": "办件",
    "staff_status": "人员状态",
    "complaint": "投诉",
    "rating": "评价",
    "card_command": "卡片处理",
}
# What each system card asks of the admin (alerts.cards.SYSTEM_RULES).
REMEDY_ZH = {
    RuleId.CALENDAR_MISSING: (
        "在配置文件的 [calendar] 中录入该年度的节假日和调休上班日(以国务院办公厅通知为准)，"
        "然后在「配置」页重新加载配置。录入前，该年的期限按周一至周五计算并标注为估算。"
    ),
}
_DEADLINE_ZH = {
    RuleId.PROMISED_WARNING: "承诺时限",
    RuleId.PROMISED_OVERDUE: "承诺时限",
    RuleId.LEGAL_OVERDUE: "法定时限",
    RuleId.SPECIAL_WARNING: "特办件时限",
    RuleId.SPECIAL_OVERDUE: "特办件时限",
    RuleId.IMMEDIATE_SLOW: "即办件受理后2个工作小时",
    RuleId.IMMEDIATE_OPEN_AT_CLOSE: "即办件当日办结",
    RuleId.STEP_OVERDUE: "环节时限",
    RuleId.REPORTED_LATE_REPORT: "受理后上报期限",
    RuleId.REPORTED_LATE_ANSWER: "批复后答复申请人期限",
}


def _local(t: datetime | None, zone: Any) -> str | None:
    return None if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def is_system(c: Card) -> bool:
    return c.rule in SYSTEM_RULES


def what_zh(c: Card, sup: Supervision, names: Names, zone: Any) -> str:
    """One sentence: who, which punch or which deadline, when."""
    who = names.person(c.subject.staff) or names.person(c.owner)
    if is_system(c):
        return "系统提示：" + REMEDY_ZH.get(c.rule, "请系统管理员检查配置。")
    parts = c.qualifier.split("/") if c.qualifier else []
    if c.rule.value.startswith("attendance.") and len(parts) >= 2:
        day, half = parts[0], parts[1]
        punch = PUNCH_ZH.get((half, parts[2])) if len(parts) > 2 else None
        if c.rule is RuleId.ATTENDANCE_MISSING_PUNCH:
            missing = punch or HALF_ZH.get(half, half) + "打卡"
            return f"{who} {day} 缺{missing}：没有{missing}记录，也没有请假。"
        if c.rule is RuleId.ATTENDANCE_LATE:
            return f"{who} {day} {HALF_ZH.get(half, half)}签到迟到。"
        if c.rule is RuleId.ATTENDANCE_EARLY:
            return f"{who} {day} {HALF_ZH.get(half, half)}签退早退。"
        return f"{who} {day} {HALF_ZH.get(half, half)}按旷工半天计。"
    if c.subject.case is not None:
        deadline = _DEADLINE_ZH.get(c.rule, "期限")
        rec = sup.engine.cases.get(c.subject.case)
        due = rec.assessment.due if rec is not None else None
        at = f"({_local(due.at, zone)})" if due is not None else ""
        return f"办件 {c.subject.case}(经办人 {who or '—'})超过或临近{deadline}{at}。"
    window = names.windows.get(c.subject.window, c.subject.window) if c.subject.window else None
    subject = "，".join(x for x in (window, who) if x) or "本中心"
    return f"{subject}：{RULES[c.rule].title_zh}，{_local(c.raised_at, zone)} 起。"


def case_timeline(sup: Supervision, case: str | None, names: Names, zone: Any) -> list[Any]:
    """The case's events in their own time order: who did what when (received → accepted →
    suspensions → extensions → completed)."""
    rec = sup.engine.cases.get(CaseId(case)) if case else None
    if rec is None:
        return []
    out = []
    items = sup.engine.policy.items
    for e in sorted(rec.entries, key=lambda e: (e.ts, e.seq)):
        ev = filled(e.event, items)  # the kind and limits its item gives
        detail = [
            *_item_zh(
                sup, ev.item, rec.assessment.legal if ev.action is CaseAction.ACCEPTED else None
            ),
            f"{ev.step}" if ev.step else None,
            f"原因：{ev.reason}" if ev.reason else None,
            f"延长 {ev.extra_days} 个工作日" if ev.extra_days else None,
            f"新期限 {_local(ev.new_deadline, zone)}" if ev.new_deadline else None,
            f"批准人 {names.person(ev.approved_by)}" if ev.approved_by else None,
            f"承诺 {ev.promised_days} 个工作日" if ev.promised_days else None,
            f"法定 {ev.legal_days} 个工作日" if ev.legal_days else None,
            f"结果 {'准予' if ev.outcome.value == 'approved' else '不予'}" if ev.outcome else None,
        ]
        out.append(
            {
                "ts": e.ts.astimezone(zone).isoformat(),
                "time_zh": _local(e.ts, zone),
                "action": ev.action.value,
                "action_zh": CASE_ACTION_ZH[ev.action],
                "staff": ev.staff,
                "staff_name": names.person(ev.staff),
                "window": ev.window,
                "window_name": names.windows.get(ev.window, ev.window) if ev.window else None,
                "detail_zh": "；".join(d for d in detail if d) or None,
                "event_id": e.event_id,
            }
        )
    return out


def _item_zh(sup: Supervision, item: str | None, legal: LegalLimit | None) -> list[str | None]:
    """The item (事项) an event names, and on acceptance where the legal limit stands: a case
    whose item has none says so, and so does one that was given none."""
    it = sup.engine.policy.items.get(item) if item else None
    named = f"事项 {item}" + (f" {it.name}" if it else "（事项清单中没有）") if item else None
    if legal is None or legal is LegalLimit.NOT_APPLICABLE or legal is LegalLimit.GIVEN:
        return [named]
    return [named, LEGAL_ZH[legal]]


def evidence_zh(row: JournalRow, names: Names, zone: Any) -> str:
    """The journaled event in a sentence, with names and local times."""
    try:
        p: Any = json.loads(row.payload)
    except ValueError:
        return f"{KIND_ZH.get(row.kind.value, row.kind.value)}：{row.payload[:200]!r}"
    if not isinstance(p, dict):
        return KIND_ZH.get(row.kind.value, row.kind.value)
    when = _local(row.ts, zone)
    who = names.person(p.get("staff")) if isinstance(p.get("staff"), str) else None
    window = p.get("window")
    where = names.windows.get(window, window) if isinstance(window, str) else None
    kind = row.kind.value
    if kind == "punch":
        how = VERIFY_ZH.get(str(p.get("verify")), str(p.get("verify") or ""))
        return f"{who or '—'} {when} 打卡({how})"
    if kind == "case":
        action = CASE_ACTION_ZH.get(CaseAction(p["action"])) if _is_case(p) else p.get("action")
        extra = "，".join(x for x in (where, who) if x)
        return f"办件 {p.get('case')} {action} {when}" + (f"({extra})" if extra else "")
    if kind == "presence":
        seen = "在岗" if p.get("present") or p.get("occupied") else "无人"
        return f"{where or window or '窗口'} {when} 检测：{seen}"
    if kind == "complaint":
        return f"投诉 {p.get('complaint')} {p.get('action')} {when}"
    if kind == "rating":
        return f"办件 {p.get('case')} 评价 {p.get('level')} {when}"
    label = KIND_ZH.get(kind, kind)
    return f"{label} {when}" + (f"({who})" if who else "")


def _is_case(p: dict[str, Any]) -> bool:
    return p.get("action") in {a.value for a in CaseAction}


def actions(c: Card, who: Session) -> list[dict[str, Any]]:
    """The hearing form's choices: each action with whether this user may take it now, and why
    not (the card engine decides again; this only keeps the form honest)."""
    if is_system(c) or voided(c) or not who.may(Permission.DECIDE_CARDS):
        return []
    out = []
    open_ = c.state in (CardState.RAISED, CardState.ESCALATED, CardState.ANSWERED)
    if c.state in (CardState.RAISED, CardState.ESCALATED):
        out.append(_choice(CardAction.ANSWER, None))
    if open_:
        unheard = c.state is CardState.RAISED
        why = "尚未听取陈述申辩：须责任人申辩或申辩期限届满后才能维持" if unheard else None
        out.append(_choice(CardAction.UPHOLD, why))
        mitigate = _choice(CardAction.MITIGATE, why)  # a penalty too: heard first (000_… 八(八))
        mitigate["mitigations"] = [
            {"value": m.value, "label_zh": MITIGATION_ZH[m]} for m in Mitigation
        ]
        out.append(mitigate)
        out.append(_choice(CardAction.REVOKE, None))
    return out


def _choice(a: CardAction, why_not: str | None) -> dict[str, Any]:
    allowed = why_not is None
    return {"action": a.value, "label_zh": ACTION_ZH[a], "allowed": allowed, "why_not": why_not}


def statements(c: Card, names: Names, zone: Any) -> list[dict[str, Any]]:
    """申辩: said by the card's owner, entered by whoever sent the command."""
    return [
        {
            "ts": _local(t.ts, zone),
            "speaker": c.owner,
            "speaker_name": names.person(c.owner) or "—",
            "entered_by": t.by,
            "entered_by_name": names.person(t.by),
            "text": t.text,
        }
        for t in c.history
        if t.why is Why.ANSWERED
    ]


def people_view(
    c: Card, sup: Supervision, evidence: Sequence[JournalRow], names: Names, zone: Any, who: Session
) -> dict[str, Any]:
    """The card page's part for people (added to `card_detail`)."""
    return {
        "what_zh": what_zh(c, sup, names, zone),
        "system": is_system(c),
        "remedy_zh": REMEDY_ZH.get(c.rule) if is_system(c) else None,
        "punch_zh": _punch(c),
        "evidence_zh": [evidence_zh(r, names, zone) for r in evidence],
        "timeline": case_timeline(sup, c.subject.case, names, zone),
        "actions": actions(c, who),
        "statements": statements(c, names, zone),
    }


def _punch(c: Card) -> str | None:
    parts = c.qualifier.split("/")
    if not c.rule.value.startswith("attendance.") or len(parts) < 3:
        return None
    return PUNCH_ZH.get((parts[1], parts[2]))

"""The supervisor console's core (效能投诉中心, 值班领导): what its pages show, and its decisions.

Read side: plain functions over the replayed state (`Supervision`), the configuration and
journal rows — card lists with filters, one card with its history and evidence, complaints with
their deadlines, the leader's day sheet, the monthly report, the audit of card commands. The
daemon calls them with its state lock held.

Write side: a decision never bypasses the journal. `Decisions.submit` turns it into the
contract's card command (`hall/{hall}/card/{card}/command`) with our own optional `audit`
field (who, role, from where, signed with the daemon's key so a command forged over MQTT cannot
pass for a console one) and hands it to the ingest like any MQTT message; the answer waits
until the command is journaled and applied (`settle`, on the writer thread), so "done" means
on disk, and a replay reproduces it. The card engine's refusals come back as Chinese sentences.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alerts.attendance import DaySheet
from alerts.basis import DEFAULT as DEFAULT_BASES
from alerts.basis import Bases
from alerts.cards import Card, CardState, Refusal, Transition, WatchKind, Why, watch_key
from alerts.complaints import add_months, assess_complaint
from alerts.config import HallConfig
from alerts.contract import Rejected, decode, decode_journaled
from alerts.duty import DutyOutcome
from alerts.errors import HallwatchError
from alerts.events import CardAction, CardCommand, ComplaintAction, Mitigation, Recorded
from alerts.notify import NotifyChannel, Recipient, Skip
from alerts.roles import StaffRole
from alerts.rules import RULES, Level, RuleId
from alerts.supervision import Supervision
from monitor.ingest.ingestor import Inbound, Rules
from monitor.ingest.journal import JournalRow
from monitor.reports import daysheet, monthly
from monitor.reports.charts import ChartError
from monitor.reports.names import HallNames
from monitor.web.auth import Session

logger = logging.getLogger(__name__)

AUDIT_KEY_FILE = "console-audit.key"
DECISION_TIMEOUT_S = 10.0
MAX_TEXT = 2000  # characters of an answer or a reason

LEVEL_ZH = {Level.YELLOW: "黄牌", Level.RED: "红牌", Level.GREEN: "绿灯", Level.UNKNOWN: "未知"}
STATE_ZH = {
    CardState.RAISED: "已亮牌",
    CardState.ESCALATED: "逾期未申辩",
    CardState.ANSWERED: "已申辩",
    CardState.UPHELD: "已维持",
    CardState.REVOKED: "已撤销",
    CardState.CLOSED: "已关闭",
}
WHY_ZH = {
    Why.CONDITION_MET: "条件成立",
    Why.CONDITION_ENDED: "条件已结束(待决定)",
    Why.ANSWER_OVERDUE: "申辩期限已过",
    Why.ANSWERED: "已申辩",
    Why.UPHELD: "督查维持",
    Why.MITIGATED: "督查维持(从轻、减轻或免予处理)",
    Why.REVOKED: "督查撤销",
    Why.CLEARED: "已消除",
    Why.SUPERSEDED: "已由红牌取代",
    Why.DECIDED: "已决定且条件结束",
    Why.VOID: "作废(迟到的证据表明条件从未成立)",
}
ACTION_ZH = {
    CardAction.ANSWER: "录入申辩",
    CardAction.UPHOLD: "维持",
    CardAction.MITIGATE: "从轻、减轻或免予处理",
    CardAction.REVOKE: "撤销",
}
MITIGATION_ZH = {
    Mitigation.LIGHTER: "从轻处理",
    Mitigation.REDUCED: "减轻处理",
    Mitigation.EXEMPT: "免予处理",
}
MITIGATED_ZH = {m: f"督查维持，{zh}" for m, zh in MITIGATION_ZH.items()}
REFUSAL_ZH = {
    Refusal.UNKNOWN_CARD: "没有这张牌。",
    Refusal.NOT_ALLOWED: "您关联的人员无权对这张牌执行此操作(维持、撤销须由效能督查员作出)。",
    Refusal.WRONG_STATE: "这张牌当前的状态不允许此操作(可能已被他人处理，请刷新)。",
    Refusal.NOT_HEARD: (
        "尚未听取陈述申辩：须责任人申辩或申辩期限届满后才能维持"
        "(《行政效能建设九项制度》第八条第八项：作出处理前应听取责任人的意见)。"
    ),
    Refusal.SYSTEM_CARD: (
        "这是系统提示牌(系统配置问题，不针对任何人)：无需申辩，也不作维持或撤销，"
        "由系统管理员排除原因后自动关闭。"
    ),
}
COMPLAINT_ZH = {
    ComplaintAction.RECEIVED: "已收到",
    ComplaintAction.ACCEPTED: "已受理",
    ComplaintAction.FOUNDED: "查实",
    ComplaintAction.UNFOUNDED: "不属实",
    ComplaintAction.CLOSED: "已办结",
}
_OPEN_STATES = frozenset(s for s in CardState if s is not CardState.CLOSED)
VOIDED_ZH = "作废"
VOID_REASON_ZH = "迟到的证据表明条件从未成立"


class ConsoleError(HallwatchError):
    """A request the console cannot carry out: an HTTP status and a sentence for the user."""

    def __init__(self, status: int, message_zh: str, code: str) -> None:
        super().__init__(message_zh)
        self.status = status
        self.message_zh = message_zh
        self.code = code


# --- cards ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CardFilter:
    level: Level | None = None
    rule: RuleId | None = None
    window: str | None = None
    staff: str | None = None  # the officer the card names or who must answer
    day: date | None = None  # raised on this hall-local day
    states: frozenset[CardState] = _OPEN_STATES
    include_voided: bool = False  # 包括作废: voided cards are not closed ones, and not listed
    limit: int = 100
    offset: int = 0

    def admits(self, c: Card, zone: Any) -> bool:
        return (
            c.state in self.states
            and (self.include_voided or not voided(c))
            and (self.level is None or c.level is self.level)
            and (self.rule is None or c.rule is self.rule)
            and (self.window is None or c.subject.window == self.window)
            and (self.staff is None or self.staff in (c.subject.staff, c.owner))
            and (self.day is None or c.raised_at.astimezone(zone).date() == self.day)
        )


@dataclass(frozen=True, slots=True)
class Names:
    staff: Mapping[str, str]
    windows: Mapping[str, str]
    bases: Bases = DEFAULT_BASES

    @classmethod
    def of(cls, cfg: HallConfig) -> Names:
        staff, windows = {s.id: s.name for s in cfg.staff}, {w.id: w.name for w in cfg.windows}
        return cls(staff, windows, Bases.of(cfg.basis))

    def person(self, sid: str | None) -> str | None:
        return None if sid is None else self.staff.get(sid, sid)


def _iso(t: datetime | None, zone: Any) -> str | None:
    return None if t is None else t.astimezone(zone).isoformat()


def voided(c: Card) -> bool:
    """Late evidence showed that its condition never held (its last transition is `void`).

    Such a card is no verdict on anyone: the lists, the day sheet and the scores leave it out,
    and where a user asks for it, it says 作废, never 已关闭. A voided card whose condition
    comes back is raised again and is no longer voided.
    """
    return bool(c.history) and c.history[-1].why is Why.VOID


def void_reason(c: Card) -> str | None:
    """Why it was voided, for people: the engine's own words if it gave any (the silent
    source of late evidence), else what a void means."""
    if not voided(c):
        return None
    return c.history[-1].text or VOID_REASON_ZH


def card_row(c: Card, names: Names, zone: Any) -> dict[str, Any]:
    s = c.subject
    void = voided(c)
    return {
        "card": c.id,
        "rule": c.rule.value,
        "title": RULES[c.rule].title_zh,
        "level": c.level.value,
        "level_zh": LEVEL_ZH[c.level],
        "state": c.state.value,
        "state_zh": VOIDED_ZH if void else STATE_ZH[c.state],
        "voided": void,
        "void_reason": void_reason(c),
        "voided_at": _iso(c.history[-1].ts, zone) if void else None,
        "holds": c.holds,
        "estimated": c.estimated,
        "raised_at": _iso(c.raised_at, zone),
        "answer_by": _iso(c.answer_by, zone),
        "subject": {
            "case": s.case,
            "window": s.window,
            "window_name": None if s.window is None else names.windows.get(s.window, s.window),
            "staff": s.staff,
            "staff_name": names.person(s.staff),
        },
        "owner": c.owner,
        "owner_name": names.person(c.owner),
        "updated_at": _iso(c.history[-1].ts, zone) if c.history else None,
    }


def list_cards(sup: Supervision, f: CardFilter, names: Names, zone: Any) -> dict[str, Any]:
    chosen = [c for c in sup.engine.cards.values() if f.admits(c, zone)]
    chosen.sort(key=lambda c: (c.raised_at, c.id), reverse=True)
    page = chosen[f.offset : f.offset + f.limit]
    return {"total": len(chosen), "cards": [card_row(c, names, zone) for c in page]}


def transition_row(t: Transition, names: Names, zone: Any) -> dict[str, Any]:
    return {
        "ts": _iso(t.ts, zone),
        "state": t.state.value,
        "state_zh": STATE_ZH[t.state],
        "reason": t.why.value,
        "reason_zh": WHY_ZH[t.why] if t.mitigation is None else MITIGATED_ZH[t.mitigation],
        "holds": t.holds,
        "by": t.by,
        "by_name": names.person(t.by),
        "text": t.text,
    }


def evidence_row(row: JournalRow, zone: Any) -> dict[str, Any]:
    try:
        payload: Any = json.loads(row.payload)
    except ValueError:  # device status: plain text
        payload = row.payload.decode("utf-8", "replace")
    return {
        "id": row.event_id,
        "seq": row.seq,
        "kind": row.kind.value,
        "topic": row.topic,
        "ts": _iso(row.ts, zone),
        "received_at": _iso(row.received_at, zone),
        "payload": payload,
    }


def card_detail(c: Card, evidence: Sequence[JournalRow], names: Names, zone: Any) -> dict[str, Any]:
    found = {r.event_id for r in evidence}
    return {
        **card_row(c, names, zone),
        "source": names.bases.text(c.rule),
        "answer_basis": names.bases.hearing_text(),
        "history": [transition_row(t, names, zone) for t in c.history],
        "evidence": [evidence_row(r, zone) for r in evidence],
        "evidence_missing": [e for e in c.evidence if e not in found],
    }


# --- complaints -----------------------------------------------------------------------------


def complaints(
    sup: Supervision, cfg: HallConfig, names: Names, now: datetime, include_voided: bool = False
) -> list[Any]:
    """Every complaint with its deadlines (working days from the calendar) and its cards
    (the voided ones only with `include_voided`)."""
    cal, zone, limits = sup.engine.calendar, cfg.hall.zone, cfg.complaints
    out = []
    for cid, filed in sup.book.complaints.items():
        a = assess_complaint(cid, filed, cal, limits)
        accept_by = cal.add_working_days(a.received_at, limits.accept_days)
        result_by = None
        if a.accepted_at is not None:
            result_by = cal.add_working_days(a.accepted_at, limits.result_days).at
        handle_by = None
        if a.founded and a.decided_at is not None:
            handle_by = add_months(a.decided_at, limits.handling_months, cal)
        keys = (watch_key(WatchKind.COMPLAINT, cid), watch_key(WatchKind.COMPLAINT, cid, "founded"))
        cards = [
            card_row(sup.engine.cards[k], names, zone)
            for key in keys
            if (w := sup.engine.watches.get(key)) is not None
            for k in w.cards
            if include_voided or not voided(sup.engine.cards[k])
        ]
        last = max(filed, key=lambda f: (f.event.ts, f.event_id)).event
        out.append(
            {
                "complaint": cid,
                "state": last.action.value,
                "state_zh": COMPLAINT_ZH[last.action],
                "category": next((f.event.category for f in filed if f.event.category), None),
                "window": a.window,
                "staff": a.staff,
                "staff_name": names.person(a.staff),
                "case": a.case,
                "received_at": _iso(a.received_at, zone),
                "accept_by": _iso(accept_by.at, zone),
                "accepted_at": _iso(a.accepted_at, zone),
                "result_by": _iso(result_by, zone),
                "decided_at": _iso(a.decided_at, zone),
                "founded": a.founded,
                "handle_by": _iso(handle_by, zone),
                "closed_at": _iso(a.closed_at, zone),
                "overdue": _overdue(a.accepted_at, accept_by.at, now)
                or _overdue(a.decided_at, result_by, now)
                or _overdue(a.closed_at, handle_by, now),
                "estimated": accept_by.estimated,
                "cards": cards,
            }
        )
    out.sort(key=lambda d: d["received_at"] or "", reverse=True)
    return out


def _overdue(done: datetime | None, due: datetime | None, now: datetime) -> bool:
    return due is not None and (done > due if done is not None else now > due)


# --- the leader's day sheet and the monthly report (shared with the CLI) ----------------------


def day_sheet_parts(
    sup: Supervision, cfg: HallConfig, day: date, now: datetime
) -> tuple[list[DaySheet], list[DutyOutcome], list[daysheet.CardLine]]:
    """Sheets, leader-on-duty outcomes and the day's people cards, as `hallwatch attendance`
    (a voided card is no verdict on anyone: not on the sheet)."""
    cards = daysheet.card_lines(sup.engine.cards.values(), day, cfg.hall.zone, HallNames.of(cfg))
    return sup.people.sheets(day, now), sup.people.duty_outcomes(day, now), cards


def attendance_doc(sup: Supervision, cfg: HallConfig, day: date, now: datetime) -> dict[str, Any]:
    sheets, duty, cards = day_sheet_parts(sup, cfg, day, now)
    zone, names = cfg.hall.zone, HallNames.of(cfg)  # names, in window order, as the sheet
    rows = [
        {
            "staff": sh.staff,
            "name": sh.name,
            "department": sh.department,
            "department_name": names.department(sh.department),
            "window_name": names.window_of(sh.staff),
            "final": sh.final,
            "sessions": [
                {
                    "session": s.key,
                    "check_in": daysheet.punch_zh(s.check_in, zone),
                    "check_out": daysheet.punch_zh(s.check_out, zone),
                    "verdict": s.verdict.value,
                    "verdict_zh": daysheet.verdict_zh(s),
                }
                for s in sh.sessions
            ],
        }
        for sh in daysheet.ordered(sheets, names)
    ]
    return {
        "day": day.isoformat(),
        "hall": cfg.hall.name,
        "staff": rows,
        "duty": [
            {
                "half": d.slot.half,
                "leader": d.slot.leader,
                "leader_name": names.person(d.slot.leader),
                "state": d.state.value,
            }
            for d in duty
        ],
        "cards": [
            {"at": _iso(c.at, zone), "level_zh": c.level_zh, "title": c.title_zh, "who": c.subject}
            for c in cards
        ],
    }


def attendance_html(sup: Supervision, cfg: HallConfig, day: date, now: datetime) -> str:
    sheets, duty, cards = day_sheet_parts(sup, cfg, day, now)
    names = HallNames.of(cfg)
    return daysheet.render_html(sheets, day, cfg.hall.name, duty=duty, cards=cards, names=names)


def month_report(
    sup: Supervision, cfg: HallConfig, month: tuple[int, int], now: datetime
) -> monthly.MonthReport:
    """The month's figures, for `hallwatch report`, the console's page and the docs' picture
    (charts are drawn after, with the daemon's state lock released)."""
    return monthly.month_report(
        cards=sup.engine.cards.values(),
        assessments=sup.engine.assessments(),
        ratings=sup.state.ratings,
        cal=sup.engine.calendar,
        cfg=cfg.scores,
        unstaffed_grace_min=cfg.posts.yellow_min,
        windows=[w.id for w in cfg.windows],
        officers=[s.id for s in cfg.staff if s.role is StaffRole.OFFICER],
        hall_name=cfg.hall.name,
        month=month,
        now=now,
        names=HallNames.of(cfg),
    )


def month_report_html(r: monthly.MonthReport) -> str:
    try:
        charts = monthly.month_charts(r)
    except ChartError as exc:  # no CJK font for the charts: the tables still tell it all
        logger.warning("report charts left out: %s", exc)
        charts = []
    return monthly.render_month_html(r, charts)


# --- decisions and their audit --------------------------------------------------------------


def audit_key(data_dir: str | os.PathLike[str]) -> bytes:
    """The daemon's key for signing console audits: made once (0600) beside the journal."""
    path = Path(data_dir) / AUDIT_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        key = secrets.token_bytes(32)
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


def _signed_text(cmd: Mapping[str, Any], card: str, audit: Mapping[str, Any]) -> bytes:
    fields = [card, cmd.get("action"), cmd.get("by"), cmd.get("ts"), cmd.get("text")]
    fields += [audit.get("user"), audit.get("role"), audit.get("client")]
    if "mitigation" in cmd:  # signed when given; older commands' signatures stay as they were
        fields.append(cmd.get("mitigation"))
    # surrogatepass: an old journal's lone surrogate checks (and fails) instead of raising
    return json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")


def sign(key: bytes, cmd: Mapping[str, Any], card: str, audit: Mapping[str, Any]) -> str:
    return hmac.new(key, _signed_text(cmd, card, audit), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    transitions: list[Transition] = field(default_factory=list)
    refusal: Refusal | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    seq: int
    event_id: str
    transitions: tuple[Transition, ...]


class Decisions:
    """Console card commands through the ingest; `settle` is called after each apply."""

    def __init__(
        self,
        hall: str,
        key: bytes,
        submit: Callable[[Inbound], None],
        rules: Callable[[], Rules],
        timeout_s: float = DECISION_TIMEOUT_S,
    ) -> None:
        self._hall = hall
        self._key = key
        self._submit = submit
        self._rules = rules
        self._timeout_s = timeout_s
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def command(
        self,
        card: str,
        action: CardAction,
        text: str,
        who: Session,
        client: str,
        now: datetime,
        mitigation: Mitigation | None = None,
    ) -> tuple[str, bytes]:
        """The contract's card command for this decision, with our signed `audit` field."""
        if who.staff is None:
            raise ConsoleError(403, "您的账号未关联人员(users.staff)，不能处理卡片。", "no_staff")
        doc: dict[str, Any] = {
            "id": f"console-{secrets.token_hex(12)}",
            "action": action.value,
            "by": who.staff,
            "text": text,
            "ts": now.isoformat(),
        }
        if mitigation is not None:
            doc["mitigation"] = mitigation.value
        audit = {"via": "console", "user": who.user, "role": who.role.value, "client": client}
        doc["audit"] = {**audit, "sig": sign(self._key, doc, card, audit)}
        topic = f"hall/{self._hall}/card/{card}/command"
        return topic, json.dumps(doc, ensure_ascii=False).encode()

    def submit(self, topic: str, payload: bytes, now: datetime) -> Decided:
        """Journal the command and wait until it is applied; raise ConsoleError otherwise."""
        decision = decode(topic, payload, now, *self._decode_args())
        if isinstance(decision, Rejected):
            raise ConsoleError(
                422, f"命令无效：{decision.reason.label_zh}({decision.detail})", "bad"
            )
        eid = str(decision.event_id)
        pending = _Pending()
        with self._lock:
            self._pending[eid] = pending
        try:
            self._submit(Inbound(topic, payload, now, mid=0, qos=0, generation=-1))
            if not pending.done.wait(self._timeout_s):
                raise ConsoleError(
                    503, "暂时无法写入日志，命令可能稍后生效，请稍后刷新查看。", "not_journaled"
                )
        finally:
            with self._lock:
                self._pending.pop(eid, None)
        if pending.refusal is not None:
            raise ConsoleError(409, REFUSAL_ZH[pending.refusal], pending.refusal.value)
        return Decided(seq=pending.seq, event_id=eid, transitions=tuple(pending.transitions))

    def _decode_args(self) -> tuple[str, Any, Any]:
        r = self._rules()
        return r.hall, r.directory, r.limits

    def settle(self, rec: Recorded, out: Sequence[Transition], sup: Supervision) -> None:
        """Writer thread, state lock held: a console command was applied; wake its request."""
        if not self._pending:
            return
        with self._lock:
            pending = self._pending.get(str(rec.event_id))
        if pending is None:
            return
        if not isinstance(rec.event, CardCommand):  # a complaint step (complaints_desk.py)
            pending.transitions, pending.seq = list(out), rec.seq
            pending.done.set()
            return
        cmd = rec.event
        mine = [t for t in out if t.card == cmd.card and t.by == cmd.by and t.text == cmd.text]
        if not mine:
            pending.refusal = next(
                (why for c, why in reversed(sup.engine.refusals) if c == cmd),
                Refusal.UNKNOWN_CARD,
            )
        pending.transitions = [t for t in out if t.card == cmd.card]
        pending.seq = rec.seq
        pending.done.set()


def audit_rows(
    rows: Sequence[JournalRow], sup: Supervision, hall: str, key: bytes, names: Names, zone: Any
) -> list[dict[str, Any]]:
    """Card commands as journaled, newest first: who, when, from where, and what came of it."""
    refused = {c: why for c, why in sup.engine.refusals}
    out = []
    for row in rows:
        cmd = decode_journaled(row.topic, row.payload, hall, row.ts)
        if not isinstance(cmd, CardCommand):
            continue
        doc = json.loads(row.payload)
        audit = doc.get("audit") if isinstance(doc.get("audit"), dict) else None
        verified = False
        if audit is not None:
            sig = sign(key, doc, cmd.card, audit)
            verified = hmac.compare_digest(str(audit.get("sig", "")), sig)
        why = refused.get(cmd)
        out.append(
            {
                "seq": row.seq,
                "event_id": row.event_id,
                "received_at": _iso(row.received_at, zone),
                "ts": _iso(cmd.ts, zone),
                "card": cmd.card,
                "action": cmd.action.value,
                "action_zh": ACTION_ZH[cmd.action],
                "by": cmd.by,
                "by_name": names.person(cmd.by),
                "text": cmd.text,
                "mitigation": cmd.mitigation.value if cmd.mitigation else None,
                "mitigation_zh": MITIGATION_ZH[cmd.mitigation] if cmd.mitigation else None,
                "via": "console" if verified else ("unverified" if audit else "mqtt"),
                "user": audit.get("user") if verified and audit else None,
                "role": audit.get("role") if verified and audit else None,
                "client": audit.get("client") if verified and audit else None,
                "result": "refused" if why else "applied",
                "refusal": why.value if why else None,
                "refusal_zh": REFUSAL_ZH[why] if why else None,
            }
        )
    return out


# --- notices: who was told (docs/notify.md) --------------------------------------------------

DELIVERY_ZH = {
    "sent": "已送达",
    "waiting": "待发送",
    "failed": "发送失败",
    "cancelled": "已取消",
    "not_told": "未能通知",
}
SKIP_ZH = {
    Skip.NO_OWNER.value: "卡片没有责任人",
    Skip.NO_HEAD.value: "窗口未配置负责人(windows[].head)",
    Skip.NOBODY.value: "没有担任此角色的人员",
    Skip.NO_ADDRESS.value: "没有可用的联系方式(手机号或邮箱)",
    Skip.UNKNOWN_STAFF.value: "人员表中没有此人",
}
RECIPIENT_ZH = {
    Recipient.OWNER.value: "责任人",
    Recipient.WINDOW_HEAD.value: "窗口负责人",
    Recipient.SUPERVISORS.value: "效能督查员",
    Recipient.ADMINS.value: "系统管理员",
}
_SCHEME_ZH = {"mailto": "邮件", "mailtos": "邮件", "wecombot": "企业微信", "wxteams": "企业微信"}


def channel_zh(c: NotifyChannel) -> str:
    """邮件, 钉钉, 企业微信 or 短信, from the channel's kind and URL; else its name."""
    if c.kind == "dingtalk":
        return "钉钉"
    scheme = c.url.partition("://")[0].lower()
    return _SCHEME_ZH.get(scheme) or ("短信" if c.address == "mobile" else c.name)


def channel_labels(cfg: HallConfig) -> dict[str, str]:
    return {c.name: channel_zh(c) for c in cfg.notify.channels}


def notice_row(
    n: Mapping[str, Any], names: Names, labels: Mapping[str, str], zone: Any
) -> dict[str, Any]:
    """One notice of the notifier's store (`Notifier.card_log`, `unsent`) for people."""
    return {
        "card": n["card"],
        "title": n["title"],
        "staff": n["staff"],
        "staff_name": names.person(n["staff"]),
        "channel": n["channel"],
        "channel_zh": labels.get(n["channel"], n["channel"]),
        "channel_ok": n["channel_ok"],
        "status": n["delivery"],
        "status_zh": DELIVERY_ZH[n["delivery"]],
        "error": n["last_error"],
        "attempts": n["attempts"],
        "timing": n["timing"],
        "created_at": _iso(n["created"], zone),
        "sent_at": _iso(n["sent_at"], zone),
        "next_try": _iso(n["next_try"], zone),
    }


def not_told_row(k: Mapping[str, Any], card: str, names: Names, zone: Any) -> dict[str, Any]:
    """Someone a route named for the card whom no channel could reach (`Notifier.skipped`)."""
    who = str(k["who"])
    return {
        "card": card,
        "title": None,
        "staff": None if who in RECIPIENT_ZH else who,
        "staff_name": RECIPIENT_ZH.get(who) or names.person(who),
        "channel": None,
        "channel_zh": None,
        "channel_ok": None,
        "status": "not_told",
        "status_zh": DELIVERY_ZH["not_told"],
        "error": SKIP_ZH.get(k["why"], k["why"]),
        "attempts": 0,
        "timing": None,
        "created_at": _iso(k["at"], zone),
        "sent_at": None,
        "next_try": None,
    }


def channel_row(ch: Mapping[str, Any], labels: Mapping[str, str], zone: Any) -> dict[str, Any]:
    return {
        "channel": ch["channel"],
        "channel_zh": labels.get(ch["channel"], ch["channel"]),
        "ok": ch["ok"],
        "failing_since": _iso(ch["failing_since"], zone),
        "retry_at": _iso(ch["retry_at"], zone),
        "last_error": ch["last_error"],
        "sent": ch["sent"],
        "failures": ch["failures"],
    }

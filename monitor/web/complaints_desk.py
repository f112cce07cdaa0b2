"""The complaint desk (投诉受理): complaints taken by phone, letter, walk-in, online or a 12345
referral, and their steps (受理, 查实 / 不属实, 办结), from the console.

Nothing here bypasses the journal: each entry becomes the contract's complaint event
(`hall/{hall}/complaint/{id}/event`, docs/contract.md "Complaint") with our optional fields —
`channel`, `complainant`, `content`, `text`, `by` and a signed `audit` (who entered it, from
where) — handed to the ingest like an MQTT message and answered once it is journaled and applied
(`Decisions.submit`), so a restart and a replay give the same complaints. The list reads the
deadlines from the core (`console.complaints`) and the extension fields back from the journal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts.events import ComplaintAction, ComplaintCategory
from alerts.supervision import Supervision
from monitor.ingest.journal import JournalRow
from monitor.web.auth import Permission, Session
from monitor.web.console import (
    COMPLAINT_ZH,
    MAX_TEXT,
    ConsoleError,
    Names,
    card_row,
    complaints,
)
from monitor.web.desk_kit import Web
from monitor.web.server import Request, Response

logger = logging.getLogger(__name__)

CHANNEL_ZH = {
    "phone": "电话",
    "letter": "来信",
    "visit": "来访",
    "online": "网络",
    "12345": "12345转办",
}
CATEGORY_ZH = {
    ComplaintCategory.OVERTIME: "超期办理",
    ComplaintCategory.FEES: "违规收费",
    ComplaintCategory.PROCEDURE: "程序违规",
    ComplaintCategory.DISCLOSURE: "公开不到位",
    ComplaintCategory.ATTITUDE: "服务态度",
    ComplaintCategory.OTHER: "其他",
}
STEP_ZH = {
    ComplaintAction.ACCEPTED: "受理",
    ComplaintAction.FOUNDED: "查实",
    ComplaintAction.UNFOUNDED: "不属实",
    ComplaintAction.CLOSED: "办结(答复结果)",
}
EMPTY_ZH = "暂无投诉"
_PHONE = re.compile(r"^[0-9+\- ]{3,32}$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")  # <input type=datetime-local>
_NAME_MAX = 64


def sign(key: bytes, doc: Mapping[str, Any]) -> str:
    """HMAC over the event as sent, its audit without the signature."""
    audit = {k: v for k, v in doc.get("audit", {}).items() if k != "sig"}
    body = {**{k: v for k, v in doc.items() if k != "audit"}, "audit": audit}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def verified_audit(key: bytes, doc: Mapping[str, Any]) -> dict[str, Any] | None:
    audit = doc.get("audit")
    if not isinstance(audit, dict) or audit.get("via") != "console":
        return None
    ok = hmac.compare_digest(str(audit.get("sig", "")), sign(key, doc))
    return audit if ok else None


def _text(body: Mapping[str, Any], name: str, label: str, limit: int, need: bool) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if need:
            raise ConsoleError(422, f"请填写{label}。", f"{name}_required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConsoleError(422, f"请填写{label}。", f"{name}_required")
    if len(value) > limit:
        raise ConsoleError(422, f"{label}不能超过{limit}字。", f"{name}_too_long")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ConsoleError(422, f"{label}含有无效字符。", "bad_text") from None
    return value.strip()


def _received_at(body: Mapping[str, Any], zone: Any, now: datetime) -> datetime:
    raw = body.get("received_at")
    if raw is None or raw == "":
        return now
    if not isinstance(raw, str):
        raise ConsoleError(422, "收到时间无效。", "bad_time")
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise ConsoleError(422, "收到时间无效，须为 YYYY-MM-DDTHH:MM。", "bad_time") from None
    if t.tzinfo is None:
        if not _LOCAL.match(raw):
            raise ConsoleError(422, "收到时间无效，须为 YYYY-MM-DDTHH:MM。", "bad_time")
        t = t.replace(tzinfo=zone)
    if t > now:
        raise ConsoleError(422, "收到时间不能晚于现在。", "future_time")
    return t


class Desk:
    """The complaint desk's routes on the console (`Console.routes` adds them)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.hall = web.hall

    def gets(self) -> dict[str, Callable[[Request], Response]]:
        return {"/api/complaints": self.web.need(Permission.READ_COMPLAINTS, self.listing)}

    def posts(self) -> dict[str, Callable[[Request], Response]]:
        decide = Permission.DECIDE_CARDS  # the supervisors: 效能督查员
        return {
            "/api/complaints": self.web.csrf(decide, self.intake),
            "/api/complaints/step": self.web.csrf(decide, self.step),
        }

    # --- reading ----------------------------------------------------------------------------

    def listing(self, req: Request, _s: Session) -> Response:
        include_voided = req.arg("include_voided") or "0"
        if include_voided not in ("0", "1"):
            raise ConsoleError(400, "参数 include_voided 无效：须为 0, 1", "bad_parameter")
        rows = self.rows(include_voided == "1")
        rows = [r for r in rows if _admits(r, req)]
        return self.web.no_store(Response.json(200, {"complaints": rows, "empty_zh": EMPTY_ZH}))

    def rows(self, include_voided: bool = False) -> list[dict[str, Any]]:
        cfg, now = self.hall.config(), self.hall.now()
        names = Names.of(cfg)

        def read(sup: Supervision) -> tuple[list[Any], dict[str, list[str]]]:
            docs = complaints(sup, cfg, names, now, include_voided)
            ids = {str(k): [str(f.event_id) for f in v] for k, v in sup.book.complaints.items()}
            return docs, ids

        docs, ids = self.hall.read(read)
        found = self.hall.journal.find([e for v in ids.values() for e in v])
        by_id = {str(r.event_id): r for r in found}
        key = self.hall.audit_key
        for d in docs:
            rows = [by_id[e] for e in ids.get(d["complaint"], []) if e in by_id]
            d.update(details(rows, key, names, cfg.hall.zone))
        return docs

    # --- writing ----------------------------------------------------------------------------

    def intake(self, req: Request, s: Session) -> Response:
        body = self.web.json_body(req)
        if isinstance(body, Response):
            return body
        cfg, now = self.hall.config(), self.hall.now()
        channel = body.get("channel")
        if not isinstance(channel, str) or channel not in CHANNEL_ZH:
            return self.web.err(422, "bad_channel", "来源须为 电话/来信/来访/网络/12345转办 之一。")
        category = body.get("category") or None
        if category is not None and not isinstance(category, str):
            return self.web.err(422, "bad_category", "投诉类别无效。")
        if category is not None and category not in {c.value for c in ComplaintCategory}:
            return self.web.err(422, "bad_category", "投诉类别无效。")
        window = _text(body, "window", "窗口", _NAME_MAX, False)
        staff = _text(body, "staff", "人员", _NAME_MAX, False)
        case = _text(body, "case", "办件编号", _NAME_MAX, False)
        if window is not None and window not in {w.id for w in cfg.windows}:
            return self.web.err(422, "unknown_window", "没有这个窗口。")
        if staff is not None and staff not in {p.id for p in cfg.staff}:
            return self.web.err(422, "unknown_staff", "没有这个人员。")
        if window is None and staff is None and case is None:
            return self.web.err(422, "subject_required", "请填写被投诉的窗口、人员或办件。")
        name = _text(body, "complainant_name", "投诉人姓名", _NAME_MAX, True)
        phone = _text(body, "complainant_phone", "联系电话", 32, False)
        if phone is not None and not _PHONE.match(phone):
            return self.web.err(422, "bad_phone", "联系电话无效。")
        content = _text(body, "content", "投诉内容", MAX_TEXT, True)
        received = _received_at(body, cfg.hall.zone, now)
        local = now.astimezone(cfg.hall.zone)
        cid = f"TS-{local:%Y%m%d}-{secrets.token_hex(3).upper()}"
        doc: dict[str, Any] = {
            "action": ComplaintAction.RECEIVED.value,
            "ts": received.isoformat(),
            "channel": channel,
            "complainant": {"name": name, "phone": phone},
            "content": content,
            **{k: v for k, v in (("window", window), ("staff", staff), ("case", case)) if v},
            **({"category": category} if category else {}),
        }
        done = self._submit(cid, doc, s, req, now)
        return self.web.no_store(Response.json(201, {"complaint": cid, **done}))

    def step(self, req: Request, s: Session) -> Response:
        body = self.web.json_body(req)
        if isinstance(body, Response):
            return body
        cid, action = body.get("complaint"), body.get("action")
        steps = {a.value: a for a in STEP_ZH}
        if not isinstance(action, str) or action not in steps:
            return self.web.err(
                422, "bad_action", "操作须为 accepted、founded、unfounded 或 closed。"
            )
        step = steps[action]
        need_text = step is not ComplaintAction.ACCEPTED
        text = _text(body, "text", "说明(查实情况、答复结果)", MAX_TEXT, need_text)
        if not isinstance(cid, str) or not cid:
            return self.web.err(422, "complaint_required", "请指明投诉编号。")
        mine = next((r for r in self.rows(True) if r["complaint"] == cid), None)
        if mine is None:
            return self.web.err(404, "unknown_complaint", "没有这件投诉。")
        refusal = step_refusal(mine, step)
        if refusal is not None:
            return self.web.err(409, "wrong_state", refusal)
        now = self.hall.now()
        doc: dict[str, Any] = {"action": step.value, "ts": now.isoformat()}
        if text:
            doc["text"] = text
        done = self._submit(cid, doc, s, req, now)
        after = next((r for r in self.rows(True) if r["complaint"] == cid), mine)
        return self.web.no_store(Response.json(200, {"complaint": cid, **done, "row": after}))

    def _submit(
        self, cid: str, doc: dict[str, Any], s: Session, req: Request, now: datetime
    ) -> dict[str, Any]:
        client = self.web.client(req)
        doc = {"id": f"console-{secrets.token_hex(12)}", **doc, "by": s.staff}
        audit = {"via": "console", "user": s.user, "role": s.role.value, "client": client}
        doc["audit"] = audit
        doc["audit"] = {**audit, "sig": sign(self.hall.audit_key, doc)}
        topic = f"hall/{self.hall.config().hall.id}/complaint/{cid}/event"
        payload = json.dumps(doc, ensure_ascii=False).encode()
        done = self.hall.decisions.submit(topic, payload, now)
        logger.info(
            "console: %s complaint %s %s from %s (seq %d)",
            s.user,
            cid,
            doc["action"],
            client,
            done.seq,
        )
        cfg = self.hall.config()
        names, zone = Names.of(cfg), cfg.hall.zone
        raised = {t.card for t in done.transitions}

        def cards(sup: Supervision) -> list[dict[str, Any]]:
            return [card_row(sup.engine.cards[c], names, zone) for c in sorted(raised)]

        return {"seq": done.seq, "event_id": done.event_id, "cards": self.hall.read(cards)}


def step_refusal(row: Mapping[str, Any], step: ComplaintAction) -> str | None:
    """The desk takes a complaint's steps in order: 受理, then 查实 or 不属实, then 办结."""
    if step is ComplaintAction.ACCEPTED and row["accepted_at"] is not None:
        return "这件投诉已受理。"
    if step in (ComplaintAction.FOUNDED, ComplaintAction.UNFOUNDED):
        if row["accepted_at"] is None:
            return "请先受理这件投诉。"
        if row["decided_at"] is not None:
            return "这件投诉已有调查结论。"
    if step is ComplaintAction.CLOSED:
        if row["decided_at"] is None:
            return "请先作出调查结论(查实或不属实)。"
        if row["closed_at"] is not None:
            return "这件投诉已办结。"
    return None


def details(rows: Sequence[JournalRow], key: bytes, names: Names, zone: Any) -> dict[str, Any]:
    """What the journal holds beyond the core's fields: channel, complainant, content, steps."""
    docs = [(r, json.loads(r.payload)) for r in sorted(rows, key=lambda r: r.seq)]
    steps = []
    for r, doc in docs:
        audit = verified_audit(key, doc)
        action = ComplaintAction(doc.get("action"))
        steps.append(
            {
                "action": action.value,
                "action_zh": COMPLAINT_ZH[action],
                "ts": r.ts.astimezone(zone).isoformat(),
                "by": doc.get("by") if audit else None,
                "by_name": names.person(doc.get("by")) if audit else None,
                "user": audit.get("user") if audit else None,
                "via": "console" if audit else "mqtt",
                "text": doc.get("text") if isinstance(doc.get("text"), str) else None,
            }
        )
    received = [d for _, d in docs if d.get("action") == ComplaintAction.RECEIVED.value]
    first = received[0] if received else docs[0][1] if docs else {}
    raw = first.get("complainant")
    who: dict[str, Any] = raw if isinstance(raw, dict) else {}
    channel = first.get("channel") if isinstance(first.get("channel"), str) else None
    entered = steps[0] if steps else None
    accepted = next((s for s in steps if s["action"] == "accepted" and s["via"] == "console"), None)
    owner = accepted or (entered if entered and entered["via"] == "console" else None)
    return {
        "channel": channel,
        "channel_zh": CHANNEL_ZH.get(channel or "", channel),
        "complainant_name": _str(who.get("name")),
        "complainant_phone": _str(who.get("phone")),
        "content": _str(first.get("content")),
        "entered_by": entered["user"] if entered else None,
        "owner": owner["by"] if owner else None,
        "owner_name": (owner["by_name"] or owner["user"]) if owner else None,
        "steps": steps,
    }


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _admits(row: Mapping[str, Any], req: Request) -> bool:
    state, channel, q = req.arg("state"), req.arg("channel"), (req.arg("q") or "").strip()
    if state and row["state"] != state:
        return False
    if channel and row["channel"] != channel:
        return False
    if req.arg("overdue") == "1" and not row["overdue"]:
        return False
    if q:
        hay = [row["complaint"], row["window"], row["staff"], row["staff_name"], row["case"]]
        hay += [row["complainant_name"], row["content"], row["owner_name"]]
        return any(q in h for h in hay if isinstance(h, str))
    return True

"""The console API described as OpenAPI 3.1 (served at /api/openapi.json), written as data.

tests/test_console_schemathesis.py runs schemathesis against this document and a running daemon;
tests/test_console_api.py checks that every route of `monitor.web.api` is in it and vice versa.
"""

from __future__ import annotations

from typing import Any

from alerts.cards import CardState
from alerts.rules import RuleId
from monitor import __version__
from monitor.web import board, cards_openapi, desk_openapi, register_openapi

JSON = "application/json"
NOTICE_STATES = ("sent", "waiting", "failed", "cancelled", "not_told")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_401 = _error("没有登录或会话已过期 (no session, or it expired)")
_403 = _error("角色无此权限, 或 CSRF 检查未通过 (role lacks the permission, or CSRF refused)")
_400 = _error("参数无效 (a query parameter is invalid)")

_NULLABLE_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


_SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": {"type": "string"}, "message": {"type": "string"}}, ("error", "message")
    ),
    "Login": {
        **_obj(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 64},
                "password": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            ("name", "password"),
        ),
        "additionalProperties": False,
    },
    "Session": _obj(
        {
            "user": {"type": "string"},
            "role": {"enum": ["display", "leader", "supervisor", "admin"]},
            "role_zh": {"type": "string"},
            "staff": _NULLABLE_STR,
            "staff_name": _NULLABLE_STR,
            "permissions": {"type": "array", "items": {"type": "string"}},
            "csrf": {"type": "string"},
            "expires_at": {"type": "string", "format": "date-time"},
            "hall": {"type": "string"},
        },
        ("user", "role", "csrf", "permissions", "expires_at"),
    ),
    "Subject": _obj(
        {
            "case": _NULLABLE_STR,
            "window": _NULLABLE_STR,
            "window_name": _NULLABLE_STR,
            "staff": _NULLABLE_STR,
            "staff_name": _NULLABLE_STR,
        }
    ),
    "Card": _obj(
        {
            "card": {"type": "string"},
            "rule": {"type": "string"},
            "title": {"type": "string"},
            "level": {"enum": ["yellow", "red"]},
            "level_zh": {"type": "string"},
            "state": {"enum": [s.value for s in CardState]},
            "state_zh": {"type": "string", "description": "作废 for a voided card"},
            "voided": {
                "type": "boolean",
                "description": "late evidence showed its condition never held: no verdict on "
                "anyone (listed only with include_voided=1; `state` stays closed)",
            },
            "void_reason": {**_NULLABLE_STR, "description": "why it was voided (中文)"},
            "voided_at": _TIME,
            "holds": {"type": "boolean"},
            "estimated": {"type": "boolean"},
            "raised_at": _TIME,
            "answer_by": _TIME,
            "subject": _ref("Subject"),
            "owner": _NULLABLE_STR,
            "owner_name": _NULLABLE_STR,
            "updated_at": _TIME,
        },
        ("card", "rule", "level", "state", "holds", "subject", "voided"),
    ),
    "Transition": _obj(
        {
            "ts": _TIME,
            "state": {"enum": [s.value for s in CardState]},
            "state_zh": {"type": "string"},
            "reason": {"type": "string"},
            "reason_zh": {"type": "string"},
            "holds": {"type": "boolean"},
            "by": _NULLABLE_STR,
            "by_name": _NULLABLE_STR,
            "text": _NULLABLE_STR,
        },
        ("ts", "state", "reason"),
    ),
    "Evidence": _obj(
        {
            "id": {"type": "string"},
            "seq": {"type": "integer"},
            "kind": {"type": "string"},
            "topic": {"type": "string"},
            "ts": _TIME,
            "received_at": _TIME,
            "payload": {},
        },
        ("id", "seq", "kind", "topic", "payload"),
    ),
    "CardDetail": {
        "allOf": [
            _ref("Card"),
            _obj(
                {
                    "source": {"type": "string"},
                    "history": {"type": "array", "items": _ref("Transition")},
                    "evidence": {"type": "array", "items": _ref("Evidence")},
                    "evidence_missing": {"type": "array", "items": {"type": "string"}},
                    "notify_enabled": {
                        "type": "boolean",
                        "description": "false: no notice channel is configured",
                    },
                    "notices": {
                        "type": "array",
                        "items": _ref("Notice"),
                        "description": "通知记录, oldest first (docs/notify.md)",
                    },
                },
                ("history", "evidence", "notices"),
            ),
        ]
    },
    "Decision": {
        **_obj(
            {
                "action": {"enum": ["answer", "uphold", "mitigate", "revoke"]},
                "text": {"type": "string", "minLength": 1, "maxLength": 2000},
                "mitigation": {"enum": ["lighter", "reduced", "exempt"]},
            },
            ("action", "text"),
        ),
        "additionalProperties": False,
    },
    "Decided": _obj(
        {
            "card": {"type": "string"},
            "seq": {"type": "integer"},
            "event_id": {"type": "string"},
            "transitions": {"type": "array", "items": _ref("Transition")},
        },
        ("card", "seq", "event_id", "transitions"),
    ),
    "Complaint": _obj(
        {
            "complaint": {"type": "string"},
            "state": {"type": "string"},
            "state_zh": {"type": "string"},
            "category": _NULLABLE_STR,
            "window": _NULLABLE_STR,
            "staff": _NULLABLE_STR,
            "staff_name": _NULLABLE_STR,
            "case": _NULLABLE_STR,
            "received_at": _TIME,
            "accept_by": _TIME,
            "accepted_at": _TIME,
            "result_by": _TIME,
            "decided_at": _TIME,
            "founded": {"type": "boolean"},
            "handle_by": _TIME,
            "closed_at": _TIME,
            "overdue": {"type": "boolean"},
            "estimated": {"type": "boolean"},
            "cards": {"type": "array", "items": _ref("Card")},
        },
        ("complaint", "state", "received_at", "accept_by", "overdue", "cards"),
    ),
    "Attendance": _obj(
        {
            "day": {"type": "string", "format": "date"},
            "hall": {"type": "string"},
            "staff": {"type": "array", "items": {"type": "object"}},
            "duty": {"type": "array", "items": {"type": "object"}},
            "cards": {"type": "array", "items": {"type": "object"}},
        },
        ("day", "staff", "duty", "cards"),
    ),
    "Notice": _obj(
        {
            "card": {"type": "string"},
            "title": {**_NULLABLE_STR, "description": "the notice's title"},
            "staff": {**_NULLABLE_STR, "description": "staff id; null for a role nobody holds"},
            "staff_name": _NULLABLE_STR,
            "channel": {**_NULLABLE_STR, "description": "notify.channels[].name"},
            "channel_zh": {**_NULLABLE_STR, "description": "邮件, 钉钉, 企业微信, 短信"},
            "channel_ok": {
                "type": ["boolean", "null"],
                "description": "false while its channel fails (a waiting notice waits for it)",
            },
            "status": {
                "enum": list(NOTICE_STATES),
                "description": "sent: the channel took it; waiting: not tried yet (sending "
                "hours, rate); failed: its last attempt failed, it is retried; cancelled: its "
                "card closed first; not_told: a route named someone no channel could reach",
            },
            "status_zh": {"type": "string"},
            "error": {**_NULLABLE_STR, "description": "the last error, or why not told"},
            "attempts": {"type": "integer", "minimum": 0},
            "timing": _NULLABLE_STR,
            "created_at": _TIME,
            "sent_at": _TIME,
            "next_try": {**_TIME, "description": "not sent yet: the earliest next attempt"},
        },
        ("card", "status", "status_zh", "attempts", "created_at"),
    ),
    "NoticeChannel": _obj(
        {
            "channel": {"type": "string"},
            "channel_zh": {"type": "string"},
            "ok": {"type": "boolean"},
            "failing_since": _TIME,
            "retry_at": _TIME,
            "last_error": _NULLABLE_STR,
            "sent": {"type": "integer"},
            "failures": {"type": "integer"},
        },
        ("channel", "ok"),
    ),
    "AuditEntry": _obj(
        {
            "seq": {"type": "integer"},
            "event_id": {"type": "string"},
            "received_at": _TIME,
            "ts": _TIME,
            "card": {"type": "string"},
            "action": {"enum": ["answer", "uphold", "mitigate", "revoke"]},
            "action_zh": {"type": "string"},
            "by": {"type": "string"},
            "by_name": _NULLABLE_STR,
            "text": _NULLABLE_STR,
            "mitigation": {"enum": ["lighter", "reduced", "exempt", None]},
            "mitigation_zh": _NULLABLE_STR,
            "via": {"enum": ["console", "mqtt", "unverified"]},
            "user": _NULLABLE_STR,
            "role": _NULLABLE_STR,
            "client": _NULLABLE_STR,
            "result": {"enum": ["applied", "refused"]},
            "refusal": _NULLABLE_STR,
            "refusal_zh": _NULLABLE_STR,
        },
        ("seq", "card", "action", "by", "via", "result"),
    ),
    "Archive": _obj(
        {
            "name": {"type": "string", "description": "daily/2026-11-23.pdf, monthly/2026-11.xlsx"},
            "kind": {"enum": ["daily", "monthly"]},
            "period": {"type": "string", "description": "the day or the month"},
            "format": {"enum": ["pdf", "csv", "xlsx"]},
            "size": {"type": "integer"},
            "written_at": {"type": "string", "format": "date-time"},
        },
        ("name", "kind", "period", "format", "size", "written_at"),
    ),
}


_ARCHIVE_NAME = r"^(daily/\d{4}-\d{2}-\d{2}|monthly/\d{4}-\d{2})\.(pdf|csv|xlsx)$"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_INCLUDE_VOIDED = _query(
    "include_voided",
    {"enum": ["0", "1"]},
    "1: also the voided cards (包括作废), marked `voided` (default 0: left out)",
)

_CARD_PARAM = {
    "name": "card",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
    "description": "Card id, e.g. K-1A2B3C4D5E6F7A8B",
}
_FIRST_CARD = {"card": "$response.body#/cards/0/card"}
_CSRF: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]
_SESSION: list[dict[str, list[str]]] = [{"session": []}]


def _get(op: str, summary: str, ok: dict[str, Any], *, params: list[Any] | None = None) -> Any:
    responses: dict[str, Any] = {"200": ok, "401": _401, "403": _403}
    if params:
        responses["400"] = _400
    return {
        "get": {
            "operationId": op,
            "summary": summary,
            "security": _SESSION,
            "parameters": params or [],
            "responses": responses,
        }
    }


_PATHS: dict[str, Any] = {
    "/api/login": {
        "post": {
            "operationId": "login",
            "summary": "登录: a session cookie (HttpOnly, SameSite=Strict) and a CSRF token",
            "security": [],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Login")}}},
            "responses": {
                "200": _json(_ref("Session"), "logged in; Set-Cookie hallwatch_session"),
                "400": _error("name or password missing"),
                "401": _error("wrong name or password"),
                "403": _error("foreign Origin"),
                "415": _error("not JSON"),
                "429": _error(
                    "too many login attempts from this address (or for this user from it); "
                    "Retry-After"
                ),
                "503": _error("every password check slot busy; Retry-After: 1"),
            },
        }
    },
    "/api/logout": {
        "post": {
            "operationId": "logout",
            "summary": "退出登录",
            "security": _CSRF,
            "responses": {
                "200": _json(_obj({"ok": {"type": "boolean"}}), "logged out"),
                "401": _401,
                "403": _403,
            },
        }
    },
    "/api/session": _get(
        "getSession", "当前会话 (the CSRF token for POSTs)", _json(_ref("Session"), "ok")
    ),
    "/api/meta": _get(
        "getMeta",
        "规则、窗口、人员名称 (labels for filters)",
        _json(
            _obj(
                {
                    "hall": {"type": "object"},
                    "version": {"type": "string"},
                    "rules": {"type": "array", "items": {"type": "object"}},
                    "windows": {"type": "array", "items": {"type": "object"}},
                    "staff": {"type": "array", "items": {"type": "object"}},
                },
                ("hall", "rules", "windows", "staff"),
            ),
            "ok",
        ),
    ),
    "/api/cards": _get(
        "listCards",
        "卡片列表 (leader, supervisor): newest first, open ones unless `state` says otherwise; "
        "voided cards only with include_voided=1",
        {
            **_json(
                _obj(
                    {
                        "total": {"type": "integer"},
                        "cards": {"type": "array", "items": _ref("Card")},
                    },
                    ("total", "cards"),
                ),
                "ok",
            ),
            "links": {
                "card": {"operationId": "getCard", "parameters": _FIRST_CARD},
                "decision": {"operationId": "decideCard", "parameters": _FIRST_CARD},
            },
        },
        params=[
            _query("level", {"enum": ["yellow", "red"]}, "黄牌 / 红牌"),
            _query("rule", {"enum": [r.value for r in RuleId]}, "rule id"),
            _query("window", {"type": "string", "maxLength": 64}, "window id"),
            _query("staff", {"type": "string", "maxLength": 64}, "officer named or owner"),
            _query("day", {"type": "string", "format": "date"}, "raised on this local day"),
            _query(
                "state",
                {"enum": ["open", "all", "pending", *(s.value for s in CardState)]},
                "open (default: not closed), all, pending (not decided yet), or one state",
            ),
            _INCLUDE_VOIDED,
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000}, "skip"),
        ],
    ),
    "/api/cards/{card}": {
        "get": {
            "operationId": "getCard",
            "summary": "一张牌: its history and evidence events (leader, supervisor)",
            "security": _SESSION,
            "parameters": [_CARD_PARAM],
            "responses": {
                "200": _json(_ref("CardDetail"), "ok"),
                "401": _401,
                "403": _403,
                "404": _error("no such card"),
            },
        }
    },
    "/api/cards/{card}/decision": {
        "post": {
            "operationId": "decideCard",
            "summary": "录入申辩 / 维持 / 撤销 (supervisor): journaled before the answer",
            "security": _CSRF,
            "parameters": [_CARD_PARAM],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Decision")}}},
            "responses": {
                "200": _json(_ref("Decided"), "journaled and applied"),
                "400": _error("body is not a JSON object"),
                "401": _401,
                "403": _403,
                "404": _error("no such card"),
                "409": _error("the card engine refused it (reason in Chinese)"),
                "415": _error("not JSON"),
                "422": _error("action or text invalid (empty, too long, a lone surrogate)"),
                "503": _error("not journaled in time (the journal is failing)"),
            },
        }
    },
    "/api/complaints": _get(
        "listComplaints",
        "投诉及其期限 (leader, supervisor)",
        _json(
            _obj({"complaints": {"type": "array", "items": _ref("Complaint")}}, ("complaints",)),
            "ok",
        ),
        params=[_INCLUDE_VOIDED],
    ),
    "/api/attendance": _get(
        "getAttendance",
        "值班领导考勤日报 (leader, supervisor)",
        _json(_ref("Attendance"), "ok"),
        params=[_query("date", {"type": "string", "format": "date"}, "default: today")],
    ),
    "/api/audit": _get(
        "getAudit",
        "卡片处理审计: every card command, who, when, from where (supervisor, admin)",
        _json(
            _obj({"entries": {"type": "array", "items": _ref("AuditEntry")}}, ("entries",)),
            "ok",
        ),
        params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "rows")],
    ),
    "/api/notices": _get(
        "listUnsentNotices",
        "通知失败: notices not sent yet, failed or waiting, newest first, and each channel's "
        "state (supervisor, admin)",
        _json(
            _obj(
                {
                    "notify_enabled": {"type": "boolean"},
                    "total": {"type": "integer"},
                    "notices": {"type": "array", "items": _ref("Notice")},
                    "channels": {"type": "array", "items": _ref("NoticeChannel")},
                },
                ("notify_enabled", "total", "notices", "channels"),
            ),
            "ok",
        ),
        params=[
            _query(
                "status",
                {"enum": ["unsent", "failed", "waiting"]},
                "unsent (default): failed and waiting; failed: the last attempt failed; "
                "waiting: not tried yet",
            ),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000}, "skip"),
        ],
    ),
    "/api/archives": {
        "get": {
            "operationId": "getArchives",
            "summary": "归档 (leader, supervisor, admin): the daily sheets and monthly reports the "
            "scheduled jobs wrote (docs/archives.md); with `name`, that file to save",
            "security": _SESSION,
            "parameters": [
                _query(
                    "name",
                    {"type": "string", "pattern": _ARCHIVE_NAME},
                    "an archive's `name` from the list: the file itself (Content-Disposition)",
                )
            ],
            "responses": {
                "200": {
                    "description": "the list, or the named file",
                    "content": {
                        JSON: {
                            "schema": _obj(
                                {"archives": {"type": "array", "items": _ref("Archive")}},
                                ("archives",),
                            )
                        },
                        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        "text/csv": {"schema": {"type": "string"}},
                        _XLSX: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "400": _400,
                "401": _401,
                "403": _403,
                "404": _error("no archive of that name"),
            },
        }
    },
    "/api/config": _get(
        "getConfig", "当前配置 (admin; password hashes hidden)", _json({"type": "object"}, "ok")
    ),
    "/api/config/reload": {
        "post": {
            "operationId": "reloadConfig",
            "summary": "重新加载配置 (admin): as SIGHUP; a broken file is refused, the old kept",
            "security": _CSRF,
            "responses": {
                "202": _json(_obj({"ok": {"type": "boolean"}}), "reload requested"),
                "401": _401,
                "403": _403,
            },
        }
    },
}


_SCHEMAS.update(desk_openapi.SCHEMAS)  # the complaint desk and the 督办 queue
_SCHEMAS["Complaint"]["properties"].update(desk_openapi.COMPLAINT_FIELDS)
_PATHS.update(desk_openapi.PATHS)
_PATHS["/api/complaints"]["post"] = desk_openapi.POST_COMPLAINTS
_PATHS["/api/complaints"]["get"]["parameters"] += desk_openapi.COMPLAINT_PARAMS

_SCHEMAS.update(cards_openapi.SCHEMAS)  # the card list's search and export, the card page
_SCHEMAS["CardDetail"]["allOf"][1]["properties"].update(cards_openapi.DETAIL_FIELDS)
_PATHS.update(cards_openapi.paths(_PATHS["/api/cards"]["get"]["parameters"]))
_PATHS["/api/cards"]["get"]["parameters"] += cards_openapi.LIST_PARAMS
_PATHS["/api/cards"]["get"]["responses"]["200"]["content"][JSON]["schema"]["properties"].update(
    cards_openapi.LIST_FIELDS
)
_PATHS.update(register_openapi.PATHS)  # the negative-filing register and its exports
_SCHEMAS["CardDetail"]["allOf"][1]["properties"]["answer_basis"] = {
    "type": "string",
    "description": "依据 of the answer deadline (申辩期限): the hearing's regulation",
}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hallwatch 效能投诉中心 console API",
            "version": __version__,
            "description": "The JSON API of the supervisor console (docs/console.md). Log in "
            "with POST /api/login; send the returned `csrf` as X-CSRF-Token on every POST.",
        },
        "paths": {**_PATHS, **board.OPENAPI_PATHS},
        "components": {
            "schemas": {**_SCHEMAS, **board.OPENAPI_SCHEMAS},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "hallwatch_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }

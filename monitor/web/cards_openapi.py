"""The OpenAPI entries of the card list's paging, export and feed, the card page's people
part, the system cards and the window and officer pages (cardviews.py), merged into
monitor/web/openapi.py's document."""

from __future__ import annotations

from typing import Any

from monitor.web.cardlist import SORTS

JSON = "application/json"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_SESSION: list[dict[str, list[str]]] = [{"session": []}]
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


LIST_PARAMS = [
    _query("q", {"type": "string", "maxLength": 100}, "search: case number, officer, window"),
    _query("sort", {"enum": list(SORTS)}, "sort column (default raised_at)"),
    _query("order", {"enum": ["asc", "desc"]}, "default desc (newest first)"),
]
LIST_FIELDS: dict[str, Any] = {
    "offset": {"type": "integer"},
    "limit": {"type": "integer"},
    "sort": {"type": "string"},
    "order": {"enum": ["asc", "desc"]},
    "version": {"type": "integer", "description": "moves when any card changed"},
    "filter_zh": {"type": "string", "description": "the filter in words (print header)"},
    "counts": _obj(
        {"level": _COUNTS, "rule": _COUNTS, "state": _COUNTS},
        ("level", "rule", "state"),
    ),
}
DETAIL_FIELDS: dict[str, Any] = {
    "what_zh": {"type": "string", "description": "what happened, in a sentence"},
    "system": {"type": "boolean", "description": "a system card: not heard, not decided"},
    "remedy_zh": {**_STR, "description": "a system card: what the admin should do"},
    "punch_zh": {**_STR, "description": "上午签到 / 上午签退 / 下午签到 / 下午签退"},
    "evidence_zh": {"type": "array", "items": {"type": "string"}},
    "timeline": {"type": "array", "items": _ref("CaseStep")},
    "actions": {"type": "array", "items": _ref("CardChoice")},
    "statements": {"type": "array", "items": _ref("Statement")},
}
SCHEMAS: dict[str, Any] = {
    "CaseStep": _obj(
        {
            "ts": {"type": "string", "format": "date-time"},
            "time_zh": {"type": "string"},
            "action": {"type": "string"},
            "action_zh": {"type": "string"},
            "staff": _STR,
            "staff_name": _STR,
            "window": _STR,
            "window_name": _STR,
            "detail_zh": _STR,
            "event_id": {"type": "string"},
        },
        ("ts", "action", "action_zh"),
    ),
    "CardChoice": _obj(
        {
            "action": {"enum": ["answer", "uphold", "mitigate", "revoke"]},
            "label_zh": {"type": "string"},
            "allowed": {"type": "boolean"},
            "why_not": _STR,
            "mitigations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "value": {"enum": ["lighter", "reduced", "exempt"]},
                        "label_zh": {"type": "string"},
                    },
                },
            },
        },
        ("action", "allowed"),
    ),
    "Statement": _obj(
        {
            "ts": _STR,
            "speaker": _STR,
            "speaker_name": {"type": "string"},
            "entered_by": _STR,
            "entered_by_name": _STR,
            "text": _STR,
        },
        ("speaker_name",),
    ),
    "SubjectPage": _obj(
        {
            "kind": {"enum": ["window", "officer"]},
            "id": {"type": "string"},
            "name": {"type": "string"},
            "light": {"enum": ["green", "yellow", "red"]},
            "light_zh": {"type": "string"},
            "status": _STR,
            "status_zh": _STR,
            "department": _STR,
            "open_cases": {"type": "integer"},
            "open_total": {"type": "integer"},
            "open_by_rule": _COUNTS,
            "open_cards": {"type": "array", "items": _ref("Card")},
            "history": {
                "type": "array",
                "items": _obj(
                    {
                        "month": {"type": "string"},
                        "received": {"type": "integer"},
                        "completed": {"type": "integer"},
                        "on_time": {"type": "integer"},
                        "on_time_pct": {"type": ["number", "null"]},
                        "cards": {"type": "integer"},
                        "red": {"type": "integer"},
                        "yellow": {"type": "integer"},
                        "score": {"type": ["integer", "null"]},
                        "grade": _STR,
                        "deducted": {"type": "integer"},
                        "deductions": {"type": "array", "items": {"type": "object"}},
                    },
                    ("month", "cards", "deducted"),
                ),
            },
        },
        ("kind", "id", "name", "light", "open_cards", "history"),
    ),
}


_SYSTEM_CARD = {"allOf": [_ref("Card"), _obj({"remedy_zh": {"type": "string"}}, ("remedy_zh",))]}


def _file(op: str, summary: str, ctype: str, params: list[Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op,
            "summary": summary,
            "security": _SESSION,
            "parameters": params,
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {ctype: {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": _error("a bad parameter"),
                "401": _error("not logged in"),
                "403": _error("not allowed"),
            },
        }
    }


def _page(op: str, summary: str, name: str, what: str) -> dict[str, Any]:
    param = {"name": "id", "in": "query", "required": True, "description": what,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}  # fmt: skip
    return {
        "get": {
            "operationId": op,
            "summary": summary,
            "security": _SESSION,
            "parameters": [param],
            "responses": {
                "200": _json(_ref("SubjectPage"), "ok"),
                "400": _error("no id"),
                "401": _error("not logged in"),
                "403": _error("not allowed"),
                "404": _error(f"no such {name}"),
            },
        }
    }


def paths(list_params: list[Any]) -> dict[str, Any]:
    """`list_params`: the card list's own filters (openapi.py), for the exports. The live feed
    `/console/cards/events` (server-sent events) is left out: a stream never ends."""
    every = [*list_params, *LIST_PARAMS]
    return {
        "/api/cards.xlsx": _file("exportCardsXlsx", "卡片导出 XLSX (the filter)", _XLSX, every),
        "/api/cards.csv": _file("exportCardsCsv", "卡片导出 CSV (UTF-8, BOM)", "text/csv", every),
        "/api/system-cards": {
            "get": {
                "operationId": "listSystemCards",
                "summary": "系统提示牌 (admin): open system cards and what to do",
                "security": _SESSION,
                "responses": {
                    "200": _json(
                        _obj(
                            {"cards": {"type": "array", "items": _SYSTEM_CARD}},
                            ("cards",),
                        ),
                        "ok",
                    ),
                    "401": _error("not logged in"),
                    "403": _error("not allowed"),
                },
            }
        },
        "/api/window": _page("getWindowPage", "窗口页 (leader, supervisor)", "window", "id"),
        "/api/officer": _page("getOfficerPage", "人员页 (leader, supervisor)", "officer", "id"),
    }

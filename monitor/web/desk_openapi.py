"""The OpenAPI entries of the complaint desk (complaints_desk.py) and the 督办 queue
(notices_print.py), merged into monitor/web/openapi.py's document."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_CHANNELS = ["phone", "letter", "visit", "online", "12345"]
_STEPS = ["accepted", "founded", "unfounded", "closed"]
_CATEGORIES = ["overtime", "fees", "procedure", "disclosure", "attitude", "other"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


COMPLAINT_FIELDS: dict[str, Any] = {
    "channel": {"enum": [*_CHANNELS, None]},
    "channel_zh": _STR,
    "complainant_name": _STR,
    "complainant_phone": _STR,
    "content": _STR,
    "entered_by": _STR,
    "owner": _STR,
    "owner_name": _STR,
    "steps": {
        "type": "array",
        "items": _obj(
            {
                "action": {"type": "string"},
                "action_zh": {"type": "string"},
                "ts": {"type": "string", "format": "date-time"},
                "by": _STR,
                "by_name": _STR,
                "user": _STR,
                "via": {"enum": ["console", "mqtt"]},
                "text": _STR,
            },
            ("action", "ts", "via"),
        ),
    },
}

SCHEMAS: dict[str, Any] = {
    "ComplaintIntake": _obj(
        {
            "channel": {"enum": _CHANNELS},
            "complainant_name": {"type": "string", "minLength": 1, "maxLength": 64},
            "complainant_phone": {"type": "string", "pattern": "^[0-9+\\- ]{3,32}$"},
            "window": {"type": "string", "maxLength": 64},
            "staff": {"type": "string", "maxLength": 64},
            "case": {"type": "string", "maxLength": 64},
            "category": {"enum": _CATEGORIES},
            "content": {"type": "string", "minLength": 1, "maxLength": 2000},
            "received_at": {
                "type": "string",
                "description": "RFC 3339, or hall-local YYYY-MM-DDTHH:MM; default now",
            },
        },
        ("channel", "complainant_name", "content"),
    ),
    "ComplaintStep": _obj(
        {
            "complaint": {"type": "string", "minLength": 1, "maxLength": 64},
            "action": {"enum": _STEPS},
            "text": {"type": "string", "maxLength": 2000},
        },
        ("complaint", "action"),
    ),
    "ComplaintFiled": _obj(
        {
            "complaint": {"type": "string"},
            "seq": {"type": "integer"},
            "event_id": {"type": "string"},
            "cards": {"type": "array", "items": _ref("Card")},
            "row": _ref("Complaint"),
        },
        ("complaint", "seq", "event_id", "cards"),
    ),
    "OverdueCard": {
        "allOf": [
            _ref("Card"),
            _obj(
                {
                    "days_overdue": {"type": "integer", "minimum": 0},
                    "head": _STR,
                    "head_name": _STR,
                    "notice": {"type": "string"},
                },
                ("days_overdue", "head", "notice"),
            ),
        ]
    },
}

_WRITE_ERRORS = {
    "400": _error("body is not a JSON object"),
    "401": _error("no session"),
    "403": _error("role lacks the permission, or CSRF refused"),
    "415": _error("not JSON"),
    "422": _error("a field is invalid (the message says which, in Chinese)"),
    "503": _error("not journaled in time (the journal is failing)"),
}
_CSRF: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]

POST_COMPLAINTS = {
    "operationId": "fileComplaint",
    "summary": "投诉登记 (supervisor): a complaint by phone, letter, visit, online or 12345, "
    "journaled as the contract's `received` event with who entered it",
    "security": _CSRF,
    "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ComplaintIntake")}}},
    "responses": {"201": _json(_ref("ComplaintFiled"), "journaled and applied"), **_WRITE_ERRORS},
}

COMPLAINT_PARAMS = [
    _query("state", {"enum": ["received", "accepted", "founded", "unfounded", "closed"]}, "状态"),
    _query("channel", {"enum": _CHANNELS}, "来源"),
    _query("overdue", {"enum": ["0", "1"]}, "1: only the overdue ones"),
    _query("q", {"type": "string", "maxLength": 64}, "编号、投诉人、内容、对象中的文字"),
]

PATHS: dict[str, Any] = {
    "/api/complaints/step": {
        "post": {
            "operationId": "stepComplaint",
            "summary": "受理 / 查实 / 不属实 / 办结 (supervisor), in that order, each journaled",
            "security": _CSRF,
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _ref("ComplaintStep")}},
            },
            "responses": {
                "200": _json(_ref("ComplaintFiled"), "journaled and applied"),
                "404": _error("no such complaint"),
                "409": _error("not this step now (the message says why)"),
                **_WRITE_ERRORS,
            },
        }
    },
    "/api/supervision": {
        "get": {
            "operationId": "listOverdue",
            "summary": "督办: escalated and overdue-unanswered cards, days overdue, owner, "
            "the window's head (leader, supervisor)",
            "security": [{"session": []}],
            "parameters": [],
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "total": {"type": "integer"},
                            "cards": {"type": "array", "items": _ref("OverdueCard")},
                        },
                        ("total", "cards"),
                    ),
                    "ok",
                ),
                "401": _error("no session"),
                "403": _error("role lacks the permission"),
            },
        }
    },
}

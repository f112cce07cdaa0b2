"""The OpenAPI entries of the negative-filing register (register.py), merged into
monitor/web/openapi.py's document."""

from __future__ import annotations

from typing import Any

from alerts.register import COLUMNS
from alerts.register import Standing as _Standing
from monitor.web.cards_openapi import JSON, _error, _file, _obj, _query

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SESSION: list[dict[str, list[str]]] = [{"session": []}]
_DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
PARAMS = [
    _query("window", {"type": "string"}, "only this window"),
    _query("staff", {"type": "string"}, "only this officer"),
    _query("standing", {"enum": [s.value for s in _Standing]}, "where the review stands"),
    _query("from", _DAY, "refused on or after (local day)"),
    _query("to", _DAY, "refused on or before (local day)"),
    _query("q", {"type": "string", "maxLength": 100}, "search: case, officer, applicant, item"),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "first row"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "rows (default 50)"),
]
_CELL = {"type": ["string", "integer", "null"]}
PAGE = _obj(
    {
        "total": {"type": "integer"},
        "offset": {"type": "integer"},
        "limit": {"type": "integer"},
        "columns": {"type": "array", "items": {"enum": list(COLUMNS)}},
        "rows": {
            "type": "array",
            "items": _obj(
                {
                    "case": {"type": "string"},
                    "standing": {"enum": [s.value for s in _Standing]},
                    "cells": {"type": "array", "items": _CELL},
                },
                ("case", "standing", "cells"),
            ),
        },
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "standings": {"type": "object", "additionalProperties": {"type": "string"}},
        "filter_zh": {"type": "string"},
    },
    ("total", "columns", "rows", "counts", "filter_zh"),
)
PATHS: dict[str, Any] = {
    "/api/register": {
        "get": {
            "operationId": "getRegister",
            "summary": "否定报备登记 (leader, supervisor): every refusal and its review, paged",
            "security": _SESSION,
            "parameters": PARAMS,
            "responses": {
                "200": {"description": "ok", "content": {JSON: {"schema": PAGE}}},
                "400": _error("a bad parameter"),
                "401": _error("not logged in"),
                "403": _error("not allowed"),
            },
        }
    },
    "/api/register.xlsx": _file("exportRegisterXlsx", "否定报备登记导出 XLSX", _XLSX, PARAMS),
    "/api/register.csv": _file("exportRegisterCsv", "否定报备登记导出 CSV", "text/csv", PARAMS),
}

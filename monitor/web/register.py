"""The negative-filing register (否定报备登记) for the console and the command line: filtered,
paged, exported (XLSX, CSV) with the card list's machinery, in Chinese with names.

`/api/register` pages it; `/api/register.xlsx` and `/api/register.csv` export the filter;
the rows come from alerts/register.py over the replayed cases (the daemon's state lock held).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

from alerts.config import HallConfig
from alerts.register import STANDING_ZH, Directory, Filing, Standing, register, table
from alerts.supervision import Supervision
from monitor.reports import workbook
from monitor.reports.tables import Cell, Table
from monitor.web import cardlist
from monitor.web.auth import Permission, Session
from monitor.web.console import ConsoleError
from monitor.web.server import Request, Response

EXPORT_MAX = cardlist.EXPORT_MAX
Handler = Callable[[Request, Session], Response]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterQuery:
    window: str | None = None
    staff: str | None = None
    standing: Standing | None = None
    start: date | None = None  # refused on or after this local day
    end: date | None = None  # ... on or before
    q: str | None = None  # case number, officer or applicant name
    offset: int = 0
    limit: int = 50

    def admits(self, f: Filing, d: Directory) -> bool:
        day = f.refused_at.astimezone(d.zone).date()
        if (self.start and day < self.start) or (self.end and day > self.end):
            return False
        if self.window and f.window != self.window:
            return False
        if self.staff and f.staff != self.staff:
            return False
        if self.standing is not None and f.standing is not self.standing:
            return False
        if not self.q:
            return True
        officer = d.person(f.staff)
        applicant = f.applicant.name if f.applicant else None
        hay = (f.case, f.staff, officer.name if officer else None, applicant, f.item)
        return any(self.q.casefold() in h.casefold() for h in hay if h)

    def zh(self, cfg: HallConfig) -> str:
        """The filter in words, for the page and the export."""
        d = Directory.of(cfg)
        bits = []
        if self.start or self.end:
            bits.append(f"{self.start or '…'} 至 {self.end or '…'}")
        if self.window:
            bits.append("窗口 " + d.windows.get(self.window, self.window))
        if self.staff:
            who = d.person(self.staff)
            bits.append("经办人 " + (who.name if who else self.staff))
        if self.standing is not None:
            bits.append(STANDING_ZH[self.standing])
        if self.q:
            bits.append(f"搜索“{self.q}”")
        return "，".join(bits) or "全部"


def chosen(sup: Supervision, cfg: HallConfig, query: RegisterQuery, now: datetime) -> list[Filing]:
    cases = {k: rec.entries for k, rec in sup.engine.cases.items()}
    found = register(cases, sup.engine.calendar, sup.engine.policy, now)
    d = Directory.of(cfg)
    return [f for f in found if query.admits(f, d)]


def page(sup: Supervision, cfg: HallConfig, query: RegisterQuery, now: datetime) -> dict[str, Any]:
    found = chosen(sup, cfg, query, now)
    part = found[query.offset : query.offset + query.limit]
    head, rows = table(part, Directory.of(cfg), start=query.offset + 1)
    return {
        "total": len(found),
        "offset": query.offset,
        "limit": query.limit,
        "columns": head,
        "rows": [
            {"case": f.case, "standing": f.standing.value, "cells": r}
            for f, r in zip(part, rows, strict=True)
        ],
        "counts": dict(Counter(f.standing.value for f in found)),
        "standings": {s.value: STANDING_ZH[s] for s in Standing},
        "filter_zh": query.zh(cfg),
    }


def export(
    sup: Supervision, cfg: HallConfig, query: RegisterQuery, now: datetime, kind: str
) -> bytes:
    head, rows = table(chosen(sup, cfg, query, now)[:EXPORT_MAX], Directory.of(cfg))
    t: Table = (head, [list[Cell](r) for r in rows])
    return workbook.xlsx([("否定报备登记", t)]) if kind == "xlsx" else cardlist.to_csv(t)


# --- the routes ---------------------------------------------------------------------------


class Host(Protocol):
    hall: Any

    def _need(self, permission: Permission, fn: Handler, /) -> Callable[[Request], Response]: ...


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bad(name: str, what: str) -> ConsoleError:
    return ConsoleError(400, f"参数 {name} 无效：{what}", "bad_parameter")


def _day(req: Request, name: str) -> date | None:
    value = req.arg(name) or ""
    if not value:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(name, "须为日期 YYYY-MM-DD") from None


def _int(req: Request, name: str, default: int, low: int, high: int) -> int:
    value = req.arg(name) or ""
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise _bad(name, f"须为 {low} 到 {high} 的整数")
    return int(value)


def _choice(req: Request, name: str, allowed: Mapping[str, Standing]) -> Standing | None:
    value = req.arg(name) or ""
    if not value:
        return None
    if value not in allowed:
        raise _bad(name, "须为 " + "、".join(allowed))
    return allowed[value]


def query_of(req: Request) -> RegisterQuery:
    """The register's filter and page from the query string; a bad value is a 400 naming it."""
    return RegisterQuery(
        window=req.arg("window") or None,
        staff=req.arg("staff") or None,
        standing=_choice(req, "standing", {s.value: s for s in Standing}),
        start=_day(req, "from"),
        end=_day(req, "to"),
        q=(req.arg("q") or "").strip()[:100] or None,
        offset=_int(req, "offset", 0, 0, 1_000_000),
        limit=_int(req, "limit", 50, 1, 500),
    )


def _no_store(resp: Response) -> Response:
    headers = (("Cache-Control", "no-store"), *resp.headers)
    return Response(resp.status, resp.content_type, resp.body, headers, resp.stream)


class RegisterViews:
    def __init__(self, console: Host) -> None:
        self.c = console

    def gets(self) -> dict[str, Callable[[Request], Response]]:
        need = self.c._need
        return {
            "/api/register": need(Permission.READ_CARDS, self._page),
            "/api/register.xlsx": need(Permission.READ_CARDS, self._export("xlsx")),
            "/api/register.csv": need(Permission.READ_CARDS, self._export("csv")),
        }

    def _page(self, req: Request, _s: Session) -> Response:
        query = query_of(req)
        cfg, now = self.c.hall.config(), self.c.hall.now()
        doc = self.c.hall.read(lambda sup: page(sup, cfg, query, now))
        return _no_store(Response.json(200, doc))

    def _export(self, kind: str) -> Handler:
        def route(req: Request, _s: Session) -> Response:
            query = query_of(req)
            cfg, now = self.c.hall.config(), self.c.hall.now()
            body = self.c.hall.read(lambda sup: export(sup, cfg, query, now, kind))
            ctype = cardlist.XLSX_TYPE if kind == "xlsx" else cardlist.CSV_TYPE
            day = now.astimezone(cfg.hall.zone).strftime("%Y%m%d-%H%M")
            name = quote(f"hallwatch-{cfg.hall.id}-register-{day}.{kind}")
            disposition = (("Content-Disposition", f"attachment; filename*=UTF-8''{name}"),)
            return _no_store(Response(200, ctype, body, disposition))

        return route

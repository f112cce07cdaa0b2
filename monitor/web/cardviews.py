"""The card list's and the subject pages' routes (built on `api.Console`, like the desk's).

`/api/cards` pages, sorts, searches and counts (`cardlist`); `/api/cards.xlsx` and
`/api/cards.csv` export the current filter; `/console/cards/events` is the live feed
(server-sent events: a stream never ends, so it is not in the OpenAPI document, like
/display/events); `/api/system-cards` lists the system cards for the admin with what to do;
`/api/window?id=` and `/api/officer?id=` are the window's and the officer's pages (`subjects`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from alerts.cards import SYSTEM_RULES
from monitor.web import cardlist
from monitor.web.auth import Permission, Session
from monitor.web.cardpage import REMEDY_ZH
from monitor.web.console import CardFilter, ConsoleError, Names, card_row, voided
from monitor.web.server import Request, Response
from monitor.web.subjects import Kind, subject_page

ORDERS = {"asc": False, "desc": True}
Handler = Callable[[Request, Session], Response]


class Host(Protocol):
    """What the routes need of `api.Console` (passed in: this module does not import it)."""

    hall: Any

    def _need(self, permission: Permission, fn: Handler, /) -> Callable[[Request], Response]: ...


def _no_store(resp: Response) -> Response:
    headers = (("Cache-Control", "no-store"), *resp.headers)
    return Response(resp.status, resp.content_type, resp.body, headers, resp.stream)


def _err(status: int, code: str, message_zh: str) -> Response:
    return _no_store(Response.json(status, {"error": code, "message": message_zh}))


def card_query(req: Request, card_filter: Callable[[Request], CardFilter]) -> cardlist.CardQuery:
    """The list's filter, search and sort from the query; a bad value is a 400 naming it."""
    sort = req.arg("sort") or "raised_at"
    if sort not in cardlist.SORTS:
        what = "参数 sort 无效：须为 " + "、".join(cardlist.SORTS)
        raise ConsoleError(400, what, "bad_parameter")
    order = req.arg("order") or "desc"
    if order not in ORDERS:
        raise ConsoleError(400, "参数 order 无效：须为 asc 或 desc", "bad_parameter")
    q = (req.arg("q") or "").strip()[:100] or None
    return cardlist.CardQuery(filter=card_filter(req), q=q, sort=sort, desc=ORDERS[order])


class CardViews:
    def __init__(self, console: Host, card_filter: Callable[[Request], CardFilter]) -> None:
        self.c = console
        self._filter = card_filter
        hall = console.hall

        def names() -> tuple[Names, Any]:
            cfg = hall.config()
            return Names.of(cfg), cfg.hall.zone

        self.feed = cardlist.CardFeed(hall.read, names)

    def gets(self) -> dict[str, Callable[[Request], Response]]:
        need = self.c._need
        return {
            "/api/cards": need(Permission.READ_CARDS, self._list),
            "/api/cards.xlsx": need(Permission.READ_CARDS, self._export("xlsx")),
            "/api/cards.csv": need(Permission.READ_CARDS, self._export("csv")),
            "/console/cards/events": need(Permission.READ_CARDS, self._stream),
            "/api/system-cards": need(Permission.CONFIGURE, self._system),
            "/api/window": need(Permission.READ_CARDS, self._subject("window")),
            "/api/officer": need(Permission.READ_CARDS, self._subject("officer")),
        }

    def _names(self) -> tuple[Names, Any]:
        cfg = self.c.hall.config()
        return Names.of(cfg), cfg.hall.zone

    def _list(self, req: Request, _s: Session) -> Response:
        query = card_query(req, self._filter)
        names, zone = self._names()
        doc = self.c.hall.read(lambda sup: cardlist.list_page(sup, query, names, zone))
        doc["filter_zh"] = cardlist.filter_zh(query, names)
        return _no_store(Response.json(200, doc))

    def _export(self, kind: str) -> Callable[[Request, Session], Response]:
        def route(req: Request, _s: Session) -> Response:
            query = card_query(req, self._filter)
            names, zone = self._names()
            now = self.c.hall.now()

            def table(sup: Any) -> Any:
                found = cardlist.chosen(sup, query, names, zone)[: cardlist.EXPORT_MAX]
                return cardlist.export_table(found, names, zone, now)

            t = self.c.hall.read(table)
            body = cardlist.to_xlsx(t) if kind == "xlsx" else cardlist.to_csv(t)
            ctype = cardlist.XLSX_TYPE if kind == "xlsx" else cardlist.CSV_TYPE
            day = now.astimezone(zone).strftime("%Y%m%d-%H%M")
            name = quote(f"hallwatch-{self.c.hall.config().hall.id}-cards-{day}.{kind}")
            disposition = (("Content-Disposition", f"attachment; filename*=UTF-8''{name}"),)
            return _no_store(Response(200, ctype, body, disposition))

        return route

    def _stream(self, _req: Request, _s: Session) -> Response:
        if not self.feed.admit():
            return _err(503, "busy", "实时更新的连接太多，请稍后再试。")
        return Response.events(self.feed.stream())

    def _system(self, _req: Request, _s: Session) -> Response:
        names, zone = self._names()

        def rows(sup: Any) -> list[dict[str, Any]]:
            found = [
                c
                for c in sup.engine.cards.values()
                if c.rule in SYSTEM_RULES and not voided(c) and c.state.value != "closed"
            ]
            found.sort(key=lambda c: c.raised_at, reverse=True)
            return [{**card_row(c, names, zone), "remedy_zh": REMEDY_ZH[c.rule]} for c in found]

        return _no_store(Response.json(200, {"cards": self.c.hall.read(rows)}))

    def _subject(self, kind: Kind) -> Callable[[Request, Session], Response]:
        def route(req: Request, _s: Session) -> Response:
            key = req.arg("id") or ""
            cfg, now = self.c.hall.config(), self.c.hall.now()
            doc = self.c.hall.read(lambda sup: subject_page(sup, cfg, kind, key, now))
            if doc is None:
                what = "窗口" if kind == "window" else "人员"
                return _err(404, "not_found", f"没有这个{what}。")
            return _no_store(Response.json(200, doc))

        return route

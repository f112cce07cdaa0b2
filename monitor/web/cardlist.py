"""The console's card list: server-side paging, sorting by any column, search, counts by level,
rule and state, the export of the current filter (XLSX, CSV), and a live feed of changes.

The filter is `console.CardFilter`; `CardQuery` adds the search text and the sort. Everything
here reads the replayed state with the daemon's state lock held, except the feed, which polls
a cheap version (the journal position and the transition count) and reads only when it moved.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from alerts.cards import Card
from alerts.rules import RULES, Level
from alerts.supervision import Supervision
from monitor.reports import workbook
from monitor.reports.tables import Cell, Table
from monitor.web.console import LEVEL_ZH, STATE_ZH, CardFilter, Names, card_row, voided

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
EXPORT_MAX = 100_000
FEED_POLL_S = 1.0
FEED_HEARTBEAT_S = 5.0
FEED_MAX_CLIENTS = 32


def _window(c: Card, n: Names) -> str:
    return n.windows.get(c.subject.window, c.subject.window) if c.subject.window else ""


SORTS: dict[str, Callable[[Card, Names], Any]] = {
    "card": lambda c, _n: c.id,
    "level": lambda c, _n: c.level.value,
    "rule": lambda c, _n: c.rule.value,
    "window": lambda c, _n: c.subject.window or "",
    "staff": lambda c, n: n.person(c.subject.staff) or "",
    "case": lambda c, _n: c.subject.case or "",
    "raised_at": lambda c, _n: c.raised_at,
    "state": lambda c, _n: c.state.value,
    "answer_by": lambda c, _n: (c.answer_by is not None, c.answer_by or c.raised_at),
    "updated_at": lambda c, _n: c.history[-1].ts if c.history else c.raised_at,
    "owner": lambda c, n: n.person(c.owner) or "",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CardQuery:
    filter: CardFilter
    q: str | None = None  # search: case number, officer name or id, window id or name, card id
    sort: str = "raised_at"
    desc: bool = True

    def matches(self, c: Card, names: Names) -> bool:
        if not self.q:
            return True
        needle = self.q.casefold()
        s = c.subject
        hay = (c.id, s.case, s.window, _window(c, names), s.staff, names.person(s.staff))
        return any(needle in h.casefold() for h in hay if h)


def chosen(sup: Supervision, query: CardQuery, names: Names, zone: Any) -> list[Card]:
    """The filtered, searched, sorted cards (all of them: the caller pages)."""
    f = query.filter
    out = [c for c in sup.engine.cards.values() if f.admits(c, zone) and query.matches(c, names)]
    key = SORTS[query.sort]
    out.sort(key=lambda c: c.id, reverse=query.desc)  # ties: stable, by id
    out.sort(key=lambda c: key(c, names), reverse=query.desc)
    return out


def counts(cards: list[Card]) -> dict[str, Any]:
    return {
        "level": dict(Counter(c.level.value for c in cards)),
        "rule": dict(Counter(c.rule.value for c in cards)),
        "state": dict(Counter(c.state.value for c in cards)),
    }


def list_page(sup: Supervision, query: CardQuery, names: Names, zone: Any) -> dict[str, Any]:
    found = chosen(sup, query, names, zone)
    f = query.filter
    page = found[f.offset : f.offset + f.limit]
    return {
        "total": len(found),
        "offset": f.offset,
        "limit": f.limit,
        "sort": query.sort,
        "order": "desc" if query.desc else "asc",
        "counts": counts(found),
        "version": version(sup),
        "cards": [card_row(c, names, zone) for c in page],
    }


# --- export ---------------------------------------------------------------------------------

HEAD = [
    "序号",
    "编号",
    "级别",
    "规则",
    "窗口",
    "人员",
    "办件",
    "亮牌时间",
    "状态",
    "申辩期限",
    "逾期天数",
    "责任人",
]


def _days_over(c: Card, now: datetime) -> int | None:
    if c.answer_by is None or now <= c.answer_by or c.state.value in ("answered", "closed"):
        return None
    return (now - c.answer_by).days


def export_table(cards: list[Card], names: Names, zone: Any, now: datetime) -> Table:
    def t(x: datetime | None) -> str:
        return "" if x is None else x.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    body: list[list[Cell]] = []
    for i, c in enumerate(cards, start=1):
        s = c.subject
        state = "作废" if voided(c) else STATE_ZH[c.state]
        body.append(
            [
                i,
                c.id,
                LEVEL_ZH[c.level],
                RULES[c.rule].title_zh,
                f"{s.window} {_window(c, names)}" if s.window else "",
                names.person(s.staff) or "",
                s.case or "",
                t(c.raised_at),
                state,
                t(c.answer_by),
                _days_over(c, now),
                names.person(c.owner) or "",
            ]
        )
    return HEAD, body


def to_xlsx(table: Table) -> bytes:
    return workbook.xlsx([("卡片", table)])


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    head, body = table
    w.writerow(head)
    for row in body:
        w.writerow("" if v is None else v for v in row)
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")  # BOM: Excel reads it as UTF-8


def filter_zh(query: CardQuery, names: Names) -> str:
    """The filter in words, for the print header and the export's name."""
    f = query.filter
    bits = []
    if f.level is not None:
        bits.append(LEVEL_ZH[f.level])
    if f.rule is not None:
        bits.append(RULES[f.rule].title_zh)
    if f.window:
        bits.append("窗口 " + names.windows.get(f.window, f.window))
    if f.staff:
        bits.append("人员 " + (names.person(f.staff) or f.staff))
    if f.day:
        bits.append(f.day.isoformat())
    if query.q:
        bits.append(f"搜索“{query.q}”")
    return "，".join(bits) or "全部"


# --- the live feed --------------------------------------------------------------------------


def version(sup: Supervision) -> int:
    """Moves whenever a card could have changed (a transition applied)."""
    return int(sup.transitions)


class CardFeed:
    """Server-sent events for the card list: `cards` when anything moved (the page reloads its
    view), with the red cards raised since, so a page can sound or show a notification."""

    def __init__(
        self,
        read: Callable[[Callable[[Supervision], Any]], Any],
        names: Callable[[], tuple[Names, Any]],
        poll_s: float = FEED_POLL_S,
        max_clients: int = FEED_MAX_CLIENTS,
    ) -> None:
        self._read, self._names = read, names
        self._poll_s, self._max = poll_s, max_clients
        self._clients = 0
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def admit(self) -> bool:
        with self._lock:
            if self._clients >= self._max:
                return False
            self._clients += 1
            return True

    def stream(self) -> Iterator[bytes]:
        try:
            seen = self._read(version)
            seen_ids: set[str] = set(self._read(_red_ids))
            yield b"retry: 3000\n\n"
            idle = 0.0
            while not self.stop.wait(self._poll_s):
                now_v = self._read(version)
                if now_v == seen:
                    idle += self._poll_s
                    if idle >= FEED_HEARTBEAT_S:
                        idle = 0.0
                        yield b": heartbeat\n\n"
                    continue
                names, zone = self._names()
                reds = self._read(partial(_new_reds, seen=seen_ids, names=names, zone=zone))
                seen_ids.update(r["card"] for r in reds)
                seen, idle = now_v, 0.0
                doc = {"version": now_v, "reds": reds}
                data = json.dumps(doc, ensure_ascii=False).encode()
                yield b"id: %d\nevent: cards\ndata: %s\n\n" % (now_v, data)
        finally:
            with self._lock:
                self._clients -= 1


def _red_ids(sup: Supervision) -> list[str]:
    return [c.id for c in sup.engine.cards.values() if c.level is Level.RED]


def _new_reds(sup: Supervision, *, seen: set[str], names: Names, zone: Any) -> list[dict[str, Any]]:
    fresh = [
        c
        for c in sup.engine.cards.values()
        if c.level is Level.RED and c.id not in seen and not voided(c)
    ]
    fresh.sort(key=lambda c: c.raised_at, reverse=True)
    return [card_row(c, names, zone) for c in fresh[:20]]

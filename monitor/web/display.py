"""The hall display (大厅电子显示屏): one tile per window, today's totals, the time.

`snapshot` turns configuration, lights, totals and who is on post into what the screen shows
(names on duty, and the name of the officer a card is about; nothing else personal: no card
ids, no case numbers). `DisplayHub` keeps the latest snapshot and
serves the page, its state as JSON and a server-sent event stream; the daemon calls `update`
whenever lights or totals change, from any thread. Every stream event carries the whole state
(20 tiles are a few KiB), so a screen that reconnects is complete with its first event.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from alerts.config import HallConfig
from alerts.ids import StaffId, WindowId
from alerts.lights import HallTotals, Light, rate
from alerts.rules import Level
from monitor import __version__
from monitor.web.server import Response, Route, get_only, static_routes

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
RETRY_MS = 3000  # EventSource waits this long before reconnecting
MAX_CLIENTS = 64  # screens and curious browsers; a hall has a handful of TVs
_NAMED = (Level.YELLOW, Level.RED)  # a grey light's reason is the camera, not a person


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tile:
    window: str
    number: str
    name: str
    department: str
    officer: str | None  # None: nobody on post
    level: str
    reason: str
    cards: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    hall: str
    tiles: tuple[Tile, ...]
    totals: HallTotals | None


def snapshot(
    cfg: HallConfig,
    lights: Mapping[WindowId, Light],
    totals: HallTotals | None,
    on_post: Mapping[WindowId, StaffId | None] | None = None,
    about: Mapping[WindowId, StaffId] | None = None,
) -> Snapshot:
    """Tiles in configuration order. `on_post`: who is on post at each window (None: nobody;
    without it, each window shows its A post holder). `about`: whom the card behind a light
    is about; named in the reason when that is not the officer on post."""
    departments = {d.id: d.name for d in cfg.departments}
    names = {s.id: s.name for s in cfg.staff}
    numbers = _numbers([w.id for w in cfg.windows])
    tiles = []
    for w in cfg.windows:
        light = lights.get(w.window_id)
        officer = w.a_post if on_post is None else on_post.get(w.window_id, w.a_post)
        reason = light.reason_zh if light else "状态未知"
        person = (about or {}).get(w.window_id)
        if light and light.level in _NAMED and person is not None and person != officer:
            reason = f"{reason}（{names.get(person, person)}）"
        tiles.append(
            Tile(
                window=w.id,
                number=numbers[w.id],
                name=w.name,
                department=departments.get(w.department, ""),
                officer=None if officer is None else names.get(officer, officer),
                level=(light.level if light else Level.UNKNOWN).value,
                reason=reason,
                cards=len(light.cards) if light else 0,
            )
        )
    return Snapshot(hall=cfg.hall.name, tiles=tuple(tiles), totals=totals)


def _numbers(ids: list[str]) -> dict[str, str]:
    """W03 → 03 when every id is one prefix and digits; otherwise the whole id."""
    parts = [re.fullmatch(r"(\D*)(\d+)", i) for i in ids]
    prefixes = {m.group(1) for m in parts if m}
    if all(parts) and len(prefixes) == 1:
        return {i: m.group(2) for i, m in zip(ids, parts, strict=True) if m}
    return {i: i for i in ids}


def _body(snap: Snapshot) -> dict[str, Any]:
    t = snap.totals
    totals = None
    if t is not None:
        totals = {
            "day": t.day.isoformat(),
            "received": t.received,
            "completed": t.completed,
            "on_time_rate": rate(t.on_time_rate),
            "cards_open": {lvl.value: n for lvl, n in sorted(t.cards_open.items())},
            "windows_staffed": t.windows_staffed,
            "windows": t.windows,
        }
    return {"hall": snap.hall, "tiles": [asdict(tile) for tile in snap.tiles], "totals": totals}


class DisplayHub:
    """The latest snapshot and everyone watching it. Thread-safe."""

    def __init__(
        self,
        zone: ZoneInfo,
        *,
        now: Callable[[], datetime] = _utcnow,
        heartbeat_s: float = HEARTBEAT_S,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._zone = zone
        self._now = now
        self._heartbeat_s = heartbeat_s
        self._max_clients = max_clients
        self._cond = threading.Condition()
        self._seq = 0
        self._body: dict[str, Any] = {"hall": "", "tiles": [], "totals": None}
        self._catching_up = False  # the daemon reads a backlog: the tiles are its last state
        self._clients = 0
        self._closed = False
        self._boot = int(now().timestamp() * 1000)  # tells a page that the daemon restarted

    @property
    def clients(self) -> int:
        with self._cond:
            return self._clients

    def update(self, snap: Snapshot) -> bool:
        """Show `snap`; True if the screens had something else (then they get it at once)."""
        return self._show(_body(snap))

    def catching_up(self, on: bool) -> bool:
        """Mark the state shown as the last one known while a backlog is read (同步中)."""
        with self._cond:
            self._catching_up = on
            body = dict(self._body)
        return self._show(body)

    def _show(self, body: dict[str, Any]) -> bool:
        with self._cond:
            body["catching_up"] = self._catching_up
            if body == self._body:
                return False
            self._body, self._seq = body, self._seq + 1
            self._cond.notify_all()
        logger.debug("display: state %d", self._seq)
        return True

    def close(self) -> None:
        """End every stream now (before the web server stops)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def routes(self) -> dict[str, Route]:
        assets = static_routes("/display/static/", files("monitor.web").joinpath("static"))
        page = assets["/display/static/display.html"]
        return {
            **assets,
            "/display": page,
            "/display/": page,
            "/display/state": get_only(self._state),
            "/display/events": get_only(self._events),
        }

    # --- routes ------------------------------------------------------------------------------

    def _state(self) -> Response:
        with self._cond:
            seq, body = self._seq, self._body
        return Response(
            200,
            "application/json; charset=utf-8",
            self._doc(seq, body),
            (("Cache-Control", "no-store"),),
        )

    def _events(self) -> Response:
        if self.clients >= self._max_clients:
            return Response.json(503, {"error": "too many display clients"})
        return Response.events(self._stream())

    def _stream(self) -> Iterator[bytes]:
        with self._cond:
            self._clients += 1
        try:
            yield b"retry: %d\n\n" % RETRY_MS
            seen = -1
            while True:
                with self._cond:
                    self._cond.wait_for(partial(self._moved, seen), timeout=self._heartbeat_s)
                    if self._closed:
                        return
                    fresh, seen, body = self._seq != seen, self._seq, self._body
                if fresh:
                    yield b"id: %d\nevent: state\ndata: %s\n\n" % (seen, self._doc(seen, body))
                else:  # a comment for proxies, an event for the page's own watchdog
                    yield b": heartbeat\nevent: ping\ndata: %s\n\n" % _dumps(self._clock())
        finally:
            with self._cond:
                self._clients -= 1

    def _moved(self, seen: int) -> bool:
        return self._seq != seen or self._closed

    def _clock(self) -> dict[str, int]:
        """Server time for the page's clock (a TV's own clock drifts), and the hall's offset."""
        now = self._now()
        offset = now.astimezone(self._zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        return {"now": int(now.timestamp() * 1000), "utc_offset_min": minutes}

    def _doc(self, seq: int, body: dict[str, Any]) -> bytes:
        head = {"app": __version__, "boot": self._boot, "seq": seq}
        return _dumps({**head, **self._clock(), **body})


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

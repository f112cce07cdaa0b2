"""What the bridge remembers: upload stamps per clock (on disk) and who has been heard (pure)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from devices.zkproto import Stamps

_STAMP_COLUMNS = {"ATTLOG": "attlog", "OPERLOG": "operlog", "ATTPHOTO": "attphoto"}


class StampStore:
    """The last `Stamp=` each clock sent per table, so a reconnecting clock sends only newer."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stamps (serial TEXT NOT NULL, tbl TEXT NOT NULL, "
            "stamp TEXT NOT NULL, PRIMARY KEY (serial, tbl))"
        )

    def get(self, serial: str) -> Stamps:
        with self._lock:
            rows = self._db.execute(
                "SELECT tbl, stamp FROM stamps WHERE serial = ?", (serial,)
            ).fetchall()
        known = {_STAMP_COLUMNS[t]: s for t, s in rows if t in _STAMP_COLUMNS}
        return Stamps(**known)

    def put(self, serial: str, table: str, stamp: str) -> None:
        if table not in _STAMP_COLUMNS:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO stamps (serial, tbl, stamp) VALUES (?, ?, ?) "
                "ON CONFLICT (serial, tbl) DO UPDATE SET stamp = excluded.stamp",
                (serial, table, stamp),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Availability(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Why(StrEnum):
    FIRST_HEARD = "first_heard"  # first request since the bridge started
    RESUMED = "resumed"  # talks again after being published offline
    SILENT = "silent"  # no request for offline_after
    NEVER_HEARD = "never_heard"  # not heard at all within offline_after of the bridge's start


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    device: str
    status: Availability
    why: Why
    at: datetime


@dataclass(slots=True)
class _Seen:
    last: datetime | None = None
    published: Availability | None = None


class DeviceWatch:
    """Decides each clock's retained status from its requests; the caller passes `now`."""

    def __init__(self, devices: Iterable[str], offline_after: timedelta, started: datetime) -> None:
        self._offline_after = offline_after
        self._started = started
        self._seen = {d: _Seen() for d in devices}

    def heard(self, device: str, now: datetime) -> Transition | None:
        seen = self._seen[device]
        if seen.last is None or now > seen.last:
            seen.last = now
        if seen.published is Availability.ONLINE:
            return None
        why = Why.RESUMED if seen.published is Availability.OFFLINE else Why.FIRST_HEARD
        seen.published = Availability.ONLINE
        return Transition(device=device, status=Availability.ONLINE, why=why, at=now)

    def sweep(self, now: datetime) -> list[Transition]:
        out = []
        for device, seen in self._seen.items():
            if seen.published is Availability.OFFLINE:
                continue
            since = seen.last or self._started
            if now - since >= self._offline_after:
                seen.published = Availability.OFFLINE
                why = Why.SILENT if seen.last is not None else Why.NEVER_HEARD
                out.append(Transition(device=device, status=Availability.OFFLINE, why=why, at=now))
        return out

    def status(self, device: str) -> Availability | None:
        return self._seen[device].published

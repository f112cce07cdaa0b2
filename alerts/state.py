"""Derived state of the hall, rebuilt from the journal: plain data, no I/O, no clock.

`apply` takes events in journal order. Replaying the journal into a fresh HallState
gives the same state as the live daemon had; `digest` proves it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from alerts.events import (
    CardCommand,
    CaseAction,
    CaseEvent,
    CaseKind,
    ComplaintAction,
    ComplaintEvent,
    DeviceStatus,
    Event,
    Presence,
    Punch,
    Rating,
    StaffStatus,
)
from alerts.ids import CaseId, ComplaintId, DeviceId, StaffId, WindowId


@dataclass(frozen=True, slots=True)
class Availability:
    online: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class SeatReading:
    present: bool
    persons: int
    ts: datetime
    camera: DeviceId


@dataclass(frozen=True, slots=True)
class CaseSummary:
    kind: CaseKind | None
    window: WindowId | None
    last_action: CaseAction
    last_ts: datetime
    actions: int


@dataclass(slots=True)
class HallState:
    zone: ZoneInfo
    last_seq: int = 0
    applied: int = 0
    devices: dict[DeviceId, Availability] = field(default_factory=dict)
    seats: dict[WindowId, SeatReading] = field(default_factory=dict)
    staff: dict[StaffId, StaffStatus] = field(default_factory=dict)
    cases: dict[CaseId, CaseSummary] = field(default_factory=dict)
    punches: dict[tuple[StaffId, date], int] = field(default_factory=dict)
    complaints: dict[ComplaintId, ComplaintAction] = field(default_factory=dict)
    ratings: dict[CaseId, int] = field(default_factory=dict)
    card_commands: int = 0
    earliest: datetime | None = None  # the earliest `ts` of any event: watched since then

    def apply(self, seq: int, event: Event) -> None:
        if seq <= self.last_seq:
            return  # already applied: replay and live tail may overlap
        self.last_seq = seq
        self.applied += 1
        if self.earliest is None or event.ts < self.earliest:
            self.earliest = event.ts
        match event:
            case Punch():
                key = (event.staff, event.ts.astimezone(self.zone).date())
                self.punches[key] = self.punches.get(key, 0) + 1
            case DeviceStatus():
                self.devices[event.device] = Availability(event.online, event.ts)
            case Presence():
                self.seats[event.window] = SeatReading(
                    event.present, event.persons, event.ts, event.camera
                )
            case CaseEvent():
                self._case(event)
            case StaffStatus():
                self.staff[event.staff] = event
            case ComplaintEvent():
                self.complaints[event.complaint] = event.action
            case Rating():
                self.ratings[event.case] = event.level
            case CardCommand():
                self.card_commands += 1

    def _case(self, ev: CaseEvent) -> None:
        old = self.cases.get(ev.case)
        self.cases[ev.case] = CaseSummary(
            kind=ev.kind or (old.kind if old else None),
            window=ev.window or (old.window if old else None),
            last_action=ev.action,
            last_ts=ev.ts,
            actions=(old.actions if old else 0) + 1,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "last_seq": self.last_seq,
            "events_applied": self.applied,
            "devices_online": sum(1 for a in self.devices.values() if a.online),
            "devices_known": len(self.devices),
            "seats_occupied": sum(1 for s in self.seats.values() if s.present),
            "staff_with_status": len(self.staff),
            "cases": len(self.cases),
            "punch_days": len(self.punches),
            "complaints": len(self.complaints),
            "ratings": len(self.ratings),
            "card_commands": self.card_commands,
        }

    def digest(self) -> str:
        """A hash of the whole state: equal digests mean equal derived state."""
        doc = {
            "last_seq": self.last_seq,
            "applied": self.applied,
            "devices": {k: asdict(v) for k, v in sorted(self.devices.items())},
            "seats": {k: asdict(v) for k, v in sorted(self.seats.items())},
            "staff": {k: asdict(v) for k, v in sorted(self.staff.items())},
            "cases": {k: asdict(v) for k, v in sorted(self.cases.items())},
            "punches": sorted((s, d.isoformat(), n) for (s, d), n in self.punches.items()),
            "complaints": dict(sorted(self.complaints.items())),
            "ratings": dict(sorted(self.ratings.items())),
            "card_commands": self.card_commands,
        }
        text = json.dumps(doc, sort_keys=True, default=_plain, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot digest {type(value).__name__}")

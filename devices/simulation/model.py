"""The simulator's values, knobs and payload builders. Pure: no clock, no sockets.

Every random draw comes from a `random.Random` seeded with a string built from the run's seed,
the day and a stream name (`rng`), so one day's attendance does not change when the case mix
does, and a day simulated alone equals the same day inside a longer run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.config import Camera, Clock, HallConfig, Staff, Window
from alerts.roles import StaffRole
from alerts.workdays import WorkCalendar

CASE_SYSTEM = "case-system"  # the MQTT account of the hall's case-handling system
Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One MQTT publication: `at` is when it goes out, in simulated time (aware, UTC)."""

    topic: str
    payload: bytes
    at: datetime
    user: str  # the MQTT account the broker's ACL lets publish it
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Mix:
    """Shares of case kinds among received cases; normalised, so 87/12/1 works too."""

    immediate: float = 0.87
    promised: float = 0.12
    reported: float = 0.01

    def __post_init__(self) -> None:
        values = (self.immediate, self.promised, self.reported)
        if any(v < 0 for v in values) or sum(values) <= 0:
            raise ValueError(f"case mix {values} needs non-negative shares with a positive sum")

    def shares(self) -> dict[str, float]:
        total = self.immediate + self.promised + self.reported
        return {
            "immediate": self.immediate / total,
            "promised": self.promised / total,
            "reported": self.reported / total,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """The knobs; defaults and their sources are in docs/simulator.md."""

    mix: Mix = field(default_factory=Mix)
    cases_per_day: float = 120.0  # an ordinary working day (seed 003: 2,580 in the best month)
    peak_factor: float = 3.0  # first working day after 3+ days off (seed 003: peak 402)
    late_case_share: float = 0.01  # finished past the limit (seed 003: 99.99 % on time)
    refused_share: float = 0.01  # returned at the window (退件), then reviewed
    decision_refused_share: float = 0.02  # promised cases decided "refused"
    suspended_share: float = 0.05  # promised cases waiting for supplements (补正)
    rating_share: float = 0.6  # finished cases the applicant rates
    complaints_per_day: float = 0.3  # around the clock, every day
    complaint_late_share: float = 0.1  # per step: accepted after 5, answered after 10 days
    founded_late_share: float = 0.3  # founded complaints closed after a month (000_… 五(八))
    rectified_share: float = 0.6  # bad reviews re-rated ≥ 3 within 5 working days (回访)
    rectified_late_share: float = 0.15  # re-rated after the 5 days; the rest never
    late_punch_share: float = 0.08  # per punch-in
    early_leave_share: float = 0.02  # per session
    missed_punch_share: float = 0.01  # per punch
    absence_share: float = 0.005  # per officer-day: no punch, no leave
    leave_share: float = 0.03  # per officer-day: a whole day's leave
    half_leave_share: float = 0.02  # per officer-day: one session's leave
    away_share: float = 0.2  # per officer-day: one absence notice (离岗告示)
    meeting_share: float = 0.03  # per window head and day
    unnotified_share: float = 0.03  # per officer-session: 16–30 min off the seat, no notice
    camera_dropout_share: float = 0.5  # per day: one camera offline for 10–40 min
    clock_outage_share: float = 0.4  # per day: one clock offline through the morning punch-in
    heartbeat_s: int = 60  # presence heartbeat while a seat's state holds (the contract)
    clock_heartbeat_s: int = 300  # a clock's bridge: nothing left to upload (docs/contract.md)


def rng(seed: int, day: date | None, stream: str) -> random.Random:
    # A str seed is hashed with SHA-512: the same on every run, unlike hash().
    key = day.isoformat() if day else "-"
    return random.Random(f"hallwatch-sim/{seed}/{key}/{stream}")


def seconds(r: random.Random, lo: float, hi: float) -> timedelta:
    """A whole number of seconds between lo and hi seconds."""
    return timedelta(seconds=r.randint(round(lo), round(hi)))


def minutes(r: random.Random, lo: float, hi: float) -> timedelta:
    return seconds(r, lo * 60, hi * 60)


def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def subtract(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    out = merge(spans)
    for h0, h1 in merge(holes):
        cut: list[Span] = []
        for a, b in out:
            if h1 <= a or b <= h0:
                cut.append((a, b))
                continue
            if a < h0:
                cut.append((a, h0))
            if h1 < b:
                cut.append((h1, b))
        out = cut
    return out


def intersect(a: Iterable[Span], b: Iterable[Span]) -> list[Span]:
    bs = merge(b)
    return merge((max(x0, y0), min(x1, y1)) for x0, x1 in merge(a) for y0, y1 in bs)


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Hall:
    """The configured hall as the simulator sees it, and the builders of its messages."""

    def __init__(self, cfg: HallConfig, cal: WorkCalendar) -> None:
        self.cfg = cfg
        self.cal = cal
        self.id = cfg.hall.id
        self.zone = cfg.hall.zone
        devices: list[Clock | Camera] = [*cfg.clocks, *cfg.cameras]
        self._naive = {d.id: ZoneInfo(d.timezone) for d in devices if d.timezone}
        self.officers = [s for s in cfg.staff if s.role is StaffRole.OFFICER]
        self.leaders = sorted(
            (s for s in cfg.staff if s.role is StaffRole.LEADER), key=lambda s: s.id
        )
        holders = {w.a_post for w in cfg.windows}
        self.spares = {s.id for s in self.officers if s.id not in holders}
        self.holder_of: dict[str, Window] = {w.a_post: w for w in cfg.windows}
        self.staff_by_id: dict[str, Staff] = {s.id: s for s in cfg.staff}

    # --- time ---------------------------------------------------------------------------
    def local(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.zone).astimezone(UTC)

    def local_date(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()

    def stamp(self, t: datetime) -> str:
        return t.astimezone(self.zone).isoformat(timespec="seconds")

    def device_stamp(self, device: str, t: datetime) -> str:
        """Devices configured with a zone send local time without an offset (older clocks)."""
        zone = self._naive.get(device)
        if zone is None:
            return self.stamp(t)
        return t.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")

    def day_total(self, day: date) -> timedelta:
        """Service time of the day, or of the next working day when `day` is off."""
        if not self.cal.is_working_day(day):
            day = self.cal.next_working_day(day)
        return sum((e - s for s, e in self.cal.service_hours(day)), timedelta(0))

    def after(self, t: datetime, amount: timedelta) -> datetime:
        """`amount` of working time after `t` (lands in service hours)."""
        return self.cal.add_working_time(t, max(amount, timedelta(seconds=1))).at

    # --- people -------------------------------------------------------------------------
    def approver(self, who: Staff) -> str | None:
        """Leave of up to a day (all the simulator grants): the deputy (分管领导, seed 001
        第一篇(十)6), `[attendance] leave_deputies`, else a leader; never the officer."""
        named = [d for d in self.cfg.attendance.leave_deputies if d != who.id]
        if named:
            return named[0]
        leaders = [s.id for s in self.leaders if s.id != who.id]
        if leaders:
            return leaders[min(1, len(leaders) - 1)]
        others = [s.id for s in self.cfg.staff if s.id != who.id]
        return others[0] if others else None

    def reviewer(self) -> str:
        """Who reviews refusals: the head of the centre, else a supervisor, else anyone."""
        for group in (self.leaders, [s for s in self.cfg.staff if s.role is StaffRole.SUPERVISOR]):
            if group:
                return group[0].id
        return self.cfg.staff[0].id

    def contact(self, who: Staff) -> str:
        return who.phone or f"分机{8000 + int(hash_digits(who.id))}"

    # --- messages -----------------------------------------------------------------------
    def message(
        self, topic: str, obj: dict[str, Any], at: datetime, user: str = CASE_SYSTEM
    ) -> Message:
        return Message(topic=f"hall/{self.id}/{topic}", payload=encode(obj), at=at, user=user)

    def status(self, kind: str, device: str, online: bool, at: datetime) -> Message:
        return Message(
            topic=f"hall/{self.id}/{kind}/{device}/status",
            payload=b"online" if online else b"offline",
            at=at,
            user=device,
            retain=True,
        )

    def punch(self, clock: str, staff: str, ts: datetime, verify: str, at: datetime) -> Message:
        local = ts.astimezone(self.zone)
        obj = {
            "id": f"{clock}-{staff}-{local:%Y%m%d%H%M%S}",
            "staff": staff,
            "ts": self.device_stamp(clock, ts),
            "verify": verify,
        }
        return self.message(f"clock/{clock}/punch", obj, at, user=clock)

    def clock_heartbeat(self, clock: str, at: datetime) -> Message:
        """The bridge: every punch of `clock` stamped before `at` is published."""
        obj = {"ts": self.device_stamp(clock, at)}
        return self.message(f"clock/{clock}/heartbeat", obj, at, user=clock)

    def presence(
        self, camera: str, window: str, present: bool, ts: datetime, confidence: float
    ) -> Message:
        # The bulk of a day (a heartbeat per seat a minute): formatted directly, the same
        # bytes `encode` makes (ids and stamps need no JSON escaping), three times faster.
        flag = "true" if present else "false"
        text = (
            f'{{"window":"{window}","present":{flag},"persons":{int(present)},'
            f'"ts":"{self.device_stamp(camera, ts)}","confidence":{confidence!r}}}'
        )
        topic = f"hall/{self.id}/camera/{camera}/presence"
        return Message(topic=topic, payload=text.encode(), at=ts, user=camera)

    def staff_status(
        self, staff: str, ident: str, state: str, at: datetime, fields: dict[str, Any]
    ) -> Message:
        obj: dict[str, Any] = {"id": ident, "state": state, "ts": self.stamp(at)}
        obj.update({k: self.stamp(v) if isinstance(v, datetime) else v for k, v in fields.items()})
        return self.message(f"staff/{staff}/status", obj, at)


def hash_digits(text: str) -> int:
    """A small stable number from an id (for made-up extension numbers)."""
    return sum(ord(c) * (i + 1) for i, c in enumerate(text)) % 1000

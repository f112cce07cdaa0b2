"""Seat decisions: per-frame evidence in, debounced seat states and presence messages out.

Pure: no OpenCV, no clock, no broker. `SeatTracker` is the hysteresis of one seat,
`Announcer` decides which states go on the wire (every change, and a heartbeat while a state
holds), `presence_payload` writes the contract's JSON.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum


class SeatState(StrEnum):
    UNKNOWN = "unknown"  # nothing usable seen yet, or blind for too long: say nothing
    EMPTY = "empty"
    PRESENT = "present"


class Why(StrEnum):
    HELD = "held"  # the state stands
    ENTERED = "entered"  # enter_frames positive frames in a row, a detector agreeing in one
    LEFT = "left"  # no supporting frame for leave_after, with at least leave_frames negatives
    SEEN_EMPTY = "seen_empty"  # first decision from unknown: enter_frames negatives in a row
    BLIND = "blind"  # no usable frame for blind_after (stream down, lights off)
    OBJECT = "object"  # the seat differs from empty, but no person stayed in it for object_after


@dataclass(frozen=True, slots=True, kw_only=True)
class Hysteresis:
    enter_frames: int = 4
    leave_after: timedelta = timedelta(seconds=60)
    leave_frames: int = 20
    blind_after: timedelta = timedelta(seconds=30)
    p_on: float = 0.6  # a frame at or above is positive
    p_off: float = 0.35  # a frame at or below is negative; between, it supports the state held
    # Entering needs a people detector to agree at least once in the run: a coat left on
    # the chair changes the seat as much as its owner does. Staying needs no detector.
    confirm: bool = True
    # A present seat is held only by a steady run: this many non-negative frames in a row, or
    # a person staying in the seat. A passer-by crossing it for a frame or two holds nothing.
    steady_frames: int = 3
    # A seat that differs from empty but in which no person stayed for this long, although
    # the person evidence looked at least `object_looks` times, holds an object (a coat, a
    # bag): it is empty. None: never decided so (without a person detector).
    object_after: timedelta | None = timedelta(seconds=120)
    object_looks: int = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatReport:
    window: str
    state: SeatState
    why: Why
    persons: int  # 0 unless present; at least 1 when present
    confidence: float  # in [0, 1]: how strongly recent frames back `state`
    ts: datetime

    @property
    def changed(self) -> bool:
        return self.why is not Why.HELD


def combine(p_change: float, detections: Iterable[float]) -> float:
    """Noisy-OR of independent cues: the background change and each detector's weight."""
    miss = 1.0 - p_change
    for weight in detections:
        miss *= 1.0 - weight
    return 1.0 - miss


def ramp(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


class SeatTracker:
    """Hysteresis of one seat. `observe(None, …)` is a frame that shows nothing usable."""

    def __init__(self, window: str, params: Hysteresis, smoothing: float = 0.2) -> None:
        self.window = window
        self.params = params
        self.state = SeatState.UNKNOWN
        self._smoothing = smoothing
        self._p = 0.5  # exponential average of p over usable frames
        self._ins = 0  # consecutive positive frames (while not present)
        self._outs = 0  # consecutive negative frames (while unknown)
        self._confirmed = False  # a detector agreed during the current positive run
        self._negatives = 0  # negatives since the last supporting frame (while present)
        self._support: datetime | None = None  # last frame backing PRESENT
        self._seen: datetime | None = None  # last usable frame
        self._counts: deque[int] = deque(maxlen=6)
        self._run = 0  # non-negative frames in a row (while present)
        self._person_at: datetime | None = None  # a person last stayed in the seat
        self._misses = 0  # looks for a person that found none, since one was last seen
        self._since: datetime | None = None  # start of the unconfirmed positive run

    @property
    def pending(self) -> int:
        """Positive frames in a row not (yet) turned into `present`."""
        return self._ins

    def observe(
        self,
        p: float | None,
        persons: int | None,
        now: datetime,
        confirmed: bool = False,
        person: bool | None = None,
        passing: bool = False,
    ) -> SeatReport:
        """One frame: `p` the probability of a person (None: nothing usable), `persons` the
        people detectors counted in the seat (None: not looked for), `confirmed` whether a
        person was seen staying in the seat, `person` whether the person evidence found one
        staying there (None: it did not look), `passing` whether it saw someone pass (in
        front of the seat, or moving through it): such a frame supports no present seat."""
        if p is None:
            return self._blind(now)
        self._seen = now
        self._p += self._smoothing * (p - self._p)
        if persons is not None:
            self._counts.append(persons)
        if person:
            self._person_at, self._misses = now, 0
        elif person is not None:
            self._misses += 1
        hp = self.params
        positive, negative = p >= hp.p_on, p <= hp.p_off
        if self.state is SeatState.PRESENT:
            return self._while_present(negative, bool(person), now, passing)
        if positive and not self._ins:
            self._since, self._misses = now, 0 if person is not False else 1
        self._ins = self._ins + 1 if positive else 0
        self._outs = self._outs + 1 if negative else 0
        self._confirmed = positive and (self._confirmed or confirmed or not hp.confirm)
        if self._ins >= hp.enter_frames and self._confirmed:
            return self._move(SeatState.PRESENT, Why.ENTERED, now)
        if self.state is SeatState.UNKNOWN and self._outs >= hp.enter_frames:
            return self._move(SeatState.EMPTY, Why.SEEN_EMPTY, now)
        if self.state is SeatState.UNKNOWN and positive and self._object(self._since, now):
            return self._move(SeatState.EMPTY, Why.OBJECT, now)
        return self._report(Why.HELD, now)

    def _while_present(
        self, negative: bool, person: bool, now: datetime, passing: bool = False
    ) -> SeatReport:
        hp = self.params
        self._run = 0 if negative or passing else self._run + 1
        if person or self._run >= hp.steady_frames:
            self._support, self._negatives = now, 0
        elif negative:
            self._negatives += 1
        since = now - (self._support or now)
        if self._negatives >= hp.leave_frames and since >= hp.leave_after:
            return self._move(SeatState.EMPTY, Why.LEFT, now)
        if self._object(self._person_at, now):
            return self._move(SeatState.EMPTY, Why.OBJECT, now)
        return self._report(Why.HELD, now)

    def _object(self, since: datetime | None, now: datetime) -> bool:
        """No person stayed in the changed seat since `since`, although looked for."""
        hp = self.params
        if hp.object_after is None or since is None:
            return False
        return now - since >= hp.object_after and self._misses >= hp.object_looks

    def _blind(self, now: datetime) -> SeatReport:
        seen = self._seen
        if self.state is not SeatState.UNKNOWN and (
            seen is None or now - seen >= self.params.blind_after
        ):
            return self._move(SeatState.UNKNOWN, Why.BLIND, now)
        if self._seen is None:
            self._seen = now  # blind from the start: count from the first frame
        return self._report(Why.HELD, now)

    def _move(self, state: SeatState, why: Why, now: datetime) -> SeatReport:
        self.state = state
        self._ins = self._outs = self._negatives = self._run = self._misses = 0
        self._confirmed = False
        self._support = now if state is SeatState.PRESENT else None
        self._person_at = now if state is SeatState.PRESENT else None
        self._since = None
        return self._report(why, now)

    def _report(self, why: Why, now: datetime) -> SeatReport:
        present = self.state is SeatState.PRESENT
        counts = sorted(self._counts)
        # The second largest recent count: two frames must agree before a second person counts.
        seen = counts[-2] if len(counts) >= 2 else (counts[-1] if counts else 0)
        confidence = self._p if present else 1.0 - self._p
        return SeatReport(
            window=self.window,
            state=self.state,
            why=why,
            persons=max(1, seen) if present else 0,
            confidence=round(min(1.0, max(0.0, confidence)), 2),
            ts=now,
        )


class Announcer:
    """Which reports go on the wire: a change of state or head-count, else one per heartbeat."""

    def __init__(self, heartbeat: timedelta) -> None:
        self.heartbeat = heartbeat
        self._last: dict[str, tuple[SeatState, int, datetime]] = {}

    def select(self, reports: Iterable[SeatReport]) -> list[SeatReport]:
        out = []
        for r in reports:
            if r.state is SeatState.UNKNOWN:
                # Silence, not "empty": the daemon times the seat out to unknown on its own.
                self._last.pop(r.window, None)
                continue
            last = self._last.get(r.window)
            news = last is None or (last[0], last[1]) != (r.state, r.persons)
            if news or (last is not None and r.ts - last[2] >= self.heartbeat):
                out.append(r)
                self._last[r.window] = (r.state, r.persons, r.ts)
        return out


def presence_topic(hall: str, camera: str) -> str:
    return f"hall/{hall}/camera/{camera}/presence"


def status_topic(hall: str, camera: str) -> str:
    return f"hall/{hall}/camera/{camera}/status"


def presence_payload(report: SeatReport, zone: tzinfo) -> bytes:
    """docs/contract.md "Seat presence"; ts in the hall's zone, with its offset."""
    if report.state is SeatState.UNKNOWN:
        raise ValueError("an unknown seat state is never published")
    doc: Mapping[str, object] = {
        "window": report.window,
        "present": report.state is SeatState.PRESENT,
        "persons": report.persons,
        "ts": report.ts.astimezone(zone).isoformat(timespec="seconds"),
        "confidence": report.confidence,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

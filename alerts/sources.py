"""How far the hall's sources are heard, and the instant time-driven rules may judge up to.

A time-driven judgement (a case deadline passing, an attendance window closing, a duty
half-day ending) is about an instant; it is made once every source that could still
contradict it has been heard past that instant. The sources that matter here are each
fingerprint clock and the case system (cases, complaints, ratings and staff statuses come
from one account, in order: the contract's ordering guarantee per sender). Cameras are not
among them: a seat is judged only as far as its own camera is heard (alerts/posts.py), and a
camera heartbeats every minute, so it would hold every other rule back by that much.

Each source is heard up to the latest `ts` of its events (its messages arrive in order).
A source still sending is waited for: its evidence may be a backlog still draining (a clock
uploading after an outage, the broker's queue after a restart, a simulator replaying past
days). A source that has sent nothing for `idle_after` of the daemon's time (its receive
times), or that said it is offline, is idle: it no longer holds judgement back, which then
reaches the daemon's `now` (Flink calls this a source's idleness; Beam, a watermark hold
released). Late evidence from an idle source may then void a card; those cards already
say which source they were judged without (the attendance rules' `silent`).

Everything here is a function of the journal: events with their receive times, so a replay
computes the same instants, and the judged instant never moves back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

CASE_SYSTEM = "办件系统"  # the case system's account (cases, staff statuses), as a source
COMPLAINTS = "投诉受理"  # complaint events: the hotline's or the console's intake
RATINGS = "好差评"  # the rating pads and channels


class SourceKind(StrEnum):
    CLOCK = "clock"
    CASES = "cases"


@dataclass(slots=True)
class Heard:
    """One source: how far its evidence reaches (`ts`) and when the daemon last heard it."""

    kind: SourceKind
    ts: datetime
    received: datetime
    online: bool = True


@dataclass(slots=True)
class Sources:
    idle_after: timedelta  # zero: every source is idle at once (judge at `now`)
    heard: dict[str, Heard] = field(default_factory=dict)
    judged: datetime | None = None  # the latest instant judged up to: never moves back

    def event(self, kind: SourceKind, name: str, ts: datetime, received: datetime) -> None:
        """An event of source `name` at its own `ts`, received at `received`."""
        h = self.heard.get(name)
        if h is None:
            self.heard[name] = Heard(kind, ts, received)
            return
        h.ts, h.received, h.online = max(h.ts, ts), max(h.received, received), True

    def status(self, name: str, online: bool, received: datetime) -> None:
        """A device's retained `online`/`offline`: offline, its silence holds nothing back;
        online again, it may upload a backlog, so it is waited for like any sending source."""
        h = self.heard.get(name)
        if h is not None:
            h.online, h.received = online, max(h.received, received)

    def holding(self, now: datetime) -> dict[str, datetime]:
        """The sources still sending, each with how far it is heard."""
        return {
            name: h.ts
            for name, h in self.heard.items()
            if h.online and now - h.received < self.idle_after
        }

    def until(self, now: datetime, started: datetime | None = None) -> datetime | None:
        """The instant rules may judge up to at `now`: the least of how far each sending
        source is heard, `now` when none is sending; never earlier than a tick judged
        (`judged`, which only a tick moves: the shell journals ticks, so a replay and a
        restart find the same).

        `started`: when the daemon started. For `idle_after` after it, a hall whose sources
        are all quiet is not judged at `now` yet: the sources may be about to send what they
        hold (a bridge reconnecting, a neighbour system replaying, the demo's simulator),
        and judging the present first would make all of it late. None: nothing to judge yet.
        """
        held = self.holding(now).values()
        if held:
            at = min(now, min(held))
        elif started is not None and now - started < self.idle_after:
            return self.judged
        else:
            at = now
        return at if self.judged is None or at > self.judged else self.judged

    def judging(self, at: datetime) -> None:
        """A tick judged up to `at`."""
        if self.judged is None or at > self.judged:
            self.judged = at

"""Windows on post (在岗): seat presence, absence notices and A/B posts, to conditions. Pure.

Per window, from its camera's presence readings, the camera's availability and the officers'
statuses, `assess_window` finds the intervals in which the seat was seen empty and nobody had
said why, and turns them into conditions:

- `post.unstaffed.warning` (yellow) after `yellow_min` working minutes of such an interval,
  `post.unstaffed` (red) after `red_min` (default 5 and 15: halls elsewhere deduct points for
  leaving the post 15 minutes or more, docs/regulations.md). Working minutes: the lunch break
  and the evening do not count, so an empty seat at 11:58 turns yellow at 14:03 if still empty.
- `post.ab_uncovered` (red) while the A post and every B post of the window are away at once
  (001_… 第五篇 4: AB岗), from the first service-hours instant of that.

Rules (001_… 第一篇(九), 第五篇 4; thresholds in docs/people.md):
- The seat is occupied, empty or unknown. Unknown while the camera is offline or silent past
  `heartbeat_timeout_s` (the contract's heartbeat is 60 s): unknown is never empty.
- A seat counts as empty only after it has been seen empty for `confirm_s` without a break,
  and as occupied again only after it has been seen occupied that long: a shorter flicker
  either way moves nothing.
- Covered: an absence notice (离岗告示: status `away`) of the window's A or B post, from its
  start until its `until`, at most `notice_max_min` minutes (default 30, whereabouts-board
  rules). A window with a single officer is covered by a notice only if it names a substitute
  or the window has a neighbour in configuration that watches it.
- A substitute on post sits in the seat: the camera sees the seat occupied.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from pydantic import Field

from alerts.cases import Condition
from alerts.events import StaffState, StaffStatus
from alerts.ids import EventId, StaffId, WindowId
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import WorkCalendar

_AWAY = (StaffState.AWAY, StaffState.MEETING, StaffState.TRIP, StaffState.LEAVE, StaffState.OFF)
Interval = tuple[datetime, datetime | None]


class PostsConfig(ConfigModel):
    confirm_s: int = Field(
        60, ge=0, description="A seat is empty (occupied again) after this long seen so."
    )
    heartbeat_timeout_s: int = Field(
        180, ge=60, description="No presence for this long: the seat is unknown (contract: 60 s)."
    )
    yellow_min: int = Field(5, ge=1, description="Empty and uncovered: yellow after (working).")
    red_min: int = Field(
        15, ge=1, description="Empty and uncovered: red after (working); 15 min: halls elsewhere."
    )
    notice_max_min: int = Field(
        30, ge=1, description="Longest an absence notice covers (whereabouts-board rules)."
    )


@dataclass(frozen=True, slots=True)
class Reading:
    ts: datetime
    present: bool
    event_id: EventId


@dataclass(slots=True)
class WindowFacts:
    """What is known of one window: its seat, its camera, its people."""

    window: WindowId
    a_post: StaffId
    b_posts: tuple[StaffId, ...]
    watched_by_neighbour: bool
    readings: list[Reading] = field(default_factory=list)
    offline: list[Interval] = field(default_factory=list)

    def add_reading(self, r: Reading) -> None:
        bisect.insort(self.readings, r, key=lambda x: (x.ts, x.event_id))

    def camera(self, online: bool, at: datetime) -> None:
        if not online:
            if not self.offline or self.offline[-1][1] is not None:
                self.offline.append((at, None))
        elif self.offline and self.offline[-1][1] is None:
            self.offline[-1] = (self.offline[-1][0], at)

    def heard_until(self) -> datetime | None:
        """How far the camera is heard (it reports in order, the contract): its latest
        reading or status. What the seat did after that is not known yet, whatever the
        daemon's clock says; past the heartbeat timeout it is unknown (`_unknown`)."""
        times = [t for iv in self.offline for t in iv if t is not None]
        if self.readings:
            times.append(self.readings[-1].ts)
        return max(times, default=None)

    def forget_before(self, t: datetime) -> None:
        """Keep the seat history bounded: a day's readings are enough."""
        keep = bisect.bisect_left(self.readings, t, key=lambda x: x.ts)
        self.readings = self.readings[max(0, keep - 1) :]
        self.offline = [iv for iv in self.offline if iv[1] is None or iv[1] >= t]


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowAssessment:
    window: WindowId
    staff: StaffId
    conditions: tuple[Condition, ...]
    unknown: tuple[Interval, ...]  # when the seat's state was not known


def assess_window(
    f: WindowFacts,
    statuses: dict[StaffId, list[tuple[EventId, StaffStatus]]],
    cal: WorkCalendar,
    cfg: PostsConfig,
    statuses_heard: datetime | None = None,
) -> WindowAssessment:
    """`statuses_heard`: how far the staff statuses are heard (the case system's account,
    in order: alerts/supervision.py); None: no bound (every status is in)."""
    unknown = _unknown(f, timedelta(seconds=cfg.heartbeat_timeout_s))
    empty, back = _empty(f.readings, timedelta(seconds=cfg.confirm_s))
    notices = list(_notices(f, statuses, timedelta(minutes=cfg.notice_max_min)))
    out: list[Condition] = []
    heard = f.heard_until()
    if back is not None and heard is not None:
        heard = min(heard, back)  # a return or a flicker: known once `confirm` has passed
    for start, end, ids in _subtract(empty, [*unknown, *[(s, e) for s, e, _ in notices]]):
        out += _judged(_unstaffed(start, end, ids, cal, cfg), heard)
    ab = _ab_uncovered(f, statuses, cal)
    out += ab if statuses_heard is None else _judged(ab, statuses_heard)
    out.sort(key=lambda c: (c.start, c.rule))
    return WindowAssessment(
        window=f.window, staff=f.a_post, conditions=tuple(out), unknown=tuple(unknown)
    )


def _unknown(f: WindowFacts, timeout: timedelta) -> list[Interval]:
    """Camera offline, and silences longer than the heartbeat timeout."""
    out: list[Interval] = list(f.offline)
    for a, b in zip(f.readings, f.readings[1:], strict=False):
        if b.ts - a.ts > timeout:
            out.append((a.ts + timeout, b.ts))
    if f.readings:
        out.append((f.readings[-1].ts + timeout, None))
    return sorted(out, key=lambda iv: iv[0])


def _empty(
    readings: Sequence[Reading], confirm: timedelta
) -> tuple[list[tuple[datetime, datetime | None, tuple[EventId, ...]]], datetime | None]:
    """Runs of empty readings that lasted at least `confirm` (flicker is dropped), and the
    first reading of an occupied spell not yet seen for `confirm` (None: none pending).

    Flicker both ways: an empty run ends only when the seat is seen occupied for `confirm`
    (it ends at the first of those readings); a shorter occupied spell inside it is a
    flicker, and restarting the run there would restart its yellow and red timers — one
    absence turned into a warning raised and closed every few minutes, never red."""
    out: list[tuple[datetime, datetime | None, tuple[EventId, ...]]] = []
    start: Reading | None = None
    back: Reading | None = None  # first occupied reading since `start`, not yet confirmed
    for r in readings:
        if start is None:
            start = None if r.present else r
        elif not r.present:
            if back is not None and r.ts - back.ts >= confirm:
                _close(out, start, back.ts, confirm)
                start = r
            back = None
        elif back is None:
            back = r
        elif r.ts - back.ts >= confirm:
            _close(out, start, back.ts, confirm)
            start = back = None
    if start is not None:
        out.append((start.ts, None, (start.event_id,)))  # confirmed once `confirm` has passed
    return out, None if back is None else back.ts


def _close(
    out: list[tuple[datetime, datetime | None, tuple[EventId, ...]]],
    start: Reading,
    end: datetime,
    confirm: timedelta,
) -> None:
    if end - start.ts >= confirm:  # its evidence: the reading it began with, which is all
        out.append((start.ts, end, (start.event_id,)))  # a card raised on it knew


def _notices(
    f: WindowFacts,
    statuses: dict[StaffId, list[tuple[EventId, StaffStatus]]],
    longest: timedelta,
) -> Iterable[tuple[datetime, datetime, EventId]]:
    single = not f.b_posts
    for who in (f.a_post, *f.b_posts):
        for eid, st, start, end in _spans(statuses.get(who, [])):
            if st.state is not StaffState.AWAY:
                continue
            if single and st.substitute is None and not f.watched_by_neighbour:
                continue
            limit = start + longest
            yield start, limit if end is None else min(end, limit), eid


def _spans(
    history: Sequence[tuple[EventId, StaffStatus]],
) -> Iterable[tuple[EventId, StaffStatus, datetime, datetime | None]]:
    """Each status from its start to its `until` or the officer's next status."""
    ordered = sorted(history, key=lambda p: (p[1].start or p[1].ts, p[0]))
    for i, (eid, st) in enumerate(ordered):
        start = st.start or st.ts
        nxt = ordered[i + 1][1] if i + 1 < len(ordered) else None
        ends = [t for t in (st.until, (nxt.start or nxt.ts) if nxt else None) if t is not None]
        yield eid, st, start, min(ends) if ends else None


def _subtract(
    spans: list[tuple[datetime, datetime | None, tuple[EventId, ...]]],
    holes: list[Interval],
) -> list[tuple[datetime, datetime | None, tuple[EventId, ...]]]:
    """Cut the holes out of the spans; what is left keeps its evidence."""
    out = []
    for start, end, ids in spans:
        pieces: list[Interval] = [(start, end)]
        for hs, he in holes:
            pieces = [p for piece in pieces for p in _cut(piece, hs, he)]
        out += [(s, e, ids) for s, e in pieces]
    return out


def _cut(piece: Interval, hs: datetime, he: datetime | None) -> list[Interval]:
    s, e = piece
    if (e is not None and e <= hs) or (he is not None and he <= s):
        return [piece]
    left = [(s, hs)] if s < hs else []
    right = [] if he is None or (e is not None and e <= he) else [(he, e)]
    return left + right


def _unstaffed(
    start: datetime,
    end: datetime | None,
    ids: tuple[EventId, ...],
    cal: WorkCalendar,
    cfg: PostsConfig,
) -> list[Condition]:
    yellow = cal.add_working_minutes(start, cfg.yellow_min)
    red = cal.add_working_minutes(start, cfg.red_min)
    out = []
    if end is None or yellow.at < end:
        stop = red.at if end is None or red.at < end else end
        out.append(Condition(RuleId.POST_UNSTAFFED_WARNING, "", yellow.at, stop, False, ids))
    if end is None or red.at < end:
        out.append(Condition(RuleId.POST_UNSTAFFED, "", red.at, end, red.estimated, ids))
    return out


def _judged(conditions: list[Condition], heard: datetime | None) -> list[Condition]:
    """A seat's conditions as far as its camera is heard: one that begins later is not
    known yet, and one still holding then holds on (its end comes with the readings that
    show it). So a warning raises and clears at the instants the readings give, however the
    ticks that notice fall (docs/cards.md, "Sources and how far each is heard")."""
    out = []
    for c in conditions:
        if heard is None or c.start > heard:
            continue
        if c.end is not None and c.end > heard:
            c = msgspec.structs.replace(c, end=None, superseded=False)
        out.append(c)
    return out


def _ab_uncovered(
    f: WindowFacts,
    statuses: dict[StaffId, list[tuple[EventId, StaffStatus]]],
    cal: WorkCalendar,
) -> list[Condition]:
    people = (f.a_post, *f.b_posts)
    away: list[list[tuple[datetime, datetime | None, EventId]]] = []
    for who in people:
        history = statuses.get(who, [])
        spans = [(s, e, eid) for eid, st, s, e in _spans(history) if st.state in _AWAY]
        if not spans:
            return []
        away.append(spans)
    out = []
    for start, end, ids in _all_at_once(away):
        first = _first_service_instant(cal, start, end)
        if first is not None:
            out.append(Condition(RuleId.POST_AB_UNCOVERED, "", first, end, False, ids))
    return out


def _all_at_once(
    away: list[list[tuple[datetime, datetime | None, EventId]]],
) -> list[tuple[datetime, datetime | None, tuple[EventId, ...]]]:
    """Intersections of everyone's away spans."""
    acc: list[tuple[datetime, datetime | None, tuple[EventId, ...]]] = [
        (s, e, (eid,)) for s, e, eid in away[0]
    ]
    for spans in away[1:]:
        nxt = []
        for s1, e1, ids in acc:
            for s2, e2, eid in spans:
                s = max(s1, s2)
                ends = [x for x in (e1, e2) if x is not None]
                e = min(ends) if ends else None
                if e is None or s < e:
                    nxt.append((s, e, (*ids, eid)))
        acc = nxt
    return acc


def _first_service_instant(
    cal: WorkCalendar, start: datetime, end: datetime | None
) -> datetime | None:
    day = start
    for _ in range(15):  # a fortnight of holidays at most before someone is back
        for s, e in cal.service_hours(day):
            t = max(s, start)
            if t < e and (end is None or t < end):
                return t
        day = day + timedelta(days=1)
        if end is not None and day > end + timedelta(days=1):
            return None
    return None

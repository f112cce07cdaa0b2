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
- Who answers for an empty seat (`WindowAssessment.owned`): while the A post is covered by
  leave, a trip or a meeting (an approved leave: alerts/absence.py), the B post covering it,
  the substitute the status names if present, else the first B post in order who is not away
  (000_… 七(三): 顶岗期间享有A岗工作人员的职责权利，并承担相应责任; 002_… AB岗工作制 四, 五);
  the A post when A left without such cover, or when no B post is there.
- `post.notice_incomplete` (yellow) for a notice without reason, whereabouts or contact, and
  `leave.unapproved` (red) for a leave not approved as its length requires (`status_conditions`).

Rules (001_… 第一篇(九), 第五篇 4; thresholds in docs/people.md):
- The seat is occupied, empty or unknown. Unknown while the camera is offline or silent past
  `heartbeat_timeout_s` (the contract's heartbeat is 60 s): unknown is never empty.
- A seat counts as empty only after it has been seen empty for `confirm_s` without a break,
  and as occupied again only after it has been seen occupied that long: a shorter flicker
  either way moves nothing.
- Covered: a complete absence notice (离岗告示: status `away` with reason, whereabouts and
  contact, 001_… 第五篇(一)4) of the window's A or B post, from its start until its `until`,
  at most `notice_max_min` minutes (default 30, whereabouts-board rules). A bare `away`
  covers nothing. A window with a single officer is covered by a notice only if it names a
  substitute or the window has a neighbour in configuration that watches it.
- A substitute on post sits in the seat: the camera sees the seat occupied.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from pydantic import Field

from alerts.absence import LeaveRules, LeaveVerdict, excuses, leave_verdict, notice_complete
from alerts.cases import Condition
from alerts.events import StaffState, StaffStatus
from alerts.ids import EventId, StaffId, WindowId, qualifier
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import WorkCalendar

_AWAY = (StaffState.AWAY, StaffState.MEETING, StaffState.TRIP, StaffState.LEAVE, StaffState.OFF)
# A covered by these (an approved leave, a trip, a meeting): the covering B answers for the seat.
_B_ANSWERS = (StaffState.LEAVE, StaffState.TRIP, StaffState.MEETING)
Interval = tuple[datetime, datetime | None]
Statuses = dict[StaffId, list[tuple[EventId, StaffStatus]]]


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
    # The seat's scan of its readings so far (`_Scan`): a tick reads only the new ones.
    scan: _Scan | None = field(default=None, repr=False, compare=False)

    def add_reading(self, r: Reading) -> None:
        last = self.readings[-1] if self.readings else None
        if last is None or (last.ts, last.event_id) <= (r.ts, r.event_id):
            self.readings.append(r)  # a camera reports in order: the usual case
        else:
            bisect.insort(self.readings, r, key=lambda x: (x.ts, x.event_id))

    def camera(self, online: bool, at: datetime) -> None:
        if not online:
            if not self.offline or self.offline[-1][1] is not None:
                self.offline.append((at, None))
        elif self.offline and self.offline[-1][1] is None:
            self.offline[-1] = (self.offline[-1][0], at)

    def heard_until(self) -> datetime | None:
        """How far the camera is heard (it reports in order, the contract): its latest
        reading. What the seat did after that is not known yet, whatever the daemon's clock
        says; past the heartbeat timeout it is unknown (`_unknown`). Not its status: an
        `online`/`offline` carries the daemon's receive time, not the camera's, and read
        from a queue it would vouch for hours the readings behind it have not reached (an
        offline camera's seat is unknown from its status on anyway)."""
        return self.readings[-1].ts if self.readings else None

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
    owned: tuple[tuple[StaffId, Condition], ...] = ()  # each condition with who answers for it

    def by_owner(self) -> dict[StaffId, tuple[Condition, ...]]:
        out: dict[StaffId, list[Condition]] = {}
        for who, c in self.owned:
            out.setdefault(who, []).append(c)
        return {who: tuple(cs) for who, cs in out.items()}


def assess_window(
    f: WindowFacts,
    statuses: Statuses,
    cal: WorkCalendar,
    cfg: PostsConfig,
    statuses_heard: datetime | None = None,
    *,
    leave: LeaveRules | None = None,
) -> WindowAssessment:
    """`statuses_heard`: how far the staff statuses are heard (the case system's account,
    in order: alerts/supervision.py); None: no bound (every status is in). `leave`: who may
    approve leave (alerts/absence.py); None: every leave counts as approved."""
    scan = _scanned(f, timedelta(seconds=cfg.heartbeat_timeout_s), timedelta(seconds=cfg.confirm_s))
    unknown = _unknown(f, scan)
    empty, back = _empty(scan)
    notices = _notices_kept(f, scan, statuses, timedelta(minutes=cfg.notice_max_min))
    owned: list[tuple[StaffId, Condition]] = []
    heard = f.heard_until()
    if back is not None and heard is not None:
        heard = min(heard, back)  # a return or a flicker: known once `confirm` has passed
    for start, end, ids in _subtract(empty, [*unknown, *[(s, e) for s, e, _ in notices]]):
        key = (start, end, ids, cal, cfg.yellow_min, cfg.red_min)
        unstaffed = scan.unstaffed.get(key)
        if unstaffed is None:
            if len(scan.unstaffed) >= _KEPT_PIECES:
                scan.unstaffed.clear()
            unstaffed = scan.unstaffed[key] = _unstaffed(start, end, ids, cal, cfg)
        for c in _judged(unstaffed, heard):
            owned.append((answers_for_seat(f, statuses, c.start, leave), c))
    ab = _ab_uncovered(f, statuses, cal)
    ab = ab if statuses_heard is None else _judged(ab, statuses_heard)
    owned += [(f.a_post, c) for c in ab]
    owned.sort(key=lambda p: (p[1].start, p[1].rule))
    return WindowAssessment(
        window=f.window,
        staff=f.a_post,
        conditions=tuple(c for _, c in owned),
        unknown=tuple(unknown),
        owned=tuple(owned),
    )


def answers_for_seat(
    f: WindowFacts, statuses: Statuses, at: datetime, leave: LeaveRules | None = None
) -> StaffId:
    """Who answers for the window's empty seat at `at`: the covering B while A is covered
    (000_… 七(三); 002_… AB岗工作制 五), else A (002_… AB岗工作制 四: A left without cover)."""
    a = _status_at(statuses.get(f.a_post, ()), at)
    if a is None or a.state not in _B_ANSWERS or not excuses(a, leave):
        return f.a_post

    def here(who: StaffId) -> bool:
        st = _status_at(statuses.get(who, ()), at)
        return st is None or st.state not in _AWAY

    named = a.substitute if a.substitute in f.b_posts else None
    order = ([named] if named is not None else []) + [b for b in f.b_posts if b != named]
    return next((b for b in order if here(b)), f.a_post)


def _status_at(history: Sequence[tuple[EventId, StaffStatus]], at: datetime) -> StaffStatus | None:
    current = None
    for _, st, start, end in _spans(history):
        if start <= at and (end is None or at < end):
            current = st
    return current


def status_conditions(
    history: Sequence[tuple[EventId, StaffStatus]],
    cal: WorkCalendar,
    cfg: PostsConfig,
    leave: LeaveRules | None,
) -> tuple[Condition, ...]:
    """An officer's statuses that excuse nothing: an incomplete absence notice (yellow while
    it stands, at most `notice_max_min`) and a leave not approved as its length requires
    (red at its first service-hours instant). Off days and evenings raise nothing."""
    out: list[Condition] = []
    longest = timedelta(minutes=cfg.notice_max_min)
    for eid, st, start, end in _spans(history):
        where = qualifier(f"{start.astimezone(cal.zone):%Y-%m-%dT%H:%M}")
        if st.state is StaffState.AWAY and not notice_complete(st):
            stop = start + longest if end is None else min(end, start + longest)
            first = _first_service_instant(cal, start, stop)
            if first is not None:
                rule = RuleId.POST_NOTICE_INCOMPLETE
                out.append(Condition(rule, where, first, stop, False, (eid,)))
        elif leave_verdict(st, leave) is not LeaveVerdict.APPROVED:
            first = _first_service_instant(cal, start, end)
            if first is not None:
                out.append(Condition(RuleId.LEAVE_UNAPPROVED, where, first, first, False, (eid,)))
    return tuple(sorted(out, key=lambda c: (c.start, c.rule)))


Run = tuple[datetime, datetime | None, tuple[EventId, ...]]


@dataclass(slots=True)
class _Scan:
    """One pass over a window's readings, kept between ticks: the silences longer than the
    heartbeat timeout (`_unknown`) and the empty runs (`_empty`) of the first `n` readings,
    with the empty run's state at the `n`th. A tick reads only the readings since the last
    (they come in order); a reading inserted before them, a day forgotten or another list
    starts it over (`valid_for`). The same fold either way: the result is a full scan's."""

    source: list[Reading]
    timeout: timedelta
    confirm: timedelta
    n: int = 0
    last: Reading | None = None
    gaps: list[Interval] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    start: Reading | None = None
    back: Reading | None = None  # first occupied reading since `start`, not yet confirmed
    # What the assessment derived from the scan last time, kept while its inputs stand: the
    # yellow and red of each uncovered piece of an empty run (working minutes, by calendar
    # and thresholds), and the absence notices (by the posts' status histories).
    unstaffed: dict[tuple[object, ...], list[Condition]] = field(default_factory=dict)
    notices: tuple[object, list[tuple[datetime, datetime, EventId]]] | None = None

    def valid_for(self, readings: list[Reading], timeout: timedelta, confirm: timedelta) -> bool:
        n = self.n
        return (
            readings is self.source
            and timeout == self.timeout
            and confirm == self.confirm
            and len(readings) >= n
            and (n == 0 or readings[n - 1] is self.last)
        )

    def advance(self) -> _Scan:
        """Fold in the readings since the last call.

        Flicker both ways: an empty run ends only when the seat is seen occupied for
        `confirm` (it ends at the first of those readings); a shorter occupied spell inside
        it is a flicker, and restarting the run there would restart its yellow and red
        timers — one absence turned into a warning raised and closed every few minutes,
        never red."""
        readings, timeout, confirm = self.source, self.timeout, self.confirm
        prev, start, back = self.last, self.start, self.back
        for i in range(self.n, len(readings)):
            r = readings[i]
            if prev is not None and r.ts - prev.ts > timeout:
                self.gaps.append((prev.ts + timeout, r.ts))
            prev = r
            if start is None:
                start = None if r.present else r
            elif not r.present:
                if back is not None and r.ts - back.ts >= confirm:
                    _close(self.runs, start, back.ts, confirm)
                    start = r
                back = None
            elif back is None:
                back = r
            elif r.ts - back.ts >= confirm:
                _close(self.runs, start, back.ts, confirm)
                start = back = None
        self.n, self.last, self.start, self.back = len(readings), prev, start, back
        return self


def _scanned(f: WindowFacts, timeout: timedelta, confirm: timedelta) -> _Scan:
    scan = f.scan
    if scan is None or not scan.valid_for(f.readings, timeout, confirm):
        scan = f.scan = _Scan(f.readings, timeout, confirm)
    return scan.advance()


def _unknown(f: WindowFacts, scan: _Scan) -> list[Interval]:
    """Camera offline, and silences longer than the heartbeat timeout."""
    out: list[Interval] = [*f.offline, *scan.gaps]
    if scan.last is not None:
        out.append((scan.last.ts + scan.timeout, None))
    return sorted(out, key=lambda iv: iv[0])


def _empty(scan: _Scan) -> tuple[list[Run], datetime | None]:
    """Runs of empty readings that lasted at least `confirm` (flicker is dropped), and the
    first reading of an occupied spell not yet seen for `confirm` (None: none pending)."""
    out = list(scan.runs)
    if scan.start is not None:  # confirmed once `confirm` has passed
        out.append((scan.start.ts, None, (scan.start.event_id,)))
    return out, None if scan.back is None else scan.back.ts


def _close(
    out: list[Run],
    start: Reading,
    end: datetime,
    confirm: timedelta,
) -> None:
    if end - start.ts >= confirm:  # its evidence: the reading it began with, which is all
        out.append((start.ts, end, (start.event_id,)))  # a card raised on it knew


_KEPT_PIECES = 512  # pieces of empty runs a window's scan remembers (a day has far fewer)


def _notices_kept(
    f: WindowFacts, scan: _Scan, statuses: Statuses, longest: timedelta
) -> list[tuple[datetime, datetime, EventId]]:
    """`_notices`, built again only when a status of the window's posts came (their
    histories only grow: length and last entry say)."""
    histories = [statuses.get(who, []) for who in (f.a_post, *f.b_posts)]
    key = (longest, tuple((len(h), h[-1][0] if h else None) for h in histories))
    if scan.notices is None or scan.notices[0] != key:
        scan.notices = (key, list(_notices(f, statuses, longest)))
    return scan.notices[1]


def _notices(
    f: WindowFacts,
    statuses: dict[StaffId, list[tuple[EventId, StaffStatus]]],
    longest: timedelta,
) -> Iterable[tuple[datetime, datetime, EventId]]:
    single = not f.b_posts
    for who in (f.a_post, *f.b_posts):
        for eid, st, start, end in _spans(statuses.get(who, [])):
            if st.state is not StaffState.AWAY or not notice_complete(st):
                continue  # a bare `away` is no notice (001_… 第五篇(一)4)
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

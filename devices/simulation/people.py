"""Officers' day: punches, leave and absence notices, who sits at which window when, and what
the clocks and cameras publish about it. Pure.

One working day per call. Each officer gets a shift per session (punch in, seated, punch out)
unless absent or on leave; seated time loses short breaks, absence notices (离岗告示) and the
occasional unannounced absence. A window's seat is held by its A post; when the A post is away
for 10 minutes or more, the first B post who is not itself an A post (a spare) comes over
(同岗替代, seed 000_… 七). Cameras report every seat change and a heartbeat; one camera may
drop out for a while, one clock may go offline and upload its backlog when it comes back.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from alerts.config import Staff
from devices.simulation.model import (
    Hall,
    Message,
    Params,
    Span,
    intersect,
    merge,
    minutes,
    rng,
    seconds,
    subtract,
)

Occupant = tuple[datetime, datetime, str]  # seated from, to, who

LATENESS = (((1, 10), 0.85), ((10, 15), 0.10), ((15, 60), 0.05))  # minutes, share of late
VERIFY = (("fingerprint", 0.90), ("face", 0.05), ("card", 0.04), ("password", 0.01))
LEAVE = (("personal", 0.35), ("annual", 0.30), ("sick", 0.25), ("official", 0.10))
# An absence notice says why, where and how to reach (seed 001 第五篇(一)4): reason, whereabouts.
AWAY_REASONS = (
    ("踏勘", "项目现场"),
    ("现场核查", "申请人经营场所"),
    ("送审材料", "局机关业务科室"),
    ("部门会商", "中心三楼会议室"),
    ("取送证照", "中心档案室"),
    ("业务请示", "局机关分管领导办公室"),
)
MIN_GAP = timedelta(minutes=10)  # a shorter empty seat is a break, nobody comes over


@dataclass(slots=True)
class Shift:
    punch_in: datetime | None
    seat: Span
    punch_out: datetime | None


@dataclass(slots=True)
class OfficerDay:
    staff: Staff
    shifts: dict[int, Shift] = field(default_factory=dict)  # session index → shift
    off_seat: list[Span] = field(default_factory=list)
    covering: list[Span] = field(default_factory=list)

    def seated(self) -> list[Span]:
        return subtract((s.seat for s in self.shifts.values()), self.off_seat)


@dataclass(frozen=True, slots=True)
class Staffing:
    messages: list[Message]
    seats: dict[str, list[Occupant]]  # window → who sat there when, sorted


def plan_staffing(hall: Hall, day: date, seed: int, p: Params) -> Staffing:
    spans = list(hall.cal.service_hours(day))
    r = rng(seed, day, "staff")
    msgs: list[Message] = []
    days: dict[str, OfficerDay] = {}
    for officer in hall.officers:
        days[officer.id] = _officer_day(hall, r, officer, day, spans, p, msgs)
    seats = _seats(hall, r, days, spans)
    dev = rng(seed, day, "devices")
    dawn = spans[0][0] - timedelta(hours=1)
    msgs += [hall.status("clock", c.id, True, dawn) for c in hall.cfg.clocks]
    msgs += [hall.status("camera", c.id, True, dawn) for c in hall.cfg.cameras]
    msgs += _punches(hall, dev, days, spans, p)
    msgs += _cameras(hall, dev, (seed, day), seats, spans, p)
    return Staffing(msgs, seats)


def _pick(r: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    return r.choices([v for v, _ in table], [w for _, w in table])[0]


def _officer_day(
    hall: Hall,
    r: random.Random,
    who: Staff,
    day: date,
    spans: list[Span],
    p: Params,
    out: list[Message],
) -> OfficerDay:
    od = OfficerDay(who)
    u = r.random()
    if u < p.absence_share:  # absent: no punch, no leave
        return od
    if u < p.absence_share + p.leave_share:
        out.append(_leave(hall, r, who, (spans[0][0], spans[-1][1])))
        return od
    skip = -1
    if u < p.absence_share + p.leave_share + p.half_leave_share and len(spans) > 1:
        skip = r.randrange(len(spans))
        out.append(_leave(hall, r, who, spans[skip]))
    for i, (s, e) in enumerate(spans):
        if i != skip:
            od.shifts[i] = _shift(r, s, e, p)
    _breaks(r, od, p)
    if od.shifts and r.random() < p.away_share:
        out += _notice(hall, r, od, "away")
    if od.shifts and "负责人" in who.post and r.random() < p.meeting_share:
        out += _notice(hall, r, od, "meeting")
    return od


def _substitute(hall: Hall, who: Staff) -> str | None:
    window = hall.holder_of.get(who.id)
    return window.b_posts[0] if window and window.b_posts else None


def _leave(hall: Hall, r: random.Random, who: Staff, span: Span) -> Message:
    start, end = span
    fields: dict[str, Any] = {"from": start, "until": end, "category": _pick(r, LEAVE)}
    approver = hall.approver(who)
    if approver:
        fields["approved_by"] = approver
    sub = _substitute(hall, who)
    if sub:
        fields["substitute"] = sub
    ident = f"LV-{who.id}-{start.astimezone(hall.zone):%Y%m%d%H%M}"
    return hall.staff_status(who.id, ident, "leave", start - minutes(r, 20, 60), fields)


def _shift(r: random.Random, s: datetime, e: datetime, p: Params) -> Shift:
    if r.random() < p.late_punch_share:
        lo, hi = _pick(r, LATENESS)
        punch_in = s + minutes(r, lo, hi)
    else:
        punch_in = s - seconds(r, 30, 1200)
    seat_from = max(punch_in + seconds(r, 60, 180), s - seconds(r, 0, 300))
    early = r.random() < p.early_leave_share
    seat_to = e - minutes(r, 5, 30) if early else e + seconds(r, 0, 300)
    seat_to = max(seat_to, seat_from + timedelta(minutes=5))
    punch_out = seat_to + seconds(r, 60, 300)
    missed_in = r.random() < p.missed_punch_share
    missed_out = r.random() < p.missed_punch_share
    return Shift(
        punch_in=None if missed_in else punch_in,
        seat=(seat_from, seat_to),
        punch_out=None if missed_out else punch_out,
    )


def _random_in(r: random.Random, a: datetime, b: datetime) -> datetime:
    return a + seconds(r, 0, max(0.0, (b - a).total_seconds()))


def _breaks(r: random.Random, od: OfficerDay, p: Params) -> None:
    for sh in od.shifts.values():
        a, b = sh.seat
        for _ in range(r.choice((0, 1, 1, 2))):
            t = _random_in(r, a, b - timedelta(minutes=10))
            od.off_seat.append((t, t + seconds(r, 120, 480)))
        if r.random() < p.unnotified_share:  # off the seat 16–30 min without a notice
            t = _random_in(r, a, b - timedelta(minutes=35))
            od.off_seat.append((t, t + minutes(r, 16, 30)))


def _notice(hall: Hall, r: random.Random, od: OfficerDay, state: str) -> list[Message]:
    a, b = od.shifts[r.choice(sorted(od.shifts))].seat
    lo, hi = a + timedelta(minutes=20), b - timedelta(minutes=75)
    if hi <= lo:
        return []
    start = _random_in(r, lo, hi).replace(second=0)
    if state == "away":  # a short absence (暂离) is at most 30 min on the whereabouts board
        until = start + timedelta(minutes=r.choice((10, 15, 20, 30)))
        reason, where = r.choice(AWAY_REASONS)
    else:
        until, reason, where = start + timedelta(hours=1), "窗口负责人例会", "中心三楼会议室"
    overstay = r.random() < 0.1
    back = until + minutes(r, 3, 20) if overstay else until - seconds(r, 0, 180)
    od.off_seat.append((start, back))
    who = od.staff
    fields: dict[str, Any] = {
        "from": start,
        "until": until,
        "reason": reason,
        "whereabouts": where,
        "contact": hall.contact(who),
    }
    sub = _substitute(hall, who)
    if sub:
        fields["substitute"] = sub
    stamp = f"{start.astimezone(hall.zone):%Y%m%d%H%M}"
    return [
        hall.staff_status(who.id, f"{state[:2].upper()}-{who.id}-{stamp}", state, start, fields),
        hall.staff_status(who.id, f"OP-{who.id}-{stamp}", "on_post", back, {"from": back}),
    ]


def _seats(
    hall: Hall, r: random.Random, days: dict[str, OfficerDay], spans: list[Span]
) -> dict[str, list[Occupant]]:
    seats: dict[str, list[Occupant]] = {}
    for w in hall.cfg.windows:
        holder = days.get(w.a_post)
        own = holder.seated() if holder else []
        occupants = [(a, b, w.a_post) for a, b in own]
        for g0, g1 in subtract(spans, own):
            if g1 - g0 >= MIN_GAP:
                occupants += _cover(hall, w.b_posts, days, (g0 + minutes(r, 2, 6), g1))
        seats[w.id] = sorted(occupants)
    return seats


def _cover(
    hall: Hall, b_posts: list[str], days: dict[str, OfficerDay], gap: Span
) -> list[Occupant]:
    """The first spare B post who is in the hall takes the seat for what they can of `gap`."""
    for b in b_posts:
        od = days.get(b)
        if b not in hall.spares or od is None:
            continue
        free = subtract(intersect(od.seated(), [gap]), od.covering)
        free = [(x, y) for x, y in free if y - x >= timedelta(minutes=3)]
        if free:
            od.covering += free
            return [(x, y, b) for x, y in free]
    return []


def _punches(
    hall: Hall, r: random.Random, days: dict[str, OfficerDay], spans: list[Span], p: Params
) -> list[Message]:
    clocks = [c.id for c in hall.cfg.clocks]
    if not clocks:
        return []
    outage: tuple[str, datetime, datetime] | None = None
    if r.random() < p.clock_outage_share:  # through the morning punch-in
        t0 = spans[0][0] - minutes(r, 20, 45)
        outage = (r.choice(clocks), t0, t0 + minutes(r, 40, 150))
    msgs: list[Message] = []
    backlog: list[tuple[datetime, str, str, str]] = []
    for n, (staff, od) in enumerate(days.items()):
        home = clocks[n % len(clocks)]
        for i in sorted(od.shifts):
            for t in (od.shifts[i].punch_in, od.shifts[i].punch_out):
                if t is None:
                    continue
                clock = r.choice(clocks) if r.random() < 0.1 else home
                verify = _pick(r, VERIFY)
                if outage and clock == outage[0] and outage[1] <= t < outage[2]:
                    backlog.append((t, clock, staff, verify))
                else:
                    msgs.append(hall.punch(clock, staff, t, verify, at=t))
    silent: tuple[str, datetime, datetime] | None = None
    if outage:
        clock, t0, t1 = outage
        msgs += [hall.status("clock", clock, False, t0), hall.status("clock", clock, True, t1)]
        for k, (t, clk, staff, verify) in enumerate(sorted(backlog), start=1):
            msgs.append(hall.punch(clk, staff, t, verify, at=t1 + timedelta(milliseconds=100 * k)))
        silent = (clock, t0, t1 + timedelta(milliseconds=100 * (len(backlog) + 1)))
    return msgs + _clock_beats(hall, clocks, spans, p, silent)


def _clock_beats(
    hall: Hall,
    clocks: list[str],
    spans: list[Span],
    p: Params,
    silent: tuple[str, datetime, datetime] | None,
) -> list[Message]:
    """Each clock's bridge beats from dawn to two hours after closing, except while the
    clock is offline and until its backlog is uploaded."""
    beat = timedelta(seconds=p.clock_heartbeat_s)
    start, end = spans[0][0] - timedelta(hours=1), spans[-1][1] + timedelta(hours=2)
    msgs: list[Message] = []
    for clock in clocks:
        t = start
        while t <= end:
            if silent is None or clock != silent[0] or not silent[1] <= t < silent[2]:
                msgs.append(hall.clock_heartbeat(clock, t))
            t += beat
        if silent is not None and clock == silent[0] and silent[1] < silent[2] <= end:
            msgs.append(hall.clock_heartbeat(clock, silent[2]))  # back, the backlog in
    return msgs


def _cameras(
    hall: Hall,
    r: random.Random,
    key: tuple[int, date],
    seats: dict[str, list[Occupant]],
    spans: list[Span],
    p: Params,
) -> list[Message]:
    cams = hall.cfg.cameras
    if not cams:
        return []
    start, end = spans[0][0] - timedelta(minutes=30), spans[-1][1] + timedelta(minutes=30)
    msgs: list[Message] = []
    drop: tuple[str, datetime, datetime] | None = None
    if r.random() < p.camera_dropout_share:
        t0 = _random_in(r, spans[0][0] + timedelta(minutes=30), spans[-1][1] - timedelta(hours=1))
        drop = (r.choice(cams).id, t0, t0 + minutes(r, 10, 40))
        msgs += [hall.status("camera", drop[0], False, drop[1])]
        msgs += [hall.status("camera", drop[0], True, drop[2])]
    beat = timedelta(seconds=p.heartbeat_s)
    for cam in cams:
        cr = rng(key[0], key[1], f"presence/{cam.id}")
        gap = (drop[1], drop[2]) if drop and drop[0] == cam.id else None
        for w in cam.windows:
            seated = merge((a, b) for a, b, _ in seats.get(w, []))
            for t, present in _track(seated, (start, end), beat, gap):
                conf = cr.uniform(0.80, 0.98) if present else cr.uniform(0.85, 0.99)
                msgs.append(hall.presence(cam.id, w, present, t, round(conf, 2)))
    return msgs


def _track(
    seated: list[Span], day: Span, beat: timedelta, gap: Span | None
) -> Iterator[tuple[datetime, bool]]:
    """Seat state at every change and at least every `beat`; nothing while the camera is off."""
    start, end = day
    changes = {x for span in seated for x in span}
    if gap:
        changes.add(gap[1])
    points = sorted(x for x in changes if start < x < end)
    starts = [a for a, _ in seated]
    t, i = start, 0
    while t < end:
        if gap is None or not gap[0] <= t < gap[1]:
            k = bisect_right(starts, t) - 1
            yield t, k >= 0 and t < seated[k][1]
        while i < len(points) and points[i] <= t:
            i += 1
        t = min(t + beat, points[i]) if i < len(points) else t + beat

"""Cases, ratings and complaints that begin on one day. Pure.

A case is received at a window by whoever sits there (an applicant who finds the seat empty
waits for the next officer) and its whole life is drawn at once: later steps land in service
hours of later working days, so a run of several days carries open cases across days. Times
after acceptance are working time (`Hall.after`), the way the daemon counts them.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from typing import Any

from devices.simulation.model import Hall, Message, Params, minutes, rng, seconds

# Negative filing reasons, seed 000_… 六(二), with how often each is the cause.
REFUSALS = {
    1: ("不符合有关法律法规规定, 确实不能办理", 0.15),
    2: ("属于保密事项, 不能公开办理", 0.02),
    3: ("附送的证件资料或办理手续不完整", 0.50),
    4: ("不符合办理程序", 0.15),
    5: ("超期或不到办理时间", 0.10),
    6: ("其他不能办理的事项", 0.08),
}
PROMISED_DAYS = ((3, 10), (5, 20), (7, 15), (10, 25), (15, 15), (20, 15))  # mean ≈ 10 (seed 003)
ACTUAL_DAYS = ((0, 30), (1, 30), (2, 20), (3, 10), (4, 4), (5, 3), (6, 3))  # mean ≈ 1.5 (seed 003)
LEVELS = (5, 4, 3, 2, 1)
LEVELS_USUAL = (82, 13, 3, 1.2, 0.8)  # ≈ 98 % satisfied (seed 004 target)
LEVELS_UPSET = (30, 20, 20, 15, 15)  # after a late case or a refusal
AUTHORITIES = ("市级主管部门", "省级主管部门")
COMPLAINT_CATEGORIES = (
    ("attitude", 30),
    ("overtime", 25),
    ("procedure", 20),
    ("fees", 5),
    ("disclosure", 5),
    ("other", 15),
)
COMPLAINT_CHANNELS = (("hotline", 45), ("web", 25), ("mailbox", 15), ("window", 10), ("letter", 5))


def _pick(r: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    return r.choices([v for v, _ in table], [w for _, w in table])[0]


def _whole(t: timedelta) -> timedelta:
    return timedelta(seconds=round(t.total_seconds()))


class _Track:
    """The events of one case or complaint, numbered into their ids."""

    def __init__(self, hall: Hall, topic: str, ident: str, base: dict[str, Any]) -> None:
        self.hall = hall
        self.topic = topic
        self.ident = ident
        self.base = base
        self.messages: list[Message] = []

    def emit(self, action: str, t: datetime, **fields: Any) -> None:
        obj = {
            "id": f"{self.ident}-{len(self.messages) + 1:02d}",
            **self.base,
            "action": action,
            "ts": self.hall.stamp(t),
            **fields,
        }
        self.messages.append(self.hall.message(self.topic, obj, t))


class _Case(_Track):
    def __init__(
        self, hall: Hall, ident: str, window: str, staff: str, seed: int, p: Params
    ) -> None:
        super().__init__(hall, f"case/{ident}/event", ident, {"case": ident})
        self.here = {"window": window, "staff": staff}
        self.seed, self.p = seed, p

    def rate(self, r: random.Random, t: datetime, upset: bool, channel: str) -> None:
        level = r.choices(LEVELS, LEVELS_UPSET if upset else LEVELS_USUAL)[0]
        self._rating(f"R-{self.ident}", level, t, channel)
        if level <= 2:
            self._rectify(t)

    def _rating(self, ident: str, level: int, t: datetime, channel: str) -> None:
        obj = {"id": ident, "case": self.ident, "level": level}
        obj |= {"ts": self.hall.stamp(t), "channel": channel}
        self.messages.append(self.hall.message(f"rating/{self.ident}", obj, t))

    def _rectify(self, bad: datetime) -> None:
        """After a bad review the window rectifies and calls back (回访); the applicant rates
        again (level 3–5), in time, late, or never. Its own stream: the day's cases stay put."""
        r = rng(self.seed, None, f"rectify/{self.ident}")
        total = self.hall.day_total(self.hall.local_date(bad))
        draw, p = r.random(), self.p
        if draw < p.rectified_share:  # inside the 5 working days (德州)
            days = r.uniform(0.3, 4.5)
        elif draw < p.rectified_share + p.rectified_late_share:
            days = r.uniform(5.5, 9)
        else:
            return
        again = self.hall.after(bad, _whole(total * days))
        self._rating(f"R-{self.ident}-2", r.choice((3, 4, 4, 5)), again, "callback")

    def review(self, r: random.Random, refused: datetime) -> None:
        """The leader reviews a refusal (否定报备, 2 working days; about 1 in 10 later)."""
        total = self.hall.day_total(self.hall.local_date(refused))
        reviewed = self.hall.after(refused, _whole(total * r.uniform(0.05, 2.3)))
        verdict = "unlawful" if r.random() < 0.1 else "upheld"
        self.emit("refusal_reviewed", reviewed, verdict=verdict, reviewer=self.hall.reviewer())
        if verdict == "unlawful":
            self.emit("corrected", self.hall.after(reviewed, _whole(total * r.uniform(0.05, 1.1))))


Seats = dict[str, list[tuple[datetime, datetime, str]]]  # window → (from, to, who)


def plan_cases(hall: Hall, day: date, seed: int, p: Params, seats: Seats) -> list[Message]:
    r = rng(seed, day, "cases")
    windows = [w.id for w in hall.cfg.windows]
    weights = [rng(seed, None, f"window/{w}").uniform(0.4, 2.0) for w in windows]
    kinds, shares = zip(*p.mix.shares().items(), strict=True)
    spans = list(hall.cal.service_hours(day))
    out: list[Message] = []
    for n in range(1, case_volume(hall, day, r, p) + 1):
        window = r.choices(windows, weights)[0]
        kind = r.choices(kinds, shares)[0]
        seat = _seat_at(seats.get(window, []), _arrival(r, spans))
        if seat is None:
            continue
        t, staff = seat
        case = _Case(hall, f"C{day:%Y%m%d}-{n:04d}", window, staff, seed, p)
        case.emit("received", t, kind=kind, **case.here)
        if r.random() < p.refused_share:
            _returned(case, r, t, p)
        elif kind == "immediate":
            _immediate(case, r, t, day, p)
        elif kind == "promised":
            _promised(case, r, t, day, p)
        else:
            _reported(case, r, t, day, p)
        out += case.messages
    return out


def case_volume(hall: Hall, day: date, r: random.Random, p: Params) -> int:
    """Received cases: the first working day after 3+ days off is the peak; Monday is busy."""
    off, prev = 0, day - timedelta(days=1)
    while off < 30 and not hall.cal.is_working_day(prev):
        off, prev = off + 1, prev - timedelta(days=1)
    busy = {0: 1.2, 4: 0.9, 5: 0.8, 6: 0.8}  # Monday, Friday, a swapped weekend day
    factor = p.peak_factor if off >= 3 else busy.get(day.weekday(), 1.0)
    return max(0, round(p.cases_per_day * factor * r.uniform(0.85, 1.15)))


def _arrival(r: random.Random, spans: list[tuple[datetime, datetime]]) -> datetime:
    weights = [(e - s).total_seconds() * (1.3 if i == 0 else 1.0) for i, (s, e) in enumerate(spans)]
    s, e = r.choices(spans, weights)[0]
    length = (e - s).total_seconds()
    hi = max(121.0, length - 300)
    return s + timedelta(seconds=round(r.triangular(120, hi, min(hi, 0.35 * length))))


def _seat_at(
    occupants: list[tuple[datetime, datetime, str]], t: datetime
) -> tuple[datetime, str] | None:
    for a, b, staff in occupants:
        if a <= t < b:
            return t, staff
        if t < a:  # the applicant waits for the next officer at the window
            return a + timedelta(seconds=30), staff
    return None


def _finish(
    case: _Case, r: random.Random, done: datetime, late: bool, p: Params, pad: bool
) -> None:
    case.emit("completed", done, outcome="approved", **case.here)
    delivered = done + seconds(r, 0, 60) if pad else case.hall.after(done, minutes(r, 10, 240))
    case.emit("delivered", delivered)
    if r.random() < p.rating_share:
        later = seconds(r, 5, 90) if pad else minutes(r, 10, 120)
        channel = "pad" if pad else r.choice(("sms", "app", "web"))
        case.rate(r, delivered + later, late, channel)


def _immediate(case: _Case, r: random.Random, t: datetime, day: date, p: Params) -> None:
    accepted = t + seconds(r, 30, 180)
    case.emit("accepted", accepted, kind="immediate", **case.here)
    late = r.random() < p.late_case_share
    if not late:
        work = timedelta(minutes=min(45.0, max(2.0, r.lognormvariate(math.log(8), 0.6))))
    elif r.random() < 0.5:  # still open two working hours later: a yellow card
        work = minutes(r, 125, 300)
    else:  # not finished the same working day: a breach
        rest = case.hall.cal.working_time(accepted, case.hall.cal.close_of_business(day))
        work = rest + minutes(r, 20, 120)
    _finish(case, r, case.hall.after(accepted, _whole(work)), late, p, pad=True)


def _promised(case: _Case, r: random.Random, t: datetime, day: date, p: Params) -> None:
    hall = case.hall
    accepted = t + seconds(r, 60, 480)
    limit = _pick(r, PROMISED_DAYS)
    legal = max(limit, r.choice((20, 20, 20, 30, 45)))
    case.emit(
        "accepted", accepted, kind="promised", promised_days=limit, legal_days=legal, **case.here
    )
    total = hall.day_total(day)
    rest = max(hall.cal.working_time(accepted, hall.cal.close_of_business(day)), timedelta(0))
    k = min(_pick(r, ACTUAL_DAYS), limit - 1)  # working days actually taken
    work = rest * r.uniform(0.05, 0.9) if k == 0 else rest + total * (k - 1 + r.uniform(0.05, 0.95))
    pause = timedelta(0)
    if r.random() < p.suspended_share:  # materials awaited (补正): the clock stops
        pause = _whole(total * r.uniform(0.5, 3))
        stop = _whole(work * r.uniform(0.2, 0.8))
        case.emit("suspended", hall.after(accepted, stop), reason="材料补正")
        case.emit("resumed", hall.after(accepted, stop + pause))
    done = hall.after(accepted, _whole(work) + pause)
    late = r.random() < p.late_case_share
    if late:
        due = hall.cal.add_working_days(accepted, limit).at
        due = hall.after(due, pause) if pause else due
        done = hall.after(due, _whole(total * r.uniform(0.1, 2.5)))
    if r.random() < p.decision_refused_share:
        case.emit("completed", done, outcome="refused", **case.here)
        case.emit("delivered", hall.after(done, minutes(r, 10, 240)))
        case.review(r, done)
        return
    _finish(case, r, done, late, p, pad=False)


def _reported(case: _Case, r: random.Random, t: datetime, day: date, p: Params) -> None:
    hall = case.hall
    accepted = t + seconds(r, 60, 480)
    limit = r.choice((15, 20))
    case.emit(
        "accepted", accepted, kind="reported", promised_days=limit, legal_days=20, **case.here
    )
    total = hall.day_total(day)
    late = r.random() < p.late_case_share
    # Reported within 3 working days of acceptance (a hall's case rules); late ones after.
    up = hall.after(accepted, _whole(total * (r.uniform(3.1, 4) if late else r.uniform(0.2, 2.5))))
    authority = r.choice(AUTHORITIES)
    case.emit("reported_up", up, authority=authority)
    reply = hall.after(up, _whole(total * r.uniform(2, 8)))
    case.emit("reply_received", reply, authority=authority)
    done = hall.after(reply, _whole(total * r.uniform(0.1, 1.8)))
    _finish(case, r, done, late, p, pad=False)


def _returned(case: _Case, r: random.Random, t: datetime, p: Params) -> None:
    code = r.choices(list(REFUSALS), [w for _, w in REFUSALS.values()])[0]
    returned = t + minutes(r, 3, 15)
    case.emit("returned", returned, reason=REFUSALS[code][0], reason_code=code, **case.here)
    if r.random() < p.rating_share / 2:
        case.rate(r, returned + seconds(r, 5, 90), True, "pad")
    case.review(r, returned)


def plan_complaints(hall: Hall, day: date, seed: int, p: Params) -> list[Message]:
    """Complaints come around the clock, any day; the centre acts on them in service hours."""
    r = rng(seed, day, "complaints")
    total = hall.day_total(day)
    midnight = hall.local(day, time(0))
    out: list[Message] = []
    for n in range(1, _poisson(r, p.complaints_per_day) + 1):
        t = midnight + seconds(r, 0, 86399)
        window = r.choice(hall.cfg.windows)
        k = _Track(hall, f"complaint/K{day:%Y%m%d}-{n:02d}/event", f"K{day:%Y%m%d}-{n:02d}", {})
        k.emit(
            "received",
            t,
            category=_pick(r, COMPLAINT_CATEGORIES),
            window=window.id,
            staff=window.a_post,
            channel=_pick(r, COMPLAINT_CHANNELS),
        )
        accepted = hall.after(t, _whole(total * r.uniform(0.05, 4)))  # within 5 working days
        founded = r.random() < 0.3
        late = rng(seed, day, f"complaint-late/{n}")  # its own stream: the mix stays put
        if late.random() < p.complaint_late_share:
            accepted = hall.after(t, _whole(total * late.uniform(5.2, 7)))
        k.emit("accepted", accepted)
        span = r.uniform(2, 9)  # result within 10
        if late.random() < p.complaint_late_share:
            span = late.uniform(10.2, 13)
        decided = hall.after(accepted, _whole(total * span))
        k.emit("founded" if founded else "unfounded", decided)
        span = r.uniform(0.2, 3)
        if founded and late.random() < p.founded_late_share:  # not handled within a month
            span = late.uniform(25, 32)
        k.emit("closed", hall.after(decided, _whole(total * span)))
        out += k.messages
    return out


def _poisson(r: random.Random, mean: float) -> int:
    limit, k, prod = math.exp(-mean), 0, r.random()
    while prod > limit:
        k += 1
        prod *= r.random()
    return k

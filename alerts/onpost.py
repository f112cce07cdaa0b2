"""Who is on post at a window now (当班), and how many windows are staffed (在岗). Pure.

From the same facts as the post rules (alerts/posts.py): the seat's presence readings, its
camera's availability and the officers' statuses. The seat now:

- unknown: no reading yet, the camera offline, or silent past `heartbeat_timeout_s`;
- empty: seen empty for at least `confirm_s` without a break (a shorter flicker is still the
  person who sat there);
- occupied otherwise.

Who is named: nobody (无人在岗) at an empty seat. Otherwise the A post unless a status has them
away (away, meeting, trip, leave, off: as for `post.ab_uncovered`), then the substitute their
absence names, then the first B post who is not away; nobody if all are away. An unknown seat
names the officer the statuses put there (nobody can see the seat; the light is grey). The
staffed count is the occupied seats; None while no seat is known.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.events import StaffState, StaffStatus
from alerts.ids import EventId, StaffId, WindowId
from alerts.posts import PostsConfig, WindowFacts, _spans

_AWAY = frozenset(
    (StaffState.AWAY, StaffState.MEETING, StaffState.TRIP, StaffState.LEAVE, StaffState.OFF)
)

Statuses = Mapping[StaffId, Sequence[tuple[EventId, StaffStatus]]]


class Seat(StrEnum):
    OCCUPIED = "occupied"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class OnPost:
    window: WindowId
    seat: Seat
    officer: StaffId | None  # None: nobody on post (无人在岗)


def seat_at(f: WindowFacts, now: datetime, cfg: PostsConfig) -> Seat:
    if any(s <= now and (e is None or now < e) for s, e in f.offline):
        return Seat.UNKNOWN
    seen = bisect.bisect_right(f.readings, now, key=lambda r: r.ts)
    if seen == 0 or now - f.readings[seen - 1].ts > timedelta(seconds=cfg.heartbeat_timeout_s):
        return Seat.UNKNOWN
    if f.readings[seen - 1].present:
        return Seat.OCCUPIED
    first = seen - 1
    while first > 0 and not f.readings[first - 1].present:
        first -= 1
    if now - f.readings[first].ts >= timedelta(seconds=cfg.confirm_s):
        return Seat.EMPTY
    return Seat.OCCUPIED if first > 0 else Seat.UNKNOWN  # a flicker; or nothing seen before it


def status_at(history: Sequence[tuple[EventId, StaffStatus]], now: datetime) -> StaffStatus | None:
    """The status in force at `now` (from its start to its `until` or the next one)."""
    current = None
    for _, st, start, end in _spans(history):
        if start <= now and (end is None or now < end):
            current = st
    return current


def on_post(f: WindowFacts, statuses: Statuses, now: datetime, cfg: PostsConfig) -> OnPost:
    seat = seat_at(f, now, cfg)
    officer = None if seat is Seat.EMPTY else _officer(f, statuses, now)
    return OnPost(window=f.window, seat=seat, officer=officer)


def _officer(f: WindowFacts, statuses: Statuses, now: datetime) -> StaffId | None:
    def away(who: StaffId) -> StaffStatus | None:
        st = status_at(statuses.get(who, ()), now)
        return st if st is not None and st.state in _AWAY else None

    a = away(f.a_post)
    if a is None:
        return f.a_post
    if a.substitute is not None and away(a.substitute) is None:
        return a.substitute
    return next((b for b in f.b_posts if away(b) is None), None)


def hall_on_post(
    windows: Iterable[WindowFacts], statuses: Statuses, now: datetime, cfg: PostsConfig
) -> dict[WindowId, OnPost]:
    return {f.window: on_post(f, statuses, now, cfg) for f in windows}


def staffed(posts: Iterable[OnPost]) -> int | None:
    """Occupied seats now; None while no seat is known (no presence input, every camera off)."""
    seats = [p.seat for p in posts]
    if all(s is Seat.UNKNOWN for s in seats):
        return None
    return seats.count(Seat.OCCUPIED)

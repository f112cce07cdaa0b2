"""Who is on post now and the staffed count (alerts/onpost.py), at fixed instants."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.events import StaffState, StaffStatus
from alerts.ids import EventId, StaffId, WindowId
from alerts.onpost import OnPost, Seat, hall_on_post, on_post, seat_at, staffed, status_at
from alerts.posts import PostsConfig, Reading, WindowFacts

CFG = PostsConfig()  # confirm 60 s, heartbeat timeout 180 s
MON = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
A, B1, B2, SUB = StaffId("S005"), StaffId("S006"), StaffId("S007"), StaffId("S030")
Statuses = dict[StaffId, list[tuple[EventId, StaffStatus]]]


def seat(*readings: tuple[int, bool], window: str = "W03") -> WindowFacts:
    """Readings at seconds after MON."""
    f = WindowFacts(WindowId(window), A, (B1, B2), watched_by_neighbour=True)
    for s, present in readings:
        f.add_reading(Reading(MON + timedelta(seconds=s), present, EventId(f"{window}-{s}")))
    return f


def away(
    who: StaffId,
    state: StaffState = StaffState.LEAVE,
    start: int = -3600,
    until: int | None = 3600,
    substitute: StaffId | None = None,
) -> Statuses:
    at = MON + timedelta(seconds=start)
    st = StaffStatus(
        staff=who,
        state=state,
        ts=at,
        start=at,
        until=None if until is None else MON + timedelta(seconds=until),
        substitute=substitute,
    )
    return {who: [(EventId(f"s-{who}-{start}"), st)]}


AT = MON + timedelta(seconds=120)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ((), Seat.UNKNOWN),  # nothing seen yet
        (((0, True), (60, True)), Seat.OCCUPIED),
        (((0, True), (60, False)), Seat.EMPTY),  # empty for 60 s: confirmed
        (((0, True), (90, False)), Seat.OCCUPIED),  # empty for 30 s: a flicker
        (((90, False),), Seat.UNKNOWN),  # a first reading not yet confirmed: nothing to go by
        (((0, False), (60, False)), Seat.EMPTY),
        (((-120, True),), Seat.UNKNOWN),  # silent for 240 s, past the 180 s heartbeat timeout
        (((0, True), (200, False)), Seat.OCCUPIED),  # a reading after `now` is not seen yet
    ],
)
def test_the_seat_now(readings: tuple[tuple[int, bool], ...], expected: Seat) -> None:
    assert seat_at(seat(*readings), AT, CFG) is expected


def test_an_offline_camera_makes_the_seat_unknown_until_it_is_back() -> None:
    f = seat((0, True), (100, True))
    f.camera(False, MON + timedelta(seconds=110))
    assert seat_at(f, AT, CFG) is Seat.UNKNOWN
    f.camera(True, MON + timedelta(seconds=115))
    assert seat_at(f, AT, CFG) is Seat.OCCUPIED


OCCUPIED = ((0, True), (100, True))


@pytest.mark.parametrize(
    ("readings", "statuses", "officer"),
    [
        (OCCUPIED, {}, A),
        (OCCUPIED, away(A), B1),  # A on leave: the first B post covers
        (OCCUPIED, {**away(A), **away(B1, StaffState.MEETING)}, B2),
        (OCCUPIED, {**away(A), **away(B1), **away(B2, StaffState.TRIP)}, None),  # all away
        (OCCUPIED, away(A, StaffState.AWAY, substitute=SUB), SUB),  # the notice's substitute
        (OCCUPIED, {**away(A, substitute=B1), **away(B1)}, B2),  # a substitute who is away
        (OCCUPIED, away(A, until=60), A),  # the leave ended at 09:01
        (OCCUPIED, away(A, start=600), A),  # the leave starts later
        (OCCUPIED, away(A, until=None), B1),  # no end given: away until the next status
        (((0, True), (60, False)), {}, None),  # an empty seat: 无人在岗, whoever is rostered
        ((), away(A), B1),  # unknown seat: whom the statuses put there
    ],
)
def test_who_is_on_post(
    readings: tuple[tuple[int, bool], ...], statuses: Statuses, officer: StaffId | None
) -> None:
    assert on_post(seat(*readings), statuses, AT, CFG).officer == officer


def test_a_later_status_ends_an_open_absence() -> None:
    back = StaffStatus(staff=A, state=StaffState.ON_POST, ts=MON, start=MON)
    history = [*away(A, until=None)[A], (EventId("back"), back)]
    assert status_at(history, AT) is back
    assert on_post(seat(*OCCUPIED), {A: history}, AT, CFG).officer == A


def test_staffed_counts_the_occupied_seats() -> None:
    windows = [
        seat(*OCCUPIED, window="W01"),
        seat((0, True), (60, False), window="W02"),
        seat(window="W03"),
        seat(*OCCUPIED, window="W04"),
    ]
    posts = hall_on_post(windows, away(A), AT, CFG)
    assert [p.seat for p in posts.values()] == [
        Seat.OCCUPIED,
        Seat.EMPTY,
        Seat.UNKNOWN,
        Seat.OCCUPIED,
    ]
    assert staffed(posts.values()) == 2
    assert staffed([OnPost(window=WindowId("W01"), seat=Seat.UNKNOWN, officer=A)]) is None
    assert staffed([]) is None

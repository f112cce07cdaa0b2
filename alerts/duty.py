"""Leader on duty (领导值班): the rota, the leader's presence, lateness, the half-month quota. Pure.

Rules (002_… 领导值班制度 二; the lateness thresholds are ours):
- Each window unit's leader and the town's responsible leader sit in the hall on the centre's
  rota (made quarterly, `[[duty]]` rows: date, half, leader), at least once every half month,
  half a day each time (`duty_quota`, default 1 half-day per half month: 1st-15th, 16th-end).
- A duty half-day (am / pm) is the span of the day's morning (afternoon) sessions.
- The leader is present from the first sighting in [start - `duty_arrive_before_min`, end): a
  punch at any hall clock (a make-up does not count) or a presence at the duty desk.
- `duty.late` (yellow) from `duty_late_min` (30) after the start while the leader has not come;
  `duty.absent` (red) at the end of a half-day without presence, once every clock has been
  heard from past the end or the finalization grace has passed (a silent clock is not evidence
  of absence); `duty.quota_missed` (red) at the end of each half month for every leader below
  quota.
- A duty is at least half a day (每次值班时间不少于半天): a leader who came but was not seen
  from `duty_end_before_min` (30) before the end to `duty_end_after_min` (60) after it did not
  stay the half-day: `duty.short` (red, at the end), judged once the clocks are heard past
  that window or the grace has passed. A short half-day does not count towards the quota.
- Holiday duty (节假日值班, 001_… 第一篇(十)5): `[[holiday_duty]]` rows (date, staff, start,
  end) on off days, checked the same way: `holiday_duty.late`, `holiday_duty.absent`,
  `holiday_duty.short`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field

from alerts.attendance import AttendanceConfig, PunchIn, session_keys
from alerts.cases import Condition
from alerts.ids import DeviceId, EventId, StaffId, qualifier
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import Span, WorkCalendar

Half = Literal["am", "pm"]
date_type = date  # `date` is also a field name below
Sighting = tuple[EventId, StaffId, datetime]  # a presence at the duty desk (or anywhere)
_ONE_DAY = timedelta(days=1)


class DutySlotConfig(ConfigModel):
    """One `[[duty]]` row of the rota."""

    date: date_type = Field(description="The day (TOML date).")
    half: Half = Field(description="am: the morning sessions; pm: the afternoon sessions.")
    leader: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Staff id of the leader."
    )

    def slot(self) -> DutySlot:
        return DutySlot(day=self.date, half=self.half, leader=StaffId(self.leader))


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class DutySlot:
    day: date
    half: Half
    leader: StaffId


def rota_of(rows: Iterable[DutySlotConfig]) -> tuple[DutySlot, ...]:
    return tuple(sorted({r.slot() for r in rows}))


class DutyState(StrEnum):
    NO_SESSION = "no_session"  # an off day, or no session in that half
    NOT_STARTED = "not_started"
    WAITING = "waiting"  # started, not late yet
    OVERDUE = "overdue"  # late, not come yet
    PRESENT = "present"  # came in time
    LATE = "late"  # came, late
    PENDING = "pending"  # over without presence, a clock not heard from yet
    ABSENT = "absent"


@dataclass(frozen=True, slots=True, kw_only=True)
class DutyOutcome:
    slot: DutySlot
    start: datetime | None
    end: datetime | None
    arrived: datetime | None
    evidence: EventId | None
    state: DutyState
    conditions: tuple[Condition, ...]
    silent_clocks: tuple[DeviceId, ...] = ()
    short: bool = False  # came, but not seen near the end: less than the half-day (final)

    @property
    def full(self) -> bool:
        """Came and stayed the half-day, as far as known: what the quota counts."""
        return self.arrived is not None and not self.short


@dataclass(frozen=True, slots=True)
class _Rules:
    late: RuleId
    absent: RuleId
    short: RuleId


_ROTA = _Rules(RuleId.DUTY_LATE, RuleId.DUTY_ABSENT, RuleId.DUTY_SHORT)
_HOLIDAY = _Rules(RuleId.HOLIDAY_DUTY_LATE, RuleId.HOLIDAY_DUTY_ABSENT, RuleId.HOLIDAY_DUTY_SHORT)


def slot_span(slot: DutySlot, cal: WorkCalendar) -> Span | None:
    """From the first to the last session of that half of the day; None if there is none."""
    spans = cal.service_hours(slot.day)
    keys = session_keys(spans, cal.zone)
    mine = [s for s, k in zip(spans, keys, strict=True) if k.startswith(slot.half)]
    return (mine[0][0], mine[-1][1]) if mine else None


def sightings(
    leader: StaffId, punches: Iterable[PunchIn], seen: Iterable[Sighting]
) -> list[Sighting]:
    """The leader's punches (make-ups excluded) and desk presences, in time order."""
    out = [
        (item[0], item[1].staff, item[1].ts)
        for item in punches
        if item[1].staff == leader and item[1].makeup is None
    ]
    out += [s for s in seen if s[1] == leader]
    return sorted(out, key=lambda s: (s[2], s[0]))


def checkpoints(slot: DutySlot, cal: WorkCalendar, cfg: AttendanceConfig) -> tuple[datetime, ...]:
    """When to assess the slot again without new input: late, end, end + grace."""
    span = slot_span(slot, cal)
    if span is None:
        return ()
    return _checkpoints(span, cfg)


def _checkpoints(span: Span, cfg: AttendanceConfig) -> tuple[datetime, ...]:
    start, end = span
    late = start + timedelta(minutes=cfg.duty_late_min)
    grace = timedelta(minutes=cfg.finalize_grace_min)
    stays = end + timedelta(minutes=cfg.duty_end_after_min)
    return tuple(sorted({min(late, end), end, end + grace, stays, stays + grace}))


def assess_duty(
    slot: DutySlot,
    punches: Iterable[PunchIn],
    cal: WorkCalendar,
    cfg: AttendanceConfig,
    now: datetime,
    *,
    seen: Iterable[Sighting] = (),
    clocks_heard_until: Mapping[DeviceId, datetime | None] | None = None,
) -> DutyOutcome:
    """The slot as known at `now`; conditions only for what has begun by then."""
    span = slot_span(slot, cal)
    if span is None:
        return _outcome(slot, None, DutyState.NO_SESSION)
    seen_all = sightings(slot.leader, punches, seen)
    q = qualifier(slot.day, slot.half)
    est = bool(cal.unknown_years(slot.day, slot.day))
    j = _judge(span, seen_all, cfg, now, clocks_heard_until, _ROTA, q, est)
    return _outcome(
        slot,
        span,
        j.state,
        j.conditions,
        arrived=j.arrived,
        evidence=j.evidence,
        silent=j.silent,
        short=j.short,
    )


@dataclass(frozen=True, slots=True)
class _Judged:
    state: DutyState
    conditions: tuple[Condition, ...] = ()
    arrived: datetime | None = None
    evidence: EventId | None = None
    silent: tuple[DeviceId, ...] = ()
    short: bool = False


def _behind(heard: Mapping[DeviceId, datetime | None] | None, t: datetime) -> tuple[DeviceId, ...]:
    return tuple(sorted(d for d, h in (heard or {}).items() if h is None or h < t))


def _judge(
    span: Span,
    seen: Sequence[Sighting],
    cfg: AttendanceConfig,
    now: datetime,
    heard: Mapping[DeviceId, datetime | None] | None,
    rules: _Rules,
    q: str,
    est: bool,
) -> _Judged:
    """One duty span: lateness, absence and a short stay, as known at `now`."""
    start, end = span
    opens = start - timedelta(minutes=cfg.duty_arrive_before_min)
    came = [s for s in seen if opens <= s[2] < end and s[2] <= now]
    late_at = min(start + timedelta(minutes=cfg.duty_late_min), end)
    grace = timedelta(minutes=cfg.finalize_grace_min)
    if came:
        eid, _, at = came[0]
        out: list[Condition] = []
        state = DutyState.PRESENT
        if at > late_at:
            state = DutyState.LATE
            out.append(Condition(rules.late, q, late_at, at, est, (eid,)))
        short, silent = _short(span, seen, cfg, now, heard)
        if short:
            out.append(Condition(rules.short, q, end, end, est, (eid,), silent=silent))
        return _Judged(state, tuple(out), at, eid, silent, short)
    if now < late_at:
        return _Judged(DutyState.NOT_STARTED if now < start else DutyState.WAITING)
    if now < end:
        return _Judged(DutyState.OVERDUE, (Condition(rules.late, q, late_at, None, est, ()),))
    silent = _behind(heard, end)
    if silent and now < end + grace:
        yellow = Condition(rules.late, q, late_at, None, est, ())
        return _Judged(DutyState.PENDING, (yellow,), silent=silent)
    yellow = Condition(rules.late, q, late_at, end, est, (), superseded=True)
    red = Condition(rules.absent, q, end, end, est, (), silent=silent)  # judged without
    return _Judged(DutyState.ABSENT, (yellow, red), silent=silent)


def _short(
    span: Span,
    seen: Sequence[Sighting],
    cfg: AttendanceConfig,
    now: datetime,
    heard: Mapping[DeviceId, datetime | None] | None,
) -> tuple[bool, tuple[DeviceId, ...]]:
    """Whether the stay is known to fall short of the span's end (002_… 领导值班制度 二), and
    the clocks it was judged without. Not short while a sighting near the end may still come."""
    _, end = span
    near = end - timedelta(minutes=cfg.duty_end_before_min)
    stays = end + timedelta(minutes=cfg.duty_end_after_min)
    if any(near <= s[2] < stays and s[2] <= now for s in seen) or now < stays:
        return False, ()
    silent = _behind(heard, stays)
    if silent and now < stays + timedelta(minutes=cfg.finalize_grace_min):
        return False, ()
    return True, silent


def _outcome(
    slot: DutySlot,
    span: Span | None,
    state: DutyState,
    conditions: tuple[Condition, ...] = (),
    *,
    arrived: datetime | None = None,
    evidence: EventId | None = None,
    silent: tuple[DeviceId, ...] = (),
    short: bool = False,
) -> DutyOutcome:
    return DutyOutcome(
        slot=slot,
        start=span[0] if span else None,
        end=span[1] if span else None,
        arrived=arrived,
        evidence=evidence,
        state=state,
        conditions=conditions,
        silent_clocks=silent,
        short=short,
    )


# --- the half-month quota ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class HalfMonth:
    year: int
    month: int
    part: Literal[1, 2]  # 1: 1st-15th, 2: 16th-end

    @classmethod
    def of(cls, day: date) -> HalfMonth:
        return cls(day.year, day.month, 1 if day.day <= 15 else 2)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1 if self.part == 1 else 16)

    @property
    def last(self) -> date:
        if self.part == 1:
            return date(self.year, self.month, 15)
        nxt = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return nxt - _ONE_DAY

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-H{self.part}"

    @property
    def label_zh(self) -> str:
        return f"{self.year}年{self.month}月{'上' if self.part == 1 else '下'}半月"

    def days(self) -> list[date]:
        n = (self.last - self.first).days + 1
        return [self.first + timedelta(days=i) for i in range(n)]

    def closes(self, cal: WorkCalendar) -> datetime:
        """Close of business of its last working day; midnight after it if it has none."""
        working = [d for d in self.days() if cal.is_working_day(d)]
        if working:
            return cal.close_of_business(working[-1])
        after = datetime.combine(self.last + _ONE_DAY, time(0), tzinfo=cal.zone)
        return after.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaMiss:
    leader: StaffId
    period: HalfMonth
    scheduled: int  # rota half-days in the period
    done: int  # of which the leader was present
    quota: int
    condition: Condition


def quota_missed(
    leaders: Iterable[StaffId],
    rota: Sequence[DutySlot],
    punches: Sequence[PunchIn],
    half_month: HalfMonth,
    cal: WorkCalendar,
    cfg: AttendanceConfig,
    *,
    seen: Sequence[Sighting] = (),
) -> list[QuotaMiss]:
    """Every leader below `duty_quota` half-days present in the half month; the condition
    starts at the half month's close (`HalfMonth.closes`): call it then or later."""
    at = half_month.closes(cal)
    est = bool(cal.unknown_years(half_month.first, half_month.last))
    out: list[QuotaMiss] = []
    for leader in sorted(set(leaders)):
        mine = [
            s for s in rota if s.leader == leader and half_month.first <= s.day <= half_month.last
        ]
        done = [assess_duty(s, punches, cal, cfg, at, seen=seen) for s in mine]
        present = [d for d in done if d.full]
        if len(present) >= cfg.duty_quota:
            continue
        ids = tuple(d.evidence for d in present if d.evidence is not None)
        cond = Condition(RuleId.DUTY_QUOTA_MISSED, half_month.label, at, at, est, ids)
        out.append(
            QuotaMiss(
                leader=leader,
                period=half_month,
                scheduled=len(mine),
                done=len(present),
                quota=cfg.duty_quota,
                condition=cond,
            )
        )
    return out


def check_rota(
    rota: Sequence[DutySlot],
    leaders: Iterable[StaffId],
    first: date,
    last: date,
    cal: WorkCalendar,
    cfg: AttendanceConfig,
) -> list[str]:
    """Problems of a quarter's rota: unknown leaders, slots without a session, leaders
    scheduled below quota in a half month of [first, last]."""
    known = set(leaders)
    out: list[str] = []
    for s in rota:
        if s.leader not in known:
            out.append(f"duty {s.day} {s.half}: {s.leader!r} is not a leader")
        if slot_span(s, cal) is None:
            out.append(f"duty {s.day} {s.half}: no {s.half} session that day (off day?)")
    half = HalfMonth.of(first)
    while half.first <= last:
        for leader in sorted(known):
            n = sum(1 for s in rota if s.leader == leader and half.first <= s.day <= half.last)
            if n < cfg.duty_quota:
                out.append(
                    f"{half.label}: {leader!r} has {n} duty half-day(s), quota {cfg.duty_quota}"
                )
        half = HalfMonth.of(half.last + _ONE_DAY)
    return out


# --- holiday duty (节假日值班) ----------------------------------------------------------------


class HolidayDutyConfig(ConfigModel):
    """One `[[holiday_duty]]` row: who is on duty on an off day, and when (001_… 第一篇(十)5)."""

    date: date_type = Field(description="The off day (TOML date).")
    staff: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Staff id of the one on duty."
    )
    start: time = Field(time(9), description="Duty starts (local time; ours: 09:00).")
    end: time = Field(time(17), description="Duty ends (local time; ours: 17:00).")

    def slot(self) -> HolidaySlot:
        return HolidaySlot(day=self.date, staff=StaffId(self.staff), start=self.start, end=self.end)


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class HolidaySlot:
    day: date
    staff: StaffId
    start: time
    end: time

    def span(self, cal: WorkCalendar) -> Span:
        return (
            datetime.combine(self.day, self.start, cal.zone).astimezone(UTC),
            datetime.combine(self.day, self.end, cal.zone).astimezone(UTC),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HolidayOutcome:
    slot: HolidaySlot
    arrived: datetime | None
    evidence: EventId | None
    state: DutyState
    conditions: tuple[Condition, ...]
    silent_clocks: tuple[DeviceId, ...] = ()
    short: bool = False


def holiday_rota_of(rows: Iterable[HolidayDutyConfig]) -> tuple[HolidaySlot, ...]:
    return tuple(sorted({r.slot() for r in rows}))


def holiday_checkpoints(
    slot: HolidaySlot, cal: WorkCalendar, cfg: AttendanceConfig
) -> tuple[datetime, ...]:
    return _checkpoints(slot.span(cal), cfg)


def assess_holiday(
    slot: HolidaySlot,
    punches: Iterable[PunchIn],
    cal: WorkCalendar,
    cfg: AttendanceConfig,
    now: datetime,
    *,
    clocks_heard_until: Mapping[DeviceId, datetime | None] | None = None,
) -> HolidayOutcome:
    """The holiday duty as known at `now`, checked like the leader's rota (`assess_duty`)."""
    seen = sightings(slot.staff, punches, ())
    q = qualifier(slot.day, "holiday")
    est = bool(cal.unknown_years(slot.day, slot.day))
    j = _judge(slot.span(cal), seen, cfg, now, clocks_heard_until, _HOLIDAY, q, est)
    return HolidayOutcome(
        slot=slot,
        arrived=j.arrived,
        evidence=j.evidence,
        state=j.state,
        conditions=j.conditions,
        silent_clocks=j.silent,
        short=j.short,
    )


def holiday_problems(
    rows: Sequence[HolidayDutyConfig], staff: Iterable[str], cal: WorkCalendar
) -> list[str]:
    """`[[holiday_duty]]` against the hall: known staff, an off day, end after start."""
    known = set(staff)
    out = []
    for i, r in enumerate(rows):
        if r.staff not in known:
            out.append(f"holiday_duty[{i}].staff: unknown staff {r.staff!r}")
        if r.end <= r.start:
            out.append(f"holiday_duty[{i}].end: {r.end} is not after start {r.start}")
        if cal.is_working_day(r.date):
            out.append(
                f"holiday_duty[{i}].date: {r.date} is a working day (the rota is for off days)"
            )
    return out

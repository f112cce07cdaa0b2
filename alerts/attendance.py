"""Attendance (考勤): one officer's working day, from punches and statuses to a sheet. Pure.

Rules (001_… 第一篇(十): 上午、下午上下班签到签退; numbers from practice elsewhere and ours,
docs/regulations.md and docs/attendance.md):
- Each service session of the day (alerts/workdays.py, seasonal timetables included) expects
  two punches: in at its start, out at its end, each inside an accepted window around that
  anchor. Windows never overlap: neighbours are split at the midpoint between their anchors.
  The earliest punch of an in-window counts, the latest of an out-window.
- Late or early by more than `grace_min` whole minutes is late / early; by more than
  `half_day_min` (15) it counts as half a day's absence. No punch and no cover is a missing
  punch, which counts as absence unless `missing_is_absence` is off.
- Covered: a staff status of a `cover_states` state (leave, trip, meeting) whose span holds the
  anchor; a leave only if approved as its length requires (alerts/absence.py). An on-time
  punch still shows as on time.
- A `temporary` sign-in counts when its clock was offline around it (the contract: a manual
  sign-in when the device or power is down). A make-up (补签) is a `temporary` punch whose
  `state` is ``makeup:<approver>`` (`Punch.makeup`, decoded by alerts/contract.py); it fills
  a missing punch only, approved by someone else, recorded (journal receive time) within
  `makeup_working_days` working days after the day.
- A clock that is offline or still uploading its backlog is not evidence of absence: a punch is
  missing only once every clock of the hall has been heard from past its window's close, or
  `finalize_grace_min` after the session's last window closed (the sheet then names the silent
  clocks). Until then it is pending. Conditions come only from final results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol

from pydantic import Field, model_validator

from alerts.absence import LeaveRules, LeaveVerdict, leave_verdict
from alerts.cases import Condition
from alerts.events import DeviceStatus, LeaveCategory, Punch, StaffState, StaffStatus, Verify
from alerts.ids import DeviceId, EventId, StaffId, qualifier
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import Span, WorkCalendar


class Officer(Protocol):
    """What a sheet needs of a staff member (alerts.config.Staff is one)."""

    @property
    def staff_id(self) -> StaffId: ...
    @property
    def name(self) -> str: ...
    @property
    def department(self) -> str: ...


_MINUTE = timedelta(minutes=1)

# A punch as the journal holds it: its id, the punch, and (needed for make-ups) its receive time.
PunchIn = tuple[EventId, Punch] | tuple[EventId, Punch, datetime]


class PunchWindow(ConfigModel):
    before_min: int = Field(
        60, ge=0, le=240, description="The window opens this long before the anchor."
    )
    after_min: int = Field(60, ge=1, le=240, description="The window closes this long after it.")


class SessionPunches(ConfigModel):
    check_in: PunchWindow | None = Field(None, description="This session's in-window.")
    check_out: PunchWindow | None = Field(None, description="This session's out-window.")


class AttendanceConfig(ConfigModel):
    check_in: PunchWindow = Field(
        PunchWindow(),
        description="Accepted window around a session's start (e.g. 07:30-09:30 for 08:30). "
        "Two halls' rules use 08:20-09:00 and 12:20-13:00 (docs/regulations.md): set them "
        "per session.",
    )
    check_out: PunchWindow = Field(
        PunchWindow(), description="Accepted window around a session's end (e.g. 11:00-13:00)."
    )
    sessions: list[SessionPunches] = Field(
        default_factory=list,
        description="Per-session windows in timetable order (first = morning); missing "
        "entries and keys use check_in / check_out.",
    )
    grace_min: int = Field(
        0, ge=0, le=60, description="Whole minutes late or early that still count as on time."
    )
    half_day_min: int = Field(
        15,
        ge=0,
        le=240,
        description="Late or early beyond this counts as half a day's absence "
        "(practice elsewhere, 苍南: beyond 15 min; up to 10 min is a minor lateness, -1 point).",
    )
    missing_is_absence: bool = Field(
        True, description="A missing punch without cover counts as absence (practice elsewhere)."
    )
    cover_states: list[StaffState] = Field(
        default_factory=lambda: [StaffState.LEAVE, StaffState.TRIP, StaffState.MEETING],
        description="Statuses that excuse a punch (001_… 第一篇(十)4: 开会、外出、出差、请假); "
        "leave of category official is official duty (公假). Add `off` for rest days.",
    )
    makeup_working_days: int = Field(
        1,
        ge=0,
        le=10,
        description="A make-up (补签) is accepted until close of business of "
        "this many working days after the day (practice elsewhere: within 1 day).",
    )
    finalize_grace_min: int = Field(
        120,
        ge=0,
        description="After the session's last window closes, wait this long for silent clocks; "
        "then missing punches are final and the sheet names the silent clocks.",
    )
    clock_margin_min: int = Field(
        10,
        ge=0,
        description="A clock online for this long has uploaded its backlog; its punches up to "
        "this long before now (or before its offline status) are all in. Above the bridge's "
        "offline_after_s (300 s).",
    )
    temporary_tolerance_min: int = Field(
        30, ge=0, description="A temporary sign-in counts if its clock was offline this close."
    )
    duty_late_min: int = Field(
        30,
        ge=1,
        description="Leader on duty: yellow this long after the half-day starts (ours).",
    )
    duty_quota: int = Field(
        1, ge=0, description="Duty half-days per leader per half month (002_… 领导值班制度 二)."
    )
    duty_arrive_before_min: int = Field(
        60, ge=0, description="Leader on duty: a punch this early before the half-day counts."
    )
    duty_end_before_min: int = Field(
        30,
        ge=0,
        le=240,
        description="Leader on duty: seen this close to the half-day's end or later, or the "
        "duty is short of half a day (002_… 领导值班制度 二: 每次值班时间不少于半天; the "
        "number is ours).",
    )
    duty_end_after_min: int = Field(
        60, ge=0, le=240, description="Leader on duty: a sighting this long after the end counts."
    )
    leave_deputies: list[str] = Field(
        default_factory=list,
        description="Staff ids of the deputies (分管领导) who approve leave up to a day "
        "(001_… 第一篇(十)6); empty: every staff member with role leader.",
    )
    leave_heads: list[str] = Field(
        default_factory=list,
        description="Staff ids of the heads (主要领导) who approve leave of more than a day "
        "after the deputy (001_… 第一篇(十)6); empty: every staff member with role leader.",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> AttendanceConfig:
        if self.half_day_min < self.grace_min:
            raise ValueError("half_day_min must not be below grace_min")
        return self

    def windows_for(self, index: int) -> tuple[PunchWindow, PunchWindow]:
        own = self.sessions[index] if index < len(self.sessions) else SessionPunches()
        return own.check_in or self.check_in, own.check_out or self.check_out


class Expect(StrEnum):
    IN = "in"
    OUT = "out"


class Mark(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    EARLY = "early"
    MISSING = "missing"
    PENDING = "pending"
    COVERED = "covered"
    MADE_UP = "made_up"


class Why(StrEnum):
    """Why an expected punch has its mark."""

    PUNCHED = "punched"
    COVERED = "covered"
    MADE_UP = "made_up"
    WINDOW_OPEN = "window_open"  # pending: its window has not closed yet
    SETTLING = "settling"  # pending: the clocks report within clock_margin_min
    CLOCK_SILENT = "clock_silent"  # pending: a clock quiet for long, named
    NO_PUNCH = "no_punch"  # missing: every clock heard from
    NO_PUNCH_AFTER_GRACE = "no_punch_after_grace"  # missing: grace over, clocks still silent


class Source(StrEnum):
    CLOCK = "clock"
    TEMPORARY = "temporary"
    MAKEUP = "makeup"


class Fate(StrEnum):
    """What became of a punch of the day."""

    COUNTED = "counted"
    SUPERSEDED = "superseded"  # another punch of the same window counted
    OUTSIDE = "outside"  # in no accepted window
    DEVICE_UP = "device_up"  # temporary sign-in while its clock was online
    MAKEUP_NOT_NEEDED = "makeup_not_needed"  # the window has a real punch
    MAKEUP_NO_APPROVER = "makeup_no_approver"
    MAKEUP_SELF_APPROVED = "makeup_self_approved"
    MAKEUP_UNRECORDED = "makeup_unrecorded"  # no receive time given
    MAKEUP_LATE = "makeup_late"  # recorded after the make-up deadline
    MAKEUP_AHEAD = "makeup_ahead"  # recorded before the time it claims


class Verdict(StrEnum):
    PRESENT = "present"
    LATE = "late"
    EARLY = "early"
    LATE_AND_EARLY = "late_and_early"
    MISSING_PUNCH = "missing_punch"  # only when missing_is_absence is off
    HALF_DAY_ABSENT = "half_day_absent"  # came, but counts as half a day's absence
    ABSENT = "absent"  # neither punch, no cover
    COVERED = "covered"
    PENDING = "pending"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cover:
    state: StaffState
    category: LeaveCategory | None
    event_id: EventId
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PunchSeen:
    event_id: EventId
    punch: Punch
    source: Source
    fate: Fate
    approved_by: StaffId | None = None
    recorded: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    kind: Expect
    anchor: datetime
    opens: datetime
    closes: datetime
    mark: Mark
    why: Why
    final: bool
    minutes: int = 0  # late or early by, whole minutes
    punch: PunchSeen | None = None
    cover: Cover | None = None
    silent_clocks: tuple[DeviceId, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSheet:
    key: str  # am, pm (am2, ... for more sessions)
    start: datetime
    end: datetime
    check_in: Expected
    check_out: Expected
    verdict: Verdict

    @property
    def final(self) -> bool:
        return self.check_in.final and self.check_out.final


# A question a sheet asked of time: (instant, settling or None, answer) (`_Heard`).
Read = tuple[datetime, datetime | None, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class DaySheet:
    staff: StaffId
    name: str
    department: str
    day: date
    zone: tzinfo
    sessions: tuple[SessionSheet, ...]
    punches: tuple[PunchSeen, ...]
    conditions: tuple[Condition, ...]
    silent_clocks: tuple[DeviceId, ...]
    estimated: bool
    # What the sheet read of time and of the clocks: each question its `_Heard` was asked,
    # with the answer. Its other inputs the same and these answers again, the same sheet
    # (`reads_hold`): a checkpoint need not build it again. Not part of what it says.
    reads: tuple[Read, ...] = field(default=(), compare=False, repr=False)

    @property
    def final(self) -> bool:
        return all(s.final for s in self.sessions)


# --- the clocks: heard from until when ---------------------------------------------------


def heard_until(
    device: DeviceId,
    punches: Iterable[PunchIn],
    availability: Iterable[DeviceStatus],
    now: datetime,
    cfg: AttendanceConfig,
) -> datetime | None:
    """The instant up to which every punch of `device` is known to be in, or None.

    A clock uploads in time order, so its latest real punch vouches for all before it. An
    online spell [on, off) (off = its offline status, or now) vouches up to off - margin once it
    lasted the margin: the backlog is uploaded by then and the bridge reports silence within it.
    """
    margin = timedelta(minutes=cfg.clock_margin_min)
    best = [p[1].ts for p in punches if p[1].device == device and _real(p[1])]
    for on, off in _spells(device, availability, now, online=True):
        end = off or now
        if end - on >= margin:
            best.append(end - margin)
    return max(best, default=None)


def _real(p: Punch) -> bool:
    return p.verify is not Verify.TEMPORARY


def _spells(
    device: DeviceId, availability: Iterable[DeviceStatus], now: datetime, *, online: bool
) -> list[tuple[datetime, datetime | None]]:
    """The device's spells in one state, from its status history up to `now`."""
    history = sorted((s for s in availability if s.device == device and s.ts <= now), key=_ts)
    out: list[tuple[datetime, datetime | None]] = []
    for s in history:
        if s.online == online and (not out or out[-1][1] is not None):
            out.append((s.ts, None))
        elif s.online != online and out and out[-1][1] is None:
            out[-1] = (out[-1][0], s.ts)
    return out


def _ts(s: DeviceStatus) -> datetime:
    return s.ts


# --- the day's expected punches ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    index: int
    key: str
    kind: Expect
    anchor: datetime
    opens: datetime
    closes: datetime
    settles: datetime  # grace over: the session's last window closed + finalize_grace


def session_keys(spans: Sequence[Span], zone: tzinfo) -> list[str]:
    """am / pm by the local start hour; a repeated one gets its rank (am2)."""
    keys: list[str] = []
    for start, _ in spans:
        base = "am" if start.astimezone(zone).hour < 12 else "pm"
        n = sum(1 for k in keys if k.rstrip("0123456789") == base)
        keys.append(base if n == 0 else f"{base}{n + 1}")
    return keys


def _slots(spans: Sequence[Span], keys: Sequence[str], cfg: AttendanceConfig) -> list[_Slot]:
    raw: list[tuple[int, Expect, datetime, datetime, datetime]] = []
    for i, (start, end) in enumerate(spans):
        w_in, w_out = cfg.windows_for(i)
        raw.append((i, Expect.IN, start, start - _m(w_in.before_min), start + _m(w_in.after_min)))
        raw.append((i, Expect.OUT, end, end - _m(w_out.before_min), end + _m(w_out.after_min)))
    for j in range(len(raw) - 1):  # neighbours meet at the midpoint of their anchors
        a, b = raw[j], raw[j + 1]
        mid = a[2] + (b[2] - a[2]) / 2
        raw[j] = (*a[:4], min(a[4], mid))
        raw[j + 1] = (*b[:3], max(b[3], mid), b[4])
    grace = _m(cfg.finalize_grace_min)
    closes = {i: max(r[4] for r in raw if r[0] == i) for i in range(len(spans))}
    return [_Slot(i, keys[i], k, a, o, c, closes[i] + grace) for i, k, a, o, c in raw]


def _m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


# --- punches: which count ------------------------------------------------------------------


def _classify(
    staff: StaffId,
    punches: Iterable[PunchIn],
    availability: Sequence[DeviceStatus],
    slots: Sequence[_Slot],
    cal: WorkCalendar,
    cfg: AttendanceConfig,
) -> list[PunchSeen]:
    first, last = min(s.opens for s in slots), max(s.closes for s in slots)
    day = slots[0].anchor.astimezone(cal.zone).date()
    out: list[PunchSeen] = []
    for item in punches:
        eid, p = item[0], item[1]
        if p.staff != staff:
            continue
        if not first <= p.ts < last and p.ts.astimezone(cal.zone).date() != day:
            continue
        recorded = item[2] if len(item) == 3 else None
        out.append(_vet(eid, p, recorded, availability, cal, cfg))
    out.sort(key=lambda s: (s.punch.ts, s.event_id))
    return out


def _vet(
    eid: EventId,
    p: Punch,
    recorded: datetime | None,
    availability: Sequence[DeviceStatus],
    cal: WorkCalendar,
    cfg: AttendanceConfig,
) -> PunchSeen:
    if _real(p):
        return PunchSeen(event_id=eid, punch=p, source=Source.CLOCK, fate=Fate.COUNTED)
    if p.makeup is None:
        down = _was_down(p, availability, cfg)
        fate = Fate.COUNTED if down else Fate.DEVICE_UP
        return PunchSeen(event_id=eid, punch=p, source=Source.TEMPORARY, fate=fate)
    approver = p.makeup.approved_by
    fate = _makeup_fate(p, approver, recorded, cal, cfg)
    return PunchSeen(
        event_id=eid,
        punch=p,
        source=Source.MAKEUP,
        fate=fate,
        approved_by=approver,
        recorded=recorded,
    )


def _was_down(p: Punch, availability: Sequence[DeviceStatus], cfg: AttendanceConfig) -> bool:
    tol = _m(cfg.temporary_tolerance_min)
    a, b = p.ts - tol, p.ts + tol
    spells = _spells(p.device, availability, b, online=False)
    return any(start <= b and (end is None or end >= a) for start, end in spells)


def _makeup_fate(
    p: Punch,
    approver: StaffId | None,
    recorded: datetime | None,
    cal: WorkCalendar,
    cfg: AttendanceConfig,
) -> Fate:
    if approver is None:
        return Fate.MAKEUP_NO_APPROVER
    if approver == p.staff:
        return Fate.MAKEUP_SELF_APPROVED
    if recorded is None:
        return Fate.MAKEUP_UNRECORDED
    if recorded < p.ts:
        return Fate.MAKEUP_AHEAD
    if recorded > makeup_deadline(p.ts, cal, cfg):
        return Fate.MAKEUP_LATE
    return Fate.COUNTED


def makeup_deadline(at: datetime, cal: WorkCalendar, cfg: AttendanceConfig) -> datetime:
    """Close of business `makeup_working_days` working days after the punch's day."""
    return cal.add_working_days(at, cfg.makeup_working_days).at


# --- covers from statuses ------------------------------------------------------------------


def covers(
    staff: StaffId,
    statuses: Iterable[tuple[EventId, StaffStatus]],
    cfg: AttendanceConfig,
    leave: LeaveRules | None = None,
) -> list[Cover]:
    """Spans of the officer's covering statuses: from `from` to `until` or the next status.
    A leave not approved as its length requires covers nothing (001_… 第一篇(十)6)."""
    mine = sorted(
        ((eid, s) for eid, s in statuses if s.staff == staff),
        key=lambda p: (p[1].start or p[1].ts, p[0]),
    )
    out: list[Cover] = []
    for i, (eid, st) in enumerate(mine):
        if st.state not in cfg.cover_states or not _approved(st, leave):
            continue
        start = st.start or st.ts
        nxt = mine[i + 1][1] if i + 1 < len(mine) else None
        ends = [t for t in (st.until, (nxt.start or nxt.ts) if nxt else None) if t is not None]
        end = min(ends) if ends else None
        out.append(Cover(state=st.state, category=st.category, event_id=eid, start=start, end=end))
    return out


def _approved(st: StaffStatus, leave: LeaveRules | None) -> bool:
    return leave_verdict(st, leave) is LeaveVerdict.APPROVED


def _covering(slot: _Slot, spans: Sequence[Cover]) -> Cover | None:
    for c in spans:
        if slot.kind is Expect.IN:
            ok = c.start <= slot.anchor and (c.end is None or slot.anchor < c.end)
        else:
            ok = c.start < slot.anchor and (c.end is None or slot.anchor <= c.end)
        if ok:
            return c
    return None


# --- one expected punch --------------------------------------------------------------------


@dataclass(slots=True)
class _Heard:
    """How far each clock is heard, as of `now`: every question a sheet asks of time. Each
    answer is written down (`reads`), so the sheet can be kept while they all stand."""

    until: Mapping[DeviceId, datetime | None]
    now: datetime
    quiet_before: datetime  # heard from only before this: silent, named on the sheet
    reads: list[Read] = field(default_factory=list)

    def open_at(self, t: datetime) -> bool:
        """Whether `t` is still to come."""
        answer = self.now < t
        self.reads.append((t, None, answer))
        return answer

    def final_after(self, t: datetime, settles: datetime) -> tuple[bool, tuple[DeviceId, ...]]:
        answer = self._final_after(t, settles)
        self.reads.append((t, settles, answer))
        return answer

    def _final_after(self, t: datetime, settles: datetime) -> tuple[bool, tuple[DeviceId, ...]]:
        """Whether nothing before `t` can still arrive, and the clocks to name.

        Final once every clock has been heard from past `t`, or at `settles` whatever they
        say (then all those not heard are named). Before that, a clock merely catching up
        (heard recently) is not named; one quiet for long is.
        """
        if self.now < t:
            return False, ()
        behind = sorted(d for d, h in self.until.items() if h is None or h < t)
        if not behind or self.now >= settles:
            return True, tuple(behind)
        quiet = (d for d in behind if (h := self.until[d]) is None or h < self.quiet_before)
        return False, tuple(quiet)

    def answers_again(self, reads: Sequence[Read]) -> bool:
        """Whether every question of `reads` has the same answer now."""
        for t, settles, answer in reads:
            again = self.now < t if settles is None else self._final_after(t, settles)
            if again != answer:
                return False
        return True


def reads_hold(
    sheet: DaySheet,
    clocks_heard_until: Mapping[DeviceId, datetime | None],
    now: datetime,
    cfg: AttendanceConfig,
) -> bool:
    """Whether `sheet` would read the same of these clocks as of `now` (`DaySheet.reads`)."""
    heard = _Heard(clocks_heard_until, now, now - 2 * _m(cfg.clock_margin_min))
    return heard.answers_again(sheet.reads)


def _evaluate(
    slot: _Slot, seen: Sequence[PunchSeen], cover: Cover | None, heard: _Heard, grace: int
) -> tuple[Expected, list[PunchSeen]]:
    """The expected punch's result, and the punches of its window with their final fate."""
    inside = [s for s in seen if slot.opens <= s.punch.ts < slot.closes]
    real = [s for s in inside if s.fate is Fate.COUNTED and s.source is not Source.MAKEUP]
    made = [s for s in inside if s.fate is Fate.COUNTED and s.source is Source.MAKEUP]
    choose = min if slot.kind is Expect.IN else max
    pick = choose(real or made, key=_order, default=None)
    fates = [_refate(s, pick, bool(real)) for s in inside]
    if pick is not None:
        return _punched(slot, pick, cover, heard, grace), fates
    if cover is not None:
        return _result(slot, Mark.COVERED, Why.COVERED, True, cover=cover), fates
    if heard.open_at(slot.closes):
        return _result(slot, Mark.PENDING, Why.WINDOW_OPEN, False), fates
    final, silent = heard.final_after(slot.closes, slot.settles)
    if not final:
        why = Why.CLOCK_SILENT if silent else Why.SETTLING
        return _result(slot, Mark.PENDING, why, False, silent=silent), fates
    why = Why.NO_PUNCH_AFTER_GRACE if silent else Why.NO_PUNCH
    return _result(slot, Mark.MISSING, why, True, silent=silent), fates


def _punched(
    slot: _Slot, pick: PunchSeen, cover: Cover | None, heard: _Heard, grace: int
) -> Expected:
    why = Why.MADE_UP if pick.source is Source.MAKEUP else Why.PUNCHED
    minutes = _off_by(slot, pick.punch.ts)
    if minutes <= grace:
        mark = Mark.MADE_UP if pick.source is Source.MAKEUP else Mark.ON_TIME
        return _result(slot, mark, why, True, punch=pick, cover=cover)
    if cover is not None:
        return _result(slot, Mark.COVERED, Why.COVERED, True, punch=pick, cover=cover)
    if slot.kind is Expect.IN:  # an earlier punch may still come from a silent clock
        final, silent = heard.final_after(pick.punch.ts, slot.settles)
        return _result(slot, Mark.LATE, why, final, minutes, pick, silent=silent)
    final, silent = heard.final_after(slot.closes, slot.settles)  # or a later one, anywhere
    return _result(slot, Mark.EARLY, why, final, minutes, pick, silent=silent)


def _result(
    slot: _Slot,
    mark: Mark,
    why: Why,
    final: bool,
    minutes: int = 0,
    punch: PunchSeen | None = None,
    cover: Cover | None = None,
    silent: tuple[DeviceId, ...] = (),
) -> Expected:
    return Expected(
        kind=slot.kind,
        anchor=slot.anchor,
        opens=slot.opens,
        closes=slot.closes,
        mark=mark,
        why=why,
        final=final,
        minutes=minutes,
        punch=punch,
        cover=cover,
        silent_clocks=silent,
    )


def _order(s: PunchSeen) -> tuple[datetime, str]:
    return s.punch.ts, s.event_id


def _off_by(slot: _Slot, ts: datetime) -> int:
    """Whole minutes late (in) or early (out); 08:30:59 is not late for 08:30."""
    delta = ts - slot.anchor if slot.kind is Expect.IN else slot.anchor - ts
    return delta // _MINUTE


def _refate(s: PunchSeen, pick: PunchSeen | None, has_real: bool) -> PunchSeen:
    if s is pick or s.fate is not Fate.COUNTED:
        return s
    fate = Fate.MAKEUP_NOT_NEEDED if s.source is Source.MAKEUP and has_real else Fate.SUPERSEDED
    return _with_fate(s, fate)


def _with_fate(s: PunchSeen, fate: Fate) -> PunchSeen:
    return PunchSeen(
        event_id=s.event_id,
        punch=s.punch,
        source=s.source,
        fate=fate,
        approved_by=s.approved_by,
        recorded=s.recorded,
    )


# --- a session's verdict and the conditions ------------------------------------------------


def _verdict(a: Expected, b: Expected, cfg: AttendanceConfig) -> Verdict:
    marks = (a.mark, b.mark)
    beyond = any(e.mark in (Mark.LATE, Mark.EARLY) and e.minutes > cfg.half_day_min for e in (a, b))
    missing = marks.count(Mark.MISSING)
    if missing == 2:
        return Verdict.ABSENT if cfg.missing_is_absence else Verdict.MISSING_PUNCH
    if beyond or (missing and cfg.missing_is_absence):
        return Verdict.HALF_DAY_ABSENT
    if missing:
        return Verdict.MISSING_PUNCH
    if Mark.PENDING in marks:
        return Verdict.PENDING
    if Mark.LATE in marks:
        return Verdict.LATE_AND_EARLY if Mark.EARLY in marks else Verdict.LATE
    if Mark.EARLY in marks:
        return Verdict.EARLY
    if marks == (Mark.COVERED, Mark.COVERED):
        return Verdict.COVERED
    return Verdict.PRESENT


def _conditions(
    day: date, s: SessionSheet, close: datetime, cfg: AttendanceConfig, estimated: bool
) -> list[Condition]:
    out: list[Condition] = []
    absence: list[tuple[datetime, EventId]] = []
    silent: set[str] = set()  # judged without these clocks (their grace ran out)
    for e in (s.check_in, s.check_out):
        if not e.final:
            continue
        where = qualifier(day, s.key, e.kind)
        if e.mark is Mark.MISSING:
            rule = RuleId.ATTENDANCE_MISSING_PUNCH
            out.append(
                Condition(rule, where, e.closes, e.closes, estimated, (), silent=e.silent_clocks)
            )
        elif e.mark in (Mark.LATE, Mark.EARLY) and e.punch is not None:
            at = e.punch.punch.ts
            if e.minutes > cfg.half_day_min:
                absence.append((at, e.punch.event_id))
                silent.update(e.silent_clocks)
                continue
            rule = RuleId.ATTENDANCE_LATE if e.mark is Mark.LATE else RuleId.ATTENDANCE_EARLY
            # A minor breach shows live on the leader's view until close of business.
            one = (e.punch.event_id,)
            out.append(
                Condition(rule, where, at, max(at, close), estimated, one, silent=e.silent_clocks)
            )
    if absence:
        start = min(t for t, _ in absence)
        ids = tuple(eid for _, eid in absence)
        where = qualifier(day, s.key)
        out.append(
            Condition(
                RuleId.ATTENDANCE_ABSENT_HALF_DAY,
                where,
                start,
                start,
                estimated,
                ids,
                silent=tuple(sorted(silent)),
            )
        )
    return out


# --- the sheet -----------------------------------------------------------------------------


def build_sheet(
    staff: Officer,
    day: date,
    punches: Sequence[PunchIn],
    statuses: Iterable[tuple[EventId, StaffStatus]],
    clock_availability: Sequence[DeviceStatus],
    clocks_heard_until: Mapping[DeviceId, datetime | None],
    cal: WorkCalendar,
    cfg: AttendanceConfig,
    now: datetime,
    *,
    department_name: str | None = None,
    leave: LeaveRules | None = None,
) -> DaySheet | None:
    """The officer's sheet for a local `day` as known at `now`; None on an off day.

    `clocks_heard_until` names every clock of the hall (see `heard_until`); `punches` may hold
    anyone's punches, with the journal receive time as third item for make-ups.
    `department_name` is shown on the sheet instead of the department id. `leave`: who may
    approve leave (alerts/absence.py); None: every leave counts as approved.
    """
    if not cal.is_working_day(day):
        return None
    spans = cal.service_hours(day)
    keys = session_keys(spans, cal.zone)
    slots = _slots(spans, keys, cfg)
    sid = staff.staff_id
    seen = _classify(sid, punches, clock_availability, slots, cal, cfg)
    spans_cover = covers(sid, statuses, cfg, leave)
    heard = _Heard(clocks_heard_until, now, now - 2 * _m(cfg.clock_margin_min))
    results: list[Expected] = []
    fates: dict[EventId, PunchSeen] = {}
    for slot in slots:
        exp, fated = _evaluate(slot, seen, _covering(slot, spans_cover), heard, cfg.grace_min)
        results.append(exp)
        fates.update((f.event_id, f) for f in fated)
    estimated = bool(cal.unknown_years(day, day))
    close = cal.close_of_business(day)
    sessions: list[SessionSheet] = []
    conditions: list[Condition] = []
    for i, (start, end) in enumerate(spans):
        a, b = results[2 * i], results[2 * i + 1]
        s = SessionSheet(
            key=keys[i], start=start, end=end, check_in=a, check_out=b, verdict=_verdict(a, b, cfg)
        )
        sessions.append(s)
        conditions += _conditions(day, s, close, cfg, estimated)
    conditions.sort(key=lambda c: (c.start, c.rule, c.qualifier))
    silent = sorted({d for e in results for d in e.silent_clocks})
    return DaySheet(
        staff=sid,
        name=staff.name,
        department=department_name or staff.department,
        day=day,
        zone=cal.zone,
        sessions=tuple(sessions),
        punches=tuple(fates.get(s.event_id) or _outside(s) for s in seen),
        conditions=tuple(conditions),
        silent_clocks=tuple(silent),
        estimated=estimated,
        reads=tuple(heard.reads),
    )


def _outside(s: PunchSeen) -> PunchSeen:
    return _with_fate(s, Fate.OUTSIDE) if s.fate is Fate.COUNTED else s

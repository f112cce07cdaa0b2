"""People on post: feeds seat presence, statuses and punches to the pure rules, cards out.

Windows (alerts/posts.py), attendance day sheets (alerts/attendance.py) and the leader on
duty (alerts/duty.py) are worked out here from the events in journal order, with the receive
time as `now`. What only time changes (a session closing, a silent clock's grace running out,
the end of a duty half-day, the close of a half month) is recomputed at checkpoints fired by
`tick`, which the daemon journals, so a replay recomputes at the same instants.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from alerts.absence import LeaveRules
from alerts.attendance import (
    AttendanceConfig,
    DaySheet,
    PunchIn,
    build_sheet,
    heard_until,
    reads_hold,
)
from alerts.cards import CardEngine, Subject, Transition, WatchKind, watch_key
from alerts.config import HallConfig
from alerts.duty import (
    DutyOutcome,
    HalfMonth,
    HolidayOutcome,
    assess_duty,
    assess_holiday,
    checkpoints,
    holiday_checkpoints,
    holiday_rota_of,
    quota_missed,
    rota_of,
)
from alerts.events import (
    ClockHeartbeat,
    DeviceKind,
    DeviceStatus,
    Presence,
    Punch,
    StaffState,
    StaffStatus,
    Verify,
)
from alerts.ids import DeviceId, EventId, StaffId, WindowId
from alerts.posts import PostsConfig, Reading, WindowFacts, assess_window, status_conditions
from alerts.roles import StaffRole
from alerts.workdays import WorkCalendar

_KEEP = timedelta(days=35)  # punches kept for the half-month quota and make-ups
_EVERY = timedelta(minutes=15)  # attendance is looked at again this often in the day


class Check(StrEnum):
    """What a checkpoint recomputes for its day; at one instant in this (alphabetical) order."""

    DUTY = "duty"  # the day's duty half-days
    HOLIDAY = "holiday"  # the day's holiday duty (an off day)
    QUOTA = "quota"  # the half month starting on the day: each leader's duty quota
    SHEETS = "sheets"  # every officer's attendance sheet of the day


class People:
    def __init__(self, cfg: HallConfig, cal: WorkCalendar, engine: CardEngine) -> None:
        self.cfg, self.cal, self.engine = cfg, cal, engine
        self.posts: PostsConfig = cfg.posts
        self.attendance: AttendanceConfig = cfg.attendance
        self.rota = rota_of(cfg.duty)
        self.holiday_rota = holiday_rota_of(cfg.holiday_duty)
        self._holiday_staff = {s.staff for s in self.holiday_rota}
        self.windows = {
            w.window_id: WindowFacts(
                w.window_id,
                StaffId(w.a_post),
                tuple(StaffId(b) for b in w.b_posts),
                watched_by_neighbour=bool(w.neighbour),
            )
            for w in cfg.windows
        }
        self.camera_windows = {c.id: [WindowId(w) for w in c.windows] for c in cfg.cameras}
        self.posts_of: dict[StaffId, list[WindowId]] = {}
        for w in cfg.windows:
            for who in (w.a_post, *w.b_posts):
                self.posts_of.setdefault(StaffId(who), []).append(w.window_id)
        self.staff = {s.staff_id: s for s in cfg.staff}
        self.leaders = [s.staff_id for s in cfg.staff if s.role is StaffRole.LEADER]
        self.leave = leave_rules(cfg, cal)
        self._owners: dict[WindowId, set[StaffId]] = {}  # who has had a watch of the window
        self._dirty_staff: set[StaffId] = set()
        self.statuses: dict[StaffId, list[tuple[EventId, StaffStatus]]] = {}
        self.punches: dict[date, list[PunchIn]] = {}  # by the punch's own day
        self._by_staff: dict[tuple[StaffId, date], list[PunchIn]] = {}
        self._latest: dict[tuple[DeviceId, date], PunchIn] = {}
        self._dirty_windows: set[WindowId] = set()
        self._dirty_sheets: set[tuple[StaffId, date]] = set()
        self._dirty_days: set[date] = set()
        self._dirty_duty: set[date] = set()
        self.clock_status: list[DeviceStatus] = []
        # Each clock's latest heartbeat: every punch stamped before it is in (its bridge).
        self.beats: dict[DeviceId, datetime] = {}
        self.unknown_now: dict[WindowId, tuple[tuple[datetime, datetime | None], ...]] = {}
        # How far the staff statuses are heard: the case system's instant (its account sends
        # them in order with its cases; alerts/supervision.py sets it). None: no bound.
        self.statuses_heard: datetime | None = None
        self._checks: list[tuple[datetime, Check, date]] = []
        self._planned: set[date] = set()
        # Facts are forgotten by the day judgement has reached (`tick`), never by the day of
        # the newest event: a backlog of past days read at once still needs its readings.
        # Seat readings before `_seats_from` are gone: cards raised before it stay as they are.
        self._forgot_for: date | None = None
        self._seats_from: datetime | None = None
        self._heard_memo: tuple[tuple[datetime, int], dict[DeviceId, datetime | None]] | None = None
        self._clock_facts = 0  # counts what moves how far a clock is heard (`_heard`)
        # Each officer's latest sheet of a day, with what it was built from (`_sheet`): a
        # checkpoint every 15 minutes asks for every officer's, and most have not changed.
        self._sheet_memo: dict[tuple[StaffId, date], tuple[object, DaySheet | None]] = {}
        self._clock_status_version = 0  # moved whenever `clock_status` changes

    # --- events: facts only; the rules run at the next tick (`flush`) --------------------

    def presence(self, eid: EventId, ev: Presence) -> None:
        facts = self.windows.get(ev.window)
        if facts is not None:
            facts.add_reading(Reading(ev.ts, ev.present, eid))
            self._dirty_windows.add(ev.window)

    def device(self, ev: DeviceStatus) -> None:
        if ev.device_kind is DeviceKind.CLOCK:
            self._clock_facts += 1
            self._clock_status_version += 1
            self.clock_status.append(ev)
            self._dirty_days.add(self._day(ev.ts))
            return
        for w in self.camera_windows.get(ev.device, []):
            self.windows[w].camera(ev.online, ev.ts)
            self._dirty_windows.add(w)

    def heartbeat(self, ev: ClockHeartbeat) -> None:
        """A clock heard up to `ts` with nothing left to upload. The punch windows it
        closes are judged at the day's next checkpoint (every 15 minutes), not at once:
        a beat every few minutes from every clock must not rebuild every sheet."""
        last = self.beats.get(ev.device)
        if last is None or last < ev.ts:
            self.beats[ev.device] = ev.ts
            self._clock_facts += 1

    def status(self, eid: EventId, ev: StaffStatus) -> None:
        self.statuses.setdefault(ev.staff, []).append((eid, ev))
        self._dirty_windows.update(self.posts_of.get(ev.staff, []))
        self._dirty_sheets.add((ev.staff, self._day(ev.start or ev.ts)))
        self._dirty_staff.add(ev.staff)
        if ev.state is StaffState.LEAVE and ev.until is not None:  # every day the leave covers
            day, last = self._day(ev.start or ev.ts), self._day(ev.until)
            while day < last and (day - self._day(ev.start or ev.ts)).days < 62:
                day += timedelta(days=1)
                self._dirty_sheets.add((ev.staff, day))

    def punch(self, eid: EventId, ev: Punch, received_at: datetime) -> None:
        self._clock_facts += 1
        day = self._day(ev.ts)
        self.punches.setdefault(day, []).append((eid, ev, received_at))
        self._by_staff.setdefault((ev.staff, day), []).append((eid, ev, received_at))
        last = self._latest.get((ev.device, day))
        if ev.verify is not Verify.TEMPORARY and (last is None or last[1].ts < ev.ts):
            self._latest[(ev.device, day)] = (eid, ev, received_at)
        self._dirty_sheets.add((ev.staff, day))
        if ev.staff in self.leaders or ev.staff in self._holiday_staff:
            self._dirty_duty.add(day)
        self._plan(day)

    # --- time --------------------------------------------------------------------------------

    def due(self, now: datetime, facts: bool = True) -> bool:
        """A checkpoint came, or (with `facts`) new facts wait for the rules.

        The shell passes `facts=False` to let facts gather for a while under a stream of
        events (monitor/daemon.py: about once a second, by its own monotonic clock, never by
        `now`, which may stand still or step back). Ticks are journaled, so a replay runs them
        exactly where the live daemon did.
        """
        if self._checks and self._checks[0][0] <= now:
            return True
        dirty = (self._dirty_windows, self._dirty_sheets, self._dirty_days, self._dirty_duty)
        return facts and (any(dirty) or bool(self._dirty_staff))

    def tick(self, now: datetime) -> list[Transition]:
        """New facts, then checkpoints at or before `now` (each at its own time)."""
        out = self._flush(now)  # facts read since the last tick, before any is let go
        today = self._day(now)
        if self._forgot_for is None or today > self._forgot_for:
            self._forgot_for = today
            self._forget(today)
        self._plan_until(today)
        # Checkpoints at or before `now` judge at `now`, once per day and kind: the facts
        # were just judged at `now`, and judging them again as of an earlier instant would
        # take back what `now` already knows (a late punch judged final at 08:58 is pending
        # again as of the 08:45 checkpoint, whose clocks were heard less far), which voids
        # a card and raises it again. Several come due at once when judgement was held back
        # (alerts/sources.py) or the daemon catches up (a backlog, a restart after hours).
        due: dict[tuple[Check, date], datetime] = {}
        while self._checks and self._checks[0][0] <= now:
            at, check, day = heapq.heappop(self._checks)
            due[(check, day)] = at
        for check, day in sorted(due, key=lambda k: (due[k], k)):
            match check:
                case Check.SHEETS:
                    out += self._sheets(day, None, now)
                case Check.DUTY:
                    out += self._duty(day, now)
                case Check.HOLIDAY:
                    out += self._holiday(day, now)
                case Check.QUOTA:
                    out += self._quota(HalfMonth.of(day), now)
        return out

    def _flush(self, now: datetime) -> list[Transition]:
        out: list[Transition] = []
        for w in sorted(self._dirty_windows):
            out += self._window(w, now)
        for sid in sorted(self._dirty_staff):
            out += self._staff_statuses(sid, now)
        days = sorted(self._dirty_days)
        for day in days:
            out += self._sheets(day, None, now)
        for sid, day in sorted(self._dirty_sheets):
            if day not in self._dirty_days:
                out += self._sheets(day, sid, now)
        for day in sorted(self._dirty_duty):
            out += self._duty(day, now) + self._holiday(day, now)
        self._dirty_windows, self._dirty_sheets = set(), set()
        self._dirty_days, self._dirty_duty, self._dirty_staff = set(), set(), set()
        return out

    def _plan_until(self, today: date) -> None:
        """Every day since the last one planned: a daemon that was down catches up on them."""
        if self._planned:
            day = max(self._planned) + timedelta(days=1)
            while day < today:
                self._plan(day)
                day += timedelta(days=1)
        self._plan(today)

    def _plan(self, day: date) -> None:
        """The checkpoints of a day, once: every 15 minutes of the working day and after it."""
        if day in self._planned:
            return
        self._planned.add(day)
        if self.cal.is_working_day(day):
            spans = self.cal.service_hours(day)
            grace = timedelta(minutes=self.attendance.finalize_grace_min + 60)
            t, end = spans[0][0] - timedelta(hours=1), spans[-1][1] + grace
            while t <= end:
                heapq.heappush(self._checks, (t, Check.SHEETS, day))
                t += _EVERY
            for slot in (s for s in self.rota if s.day == day):
                for at in checkpoints(slot, self.cal, self.attendance):
                    heapq.heappush(self._checks, (at, Check.DUTY, day))
        for hslot in (s for s in self.holiday_rota if s.day == day):
            for at in holiday_checkpoints(hslot, self.cal, self.attendance):
                heapq.heappush(self._checks, (at, Check.HOLIDAY, day))
        half = HalfMonth.of(day)
        if day == half.first or day == half.last or day.day in (1, 16):
            heapq.heappush(self._checks, (half.closes(self.cal), Check.QUOTA, half.first))

    def _forget(self, day: date) -> None:
        self._clock_facts += 1
        horizon = datetime.combine(day, time(), self.cal.zone) - _KEEP
        for d in [d for d in self.punches if d < horizon.date()]:
            del self.punches[d]
        self._by_staff = {k: v for k, v in self._by_staff.items() if k[1] >= horizon.date()}
        self._latest = {k: v for k, v in self._latest.items() if k[1] >= horizon.date()}
        self.clock_status = [s for s in self.clock_status if s.ts >= horizon]
        self._clock_status_version += 1
        self._sheet_memo = {k: v for k, v in self._sheet_memo.items() if k[1] >= horizon.date()}
        self._seats_from = datetime.combine(day, time(), self.cal.zone) - timedelta(days=1)
        for facts in self.windows.values():
            facts.forget_before(self._seats_from)

    # --- the rules -----------------------------------------------------------------------

    def _window(self, window: WindowId, now: datetime) -> list[Transition]:
        """The window's cards, one watch per officer who answers for them: the A post's
        under the window's own key, a covering B post's under the window and his id."""
        facts = self.windows[window]
        a = assess_window(
            facts, self.statuses, self.cal, self.posts, self.statuses_heard, leave=self.leave
        )
        self.unknown_now[window] = a.unknown
        owned = a.by_owner()
        owners = self._owners.setdefault(window, {facts.a_post})
        owners.update(owned)
        out: list[Transition] = []
        for who in sorted(owners):
            key = watch_key(WatchKind.WINDOW, window, *(() if who == facts.a_post else (who,)))
            subject = Subject(window=window, staff=who)
            out += self.engine.on_conditions(
                key, subject, who, owned.get(who, ()), now, settled_before=self._seats_from
            )
        return out

    def _staff_statuses(self, sid: StaffId, now: datetime) -> list[Transition]:
        """An officer's incomplete notices and unapproved leave (alerts/posts.py)."""
        history = self.statuses.get(sid, [])
        conditions = status_conditions(history, self.cal, self.posts, self.leave)
        posts = self.posts_of.get(sid)
        subject = Subject(window=posts[0] if posts else None, staff=sid)
        key = watch_key(WatchKind.STAFF, sid)
        return self.engine.on_conditions(key, subject, sid, conditions, now)

    def sheets(self, day: date, now: datetime) -> list[DaySheet]:
        """Every officer's sheet for `day` as known at `now` (the leader's daily sheet)."""
        heard = self._heard(now)
        out = []
        for sid in sorted(self.staff):
            if not self._keeps_hours(sid):
                continue
            sheet = self._sheet(sid, day, heard, now)
            if sheet is not None:
                out.append(sheet)
        return out

    def _sheets(self, day: date, only: StaffId | None, now: datetime) -> list[Transition]:
        heard = self._heard(now)
        out: list[Transition] = []
        for sid in [only] if only is not None else sorted(self.staff):
            if sid not in self.staff or not self._keeps_hours(sid):
                continue
            sheet = self._sheet(sid, day, heard, now)
            if sheet is None:
                continue
            posts = self.posts_of.get(sid)
            window = posts[0] if posts else None
            subject = Subject(window=window, staff=sid)
            out += self.engine.on_conditions(
                watch_key(WatchKind.ATTENDANCE, sid, day), subject, sid, sheet.conditions, now
            )
        return out

    def _keeps_hours(self, sid: StaffId) -> bool:
        """Window officers punch in and out; the supervisor does not work at the hall's desks,
        and a leader's presence is the duty rota's (alerts/duty.py), not a daily sheet's."""
        return self.staff[sid].role.keeps_hours

    def _sheet(
        self, sid: StaffId, day: date, heard: dict[DeviceId, datetime | None], now: datetime
    ) -> DaySheet | None:
        """The officer's sheet as of `now`; the one built before when nothing it reads has
        changed: the same punches, statuses and clock statuses (lists that only grow: their
        length and last entry say), and the same answers to what it asked of time and of
        the clocks (`reads_hold`, alerts/attendance.py)."""
        lists = [self._by_staff.get((sid, day + timedelta(days=d)), []) for d in (-1, 0, 1)]
        statuses = self.statuses.get(sid, [])
        inputs = (
            tuple((len(ps), ps[-1][0] if ps else None) for ps in lists),
            (len(statuses), statuses[-1][0] if statuses else None),
            self._clock_status_version,
        )
        memo = self._sheet_memo.get((sid, day))
        if memo is not None and memo[0] == inputs:
            kept = memo[1]  # None: an off day, whatever the time
            if kept is None or reads_hold(kept, heard, now, self.attendance):
                return kept
        sheet = build_sheet(
            self.staff[sid],
            day,
            [p for ps in lists for p in ps],
            statuses,
            self.clock_status,
            heard,
            self.cal,
            self.attendance,
            now,
            leave=self.leave,
        )
        self._sheet_memo[(sid, day)] = (inputs, sheet)
        return sheet

    def recalendar(self, cal: WorkCalendar) -> None:
        """A new calendar (a reloaded configuration): every sheet is built anew."""
        self.cal = cal
        self._sheet_memo.clear()

    def _heard(self, now: datetime) -> dict[DeviceId, datetime | None]:
        """How far each clock is heard as of `now`: worked out once per instant and facts
        (a tick's flush asks it for every dirty sheet; a punch, a beat or a clock's status
        changes it)."""
        key = (now, self._clock_facts)
        if self._heard_memo is not None and self._heard_memo[0] == key:
            return self._heard_memo[1]
        out = self._heard_now(now)
        self._heard_memo = (key, out)
        return out

    def _heard_now(self, now: datetime) -> dict[DeviceId, datetime | None]:
        today = self._day(now)
        vouch = [  # a clock uploads in order: its latest real punch vouches for the rest
            p for (_, day), p in self._latest.items() if day in (today, today - timedelta(days=1))
        ]
        out: dict[DeviceId, datetime | None] = {}
        for c in self.cfg.clocks:
            device = DeviceId(c.id)
            heard = heard_until(device, vouch, self.clock_status, now, self.attendance)
            beat = self.beats.get(device)
            if beat is not None:  # as of `now`: a beat stamped later vouches only up to it
                beat = min(beat, now)
                heard = beat if heard is None else max(heard, beat)
            out[device] = heard
        return out

    def _leader_punches(self, days: Iterable[date]) -> list[PunchIn]:
        return [p for d in days for sid in self.leaders for p in self._by_staff.get((sid, d), [])]

    def duty_outcomes(self, day: date, now: datetime) -> list[DutyOutcome]:
        heard = self._heard(now)
        punches = self._leader_punches([day])
        return [
            assess_duty(slot, punches, self.cal, self.attendance, now, clocks_heard_until=heard)
            for slot in self.rota
            if slot.day == day
        ]

    def _duty(self, day: date, now: datetime) -> list[Transition]:
        out: list[Transition] = []
        for r in self.duty_outcomes(day, now):
            slot = r.slot
            key = watch_key(WatchKind.DUTY, day, slot.half, slot.leader)
            subject = Subject(staff=slot.leader)
            out += self.engine.on_conditions(key, subject, slot.leader, r.conditions, now)
        return out

    def holiday_outcomes(self, day: date, now: datetime) -> list[HolidayOutcome]:
        heard = self._heard(now)
        return [
            assess_holiday(
                slot,
                self._by_staff.get((slot.staff, day), []),
                self.cal,
                self.attendance,
                now,
                clocks_heard_until=heard,
            )
            for slot in self.holiday_rota
            if slot.day == day
        ]

    def _holiday(self, day: date, now: datetime) -> list[Transition]:
        out: list[Transition] = []
        for r in self.holiday_outcomes(day, now):
            key = watch_key(WatchKind.DUTY, day, "holiday", r.slot.staff)
            subject = Subject(staff=r.slot.staff)
            out += self.engine.on_conditions(key, subject, r.slot.staff, r.conditions, now)
        return out

    def _quota(self, half: HalfMonth, now: datetime) -> list[Transition]:
        out: list[Transition] = []
        punches = self._leader_punches(half.days())
        misses = quota_missed(self.leaders, self.rota, punches, half, self.cal, self.attendance)
        for m in misses:
            key = watch_key(WatchKind.QUOTA, half.first, m.leader)
            subject = Subject(staff=m.leader)
            out += self.engine.on_conditions(key, subject, m.leader, (m.condition,), now)
        return out

    def _day(self, t: datetime) -> date:
        return t.astimezone(self.cal.zone).date()

    def unknown_windows(self, now: datetime) -> set[WindowId]:
        """Windows whose seat nobody can see right now (camera offline or silent)."""
        return {
            w
            for w, spans in self.unknown_now.items()
            if any(s <= now and (e is None or now < e) for s, e in spans)
        }


def leave_rules(cfg: HallConfig, cal: WorkCalendar) -> LeaveRules:
    """Who may approve leave: `[attendance] leave_deputies` and `leave_heads`; where one is
    empty, every staff member with role leader (001_… 第一篇(十)6)."""
    leaders = frozenset(s.staff_id for s in cfg.staff if s.role is StaffRole.LEADER)
    deputies = frozenset(StaffId(s) for s in cfg.attendance.leave_deputies) or leaders
    heads = frozenset(StaffId(s) for s in cfg.attendance.leave_heads) or leaders
    return LeaveRules(deputies=deputies, heads=heads, cal=cal)

"""The leader's board (值班看板): who is on post at each window now, the leader on duty today
and this week, the day's attendance totals with the people behind each, the day's open cards.

One JSON document (`GET /api/board`, permission `read_attendance`: the leader and the
supervisor), read from the live state under the state lock. Who is on post is the display's
own answer (alerts/onpost.py `hall_on_post` and `staffed` on the people's facts, as
monitor/runner.py hands them to the presenter), the lights are alerts/lights.py's, the cards are
the console's list (`list_cards`: voided ones left out), the attendance and duty are the daily
sheet's (`day_sheet_parts`). Every department, window and person is named as the configuration
names it; the codes ride along for links, never for reading. The page (static/console/board.js)
refetches when the display's event stream says something moved, and at least every minute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, ClassVar, Protocol

from alerts.attendance import DaySheet, Mark, SessionSheet, Verdict
from alerts.config import HallConfig
from alerts.duty import DutyOutcome
from alerts.events import StaffState
from alerts.ids import StaffId
from alerts.lights import window_lights
from alerts.onpost import OnPost, Seat, hall_on_post, staffed, status_at
from alerts.rules import Level
from alerts.supervision import Supervision
from monitor.reports import daysheet
from monitor.reports.names import HallNames
from monitor.web.auth import Session
from monitor.web.console import (
    LEVEL_ZH,
    CardFilter,
    ConsoleError,
    Names,
    day_sheet_parts,
    list_cards,
)
from monitor.web.server import Request, Response

WEEKDAYS_ZH = "一二三四五六日"
HALF_ZH = {"am": "上午", "pm": "下午"}
SEAT_ZH = {Seat.OCCUPIED: "有人", Seat.EMPTY: "空座", Seat.UNKNOWN: "看不到(摄像头离线或无信号)"}
STATE_ZH = {
    StaffState.ON_POST: "在岗",
    StaffState.AWAY: "离岗",
    StaffState.MEETING: "开会",
    StaffState.TRIP: "出差",
    StaffState.LEAVE: "请假",
    StaffState.OFF: "休息",
}
DUTY_ZH = {k.value: v for k, v in daysheet._DUTY_ZH.items()}
MAX_CARDS = 200  # the day's open cards on the board; the card list pages through the rest


class Tally:
    """The day's attendance, one category per person: the most serious of his sessions that
    have begun (旷工 over 缺卡 over 迟到 over 早退 over 请假 over 待定 over 出勤); a session
    under way counts by its check-in (in on time: 出勤, so far)."""

    ORDER: ClassVar[tuple[tuple[str, str], ...]] = (
        ("present", "出勤"),
        ("late", "迟到"),
        ("early", "早退"),
        ("missing", "缺卡"),
        ("leave", "请假"),
        ("absent", "旷工"),
        ("pending", "待定"),
        ("not_started", "未开始"),
    )
    _OF: ClassVar[dict[Verdict, str]] = {
        Verdict.ABSENT: "absent",
        Verdict.HALF_DAY_ABSENT: "absent",
        Verdict.MISSING_PUNCH: "missing",
        Verdict.LATE: "late",
        Verdict.LATE_AND_EARLY: "late",
        Verdict.EARLY: "early",
        Verdict.COVERED: "leave",
        Verdict.PENDING: "pending",
        Verdict.PRESENT: "present",
    }
    _RANK: ClassVar[tuple[str, ...]] = (
        "absent",
        "missing",
        "late",
        "early",
        "leave",
        "pending",
        "present",
    )

    _IN: ClassVar[dict[Mark, str]] = {
        Mark.ON_TIME: "present",
        Mark.MADE_UP: "present",
        Mark.LATE: "late",
        Mark.MISSING: "missing",
        Mark.COVERED: "leave",
    }

    @classmethod
    def category(cls, sessions: Sequence[SessionSheet], now: datetime) -> str:
        begun = [cls.of(s) for s in sessions if s.start <= now]
        if not begun:
            return "not_started"
        return min(begun, key=cls._RANK.index)

    @classmethod
    def of(cls, s: SessionSheet) -> str:
        """A session under way waits for its check-out: until then its check-in tells."""
        if s.verdict is Verdict.PENDING:
            return cls._IN.get(s.check_in.mark, "pending")
        return cls._OF[s.verdict]


class HallView(Protocol):
    """What the board needs of the running daemon (monitor.web.api `Hall` has it)."""

    @property
    def config(self) -> Callable[[], HallConfig]: ...
    @property
    def now(self) -> Callable[[], datetime]: ...

    def read(self, fn: Callable[[Supervision], Any], /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Board:
    hall: HallView

    def doc(self, day: date | None = None) -> dict[str, Any]:
        cfg, now = self.hall.config(), self.hall.now()
        today = now.astimezone(cfg.hall.zone).date()
        doc: dict[str, Any] = self.hall.read(lambda sup: board_doc(sup, cfg, day or today, now))
        return doc

    def api(self, req: Request, _s: Session) -> Response:
        """`GET /api/board[?date=YYYY-MM-DD]`: the board (who sits where is always now)."""
        resp = Response.json(200, self.doc(_day(req.arg("date"))))
        return Response(resp.status, resp.content_type, resp.body, (("Cache-Control", "no-store"),))


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ConsoleError(400, "参数 date 无效：须为日期 YYYY-MM-DD", "bad_parameter") from None


def board_doc(sup: Supervision, cfg: HallConfig, day: date, now: datetime) -> dict[str, Any]:
    """The board for `day` as known at `now` (who sits where: at `now`, whatever the day)."""
    zone, names = cfg.hall.zone, HallNames.of(cfg)
    sheets, duty, _ = day_sheet_parts(sup, cfg, day, now)
    people = sup.people
    posts = hall_on_post(people.windows.values(), people.statuses, now, people.posts)
    week = [day - timedelta(days=day.weekday()) + timedelta(days=i) for i in range(7)]
    cards = list_cards(sup, CardFilter(day=day, limit=MAX_CARDS), Names.of(cfg), zone)
    return {
        "hall": cfg.hall.name,
        "day": day.isoformat(),
        "day_zh": day_zh(day),
        "now": now.astimezone(zone).isoformat(),
        "windows": window_rows(sup, cfg, names, posts, now),
        "staffed": staffed(posts.values()),
        "windows_total": len(cfg.windows),
        "duty_today": [duty_row(d, names, zone) for d in _by_half(duty)],
        "duty_week": [
            {
                "day": d.isoformat(),
                "day_zh": day_zh(d),
                "today": d == day,
                "slots": [
                    duty_row(o, names, zone)
                    for o in _by_half(duty if d == day else people.duty_outcomes(d, now))
                ],
            }
            for d in week
        ],
        "attendance": attendance_totals(sheets, names, now),
        "cards": cards,
    }


def day_zh(day: date) -> str:
    return f"{day.month}月{day.day}日 星期{WEEKDAYS_ZH[day.weekday()]}"


def _hm(t: datetime | None, zone: tzinfo) -> str | None:
    return None if t is None else t.astimezone(zone).strftime("%H:%M")


def _by_half(duty: Sequence[DutyOutcome]) -> list[DutyOutcome]:
    return sorted(duty, key=lambda d: (d.slot.half, d.slot.leader))


def duty_row(d: DutyOutcome, names: HallNames, zone: tzinfo) -> dict[str, Any]:
    return {
        "half": d.slot.half,
        "half_zh": HALF_ZH[d.slot.half],
        "leader": d.slot.leader,
        "leader_name": names.person(d.slot.leader),
        "start": _hm(d.start, zone),
        "end": _hm(d.end, zone),
        "arrived": _hm(d.arrived, zone),
        "state": d.state.value,
        "state_zh": DUTY_ZH[d.state.value] + ("（不足半天）" if d.short else ""),  # duty.short
    }


def window_rows(
    sup: Supervision,
    cfg: HallConfig,
    names: HallNames,
    posts: Mapping[Any, OnPost],
    now: datetime,
) -> list[dict[str, Any]]:
    people, zone = sup.people, cfg.hall.zone
    ids = [w.window_id for w in cfg.windows]
    lights = window_lights(sup.engine.cards.values(), ids, people.unknown_windows(now))
    out = []
    for w in cfg.windows:
        p, light = posts[w.window_id], lights.get(w.window_id)
        level = light.level if light is not None else Level.UNKNOWN
        a_status = status_at(people.statuses.get(StaffId(w.a_post), ()), now)
        away = a_status is not None and a_status.state is not StaffState.ON_POST
        post = None if p.officer is None else "A" if p.officer == w.a_post else "B"
        out.append(
            {
                "window": w.id,
                "window_name": w.name,
                "department_name": names.department(w.department),
                "seat": p.seat.value,
                "seat_zh": SEAT_ZH[p.seat],
                "officer": p.officer,
                "officer_name": None if p.officer is None else names.person(p.officer),
                "post": post,
                "a_post": w.a_post,
                "a_post_name": names.person(w.a_post),
                "a_post_away_zh": _away_zh(a_status, zone) if away else None,
                "level": level.value,
                "level_zh": LEVEL_ZH[level],
                "reason": light.reason_zh if light is not None else "状态未知",
                "cards": len(light.cards) if light is not None else 0,
            }
        )
    return out


def _away_zh(st: Any, zone: tzinfo) -> str:
    word = STATE_ZH[st.state]
    if st.state is StaffState.LEAVE and st.category is not None:
        word = daysheet._LEAVE_ZH[st.category]
    until = _hm(st.until, zone)
    return word + (f" 至 {until}" if until else "")


def attendance_totals(
    sheets: Sequence[DaySheet], names: HallNames, now: datetime
) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {k: [] for k, _ in Tally.ORDER}
    for sh in daysheet.ordered(sheets, names):
        groups[Tally.category(sh.sessions, now)].append(person_row(sh, names, now))
    return {
        "expected": len(sheets),
        "final": all(sh.final for sh in sheets),
        "totals": [
            {"category": k, "label_zh": label, "count": len(groups[k]), "people": groups[k]}
            for k, label in Tally.ORDER
        ],
    }


def person_row(sh: DaySheet, names: HallNames, now: datetime) -> dict[str, Any]:
    return {
        "staff": sh.staff,
        "name": names.person(sh.staff),
        "window_name": names.window_of(sh.staff),
        "department_name": names.department(sh.department),
        "sessions": [
            {
                "session": s.key,
                "session_zh": HALF_ZH.get(s.key, s.key),
                "begun": s.start <= now,
                "check_in": daysheet.punch_zh(s.check_in, sh.zone),
                "check_out": daysheet.punch_zh(s.check_out, sh.zone),
                "verdict": s.verdict.value,
                "verdict_zh": daysheet.verdict_zh(s),
            }
            for s in sh.sessions
        ],
    }


# --- its OpenAPI description (merged into monitor/web/openapi.py `spec`) ----------------------

_STR = {"type": "string"}
_OPT = {"type": ["string", "null"]}
_INT = {"type": "integer", "minimum": 0}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_DUTY = _obj(
    {
        "half": {"enum": ["am", "pm"]},
        "half_zh": _STR,
        "leader": _STR,
        "leader_name": _STR,
        "start": _OPT,
        "end": _OPT,
        "arrived": {**_OPT, "description": "HH:MM local, the first sighting"},
        "state": {"enum": list(DUTY_ZH)},
        "state_zh": _STR,
    }
)
_SESSION = _obj(
    {
        "session": _STR,
        "session_zh": _STR,
        "begun": {"type": "boolean", "description": "the session has started by now"},
        "check_in": _STR,
        "check_out": _STR,
        "verdict": {"enum": [v.value for v in Verdict]},
        "verdict_zh": _STR,
    }
)
_PERSON = _obj(
    {
        "staff": _STR,
        "name": _STR,
        "window_name": _STR,
        "department_name": _STR,
        "sessions": _list(_SESSION),
    }
)
_WINDOW = _obj(
    {
        "window": _STR,
        "window_name": _STR,
        "department_name": _STR,
        "seat": {"enum": [s.value for s in Seat]},
        "seat_zh": _STR,
        "officer": {**_OPT, "description": "who is on post now (as the display); null: 无人在岗"},
        "officer_name": _OPT,
        "post": {"enum": ["A", "B", None], "description": "which post the officer holds here"},
        "a_post": _STR,
        "a_post_name": _STR,
        "a_post_away_zh": {**_OPT, "description": "why the A post is not on post (请假 至 17:30)"},
        "level": {"enum": [lvl.value for lvl in Level]},
        "level_zh": _STR,
        "reason": _STR,
        "cards": _INT,
    }
)
OPENAPI_SCHEMAS: dict[str, Any] = {
    "Board": _obj(
        {
            "hall": _STR,
            "day": {"type": "string", "format": "date"},
            "day_zh": _STR,
            "now": {"type": "string", "format": "date-time"},
            "windows": _list(_WINDOW),
            "staffed": {"type": ["integer", "null"], "minimum": 0},
            "windows_total": _INT,
            "duty_today": _list(_DUTY),
            "duty_week": _list(
                _obj(
                    {
                        "day": {"type": "string", "format": "date"},
                        "day_zh": _STR,
                        "today": {"type": "boolean"},
                        "slots": _list(_DUTY),
                    }
                )
            ),
            "attendance": _obj(
                {
                    "expected": _INT,
                    "final": {"type": "boolean"},
                    "totals": _list(
                        _obj(
                            {
                                "category": {"enum": [k for k, _ in Tally.ORDER]},
                                "label_zh": _STR,
                                "count": _INT,
                                "people": _list(_PERSON),
                            }
                        )
                    ),
                }
            ),
            "cards": _obj({"total": _INT, "cards": _list(_ref("Card"))}),
        }
    )
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/board": {
        "get": {
            "operationId": "getBoard",
            "summary": "值班看板 (leader, supervisor): who is on post at each window now, the "
            "leader on duty today and this week, the day's attendance totals with their "
            "people, the day's open cards (voided ones left out); names, never codes",
            "security": [{"session": []}],
            "parameters": [
                {
                    "name": "date",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "format": "date"},
                    "description": "the day of the roster, totals and cards (default: today); "
                    "who sits where is always now",
                }
            ],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {"application/json": {"schema": _ref("Board")}},
                },
                **{
                    code: {
                        "description": what,
                        "content": {"application/json": {"schema": _ref("Error")}},
                    }
                    for code, what in (
                        ("400", "参数无效 (date is not YYYY-MM-DD)"),
                        ("401", "没有登录或会话已过期 (no session, or it expired)"),
                        ("403", "角色无此权限 (role lacks read_attendance)"),
                    )
                },
            },
        }
    }
}

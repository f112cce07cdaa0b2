"""Hall configuration: one TOML file per hall, validated into typed, frozen models.

Validation never does I/O: reading the file and the broker password is the shell's
(`load_config` and `read_secret` in hallkit/config.py). The sections of the rules are
defined beside their rules (alerts/attendance.py, posts, duty, complaints) or here (scores,
time series); this module imports them, never the reverse. Every problem is reported
with its key path (``windows[3].a_post``), all at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, time
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from alerts.accounts import DEMO_HASHES, Account, check_hash
from alerts.attendance import AttendanceConfig
from alerts.basis import BasisConfig
from alerts.complaints import ComplaintsConfig
from alerts.duty import DutySlotConfig, HolidayDutyConfig, holiday_problems
from alerts.ids import DeviceId, HallId, StaffId, WindowId
from alerts.items import ItemConfig
from alerts.jobs import JobsConfig
from alerts.model import ConfigModel, check_zone, validate
from alerts.notify import NotifyConfig, notify_problems
from alerts.posts import PostsConfig
from alerts.roles import Role, StaffRole
from alerts.rules import RuleId
from alerts.workdays import DayOverride, Session, Timetable, WorkCalendar

date_type = date  # `date` is also a field name below

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
_HOSTNAME = re.compile(r"(?i)[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}\.?")


class HallInfo(ConfigModel):
    id: Ident = Field(description="Hall id; the MQTT topic root is hall/{id}.")
    name: str = Field(min_length=1, description="Hall name shown on displays and reports.")
    timezone: str = Field("Asia/Shanghai", description="IANA zone of the hall's local time.")

    _zone = field_validator("timezone")(check_zone)

    @property
    def hall_id(self) -> HallId:
        return HallId(self.id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TlsConfig(ConfigModel):
    ca_file: str | None = Field(None, description="CA bundle that signs the broker certificate.")
    cert_file: str | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: str | None = Field(None, description="Client key (mutual TLS).")
    insecure: bool = Field(False, description="Skip host name verification (test rigs only).")


class BrokerConfig(ConfigModel):
    host: str = Field("127.0.0.1", description="MQTT broker host.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker port.")
    client_id: str | None = Field(
        None,
        description="Fixed client id of the persistent session; default hallwatch-{hall}. "
        "The shipped broker (use_username_as_clientid) uses the account name instead.",
    )
    username: str | None = Field(None, description="Broker user name.")
    password_file: str | None = Field(
        None,
        description="File holding the broker password; a relative name is looked up in "
        "$CREDENTIALS_DIRECTORY (systemd LoadCredential=), else beside the config file.",
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive interval.")
    reconnect_min_s: float = Field(1.0, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest reconnect delay (backoff cap).")
    tls: TlsConfig | None = Field(None, description="TLS to the broker; absent means plain TCP.")


class JournalConfig(ConfigModel):
    data_dir: str = Field("/var/lib/hallwatch", description="Directory of journal.sqlite3.")
    batch_max: int = Field(
        1000, ge=1, le=100_000, description="Most messages committed in one transaction."
    )
    batch_wait_ms: int = Field(
        5, ge=0, le=5000, description="How long a batch waits to fill once it has a message."
    )
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="SQLite synchronous level: full survives power loss, normal only a crash.",
    )


class IngestConfig(ConfigModel):
    max_payload_bytes: int = Field(
        65536, ge=1024, description="Larger payloads are rejected (docs/contract.md: 64 KiB)."
    )
    max_future_skew_s: int = Field(
        300, ge=0, description="An event stamped further than this ahead of receipt is rejected."
    )
    max_past_days: int = Field(
        60,
        ge=1,
        le=3650,
        description="An event stamped further than this before receipt is rejected as "
        "past_time (a clock whose clock reset); a clock offline for weeks still uploads.",
    )
    reject_keep_bytes: int = Field(
        4096,
        ge=0,
        le=65536,
        description="A rejected message keeps this much of its payload, with its full length "
        "and SHA-256.",
    )
    reject_keep_days: int = Field(
        30, ge=1, description="Rejected messages older than this are pruned (counters stay)."
    )
    reject_max_mb: int = Field(
        64,
        ge=1,
        description="The stored rejects stay under this many MiB: the oldest are pruned first.",
    )
    reject_rate_per_s: float = Field(
        1.0,
        gt=0,
        description="Rejects stored per second from one source (a device's topics, or one "
        "area such as case/); beyond it and its burst they are counted, not stored.",
    )
    reject_burst: int = Field(
        100, ge=1, description="Rejects a source may store at once before its rate applies."
    )


class WebConfig(ConfigModel):
    listen: str = Field(
        "127.0.0.1",
        description="Address of the web server (/healthz, /metrics, display, console); "
        "loopback by default: expose it through a reverse proxy with TLS (docs/console.md).",
    )
    port: int = Field(8470, ge=0, le=65535, description="Port; 0 picks a free one.")
    session_minutes: int = Field(
        480,
        ge=5,
        le=10080,
        description="A console login lasts at most this long (default: one 8-hour working day).",
    )
    idle_minutes: int = Field(
        30, ge=1, le=1440, description="A console session unused this long ends."
    )
    secure_cookie: bool = Field(
        False,
        description="Mark the session cookie Secure (HTTPS only): set it when a TLS reverse "
        "proxy serves the console.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For names the client "
        "(recorded in the audit); from anyone else the header is ignored.",
    )
    origins: list[str] = Field(
        default_factory=list,
        description="Origins besides the request's own Host allowed to send console "
        "changes, e.g. https://jiancha.example.gov.cn.",
    )
    login_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Login attempts from one address, and for one user from one address, "
        "before a lockout (a stranger elsewhere cannot lock a user out).",
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=1440, description="Lockout after too many failed logins, and their window."
    )
    login_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        description="Password checks at once (scrypt, 32 MiB each); a login beyond them is "
        "answered 503 at once, so many together cannot exhaust memory.",
    )
    hosts: list[str] = Field(
        default_factory=list,
        description="Host names the web server answers besides localhost and IP addresses, "
        "e.g. the reverse proxy's jiancha.example.gov.cn; any other Host is answered 421 "
        "(DNS rebinding).",
    )
    max_connections: int = Field(
        256,
        ge=16,
        le=4096,
        description="Open connections at once; a new one beyond closes the one that has "
        "waited longest for its request (keep below the unit's LimitNOFILE).",
    )
    request_timeout_s: float = Field(
        10.0,
        ge=1,
        le=120,
        description="A request's headers and body must arrive within this (slow clients).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            ipaddress.ip_address(a)  # ValueError names the bad one
        return v

    @field_validator("hosts")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _HOSTNAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a host name (no scheme, port or path)")
        return [name.lower().rstrip(".") for name in v]


class User(ConfigModel):
    name: Ident = Field(description="Login name.")
    role: Role = Field(
        description="display (the hall display), leader (attendance, cards read-only), "
        "supervisor (decides cards), admin (configuration); docs/console.md."
    )
    password_hash: str = Field(
        description="scrypt hash in PHC format, printed by `hallwatch passwd`; never the password."
    )
    staff: Ident | None = Field(
        None,
        description="The staff member this user is: card decisions are sent as `by` this id. "
        "Required for a supervisor (a staff member with role supervisor).",
    )

    _hash = field_validator("password_hash")(lambda v: check_hash(v))

    @property
    def account(self) -> Account:
        staff = StaffId(self.staff) if self.staff else None
        return Account(
            name=self.name, role=self.role, password_hash=self.password_hash, staff=staff
        )


class ServiceSession(ConfigModel):
    name: str = Field(min_length=1, description="Session name, e.g. 上午 / 下午.")
    start: time = Field(description="Service opens (local time).")
    end: time = Field(description="Service closes (local time).")


class SeasonalTimetable(ConfigModel):
    name: str = Field(min_length=1, description="Timetable name, e.g. 夏季作息.")
    valid_from: str = Field(description="First day it applies each year, MM-DD (e.g. 05-01).")
    valid_to: str = Field(description="Last day it applies each year, MM-DD (e.g. 09-30).")
    sessions: list[ServiceSession] = Field(min_length=1, description="Its service sessions.")

    _md = field_validator("valid_from", "valid_to")(lambda v: _check_month_day(v))


def _check_month_day(text: str) -> str:
    try:
        date.fromisoformat(f"2000-{text}")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a month-day MM-DD") from exc
    return text


class CalendarDay(ConfigModel):
    date: date_type = Field(description="The day (TOML date, e.g. 2027-10-09).")
    working: bool = Field(description="true: a working day (调休上班); false: a day off.")
    name: str = Field(min_length=1, description="Why, e.g. 国庆节 or 县庆.")


class CalendarConfig(ConfigModel):
    days: list[CalendarDay] = Field(
        default_factory=list,
        description="Overrides of the national schedule: a schedule published after this "
        "release, a local holiday, a special service day. Wins over chinesecalendar.",
    )
    complete_years: list[int] = Field(
        default_factory=list,
        description="Years whose every holiday and swapped working day is entered in `days`; "
        "only then is a year beyond chinesecalendar's data known (else deadlines are estimated "
        "and a calendar.missing card is raised).",
    )


class CardsConfig(ConfigModel):
    warning_days: int = Field(
        1,
        ge=0,
        le=30,
        description="Yellow this many working days before a promised limit "
        "(a city's e-supervision rule: 到期前1个工作日提示).",
    )
    warning_days_by_kind: dict[str, int] = Field(
        default_factory=dict, description="Per case kind, e.g. {special = 0, joint = 2}."
    )
    immediate_warning_minutes: int = Field(
        120, ge=1, description="Immediate case: yellow after this much working time (ours)."
    )
    report_days: int = Field(
        3, ge=1, description="Reported-up case: report within (a hall's case rules)."
    )
    reply_answer_days: int = Field(
        2, ge=1, description="Reported-up case: answer the applicant within, after the reply."
    )
    supplement_days: int = Field(
        0,
        ge=0,
        le=5,
        description="Supplement notice (一次性告知) within this many working days after the "
        "receipt's: 0 = by close of the same working day, on the spot (000_… 二); "
        "5 is the outer bound (行政许可法 第三十二条).",
    )
    deemed_approval: bool = Field(
        False,
        description="超时默认 (003_… 三): a case still open past its limit is recorded as "
        "approved then, with a case.deemed_approved card. Off by default.",
    )
    refusal_review_days: int = Field(
        2, ge=1, description="Negative filing reviewed within (000_… 六(五))."
    )
    correction_days: int = Field(
        1, ge=1, description="Unlawful refusal corrected within, after review (000_… 六(五))."
    )
    answer_days: int = Field(
        2,
        ge=1,
        description="A red card's owner answers (陈述申辩) within; then it escalates. Ours: "
        "000_… 八(八) requires the hearing but gives no number.",
    )
    idle_after_s: int = Field(
        60,
        ge=0,
        le=3600,
        description="A clock or the case system still sending holds time-driven judgement "
        "at how far its events reach, until it has sent nothing for this long (ours; "
        '0 = judge at the daemon\'s time at once). docs/cards.md, "Sources".',
    )

    @field_validator("warning_days_by_kind")
    @classmethod
    def _kinds(cls, v: dict[str, int]) -> dict[str, int]:
        known = {"immediate", "promised", "joint", "reported", "supplement", "returned", "special"}
        for k, n in v.items():
            if k not in known:
                raise ValueError(f"unknown case kind {k!r} (one of {', '.join(sorted(known))})")
            if not 0 <= n <= 30:
                raise ValueError(f"{k}: {n} is not in 0..30")
        return v


class Department(ConfigModel):
    id: Ident = Field(description="Department id, referenced by staff and windows.")
    name: str = Field(min_length=1, description="Department name, e.g. 市场监管局.")


class Staff(ConfigModel):
    id: Ident = Field(description="Staff number as the clocks know it (PIN).")
    name: str = Field(min_length=1, description="Full name, as on cards and sheets.")
    department: Ident = Field(description="Department id.")
    post: str = Field("窗口工作人员", description="Post title, shown in negative filings.")
    phone: str | None = Field(None, description="Office phone, shown in negative filings.")
    mobile: str | None = Field(
        None, description="Mobile number for notices (SMS, DingTalk @); docs/notify.md."
    )
    email: str | None = Field(None, description="E-mail address for notices; docs/notify.md.")
    role: StaffRole = Field(
        StaffRole.OFFICER,
        description="officer at a window, leader (值班领导), supervisor (效能投诉中心).",
    )

    @property
    def staff_id(self) -> StaffId:
        return StaffId(self.id)


class Window(ConfigModel):
    id: Ident = Field(description="Window id used in topics and lights, e.g. W03.")
    name: str = Field(min_length=1, description="Window name on the display, e.g. 不动产登记.")
    department: Ident = Field(description="Department that staffs the window.")
    a_post: Ident = Field(description="Holder of the post (A岗).")
    b_posts: list[Ident] = Field(
        default_factory=list, description="Ordered substitutes (B岗); the first available covers."
    )
    neighbour: Ident | None = Field(None, description="Window that watches this one if alone.")
    head: Ident | None = Field(
        None, description="Staff id of the window's head (负责人), told of its red cards."
    )

    @property
    def window_id(self) -> WindowId:
        return WindowId(self.id)


class Clock(ConfigModel):
    id: Ident = Field(description="Device id (serial number) used in MQTT topics.")
    location: str = Field("", description="Where the clock hangs, for the operator.")
    timezone: str | None = Field(
        None, description="Zone for timestamps sent without an offset; absent means rejected."
    )

    _zone = field_validator("timezone")(lambda v: v if v is None else check_zone(v))


class Camera(ConfigModel):
    id: Ident = Field(description="Camera id used in MQTT topics.")
    windows: list[Ident] = Field(description="Windows whose seats this camera watches.")
    timezone: str | None = Field(
        None, description="Zone for timestamps sent without an offset; absent means rejected."
    )

    _zone = field_validator("timezone")(lambda v: v if v is None else check_zone(v))


Who = Literal["officer", "window", "both"]


class DeductionRule(ConfigModel):
    points: int = Field(ge=0, description="Points deducted per occurrence; 0 turns it off.")
    who: Who = Field(description="Whose score it lowers: the officer, the window or both.")
    cap: int | None = Field(
        None, ge=0, description="Most points this rule takes from one subject in a month."
    )
    source: str = Field("", description="Where the number comes from (shown in docs).")
    honours: bool = Field(
        False,
        description="Counted, it also costs the window that month's honours (评优评先) and "
        "warns the window's head (seed 000_… 八(五)).",
    )


def _rule(points: int, who: Who, source: str, honours: bool = False) -> DeductionRule:
    return DeductionRule(points=points, who=who, source=source, honours=honours)


_FOUR = "扣窗口单位当月考评5—10分 (lower bound)"
_FIVE = "扣岗位责任人当月考评10—15分 (lower bound), 取消该窗口当月评优评先资格"
_ELSEWHERE = "其他地区的做法"  # docs/regulations.md, "Numbers from practice elsewhere"
_OURS = "本中心规定 (ours)"
DEFAULT_RULES: dict[str, DeductionRule] = {
    RuleId.ATTENDANCE_LATE: _rule(1, "officer", f"{_ELSEWHERE} (苍南): late ≤ 10 min −1"),
    RuleId.ATTENDANCE_EARLY: _rule(1, "officer", f"{_ELSEWHERE} (苍南): early ≤ 10 min −1"),
    RuleId.ATTENDANCE_MISSING_PUNCH: _rule(2, "officer", f"{_OURS}: missing punch −2"),
    RuleId.ATTENDANCE_ABSENT_HALF_DAY: _rule(5, "officer", f"{_OURS}: half-day absence −5"),
    RuleId.POST_UNSTAFFED: _rule(3, "officer", f"{_ELSEWHERE} (苍南): away ≥ 15 min −3"),
    RuleId.PROMISED_OVERDUE: _rule(5, "window", f"000_… 八(四)5: {_FOUR}"),
    RuleId.LEGAL_OVERDUE: _rule(10, "officer", f"000_… 八(五)1: {_FIVE}", honours=True),
    RuleId.IMMEDIATE_OPEN_AT_CLOSE: _rule(5, "window", f"000_… 八(四)3: {_FOUR}"),
    RuleId.SUPPLEMENT_NOTICE_LATE: _rule(5, "window", f"000_… 八(四)6: {_FOUR}"),
    RuleId.SUPPLEMENT_REPEATED: _rule(5, "window", f"000_… 八(四)2: {_FOUR}"),
    RuleId.STEP_OVERDUE: _rule(5, "window", f"000_… 八(四)7: {_FOUR}"),
    RuleId.REPORTED_LATE_REPORT: _rule(5, "window", f"000_… 八(四)9: {_FOUR}"),
    RuleId.REPORTED_LATE_ANSWER: _rule(5, "window", f"000_… 八(四)1: {_FOUR}"),
    RuleId.DUTY_ABSENT: _rule(3, "officer", f"{_OURS}: −3; 002_… 领导值班制度 四(二)"),
    RuleId.DUTY_QUOTA_MISSED: _rule(3, "officer", f"{_OURS}: −3; 002_… 领导值班制度 四(二)"),
    RuleId.RETURNED_NO_REASON: _rule(2, "officer", f"{_OURS}: refusal without reasons −2"),
    RuleId.COMPLAINT_FOUNDED: _rule(5, "officer", f"{_OURS}: founded complaint −5 (000_… 五(八))"),
    RuleId.REVIEW_BAD_UNRECTIFIED: _rule(2, "window", f"{_OURS}: 好差评 not rectified −2 (window)"),
}


# A co-department's step of a joint case (its card's qualifier names the department): the lead
# and the co-departments delaying a joint case, 000_… 八(五)2, not a plain step (八(四)7).
JOINT_STEP = _rule(10, "officer", f"000_… 八(五)2: {_FIVE}", honours=True)


class MitigationConfig(ConfigModel):
    """`[scores.mitigation]`: what a mitigating decision (000_… 八(七)) leaves of a deduction."""

    lighter: int = Field(
        75, ge=0, le=100, description="Percent of the points charged after 从轻处理 (ours)."
    )
    reduced: int = Field(
        50, ge=0, le=100, description="Percent of the points charged after 减轻处理 (ours)."
    )
    exempt: int = Field(
        0, ge=0, le=100, description="Percent of the points charged after 免予处理 (ours: none)."
    )


class RepeatOvertimeConfig(ConfigModel):
    """`[scores.repeat_overtime]`: 多次出现超时办结 (000_… 八(五)7), one more deduction."""

    count: int = Field(
        3, ge=2, description="Counted overtime cards of an officer in a month: 多次 (ours)."
    )
    points: int = Field(
        10, ge=0, description="Deducted once that month (000_… 八(五)7: 10—15, lower bound)."
    )
    rules: list[str] = Field(
        default_factory=lambda: [
            RuleId.PROMISED_OVERDUE.value,
            RuleId.LEGAL_OVERDUE.value,
            RuleId.SPECIAL_OVERDUE.value,
            RuleId.IMMEDIATE_OPEN_AT_CLOSE.value,
        ],
        description="The card rules that count as 超时办结.",
    )

    @field_validator("rules")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - {r.value for r in RuleId})
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}")
        return v


class StarEntry(ConfigModel):
    """One window's 004 rating: the creation items and the panel's mark, as the panel gave them."""

    window: Ident = Field(description="The window rated.")
    year: int = Field(ge=2000, le=2100, description="The year of the rating (隔年12月初申报).")
    creation: float = Field(ge=0, description="创建项目考核 points (at most `creation_max`).")
    panel: float = Field(ge=0, description="考评小组评定 points (at most `panel_max`).")


class StarRatingConfig(ConfigModel):
    """`[scores.star_rating]`: the 004_… 三(二)(三) star rating, apart from the monthly score."""

    creation_max: int = Field(80, ge=0, description="创建项目考核 (seed 004_… 三(二)).")
    satisfaction_max: int = Field(10, ge=0, description="群众满意度测评 (seed 004_… 三(二)).")
    panel_max: int = Field(10, ge=0, description="考评小组评定 (seed 004_… 三(二)).")
    period_years: int = Field(2, ge=1, description="每2年开展一次星级评定 (seed 004_… 三(三)).")
    entries: list[StarEntry] = Field(
        default_factory=list, description="The ratings entered: window, year, creation, panel."
    )

    @model_validator(mode="after")
    def _bounded(self) -> StarRatingConfig:
        for i, e in enumerate(self.entries):
            if e.creation > self.creation_max or e.panel > self.panel_max:
                raise ValueError(
                    f"entries[{i}]: creation ≤ {self.creation_max} and panel ≤ {self.panel_max}"
                )
        return self


class TargetsConfig(ConfigModel):
    """`[scores.targets]`: the 004_… 二(一) service targets, flagged in the report when missed."""

    on_time: float = Field(100, ge=0, le=100, description="按时办结率 target, % (seed 004).")
    on_the_spot: float = Field(100, ge=0, le=100, description="现场办结率 target, % (seed 004).")
    satisfaction: float = Field(98, ge=0, le=100, description="满意率 target, % (seed 004).")


class GradeBand(ConfigModel):
    min_score: int = Field(description="Lowest score of the band (included).")
    name: str = Field(min_length=1, description="Grade shown on the report, e.g. 合格.")


class StarBand(ConfigModel):
    min_score: int = Field(description="Lowest score for the stars (included).")
    stars: int = Field(ge=1, le=5, description="Stars awarded.")


class ScoresConfig(ConfigModel):
    """`[scores]`: monthly efficiency scores. Defaults and sources in docs/scores.md."""

    base: int = Field(100, description="Score at the start of each month.")
    max_score: int = Field(110, description="Highest score with bonuses (practice elsewhere).")
    min_score: int = Field(0, description="Scores never fall below this.")
    rules: dict[str, DeductionRule] = Field(
        default_factory=lambda: dict(DEFAULT_RULES),
        description="Card rule id → deduction; merged over the defaults.",
    )
    grades: list[GradeBand] = Field(
        default_factory=lambda: [
            GradeBand(min_score=80, name="合格"),
            GradeBand(min_score=60, name="基本合格"),
        ],
        description="Grade bands, any order; below all of them is `below_grades`.",
    )
    below_grades: str = Field("不合格", description="Grade below every band.")
    excellent_min: int | None = Field(
        None,
        description="Lowest score graded 优秀, a band above `grades` (seed 000_… 九 picks its "
        "优秀 windows and officers from the evaluation but names no score); absent: no 优秀.",
    )
    stars: list[StarBand] = Field(
        default_factory=lambda: [
            StarBand(min_score=95, stars=5),
            StarBand(min_score=90, stars=4),
            StarBand(min_score=85, stars=3),
        ],
        description="Star bands of the 004 rating (seed 004_… 三(二)), over its 100 points "
        "(`star_rating`), never over the monthly score.",
    )
    unrated_after_days: int = Field(
        7, ge=0, description="A completed case unrated this many days later counts as 3 (基本满意)."
    )
    joint_step: DeductionRule = Field(
        JOINT_STEP, description="A joint case's co-department step overdue (000_… 八(五)2)."
    )
    mitigation: MitigationConfig = MitigationConfig()
    repeat_overtime: RepeatOvertimeConfig = RepeatOvertimeConfig()
    repeat_offender_count: int = Field(
        2,
        ge=1,
        description="Upheld accountable breaches of one officer in a year that raise a card to "
        "the hall's leadership (seed 000_… 八(六)3: 一年内出现两次以上).",
    )
    leadership: Ident | None = Field(
        None, description="Staff id of the hall's leadership: owner of the repeat-offender card."
    )
    last_place: bool = Field(
        True,
        description="Flag the last window of the month and take its honours (seed 002_… "
        "领导服务责任制度 五: 服务评议结果处于末位).",
    )
    star_rating: StarRatingConfig = StarRatingConfig()
    targets: TargetsConfig = TargetsConfig()

    @field_validator("rules", mode="before")
    @classmethod
    def _merge(cls, given: Any) -> Any:
        if not isinstance(given, Mapping):
            return given
        known = {r.value for r in RuleId}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}")
        return {**DEFAULT_RULES, **given}

    @model_validator(mode="after")
    def _excellent(self) -> ScoresConfig:
        """`excellent_min` is one more band, 优秀, so that every grade comes from `grades`."""
        if self.excellent_min is None or any(b.name == EXCELLENT for b in self.grades):
            return self
        top = max((b.min_score for b in self.grades), default=None)
        if top is not None and self.excellent_min <= top:
            raise ValueError(f"excellent_min {self.excellent_min} is not above the grade {top}")
        band = GradeBand(min_score=self.excellent_min, name=EXCELLENT)
        object.__setattr__(self, "grades", [band, *self.grades])  # frozen: set once, here
        return self


EXCELLENT = "优秀"


class TimeSeriesConfig(ConfigModel):
    """`[timeseries]`: where points go. Without `url` they go to the local store."""

    url: str | None = Field(
        None,
        description="Server base URL, e.g. http://127.0.0.1:8086 (InfluxDB) or "
        "http://127.0.0.1:8428 (VictoriaMetrics); absent: points go to points.sqlite3.",
    )
    org: str = Field("-", description="InfluxDB organization (ignored by 1.8 and VictoriaMetrics).")
    bucket: str = Field(
        "hallwatch", description="Bucket; InfluxDB 3: the database; 1.8: database/retention."
    )
    token_file: str | None = Field(
        None,
        description="File holding the API token (1.8: user:password); a relative name is looked "
        "up in $CREDENTIALS_DIRECTORY, else beside the config file. Absent: no authentication.",
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="Most points in one request.")
    flush_interval_s: float = Field(
        1.0, gt=0, le=3600, description="A point waits at most this long for its batch to fill."
    )
    max_outbox_rows: int = Field(
        2_000_000,
        ge=1,
        description="Outbox bound in points; when full, new points are refused and a card raised.",
    )
    timeout_s: float = Field(10.0, gt=0, le=600, description="HTTP timeout of one write request.")
    retry_min_s: float = Field(1.0, gt=0, description="First delay after a failed write.")
    retry_max_s: float = Field(
        60.0, gt=0, description="Longest delay between retries (backoff cap)."
    )
    gzip: bool = Field(True, description="gzip-compress request bodies.")


class HallConfig(ConfigModel):
    hall: HallInfo
    broker: BrokerConfig = BrokerConfig()
    journal: JournalConfig = JournalConfig()
    ingest: IngestConfig = IngestConfig()
    web: WebConfig = WebConfig()
    sessions: list[ServiceSession] = Field(min_length=1)
    seasons: list[SeasonalTimetable] = Field(
        default_factory=list,
        description="Seasonal timetables that replace `sessions` between their dates.",
    )
    calendar: CalendarConfig = CalendarConfig()
    cards: CardsConfig = CardsConfig()
    posts: PostsConfig = PostsConfig()
    timeseries: TimeSeriesConfig = TimeSeriesConfig()
    scores: ScoresConfig = ScoresConfig()
    complaints: ComplaintsConfig = ComplaintsConfig()
    notify: NotifyConfig = NotifyConfig()
    attendance: AttendanceConfig = AttendanceConfig()
    jobs: JobsConfig = JobsConfig()
    items: list[ItemConfig] = Field(
        default_factory=list,
        description="The item catalogue (事项清单): a case event may carry its item code alone "
        "(docs/contract.md).",
    )
    basis: BasisConfig = Field(
        default_factory=BasisConfig,
        description="Each rule's basis in the hall's own regulations (alerts/basis.py).",
    )
    duty: list[DutySlotConfig] = Field(
        default_factory=list,
        description="Leader-on-duty rota (领导值班, made quarterly; 002_…): date, half, leader.",
    )
    holiday_duty: list[HolidayDutyConfig] = Field(
        default_factory=list,
        description="Holiday duty rota (节假日值班, 001_… 第一篇(十)5): off days, staff, hours.",
    )
    departments: list[Department] = Field(min_length=1)
    staff: list[Staff] = Field(min_length=1)
    windows: list[Window] = Field(min_length=1)
    clocks: list[Clock] = Field(default_factory=list)
    cameras: list[Camera] = Field(default_factory=list)
    users: list[User] = Field(
        default_factory=list,
        description="Console logins (docs/console.md); none: nobody can log in to the console.",
    )

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hallwatch-{self.hall.id}"

    def device_zone(self, device: DeviceId) -> ZoneInfo | None:
        devices: list[Clock | Camera] = [*self.clocks, *self.cameras]
        for dev in devices:
            if dev.id == device:
                return ZoneInfo(dev.timezone) if dev.timezone else None
        return None

    def directory(self) -> Directory:
        return Directory.of(self)


# --- the hall's working calendar -------------------------------------------------------------


def work_calendar(cfg: HallConfig) -> WorkCalendar:
    tables = [_timetable(s.sessions, s) for s in cfg.seasons]
    tables.append(_timetable(cfg.sessions, None))
    overrides = [DayOverride(day=d.date, working=d.working, name=d.name) for d in cfg.calendar.days]
    return WorkCalendar(cfg.hall.zone, tables, overrides, cfg.calendar.complete_years)


def _timetable(sessions: list[ServiceSession], season: SeasonalTimetable | None) -> Timetable:
    spans = tuple(Session(start=s.start, end=s.end, name=s.name) for s in sessions)
    if season is None:
        return Timetable(sessions=spans)
    return Timetable(
        sessions=spans,
        valid_from=_month_day(season.valid_from),
        valid_to=_month_day(season.valid_to),
    )


def _month_day(text: str) -> tuple[int, int]:
    d = date.fromisoformat(f"2000-{text}")
    return d.month, d.day


class Directory:
    """Fast membership lookups the ingest needs on every message."""

    __slots__ = ("camera_windows", "cameras", "clocks", "items", "staff", "windows", "zones")

    def __init__(
        self,
        staff: frozenset[str],
        windows: frozenset[str],
        clocks: frozenset[str],
        camera_windows: dict[str, frozenset[str]],
        zones: dict[str, ZoneInfo],
        items: frozenset[str] = frozenset(),
    ) -> None:
        self.staff = staff
        self.windows = windows
        self.clocks = clocks
        self.cameras = frozenset(camera_windows)
        self.camera_windows = camera_windows
        self.zones = zones
        self.items = items  # the catalogue's item codes (事项清单)

    @classmethod
    def of(cls, cfg: HallConfig) -> Directory:
        devices: list[Clock | Camera] = [*cfg.clocks, *cfg.cameras]
        zones = {d.id: ZoneInfo(d.timezone) for d in devices if d.timezone}
        return cls(
            staff=frozenset(s.id for s in cfg.staff),
            windows=frozenset(w.id for w in cfg.windows),
            clocks=frozenset(c.id for c in cfg.clocks),
            camera_windows={c.id: frozenset(c.windows) for c in cfg.cameras},
            zones=zones,
            items=frozenset(i.code for i in cfg.items),
        )


def _dupes(path: str, ids: Iterable[str]) -> Iterator[str]:
    for ident, n in Counter(ids).items():
        if n > 1:
            yield f"{path}: id {ident!r} appears {n} times"


def _cross_problems(cfg: HallConfig) -> list[str]:
    """Checks that span sections: references, duplicates, overlapping sessions."""
    out: list[str] = []
    for section, items in (
        ("departments", cfg.departments),
        ("staff", cfg.staff),
        ("windows", cfg.windows),
        ("clocks", cfg.clocks),
        ("cameras", cfg.cameras),
    ):
        out.extend(_dupes(section, (i.id for i in items)))
    out.extend(_dupes("items", (i.code for i in cfg.items)))
    depts = {d.id for d in cfg.departments}
    staff = {s.id for s in cfg.staff}
    windows = {w.id for w in cfg.windows}
    for i, s in enumerate(cfg.staff):
        if s.department not in depts:
            out.append(f"staff[{i}].department: unknown department {s.department!r}")
    for i, w in enumerate(cfg.windows):
        if w.department not in depts:
            out.append(f"windows[{i}].department: unknown department {w.department!r}")
        if w.a_post not in staff:
            out.append(f"windows[{i}].a_post: unknown staff {w.a_post!r}")
        for j, b in enumerate(w.b_posts):
            if b not in staff:
                out.append(f"windows[{i}].b_posts[{j}]: unknown staff {b!r}")
            elif b == w.a_post:
                out.append(f"windows[{i}].b_posts[{j}]: {b!r} is already the A post")
        if w.neighbour is not None and w.neighbour not in windows:
            out.append(f"windows[{i}].neighbour: unknown window {w.neighbour!r}")
        if w.head is not None and w.head not in staff:
            out.append(f"windows[{i}].head: unknown staff {w.head!r}")
    for i, it in enumerate(cfg.items):
        if it.department not in depts:
            out.append(f"items[{i}].department: unknown department {it.department!r}")
    for i, c in enumerate(cfg.cameras):
        for j, win in enumerate(c.windows):
            if win not in windows:
                out.append(f"cameras[{i}].windows[{j}]: unknown window {win!r}")
    out.extend(_session_problems(cfg.sessions))
    for i, season in enumerate(cfg.seasons):
        out.extend(f"seasons[{i}].{p}" for p in _session_problems(season.sessions))
    out.extend(_dupes("calendar.days", (d.date.isoformat() for d in cfg.calendar.days)))
    leaders = {s.id for s in cfg.staff if s.role is StaffRole.LEADER}
    for i, slot in enumerate(cfg.duty):
        if slot.leader not in leaders:
            out.append(f"duty[{i}].leader: {slot.leader!r} is not a staff member with role leader")
    for key, ids in (
        ("leave_deputies", cfg.attendance.leave_deputies),
        ("leave_heads", cfg.attendance.leave_heads),
    ):
        for j, sid in enumerate(ids):
            if sid not in staff:
                out.append(f"attendance.{key}[{j}]: unknown staff {sid!r}")
    if cfg.holiday_duty:
        out.extend(holiday_problems(cfg.holiday_duty, staff, work_calendar(cfg)))
    out.extend(_user_problems(cfg))
    out.extend(cfg.basis.problems())
    out.extend(notify_problems(cfg.notify, staff, windows))
    if cfg.broker.reconnect_max_s < cfg.broker.reconnect_min_s:
        out.append("broker.reconnect_max_s: must not be below broker.reconnect_min_s")
    return out


def _user_problems(cfg: HallConfig) -> Iterator[str]:
    yield from _dupes("users", (u.name for u in cfg.users))
    roles = {s.id: s.role for s in cfg.staff}
    exposed = not _loopback(cfg.web.listen)
    for i, u in enumerate(cfg.users):
        if u.staff is not None and u.staff not in roles:
            yield f"users[{i}].staff: unknown staff {u.staff!r}"
        elif u.role is Role.SUPERVISOR and (
            u.staff is None or roles[u.staff] is not StaffRole.SUPERVISOR
        ):
            yield f"users[{i}].staff: a supervisor user must be a staff member with role supervisor"
        if exposed and u.password_hash in DEMO_HASHES:
            yield (
                f"users[{i}].password_hash: the example's demo password, refused while "
                f"web.listen ({cfg.web.listen}) is not loopback: run hallwatch passwd"
            )


def _loopback(listen: str) -> bool:
    if listen == "localhost":
        return True
    try:
        return ipaddress.ip_address(listen).is_loopback
    except ValueError:
        return False


def _session_problems(sessions: list[ServiceSession]) -> Iterator[str]:
    for i, s in enumerate(sessions):
        if s.end <= s.start:
            yield f"sessions[{i}].end: {s.end} is not after start {s.start}"
    ordered = sorted(enumerate(sessions), key=lambda p: p[1].start)
    for (_, a), (j, b) in pairwise(ordered):
        if b.start < a.end:
            yield f"sessions[{j}].start: {b.start} overlaps session {a.name!r} ending {a.end}"


def parse_config(data: dict[str, Any], source: str = "<config>") -> HallConfig:
    """Validate a decoded TOML document; raise ConfigError listing every problem."""
    return validate(HallConfig, data, source, _cross_problems)

"""Hall configuration: one TOML file per hall, validated into typed, frozen models.

Validation never does I/O. Reading the file and the broker password are done by
`load_config` and `read_secret`, the only functions here that touch the disk.
Every problem is reported with its key path (``windows[3].a_post``), all at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, time
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError, field_validator

from alerts.attendance import AttendanceConfig
from alerts.complaints import ComplaintsConfig
from alerts.duty import DutySlotConfig
from alerts.posts import PostsConfig
from alerts.scores import ScoresConfig
from alerts.sinks import TimeSeriesConfig
from monitor.auth import DEMO_HASHES, Account, Role, check_hash
from monitor.ids import DeviceId, HallId, StaffId, WindowId
from monitor.model import ConfigModel, check_zone

date_type = date  # `date` is also a field name below

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
_HOSTNAME = re.compile(r"(?i)[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}\.?")


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists each one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))


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
        65536, ge=1024, description="Larger payloads are rejected (CONTRACT.md: 64 KiB)."
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
    role: Literal["display", "leader", "supervisor", "admin"] = Field(
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
            name=self.name, role=Role(self.role), password_hash=self.password_hash, staff=staff
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
        120, ge=1, description="Immediate case: yellow after this much working time (issue 3)."
    )
    report_days: int = Field(
        3, ge=1, description="Reported-up case: report within (a hall's case rules)."
    )
    reply_answer_days: int = Field(
        2, ge=1, description="Reported-up case: answer the applicant within, after the reply."
    )
    supplement_days: int = Field(
        5, ge=1, description="Supplement notice within (行政许可法 第三十二条)."
    )
    refusal_review_days: int = Field(
        2, ge=1, description="Negative filing reviewed within (000_… 六(五))."
    )
    correction_days: int = Field(
        1, ge=1, description="Unlawful refusal corrected within, after review (000_… 六(五))."
    )
    answer_days: int = Field(
        2, ge=1, description="A red card's owner answers (陈述申辩) within; then it escalates."
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
    role: Literal["officer", "leader", "supervisor"] = Field(
        "officer", description="officer at a window, leader (值班领导), supervisor (效能投诉中心)."
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
    attendance: AttendanceConfig = AttendanceConfig()
    duty: list[DutySlotConfig] = Field(
        default_factory=list,
        description="Leader-on-duty rota (领导值班, made quarterly; 002_…): date, half, leader.",
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


class Directory:
    """Fast membership lookups the ingest needs on every message."""

    __slots__ = ("camera_windows", "cameras", "clocks", "staff", "windows", "zones")

    def __init__(
        self,
        staff: frozenset[str],
        windows: frozenset[str],
        clocks: frozenset[str],
        camera_windows: dict[str, frozenset[str]],
        zones: dict[str, ZoneInfo],
    ) -> None:
        self.staff = staff
        self.windows = windows
        self.clocks = clocks
        self.cameras = frozenset(camera_windows)
        self.camera_windows = camera_windows
        self.zones = zones

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
    for i, c in enumerate(cfg.cameras):
        for j, win in enumerate(c.windows):
            if win not in windows:
                out.append(f"cameras[{i}].windows[{j}]: unknown window {win!r}")
    out.extend(_session_problems(cfg.sessions))
    for i, season in enumerate(cfg.seasons):
        out.extend(f"seasons[{i}].{p}" for p in _session_problems(season.sessions))
    out.extend(_dupes("calendar.days", (d.date.isoformat() for d in cfg.calendar.days)))
    leaders = {s.id for s in cfg.staff if s.role == "leader"}
    for i, slot in enumerate(cfg.duty):
        if slot.leader not in leaders:
            out.append(f"duty[{i}].leader: {slot.leader!r} is not a staff member with role leader")
    out.extend(_user_problems(cfg))
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
        elif u.role == "supervisor" and (u.staff is None or roles[u.staff] != "supervisor"):
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


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M],
    data: dict[str, Any],
    source: str,
    cross: Callable[[M], list[str]] = lambda _m: [],
) -> M:
    """A typed model from decoded TOML, or ConfigError with every problem and its key path."""
    try:
        cfg = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise ConfigError(source, problems) from exc
    problems = cross(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A TOML file as data; unreadable, non-UTF-8 or bad syntax is a ConfigError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), [f"not UTF-8 at byte {exc.start}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [f"TOML syntax: {exc}"]) from exc


def parse_config(data: dict[str, Any], source: str = "<config>") -> HallConfig:
    """Validate a decoded TOML document; raise ConfigError listing every problem."""
    return validate(HallConfig, data, source, _cross_problems)


def load_config(path: str | os.PathLike[str]) -> HallConfig:
    return parse_config(read_toml(path), str(path))


def read_secret(name: str, config_path: Path | None) -> str:
    """Resolve a secret file: absolute path, $CREDENTIALS_DIRECTORY, or beside the config."""
    candidates = [Path(name)] if os.path.isabs(name) else []
    if not candidates:
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds:
            candidates.append(Path(creds) / name)
        if config_path is not None:
            candidates.append(config_path.parent / name)
    for c in candidates:
        if c.is_file():
            return c.read_text(encoding="utf-8").strip()
    raise ConfigError("broker.password_file", [f"secret {name!r} not found in {candidates}"])


def example_config_path() -> Path:
    """The embedded example hall: packaged copy first, then the source tree's config/."""
    packaged = Path(__file__).parent / "_embedded" / "hall.example.toml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "config" / "hall.example.toml"

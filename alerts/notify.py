"""Who is told what about a card, when, and in which words. Pure.

A notice starts from a card transition as published (the journal's outbox payload,
docs/contract.md): only two moments tell anyone, a card raised (`raised`, reason `condition_met`)
and a red escalated because its answer is overdue (`escalated`, `answer_overdue`). Every other
transition tells nobody; a warning that closes before its notice went out cancels it (the shell
does that). Since transitions are the engine's judgements, nothing is sent about a judgement the
daemon would not yet make (the complete-evidence rules hold upstream).

`plan` decides, for one transition at `now`: the routes that match its rule, level and moment
(`NotifyRoute`, defaults below), the people they name (the card's owner, the window's head, the
supervisors, the admins), the channels that can address each of them, the instant each notice
may leave (`send_time`: red at once; yellow within the hall's sending hours on a working day,
else at the next working morning) and the Chinese text. Whatever it does not send it names,
with a `Skip` reason.

Defaults (docs/notify.md): yellow → owner; red → owner and window head; escalated → the
supervisors; system cards and calendar.missing → the admins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import msgspec
from pydantic import Field

from alerts.basis import DEFAULT as DEFAULT_BASES
from alerts.basis import Bases
from alerts.model import ConfigModel
from alerts.rules import RuleId
from alerts.workdays import WorkCalendar

if TYPE_CHECKING:
    from alerts.config import HallConfig

_HOUR = timedelta(hours=1)
_WEEKDAYS = "一二三四五六日"
_HALL_RULES = ["case.*", "post.*", "attendance.*", "duty.*", "complaint.*", "review.*"]


class Recipient(StrEnum):
    OWNER = "owner"  # the card's owner (承办人)
    WINDOW_HEAD = "window_head"  # the window's head (负责人), `windows[].head`
    SUPERVISORS = "supervisors"  # staff with role supervisor (效能投诉中心)
    ADMINS = "admins"  # `notify.admins`, else the staff of the admin users


class Moment(StrEnum):
    RAISED = "raised"
    ESCALATED = "escalated"


class Address(StrEnum):
    EMAIL = "email"  # the staff member's `email`
    MOBILE = "mobile"  # the staff member's `mobile` (SMS, DingTalk @)
    NONE = "none"  # a group robot: the message names the person, addresses nobody


class Skip(StrEnum):
    """Why someone a route names is not told."""

    NOT_TOLD = "not_told"  # no route for this rule, level and moment
    NO_OWNER = "no_owner"  # the card has no owner
    NO_HEAD = "no_head"  # the window has no head configured
    NOBODY = "nobody"  # the role has no member
    NO_ADDRESS = "no_address"  # no channel of the route can address this person
    UNKNOWN_STAFF = "unknown_staff"  # an owner the staff table does not know


class Timing(StrEnum):
    """Why a notice leaves when it does."""

    AT_ONCE = "at_once"  # its level is sent whatever the hour
    NOW = "now"  # within the sending hours of a working day
    LATER_TODAY = "later_today"  # before the sending hours: this morning
    NEXT_WORKING_DAY = "next_working_day"  # after hours or on a day off


Alarm = Literal["yellow", "red"]


class NotifyRoute(ConfigModel):
    on: Moment = Field(
        description="raised (a card is raised) or escalated (a red's answer is overdue)."
    )
    levels: list[Alarm] = Field(["yellow", "red"], description="Card levels it applies to.")
    rules: list[str] = Field(
        _HALL_RULES,
        description="Rule ids, or prefixes ending in `*` (case.*, system.*); default: every "
        "hall rule (not system.* nor calendar.missing).",
    )
    to: list[Recipient] = Field(
        min_length=1, description="owner, window_head, supervisors and/or admins."
    )
    channels: list[str] = Field(
        default_factory=list, description="Names of `notify.channels` to use; empty: all of them."
    )


def _routes() -> list[NotifyRoute]:
    system = ["system.*", RuleId.CALENDAR_MISSING.value]
    return [
        NotifyRoute(on=Moment.RAISED, levels=["yellow"], to=[Recipient.OWNER]),
        NotifyRoute(on=Moment.RAISED, levels=["red"], to=[Recipient.OWNER, Recipient.WINDOW_HEAD]),
        NotifyRoute(on=Moment.ESCALATED, levels=["red"], to=[Recipient.SUPERVISORS]),
        NotifyRoute(on=Moment.RAISED, rules=system, to=[Recipient.ADMINS]),
    ]


class NotifyChannel(ConfigModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Channel name, used by routes, metrics and /healthz.",
    )
    kind: Literal["apprise", "dingtalk"] = Field(
        description="apprise: any Apprise URL (mailto/mailtos e-mail, wecombot, SMS gateways); "
        "dingtalk: a DingTalk group robot, signed (docs/notify.md)."
    )
    url: str = Field(
        description="apprise: the URL, with {to} for the person's address, {token} and {secret} "
        "for the secret files' contents; dingtalk: the robot's send URL without its token, "
        "e.g. https://oapi.dingtalk.com/robot/send."
    )
    address: Address = Field(
        description="Which staff field addresses a person: email, mobile, or none (a group)."
    )
    token_file: str | None = Field(
        None,
        description="Secret file: dingtalk's access_token, or {token} of an Apprise URL; a "
        "relative name is looked up in $CREDENTIALS_DIRECTORY, else beside the config file.",
    )
    secret_file: str | None = Field(
        None,
        description="Secret file: dingtalk's signing secret (SEC…, 加签), or {secret} of an "
        "Apprise URL (an SMTP password); looked up like token_file.",
    )
    windows: list[str] = Field(
        default_factory=list,
        description="Only cards of these windows (a department's group robot); empty: all.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Timeout of one send.")


class NotifyConfig(ConfigModel):
    """`[notify]`: who is told of which cards, when and through which channels (docs/notify.md).
    Without channels nobody is told."""

    console_url: str | None = Field(
        None,
        description="Base URL of the console in links, e.g. https://jiancha.example.gov.cn; "
        "default http://{web.listen}:{web.port}.",
    )
    send_from: time = Field(
        time(8, 0), description="Non-urgent notices leave from (local; default 08:00)."
    )
    send_until: time = Field(
        time(20, 0), description="… and until (local; default 20:00); later: the next morning."
    )
    working_days_only: bool = Field(
        True, description="Non-urgent notices wait for a working day (alerts/workdays.py)."
    )
    at_once_levels: list[Alarm] = Field(
        ["red"],
        description="Levels sent at once, whatever the hour and the day.",
    )
    routes: list[NotifyRoute] = Field(
        default_factory=_routes,
        description="Who is told of what; replaces the defaults (docs/notify.md) when given.",
    )
    channels: list[NotifyChannel] = Field(
        default_factory=list, description="Where notices go; none: notification is off."
    )
    admins: list[str] = Field(
        default_factory=list,
        description="Staff ids told of system cards; empty: the staff of the admin users.",
    )
    per_person_per_hour: int = Field(
        20, ge=1, le=1000, description="Notices one person gets in an hour; more wait, none drop."
    )
    retry_min_s: float = Field(30.0, gt=0, description="First delay after a failed send.")
    retry_max_s: float = Field(600.0, gt=0, description="Longest delay between retries.")
    failing_card_after_s: float = Field(
        900.0,
        gt=0,
        description="A channel failing this long raises the system card "
        "system.notify_channel_failing (to the admins, on the other channels).",
    )


# --- the people and the news ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    id: str
    name: str
    email: str | None = None
    mobile: str | None = None

    def address(self, kind: Address) -> str | None:
        if kind is Address.EMAIL:
            return self.email
        if kind is Address.MOBILE:
            return self.mobile
        return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class People:
    staff: Mapping[str, Person]
    window_heads: Mapping[str, str]
    window_names: Mapping[str, str]
    supervisors: tuple[str, ...]
    admins: tuple[str, ...]
    bases: Bases = DEFAULT_BASES

    @classmethod
    def of(cls, cfg: HallConfig) -> People:
        admins = cfg.notify.admins or [u.staff for u in cfg.users if u.role == "admin" and u.staff]
        return cls(
            staff={
                s.id: Person(id=s.id, name=s.name, email=s.email, mobile=s.mobile)
                for s in cfg.staff
            },
            window_heads={w.id: w.head for w in cfg.windows if w.head},
            window_names={w.id: w.name for w in cfg.windows},
            supervisors=tuple(s.id for s in cfg.staff if s.role == "supervisor"),
            admins=tuple(dict.fromkeys(admins)),
            bases=Bases.of(cfg.basis),
        )


class NewsSubject(msgspec.Struct, frozen=True, gc=False):
    case: str | None = None
    window: str | None = None
    staff: str | None = None


class CardNews(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A published card transition, as the outbox holds it (hall rules and system cards)."""

    card: str
    rule: str
    level: str
    state: str
    reason: str
    ts: datetime
    title: str
    subject: NewsSubject = NewsSubject()
    owner: str | None = None
    answer_by: datetime | None = None
    holds: bool = True
    estimated: bool = False


_decoder = msgspec.json.Decoder(CardNews)


def decode_news(payload: bytes) -> CardNews | None:
    """The transition in a card payload; None for anything else (a lone reject is no news)."""
    try:
        return _decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def moment_of(news: CardNews) -> Moment | None:
    if news.state == "raised" and news.reason == "condition_met":
        return Moment.RAISED
    if news.state == "escalated" and news.reason == "answer_overdue":
        return Moment.ESCALATED
    return None


def cancels(news: CardNews) -> bool:
    """A transition after which a notice still waiting for its card is no longer true."""
    return news.state == "closed"


# --- the decision ---------------------------------------------------------------------------


class Notice(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str  # stable: transition, person, channel
    card: str
    transition: str
    staff: str
    channel: str
    address: str
    title: str
    body: str
    not_before: datetime
    timing: Timing


class Plan(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    moment: Moment | None
    notices: tuple[Notice, ...]
    skipped: tuple[tuple[str, Skip], ...]  # (who, why): a role or a staff id


def notice_id(transition: str, staff: str, channel: str) -> str:
    return hashlib.sha256(f"{transition}|{staff}|{channel}".encode()).hexdigest()[:32]


def matches(route: NotifyRoute, news: CardNews, moment: Moment) -> bool:
    if route.on is not moment or news.level not in route.levels:
        return False
    return any(
        news.rule.startswith(r[:-1]) if r.endswith("*") else news.rule == r for r in route.rules
    )


def plan(
    news: CardNews,
    transition: str,
    cfg: NotifyConfig,
    people: People,
    calendar: WorkCalendar,
    *,
    deadline: datetime | None,
    console_url: str,
    now: datetime,
) -> Plan:
    moment = moment_of(news)
    routes = [r for r in cfg.routes if moment is not None and matches(r, news, moment)]
    if moment is None or not routes:
        return Plan(moment=moment, notices=(), skipped=(("", Skip.NOT_TOLD),))
    at, timing = send_time(news.level, now, cfg, calendar)
    title, body = render(news, moment, people, calendar.zone, deadline, console_url)
    notices: dict[str, Notice] = {}
    skipped: list[tuple[str, Skip]] = []
    for route in routes:
        channels = [c for c in cfg.channels if _serves(c, route, news)]
        for who in route.to:
            staff, why = _members(who, news, people)
            if why is not None:
                skipped.append((who.value, why))
            for sid in staff:
                person = people.staff.get(sid)
                if person is None:
                    skipped.append((sid, Skip.UNKNOWN_STAFF))
                    continue
                found = _addressed(person, channels, transition, title, body, news, at, timing)
                if not found:
                    skipped.append((sid, Skip.NO_ADDRESS))
                notices.update((n.id, n) for n in found)
    return Plan(moment=moment, notices=tuple(notices.values()), skipped=tuple(skipped))


def _serves(channel: NotifyChannel, route: NotifyRoute, news: CardNews) -> bool:
    if route.channels and channel.name not in route.channels:
        return False
    return not channel.windows or news.subject.window in channel.windows


def _members(who: Recipient, news: CardNews, people: People) -> tuple[tuple[str, ...], Skip | None]:
    if who is Recipient.OWNER:
        return ((news.owner,), None) if news.owner else ((), Skip.NO_OWNER)
    if who is Recipient.WINDOW_HEAD:
        head = people.window_heads.get(news.subject.window or "")
        return ((head,), None) if head else ((), Skip.NO_HEAD)
    found = people.supervisors if who is Recipient.SUPERVISORS else people.admins
    return (found, None) if found else ((), Skip.NOBODY)


def _addressed(
    person: Person,
    channels: Iterable[NotifyChannel],
    transition: str,
    title: str,
    body: str,
    news: CardNews,
    at: datetime,
    timing: Timing,
) -> list[Notice]:
    out = []
    for c in channels:
        address = person.address(c.address)
        if address is None:
            continue
        out.append(
            Notice(
                id=notice_id(transition, person.id, c.name),
                card=news.card,
                transition=transition,
                staff=person.id,
                channel=c.name,
                address=address,
                title=title,
                body=body,
                not_before=at,
                timing=timing,
            )
        )
    return out


# --- when -----------------------------------------------------------------------------------


def send_time(
    level: str, now: datetime, cfg: NotifyConfig, calendar: WorkCalendar
) -> tuple[datetime, Timing]:
    """The first instant at or after `now` a notice of `level` may leave, and why then."""
    if level in cfg.at_once_levels:
        return now, Timing.AT_ONCE
    local = now.astimezone(calendar.zone)
    day = local.date()
    if _sending_day(day, cfg, calendar):
        if cfg.send_from <= local.time() < cfg.send_until:
            return now, Timing.NOW
        if local.time() < cfg.send_from:
            return _at(day, cfg.send_from, calendar.zone), Timing.LATER_TODAY
    day += timedelta(days=1)
    while not _sending_day(day, cfg, calendar):
        day += timedelta(days=1)
    return _at(day, cfg.send_from, calendar.zone), Timing.NEXT_WORKING_DAY


def _sending_day(day: date, cfg: NotifyConfig, calendar: WorkCalendar) -> bool:
    return not cfg.working_days_only or calendar.is_working_day(day)


def _at(day: date, t: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, t, zone).astimezone(UTC)


def rate_wait(sent: Sequence[datetime], now: datetime, per_hour: int) -> datetime | None:
    """When one more notice may go to a person who was sent these: None means now."""
    recent = sorted(t for t in sent if now - t < _HOUR)
    if len(recent) < per_hour:
        return None
    return recent[len(recent) - per_hour] + _HOUR


def retry_delay(attempts: int, min_s: float, max_s: float) -> timedelta:
    """Backoff after the `attempts`-th failure in a row: min, 2·min, 4·min … up to max."""
    return timedelta(seconds=min(max_s, min_s * 2 ** max(0, attempts - 1)))


# --- the words ------------------------------------------------------------------------------


def local_text(t: datetime, zone: tzinfo) -> str:
    local = t.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M}（周{_WEEKDAYS[local.weekday()]}）"


def card_link(console_url: str, card: str) -> str:
    return f"{console_url.rstrip('/')}/console/#/card/{card}"


def _heading(news: CardNews, moment: Moment) -> str:
    if news.rule.startswith("system.") or news.rule == RuleId.CALENDAR_MISSING:
        return "【系统告警】"
    if moment is Moment.ESCALATED:
        return "【红牌·逾期未申辩】"
    return "【红牌】" if news.level == "red" else "【黄牌预警】"


def _basis(rule: str, bases: Bases) -> str:
    try:
        return bases.text(RuleId(rule))
    except ValueError:
        return "系统运行状态"


def render(
    news: CardNews,
    moment: Moment,
    people: People,
    zone: tzinfo,
    deadline: datetime | None,
    console_url: str,
) -> tuple[str, str]:
    """The notice's title and body, in Chinese, times in the hall's local time."""
    title = f"{_heading(news, moment)}{news.title}"
    lines = [f"事项：{news.title}（{news.rule}）"]
    s = news.subject
    if s.case:
        lines.append(f"办件：{s.case}")
    if s.window:
        name = people.window_names.get(s.window)
        lines.append(f"窗口：{s.window}" + (f" {name}" if name else ""))
    who = s.staff or news.owner
    if who:
        person = people.staff.get(who)
        lines.append(f"责任人：{person.name if person else who}")
    lines.append(f"发生时间：{local_text(news.ts, zone)}")
    lines += _deadline_lines(news, moment, deadline, zone)
    lines.append(f"依据：{_basis(news.rule, people.bases)}")
    lines.append(f"查看：{card_link(console_url, news.card)}")
    return title, "\n".join(lines)


def _deadline_lines(
    news: CardNews, moment: Moment, deadline: datetime | None, zone: tzinfo
) -> list[str]:
    out = []
    if deadline is not None:
        passed = "（已超过）" if deadline <= news.ts else "前办结"
        out.append(f"办理时限：{local_text(deadline, zone)}{passed}")
    if news.answer_by is not None and moment is Moment.RAISED:
        out.append(f"请于 {local_text(news.answer_by, zone)} 前陈述申辩")
    if moment is Moment.ESCALATED and news.answer_by is not None:
        out.append(f"申辩期限 {local_text(news.answer_by, zone)} 已过，请督查室处理")
    if news.estimated:
        out.append("（该年节假日安排未录入，时限为估算）")
    return out


def notify_problems(
    cfg: NotifyConfig, staff: Iterable[str], windows: Iterable[str]
) -> Iterable[str]:
    """Checks of `[notify]` against the rest of the hall (alerts/config.py runs them)."""
    staff, windows = set(staff), set(windows)
    names = [c.name for c in cfg.channels]
    for name in {n for n in names if names.count(n) > 1}:
        yield f"notify.channels: name {name!r} appears {names.count(name)} times"
    for i, route in enumerate(cfg.routes):
        for j, ch in enumerate(route.channels):
            if ch not in names:
                yield f"notify.routes[{i}].channels[{j}]: unknown channel {ch!r}"
    for i, c in enumerate(cfg.channels):
        for j, w in enumerate(c.windows):
            if w not in windows:
                yield f"notify.channels[{i}].windows[{j}]: unknown window {w!r}"
        if c.kind == "dingtalk" and c.token_file is None:
            yield f"notify.channels[{i}].token_file: a DingTalk robot needs its access token"
    for i, sid in enumerate(cfg.admins):
        if sid not in staff:
            yield f"notify.admins[{i}]: unknown staff {sid!r}"
    if cfg.send_until <= cfg.send_from:
        yield "notify.send_until: must be after notify.send_from"
    if cfg.retry_max_s < cfg.retry_min_s:
        yield "notify.retry_max_s: must not be below notify.retry_min_s"

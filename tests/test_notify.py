"""Who is told what, when and in which words (alerts/notify.py), at fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.config import HallConfig, parse_config, work_calendar
from alerts.errors import ConfigError
from alerts.notify import (
    CardNews,
    Moment,
    NewsSubject,
    People,
    Skip,
    Timing,
    decode_news,
    plan,
    rate_wait,
    retry_delay,
    send_time,
)
from hallkit.config import example_config_path, read_toml

ZONE = ZoneInfo("Asia/Shanghai")
CONSOLE = "https://jiancha.example.gov.cn"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)


def hall_data(**notify: Any) -> dict[str, Any]:
    """The example hall with contacts, a head for W03 and two channels."""
    data = read_toml(example_config_path())
    for s in data["staff"]:
        if s["id"] == "S005":
            s |= {"mobile": "13800000005", "email": "chenjing@example.gov.cn"}
        if s["id"] == "L001":
            s |= {"mobile": "13800000101"}  # no e-mail: DingTalk only
        if s["id"] == "D001":
            s |= {"email": "dujia@example.gov.cn"}
    for w in data["windows"]:
        if w["id"] == "W03":
            w["head"] = "L001"
    channels = [
        {"name": "mail", "kind": "apprise", "url": "mailtos://x/{to}", "address": "email"},
        {
            "name": "ding",
            "kind": "dingtalk",
            "url": "https://oapi.dingtalk.com/robot/send",
            "address": "mobile",
            "token_file": "ding-token",
        },
    ]
    data["notify"] = {"console_url": CONSOLE, "channels": channels, **notify}
    return data


def hall(**notify: Any) -> HallConfig:
    return parse_config(hall_data(**notify))


def news(rule: str, level: str, state: str = "raised", reason: str = "condition_met", **kw: Any):
    fields: dict[str, Any] = {
        "card": "K-0123456789ABCDEF",
        "rule": rule,
        "level": level,
        "state": state,
        "reason": reason,
        "ts": local("2026-12-01T17:25:00"),
        "title": kw.pop("title", "承诺时限即将到期"),
        "subject": NewsSubject(case="C-2026-0042", window="W03", staff="S005"),
        "owner": "S005",
    }
    return CardNews(**(fields | kw))


# --- when: sending hours, working days, urgent levels ---------------------------------------

WHEN = [
    # level, raised at (local), leaves at (local), why
    ("yellow", "2026-12-01T17:25:00", "2026-12-01T17:25:00", Timing.NOW),  # Tuesday afternoon
    ("yellow", "2026-12-01T22:10:00", "2026-12-02T08:00:00", Timing.NEXT_WORKING_DAY),
    ("yellow", "2026-12-02T06:30:00", "2026-12-02T08:00:00", Timing.LATER_TODAY),
    ("yellow", "2026-12-02T20:00:00", "2026-12-03T08:00:00", Timing.NEXT_WORKING_DAY),  # edge
    ("yellow", "2026-12-04T21:00:00", "2026-12-07T08:00:00", Timing.NEXT_WORKING_DAY),  # Fri
    ("yellow", "2026-12-05T10:00:00", "2026-12-07T08:00:00", Timing.NEXT_WORKING_DAY),  # Sat
    ("yellow", "2026-10-01T10:00:00", "2026-10-08T08:00:00", Timing.NEXT_WORKING_DAY),  # 国庆
    ("yellow", "2026-10-09T21:00:00", "2026-10-10T08:00:00", Timing.NEXT_WORKING_DAY),  # 调休
    ("red", "2026-12-05T23:40:00", "2026-12-05T23:40:00", Timing.AT_ONCE),
    ("red", "2026-12-01T17:25:00", "2026-12-01T17:25:00", Timing.AT_ONCE),
]


@pytest.mark.parametrize(("level", "at", "leaves", "why"), WHEN)
def test_send_time_keeps_quiet_hours_and_working_days(
    level: str, at: str, leaves: str, why: Timing
) -> None:
    cfg = hall()
    assert send_time(level, local(at), cfg.notify, work_calendar(cfg)) == (local(leaves), why)


def test_send_time_every_day_when_working_days_are_not_required() -> None:
    cfg = hall(working_days_only=False, at_once_levels=[])
    got = send_time("red", local("2026-12-05T21:00:00"), cfg.notify, work_calendar(cfg))
    assert got == (local("2026-12-06T08:00:00"), Timing.NEXT_WORKING_DAY)


# --- who -----------------------------------------------------------------------------------

WHO = [
    # news, told (staff, channel), skipped (who, why)
    (
        news("case.promised.warning", "yellow"),
        {("S005", "mail"), ("S005", "ding")},
        set(),
    ),
    (
        news("case.promised.overdue", "red", title="超过承诺时限"),
        {("S005", "mail"), ("S005", "ding"), ("L001", "ding")},
        set(),
    ),
    (
        news("case.promised.overdue", "red", subject=NewsSubject(case="C-1", window="W01")),
        {("S005", "mail"), ("S005", "ding")},
        {("window_head", Skip.NO_HEAD)},
    ),
    (
        news("case.promised.overdue", "red", "escalated", "answer_overdue"),
        {("D001", "mail")},
        set(),  # D001 has no mobile: e-mail only
    ),
    (
        news("system.notify_channel_failing", "red", owner=None, subject=NewsSubject()),
        set(),
        {("admins", Skip.NOBODY)},  # the example's admin user names no staff member
    ),
    (
        news("post.unstaffed.warning", "yellow", owner="S011", title="窗口无人"),
        set(),
        {("S011", Skip.NO_ADDRESS)},  # no e-mail, no mobile: named, not silently dropped
    ),
    (news("case.promised.warning", "yellow", "closed", "cleared"), set(), {("", Skip.NOT_TOLD)}),
    (news("case.promised.overdue", "red", "answered", "answered"), set(), {("", Skip.NOT_TOLD)}),
    (news("calendar.missing", "yellow", owner=None), set(), {("admins", Skip.NOBODY)}),
    (news("case.promised.warning", "yellow", owner=None), set(), {("owner", Skip.NO_OWNER)}),
    (news("case.promised.warning", "yellow", owner="S999"), set(), {("S999", Skip.UNKNOWN_STAFF)}),
]


@pytest.mark.parametrize(("item", "told", "skipped"), WHO)
def test_who_is_told(item: CardNews, told: set[tuple[str, str]], skipped: set[Any]) -> None:
    cfg = hall()
    p = plan(
        item,
        "t1",
        cfg.notify,
        People.of(cfg),
        work_calendar(cfg),
        deadline=None,
        console_url=CONSOLE,
        now=item.ts,
    )
    assert {(n.staff, n.channel) for n in p.notices} == told
    assert set(p.skipped) == skipped


def test_admins_and_routes_are_configurable() -> None:
    routes = [{"on": "raised", "levels": ["yellow"], "to": ["supervisors"], "channels": ["mail"]}]
    cfg = hall(admins=["L001"], routes=routes)
    people, cal = People.of(cfg), work_calendar(cfg)
    p = plan(
        news("case.promised.warning", "yellow"),
        "t1",
        cfg.notify,
        people,
        cal,
        deadline=None,
        console_url=CONSOLE,
        now=local("2026-12-01T10:00:00"),
    )
    assert [(n.staff, n.channel) for n in p.notices] == [("D001", "mail")]
    assert people.admins == ("L001",)


def test_a_channel_for_some_windows_only() -> None:
    data = hall_data()
    data["notify"]["channels"][1]["windows"] = ["W01"]
    cfg = parse_config(data)
    p = plan(
        news("case.promised.warning", "yellow"),
        "t1",
        cfg.notify,
        People.of(cfg),
        work_calendar(cfg),
        deadline=None,
        console_url=CONSOLE,
        now=local("2026-12-01T10:00:00"),
    )
    assert [n.channel for n in p.notices] == ["mail"]


# --- the words -----------------------------------------------------------------------------


def test_the_yellow_notice_says_what_which_case_the_deadline_the_basis_and_the_link() -> None:
    cfg = hall()
    p = plan(
        news("case.promised.warning", "yellow"),
        "t1",
        cfg.notify,
        People.of(cfg),
        work_calendar(cfg),
        deadline=local("2026-12-02T17:30:00"),
        console_url=CONSOLE + "/",
        now=local("2026-12-01T17:25:00"),
    )
    n = p.notices[0]
    assert n.title == "【黄牌预警】承诺时限即将到期"
    assert "办件：C-2026-0042" in n.body
    assert "窗口：W03 不动产登记(一)" in n.body
    assert "责任人：陈静" in n.body
    assert "办理时限：2026-12-02 17:30（周三）前办结" in n.body
    assert "依据：《县行政服务中心限时办结制度》第二条" in n.body
    assert f"查看：{CONSOLE}/console/#/card/K-0123456789ABCDEF" in n.body
    assert n.not_before == local("2026-12-01T17:25:00")
    assert p.moment is Moment.RAISED


def test_red_and_escalated_notices_name_the_answer_deadline() -> None:
    cfg = hall()
    answer_by = local("2026-12-03T17:30:00")
    args = (cfg.notify, People.of(cfg), work_calendar(cfg))
    red = news("case.promised.overdue", "red", title="超过承诺时限", answer_by=answer_by)
    body = plan(red, "t", *args, deadline=None, console_url=CONSOLE, now=red.ts).notices[0].body
    assert "请于 2026-12-03 17:30（周四） 前陈述申辩" in body
    up = news("case.promised.overdue", "red", "escalated", "answer_overdue", answer_by=answer_by)
    told = plan(up, "u", *args, deadline=None, console_url=CONSOLE, now=answer_by).notices
    assert told[0].title.startswith("【红牌·逾期未申辩】")
    assert "申辩期限 2026-12-03 17:30（周四） 已过，请督查室处理" in told[0].body


def test_ids_are_stable_and_differ_per_transition() -> None:
    cfg = hall()
    args = (cfg.notify, People.of(cfg), work_calendar(cfg))
    item = news("case.promised.warning", "yellow")
    kw: dict[str, Any] = {"deadline": None, "console_url": CONSOLE, "now": item.ts}
    once = plan(item, "t1", *args, **kw)
    later = plan(item, "t1", *args, **{**kw, "now": item.ts + timedelta(hours=3)})
    other = plan(item, "t2", *args, **kw)
    assert [n.id for n in once.notices] == [n.id for n in later.notices]
    assert not {n.id for n in once.notices} & {n.id for n in other.notices}


def test_decode_news_reads_the_outbox_payload_and_refuses_other_bytes() -> None:
    from alerts.cards import CardState, Subject, Transition, Why
    from alerts.ids import CardId, CaseId, StaffId, WindowId
    from alerts.rules import Level, RuleId
    from alerts.supervision import transition_bytes

    t = Transition(
        card=CardId("K-1"),
        rule=RuleId.PROMISED_WARNING,
        level=Level.YELLOW,
        state=CardState.RAISED,
        why=Why.CONDITION_MET,
        subject=Subject(case=CaseId("C-1"), window=WindowId("W03"), staff=StaffId("S005")),
        owner=StaffId("S005"),
        answer_by=None,
        ts=local("2026-12-01T17:25:00"),
        evidence=(),
        holds=True,
    )
    got = decode_news(transition_bytes(t))
    assert got is not None and got.rule == "case.promised.warning" and got.owner == "S005"
    assert got.ts == t.ts
    assert decode_news(b"not json") is None
    assert decode_news(b'{"card": "K-1"}') is None


# --- rate and backoff ----------------------------------------------------------------------

T = local("2026-12-01T10:00:00")
MIN = timedelta(minutes=1)

RATE = [
    ([], 2, None),
    ([T - 30 * MIN], 2, None),
    ([T - 50 * MIN, T - 10 * MIN], 2, T + 10 * MIN),
    ([T - 70 * MIN, T - 10 * MIN], 2, None),  # the first fell out of the hour
    ([T - 50 * MIN, T - 40 * MIN, T - 5 * MIN], 2, T + 20 * MIN),
]


@pytest.mark.parametrize(("sent", "per_hour", "wait"), RATE)
def test_rate_wait(sent: list[datetime], per_hour: int, wait: datetime | None) -> None:
    assert rate_wait(sent, T, per_hour) == wait


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (40, 600)]
)
def test_retry_delay_doubles_to_its_cap(attempts: int, seconds: float) -> None:
    assert retry_delay(attempts, 30, 600) == timedelta(seconds=seconds)


# --- configuration -------------------------------------------------------------------------

BAD = [
    ({"nonsense": 1}, "notify.nonsense: unknown key"),
    ({"routes": [{"on": "raised", "to": ["mayor"]}]}, "notify.routes[0].to[0]"),
    ({"routes": [{"on": "raised", "to": ["owner"], "channels": ["sms"]}]}, "unknown channel 'sms'"),
    ({"admins": ["X9"]}, "notify.admins[0]: unknown staff 'X9'"),
    ({"send_from": "21:00:00", "send_until": "08:00:00"}, "notify.send_until: must be after"),
]


@pytest.mark.parametrize(("notify", "problem"), BAD)
def test_bad_notify_sections_are_refused_with_their_key(notify: dict[str, Any], problem: str):
    data = hall_data(**notify)
    if "send_from" in notify:
        from datetime import time

        data["notify"] |= {"send_from": time(21), "send_until": time(8)}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_a_window_head_must_be_staff() -> None:
    data = hall_data()
    data["windows"][0]["head"] = "nobody"
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "windows[0].head: unknown staff 'nobody'" in err.value.problems


def test_the_example_hall_has_notification_off() -> None:
    from tests.hall import example

    cfg = example()
    assert cfg.notify.channels == [] and len(cfg.notify.routes) == 4


def test_the_commented_example_in_the_example_hall_is_valid() -> None:
    import tomllib

    text = example_config_path().read_text(encoding="utf-8")
    i, j = text.index("# [notify]"), text.index("[[duty]]\n")
    lines = text[i:j].splitlines()
    block = "\n".join(ln[2:] if ln.startswith("# ") else "" for ln in lines)
    cfg = parse_config(tomllib.loads(text[:i] + block + "\n" + text[j:]))
    assert [c.kind for c in cfg.notify.channels] == ["apprise", "dingtalk"]
    assert cfg.notify.admins == ["L001"]

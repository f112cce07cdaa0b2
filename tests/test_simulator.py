"""The hall simulator: deterministic, realistic in the ways the daemon cares about, and every
message it makes is one the daemon accepts; publishing reaches a real Mosquitto under each
device's own account."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import HallConfig
from alerts.contract import Accepted, decode
from alerts.events import CaseEvent, Presence, Punch
from alerts.roles import StaffRole
from devices.simulator import (
    Message,
    Mix,
    Params,
    main,
    publish_messages,
    simulate_day,
    simulate_days,
)
from hallkit.config import example_config_path, load_config
from hallkit.exits import EXIT_CONFIG
from monitor.ingest.ingestor import Rules
from tests.brokers import TEST_ADMIN, TEST_WATCHER, Mosquitto

PEAK = date(2026, 10, 8)  # first working day after the National Day week
SWAPPED_SATURDAY = date(2026, 10, 10)  # 国庆调休上班
ORDINARY = date(2026, 11, 24)  # a Tuesday


@pytest.fixture(scope="module")
def cfg() -> HallConfig:
    return load_config(example_config_path())


@pytest.fixture(scope="module")
def run(cfg: HallConfig) -> list[Message]:
    """Holiday, peak day, Friday, swapped Saturday, Sunday, Monday."""
    return simulate_days(cfg, date(2026, 10, 7), 6, seed=7)


@cache
def _rules() -> Rules:
    return Rules.of(load_config(example_config_path()))


def _decode(m: Message) -> Accepted:
    rules = _rules()
    d = decode(m.topic, m.payload, m.at, rules.hall, rules.directory, rules.limits)
    assert isinstance(d, Accepted), (m.topic, m.payload, d)
    return d


def _local(cfg: HallConfig, t: datetime) -> datetime:
    return t.astimezone(cfg.hall.zone)


def _area(m: Message) -> str:
    return m.topic.split("/")[2]


def _payload(m: Message) -> dict[str, Any]:
    obj = json.loads(m.payload)
    assert isinstance(obj, dict)
    return obj


def _received(msgs: list[Message]) -> list[dict[str, Any]]:
    out = (_payload(m) for m in msgs if _area(m) == "case")
    return [o for o in out if o["action"] == "received"]


def test_same_seed_same_bytes_other_seed_other_day(cfg: HallConfig) -> None:
    a = simulate_day(cfg, ORDINARY, seed=3)
    assert a == simulate_day(cfg, ORDINARY, seed=3)
    assert a != simulate_day(cfg, ORDINARY, seed=4)
    assert [m.at for m in a] == sorted(m.at for m in a)


def test_a_day_alone_is_the_same_day_inside_a_run(cfg: HallConfig, run: list[Message]) -> None:
    alone = simulate_day(cfg, SWAPPED_SATURDAY, seed=7)
    inside = {m for m in run if _local(cfg, m.at).date() == SWAPPED_SATURDAY}
    assert set(alone) <= inside
    carried = inside - set(alone)  # later steps of cases received on the two days before
    assert carried and all(_area(m) in ("case", "rating", "complaint") for m in carried)


def test_every_message_is_accepted_by_the_daemons_decoder(
    cfg: HallConfig, run: list[Message]
) -> None:
    kinds = Counter(_decode(m).kind for m in run)
    assert set(kinds) == {
        "punch",
        "clock_heartbeat",
        "clock_status",
        "camera_status",
        "presence",
        "case",
        "staff_status",
        "complaint",
        "rating",
    }


def test_off_days_have_complaints_and_nothing_else(cfg: HallConfig) -> None:
    busy = Params(complaints_per_day=4.0)
    holiday = simulate_days(cfg, date(2026, 10, 1), 7, seed=2, params=busy)  # 国庆 1–7 Oct
    assert holiday, "complaints come around the clock, holidays too"
    assert {_area(m) for m in holiday} == {"complaint"}
    received = [_local(cfg, m.at) for m in holiday if _payload(m)["action"] == "received"]
    assert any(t.hour < 8 or t.hour >= 18 for t in received)


def test_swapped_working_saturday_has_a_working_day(cfg: HallConfig, run: list[Message]) -> None:
    day = [m for m in run if _local(cfg, m.at).date() == SWAPPED_SATURDAY]
    punches = [m for m in day if m.topic.endswith("/punch")]
    assert len(punches) > 120  # 40 officers, four punches, a few on leave
    assert {m.user for m in punches} == {"CLK-EAST", "CLK-WEST"}
    assert _received(day)
    sunday = [m for m in run if _local(cfg, m.at).date() == date(2026, 10, 11)]
    assert {_area(m) for m in sunday} <= {"complaint"}


def test_case_mix_and_volume_follow_the_configuration(cfg: HallConfig, run: list[Message]) -> None:
    kinds = Counter(o["kind"] for o in _received(run))
    total = sum(kinds.values())
    assert total > 600
    assert abs(kinds["immediate"] / total - 0.87) < 0.03
    assert abs(kinds["promised"] / total - 0.12) < 0.03
    assert 0 < kinds["reported"] / total < 0.03
    by_day = Counter(o["case"][1:9] for o in _received(run))
    assert 300 <= by_day[f"{PEAK:%Y%m%d}"] <= 420  # seed 003: peak of 402 received a day
    assert max(n for d, n in by_day.items() if d != f"{PEAK:%Y%m%d}") < 200
    even = Params(mix=Mix(immediate=1, promised=1, reported=0))
    kinds = Counter(o["kind"] for o in _received(simulate_day(cfg, PEAK, 7, even)))
    assert abs(kinds["immediate"] / kinds.total() - 0.5) < 0.08
    assert kinds["reported"] == 0


def test_cases_live_in_order_and_cross_days(cfg: HallConfig, run: list[Message]) -> None:
    events: dict[str, list[CaseEvent]] = defaultdict(list)
    for m in run:
        if _area(m) == "case":
            ev = _decode(m).event
            assert isinstance(ev, CaseEvent)
            events[ev.case].append(ev)
    actions = Counter(e.action.value for evs in events.values() for e in evs)
    for action in ("returned", "refusal_reviewed", "reported_up", "completed", "delivered"):
        assert actions[action] > 0, action
    crossed = 0
    for evs in events.values():
        assert evs[0].action == "received"
        assert [e.ts for e in evs] == sorted(e.ts for e in evs)
        crossed += evs[-1].ts.date() > evs[0].ts.date()
    assert crossed > 20  # promised cases finish days later
    immediate = [evs for evs in events.values() if evs[0].kind == "immediate"]
    quick = [evs for evs in immediate if evs[-1].ts - evs[0].ts < timedelta(hours=1)]
    assert len(quick) / len(immediate) > 0.9


def test_punches_mostly_on_time_rarely_very_late(cfg: HallConfig, run: list[Message]) -> None:
    starts = (time(8, 30), time(14, 0))
    lateness: list[float] = []
    for m in run:
        if m.topic.endswith("/punch"):
            ev = _decode(m).event
            assert isinstance(ev, Punch)
            local = _local(cfg, ev.ts)
            for s in starts:
                start = datetime.combine(local.date(), s, tzinfo=cfg.hall.zone)
                if timedelta(minutes=-30) <= local - start <= timedelta(hours=1):
                    lateness.append((local - start).total_seconds() / 60)
    assert len(lateness) > 280  # four working days, 40 officers, two sessions
    late = [x for x in lateness if x > 0]
    assert 0.02 < len(late) / len(lateness) < 0.15
    assert sum(x > 15 for x in late) / len(lateness) < 0.02


def test_people_leave_and_put_up_notices(cfg: HallConfig, run: list[Message]) -> None:
    states = [_payload(m) for m in run if _area(m) == "staff"]
    assert {s["state"] for s in states} >= {"leave", "away", "on_post"}
    leaders = {s.id for s in cfg.staff if s.role is StaffRole.LEADER}
    for s in states:
        if s["state"] == "leave":  # a day at most, so the deputy's approval (001_… 第一篇(十)6)
            assert s["category"] in ("official", "personal", "sick", "annual")
            assert s["approved_by"] in leaders and "head_approved_by" not in s
        if s["state"] == "away":  # reason, whereabouts and contact (001_… 第五篇(一)4)
            assert s["reason"] and s["whereabouts"] and s["contact"] and s["until"] > s["from"]
    ratings = [_payload(m)["level"] for m in run if _area(m) == "rating"]
    assert 0 < sum(level <= 2 for level in ratings) < 0.05 * len(ratings)


def test_a_clock_offline_uploads_its_backlog_later(cfg: HallConfig) -> None:
    msgs = simulate_day(cfg, ORDINARY, seed=5, params=Params(clock_outage_share=1.0))
    offline = [m for m in msgs if "/clock/" in m.topic and m.payload == b"offline"]
    assert len(offline) == 1
    clock = offline[0].topic.split("/")[3]
    status = [m for m in msgs if m.topic == f"hall/{cfg.hall.id}/clock/{clock}/status"]
    back = next(m.at for m in status if m.payload == b"online" and m.at > offline[0].at)
    assert all(m.retain and m.user == clock for m in status)
    backlog = []
    for m in msgs:
        if m.topic == f"hall/{cfg.hall.id}/clock/{clock}/punch":
            ev = _decode(m).event
            assert isinstance(ev, Punch)
            if ev.ts < m.at:
                backlog.append((ev.ts, m.at))
            else:
                assert not offline[0].at <= m.at < back, "nothing goes out while offline"
    assert len(backlog) >= 5
    assert all(offline[0].at <= ts < back <= at for ts, at in backlog)


def test_seats_change_and_heartbeat_except_while_a_camera_is_off(cfg: HallConfig) -> None:
    msgs = simulate_day(cfg, ORDINARY, seed=5, params=Params(camera_dropout_share=1.0))
    off = [m for m in msgs if m.topic.endswith("/status") and m.payload == b"offline"]
    cam_off = [m for m in off if "/camera/" in m.topic]
    assert len(cam_off) == 1
    dropped = cam_off[0].topic.split("/")[3]
    tracks: dict[tuple[str, str], list[Presence]] = defaultdict(list)
    for m in msgs:
        if m.topic.endswith("/presence"):
            ev = _decode(m).event
            assert isinstance(ev, Presence)
            tracks[(ev.camera, ev.window)].append(ev)
    assert len(tracks) == 20
    for (camera, _), evs in tracks.items():
        gaps = [b.ts - a.ts for a, b in pairwise(evs)]
        long = [g for g in gaps if g > timedelta(seconds=60)]
        assert len(long) == (1 if camera == dropped else 0)
        flips = sum(a.present != b.present for a, b in pairwise(evs))
        assert 2 <= flips < 40  # in and out of two sessions, breaks, notices


def _subscriber(broker: Mosquitto, got: list[str], done: threading.Event, want: int) -> mqtt.Client:
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sim-watch")
    sub.username_pw_set(TEST_WATCHER, broker.password(TEST_WATCHER))  # not the publisher's
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.topic)
        if len(got) >= want:
            done.set()

    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_connect = lambda c, *_: c.subscribe("hall/#", qos=1)
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    assert subscribed.wait(10)
    return sub


@pytest.mark.integration
def test_a_morning_reaches_mosquitto_under_each_devices_account(
    cfg: HallConfig, mosquitto: Mosquitto
) -> None:
    day = simulate_day(cfg, ORDINARY, seed=11)
    morning = [m for m in day if _local(cfg, m.at).time() < time(12, 30)]
    assert {m.user for m in morning} == {
        "CLK-EAST",
        "CLK-WEST",
        "CAM1",
        "CAM2",
        "CAM3",
        "CAM4",
        "case-system",
    }
    got: list[str] = []
    done = threading.Event()
    sub = _subscriber(mosquitto, got, done, len(morning))
    try:
        sent = publish_messages(
            morning,
            mosquitto.host,
            mosquitto.port,
            lambda user: (user, mosquitto.password(user)),
            speed=0,
        )
        assert sent == len(morning)
        assert done.wait(30), f"{len(got)} of {len(morning)} arrived"
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert Counter(got) == Counter(m.topic for m in morning)  # the ACL let every one through


@pytest.mark.integration
def test_speed_scales_simulated_time_on_an_injected_clock(
    cfg: HallConfig, mosquitto: Mosquitto
) -> None:
    few = [m for m in simulate_day(cfg, ORDINARY, seed=11) if m.user == "case-system"][:30]
    clock = [1000.0]
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    def creds(user: str) -> tuple[str, str]:
        return user, mosquitto.password(user)

    host, port = mosquitto.host, mosquitto.port
    sent = publish_messages(few, host, port, creds, 60, lambda: clock[0], nap)
    assert sent == 30
    span = (few[-1].at - few[0].at).total_seconds()
    assert clock[0] - 1000.0 == pytest.approx(span / 60)
    assert max(naps) <= 1.0  # short naps, so a stop is honoured quickly
    clock[0] = 0.0
    sent = publish_messages(few, host, port, creds, 1, lambda: clock[0], nap, origin=few[20].at)
    assert sent == 30  # the first 20 were overdue and went at once
    assert clock[0] == pytest.approx((few[-1].at - few[20].at).total_seconds())
    stopped = threading.Event()
    stopped.set()
    assert publish_messages(few, host, port, creds, 1, stop=stopped) == 0


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_broken_config_prints_its_problems_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        example_config_path()
        .read_text(encoding="utf-8")
        .replace('a_post = "S001"', 'a_post = "S999"')
    )
    assert main(["--config", str(_write_config(tmp_path, text)), "--print"]) == EXIT_CONFIG
    assert "windows[0].a_post: unknown staff 'S999'" in capsys.readouterr().err


def test_the_daemons_account_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Its connection would take the daemon's persistent session over (docs/broker.md).
    (tmp_path / "hallwatch").write_text("secret\n", encoding="utf-8")
    argv = ["--config", str(example_config_path()), "--password-dir", str(tmp_path)]
    assert main([*argv, "--user", "hallwatch"]) == EXIT_CONFIG
    assert "'hallwatch' is the daemon's MQTT account" in capsys.readouterr().err


def test_print_writes_the_run_as_json_lines(
    cfg: HallConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(example_config_path()), "--start", "2026-10-10", "--print"]
    assert main([*argv, "--seed", "9", "--cases-per-day", "40", "--mix", "1,1,0"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    want = simulate_days(
        cfg,
        SWAPPED_SATURDAY,
        1,
        9,
        Params(cases_per_day=40, mix=Mix(immediate=1, promised=1, reported=0)),
    )
    assert [(x["topic"], x["payload"].encode()) for x in lines] == [
        (m.topic, m.payload) for m in want
    ]


@pytest.mark.integration
def test_the_command_publishes_as_one_account_with_user(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    (tmp_path / TEST_ADMIN).write_text(mosquitto.password(TEST_ADMIN) + "\n", encoding="utf-8")
    argv = ["--config", str(example_config_path()), "--start", "2026-10-11", "--seed", "1"]
    argv += ["--broker-host", mosquitto.host, "--broker-port", str(mosquitto.port)]
    argv += ["--password-dir", str(tmp_path)]
    sunday = simulate_days(load_config(example_config_path()), date(2026, 10, 11), 1, seed=1)
    assert [m.user for m in sunday] == ["case-system"]  # a complaint on a Sunday
    got: list[str] = []
    done = threading.Event()
    sub = _subscriber(mosquitto, got, done, len(sunday))
    try:
        assert main([*argv, "--user", TEST_ADMIN]) == 0
        assert done.wait(10)
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert got == [m.topic for m in sunday]
    assert main(argv) == EXIT_CONFIG  # no password for the case-system account

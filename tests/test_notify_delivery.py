"""Notices from the journal's outbox to real channels, durably (monitor/outputs/notify.py).

A real SMTP server (aiosmtpd) and a local HTTP receiver standing in for the DingTalk robot,
both on loopback; a fake clock drives the notifier, nothing sleeps for time to pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.cards import CardState, Subject, Transition, Why
from alerts.config import HallConfig, parse_config
from alerts.ids import CardId, CaseId, StaffId, WindowId
from alerts.rules import Level, RuleId
from hallkit.clock import FakeClock
from monitor.ingest.journal import Journal
from monitor.outputs.channels import (
    DingTalkChannel,
    FakeChannel,
    Outgoing,
    SendFailed,
    build_channel,
    dingtalk_sign,
)
from monitor.outputs.notify import FAILING_RULE, Notifier
from monitor.outputs.outbox import rows
from tests.running import free_port
from tests.test_notify import hall_data, local

HALL = "demo-county"
DEADLINE = local("2026-12-02T17:30:00")
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


def transition(
    card: str,
    rule: RuleId = RuleId.PROMISED_WARNING,
    state: CardState = CardState.RAISED,
    why: Why = Why.CONDITION_MET,
    ts: datetime | None = None,
    owner: str = "S005",
) -> Transition:
    level = Level.RED if "overdue" in rule.value else Level.YELLOW
    return Transition(
        card=CardId(card),
        rule=rule,
        level=level,
        state=state,
        why=why,
        subject=Subject(case=CaseId(f"C-{card}"), window=WindowId("W03"), staff=StaffId(owner)),
        owner=StaffId(owner),
        answer_by=None,
        ts=ts or local("2026-12-01T17:25:00"),
        evidence=(),
        holds=state is not CardState.CLOSED,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path, HALL)
    yield j
    j.close()


def config(tmp_path: Path, channels: list[dict[str, Any]], **notify: Any) -> HallConfig:
    data = hall_data(**notify)
    data["notify"]["channels"] = channels
    data["journal"]["data_dir"] = str(tmp_path)
    return parse_config(data)


def store(journal: Journal, *ts: Transition, at: datetime | None = None) -> int:
    return journal.record_outputs(rows(HALL, list(ts)), None, at or ts[0].ts)


# --- e-mail through Apprise to a real SMTP server ------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox, port = _Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield port, inbox
    server.stop()


def test_a_yellow_promised_warning_reaches_the_owner_by_email(
    tmp_path: Path, journal: Journal, smtp: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp
    url = f"mailto://127.0.0.1:{port}/{{to}}?from=hallwatch@example.gov.cn&mode=insecure"
    cfg = config(tmp_path, [{"name": "mail", "kind": "apprise", "url": url, "address": "email"}])
    clock = FakeClock(local("2026-12-01T17:25:00"))
    channels = {"mail": build_channel(cfg.notify.channels[0], None, clock.now)}
    notifier = Notifier(lambda: cfg, journal, channels, clock, deadline=lambda _n: DEADLINE)
    store(journal, transition("K-00000000000000A1"))
    assert notifier.step() == 1
    notifier.close()

    [(sender, to, msg)] = inbox.mails
    assert sender == "hallwatch@example.gov.cn"
    assert to == ["chenjing@example.gov.cn"]  # S005, the card's owner
    assert msg["Subject"] == "【黄牌预警】承诺时限即将到期"
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "办件：C-K-00000000000000A1" in body
    assert "办理时限：2026-12-02 17:30（周三）前办结" in body  # local time, not UTC
    assert "https://jiancha.example.gov.cn/console/#/card/K-00000000000000A1" in body
    assert "依据：" in body


# --- DingTalk robot: the request shape and its signature -------------------------------------


class _Robot(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]
    errcode = 0

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        raw = dict(p.split("=", 1) for p in url.query.split("&"))
        doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(
            {"path": url.path, "raw": raw, "doc": doc, "type": self.headers["Content-Type"]}
        )
        answer = {"errcode": self.errcode, "errmsg": "ok" if not self.errcode else "sign not match"}
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def robot() -> Iterator[tuple[str, type[_Robot]]]:
    handler = type("Robot", (_Robot,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/robot/send", handler
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_dingtalk_robot_gets_a_signed_text_message_mentioning_the_owner(
    tmp_path: Path, journal: Journal, robot: tuple[str, type[_Robot]]
) -> None:
    url, handler = robot
    (tmp_path / "ding-token").write_text("abc123token\n")
    (tmp_path / "ding-secret").write_text(SECRET + "\n")
    channel = {
        "name": "ding",
        "kind": "dingtalk",
        "url": url,
        "address": "mobile",
        "token_file": str(tmp_path / "ding-token"),
        "secret_file": str(tmp_path / "ding-secret"),
    }
    cfg = config(tmp_path, [channel])
    clock = FakeClock(local("2026-12-01T17:25:00"))
    channels = {"ding": build_channel(cfg.notify.channels[0], None, clock.now)}
    notifier = Notifier(lambda: cfg, journal, channels, clock, deadline=lambda _n: DEADLINE)
    store(journal, transition("K-00000000000000B1"))
    assert notifier.step() == 1

    [req] = handler.seen
    assert req["path"] == "/robot/send"
    assert req["type"].startswith("application/json")
    raw = req["raw"]
    assert raw["access_token"] == "abc123token"
    assert raw["timestamp"] == str(int(clock.now().timestamp() * 1000))
    # DingTalk: sign = urlencode(base64(HMAC-SHA256(key=secret, timestamp + "\n" + secret)))
    mac = hmac.new(SECRET.encode(), f"{raw['timestamp']}\n{SECRET}".encode(), hashlib.sha256)
    assert raw["sign"] == urllib.parse.quote_plus(base64.b64encode(mac.digest()).decode())
    assert "%25" not in raw["sign"]  # encoded once (Apprise's plugin encodes it twice)
    doc = req["doc"]
    assert doc["msgtype"] == "text"
    assert doc["at"] == {"atMobiles": ["13800000005"], "isAtAll": False}
    assert doc["text"]["content"].startswith("【黄牌预警】承诺时限即将到期\n")
    assert "2026-12-02 17:30" in doc["text"]["content"]

    handler.errcode = 310000  # the robot refuses (a wrong secret): a failure, retried
    store(journal, transition("K-00000000000000B2"))
    assert notifier.step() == 0
    assert notifier.health()["channels"]["ding"]["last_error"].startswith("DingTalk errcode 310000")
    assert notifier.pending() == 1
    notifier.close()


def test_dingtalk_sign_matches_the_documented_recipe() -> None:
    mac = hmac.new(b"SECx", b"1700000000000\nSECx", hashlib.sha256).digest()
    assert dingtalk_sign("SECx", 1700000000000) == base64.b64encode(mac).decode()


def test_a_missing_secret_makes_a_channel_that_fails_loudly(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        [
            {
                "name": "ding",
                "kind": "dingtalk",
                "url": "http://127.0.0.1:9/",
                "address": "mobile",
                "token_file": "absent-token",
            }
        ],
    )
    channel = build_channel(
        cfg.notify.channels[0], tmp_path / "hall.toml", FakeClock(datetime.now(UTC)).now
    )
    with pytest.raises(SendFailed, match="secret missing"):
        channel.send(Outgoing("1", "t", "b"))
    assert not isinstance(channel, DingTalkChannel)


# --- durable and honest ----------------------------------------------------------------------


def fake_hall(tmp_path: Path, **notify: Any) -> HallConfig:
    ch = [{"name": "fake", "kind": "apprise", "url": "fake://{to}", "address": "mobile"}]
    return config(tmp_path, ch, **notify)


def test_a_channel_down_for_five_minutes_loses_nothing_and_doubles_nothing(
    tmp_path: Path, journal: Journal
) -> None:
    cfg = fake_hall(tmp_path, admins=["L001"], failing_card_after_s=120, retry_min_s=5)
    clock = FakeClock(local("2026-12-01T17:25:00"))
    fake = FakeChannel()
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, clock)
    fake.down = True
    cards = [f"K-00000000000000C{i}" for i in range(3)]
    red = transition("K-00000000000000D0", RuleId.PROMISED_OVERDUE)
    store(journal, *(transition(c) for c in cards), red)
    for _ in range(30):  # five minutes, a step every 10 s
        notifier.step()
        clock.advance(10)
    assert fake.taken == []
    assert 1 < fake.attempts < 30  # backing off, not hammering
    # 3 yellows to the owner, the red to the owner and W03's head, the system card to the admin
    assert notifier.pending() == 6
    health = notifier.health()["channels"]["fake"]
    assert health["ok"] is False and health["failures"] == fake.attempts
    assert notifier.problems() and "notify channel fake failing since" in notifier.problems()[0]
    metrics = {(m[0], tuple(m[3].items())): m[4] for m in notifier.metrics()}
    assert metrics[("hallwatch_notify_channel_up", (("channel", "fake"),))] == 0
    failing = [json.loads(p) for t, p, _ in journal.outbox() if FAILING_RULE.encode() in p]
    assert [(c["state"], c["rule"]) for c in failing] == [("raised", FAILING_RULE)]

    fake.down = False
    for _ in range(90):  # back up; the backoff ends within the cap
        notifier.step()
        clock.advance(10)
    assert notifier.pending() == 0
    told = [(m.address, m.body) for m in fake.taken]
    assert len(told) == len(set(told)) == 6  # each once; the card's closing tells nobody
    assert notifier.health()["channels"]["fake"]["ok"] is True
    assert notifier.problems() == []
    failing = [json.loads(p) for t, p, _ in journal.outbox() if FAILING_RULE.encode() in p]
    assert [c["state"] for c in failing] == ["raised", "closed"]
    notifier.close()


def test_a_replay_sends_nothing_that_was_sent(tmp_path: Path, journal: Journal) -> None:
    cfg = fake_hall(tmp_path)
    clock = FakeClock(local("2026-12-01T17:25:00"))
    fake = FakeChannel()
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, clock)
    ts = [transition(f"K-00000000000000E{i}") for i in range(4)]
    store(journal, *ts)
    assert notifier.step() == 4
    assert store(journal, *ts) == 0  # a replay regenerates them: the journal adds none
    assert notifier.step() == 0
    notifier._db.execute("UPDATE cursor SET seq = 0")  # even reading it all again
    assert notifier.step() == 0
    notifier.close()
    again = Notifier(lambda: cfg, journal, {"fake": fake}, clock)  # a restart
    assert again.step() == 0
    assert len(fake.taken) == 4
    again.close()


def test_history_is_not_told_when_notification_is_switched_on(
    tmp_path: Path, journal: Journal
) -> None:
    store(journal, transition("K-00000000000000F1"))
    cfg, fake = fake_hall(tmp_path), FakeChannel()
    notifier = Notifier(
        lambda: cfg, journal, {"fake": fake}, FakeClock(local("2026-12-01T17:26:00"))
    )
    assert notifier.step() == 0 and notifier.pending() == 0
    notifier.close()


def test_a_yellow_at_night_waits_for_the_morning_and_is_cancelled_if_it_clears(
    tmp_path: Path, journal: Journal
) -> None:
    cfg, fake = fake_hall(tmp_path), FakeChannel()
    clock = FakeClock(local("2026-12-01T22:10:00"))
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, clock)
    store(journal, transition("K-00000000000000G1", ts=clock.now()))
    store(journal, transition("K-00000000000000G2", ts=clock.now()))
    assert notifier.step() == 0 and notifier.pending() == 2
    clock.at = local("2026-12-02T07:00:00")
    closed = transition(
        "K-00000000000000G2", state=CardState.CLOSED, why=Why.CLEARED, ts=clock.now()
    )
    store(journal, closed)
    assert notifier.step() == 0
    clock.at = local("2026-12-02T08:00:00")
    assert notifier.step() == 1
    [n1, n2] = notifier.notices()
    assert (n1["status"], n1["timing"], n1["sent_at"]) == (
        "sent",
        "next_working_day",
        "2026-12-02T00:00:00+00:00",
    )
    assert n2["status"] == "cancelled"
    notifier.close()


def test_one_person_gets_at_most_the_rate_and_the_rest_later(
    tmp_path: Path, journal: Journal
) -> None:
    cfg, fake = fake_hall(tmp_path, per_person_per_hour=3), FakeChannel()
    clock = FakeClock(local("2026-12-01T10:00:00"))
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, clock)
    store(journal, *(transition(f"K-00000000000000H{i}", ts=clock.now()) for i in range(5)))
    assert notifier.step() == 3
    clock.advance(59 * 60)
    assert notifier.step() == 0
    clock.advance(60)
    assert notifier.step() == 2
    assert notifier.pending() == 0
    notifier.close()


def test_the_daemon_thread_sends_when_woken_and_stops(tmp_path: Path, journal: Journal) -> None:
    from hallkit.clock import SystemClock

    cfg, fake = fake_hall(tmp_path), FakeChannel()
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, SystemClock())
    stop = threading.Event()
    notifier.start(stop)
    store(journal, transition("K-00000000000000J1", RuleId.PROMISED_OVERDUE))  # red: at once
    notifier.wake.set()
    done = threading.Event()
    for _ in range(500):  # waits for the thread, not for time to pass
        if len(fake.taken) == 2 or done.wait(0.01):
            break
    notifier.close()
    assert stop.is_set()  # close ends the thread through its stop event
    assert {m.address for m in fake.taken} == {"13800000005", "13800000101"}  # owner and head


def test_a_warning_raised_and_closed_in_one_batch_is_never_sent(
    tmp_path: Path, journal: Journal
) -> None:
    cfg, fake = fake_hall(tmp_path), FakeChannel()
    clock = FakeClock(local("2026-12-01T10:00:00"))
    notifier = Notifier(lambda: cfg, journal, {"fake": fake}, clock)
    late = local("2026-11-02T09:00:00")  # a late upload: the yellow and its end, learned now
    store(
        journal,
        transition("K-00000000000000K1", ts=late),
        transition("K-00000000000000K1", state=CardState.CLOSED, why=Why.SUPERSEDED, ts=late),
        transition("K-00000000000000K2", RuleId.PROMISED_OVERDUE, ts=late),
    )
    assert notifier.step() == 2  # the red, to the owner and the head; not the yellow
    assert notifier.counts.cancelled == 1
    assert {m.title for m in fake.taken} == {"【红牌】超过承诺时限"}
    notifier.close()

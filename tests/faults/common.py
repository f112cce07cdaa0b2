"""What the fault tests share: a simulated stream, publishing it, reading back what came of it.

Nothing here fakes a component: streams go through a real Mosquitto into a real daemon
process, and results are read from the daemon's own files (journal, stores) after the fact.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import HallConfig, work_calendar
from alerts.contract import derived_id
from alerts.supervision import Supervision, transition_bytes
from devices.simulator import Message, publish_messages, simulate_days
from hallkit.config import load_config
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from tests.brokers import TEST_ADMIN, Mosquitto
from tests.faults.clockd import set_clock
from tests.running import DaemonProcess, free_port, wait_until, write_config


def last_working_days(cfg: HallConfig, n: int, before: date | None = None) -> date:
    """The first of the last `n` working days before `before` (hall time; default today)."""
    cal = work_calendar(cfg)
    day = before or datetime.now(UTC).astimezone(cfg.hall.zone).date()
    found = 0
    while found < n:
        day -= timedelta(days=1)
        found += cal.is_working_day(day)
    return day


def sim_stream(cfg: HallConfig, days: int, seed: int) -> list[Message]:
    """`days` simulated days ending yesterday (their calendar span): a realistic mixed stream."""
    start = last_working_days(cfg, days)
    yesterday = datetime.now(UTC).astimezone(cfg.hall.zone).date() - timedelta(days=1)
    return simulate_days(cfg, start, (yesterday - start).days + 1, seed)


def is_status(topic: str) -> bool:
    """A device's retained online/offline: journaled per change, under a time-derived id."""
    parts = topic.split("/")
    return len(parts) == 5 and parts[2] in ("clock", "camera") and parts[4] == "status"


def event_id(topic: str, payload: bytes) -> str:
    """The id the daemon journals a (valid, non-status) message under (docs/contract.md)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and doc["id"]:
        return str(doc["id"])
    return derived_id(topic, payload)


def expected_ids(messages: Iterable[tuple[str, bytes]]) -> set[str]:
    """Event ids of the non-status messages: the journal must hold each exactly once."""
    return {event_id(t, p) for t, p in messages if not is_status(t)}


def as_admin(broker: Mosquitto) -> tuple[str, str]:
    return TEST_ADMIN, broker.password(TEST_ADMIN)


class Publisher(threading.Thread):
    """The simulator's QoS 1 publisher in a thread, as the test account (sees all of hall/#)."""

    def __init__(self, broker: Mosquitto, messages: Sequence[Message], prefix: str) -> None:
        super().__init__(name=f"publisher-{prefix}", daemon=True)
        self.broker, self.messages, self.prefix = broker, messages, prefix
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        creds = as_admin(self.broker)
        try:
            self.sent = publish_messages(
                self.messages,
                self.broker.host,
                self.broker.port,
                lambda _user: creds,
                client_prefix=self.prefix,
                ack_timeout=180,
            )
        except BaseException as exc:  # reported by the test that joins this thread
            self.error = exc

    def finish(self, timeout: float) -> int:
        self.join(timeout)
        assert not self.is_alive(), f"publisher {self.prefix} did not finish in {timeout} s"
        if self.error is not None:
            raise AssertionError(f"publisher {self.prefix} failed: {self.error}")
        return self.sent


def publish_window(
    broker: Mosquitto,
    items: Iterable[tuple[str, bytes]],
    client_id: str,
    window: int = 500,
    user: str | None = None,
) -> int:
    """Publish at QoS 1 with at most `window` unacknowledged; return once all are acknowledged.

    As the test account (sees all of hall/#), or as `user`'s own broker account.

    paho keeps messages beyond its in-flight limit in a queue it scans on every PUBACK, so
    queueing 100,000 at once is quadratic; a bounded window keeps the cost linear.
    """
    slots = threading.Semaphore(window)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(*(as_admin(broker) if user is None else (user, broker.password(user))))
    client.max_inflight_messages_set(window)
    client.on_publish = lambda *_: slots.release()
    client.connect(broker.host, broker.port)
    client.loop_start()
    n = 0
    try:
        for topic, payload in items:
            if not slots.acquire(timeout=60):
                raise AssertionError(f"no PUBACK for 60 s after {n} messages")
            client.publish(topic, payload, qos=1)
            n += 1
        for _ in range(window):
            if not slots.acquire(timeout=60):
                raise AssertionError("the last messages were not acknowledged")
    finally:
        client.disconnect()
        client.loop_stop()
    return n


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def journal_rows(data_dir: Path) -> list[tuple[str, str]]:
    """(event id, topic) of every journaled event, in journal order."""
    with read_only(data_dir / "journal.sqlite3") as conn:
        return [
            (r[0], r[1]) for r in conn.execute("SELECT event_id, topic FROM events ORDER BY seq")
        ]


def reject_reasons(data_dir: Path) -> Counter[str]:
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return Counter()
    with read_only(path) as conn:
        return Counter(dict(conn.execute("SELECT reason, count(*) FROM rejects GROUP BY reason")))


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay of one journal gives: the digest, every card's transitions, the summary."""

    digest: str
    cards: dict[str, tuple[bytes, ...]]
    summary: dict[str, object] = field(hash=False)

    @property
    def transitions(self) -> int:
        return sum(len(h) for h in self.cards.values())

    def without(self, prefix: str) -> Replayed:
        """The same, minus the cards of rules starting with `prefix`."""
        cards = {c: h for c, h in self.cards.items() if not _rule(h).startswith(prefix)}
        return Replayed(self.digest, cards, self.summary)

    def kept(self, prefix: str) -> set[str]:
        """Cards of rules starting with `prefix` that stand (were not voided by later evidence)."""
        return {
            c
            for c, h in self.cards.items()
            if _rule(h).startswith(prefix) and json.loads(h[-1])["reason"] != "void"
        }

    def states(self) -> Counter[str]:
        return Counter(json.loads(h[-1])["state"] for h in self.cards.values())


def _rule(history: tuple[bytes, ...]) -> str:
    return str(json.loads(history[0])["rule"])


def replayed(config: Path) -> Replayed:
    """Rebuild a stopped daemon's state from its journal, as `hallwatch replay` does."""
    return of(rebuilt(config))


def rebuilt(config: Path) -> Supervision:
    """The state a replay of a stopped daemon's journal gives."""
    cfg = load_config(config)
    journal = Journal.open(cfg.journal.data_dir, cfg.hall.id)
    try:
        sup, _ = replay(journal, cfg)
    finally:
        journal.close()
    return sup


def of(sup: Supervision) -> Replayed:
    cards = {
        str(cid): tuple(transition_bytes(t) for t in card.history)
        for cid, card in sorted(sup.engine.cards.items())
    }
    return Replayed(sup.digest(), cards, sup.summary())


def card_differences(a: Replayed, b: Replayed, limit: int = 5) -> list[str]:
    """A readable account of how two card sets differ (empty when they are identical)."""
    out = [f"only in the first: {c}" for c in sorted(a.cards.keys() - b.cards.keys())]
    out += [f"only in the second: {c}" for c in sorted(b.cards.keys() - a.cards.keys())]
    for c in sorted(a.cards.keys() & b.cards.keys()):
        if a.cards[c] != b.cards[c]:
            out.append(f"{c}: {_steps(a.cards[c])} != {_steps(b.cards[c])}")
    return out[:limit]


def _steps(history: Sequence[bytes]) -> list[str]:
    """A card's history, short: rule, state, why and instant of each transition, and what
    else differs is in the payloads (evidence, text, silent)."""
    docs = [json.loads(x) for x in history]
    return [
        f"{d['rule']} {d['state']}/{d['reason']} {d['ts']} ev={d.get('evidence')} "
        f"{d.get('text') or ''}{' silent=' + str(d['silent']) if d.get('silent') else ''}"
        for d in docs
    ]


class ClockedDaemon(DaemonProcess):
    """The daemon process on an injected clock (tests/faults/clockd.py) instead of the wall's."""

    def __init__(self, config: Path, web_port: int, log: Path, clock: Path) -> None:
        super().__init__(config, web_port, log)
        self.clock = clock

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.clockd", *self._args()],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        wait_until(self.healthy, 30, "the daemon's /healthz")

    def _args(self) -> list[str]:
        return ["--config", str(self.config), "--clock", str(self.clock)]

    def set_clock(self, at: datetime) -> None:
        set_clock(self.clock, at)


def start_clocked(
    broker: Mosquitto,
    directory: Path,
    daemons: list[DaemonProcess],
    at: datetime,
    idle_after_s: int = 60,
    **journal: Any,
) -> tuple[ClockedDaemon, Path]:
    """The example hall on `broker`, data in `directory`/data, its clock standing at `at`.

    `idle_after_s`: the default, 60, unless a test of something else (the daemon's own clock
    stepping) must not wait for a standing clock to let the sources go idle."""
    directory.mkdir(parents=True, exist_ok=True)
    web = free_port()
    cfg = write_config(
        directory, broker.port, broker.password("hallwatch"), web, False, idle_after_s, **journal
    )
    clock = directory / "clock.txt"
    set_clock(clock, at)
    daemon = ClockedDaemon(cfg, web, directory / "daemon.log", clock)
    daemons.append(daemon)
    daemon.start()
    return daemon, cfg

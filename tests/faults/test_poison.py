"""Fault: poisoned messages and reject floods from a device account, through real Mosquitto.

Once, one message whose `id` was the JSON escape of a lone surrogate killed the ingest
writer at the journal insert; its batch was neither journaled nor acknowledged and came back
after every restart. A device account could also grow the journal by megabytes a second
with rejects. Here the device is the clock account CLK-EAST of the shipped ACL, publishing
only its own topic, into the real daemon process.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hallkit.config import load_config
from hallkit.exits import EXIT_FAILURE
from monitor import daemon as daemon_module
from monitor.daemon import Daemon
from monitor.runner import Runner
from tests.brokers import Mosquitto
from tests.faults.common import journal_rows, publish_window, read_only, reject_reasons
from tests.hall import HALL
from tests.running import DaemonProcess, free_port, start_daemon, wait_until, write_config

pytestmark = pytest.mark.integration

CLOCK = "CLK-EAST"  # a device account: the least trusted kind
PUNCH = f"hall/{HALL}/clock/{CLOCK}/punch"
STAFF = [f"S{i:03d}" for i in range(1, 41)]
VALID = 5_000


def publish_as(
    broker: Mosquitto, user: str, items: Iterable[tuple[str, bytes]], window: int = 200
) -> int:
    """QoS 1 as one broker account, at most `window` unacknowledged; all acknowledged."""
    return publish_window(broker, items, user, window, user=user)


def _punch(i: int, now: datetime, **over: Any) -> bytes:
    ts = (now - timedelta(seconds=60 + i)).isoformat()
    doc = {"id": f"valid-{i}", "staff": STAFF[i % len(STAFF)], "ts": ts, "verify": "fingerprint"}
    return json.dumps({**doc, **over}).encode("ascii")  # non-ASCII as \u escapes


def poisons(now: datetime) -> list[tuple[bytes, str]]:
    """Each a message Python's json module accepts and RFC 8259 does not, or a bad year."""
    base = {"staff": "S001", "ts": (now - timedelta(minutes=5)).isoformat(), "verify": "card"}

    def dumps(**f: Any) -> bytes:
        return json.dumps({**base, **f}).encode("ascii")

    return [
        (dumps(id="\ud800"), "not_utf8"),  # the message that once killed the writer
        (dumps(state="\udfff"), "not_utf8"),  # in a field that would have been journaled
        (dumps(**{"\udbff": 1}), "not_utf8"),
        (dumps()[:-1] + b', "staff": "S002"}', "bad_json"),  # duplicate key
        (dumps()[:-1] + b', "x": NaN}', "bad_value"),
        (dumps(ts="0001-01-01T00:00:00+08:00"), "bad_time"),
        (dumps(ts="9999-12-31T23:59:59-08:00"), "bad_time"),
        (dumps(ts="2000-01-01T08:00:00+08:00"), "past_time"),  # a clock whose clock reset
    ]


def test_poisoned_messages_among_5000_punches_cost_nothing_but_themselves(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    now = datetime.now(UTC)
    bad = poisons(now)
    msgs = [(PUNCH, _punch(i, now)) for i in range(VALID)]
    for k, (payload, _) in enumerate(bad):  # spread through the stream, the first mid-way
        msgs.insert(VALID // 2 + k * 311, (PUNCH, payload))
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    assert daemon.proc is not None
    pid = daemon.proc.pid
    started = time.monotonic()
    publish_as(mosquitto, CLOCK, msgs)
    data = tmp_path / "data"
    wait_until(
        lambda: len(journal_rows(data)) >= VALID and sum(reject_reasons(data).values()) >= len(bad),
        120,
        "every message decided",
    )
    took = time.monotonic() - started
    assert daemon.healthy(), "healthy, without a restart"
    assert daemon.proc.pid == pid and daemon.proc.poll() is None
    ids = [i for i, _ in journal_rows(data)]
    assert sorted(ids) == sorted(f"valid-{i}" for i in range(VALID)), "5,000 journaled once"
    assert reject_reasons(data) == Counter(r for _, r in bad)
    with read_only(data / "journal.sqlite3") as conn:
        kept = {bytes(p) for (p,) in conn.execute("SELECT payload FROM rejects")}
    assert kept == {p for p, _ in bad}, "each poisoned message kept with its bytes"
    log = daemon.log.read_text(encoding="utf-8", errors="replace")
    assert "writer died" not in log and "Traceback" not in log
    assert daemon.stop() == 0
    for key, value in {
        "valid": VALID,
        "journaled": len(ids),
        "poisoned": len(bad),
        "restarts": 0,
        "duration_s": round(took, 1),
    }.items():
        record_property(key, value)


def _journal_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("journal.sqlite3*"))


FLOOD_BIG = 3_000  # just under the 64 KiB payload limit: kept whole before rejects were bounded
FLOOD_SMALL = 20_000
FLOOD_VALID = 1_000
ROW_ON_DISK = 10 * 1024  # a kept reject (<= 4 KiB head, detail, topic) in SQLite pages
SLACK = 8 << 20  # the WAL (auto-checkpointed at 1,000 pages) and the counters


def test_a_clocks_reject_flood_grows_the_journal_only_within_its_bound(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    """Bound (docs/journal.md): a source stores at most burst + rate x t rejects of at most
    `reject_keep_bytes` each; the rest is counted by reason and not stored."""
    now = datetime.now(UTC)
    rng = random.Random(13)
    msgs: list[tuple[str, bytes]] = []
    for i in range(FLOOD_BIG + FLOOD_SMALL):
        if i < FLOOD_BIG:
            msgs.append((PUNCH, b"[" + rng.randbytes(8).hex().encode() * 4000 + b"]"))
        else:
            msgs.append((PUNCH, b'{"staff": ' + str(i).encode()))
        if i % 23 == 0 and i // 23 < FLOOD_VALID:
            msgs.append((PUNCH, _punch(i // 23, now)))
    rng.shuffle(msgs)
    assert all(len(p) < 65536 for _, p in msgs)
    valid = sum(1 for _, p in msgs if p.startswith(b'{"id"'))
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    data = tmp_path / "data"
    before = _journal_bytes(data)
    started = time.monotonic()
    publish_as(mosquitto, CLOCK, msgs, window=500)
    total = FLOOD_BIG + FLOOD_SMALL

    def decided() -> bool:
        with read_only(data / "journal.sqlite3") as conn:
            counters = dict(conn.execute("SELECT name, value FROM counters"))
        rejected = sum(v for k, v in counters.items() if k.startswith("rejected."))
        return bool(rejected >= total and counters.get("accepted", 0) >= valid)

    wait_until(decided, 180, "every message decided")
    took = time.monotonic() - started
    assert daemon.healthy()
    grown = _journal_bytes(data) - before
    with read_only(data / "journal.sqlite3") as conn:
        counters = dict(conn.execute("SELECT name, value FROM counters"))
        query = "SELECT count(*), max(length(payload)), sum(length(payload)) FROM rejects"
        rows, longest, kept = conn.execute(query).fetchone()
    assert counters["rejected.bad_json"] == total, "every reject counted by its reason"
    assert counters["accepted"] == valid, "the clock's valid punches all journaled"
    assert counters["rejects_limited"] == counters["rejects_limited.clock"] == total - rows
    assert longest <= 4096
    burst, rate = 100, 1.0  # the defaults (docs/configuration.md)
    assert rows <= burst + rate * took + 1
    bound = rows * ROW_ON_DISK + valid * 1024 + SLACK
    assert grown <= bound, (grown, bound)
    assert daemon.stop() == 0
    sent = sum(len(p) for _, p in msgs)
    for key, value in {
        "messages": len(msgs),
        "sent_mb": round(sent / 1e6, 1),
        "rejects_stored": rows,
        "rejects_limited": counters["rejects_limited"],
        "rejects_kb": round(kept / 1e3),
        "journal_growth_mb": round(grown / 1e6, 2),
        "bound_mb": round(bound / 1e6, 2),
        "duration_s": round(took, 1),
    }.items():
        record_property(key, value)


class _BrokenTick(Runner):
    """The real runner whose time-driven work fails once armed: a bug no message caused."""

    armed = threading.Event()

    def tick(self, final: bool = False) -> None:
        if self.armed.is_set():
            raise RuntimeError("injected: a bug in the tick")
        super().tick(final)


def test_a_dead_writer_turns_health_503_and_the_daemon_exits_non_zero(
    mosquitto: Mosquitto,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web = free_port()
    path = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), web)
    monkeypatch.setattr(daemon_module, "Runner", _BrokenTick)
    daemon = Daemon(load_config(path), path)
    stop = threading.Event()
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(daemon.run(stop)), daemon=True)
    runner.start()
    url = f"http://127.0.0.1:{web}/healthz"
    try:
        wait_until(lambda: _health(url)[0] == 200, 30, "the daemon healthy")
        _BrokenTick.armed.set()
        seen: list[tuple[int, dict[str, Any]]] = []

        def unhealthy() -> bool:
            seen.append(_health(url))
            return seen[-1][0] == 503 or not runner.is_alive()

        wait_until(unhealthy, 10, "/healthz 503 or the daemon gone")
        runner.join(30)
        assert not runner.is_alive(), "the daemon must exit, not limp on"
    finally:
        stop.set()
        runner.join(30)
    assert codes == [EXIT_FAILURE]
    failing = [doc for status, doc in seen if status == 503]
    assert failing, f"/healthz never said 503 before the exit: {seen[-3:]}"
    assert any("ingest writer died: RuntimeError" in p for p in failing[0]["problems"])
    assert not (tmp_path / "data" / "snapshot.bin").exists(), "no snapshot of a broken state"
    record_property("exit_code", codes[0])


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, dict(json.load(resp))
    except urllib.error.HTTPError as err:
        return err.code, dict(json.load(err))
    except OSError:
        return 0, {}

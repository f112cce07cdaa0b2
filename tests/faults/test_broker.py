"""Fault: the broker (config/mosquitto.conf, persistence on) restarted while events stream in.

tests/test_broker_config.py shows one queued message surviving a broker restart. Here a QoS 1
publisher with a persistent session streams events while the daemon consumes them; the broker
is restarted cleanly (SIGTERM: it saves its database) mid-stream, and later made to save
(SIGUSR1) and then SIGKILLed mid-stream. What the broker acknowledged before its last save
must be journaled exactly once; what it acknowledged after the save and had not delivered is
lost with the broker's memory (autosave_interval bounds that window) and is counted.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import Mosquitto
from tests.faults.common import as_admin, journal_rows
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until

pytestmark = pytest.mark.integration

TOTAL = 6_000
PACE_S = 0.001  # about 1,000 events a second: the stream lasts several seconds


class Stream(threading.Thread):
    """A persistent-session QoS 1 publisher; remembers which events the broker acknowledged."""

    def __init__(self, broker: Mosquitto) -> None:
        super().__init__(name="stream", daemon=True)
        self.broker = broker
        self.lock = threading.Lock()
        self.mids: dict[int, str] = {}
        self.acked: set[str] = set()
        self.early: set[int] = set()  # PUBACKs that came before publish() returned the mid
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="fault-stream", clean_session=False
        )
        self.client.username_pw_set(*as_admin(broker))
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_publish = self._on_publish
        self.ids = [f"brk-{i:05d}" for i in range(TOTAL)]

    def run(self) -> None:
        ts = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        for i, eid in enumerate(self.ids):
            doc = {"id": eid, "staff": f"S{i % 40 + 1:03d}", "ts": ts, "verify": "card"}
            info = self.client.publish(f"hall/{HALL}/clock/CLK-EAST/punch", json.dumps(doc), qos=1)
            with self.lock:  # never held while paho works: its thread takes it in _on_publish
                self.mids[info.mid] = eid
                if info.mid in self.early:
                    self.acked.add(eid)
            time.sleep(PACE_S)  # a device's pace, not a wait for an outcome

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self.lock:
            eid = self.mids.get(mid)
            if eid is None:
                self.early.add(mid)
            else:
                self.acked.add(eid)

    def acknowledged(self) -> set[str]:
        with self.lock:
            return set(self.acked)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _db_file(broker: Mosquitto) -> tuple[int, int] | None:
    """The broker's database file as (inode, mtime in ns); None before its first save."""
    db = broker.workdir / "persistence" / "mosquitto.db"
    try:
        st = db.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _db_saved(broker: Mosquitto, before: tuple[int, int] | None) -> Callable[[], bool]:
    """The database written again since `before`. Not by its mtime against the wall clock:
    the kernel stamps files with a coarse clock that can read earlier than `time.time()`
    taken just before the signal, and a save inside that tick never looked newer."""
    return lambda: (now := _db_file(broker)) is not None and now != before


def test_broker_restart_and_crash_during_a_stream_lose_nothing_it_had_saved(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    data = tmp_path / "data"
    stream = Stream(mosquitto)
    stream.start()
    try:
        wait_until(lambda: len(stream.acknowledged()) >= TOTAL // 4, 60, "a quarter sent")
        mosquitto.restart()  # clean: SIGTERM saves everything, then the same port again
        wait_until(lambda: len(stream.acknowledged()) >= TOTAL // 2, 60, "half sent")

        db_before = _db_file(mosquitto)
        before_save = stream.acknowledged()
        assert mosquitto._process is not None
        os.kill(mosquitto._process.pid, signal.SIGUSR1)  # Mosquitto: write the database now
        wait_until(_db_saved(mosquitto, db_before), 30, "the broker's save")
        wait_until(lambda: len(stream.acknowledged()) >= TOTAL * 3 // 4, 60, "3/4 sent")
        mosquitto.kill()  # a crash: what came after the save is gone with its memory
        after_kill = stream.acknowledged()
        mosquitto.start()
        stream.join(120)
        wait_until(lambda: len(stream.acknowledged()) == TOTAL, 120, "every PUBACK")
    finally:
        stream.close()
    wait_until(lambda: before_save <= {i for i, _ in journal_rows(data)}, 60, "saved ones")
    wait_until(daemon.healthy, 30, "the daemon reconnected")
    assert daemon.stop() == 0
    ids = [i for i, _ in journal_rows(data)]
    assert len(ids) == len(set(ids)), "journaled once"
    lost = set(stream.ids) - set(ids)
    assert not (lost & before_save), f"{len(lost & before_save)} saved events lost"
    assert lost <= after_kill - before_save, "only what the broker acked after its save"
    record_property("events", TOTAL)
    record_property("journaled", len(ids))
    record_property("acked_before_save", len(before_save))
    record_property("lost_after_save", len(lost))
    record_property("restarts", 2)

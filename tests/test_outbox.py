"""The card outbox (monitor/outputs/outbox.py) on the in-package fake bus: stored first, sent in
order, marked sent only as far as the broker acknowledged. The link's own publishing is tested
against Mosquitto (tests/test_cards_e2e.py, tests/test_daemon_ops.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from alerts.supervision import transition_id
from hallkit.clock import FakeClock, SystemClock
from monitor.ingest.bus import MemoryBus
from monitor.ingest.journal import Journal
from monitor.outputs.outbox import OutboxSender, rows
from tests.hall import HALL, T0
from tests.running import wait_until
from tests.test_sinks import transition


def _stored(tmp_path: Path, n: int) -> Journal:
    journal = Journal.open(tmp_path, HALL)
    journal.record_outputs(rows(HALL, [transition(i) for i in range(n)]), None, T0)
    return journal


def test_rows_are_the_card_topic_and_payload_under_a_stable_id() -> None:
    t = transition(7)
    (row,) = rows(HALL, [t])
    assert row.id == transition_id(t) and row.topic == f"hall/{HALL}/cards/{t.card}"
    assert json.loads(row.payload)["card"] == t.card


def test_only_what_the_broker_acknowledged_is_marked_sent(tmp_path: Path) -> None:
    journal = _stored(tmp_path, 450)
    bus, connected = MemoryBus(), threading.Event()
    sender = OutboxSender(journal, bus.publish_acked, connected, FakeClock(T0))
    bus.takes = 250  # the broker stops acknowledging in the second chunk of 200
    assert sender._send_some() and not sender._send_some()
    assert sender.sent == 250 and len(journal.unsent(1000)) == 200
    bus.takes = None
    while sender._send_some():
        pass
    expected = [(r.topic, r.payload) for r in rows(HALL, [transition(i) for i in range(450)])]
    assert bus.published == expected, "in order, each once"
    assert sender.sent == 450 and journal.unsent() == []
    assert all(sent for _, _, sent in journal.outbox())
    journal.close()


def test_the_sender_waits_for_the_bus_and_stops_when_told(tmp_path: Path) -> None:
    journal = _stored(tmp_path, 3)
    bus, connected, stop = MemoryBus(), threading.Event(), threading.Event()
    sender = OutboxSender(journal, bus.publish_acked, connected, SystemClock(lambda: T0))
    thread = threading.Thread(target=sender.run, args=(stop,))
    thread.start()
    sender.wake.set()
    assert bus.published == [] and len(journal.unsent()) == 3  # not subscribed yet
    connected.set()
    sender.wake.set()
    wait_until(lambda: sender.sent == 3, 10, "the outbox sent")
    stop.set()
    sender.wake.set()
    thread.join(10)
    assert not thread.is_alive() and len(bus.published) == 3
    journal.close()

"""The outbox: card transitions stored with the journal, then published to MQTT.

Transitions are written to the journal's `outbox` table first (ids stable under replay, so
a regenerated transition is stored once); a publisher thread sends the unsent ones at QoS 1
in order, a chunk at a time without waiting between them, and marks sent those the broker
acknowledged. A broker outage delays them;
it loses none.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from alerts.cards import Transition
from alerts.supervision import transition_bytes, transition_id
from hallkit.clock import Clock
from hallkit.loops import woken
from monitor.ingest.journal import Journal, OutboxRow

logger = logging.getLogger(__name__)

# Publishes (topic, payload) pairs in order; how many, from the first, the broker acknowledged.
Publish = Callable[[Sequence[tuple[str, bytes]]], int]


def rows(hall: str, transitions: Sequence[Transition]) -> list[OutboxRow]:
    return [
        OutboxRow(transition_id(t), f"hall/{hall}/cards/{t.card}", transition_bytes(t))
        for t in transitions
    ]


class OutboxSender:
    def __init__(
        self,
        journal: Journal,
        publish: Publish,
        connected: threading.Event,
        clock: Clock,
    ) -> None:
        self._journal = journal
        self._publish = publish
        self._connected = connected
        self._clock = clock
        self.wake = threading.Event()
        self.sent = 0

    def run(self, stop: threading.Event) -> None:
        """Until `stop`; an exception ends it (the daemon's `supervised` restarts it)."""
        woken(stop, self.wake, lambda: self._send_all(stop), every_s=1.0, clock=self._clock)

    def _send_all(self, stop: threading.Event) -> None:
        while not stop.is_set() and self._connected.is_set() and self._send_some():
            pass

    def _send_some(self) -> bool:
        """Send one chunk in order; False when nothing is left or the broker stopped taking."""
        pending = self._journal.unsent(200)
        acked = self._publish([(topic, payload) for _, topic, payload in pending])
        done = [seq for seq, _, _ in pending[:acked]]
        if done:
            self._journal.mark_sent(done, self._clock.now())
            self.sent += len(done)
        return bool(pending) and len(done) == len(pending)

"""The message bus as the ingest and the outbox see it, and its in-package fake.

Three methods: inbound messages go to one sink (the ingestor's queue), each batch is
acknowledged once journaled, and the outbox publishes at QoS 1 in order, learning how many
the broker took. `MqttLink` (monitor/ingest/mqtt.py) is the real one, tested against Mosquitto;
`MemoryBus` stands in for it in the tests of the ingest and the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from monitor.ingest.ingestor import Inbound

Deliver = Callable[[Inbound], None]


class Bus(Protocol):
    def subscribe(self, deliver: Deliver) -> None:
        """Hand every inbound message to `deliver` (on the bus's own thread)."""

    def ack(self, batch: Sequence[Inbound]) -> None:
        """Every message of `batch` is journaled: the broker may forget them."""

    def publish_acked(self, messages: Sequence[tuple[str, bytes]]) -> int:
        """Publish (topic, payload) pairs at QoS 1 in order: how many, from the first, the
        broker acknowledged."""


class MemoryBus:
    """A broker in lists: `inject` delivers as paho's thread would, `acked` and `published`
    keep what arrived; `takes` scripts a broker that acknowledges only so many more."""

    def __init__(self) -> None:
        self.acked: list[Inbound] = []
        self.published: list[tuple[str, bytes]] = []
        self.takes: int | None = None  # None: every publish is acknowledged
        self._deliver: Deliver | None = None
        self._mid = 0

    def subscribe(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def ack(self, batch: Sequence[Inbound]) -> None:
        self.acked += batch

    def publish_acked(self, messages: Sequence[tuple[str, bytes]]) -> int:
        n = len(messages) if self.takes is None else min(self.takes, len(messages))
        if self.takes is not None:
            self.takes -= n
        self.published += messages[:n]
        return n

    def inject(self, topic: str, payload: bytes, received_at: datetime, qos: int = 1) -> Inbound:
        """One message from the broker, with the next message id."""
        if self._deliver is None:
            raise RuntimeError("nothing subscribed")
        self._mid += 1
        msg = Inbound(topic, payload, received_at, mid=self._mid, qos=qos)
        self._deliver(msg)
        return msg

"""Cards about the daemon itself, not about the hall: a full time-series outbox, an unstable
broker session.

They are built like every card (`alerts.cards.card_id`, `card_payload`, and the outbox's
`payload_bytes`) and published through the journal's outbox, but they are not part of the
card engine: a replay does not rebuild them, the outbox keeps them like every published
transition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from alerts.cards import CardState, Subject, Why, card_id, card_payload
from alerts.ids import CardId
from alerts.rules import Level
from alerts.supervision import payload_bytes
from hallkit.clock import Clock
from monitor.ingest.journal import OutboxRow
from monitor.outputs.sinks import Outbox, PointSink

logger = logging.getLogger(__name__)

SINK_FULL_RULE = "system.timeseries_outbox_full"  # docs/timeseries.md: the outbox bound
SESSION_RULE = "system.mqtt_session_unstable"  # docs/broker.md: lost connections or session
TITLES = {
    SINK_FULL_RULE: "时序库发件箱已满，新数据点被拒收",
    SESSION_RULE: "MQTT会话反复断开或丢失（可能有其他客户端使用本系统账号接管会话）",
}

Record = Callable[[Sequence[OutboxRow], datetime], None]  # rows into the outbox, at an instant


class SystemCards:
    def __init__(self, hall: str, clock: Clock, record: Record) -> None:
        self._hall, self._clock, self._record = hall, clock, record
        self._open: dict[str, CardId] = {}  # rule -> the card of its open episode
        self.sink_full = 0  # full episodes of the time-series outbox

    def sink_refused(self, refused: int) -> None:
        """The sink's `on_full`: a new card for each full episode."""
        logger.error("time-series outbox is full (%d points refused): is the server down?", refused)
        self.sink_full += 1
        self._raise(SINK_FULL_RULE)

    def sink_room(self, sink: PointSink) -> None:
        """Main loop: the full episode's card closes once the sink's outbox has room again."""
        outbox: Outbox | None = getattr(sink, "outbox", None)  # the local store has none
        if SINK_FULL_RULE in self._open and outbox is not None and not outbox.full:
            self._close(SINK_FULL_RULE)

    def session(self, unstable: bool) -> None:
        """Main loop: a card while the broker session is unstable (`MqttLink.problems`)."""
        if unstable and SESSION_RULE not in self._open:
            self._raise(SESSION_RULE)
        elif not unstable and SESSION_RULE in self._open:
            self._close(SESSION_RULE)

    def _raise(self, rule: str) -> None:
        card = self._open[rule] = card_id(rule, "", "", self._clock.now())
        self._publish(rule, card, CardState.RAISED, Why.CONDITION_MET, holds=True)

    def _close(self, rule: str) -> None:
        card = self._open.pop(rule)
        self._publish(rule, card, CardState.CLOSED, Why.CLEARED, holds=False)

    def _publish(self, rule: str, card: CardId, state: CardState, why: Why, *, holds: bool) -> None:
        now = self._clock.now()
        doc = card_payload(
            card=card,
            rule=rule,
            title=TITLES[rule],
            level=Level.RED,
            state=state,
            why=why,
            subject=Subject(),
            owner=None,
            answer_by=None,
            ts=now,
            evidence=(),
            holds=holds,
        )
        row_id = card_id(rule, card, state.value, now)  # one outbox row per transition
        self._record(
            [OutboxRow(row_id, f"hall/{self._hall}/cards/{card}", payload_bytes(doc))], now
        )

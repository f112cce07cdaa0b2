"""The deployed broker configuration (config/mosquitto.conf + .acl) against a real Mosquitto."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.brokers import PROJECT_CONF, TEST_ADMIN, Mosquitto, rewrite_config, setting_name

WAIT = 10.0
PUNCH = "hall/h1/clock/CLK-EAST/punch"
PERSISTENT_ID = "hallwatch-persistent-test"
Connack = tuple[ReasonCode, bool]


class Client:
    """A paho client whose callbacks land in queues a test can wait on, boundedly."""

    def __init__(
        self,
        broker: Mosquitto,
        user: str | None,
        *,
        client_id: str = "",
        clean_session: bool = True,
        secret: str | None = None,
    ) -> None:
        self.broker = broker
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._connacks: queue.Queue[Connack] = queue.Queue()
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            reconnect_on_failure=False,
        )
        if user is not None:
            self.paho.username_pw_set(user, secret if secret is not None else broker.password(user))
        self.paho.on_connect = self._on_connect
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_message = self._on_message

    def connect(self) -> Connack:
        self.paho.connect(self.broker.host, self.broker.port)
        self.paho.loop_start()
        return self._connacks.get(timeout=WAIT)

    def subscribe(self, topic: str) -> None:
        self.paho.subscribe(topic, qos=1)
        granted = self._subacks.get(timeout=WAIT)
        assert not any(code.is_failure for code in granted), granted

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.paho.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=WAIT)
        assert info.is_published(), f"no PUBACK for {topic}"

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connacks.put((reason_code, flags.session_present))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._subacks.put(reason_codes)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)


def connected(
    broker: Mosquitto, user: str, *, client_id: str = "", clean_session: bool = True
) -> Client:
    client = Client(broker, user, client_id=client_id, clean_session=clean_session)
    reason, _ = client.connect()
    assert not reason.is_failure, f"{user} refused: {reason}"
    return client


def publish_as(broker: Mosquitto, user: str, topic: str, payload: bytes = b"{}") -> None:
    client = connected(broker, user)
    try:
        client.publish(topic, payload)
    finally:
        client.close()


def delivered_until_sentinel(watcher: Client) -> list[mqtt.MQTTMessage]:
    """Everything the broker delivered before a sentinel the watcher publishes now.

    The broker handles a publish before it sends the PUBACK and delivers to one subscriber
    in order, so a denied message that was going to arrive has arrived before the sentinel.
    """
    sentinel = f"test/sentinel/{uuid.uuid4().hex}"
    watcher.publish(sentinel, b"")
    seen: list[mqtt.MQTTMessage] = []
    while (message := watcher.messages.get(timeout=WAIT)).topic != sentinel:
        seen.append(message)
    return seen


@contextmanager
def watching(broker: Mosquitto, topic: str = "#", user: str = TEST_ADMIN) -> Iterator[Client]:
    watcher = connected(broker, user)
    watcher.subscribe(topic)
    try:
        yield watcher
    finally:
        watcher.close()


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Client]:
    with watching(mosquitto) as client:
        yield client


@pytest.fixture
def session_watcher(mosquitto_session: Mosquitto) -> Iterator[Client]:
    with watching(mosquitto_session) as client:
        yield client


def test_rewritten_config_keeps_every_deployed_limit(tmp_path: Path) -> None:
    deployed = PROJECT_CONF.read_text(encoding="utf-8")
    rewritten = rewrite_config(deployed, port=1883, workdir=tmp_path).splitlines()
    kept_keys = (
        "per_listener_settings",
        "allow_anonymous",
        "persistence",
        "autosave_interval",
        "autosave_on_changes",
        "persistent_client_expiration",
        "max_inflight_messages",
        "max_queued_messages",
        "max_queued_bytes",
        "message_size_limit",
        "max_packet_size",
    )
    kept = [line for line in deployed.splitlines() if setting_name(line) in kept_keys]

    assert len(kept) == len(kept_keys)
    assert set(kept) <= set(rewritten)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("user", "secret"),
    [(None, None), ("CLK-EAST", "pw-CLK-WEST"), ("nobody", "pw-nobody")],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
def test_connection_without_valid_credentials_is_refused(
    mosquitto_session: Mosquitto, user: str | None, secret: str | None
) -> None:
    client = Client(mosquitto_session, user, secret=secret)
    try:
        reason, _ = client.connect()
    finally:
        client.close()
    # Mosquitto 2.0 answers MQTT 3.1.1 clients with "not authorised" (5) even for a wrong
    # password, never "bad user name or password" (4): a client must treat both as fatal.
    assert reason == "Not authorized"


ACL_CASES = [
    ("CLK-EAST", "hall/h1/clock/CLK-EAST/punch", True),
    ("CLK-EAST", "hall/h1/clock/CLK-EAST/status", True),
    ("CLK-EAST", "hall/h1/clock/CLK-WEST/punch", False),
    ("CLK-EAST", "hall/h1/light/W01", False),
    ("CLK-EAST", "hall/h1/camera/CLK-EAST/presence", True),
    ("CAM1", "hall/h1/camera/CAM1/presence", True),
    ("CAM1", "hall/h1/camera/CAM2/presence", False),
    ("CAM1", "hall/h1/clock/CLK-EAST/punch", False),
    ("hallwatch", "hall/h1/light/W01", True),
    ("hallwatch", "hall/h1/summary", True),
    ("hallwatch", "hall/h1/cards/K-2026-000451", True),
    ("hallwatch", "hall/h1/monitor/status", True),
    ("case-system", "hall/h1/case/C2026-000123/event", True),
    ("case-system", "hall/h1/staff/S001/status", True),
    ("case-system", "hall/h1/complaint/K-77/event", True),
    ("case-system", "hall/h1/rating/C2026-000123", True),
    ("case-system", "hall/h1/light/W01", False),
    ("case-system", "hall/h1/card/K-1/command", False),
    ("console", "hall/h1/card/K-2026-000451/command", True),
    ("console", "hall/h1/cards/K-2026-000451", False),
    ("console", "hall/h1/light/W01", False),
    ("display", "hall/h1/light/W01", False),
    ("display", "hall/h1/summary", False),
    ("display", "hall/h1/monitor/status", False),
]


@pytest.mark.integration
@pytest.mark.parametrize(("user", "topic", "allowed"), ACL_CASES)
def test_acl_decides_who_may_publish_where(
    mosquitto_session: Mosquitto, session_watcher: Client, user: str, topic: str, allowed: bool
) -> None:
    publish_as(mosquitto_session, user, topic)

    seen = [message.topic for message in delivered_until_sentinel(session_watcher)]

    assert seen == ([topic] if allowed else [])


@pytest.mark.integration
def test_clock_publishes_only_its_own_punches(mosquitto: Mosquitto, watcher: Client) -> None:
    clock = connected(mosquitto, "CLK-EAST")
    try:
        clock.publish("hall/h1/clock/CLK-WEST/punch", b'{"staff": "S002"}')
        clock.publish("hall/h1/clock/CLK-EAST/punch", b'{"staff": "S001"}')
        clock.publish("hall/h1/light/W01", b'{"level": "green"}')
    finally:
        clock.close()

    seen = [(m.topic, m.payload) for m in delivered_until_sentinel(watcher)]

    assert seen == [("hall/h1/clock/CLK-EAST/punch", b'{"staff": "S001"}')]


@pytest.mark.integration
def test_display_reads_lights_and_summary_but_not_inbound_topics(mosquitto: Mosquitto) -> None:
    with watching(mosquitto, "hall/#", user="display") as display:
        daemon = connected(mosquitto, "hallwatch")
        try:
            # Sent first: had the display been allowed to read it, it would arrive first.
            daemon.publish(PUNCH, b"punch")
            daemon.publish("hall/h1/light/W01", b"light")
            daemon.publish("hall/h1/summary", b"summary")
            daemon.publish("hall/h1/monitor/status", b"online")
        finally:
            daemon.close()
        received = [display.messages.get(timeout=WAIT).payload for _ in range(3)]

    assert received == [b"light", b"summary", b"online"]


@pytest.mark.integration
def test_payload_over_contract_limit_still_reaches_the_daemon(
    mosquitto: Mosquitto, watcher: Client
) -> None:
    # The daemon records oversized messages as rejected, so the broker must pass them on.
    payload = b"x" * (100 * 1024)
    publish_as(mosquitto, "CLK-EAST", PUNCH, payload)

    seen = delivered_until_sentinel(watcher)

    assert [m.payload for m in seen] == [payload]


@pytest.mark.integration
def test_payload_over_broker_limit_is_acked_and_dropped(
    mosquitto: Mosquitto, watcher: Client
) -> None:
    clock = connected(mosquitto, "CLK-EAST")
    try:
        clock.publish(PUNCH, b"x" * (2 * 1024 * 1024 + 1))
        # Still connected: a device is not stuck resending the oversized message forever.
        clock.publish(PUNCH, b"next")
    finally:
        clock.close()

    seen = delivered_until_sentinel(watcher)

    assert [m.payload for m in seen] == [b"next"]


@pytest.mark.integration
def test_queued_qos1_message_survives_disconnect_and_broker_restart(mosquitto: Mosquitto) -> None:
    daemon = connected(mosquitto, "hallwatch", client_id=PERSISTENT_ID, clean_session=False)
    daemon.subscribe("hall/+/clock/+/punch")
    daemon.close()

    publish_as(mosquitto, "CLK-EAST", PUNCH, b"while-away")
    assert _next_payload_on_reconnect(mosquitto) == b"while-away"

    publish_as(mosquitto, "CLK-EAST", PUNCH, b"before-restart")
    mosquitto.restart()
    # Had the first message not been acknowledged for good, it would come back first.
    assert _next_payload_on_reconnect(mosquitto) == b"before-restart"


def _next_payload_on_reconnect(broker: Mosquitto) -> bytes:
    daemon = Client(broker, "hallwatch", client_id=PERSISTENT_ID, clean_session=False)
    try:
        reason, session_present = daemon.connect()
        assert not reason.is_failure
        assert session_present
        message = daemon.messages.get(timeout=WAIT)
    finally:
        daemon.close()
    assert message.qos == 1
    return bytes(message.payload)

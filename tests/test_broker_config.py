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

from alerts.brokeracl import broker_acl
from hallkit.config import example_config_path
from monitor.cli import main
from tests.brokers import (
    PROJECT_ACL,
    PROJECT_CONF,
    TEST_ADMIN,
    Mosquitto,
    rewrite_config,
    setting_name,
)
from tests.hall import HALL, example

WAIT = 10.0
H = f"hall/{HALL}"
OTHER = "hall/other-hall"
PUNCH = f"{H}/clock/CLK-EAST/punch"
PRESENCE = f"{H}/camera/CAM1/presence"
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
        self.disconnects: queue.Queue[ReasonCode] = queue.Queue()
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
        self.paho.on_disconnect = self._on_disconnect

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

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.disconnects.put(reason_code)


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
    ("CLK-EAST", f"{H}/clock/CLK-EAST/punch", True),
    ("CLK-EAST", f"{H}/clock/CLK-EAST/status", True),
    ("CLK-EAST", f"{H}/clock/CLK-WEST/punch", False),
    ("CLK-EAST", f"{H}/light/W01", False),
    ("CLK-EAST", f"{H}/camera/CLK-EAST/presence", False),  # a clock is no camera
    ("CLK-EAST", f"{OTHER}/clock/CLK-EAST/punch", False),  # cross-hall
    ("CLK-EAST", f"{H}/clock/CLK-WEST/status", False),
    ("CAM1", f"{H}/camera/CAM1/presence", True),
    ("CAM1", f"{H}/camera/CAM2/presence", False),
    ("CAM1", f"{H}/clock/CLK-EAST/punch", False),
    ("CAM1", f"{OTHER}/camera/CAM1/presence", False),
    ("CAM1", f"{H}/clock/CAM1/punch", False),
    ("hallwatch", f"{H}/light/W01", True),
    ("hallwatch", f"{H}/summary", True),
    ("hallwatch", f"{H}/cards/K-2026-000451", True),
    ("hallwatch", f"{H}/monitor/status", True),
    ("hallwatch", PUNCH, False),  # the daemon's account publishes no inbound topic
    ("hallwatch", f"{H}/case/C2026-000123/event", False),
    ("hallwatch", f"{H}/card/K-1/command", False),
    ("hallwatch", f"{OTHER}/light/W01", False),
    ("case-system", f"{H}/case/C2026-000123/event", True),
    ("case-system", f"{H}/staff/S001/status", True),
    ("case-system", f"{H}/complaint/K-77/event", True),
    ("case-system", f"{H}/rating/C2026-000123", True),
    ("case-system", f"{H}/light/W01", False),
    ("case-system", f"{H}/card/K-1/command", False),
    ("case-system", PUNCH, False),  # cross-kind: no device topic
    ("case-system", PRESENCE, False),
    ("case-system", f"{H}/clock/case-system/punch", False),  # was allowed by a %u pattern
    ("case-system", f"{H}/camera/case-system/presence", False),
    ("case-system", f"{OTHER}/case/C2026-000123/event", False),
    ("console", f"{H}/card/K-2026-000451/command", True),
    ("console", f"{H}/cards/K-2026-000451", False),
    ("console", f"{H}/light/W01", False),
    ("console", PUNCH, False),
    ("console", PRESENCE, False),
    ("console", f"{H}/clock/console/punch", False),
    ("console", f"{H}/camera/console/status", False),
    ("console", f"{OTHER}/card/K-1/command", False),
    ("display", f"{H}/light/W01", False),
    ("display", f"{H}/summary", False),
    ("display", f"{H}/monitor/status", False),
    ("display", PUNCH, False),
    ("display", PRESENCE, False),
    ("display", f"{H}/clock/display/punch", False),
    ("display", f"{H}/camera/display/presence", False),
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
        clock.publish(f"{H}/clock/CLK-WEST/punch", b'{"staff": "S002"}')
        clock.publish(f"{H}/clock/CLK-EAST/punch", b'{"staff": "S001"}')
        clock.publish(f"{H}/light/W01", b'{"level": "green"}')
    finally:
        clock.close()

    seen = [(m.topic, m.payload) for m in delivered_until_sentinel(watcher)]

    assert seen == [(f"{H}/clock/CLK-EAST/punch", b'{"staff": "S001"}')]


@pytest.mark.integration
def test_display_reads_lights_and_summary_but_not_inbound_topics(mosquitto: Mosquitto) -> None:
    with watching(mosquitto, "hall/#", user="display") as display:
        daemon = connected(mosquitto, "hallwatch")
        try:
            # Sent first: had the display been allowed to read it, it would arrive first.
            daemon.publish(PUNCH, b"punch")
            daemon.publish(f"{H}/light/W01", b"light")
            daemon.publish(f"{H}/summary", b"summary")
            daemon.publish(f"{H}/monitor/status", b"online")
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


def test_shipped_acl_is_the_one_written_from_the_example_hall() -> None:
    # `hallwatch broker-acl --config config/hall.example.toml > config/mosquitto.acl`
    assert PROJECT_ACL.read_text(encoding="utf-8") == broker_acl(example())


def test_no_acl_line_applies_to_every_account() -> None:
    # Mosquitto applies `pattern` lines (and topic lines before any `user`) to every account,
    # which let the display, console and case system publish device topics.
    lines = [ln.split() for ln in PROJECT_ACL.read_text(encoding="utf-8").splitlines()]
    words = [ln[0] for ln in lines if ln and not ln[0].startswith("#")]
    assert "pattern" not in words
    assert words[0] == "user"
    assert not [ln for ln in lines if ln and ln[0] == "topic" and not ln[-1].startswith(H + "/")]


def test_every_listener_binds_client_ids_to_accounts() -> None:
    # A listener setting: the commented TLS listener needs it too once it is enabled.
    text = PROJECT_CONF.read_text(encoding="utf-8")
    enabled = [setting_name(line.removeprefix("# ")) for line in text.splitlines()]
    listeners = [i for i, key in enumerate(enabled) if key == "listener"]
    assert len(listeners) == 2
    for start, end in zip(listeners, [*listeners[1:], len(enabled)], strict=True):
        assert "use_username_as_clientid" in enabled[start:end], f"listener at line {start + 1}"
    assert "use_username_as_clientid true" in text.splitlines()


TAKEOVER_IDS = [example().client_id, "hallwatch", PERSISTENT_ID]
QUEUED = 200


@pytest.mark.integration
def test_a_device_using_the_daemons_client_id_deletes_none_of_its_queue(
    mosquitto: Mosquitto,
) -> None:
    daemon = connected(mosquitto, "hallwatch", client_id=PERSISTENT_ID, clean_session=False)
    daemon.subscribe(f"{H}/clock/#")
    daemon.close()
    clock = connected(mosquitto, "CLK-EAST")
    try:
        for n in range(QUEUED):
            clock.publish(PUNCH, str(n).encode())
    finally:
        clock.close()
    for client_id in TAKEOVER_IDS:  # the daemon's configured id, its account, the test's id
        attacker = connected(mosquitto, "CLK-EAST", client_id=client_id, clean_session=True)
        attacker.close()

    daemon = Client(mosquitto, "hallwatch", client_id=PERSISTENT_ID, clean_session=False)
    try:
        reason, session_present = daemon.connect()
        got = [daemon.messages.get(timeout=WAIT).payload for _ in range(QUEUED)]
    finally:
        daemon.close()
    assert not reason.is_failure
    assert session_present
    assert got == [str(n).encode() for n in range(QUEUED)]


@pytest.mark.integration
def test_a_device_using_the_daemons_client_id_does_not_disconnect_it(
    mosquitto: Mosquitto,
) -> None:
    daemon = connected(mosquitto, "hallwatch", client_id=PERSISTENT_ID, clean_session=False)
    try:
        daemon.subscribe(f"{H}/clock/#")
        clock = connected(mosquitto, "CLK-EAST")
        for n in range(10):
            attacker = connected(mosquitto, "CLK-EAST", client_id=TAKEOVER_IDS[n % 3])
            attacker.close()
        clock.close()  # taken over by its own account's first attacker: gone already
        publish_as(mosquitto, "CLK-EAST", PUNCH, b"after")
        assert daemon.messages.get(timeout=WAIT).payload == b"after"
        assert daemon.disconnects.empty()
    finally:
        daemon.close()


@pytest.mark.integration
def test_two_connections_of_one_account_take_each_other_over(mosquitto: Mosquitto) -> None:
    # The price of binding client ids to accounts: one connection per account.
    first = connected(mosquitto, "CLK-EAST", client_id="first")
    try:
        second = connected(mosquitto, "CLK-EAST", client_id="second")
        second.close()
        reason = first.disconnects.get(timeout=WAIT)
    finally:
        first.close()
    assert reason.is_failure


def test_broker_acl_command_prints_the_halls_acl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broker-acl", "--config", str(example_config_path())]) == 0
    assert capsys.readouterr().out == PROJECT_ACL.read_text(encoding="utf-8")


def test_a_device_named_like_a_role_account_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A camera called "display" would get the display's rights too (and it its topics).
    text = (
        example_config_path().read_text(encoding="utf-8").replace('id = "CAM4"', 'id = "display"')
    )
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["broker-acl", "--config", str(path)]) != 0
    assert "device id 'display' is also a broker role account" in capsys.readouterr().err

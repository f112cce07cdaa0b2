"""sd_notify against a real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallkit.sdnotify import SdNotifier


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET."""

    def __init__(self, address: str, notify_socket: str) -> None:
        self.address = address
        self.notify_socket = notify_socket
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(address)
        self._sock.settimeout(5.0)

    def receive(self) -> bytes:
        return self._sock.recv(4096)

    def nothing_pending(self) -> bool:
        self._sock.setblocking(False)
        try:
            self._sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self._sock.settimeout(5.0)
        return False

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSystemd]:
    if request.param == "path":
        path = str(tmp_path / "notify")
        fake = FakeSystemd(path, path)
    else:
        name = f"hallwatch-test-{uuid.uuid4().hex}"
        fake = FakeSystemd("\0" + name, "@" + name)
    try:
        yield fake
    finally:
        fake.close()


def notifier_for(systemd: FakeSystemd, **env: str) -> SdNotifier:
    return SdNotifier.from_env({"NOTIFY_SOCKET": systemd.notify_socket, **env})


def test_each_notification_is_one_exact_datagram(systemd: FakeSystemd) -> None:
    notifier = notifier_for(systemd)

    notifier.ready()
    notifier.watchdog()
    notifier.status("journal 12 batches, broker connected")
    notifier.stopping()

    assert [systemd.receive() for _ in range(4)] == [
        b"READY=1",
        b"WATCHDOG=1",
        b"STATUS=journal 12 batches, broker connected",
        b"STOPPING=1",
    ]
    assert systemd.nothing_pending()
    notifier.close()


def test_reloading_carries_the_monotonic_time(systemd: FakeSystemd) -> None:
    notifier = SdNotifier(systemd.address, monotonic_usec=lambda: 123_456_789)

    notifier.reloading()

    assert systemd.receive() == b"RELOADING=1\nMONOTONIC_USEC=123456789"


def test_reloading_uses_clock_monotonic_by_default(systemd: FakeSystemd) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier_for(systemd).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000

    first, second = systemd.receive().split(b"\n")
    assert first == b"RELOADING=1"
    assert second.startswith(b"MONOTONIC_USEC=")
    assert before <= int(second.removeprefix(b"MONOTONIC_USEC=")) <= after


def test_status_stays_one_assignment(systemd: FakeSystemd) -> None:
    notifier_for(systemd).status("broker down\nREADY=1")

    assert systemd.receive() == b"STATUS=broker down READY=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SdNotifier.from_env({})

    notifier.ready()
    notifier.reloading()
    notifier.watchdog()
    notifier.status("x")
    notifier.stopping()

    assert not notifier.enabled
    assert notifier.watchdog_interval is None


@pytest.mark.parametrize("value", ["relative/path", "vsock:2:1234"])
def test_unsupported_notify_socket_disables_notification(value: str) -> None:
    assert not SdNotifier.from_env({"NOTIFY_SOCKET": value}).enabled


def test_send_failure_never_raises_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})

    with caplog.at_level(logging.DEBUG, logger="hallkit.sdnotify"):
        notifier.ready()
        notifier.watchdog()
        notifier.stopping()

    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "READY=1" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_PID": "4242"}, None),
        ({}, None),
    ],
    ids=["usec", "usec-own-pid", "usec-other-pid", "zero", "garbage", "pid-only", "unset"],
)
def test_watchdog_interval_is_half_the_timeout_for_this_process(
    env: dict[str, str], interval: float | None
) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": "/run/systemd/notify", **env}, pid=4242)

    assert notifier.watchdog_interval == interval

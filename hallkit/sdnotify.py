"""The systemd notify protocol (sd_notify) without libsystemd.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``. Each notification is one datagram of
newline-separated ``KEY=value`` lines. Without ``NOTIFY_SOCKET`` every method does nothing, so
the daemon runs the same way from a shell.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)


def _monotonic_usec() -> int:
    # systemd compares MONOTONIC_USEC with its own CLOCK_MONOTONIC reading.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class SdNotifier:
    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        monotonic_usec: Callable[[], int] = _monotonic_usec,
    ) -> None:
        self._address = address
        self._watchdog_usec = watchdog_usec
        self._monotonic_usec = monotonic_usec
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, pid: int | None = None
    ) -> SdNotifier:
        env = os.environ if environ is None else environ
        return cls(
            _socket_address(env.get("NOTIFY_SOCKET", "")),
            watchdog_usec=_watchdog_usec(env, os.getpid() if pid is None else pid),
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog() calls: half the timeout systemd enforces, or None."""
        if self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def ready(self) -> None:
        self._send("READY=1")

    def reloading(self) -> None:
        """Announce a reload; call ready() again when it is done."""
        self._send(f"RELOADING=1\nMONOTONIC_USEC={self._monotonic_usec()}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def status(self, text: str) -> None:
        # A newline would start another assignment (say READY=1) inside the same datagram.
        self._send("STATUS=" + " ".join(text.splitlines()))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message.encode(), self._address)
        except OSError as exc:
            self._send_failed(message, exc)

    def _send_failed(self, message: str, exc: OSError) -> None:
        # The service must keep running when systemd cannot be told; one warning is enough.
        first_line = message.partition("\n")[0]
        if self._warned:
            logger.debug("sd_notify %s to %r failed: %s", first_line, self._address, exc)
            return
        self._warned = True
        logger.warning(
            "sd_notify %s to %r failed (further failures at DEBUG): %s",
            first_line,
            self._address,
            exc,
        )


def _socket_address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    if value:
        logger.warning("NOTIFY_SOCKET %r is neither a path nor @name: not notifying", value)
    return None


def _watchdog_usec(environ: Mapping[str, str], pid: int) -> int | None:
    # WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the
    # environment must not ping on the parent's behalf.
    watchdog_pid = environ.get("WATCHDOG_PID")
    if watchdog_pid is not None and watchdog_pid.strip() != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None

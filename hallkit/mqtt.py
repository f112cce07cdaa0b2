"""Connecting to the broker: account and TLS, and the one handler of a refused CONNACK.

Every MQTT client of the project (the daemon's link, the device spool, the simulator) sets
its account here and gives up here when retrying cannot help.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from alerts.config import TlsConfig

# CONNACK codes after which retrying cannot help: the caller stops and says why.
FATAL_CONNECT = frozenset(
    {"Bad user name or password", "Not authorized", "Client identifier not valid"}
)


def authenticate(
    client: mqtt.Client, username: str | None, password: str | None, tls: TlsConfig | None
) -> None:
    """Account and TLS for a broker connection: every client of the project sets them here."""
    if username:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set(
            ca_certs=tls.ca_file,
            certfile=tls.cert_file,
            keyfile=tls.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(tls.insecure)


def refusal(client: mqtt.Client, rc: ReasonCode, log: logging.Logger) -> str | None:
    """A failed CONNACK, logged on `log`. When retrying cannot help the client disconnects and
    the reason is returned (the caller stops with it); otherwise None (paho retries)."""
    text = str(rc)
    log.error("MQTT broker refused the connection: %s", text)
    if text not in FATAL_CONNECT:
        return None
    client.disconnect()
    return f"broker refused the connection: {text}"


class Reconnecting:
    """What every reconnecting client of the project (the daemon's link, the device spool)
    does on CONNACK and on a lost connection: `connected` while the broker has it, `fatal` once
    the broker refused it for good (the owner stops with it); paho retries anything else.
    A subclass says what a new connection needs (`_accepted`) and what a lost one costs
    (`_dropped`), and logs on its own `_log`."""

    _log: logging.Logger

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.fatal: str | None = None

    def _accepted(self, client: mqtt.Client, flags: Any) -> None:
        """On paho's thread, before `connected` is set: subscribe, say online."""

    def _dropped(self, rc: ReasonCode) -> None:
        """On paho's thread, after `connected` is cleared."""

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            self.fatal = refusal(client, rc, self._log) or self.fatal
            return
        self._accepted(client, flags)
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        if rc.is_failure:
            self._log.warning("MQTT connection lost (%s); reconnecting with backoff", rc)
        self._dropped(rc)

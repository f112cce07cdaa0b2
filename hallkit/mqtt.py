"""Connecting to the broker: account and TLS, and the one handler of a refused CONNACK.

Every MQTT client of the project (the daemon's link, the device spool, the simulator) sets
its account here and gives up here when retrying cannot help.
"""

from __future__ import annotations

import logging
import ssl

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

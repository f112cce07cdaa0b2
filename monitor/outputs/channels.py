"""Where notices go: the channel seam, its real channels and its fake (docs/notify.md).

Channel.send(Outgoing)          returns once the service took it, else SendFailed
├── AppriseChannel              any Apprise URL: e-mail (mailto/mailtos), WeCom robots, SMS
├── DingTalkChannel             a DingTalk group robot, signed (加签) by us
└── FakeChannel                 the in-package fake: keeps what it took, `down` fails
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from alerts.errors import ConfigError, HallwatchError
from alerts.notify import NotifyChannel
from hallkit.config import read_secret

logger = logging.getLogger(__name__)


class SendFailed(HallwatchError):
    """A channel did not take a notice; it is retried."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    address: str
    title: str
    body: str


class Channel(Protocol):
    def send(self, msg: Outgoing) -> None:
        """Return once the service took it; raise SendFailed."""


class FakeChannel:
    """In-package fake: keeps what it took; while `down` every send fails."""

    def __init__(self) -> None:
        self.taken: list[Outgoing] = []
        self.down = False
        self.attempts = 0

    def send(self, msg: Outgoing) -> None:
        self.attempts += 1
        if self.down:
            raise SendFailed("scripted outage")
        self.taken.append(msg)


class AppriseChannel:
    """Any Apprise URL: {to} is the person's address, {token} and {secret} the secret files."""

    def __init__(self, url: str, token: str | None, secret: str | None) -> None:
        self._url, self._token, self._secret = url, token or "", secret or ""

    def send(self, msg: Outgoing) -> None:
        import apprise  # only where a channel uses it

        q = urllib.parse.quote
        url = self._url.format(
            to=q(msg.address, safe=""),
            token=q(self._token, safe=""),
            secret=q(self._secret, safe=""),
        )
        client = apprise.Apprise()
        capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
        with capture as captured:
            if not client.add(url):
                raise SendFailed("Apprise does not accept the channel's URL")
            ok = client.notify(body=msg.body, title=msg.title)
        if not ok:
            raise SendFailed(captured.getvalue().strip()[-500:] or "Apprise: not delivered")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot 加签: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), unencoded."""
    text = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), text, hashlib.sha256).digest()).decode()


class DingTalkChannel:
    """A DingTalk group robot, text message, the person @-mentioned by mobile.

    Not Apprise's plugin: it URL-encodes the signature and then hands it to requests as a
    query parameter, which encodes it again (`sign=…%252B…`), and its endpoint is fixed.
    """

    def __init__(
        self,
        url: str,
        token: str,
        secret: str | None,
        timeout_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self._url, self._token, self._secret = url, token, secret
        self._timeout, self._now = timeout_s, now

    def request(self, msg: Outgoing) -> tuple[str, bytes]:
        query = {"access_token": self._token}
        if self._secret:
            ts = int(self._now().timestamp() * 1000)
            query |= {"timestamp": str(ts), "sign": dingtalk_sign(self._secret, ts)}
        doc = {
            "msgtype": "text",
            "text": {"content": f"{msg.title}\n{msg.body}"},
            "at": {"atMobiles": [msg.address] if msg.address else [], "isAtAll": False},
        }
        sep = "&" if "?" in self._url else "?"
        body = json.dumps(doc, ensure_ascii=False).encode()
        return f"{self._url}{sep}{urllib.parse.urlencode(query)}", body

    def send(self, msg: Outgoing) -> None:
        url, body = self.request(msg)
        req = urllib.request.Request(
            url, body, {"Content-Type": "application/json; charset=utf-8"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                answer = json.loads(resp.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SendFailed(f"DingTalk: {exc}") from exc
        if answer.get("errcode", 0) != 0:
            raise SendFailed(f"DingTalk errcode {answer.get('errcode')}: {answer.get('errmsg')}")


class _Broken:
    """A channel whose configuration cannot be used (a missing secret): fails every send."""

    def __init__(self, why: str) -> None:
        self.why = why

    def send(self, msg: Outgoing) -> None:
        raise SendFailed(self.why)


def build_channel(
    c: NotifyChannel, config_path: Path | None, now: Callable[[], datetime]
) -> Channel:
    try:
        token = read_secret(c.token_file, config_path) if c.token_file else None
        secret = read_secret(c.secret_file, config_path) if c.secret_file else None
    except ConfigError as exc:
        logger.error("notify channel %s cannot be used: %s", c.name, exc.problems[0])
        return _Broken(f"secret missing: {exc.problems[0]}")
    if c.kind == "dingtalk":
        return DingTalkChannel(c.url, token or "", secret, c.timeout_s, now)
    return AppriseChannel(c.url, token, secret)

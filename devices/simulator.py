"""`hallwatch simulate`: a realistic hall day, or many, published to the broker.

`simulate_day` / `simulate_days` are pure and deterministic with the seed: they return the
contract messages (devices/simulation/) a configured hall would see, each with the instant it
goes out and the MQTT account allowed to send it. `publish_messages` sends them at QoS 1, one
paho client per account (each clock and camera is its own user under config/mosquitto.acl;
the case system another), paced by `speed` simulated seconds per real second, and returns once
every message is acknowledged. docs/simulator.md describes what a day holds and why.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from alerts.brokeracl import DAEMON_ACCOUNT
from alerts.config import HallConfig, TlsConfig, work_calendar
from alerts.errors import ConfigError, HallwatchError
from devices.simulation.cases import plan_cases, plan_complaints
from devices.simulation.model import CASE_SYSTEM, Hall, Message, Mix, Params
from devices.simulation.people import plan_staffing
from hallkit import logs
from hallkit.config import load_config
from hallkit.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, UsageParser
from hallkit.mqtt import authenticate

__all__ = [
    "CASE_SYSTEM",
    "Message",
    "Mix",
    "Params",
    "PublishError",
    "main",
    "publish_messages",
    "simulate_day",
    "simulate_days",
]

logger = logging.getLogger(__name__)

INFLIGHT = 500  # below Mosquitto's max_inflight_messages (config/mosquitto.conf: 1000)
CONNECT_TIMEOUT = 10.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Credentials = Callable[[str], "tuple[str, str] | None"]


def _generate(hall: Hall, day: date, seed: int, p: Params) -> list[Message]:
    """Everything that begins on `day`, including later steps of its cases and complaints."""
    out: list[Message] = []
    if hall.cal.is_working_day(day):
        staffing = plan_staffing(hall, day, seed, p)
        out += staffing.messages
        out += plan_cases(hall, day, seed, p, staffing.seats)
    out += plan_complaints(hall, day, seed, p)
    return out


def _at(m: Message) -> datetime:
    return m.at


def simulate_day(
    cfg: HallConfig, day: date, seed: int, params: Params | None = None
) -> list[Message]:
    """The messages of one day (hall time), in publishing order; the same for the same seed."""
    hall = Hall(cfg, work_calendar(cfg))
    msgs = _generate(hall, day, seed, params or Params())
    return sorted((m for m in msgs if hall.local_date(m.at) == day), key=_at)


def simulate_days(
    cfg: HallConfig, start: date, n: int, seed: int, params: Params | None = None
) -> list[Message]:
    """`n` days from `start`: cases and complaints still open at night continue on later days.

    What would happen after the last day is left out (those cases stay open).
    """
    hall = Hall(cfg, work_calendar(cfg))
    p = params or Params()
    end = start + timedelta(days=n)
    msgs: list[Message] = []
    for i in range(n):
        msgs += _generate(hall, start + timedelta(days=i), seed, p)
    return sorted((m for m in msgs if hall.local_date(m.at) < end), key=_at)


class PublishError(HallwatchError):
    """The broker could not be reached, refused an account, or did not acknowledge."""


class _Link:
    """One paho client for one broker account; counts PUBACKs."""

    def __init__(
        self, client_id: str, creds: tuple[str, str] | None, tls: TlsConfig | None
    ) -> None:
        self.name = creds[0] if creds else "(anonymous)"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        user, password = creds if creds else (None, None)
        authenticate(self.client, user, password, tls)
        self.client.max_inflight_messages_set(INFLIGHT)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.answered = threading.Event()
        self.refused: str | None = None
        self.sent = 0  # written by the publishing thread only
        self.acked = 0  # written by paho's network thread only

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    def open(self, host: str, port: int) -> None:
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"{self.name}: cannot reach {host}:{port}: {exc}") from exc
        self.client.loop_start()
        if not self.answered.wait(CONNECT_TIMEOUT):
            raise PublishError(f"{self.name}: no answer from {host}:{port}")
        if self.refused:
            raise PublishError(f"{self.name}: the broker refused the connection: {self.refused}")
        logger.debug("MQTT account %s connected", self.name)

    def send(self, m: Message) -> None:
        self.sent += 1
        self.client.publish(m.topic, m.payload, qos=1, retain=m.retain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            self.refused = str(rc)
        self.answered.set()

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, _rc: ReasonCode, _p: Any) -> None:
        self.acked += 1


def publish_messages(
    messages: Iterable[Message],
    host: str,
    port: int,
    credentials: Credentials,
    speed: float = 0.0,
    now_fn: Callable[[], float] = time.monotonic,
    sleep_fn: Callable[[float], None] = time.sleep,
    *,
    origin: datetime | None = None,
    stop: threading.Event | None = None,
    tls: TlsConfig | None = None,
    client_prefix: str = "hallwatch-sim",
    ack_timeout: float = 60.0,
) -> int:
    """Publish at QoS 1 in `at` order; return how many were sent (and acknowledged).

    `credentials(user)` gives the (account, password) to publish `user`'s messages with, or
    None for an anonymous connection; users mapped to the same account share one client.
    With `speed` > 0 a message goes out when `now_fn()` has advanced by its distance from
    `origin` (default: the first message) divided by `speed`; earlier ones go at once, so
    `origin=now, speed=1` catches up on the morning and then follows the clock. `speed` 0 sends
    as fast as the broker takes them. `stop` ends the run early (what was sent is still
    acknowledged). Raises `PublishError` when an account is refused or acks stop coming.
    """
    if speed < 0:
        raise ValueError(f"speed {speed} is negative")
    ordered = sorted(messages, key=_at)
    if not ordered:
        return 0
    route: dict[str, str] = {}
    links: dict[str, _Link] = {}
    for user in dict.fromkeys(m.user for m in ordered):
        creds = credentials(user)
        key = creds[0] if creds else ""
        route[user] = key
        if key not in links:
            client_id = f"{client_prefix}-{key or 'anonymous'}-{os.getpid()}"
            links[key] = _Link(client_id, creds, tls)
    try:
        for link in links.values():
            link.open(host, port)
        logger.info("publishing %d message(s) as %d account(s)", len(ordered), len(links))
        pace = (speed, origin or ordered[0].at)
        sent = _pace(ordered, links, route, pace, now_fn, sleep_fn, stop)
        if stop is not None and stop.is_set():  # told to stop: the receiver may be gone too
            left = sum(link.unacked for link in links.values())
            logger.info("stopped with %d message(s) not acknowledged", left)
        else:
            _drain(links.values(), ack_timeout)
    finally:
        for link in links.values():
            link.close()
    return sent


def _pace(
    ordered: Sequence[Message],
    links: dict[str, _Link],
    route: dict[str, str],
    pace: tuple[float, datetime],
    now_fn: Callable[[], float],
    sleep_fn: Callable[[float], None],
    stop: threading.Event | None,
) -> int:
    speed, origin = pace
    base = now_fn()
    sent = 0
    for m in ordered:
        if speed > 0:
            due = base + (m.at - origin).total_seconds() / speed
            while (wait := due - now_fn()) > 0 and not (stop and stop.is_set()):
                sleep_fn(min(wait, 1.0))  # short naps: a stop is honoured within a second
        if stop is not None and stop.is_set():
            logger.info("stopped after %d of %d message(s)", sent, len(ordered))
            break
        links[route[m.user]].send(m)
        sent += 1
    return sent


def _drain(links: Iterable[_Link], timeout: float) -> None:
    """Wait for every PUBACK; give up only after `timeout` seconds without progress."""
    links = list(links)
    last, deadline = -1, time.monotonic() + timeout
    while (left := sum(link.unacked for link in links)) > 0:
        if left != last:
            last, deadline = left, time.monotonic() + timeout
        elif time.monotonic() > deadline:
            raise PublishError(f"{left} message(s) not acknowledged within {timeout} s")
        time.sleep(0.01)


# --- the command ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not a positive number")
    return n


def _speed(text: str) -> float:
    x = float(text)
    if not x >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a speed (0 or more)")
    return x


def _mix(text: str) -> Mix:
    try:
        immediate, promised, reported = (float(x) for x in text.split(","))
        return Mix(immediate=immediate, promised=promised, reported=reported)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--mix IMMEDIATE,PROMISED,REPORTED: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="hallwatch simulate",
        description="Publish a simulated day (or days) of a configured hall: punches, seats, "
        "leave and notices, cases, ratings, complaints. See docs/simulator.md.",
    )
    p.add_argument("--config", required=True, type=Path, help="hall configuration (TOML)")
    p.add_argument("--broker-host", help="default: [broker] host of the configuration")
    p.add_argument("--broker-port", type=int, help="default: [broker] port of the configuration")
    p.add_argument(
        "--password-dir",
        type=Path,
        help="one file per MQTT account, named as the account (default $CREDENTIALS_DIRECTORY)",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user", help="publish everything as this one account, e.g. test-admin")
    who.add_argument("--anonymous", action="store_true", help="no credentials (the demo broker)")
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        help="first day, YYYY-MM-DD (default: the --days days up to yesterday; --live: today)",
    )
    p.add_argument("--days", type=_positive_int, default=1, help="how many days (default 1)")
    p.add_argument("--seed", type=int, default=1, help="same seed, same messages (default 1)")
    p.add_argument(
        "--speed",
        type=_speed,
        help="simulated seconds per real second; 0 = as fast as possible (default 0; --live: 1)",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="today in real time: what is already past goes at once, the rest when it happens",
    )
    p.add_argument("--mix", type=_mix, help="case kind shares IMMEDIATE,PROMISED,REPORTED")
    p.add_argument("--cases-per-day", type=float, help="cases on an ordinary day (default 120)")
    p.add_argument("--print", dest="print_only", action="store_true", help="JSON lines, no broker")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def _params(args: argparse.Namespace) -> Params:
    p = Params()
    if args.mix is not None:
        p = replace(p, mix=args.mix)
    if args.cases_per_day is not None:
        p = replace(p, cases_per_day=args.cases_per_day)
    return p


def _password(pw_dir: Path | None, account: str) -> str | None:
    if pw_dir is not None and (pw_dir / account).is_file():
        return (pw_dir / account).read_text(encoding="utf-8").strip()
    return None


def _credentials(cfg: HallConfig, args: argparse.Namespace, users: Iterable[str]) -> Credentials:
    if args.anonymous:
        return lambda _user: None
    pw_dir = args.password_dir
    if pw_dir is None and os.environ.get("CREDENTIALS_DIRECTORY"):
        pw_dir = Path(os.environ["CREDENTIALS_DIRECTORY"])
    accounts = [args.user] if args.user else sorted(set(users))
    daemon = cfg.broker.username or DAEMON_ACCOUNT
    if daemon in accounts:
        # Client ids are accounts (config/mosquitto.conf): a clean-session connection under
        # the daemon's account would delete the daemon's session and what is queued in it.
        raise ConfigError(
            "credentials", [f"{daemon!r} is the daemon's MQTT account: publish as another one"]
        )
    found: dict[str, str] = {}
    problems: list[str] = []
    for account in accounts:
        pw = _password(pw_dir, account)
        if pw is None:
            where = pw_dir / account if pw_dir else f"--password-dir DIR/{account}"
            problems.append(f"no password for MQTT account {account!r} (looked for {where})")
        else:
            found[account] = pw
    if problems:
        problems.append("give --password-dir, or publish as one account (--user) or --anonymous")
        raise ConfigError("credentials", problems)
    if args.user:
        single = (args.user, found[args.user])
        return lambda _user: single
    return lambda user: (user, found[user])


def _print(msgs: Sequence[Message], hall: HallConfig) -> None:
    zone = hall.hall.zone
    for m in msgs:
        line = {
            "at": m.at.astimezone(zone).isoformat(timespec="milliseconds"),
            "user": m.user,
            "topic": m.topic,
            "retain": m.retain,
            "payload": m.payload.decode("utf-8"),
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


def _warn_future(msgs: Sequence[Message], now: datetime, speed: float, skew_s: int) -> None:
    """The daemon rejects an event stamped more than `skew_s` after it arrives: say so first."""
    origin = msgs[0].at
    ahead = 0
    for m in msgs:
        arrives = now + ((m.at - origin) / speed if speed > 0 else timedelta(0))
        ahead += (m.at - arrives).total_seconds() > skew_s
    if ahead:
        logger.warning(
            "%d message(s) are stamped more than %d s after they will arrive: the daemon rejects "
            "them as future_time (pick past days, or --live)",
            ahead,
            skew_s,
        )


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    now = datetime.now(UTC)
    today = now.astimezone(cfg.hall.zone).date()
    start = args.start or (today if args.live else today - timedelta(days=args.days))
    msgs = simulate_days(cfg, start, args.days, args.seed, _params(args))
    if args.print_only or not msgs:
        try:
            _print(msgs, cfg)
        except BrokenPipeError:  # `| head` has read enough; keep the exit quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    try:
        credentials = _credentials(cfg, args, (m.user for m in msgs))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    speed = args.speed if args.speed is not None else (1.0 if args.live else 0.0)
    origin = now if args.live else None
    if not args.live:
        _warn_future(msgs, now, speed, cfg.ingest.max_future_skew_s)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    host = args.broker_host or cfg.broker.host
    port = args.broker_port or cfg.broker.port
    logger.info(
        "hall %s: %d message(s) from %s, %d day(s), seed %d",
        cfg.hall.id,
        len(msgs),
        start,
        args.days,
        args.seed,
    )
    try:
        sent = publish_messages(
            msgs, host, port, credentials, speed, origin=origin, stop=stop, tls=cfg.broker.tls
        )
    except PublishError as exc:
        logger.error("simulation not published: %s", exc)
        return EXIT_FAILURE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("published %d message(s) to %s:%d", sent, host, port)
    return EXIT_OK

"""`hallwatch zkpush`: ZKTeco fingerprint clocks upload to us over HTTP; punches go to MQTT.

The clocks speak the PUSH protocol (devices/zkproto.py). Only clocks on the configured
allow-list are answered. Each attendance record becomes a contract punch on
``hall/{hall}/clock/{device}/punch`` with an id derived from (serial, PIN, time), spooled to
disk before the clock hears ``OK`` (devices/spool.py), so neither a broker outage nor a restart
of the bridge loses one, and a clock that re-sends counts once. Nothing the clock hears ``OK``
for is dropped: a record whose PIN or verify code the bridge cannot map is published as it is
for the daemon to reject visibly (``hallwatch rejects``), and a line that is not a record is
kept in the bridge's own reject store (``hallwatch zkpush --rejects``). Each clock publishes
as its own MQTT device user (config/mosquitto.acl lets it write only its own topics), and its
retained ``status`` follows its requests: ``offline`` after `offline_after_s` of silence.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alerts.errors import ConfigError
from alerts.events import Verify
from devices.spool import Outgoing, SpooledPublisher, SpoolError, WhenFull
from devices.zkconfig import Device, ZkConfig, load_zk_config
from devices.zkproto import (
    OK,
    STATES,
    VERIFY_CODES,
    AttBatch,
    AttRecord,
    Endpoint,
    Options,
    ProtocolError,
    Query,
    Refusal,
    endpoint,
    options_reply,
    parse_attlog,
    parse_query,
    upload_reply,
)
from devices.zkstate import (
    DeviceWatch,
    RejectStore,
    StampStore,
    Transition,
    read_kept,
    render_kept,
)
from hallkit import logs
from hallkit.config import read_secret
from hallkit.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, UsageParser
from hallkit.http import Refused, body_length
from hallkit.sdnotify import SdNotifier

logger = logging.getLogger(__name__)

KEPT_FILE = "rejects.sqlite3"


class Unmapped(StrEnum):
    """What the bridge could not translate in a record; it is published all the same."""

    UNKNOWN_PIN = "unknown_pin"  # staff "pin:<PIN>": the daemon rejects it as unknown_staff
    UNKNOWN_VERIFY = "unknown_verify"  # verify "code:<n>": the daemon rejects it as bad_value


class Sink(Protocol):
    """Where one clock's messages go: a `SpooledPublisher`, or a list in tests."""

    def publish_many(self, items: Sequence[Outgoing]) -> None: ...

    def set_status(self, value: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    status: int
    body: str


def punch_id(serial: str, record: AttRecord) -> str:
    return f"{serial}-{record.pin}-{record.time:%Y%m%d%H%M%S}"


def to_punch(
    record: AttRecord,
    *,
    serial: str,
    topic: str,
    zone: ZoneInfo,
    pins: Mapping[str, str],
    verify_codes: Mapping[int, Verify],
) -> tuple[Outgoing, tuple[Unmapped, ...]]:
    """The contract punch of a record, and what of it could not be mapped.

    A PIN missing from `pins` becomes staff ``pin:<PIN>`` (with the PIN in ``pin``), an
    unknown verify code ``code:<n>``: no hall id has a colon, so the daemon rejects the
    punch as unknown_staff / bad_value and keeps it with the clock's topic, never counting
    it for someone else.
    """
    unmapped: list[Unmapped] = []
    staff = pins.get(record.pin)
    if staff is None:
        unmapped.append(Unmapped.UNKNOWN_PIN)
    verify = verify_codes.get(record.verify)
    if verify is None:
        unmapped.append(Unmapped.UNKNOWN_VERIFY)
    doc: dict[str, str] = {
        "id": punch_id(serial, record),
        "staff": staff if staff is not None else f"pin:{record.pin}",
        "ts": record.time.replace(tzinfo=zone).isoformat(),
        "verify": verify.value if verify is not None else f"code:{record.verify}",
        "state": STATES.get(record.status, str(record.status)),
    }
    if staff is None:
        doc["pin"] = record.pin
    return Outgoing(topic=topic, payload=json.dumps(doc).encode()), tuple(unmapped)


class Bridge:
    """Request in, reply out; publishes through one `Sink` per clock. Thread-safe."""

    def __init__(
        self,
        cfg: ZkConfig,
        sinks: Mapping[str, Sink],
        stamps: StampStore,
        kept: RejectStore,
        started: datetime,
    ) -> None:
        self.cfg = cfg
        self.counters: Counter[str] = Counter()
        self._sinks = sinks
        self._stamps = stamps
        self._kept = kept
        self._verify = {**VERIFY_CODES, **cfg.verify_codes}
        self._options = Options(delay_s=cfg.server.delay_s, error_delay_s=cfg.server.error_delay_s)
        offline_after = timedelta(seconds=cfg.server.offline_after_s)
        self._watch = DeviceWatch((d.id for d in cfg.devices), offline_after, started)
        self._lock = threading.Lock()
        self._strangers: set[str] = set()
        self._greeted: set[str] = set()
        self._beats: dict[str, datetime] = {}  # each clock's last heartbeat, bridge time

    def handle(self, method: str, path: str, query: str, body: bytes, now: datetime) -> Reply:
        try:
            return self._handle(method, path, query, body, now)
        except ProtocolError as exc:
            self._count(f"refused_{exc.reason}")
            if exc.reason is not Refusal.UNKNOWN_DEVICE:
                logger.warning("refused %s %s: %s", method, path[:80], exc.detail)
            return Reply(status=exc.reason.http_status, body=f"ERROR: {exc.detail}")

    def sweep(self, now: datetime) -> list[Transition]:
        with self._lock:
            changes = self._watch.sweep(now)
            for t in changes:
                logger.info("clock %s %s (%s)", t.device, t.status, t.why)
                self._sinks[t.device].set_status(t.status.value)
        return changes

    def _handle(self, method: str, path: str, query: str, body: bytes, now: datetime) -> Reply:
        ep = endpoint(path)
        q = parse_query(query)
        device = self._allowed(q.serial)
        self._heard(device, now)
        if ep is Endpoint.CDATA and method == "GET":
            return (
                self._hello(device, q, now) if q.options is not None else Reply(status=200, body=OK)
            )
        if ep is Endpoint.CDATA and method == "POST":
            return self._upload(device, q, body, now)
        if ep in (Endpoint.GETREQUEST, Endpoint.PING) and method == "GET":
            if q.info:
                logger.debug("clock %s reports %s", device.id, q.info[:200])
            self._beat(device, now)
            return Reply(status=200, body=OK)  # no commands are ever queued
        if ep in (Endpoint.DEVICECMD, Endpoint.QUERYDATA) and method == "POST":
            return Reply(status=200, body=OK)
        raise ProtocolError(Refusal.BAD_METHOD, f"{method} is not used on /iclock/{ep}")

    def _allowed(self, serial: str) -> Device:
        device = self.cfg.device(serial)
        if device is not None:
            return device
        with self._lock:
            if serial not in self._strangers and len(self._strangers) < 256:
                self._strangers.add(serial)
                logger.warning("clock with serial %s is not in [[devices]]: refused", serial)
        raise ProtocolError(Refusal.UNKNOWN_DEVICE, f"device {serial} is not registered")

    def _heard(self, device: Device, now: datetime) -> None:
        with self._lock:
            change = self._watch.heard(device.id, now)
            if change is not None:
                logger.info("clock %s %s (%s)", device.id, change.status, change.why)
                self._sinks[device.id].set_status(change.status.value)

    def _beat(self, device: Device, now: datetime) -> None:
        """A clock that polls for commands has uploaded what it holds (real-time mode: it
        sends each record as it is made, a backlog before it polls again). Its heartbeat
        vouches for the punches stamped before the poll less one poll interval and the
        skew its own time may have, so the daemon knows how far the clock is heard with a
        time of its own (the retained `online` has none). In the clock's spool, behind its
        punches: in order with them."""
        s = self.cfg.server
        if s.heartbeat_s == 0:
            return
        with self._lock:
            last = self._beats.get(device.id)
            if last is not None and now - last < timedelta(seconds=s.heartbeat_s):
                return
            self._beats[device.id] = now
        ts = now - timedelta(seconds=s.delay_s + s.skew_s)
        doc = {"ts": ts.astimezone(self.cfg.zone(device)).isoformat()}
        topic = f"hall/{self.cfg.hall.id}/clock/{device.id}/heartbeat"
        try:
            self._sinks[device.id].publish_many(
                [Outgoing(topic=topic, payload=json.dumps(doc).encode())]
            )
        except SpoolError as exc:  # the next poll tries again
            logger.warning("clock %s: heartbeat not spooled: %s", device.id, exc)
            with self._lock:
                self._beats.pop(device.id, None)
            return
        self._count("heartbeats_published")

    def _hello(self, device: Device, q: Query, now: datetime) -> Reply:
        offset = now.astimezone(self.cfg.zone(device)).utcoffset() or timedelta(0)
        stamps = self._stamps.get(device.serial)
        first = device.id not in self._greeted
        self._greeted.add(device.id)
        logger.log(
            logging.INFO if first else logging.DEBUG,
            "clock %s (SN %s, push %s) says hello; upload stamp %s",
            device.id,
            device.serial,
            q.pushver or "legacy",
            stamps.attlog,
        )
        body = options_reply(device.serial, stamps, self._options, offset, q.pushver)
        return Reply(status=200, body=body)

    def _upload(self, device: Device, q: Query, body: bytes, now: datetime) -> Reply:
        table = (q.table or "").upper()
        if not table:
            raise ProtocolError(Refusal.NO_TABLE, "an upload needs table=")
        if table != "ATTLOG":
            self._count("ignored_uploads")  # OPERLOG, options, photos...: accepted, not used
            if q.stamp is not None:
                self._stamps.put(device.serial, table, q.stamp)
            return Reply(status=200, body=OK)
        batch = parse_attlog(body)
        punches, unmapped = self._punches(device, batch.records)
        try:
            self._sinks[device.id].publish_many(punches)
        except SpoolError as exc:
            logger.error("clock %s: upload not taken, the clock keeps it: %s", device.id, exc)
            self._count("spool_refused_uploads")
            return Reply(status=503, body="ERROR: spool full, retry later")
        # Kept before the clock hears OK: a failure here is a 500 and the clock sends it all
        # again (the punches keep their ids, so nothing counts twice).
        self._keep_bad(device, batch, now)
        if q.stamp is not None:
            self._stamps.put(device.serial, "ATTLOG", q.stamp)
        self._count("punches_published", len(punches))
        for why, n in unmapped.items():
            self._count(f"published_{why}", n)
        logger.debug("clock %s uploaded %d record(s)", device.id, len(batch.records))
        # The count is every attendance line taken over, published or kept: the clock moves
        # its stamp past all of them.
        return Reply(status=200, body=upload_reply(batch.taken))

    def _keep_bad(self, device: Device, batch: AttBatch, now: datetime) -> None:
        if not batch.bad:
            return
        pruned = self._kept.keep(device.serial, device.id, now, batch.bad)
        self._count("bad_lines", batch.bad_lines)
        self._count("bad_lines_pruned", pruned)
        logger.warning(
            "clock %s: %d line(s) of an upload are not attendance records; acknowledged and "
            "kept in rejects.sqlite3 (hallwatch zkpush --rejects): %s",
            device.id,
            batch.bad_lines,
            "; ".join(b.detail for b in batch.bad[:3]),
        )

    def _punches(
        self, device: Device, records: Sequence[AttRecord]
    ) -> tuple[list[Outgoing], Counter[Unmapped]]:
        topic = f"hall/{self.cfg.hall.id}/clock/{device.id}/punch"
        zone = self.cfg.zone(device)
        punches, unmapped, seen, odd = [], Counter[Unmapped](), set(), 0
        for record in records:
            out, missing = to_punch(
                record,
                serial=device.serial,
                topic=topic,
                zone=zone,
                pins=self.cfg.pins,
                verify_codes=self._verify,
            )
            punches.append(out)
            unmapped.update(missing)
            if missing:
                odd += 1
                seen.add(f"{record.pin}/verify {record.verify}")
        if unmapped:
            logger.warning(
                "clock %s: %d record(s) published unmapped for the daemon to reject (%s); "
                "PIN/verify: %s",
                device.id,
                odd,
                ", ".join(f"{k} {v}" for k, v in unmapped.items()),
                ", ".join(sorted(seen)[:10]),
            )
        return punches, unmapped

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n


class PushHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], bridge: Bridge, max_body: int) -> None:
        self.bridge = bridge
        self.max_body = max_body
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: PushHttpServer
    timeout = 30  # a clock that stops mid-request must not hold a thread forever
    server_version = "hallwatch-zkpush"

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = body_length(self.headers.items(), self.server.max_body)
        if isinstance(length, Refused):
            self._reply(Reply(status=length.status, body=f"ERROR: {length.reason}"))
        else:
            self._serve(self.rfile.read(length))

    def _serve(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        try:
            reply = self.server.bridge.handle(
                self.command, parts.path, parts.query, body, datetime.now(UTC)
            )
        except Exception:
            logger.exception("request %s %s failed", self.command, parts.path[:80])
            reply = Reply(status=500, body="ERROR: internal error")
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        data = reply.body.encode("utf-8")
        self.send_response(reply.status)  # adds Date:, which clocks use to set their time
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if reply.status >= 400:
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class ZkPushService:
    """The bridge wired to its HTTP server, its spools and the broker."""

    def __init__(
        self, cfg: ZkConfig, config_path: Path | None, notifier: SdNotifier | None = None
    ) -> None:
        self.cfg = cfg
        self.notifier = notifier or SdNotifier.from_env()
        state = Path(cfg.server.state_dir)
        self.publishers = {d.id: self._publisher(d, state, config_path) for d in cfg.devices}
        self.stamps = StampStore(state / "stamps.sqlite3")
        self.kept = RejectStore(state / KEPT_FILE, cfg.server.max_kept_lines)
        self.bridge = Bridge(cfg, self.publishers, self.stamps, self.kept, datetime.now(UTC))
        self.http = PushHttpServer(
            (cfg.server.listen, cfg.server.port), self.bridge, cfg.server.max_body_bytes
        )
        self._http_thread = threading.Thread(
            target=self.http.serve_forever, name="zkpush-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.http.server_address[:2]
        return str(host), int(port)

    def _publisher(self, d: Device, state: Path, config_path: Path | None) -> SpooledPublisher:
        password = read_secret(d.password_file, config_path) if d.password_file else None
        return SpooledPublisher(
            self.cfg.broker.model_copy(update={"username": d.id}),
            f"hallwatch-zkpush-{self.cfg.hall.id}-{d.id}",
            state / f"spool-{d.id}.sqlite3",
            password,
            f"hall/{self.cfg.hall.id}/clock/{d.id}/status",
            birth=False,  # online only once the clock itself talks
            max_rows=self.cfg.server.spool_max_rows,
            when_full=WhenFull.REFUSE,
        )

    def start(self) -> None:
        for p in self.publishers.values():
            p.start()
        self._http_thread.start()
        host, port = self.address
        logger.info("listening for ZKTeco clocks on %s:%d", host, port)

    def run(self, stop: threading.Event) -> int:
        self.start()
        self.notifier.ready()
        try:
            return self._loop(stop)
        finally:
            logger.info("stopping")
            self.notifier.stopping()
            self.close()

    def _loop(self, stop: threading.Event) -> int:
        tick = min(self.notifier.watchdog_interval or 1.0, 1.0)
        shown = ""
        while not stop.wait(tick):
            try:
                self.bridge.sweep(datetime.now(UTC))
            except Exception:
                logger.exception("status sweep failed")
            for device, p in self.publishers.items():
                if p.fatal is not None:
                    logger.error("stopping: clock %s: %s", device, p.fatal)
                    return EXIT_CONFIG
            text = self._status_line()
            if text != shown:
                self.notifier.status(text)
                shown = text
            self.notifier.watchdog()
        return EXIT_OK

    def _status_line(self) -> str:
        c = self.bridge.counters
        waiting = sum(len(p.spool) for p in self.publishers.values())
        return (
            f"{c['punches_published']} punches spooled, {waiting} unsent, "
            f"{c['published_unknown_pin']} with an unknown PIN, "
            f"{c['bad_lines']} bad lines (kept in {KEPT_FILE}), "
            f"{sum(v for k, v in c.items() if k.startswith('refused_'))} refused requests"
        )

    def close(self) -> None:
        if self._http_thread.is_alive():
            self.http.shutdown()
        self.http.server_close()
        for p in self.publishers.values():
            p.stop(timeout=3.0)
        self.stamps.close()
        self.kept.close()


def _parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="hallwatch zkpush",
        description="ZKTeco PUSH (iclock/ADMS) server: fingerprint-clock punches to MQTT.",
    )
    p.add_argument("--config", required=True, type=Path, help="bridge configuration (TOML)")
    p.add_argument("--check", action="store_true", help="validate the configuration and exit")
    p.add_argument(
        "--rejects",
        action="store_true",
        help="list the kept upload lines that were not attendance records, and exit",
    )
    p.add_argument("--limit", type=int, default=20, help="with --rejects: how many (newest first)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        cfg = load_zk_config(args.config)
        if args.check:
            sys.stdout.write(
                f"{args.config}: OK — hall {cfg.hall.id}, {len(cfg.devices)} clock(s), "
                f"{len(cfg.pins)} PIN(s)\n"
            )
            return EXIT_OK
        if args.rejects:
            path = Path(cfg.server.state_dir) / KEPT_FILE
            sys.stdout.write(render_kept(path, read_kept(path, args.limit)))
            return EXIT_OK
        service = ZkPushService(cfg, args.config)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    except (OSError, SpoolError, sqlite3.Error) as exc:
        logger.error("cannot start: %s", exc)
        return EXIT_FAILURE
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return service.run(stop)

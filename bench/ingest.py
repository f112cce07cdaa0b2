"""Ingest benchmark: the daemon's journaled events/s against a bare paho QoS 1 drain.

Both consumers drain the same queued stream of punch events from the same Mosquitto
(the project's config/mosquitto.conf) in the same run. Each stream is queued first for
the consumer's persistent session while it is offline, so the figure is the consumer's
own drain rate, not the publisher's. Prints a table and the ratio daemon / bare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hallkit.config import load_config
from hallkit.sdnotify import SdNotifier
from monitor.daemon import Daemon
from tests.brokers import PROJECT_CONF, Mosquitto
from tests.running import free_port, write_config

HALL = "demo-county"
TOPIC = f"hall/{HALL}/clock/CLK-EAST/punch"
TARGET = 0.60


def punches(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(days=1)
    return [
        json.dumps(
            {
                "id": f"bench-{i}",
                "staff": f"S{i % 40 + 1:03d}",
                "verify": "fingerprint",
                "ts": (start + timedelta(milliseconds=i)).isoformat(),
            }
        ).encode()
        for i in range(n)
    ]


def _client(broker: Mosquitto, user: str, client_id: str, clean: bool = True) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    c.username_pw_set(user, broker.password(user))
    return c


def queue_stream(broker: Mosquitto, payloads: list[bytes]) -> None:
    pub = _client(broker, "test-admin", "bench-publisher")
    pub.max_inflight_messages_set(1000)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    # Packet ids are 16 bits: keep fewer than 65,535 messages outstanding at any time.
    for start in range(0, len(payloads), 20_000):
        infos = [pub.publish(TOPIC, p, qos=1) for p in payloads[start : start + 20_000]]
        for info in infos:
            info.wait_for_publish(300)
    pub.disconnect()
    pub.loop_stop()


def bare_drain(broker: Mosquitto, payloads: list[bytes], client_id: str) -> float:
    """Events/s of a bare paho subscriber (auto-ack) draining its queued session."""
    got = threading.Event()
    count = [0]
    first: list[float] = []

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        if not first:
            first.append(time.perf_counter())
        count[0] += 1
        if count[0] == len(payloads):
            got.set()

    def session() -> mqtt.Client:
        c = _client(broker, "hallwatch", client_id, clean=False)
        c.on_message = on_message
        c.connect(broker.host, broker.port)
        return c

    c = session()
    c.subscribe(TOPIC, qos=1)
    c.loop(2)
    c.disconnect()
    queue_stream(broker, payloads)
    c = session()
    started = time.perf_counter()
    c.loop_start()
    if not got.wait(600):
        raise RuntimeError(f"bare subscriber got {count[0]} of {len(payloads)}")
    elapsed = time.perf_counter() - started
    c.disconnect()
    c.loop_stop()
    forget_session(broker, client_id)
    return len(payloads) / elapsed


def forget_session(broker: Mosquitto, client_id: str) -> None:
    """Drop a consumer's persistent session, or later rounds would queue into it too."""
    c = _client(broker, "hallwatch", client_id, clean=True)
    c.connect(broker.host, broker.port)
    c.loop(2)
    c.disconnect()


def daemon_drain(broker: Mosquitto, payloads: list[bytes], workdir: Path, client_id: str) -> float:
    """Events/s the daemon journals (committed, then acknowledged) from its queued session."""
    cfg_path = write_config(workdir, broker.port, broker.password("hallwatch"), free_port())
    loaded = load_config(cfg_path)
    cfg = loaded.model_copy(
        update={"broker": loaded.broker.model_copy(update={"client_id": client_id})}
    )

    def run_daemon(until_queue_empty: bool) -> float:
        daemon = Daemon(cfg, cfg_path, notifier=SdNotifier.from_env({}))
        stop = threading.Event()
        runner = threading.Thread(target=daemon.run, args=(stop,))
        # Timed from start-up, not from the connection: the drain can begin before this
        # thread is scheduled again. Start-up (an empty journal) costs the daemon a few ms.
        started = time.perf_counter()
        runner.start()
        daemon.started.wait(60)
        daemon.link.connected.wait(60)
        journal = daemon.ingestor.journal
        while until_queue_empty and journal.counters.get("accepted", 0) < len(payloads):
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        runner.join()
        return elapsed

    run_daemon(False)  # creates the persistent session and its subscriptions
    queue_stream(broker, payloads)
    rate = len(payloads) / run_daemon(True)
    forget_session(broker, client_id)
    return rate


def broker_config(tmp: Path, max_inflight: int | None) -> Path:
    if max_inflight is None:
        return PROJECT_CONF
    text = PROJECT_CONF.read_text(encoding="utf-8")
    text, n = re.subn(
        r"(?m)^max_inflight_messages .*$", f"max_inflight_messages {max_inflight}", text
    )
    assert n == 1, "config/mosquitto.conf has no max_inflight_messages line"
    path = tmp / "mosquitto.conf"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    ap.add_argument(
        "--max-inflight",
        type=int,
        help="override the broker's max_inflight_messages (config/mosquitto.conf has 1000)",
    )
    args = ap.parse_args()
    payloads = punches(args.events)
    bare: list[float] = []
    daemon: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as tmp:
        broker = Mosquitto(Path(tmp) / "broker", config=broker_config(Path(tmp), args.max_inflight))
        broker.start()
        try:
            for r in range(args.rounds):
                bare.append(bare_drain(broker, payloads, f"bench-bare-{r}"))
                round_dir = Path(tmp) / f"daemon-{r}"
                round_dir.mkdir()
                daemon.append(daemon_drain(broker, payloads, round_dir, f"bench-daemon-{r}"))
                print(f"round {r + 1}: bare {bare[-1]:,.0f}/s, daemon {daemon[-1]:,.0f}/s")
        finally:
            broker.stop()
    b, d = statistics.median(bare), statistics.median(daemon)
    ratio = d / b
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    print(f"{args.events:,} punch events per consumer per round, {args.rounds} rounds, medians")
    if args.max_inflight is not None:
        print(f"broker max_inflight_messages overridden: {args.max_inflight}")
    print(f"{'consumer':<44}{'events/s':>12}")
    print(f"{'bare paho QoS 1 subscriber (drain)':<44}{b:>12,.0f}")
    print(f"{'hallwatch daemon (journaled, then acked)':<44}{d:>12,.0f}")
    print(
        f"ratio daemon / bare: {ratio:.2f} (target >= {TARGET:.2f}) "
        f"{'OK' if ratio >= TARGET else 'BELOW TARGET'}"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`hallwatch demo`: broker, daemon and store on one machine, nothing installed beyond pip.

The broker is amqtt, in this process, on loopback. It keeps no persistence: the demo is
for looking around; production uses Mosquitto with config/mosquitto.conf.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from monitor.config import HallConfig, load_config

logger = logging.getLogger(__name__)


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """The usual port if nothing holds it (a system Mosquitto may hold 1883), else a free one."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on loopback")


@contextmanager
def embedded_broker(port: int) -> Iterator[int]:
    """Run an amqtt broker on its own event loop thread for the duration of the block."""
    try:
        from amqtt.broker import Broker
    except ImportError as exc:
        raise SystemExit("hallwatch demo needs amqtt: pip install 'hallwatch[demo]'") from exc
    loop = asyncio.new_event_loop()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        },
        loop=loop,
    )
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="amqtt", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("embedded MQTT broker did not start")
    try:
        yield port
    finally:
        # amqtt logs its own cancelled broadcast task as an error on every clean shutdown.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def demo_config(data_dir: Path, broker_port: int, web_port: int) -> HallConfig:
    from monitor.config import example_config_path

    base = load_config(example_config_path())
    return base.model_copy(
        update={
            "broker": base.broker.model_copy(
                update={
                    "host": "127.0.0.1",
                    "port": broker_port,
                    "username": None,
                    "password_file": None,
                }
            ),
            "journal": base.journal.model_copy(update={"data_dir": str(data_dir)}),
            "web": base.web.model_copy(update={"port": web_port}),
        }
    )


def sample_events(cfg: HallConfig, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """A morning's first minutes: each A post punches in, each camera sees its seats."""
    hall = cfg.hall.id
    ts = now.astimezone(cfg.hall.zone).isoformat(timespec="seconds")
    clock = cfg.clocks[0].id if cfg.clocks else "CLK"
    out: list[tuple[str, dict[str, Any]]] = []
    for w in cfg.windows:
        out.append(
            (
                f"hall/{hall}/clock/{clock}/punch",
                {"staff": w.a_post, "ts": ts, "verify": "fingerprint"},
            )
        )
    for cam in cfg.cameras:
        for i, win in enumerate(cam.windows):
            present = i % 4 != 3
            out.append(
                (
                    f"hall/{hall}/camera/{cam.id}/presence",
                    {
                        "window": win,
                        "present": present,
                        "persons": int(present),
                        "ts": ts,
                        "confidence": 0.9,
                    },
                )
            )
    return out


def publish_samples(cfg: HallConfig, port: int, now: datetime) -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hallwatch-demo-sample")
    client.connect("127.0.0.1", port)
    client.loop_start()
    events = sample_events(cfg, now)
    infos = [client.publish(t, json.dumps(p, ensure_ascii=False), qos=1) for t, p in events]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    return len(events)


def banner(cfg: HallConfig, broker_port: int, web: tuple[str, int], data_dir: Path) -> str:
    hall = cfg.hall.id
    now = datetime.now(UTC).astimezone(cfg.hall.zone).isoformat(timespec="seconds")
    payload = json.dumps({"staff": "S001", "ts": now, "verify": "fingerprint"})
    return "\n".join(
        [
            f"hallwatch demo — {cfg.hall.name} ({hall})",
            f"  MQTT broker : mqtt://127.0.0.1:{broker_port}   (in-process amqtt, anonymous)",
            f"  web         : http://{web[0]}:{web[1]}/healthz   /metrics   /state",
            f"  data dir    : {data_dir.resolve()}   (journal.sqlite3)",
            "Publish an event:",
            f"  mosquitto_pub -h 127.0.0.1 -p {broker_port} -q 1 "
            f"-t hall/{hall}/clock/CLK-EAST/punch -m '{payload}'",
            f"Inspect: hallwatch rejects --data-dir {data_dir}   |   Ctrl-C stops.",
        ]
    )

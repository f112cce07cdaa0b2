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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.config import HallConfig
from hallkit.config import load_config

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
    from hallkit.config import example_config_path

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


def live_hall(
    cfg: HallConfig,
    port: int,
    now: datetime,
    stop: threading.Event,
    say: Callable[[str], None],
    days: int = 2,
    seed: int = 1,
) -> None:
    """The simulated hall (devices/simulator.py): yesterday at once, then today as it happens.

    Today's morning up to now is sent at once, the rest follows the clock (speed 1): the
    daemon rejects events stamped more than its skew ahead of their receipt.
    """
    from alerts.config import work_calendar
    from devices.simulator import PublishError, publish_messages, simulate_day, simulate_days

    today = now.astimezone(cfg.hall.zone).date()
    cal = work_calendar(cfg)
    start, back = today, 0
    while back < days:  # the working days before today (weekends and holidays skipped)
        start -= timedelta(days=1)
        back += cal.is_working_day(start)
    try:
        past = simulate_days(cfg, start, (today - start).days, seed)
        n = publish_messages(past, "127.0.0.1", port, lambda _user: None, stop=stop)
        say(f"Simulated hall: {n} events of the last {days} working days sent; today goes live.")
        publish_messages(
            simulate_day(cfg, today, seed),
            "127.0.0.1",
            port,
            lambda _user: None,
            speed=1.0,
            origin=now,
            stop=stop,
        )
    except PublishError as exc:
        logger.error("the simulated hall stopped: %s", exc)


def banner(cfg: HallConfig, broker_port: int, web: tuple[str, int], data_dir: Path) -> str:
    hall = cfg.hall.id
    now = datetime.now(UTC).astimezone(cfg.hall.zone).isoformat(timespec="seconds")
    payload = json.dumps({"staff": "S001", "ts": now, "verify": "fingerprint"})
    return "\n".join(
        [
            f"hallwatch demo — {cfg.hall.name} ({hall})",
            f"  MQTT broker : mqtt://127.0.0.1:{broker_port}   (in-process amqtt, anonymous)",
            f"  hall display: http://{web[0]}:{web[1]}/display",
            f"  console     : http://{web[0]}:{web[1]}/console/   (log in as supervisor / "
            "demo-supervisor, leader / demo-leader or admin / demo-admin)",
            f"  web         : http://{web[0]}:{web[1]}/healthz   /metrics   /state",
            f"  data dir    : {data_dir.resolve()}   (journal.sqlite3)",
            "Publish an event:",
            f"  mosquitto_pub -h 127.0.0.1 -p {broker_port} -q 1 "
            f"-t hall/{hall}/clock/CLK-EAST/punch -m '{payload}'",
            f"Reports on this data (from the checkout: ./dev hallwatch ...): hallwatch report "
            f"--data-dir {data_dir} --month {now[:7]}; stats, attendance, replay, rejects and "
            "query alike",
            "Ctrl-C stops.",
        ]
    )

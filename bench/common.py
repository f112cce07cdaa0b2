"""What the benchmarks share: sizes, the simulated stream, brokers, publishing, results.

Every benchmark measures the project against a baseline in the same run, on the same
machine, so a busy machine slows both; `Result` carries the table a benchmark prints and
the verdicts docs/benchmarks.md records (bench/report.py).
"""

from __future__ import annotations

import argparse
import enum
import os
import platform
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import HallConfig
from devices.simulator import Message, simulate_days
from tests.brokers import TEST_ADMIN, Mosquitto, find_executable

PUBLISH_INFLIGHT = 1000  # the broker's max_inflight_messages (config/mosquitto.conf)
_OUTSTANDING = 20_000  # MQTT packet ids are 16 bits: keep far fewer unacknowledged


class Size(enum.StrEnum):
    """tiny: the smoke test (seconds); quick: a look (a minute or two); full: the record."""

    TINY = "tiny"
    QUICK = "quick"
    FULL = "full"


def size_arg(text: str) -> Size:
    return Size(text)


# What --tiny, --quick and --full stand for in the benchmarks that take counts, not --size
# (bench/__main__.py): the sizes bench/report.py and bench/scale.py run them at.
COUNT_ARGS: dict[str, dict[Size, tuple[str, ...]]] = {
    "ingest": {
        Size.TINY: ("--events", "2000", "--rounds", "1"),
        Size.QUICK: ("--events", "20000", "--rounds", "1"),
        Size.FULL: (),
    },
    "timers": {Size.TINY: ("--cases", "500"), Size.QUICK: ("--cases", "100000"), Size.FULL: ()},
}


def add_size_flags(ap: argparse.ArgumentParser, default: Size = Size.FULL) -> None:
    """`--size tiny|quick|full`, and `--tiny`, `--quick`, `--full` for short: `args.size`."""
    ap.add_argument("--size", type=size_arg, default=default, help="tiny, quick or full")
    for s in Size:
        ap.add_argument(
            f"--{s}", dest="size", action="store_const", const=s, help=f"same as --size {s}"
        )


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One figure held against its target: `met` None when no target is set."""

    measure: str
    value: str
    target: str
    met: bool | None

    @property
    def word(self) -> str:
        return {True: "met", False: "**not met**", None: "-"}[self.met]


@dataclass(slots=True, kw_only=True)
class Result:
    """A benchmark's outcome: what was run, its table, its verdicts, notes."""

    name: str
    title: str
    setup: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        """The plain-text table the benchmark prints."""
        widths = [
            max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))
        ]
        lines = [f"{self.title}", self.setup, ""]
        for r in (self.header, *self.rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        lines.append("")
        for v in self.verdicts:
            lines.append(f"{v.measure}: {v.value} (target {v.target}) {v.word.strip('*')}")
        lines += self.notes
        return "\n".join(lines) + "\n"

    @property
    def ok(self) -> bool:
        return all(v.met is not False for v in self.verdicts)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(xs)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes: resident now and its peak."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) * 1024
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


# --- the simulated hall's stream -----------------------------------------------------------


def past_days(cfg: HallConfig, days: int, now: datetime | None = None) -> date:
    """First of `days` days ending yesterday in the hall: all past, none `future_time`."""
    today = (now or datetime.now(UTC)).astimezone(cfg.hall.zone).date()
    return today - timedelta(days=days)


def mixed_stream(cfg: HallConfig, events: int, seed: int = 1) -> list[Message]:
    """The simulator's messages (punches, presence, statuses, cases, ratings, complaints) of
    the fewest whole days up to yesterday that hold at least `events`, in publishing order:
    the daemon then sees no gap between the stream and its clock. Fewer events than the last
    working day holds: that day's first `events` (a smoke run's size)."""
    days = 1
    while True:
        msgs = simulate_days(cfg, past_days(cfg, days), days, seed)
        if len(msgs) >= events or days >= 400:
            return msgs if days > 1 and _last_day_short(cfg, msgs, events) else msgs[:events]
        days += 1


def _last_day_short(cfg: HallConfig, msgs: Sequence[Message], events: int) -> bool:
    last = max(m.at.astimezone(cfg.hall.zone).date() for m in msgs)
    return sum(m.at.astimezone(cfg.hall.zone).date() == last for m in msgs) < events


def stream_mix(msgs: Sequence[Message]) -> str:
    """'presence 94.4 %, case 3.7 %, …': the areas of a stream by share."""
    counts: dict[str, int] = {}
    for m in msgs:
        parts = m.topic.split("/")
        area = parts[-1] if parts[2] in ("clock", "camera", "staff") else parts[2]
        counts[area] = counts.get(area, 0) + 1
    total = max(1, len(msgs))
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v / total:.1%}" for k, v in ranked)


# --- brokers and clients -------------------------------------------------------------------


def start_broker(workdir: Path) -> Mosquitto:
    """A fresh Mosquitto from config/mosquitto.conf (its own persistence and retained store)."""
    broker = Mosquitto(workdir)
    broker.start()
    return broker


def client(broker: Mosquitto, user: str, client_id: str, clean: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=mqtt.MQTTv311,
    )
    c.username_pw_set(user, broker.password(user))
    return c


def open_session(broker: Mosquitto, user: str, client_id: str, filters: Sequence[str]) -> None:
    """Create a persistent session holding `filters` (every SUBACK received), then leave it,
    so the broker queues what is published next for that client id."""
    subscribed = threading.Event()
    c = client(broker, user, client_id, clean=False)
    c.on_subscribe = lambda *_args: subscribed.set()  # one SUBSCRIBE carries every filter
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        c.subscribe([(topic, 1) for topic in filters])
        if not subscribed.wait(10):
            raise RuntimeError(f"{client_id}: subscriptions not acknowledged")
    finally:
        c.disconnect()
        c.loop_stop()


def publish_all(
    broker: Mosquitto,
    msgs: Sequence[Message],
    client_id: str = "bench-publisher",
    user: str = TEST_ADMIN,
) -> float:
    """Publish every message at QoS 1 (with its retain flag) as the test account and wait for
    every PUBACK; the seconds it took. Publishers at the same time need an account each."""
    pub = client(broker, user, client_id)
    pub.max_inflight_messages_set(PUBLISH_INFLIGHT)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    started = time.perf_counter()
    try:
        for start in range(0, len(msgs), _OUTSTANDING):
            infos = [
                pub.publish(m.topic, m.payload, qos=1, retain=m.retain)
                for m in msgs[start : start + _OUTSTANDING]
            ]
            for info in infos:
                info.wait_for_publish(300)
        return time.perf_counter() - started
    finally:
        pub.disconnect()
        pub.loop_stop()


OnMessage = Callable[[str, bytes, float], None]  # topic, payload, time.monotonic() at arrival


class Watcher:
    """A subscriber calling `on_message` for each message, once its subscriptions hold."""

    def __init__(
        self,
        broker: Mosquitto,
        user: str,
        topics: Sequence[str],
        on_message: OnMessage,
        client_id: str,
    ) -> None:
        self.ready = threading.Event()
        self._client = client(broker, user, client_id)

        def message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            on_message(msg.topic, bytes(msg.payload), time.monotonic())

        self._client.on_message = message
        self._client.on_subscribe = lambda *_args: self.ready.set()
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        self._client.subscribe([(t, 1) for t in topics])
        if not self.ready.wait(10):
            raise RuntimeError(f"{user}: subscriptions {list(topics)} not acknowledged")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# --- the machine ---------------------------------------------------------------------------


def _first_line(cmd: Sequence[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (done.stdout or done.stderr).strip()
    return out.splitlines()[0] if out else ""


def package_version(package: str, binary: str) -> str:
    """The Debian package's version, else what the binary says, else 'not installed'."""
    if shutil.which("dpkg-query"):
        found = _first_line(["dpkg-query", "-W", "-f", "${Version}", package])
        if found and "no packages found" not in found:
            return f"{found} (Debian package)"
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    return _first_line([path, "-h"]) if path else "not installed"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _mem_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _disk(path: Path) -> str:
    done = _first_line(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(path)])
    source, _, fstype = done.partition(" ")
    if not source:
        return "?"
    name = re.sub(r"^/dev/", "", source)
    name = re.sub(r"(?<=[a-z])\d+$|p\d+$", "", name)
    rota = Path(f"/sys/block/{name}/queue/rotational")
    kind = ""
    if rota.exists():
        kind = ", reported rotational" if rota.read_text().strip() == "1" else ", reported SSD"
    return f"{source} {fstype.strip()}{kind}"


def _os_name() -> str:
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    return platform.platform()


def loadavg() -> tuple[float, float, float]:
    a, b, c = os.getloadavg()
    return a, b, c


def machine(workdir: Path) -> list[tuple[str, str]]:
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("RAM", _mem_total()),
        ("disk (benchmark data)", _disk(workdir)),
        ("OS", _os_name()),
        ("Python", platform.python_version()),
        ("Mosquitto", package_version("mosquitto", find_executable("mosquitto"))),
        ("VictoriaMetrics", package_version("victoria-metrics", "victoria-metrics")),
    ]

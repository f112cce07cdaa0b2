"""Run the real daemon against a real broker: config files, processes, bounded waits."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hallkit.clock import SystemClock
from hallkit.config import example_config_path, load_config
from monitor.daemon import Daemon


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition (not a clock): fail with `what` if it never holds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def json_at(url: str, timeout: float = 5) -> dict[str, Any]:
    """A JSON document over HTTP; its body also when the status says a problem (/healthz is
    503 while the broker link is down). OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            doc: dict[str, Any] = json.load(resp)
    except urllib.error.HTTPError as exc:
        doc = json.load(exc)
    return doc


def write_config(
    directory: Path,
    broker_port: int,
    password: str | None,
    web_port: int = 0,
    jobs: bool = False,
    idle_after_s: int = 0,
    **journal: Any,
) -> Path:
    """The example hall, pointed at a test broker, a test data dir and a test web port.

    The scheduled jobs fire on the wall clock, so they are off unless a test asks for them: a
    test daemon that happens to run at 20:45 in the hall must not render the day's sheet.
    A source still sending holds judgement back until silent for `idle_after_s`
    (alerts/sources.py). Most tests publish backdated events to a daemon whose clock stands
    or is the wall's and look at the cards at once: they judge at the daemon's time (0). The
    rule itself runs at its default (60) where it is tested: tests/test_sources.py, the fault
    suite's event-time scenarios and kill test, the demo's catch-up.
    """
    journal["idle_after_s"] = idle_after_s
    text = example_config_path().read_text(encoding="utf-8")
    data_dir = directory / "data"
    text = text.replace("port = 1883", f"port = {broker_port}")
    text = text.replace('data_dir = "/var/lib/hallwatch"', f'data_dir = "{data_dir}"')
    text = text.replace("port = 8470", f"port = {web_port}")
    # The tests publish fixed days of 2026 to daemons on the wall clock: keep them inside the
    # lower bound on `ts` for ten years (a clock reset to 2000 is still refused).
    text = text.replace("[ingest]\n", "[ingest]\nmax_past_days = 3650\n", 1)
    for key, value in journal.items():  # keys of [journal] in the example, e.g. batch_max
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {json.dumps(value)}", text, count=1)
        assert n == 1, f"no [journal] key {key} in the example configuration"
    if password is None:
        text = text.replace('username = "hallwatch"\n', "")
        text = text.replace('password_file = "mqtt-password"', "")
    else:
        (directory / "mqtt-password").write_text(password + "\n", encoding="utf-8")
    if not jobs:
        assert "[jobs]" not in text
        text += "\n[jobs]\nenabled = false\n"
    path = directory / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def journal_ids(data_dir: Path) -> list[str]:
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return [r[0] for r in conn.execute("SELECT event_id FROM events")]


def journal_counts(data_dir: Path) -> dict[str, int]:
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        try:
            return dict(conn.execute("SELECT name, value FROM counters"))
        except sqlite3.OperationalError:
            return {}


class DaemonProcess:
    """`hallwatch run` as a child process, the way systemd runs it."""

    def __init__(self, config: Path, web_port: int, log: Path, env: dict[str, str] | None = None):
        self.config = config
        self.web_port = web_port
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        wait_until(self.healthy, 30, "the daemon's /healthz")

    def health(self) -> dict[str, Any] | None:
        try:
            url = f"http://127.0.0.1:{self.web_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return dict(json.load(resp))
        except OSError:
            return None

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log.read_text()}")
        doc = self.health()
        return bool(doc and doc["ok"])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def start_daemon(
    broker_port: int, password: str, tmp_path: Path, daemons: list[DaemonProcess]
) -> tuple[DaemonProcess, Path]:
    """`hallwatch run` on the example hall against a test broker; killed at teardown."""
    web = free_port()
    cfg = write_config(tmp_path, broker_port, password, web)
    daemon = DaemonProcess(cfg, web, tmp_path / "daemon.log")
    daemons.append(daemon)
    daemon.start()
    return daemon, cfg


@contextmanager
def in_process(config: Path, wall: Callable[[], datetime]) -> Iterator[Daemon]:
    """The daemon in this process on `config`, its wall clock `wall`; stopped on the way out."""
    daemon = Daemon(load_config(config), config, clock=SystemClock(wall))
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    assert daemon.started.wait(30), "daemon did not start"
    try:
        yield daemon
    finally:
        stop.set()
        thread.join(30)

"""A real Mosquitto for integration tests, started from the project's own configuration.

The broker runs from ``config/mosquitto.conf`` and ``config/mosquitto.acl`` with only the
port, the paths and the process user rewritten, so the limits the tests exercise (inflight,
queue sizes, persistence, message size) are the limits a hall deploys. The shipped
configuration makes every account its own client id: one connection per account at a time.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.brokeracl import broker_acl
from hallkit.config import example_config_path, load_config
from tests.hall import HALL

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_CONF = PROJECT_ROOT / "config" / "mosquitto.conf"
PROJECT_ACL = PROJECT_ROOT / "config" / "mosquitto.acl"

HOST = "127.0.0.1"
TEST_ADMIN = "test-admin"
# config/mosquitto.conf makes every account its own client id, so two connections of one
# account take each other over: a test that watches while it publishes as the test account
# watches as this second one.
TEST_WATCHER = "test-watcher"
USERS = (
    "hallwatch",
    "case-system",
    "console",
    "display",
    "CLK-EAST",
    "CLK-WEST",
    "CAM1",
    "CAM2",
    "CAM3",
    "CAM4",
    TEST_ADMIN,
    TEST_WATCHER,
)

# Appended to the test copy of the ACL only: lets a test watch every topic to see what the
# broker let through. They never exist in a deployed ACL.
TEST_ADMIN_ACL = f"""
# --- Test only (tests/brokers.py): see and may publish everything -----------------------
user {TEST_ADMIN}
topic readwrite #
user {TEST_WATCHER}
topic readwrite #
"""

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")
_INSTALL_HINT = "install the Debian package 'mosquitto' (CI does: apt-get install mosquitto)"


class BrokerError(RuntimeError):
    """The test broker could not be set up, started or stopped."""


def password(user: str) -> str:
    return f"pw-{user}"


def find_executable(name: str) -> str:
    # /usr/sbin is not on a normal user's PATH on Debian, and that is where mosquitto lives.
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    found = shutil.which(name, path=path)
    if found is None:
        searched = ", ".join(_SBIN_DIRS)
        raise BrokerError(f"{name} not found on PATH or in {searched}: {_INSTALL_HINT}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _process_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def setting_name(line: str) -> str:
    """The option a mosquitto.conf line sets; "" for blank and comment lines."""
    words = line.split(maxsplit=1)
    return words[0] if words and not words[0].startswith("#") else ""


def rewrite_config(text: str, *, port: int, workdir: Path) -> str:
    """Point the project's configuration at ``workdir`` and ``port``; keep every other line."""
    replacements = {
        "listener": f"listener {port} {HOST}",
        "persistence_location": f"persistence_location {workdir / 'persistence'}/",
        "password_file": f"password_file {workdir / 'passwd'}",
        "acl_file": f"acl_file {workdir / 'acl'}",
    }
    dropped = {"log_dest", "pid_file", "user"}
    seen: set[str] = set()
    out: list[str] = []
    for line in text.splitlines():
        key = setting_name(line)
        if key in replacements:
            if key in seen:
                raise BrokerError(f"more than one {key} line: the test broker supports one")
            seen.add(key)
            out.append(replacements[key])
        elif key not in dropped:
            out.append(line)
    missing = sorted(replacements.keys() - seen)
    if missing:
        raise BrokerError(f"configuration lacks {', '.join(missing)}")
    out.append(f"log_dest file {workdir / 'mosquitto.log'}")
    # Started as root, Mosquitto 2.0 drops to user "mosquitto", which cannot enter a 0700 tmp
    # dir owned by root and exits (code 13). "user <self>" keeps the current user; for a
    # non-root user the setting is ignored.
    out.append(f"user {_process_user()}")
    return "\n".join(out) + "\n"


def write_password_file(path: Path, users: Iterable[str]) -> None:
    tool = find_executable("mosquitto_passwd")
    path.unlink(missing_ok=True)
    for user in users:
        create = [] if path.exists() else ["-c"]
        command = [tool, *create, "-b", str(path), user, password(user)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"mosquitto_passwd failed for {user}: {done.stdout}{done.stderr}")


class Mosquitto:
    """One broker process; restartable on the same port with the same persistence dir."""

    def __init__(
        self,
        workdir: Path,
        *,
        config: Path = PROJECT_CONF,
        acl: Path = PROJECT_ACL,
        extra_users: Iterable[str] = (),
    ) -> None:
        self.host = HOST
        self.port = free_port()
        self.workdir = workdir
        self._binary = find_executable("mosquitto")
        self._process: subprocess.Popen[bytes] | None = None
        self._prepare(config, acl, (*USERS, *extra_users))

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def password(self, user: str) -> str:
        return password(user)

    def start(self) -> None:
        if self.running:
            raise BrokerError("mosquitto is already running")
        with (self.workdir / "mosquitto.out").open("ab") as out:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def stop(self) -> None:
        """SIGTERM and wait: Mosquitto saves its database on the way out."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing saved since the last autosave."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _prepare(self, config: Path, acl: Path, users: Iterable[str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "persistence").mkdir(exist_ok=True)
        conf_text = rewrite_config(
            config.read_text(encoding="utf-8"), port=self.port, workdir=self.workdir
        )
        self.config_path.write_text(conf_text, encoding="utf-8")
        acl_text = acl.read_text(encoding="utf-8") + TEST_ADMIN_ACL
        (self.workdir / "acl").write_text(acl_text, encoding="utf-8")
        write_password_file(self.workdir / "passwd", users)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise BrokerError(f"mosquitto exited at start:\n{self._diagnostics()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise BrokerError(
            f"mosquitto not listening on {self.port} after {READY_TIMEOUT} s:\n"
            f"{self._diagnostics()}"
        )

    def _end(self, signum: signal.Signals) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BrokerError(f"mosquitto ignored {signum.name} for {STOP_TIMEOUT} s") from None

    def _diagnostics(self) -> str:
        out_path = self.workdir / "mosquitto.out"
        output = out_path.read_text(errors="replace") if out_path.exists() else ""
        return f"--- output ---\n{output}--- log ---\n{self.log_text()}"


def daemon_account(hall: str) -> str:
    """The daemon's account for `hall` on a broker that several halls' daemons share."""
    return f"hallwatch-{hall}"


def publisher_account(hall: str) -> str:
    """A test account that may publish anything in `hall`, on a `halls_broker` only."""
    return f"test-publisher-{hall}"


def halls_broker(workdir: Path, halls: Sequence[str]) -> Mosquitto:
    """A (not started) broker for several halls' daemons at once (tests, bench): each hall's
    ACL as `hallwatch broker-acl` writes it, each daemon its own account `daemon_account`
    (an account is its client id: daemons sharing one would take each other over), and a
    `publisher_account` per hall, so that halls can be fed at the same time."""
    example = load_config(example_config_path())
    text = ""
    for hall in halls:
        broker = example.broker.model_copy(update={"username": daemon_account(hall)})
        info = example.hall.model_copy(update={"id": hall})
        text += broker_acl(example.model_copy(update={"hall": info, "broker": broker}))
        text += f"\n# Test only\nuser {publisher_account(hall)}\ntopic readwrite hall/{hall}/#\n"
    workdir.mkdir(parents=True, exist_ok=True)
    acl = workdir / "halls.acl"
    acl.write_text(text, encoding="utf-8")
    users = [account(h) for h in halls for account in (daemon_account, publisher_account)]
    return Mosquitto(workdir, acl=acl, extra_users=users)


class ConsoleWatch:
    """The supervisor console's MQTT account: watches cards, sends commands."""

    def __init__(self, broker: Mosquitto, client_id: str = "test-console") -> None:
        self.seen: list[dict[str, Any]] = []
        self.topics: list[str] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set("console", broker.password("console"))
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"hall/{HALL}/cards/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.topics.append(msg.topic)
            self.seen.append(json.loads(msg.payload))

    def states(self, rule: str) -> list[str]:
        with self._lock:
            return [t["state"] for t in self.seen if t["rule"] == rule]

    def command(self, card: str, doc: dict[str, Any]) -> None:
        self.client.publish(f"hall/{HALL}/card/{card}/command", json.dumps(doc), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

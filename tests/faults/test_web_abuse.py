"""Fault: a hostile browser or client against the running daemon's web server (docs/console.md).

Each test runs `hallwatch run` as a child process on the example hall (real Mosquitto, real
journal) and attacks it from loopback only, with bounded counts and a bounded time:

- 60 logins at once, each from its own loopback address (127.0.0.x, so that none is stopped
  by the throttle): the daemon's peak resident memory stays under 300 MB, because at most
  `login_concurrency` scrypt checks (32 MiB each) run at once;
- 60 wrong logins at once from one address: no more than `login_attempts` are checked, the
  rest are refused (429, or 503 while the checks are busy), and a stranger's lockout does
  not lock the real user out from her own address;
- 1,000 slow connections (slowloris: a head that never ends, or a Content-Length of 60,000
  with one byte sent), with the daemon's file limit at 512: `/display` and `/healthz` still
  answer, each within 1 s, and the slow ones are cut off after `request_timeout_s`;
- a `Host` naming someone else's domain (DNS rebinding) is answered 421 on every route.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.brokers import Mosquitto
from tests.running import DaemonProcess, free_port, wait_until, write_config

pytestmark = pytest.mark.integration

RSS_BOUND_MB = 300
PARALLEL = 60
SLOW = 1000
SLOW_BODIES = 100  # of the SLOW: a full head announcing 60,000 bytes, one byte sent
DAEMON_NOFILE = 512  # below SLOW: the connection cap, not the file limit, must hold them off
REQUEST_TIMEOUT_S = 4


class LimitedDaemon(DaemonProcess):
    """`hallwatch run` with a file limit of its own (as a unit's LimitNOFILE= sets it)."""

    def __init__(self, config: Path, web_port: int, log: Path, nofile: int) -> None:
        super().__init__(config, web_port, log)
        self.nofile = nofile

    def start(self) -> None:
        def limit() -> None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))

        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=limit,
            )
        wait_until(self.healthy, 30, "the daemon's /healthz")


def start(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    nofile: int = 1024,
    **web: Any,
) -> LimitedDaemon:
    port = free_port()
    cfg = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), port)
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in web.items())
    text = cfg.read_text(encoding="utf-8")
    assert text.count("[web]\n") == 1
    cfg.write_text(text.replace("[web]\n", "[web]\n" + lines), encoding="utf-8")
    daemon = LimitedDaemon(cfg, port, tmp_path / "daemon.log", nofile)
    daemons.append(daemon)
    daemon.start()
    return daemon


def status_of(
    port: int,
    method: str,
    path: str,
    doc: Any = None,
    *,
    source: str = "127.0.0.1",
    host: str | None = None,
) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/json"} if doc is not None else {}
    if host is not None:
        headers["Host"] = host
    body = json.dumps(doc).encode() if doc is not None else None
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def in_parallel(calls: list[Callable[[], int]]) -> Counter[int]:
    start = threading.Barrier(len(calls))
    got: list[int] = []

    def one(call: Callable[[], int]) -> None:
        start.wait()
        got.append(call())

    threads = [threading.Thread(target=one, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(got) == len(calls)
    return Counter(got)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak since the process started), in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def login(name: str, password: str) -> dict[str, str]:
    return {"name": name, "password": password}


# --- logins ------------------------------------------------------------------------------------


def test_parallel_logins_keep_memory_bounded_and_none_escapes_the_throttle(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon = start(mosquitto, tmp_path, daemons)
    assert daemon.proc is not None
    port, pid = daemon.web_port, daemon.proc.pid
    before = memory_mb(pid)

    # 60 at once, each address its own: only the gate stands between them and the hash.
    wrong = login("supervisor", "guess")
    spread = in_parallel(
        [
            partial(status_of, port, "POST", "/api/login", wrong, source=f"127.0.1.{i + 1}")
            for i in range(PARALLEL)
        ]
    )
    peak = memory_mb(pid)["VmHWM"]
    assert set(spread) <= {401, 503} and spread[401] >= 2, spread
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"

    # Waves of 60 at once from one address until it is spent: at most login_attempts (5)
    # are ever checked; the rest are turned away (503, not counted) or refused (429).
    burst: Counter[int] = Counter()
    for _ in range(10):
        wave = in_parallel(
            [lambda: status_of(port, "POST", "/api/login", wrong) for _ in range(PARALLEL)]
        )
        burst += wave
        assert set(wave) <= {401, 429, 503} and burst[401] <= 5, burst
        if wave[429] == PARALLEL:
            break
    assert burst[401] == 5 and wave[429] == PARALLEL, burst
    assert status_of(port, "POST", "/api/login", login("supervisor", "demo-supervisor")) == 429

    # A stranger (127.0.0.1, spent) cannot lock the supervisor out at her own desk.
    right = login("supervisor", "demo-supervisor")
    assert status_of(port, "POST", "/api/login", right, source="127.0.2.1") == 200
    record_property("logins_at_once", PARALLEL)
    record_property("spread_checked_busy", f"{spread[401]} / {spread[503]}")
    record_property("burst_checked_refused_busy", f"{burst[401]} / {burst[429]} / {burst[503]}")
    record_property("rss_mb_before_peak", f"{before['VmRSS']:.0f} / {peak:.0f}")


# --- slow clients -------------------------------------------------------------------------------


@pytest.fixture
def many_files() -> Iterator[None]:
    """This process holds the slow connections: room for them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, SLOW + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def timed_get(port: int, path: str) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - started
    finally:
        conn.close()


def closed_by_server(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(100) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset: the server closed it with our bytes unread
        return True


def test_slow_connections_leave_display_and_healthz_answering(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    many_files: None,
    record_property: Callable[[str, object], None],
) -> None:
    daemon = start(mosquitto, tmp_path, daemons, DAEMON_NOFILE, request_timeout_s=REQUEST_TIMEOUT_S)
    port = daemon.web_port
    slow: list[socket.socket] = []
    worst = 0.0
    probes = 0
    try:
        started = time.monotonic()
        for i in range(SLOW):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i < SLOW_BODIES:
                s.sendall(b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                s.sendall(b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
            else:
                s.sendall(b"GET /display HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            slow.append(s)
            if i % 100 == 99:  # while they pile up, and once they are all there
                for path in ("/display", "/healthz"):
                    status, took = timed_get(port, path)
                    assert status == 200, path
                    worst, probes = max(worst, took), probes + 1
        opened = time.monotonic() - started
        for s in slow:  # a slowloris trickles on: that must not extend its time
            with contextlib.suppress(OSError):  # already closed by the server (evicted)
                s.sendall(b"b")
        for _ in range(5):
            for path in ("/display", "/healthz"):
                status, took = timed_get(port, path)
                assert status == 200, path
                worst, probes = max(worst, took), probes + 1
        assert worst < 1.0, f"slowest answer {worst:.2f} s"
        wait_until(
            lambda: all(closed_by_server(s) for s in slow),
            REQUEST_TIMEOUT_S + 5,
            "every slow connection closed by the server",
        )
        metrics = scrape(port)
    finally:
        for s in slow:
            s.close()
    assert daemon.healthy()
    turned = {k: v for k, v in metrics.items() if k[0] == "hallwatch_web_connections_total"}
    evicted = turned[("hallwatch_web_connections_total", (("result", "evicted"),))]
    timed_out = turned[("hallwatch_web_connections_total", (("result", "timed_out"),))]
    assert evicted + timed_out >= SLOW
    record_property("slow_connections", SLOW)
    record_property("daemon_file_limit", DAEMON_NOFILE)
    record_property("probes", probes)
    record_property("slowest_answer_ms", round(worst * 1000))
    record_property("evicted_timed_out", f"{int(evicted)} / {int(timed_out)}")
    record_property("opened_in_s", round(opened, 1))


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics read by Prometheus's own parser (an invalid exposition raises)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# --- DNS rebinding ------------------------------------------------------------------------------


def test_a_foreign_host_name_is_refused_on_every_route(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon = start(mosquitto, tmp_path, daemons, hosts=["jiancha.example.gov.cn"])
    port = daemon.web_port
    routes = [
        ("GET", "/state", None),
        ("GET", "/metrics", None),
        ("GET", "/display", None),
        ("GET", "/display/state", None),
        ("GET", "/api/session", None),
        ("POST", "/api/login", login("supervisor", "demo-supervisor")),
    ]
    for method, path, doc in routes:
        assert status_of(port, method, path, doc, host=f"rebind.example:{port}") == 421, path
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "jiancha.example.gov.cn"):
        assert status_of(port, "GET", "/state", host=host) == 200, host
    assert status_of(port, "POST", "/api/login", routes[-1][2], host="localhost") == 200
    record_property("routes_refused", len(routes))

"""A real VictoriaMetrics for integration tests: Debian's `victoria-metrics` on a free port.

It accepts InfluxDB line protocol at /api/v2/write (what the daemon's sender uses) and is
read back through /api/v1/export. Started without deduplication on purpose: a batch the
sender wrongly sent twice shows up as two samples, so the tests can count. (A deployment
sets -dedup.minScrapeInterval=1ms, see docs/timeseries.md.)
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.brokers import HOST, free_port

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
_INSTALL_HINT = "install the Debian package 'victoria-metrics' (apt-get install victoria-metrics)"


class VictoriaError(RuntimeError):
    """The test VictoriaMetrics could not be started, stopped or read."""


def find_binary() -> str:
    found = shutil.which("victoria-metrics") or shutil.which(
        "victoria-metrics", path="/usr/bin:/usr/local/bin"
    )
    if found is None:
        raise VictoriaError(f"victoria-metrics not found: {_INSTALL_HINT}")
    return found


class VictoriaMetrics:
    """One server process; restartable on the same port with the same data directory."""

    def __init__(self, workdir: Path, *, dedup: bool = False) -> None:
        self.host = HOST
        self.port = free_port()
        self.workdir = workdir
        self.dedup = dedup
        self._binary = find_binary()
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        args = [
            self._binary,
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr={self.host}:{self.port}",
            "-retentionPeriod=100y",  # test points carry fixed past instants
            "-search.latencyOffset=0",  # fresh points are queryable at once
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]
        if self.dedup:
            args.append("-dedup.minScrapeInterval=1ms")
        return args

    def start(self) -> None:
        if self.running:
            raise VictoriaError("victoria-metrics is already running")
        with (self.workdir / "victoria.out").open("ab") as out:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def stop(self) -> None:
        """SIGTERM: VictoriaMetrics finishes requests in flight and flushes before exiting."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise VictoriaError(f"victoria-metrics ignored SIGTERM for {STOP_TIMEOUT} s") from None

    def get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as resp:
            body: bytes = resp.read()
            return body

    def force_flush(self) -> None:
        """Make every accepted row searchable now (it is otherwise within a second or so)."""
        self.get("/internal/force_flush")

    def export(self, match: str, start: int = 1) -> list[dict[str, Any]]:
        """Raw samples of the series matching `match`, one dict per series (JSON lines)."""
        self.force_flush()
        body = self.get("/api/v1/export", {"match[]": match, "start": str(start)})
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise VictoriaError(f"victoria-metrics exited at start:\n{self._output()}")
            try:
                if self.get("/health").strip() == b"OK":
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise VictoriaError(
            f"victoria-metrics not ready after {READY_TIMEOUT} s:\n{self._output()}"
        )

    def _output(self) -> str:
        path = self.workdir / "victoria.out"
        return path.read_text(errors="replace") if path.exists() else ""

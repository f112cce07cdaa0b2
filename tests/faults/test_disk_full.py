"""Fault: the data directory's file system fills up while events stream in, then frees again.

The data directory is a small tmpfs mounted for the test (needs root; skipped otherwise, with
the reason). A filler file takes the last byte mid-stream: SQLite's commits fail for real
(SQLITE_FULL). The daemon must stop acknowledging (the broker keeps the messages, so they
arrive once space returns without the publisher sending them again), say why (/healthz 503
with the reason, hallwatch_journal_healthy 0, an ERROR line in its log) and recover by itself
when the filler is deleted, with every event journaled once.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.brokers import Mosquitto
from tests.faults.common import journal_rows, publish_window
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until

pytestmark = pytest.mark.integration

SIZE = "3m"
BATCH = 500


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs at tmp_path/data (the daemon's data directory)."""
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs for the data directory")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow a tmpfs mount: {done.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def _punches(prefix: str, n: int) -> list[tuple[str, bytes]]:
    ts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    out = []
    for i in range(n):
        doc = {"id": f"{prefix}-{i}", "staff": f"S{i % 40 + 1:03d}", "ts": ts, "verify": "card"}
        out.append((f"hall/{HALL}/clock/CLK-EAST/punch", json.dumps(doc).encode()))
    return out


def _fill(path: Path) -> int:
    """Write until the file system says ENOSPC; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        while True:  # the last partial chunk, byte-sized
            try:
                written += f.write(b"\0" * 512)
            except OSError:
                return written


def _health(port: int) -> dict[str, Any]:
    """/healthz's document, also when it answers 503."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return dict(json.load(resp))
    except urllib.error.HTTPError as exc:
        assert exc.code == 503, exc
        return dict(json.load(exc))


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_a_full_disk_stops_acknowledgements_says_why_and_recovers_with_nothing_lost(
    mosquitto: Mosquitto,
    small_disk: Path,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    before, during = _punches("before", BATCH), _punches("full", BATCH)
    publish_window(mosquitto, before, "disk-before")
    wait_until(lambda: len(journal_rows(small_disk)) == BATCH, 60, "the first batch journaled")

    filler = small_disk / "filler"
    filled = _fill(filler)
    publish_window(mosquitto, during, "disk-full")  # the broker acknowledges: it holds them
    port = daemon.web_port
    wait_until(lambda: not _health(port)["ok"], 30, "/healthz to say not ok")
    health = _health(port)
    problems = " ".join(health["problems"])
    assert "journal" in problems and ("full" in problems or "disk" in problems), problems
    assert _metric(daemon.web_port, "hallwatch_journal_healthy") == 0
    errors = [ln for ln in daemon.log.read_text().splitlines() if " ERROR " in ln]
    assert any("disk is full" in ln for ln in errors), errors[-3:]
    held = len(journal_rows(small_disk))
    assert held == BATCH, "nothing journaled while the disk is full"

    filler.unlink()
    freed = time.monotonic()
    want = {i for i, _ in journal_rows(small_disk)} | {json.loads(p)["id"] for _, p in during}
    wait_until(lambda: {i for i, _ in journal_rows(small_disk)} == want, 90, "recovery")
    recovered = time.monotonic() - freed
    wait_until(lambda: _health(port)["ok"], 30, "/healthz ok again")
    assert _metric(daemon.web_port, "hallwatch_journal_healthy") == 1
    assert daemon.stop() == 0
    ids = [i for i, _ in journal_rows(small_disk)]
    assert len(ids) == len(set(ids)) == 2 * BATCH
    record_property("filesystem", f"tmpfs {SIZE}")
    record_property("filler_bytes", filled)
    record_property("events_held", BATCH)
    record_property("recovered_s", round(recovered, 1))
    record_property("problem", problems)

"""The reporting commands' --data-dir, the demo's data found by default, a missing journal
refused (exit 66, never created), and `./dev hallwatch` (monitor/datadir.py, README)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.events import EventKind
from alerts.ids import EventId
from hallkit.exits import EXIT_CONFIG, EXIT_NOINPUT, EXIT_OK
from monitor import datadir
from monitor.cli import main
from monitor.ingest.journal import AcceptEntry, Journal, JournalError, JournalMissing, RejectEntry
from tests.hall import HALL, body, punch, topic
from tests.running import free_port, journal_ids, wait_until, write_config

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 on a working Friday in the hall
CASE = body(
    id="cli-case-1",
    case="C-CLI-1",
    action="accepted",
    kind="promised",
    ts="2026-11-02T09:00:00+08:00",
    window="W03",
    staff="S005",
    promised_days=3,
    legal_days=10,
)
# (command words, what its output shows of the journal's two events and its reject)
COMMANDS: list[tuple[list[str], str]] = [
    (["replay"], '"events_applied": 2'),
    (["rejects"], "accepted 2, duplicate 0, rejected 1"),
    (["stats", "--from", "2026-11-01", "--to", "2026-11-30"], "办件统计"),
    (["attendance", "--date", "2026-11-20"], "考勤日报"),
    (["query"], ""),  # the daemon's local store: nothing written by this journal alone
]


def hall_data(data_dir: Path) -> Path:
    """A journal with a punch, a case and a reject, as the daemon would have left it."""
    journal = Journal.open(data_dir, HALL)
    entries: list[AcceptEntry | RejectEntry] = [
        AcceptEntry(
            event_id=EventId("cli-punch-1"),
            kind=EventKind.PUNCH,
            topic=topic("clock", "CLK-EAST", "punch"),
            received_at=AT,
            ts=AT,
            payload=punch(ts="2026-11-20T08:25:00+08:00", id="cli-punch-1"),
        ),
        AcceptEntry(
            event_id=EventId("cli-case-1"),
            kind=EventKind.CASE,
            topic=topic("case", "C-CLI-1", "event"),
            received_at=AT,
            ts=AT,
            payload=CASE,
        ),
        RejectEntry(
            topic=topic("clock", "CLK-EAST", "punch"),
            received_at=AT,
            reason="bad_json",
            detail="{",
            payload=b"{",
        ),
    ]
    journal.append(entries)
    journal.close()
    return data_dir


@pytest.fixture
def no_default_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a developer's machine: no $HALLWATCH_CONFIG, no /etc/hallwatch/hall.toml."""
    monkeypatch.delenv(datadir.CONFIG_ENV, raising=False)
    monkeypatch.setattr(datadir, "DEFAULT_CONFIG", tmp_path / "etc" / "hall.toml")


def run(words: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(words)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("words", "shown"), COMMANDS)
def test_data_dir_overrides_the_configured_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: list[str], shown: str
) -> None:
    cfg = write_config(tmp_path, 1883, None)  # its journal.data_dir is tmp_path/data: empty
    data = hall_data(tmp_path / "elsewhere")
    code, out, _ = run([*words, "--config", str(cfg), "--data-dir", str(data)], capsys)
    assert code == EXIT_OK and shown in out
    assert not (tmp_path / "data").exists()


def test_report_takes_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = hall_data(tmp_path / "elsewhere")
    out_dir = tmp_path / "out"
    words = ["report", "--data-dir", str(data), "--month", "2026-11", "--no-pdf"]
    code, out, _ = run([*words, "--out", str(out_dir)], capsys)
    assert code == EXIT_OK and "效能考评" in out
    assert (out_dir / f"hallwatch-{HALL}-2026-11.xlsx").read_bytes()[:2] == b"PK"
    page = (out_dir / f"hallwatch-{HALL}-2026-11.html").read_text(encoding="utf-8")
    assert "示范县政务服务中心 2026年11月 效能考评月报" in page


@pytest.mark.usefixtures("no_default_config")
@pytest.mark.parametrize(("words", "shown"), COMMANDS)
def test_without_config_the_demo_data_in_the_working_directory_is_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    words: list[str],
    shown: str,
) -> None:
    hall_data(tmp_path / "hallwatch-demo")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(words, capsys)
    assert code == EXIT_OK and shown in out


@pytest.mark.usefixtures("no_default_config")
def test_without_config_or_demo_data_the_missing_configuration_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["stats", "--from", "2026-11-01", "--to", "2026-11-30"], capsys)
    assert code == EXIT_CONFIG and "hall.toml" in err


def test_an_installed_configuration_comes_before_the_demo_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hall_data(tmp_path / "hallwatch-demo")
    monkeypatch.setenv(datadir.CONFIG_ENV, str(write_config(tmp_path, 1883, None)))
    monkeypatch.chdir(tmp_path)
    assert run(["replay"], capsys)[0] == EXIT_NOINPUT  # the configured hall's (none yet)


@pytest.mark.parametrize("words", [w for w, _ in COMMANDS] + [["report", "--month", "2026-11"]])
def test_a_missing_journal_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    cfg = write_config(tmp_path, 1883, None)
    for where in (["--config", str(cfg)], ["--data-dir", str(tmp_path / "none")]):
        code, out, err = run([*words, *where], capsys)
        assert code == EXIT_NOINPUT == 66 and "找不到日志" in err and "no journal at" in err
        assert out == ""
    assert not (tmp_path / "data").exists() and not (tmp_path / "none").exists()


def test_another_halls_journal_without_its_configuration_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Journal.open(tmp_path / "other", "other-county").close()
    code, _, err = run(["stats", "--data-dir", str(tmp_path / "other"), "--from", "2026-11-01",
                        "--to", "2026-11-02"], capsys)  # fmt: skip
    assert code == 1 and "belongs to hall 'other-county'" in err


def test_a_readers_journal_is_read_only_and_never_made(tmp_path: Path) -> None:
    with pytest.raises(JournalMissing) as missing:
        Journal.open_existing(tmp_path / "none", HALL)
    assert missing.value.path == tmp_path / "none" / "journal.sqlite3"
    assert not (tmp_path / "none").exists()
    data = hall_data(tmp_path / "data")
    reader = Journal.open_existing(data, HALL)
    try:
        assert [r.event_id for r in reader.events()] == ["cli-punch-1", "cli-case-1"]
        assert reader.counters["accepted"] == 2
        reject = RejectEntry(topic="t", received_at=AT, reason="bad_json", detail="", payload=b"")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.append([reject])
    finally:
        reader.close()
    with pytest.raises(JournalError, match="belongs to hall"):
        Journal.open_existing(data, "other-county")


def test_dev_hallwatch_runs_the_venvs_cli_in_the_checkout(tmp_path: Path) -> None:
    """The `dev` script's dispatch, on a copy with a stand-in CLI (no pip run)."""
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "dev", checkout / "dev")
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    digest = subprocess.run(
        ["sha256sum", str(checkout / "pyproject.toml")], capture_output=True, text=True, check=True
    ).stdout[:16]
    (checkout / ".venv" / f".installed-dev-{digest}").touch()  # as `./dev test` left it
    cli = checkout / ".venv" / "bin" / "hallwatch"
    cli.write_text('#!/bin/sh\necho "$PWD" "$@"\n', encoding="utf-8")
    cli.chmod(0o755)
    (checkout / ".venv" / "bin" / "python").symlink_to(sys.executable)
    done = subprocess.run(
        [str(checkout / "dev"), "hallwatch", "report", "--data-dir", "hallwatch-demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(checkout), "report", "--data-dir", "hallwatch-demo"]


@pytest.mark.integration
def test_reports_on_the_demos_data_as_the_readme_says(tmp_path: Path) -> None:
    """`./dev demo`, stopped, then `hallwatch report --data-dir hallwatch-demo` and a bare
    `hallwatch stats` from the same directory."""
    env = {k: v for k, v in os.environ.items() if k != datadir.CONFIG_ENV}
    mqtt_port, web_port = free_port(), free_port()
    # The last working day first: live, a hall at night sends nothing for a long while.
    ports = ["--mqtt-port", str(mqtt_port), "--web-port", str(web_port), "--sim-days", "1"]
    cli = [sys.executable, "-m", "monitor.cli"]
    proc = subprocess.Popen(
        [*cli, "demo", *ports],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    data = tmp_path / "hallwatch-demo"
    try:
        wait_until(lambda: any("Simulated hall" in x for x in lines), 60, "the simulated hall")
        wait_until(lambda: len(journal_ids(data)) > 0, 30, "events in the demo's journal")
        month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the hall's
        assert f"hallwatch report --data-dir hallwatch-demo --month {month}" in "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    words = ["report", "--data-dir", "hallwatch-demo", "--month", month, "--no-pdf"]
    said = subprocess.run(
        [*cli, *words, "--out", "report"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert said.returncode == 0, said.stderr
    assert "效能考评" in said.stdout
    assert (tmp_path / "report" / f"hallwatch-{HALL}-{month}.xlsx").is_file()
    if datadir.DEFAULT_CONFIG.exists():
        return  # an installed hall's configuration comes first
    replayed = subprocess.run(
        [*cli, "replay"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(replayed.stdout)["events_applied"] == len(journal_ids(data))

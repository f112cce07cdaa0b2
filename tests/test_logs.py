"""Log lines for journald: `<N>` syslog priorities under systemd, nothing added otherwise."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallkit import logs
from hallkit.exits import EXIT_NOINPUT


def _record(level: int, msg: str = "seat W03 %s", exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("monitor.x", level, __file__, 1, msg, ("empty",), exc_info)


@pytest.mark.parametrize(
    ("level", "prefix"),
    [
        (logging.DEBUG, "<7>"),
        (logging.INFO, "<6>"),
        (logging.WARNING, "<4>"),
        (logging.ERROR, "<3>"),
        (logging.CRITICAL, "<2>"),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_each_level_carries_its_syslog_priority(level: int, prefix: str, fmt: str) -> None:
    line = logs.formatter(fmt, journal=True).format(_record(level))

    assert line.startswith(prefix)
    assert "seat W03 empty" in line
    if fmt == "json":
        assert json.loads(line.removeprefix(prefix))["level"] == logging.getLevelName(level)


def test_without_the_journal_lines_are_unchanged() -> None:
    plain = logs.formatter("json", journal=False).format(_record(logging.ERROR))

    assert plain.startswith("{")


def test_every_line_of_a_traceback_is_at_the_records_priority() -> None:
    text = logs.formatter("text", journal=True).format(_record(logging.ERROR, exc=True))

    lines = text.split("\n")
    assert len(lines) > 3 and "RuntimeError: boom" in text
    assert all(line.startswith("<3>") for line in lines)


def test_the_journal_stream_is_recognised_by_device_and_inode(tmp_path: Path) -> None:
    path = tmp_path / "stderr"
    with path.open("w") as stream:
        st = os.fstat(stream.fileno())
        assert logs.under_journald(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not logs.under_journald(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not logs.under_journald(stream, {})
        assert not logs.under_journald(stream, {"JOURNAL_STREAM": "garbage"})


def test_the_command_prefixes_its_lines_when_stderr_is_the_journal_stream(tmp_path: Path) -> None:
    """As systemd runs it: stderr a stream whose dev:inode is in $JOURNAL_STREAM."""
    err = tmp_path / "journal-stream"
    with err.open("w") as stream:
        st = os.fstat(stream.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        command = [sys.executable, "-m", "monitor.cli", "rejects", "--data-dir", str(tmp_path)]
        done = subprocess.run(command, stderr=stream, env=env, timeout=60, check=False)

    text = err.read_text(encoding="utf-8")
    assert done.returncode == EXIT_NOINPUT  # a reader never makes a journal (monitor/datadir.py)
    assert text.startswith("<3>") and "no journal at" in text

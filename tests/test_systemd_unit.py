"""systemd/hallwatch.service: what the daemon relies on, and systemd's own verdict on the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from alerts.config import WebConfig
from hallkit.exits import EXIT_CONFIG

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "hallwatch.service"
EXAMPLE_CONFIG = ROOT / "config" / "hall.example.toml"


def settings(unit_text: str) -> dict[tuple[str, str], list[str]]:
    """(section, key) -> values in order; repeated keys (SystemCallFilter=) accumulate."""
    found: dict[tuple[str, str], list[str]] = {}
    section = ""
    for raw in unit_text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault((section, key), []).append(value)
    return found


UNIT_SETTINGS = settings(UNIT.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("WatchdogSec", "30"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("StateDirectory", "hallwatch"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("LimitNOFILE", "8192"),
    ],
)
def test_service_setting(key: str, value: str) -> None:
    assert UNIT_SETTINGS[("Service", key)] == [value]


def test_credential_is_the_one_the_example_config_names() -> None:
    with EXAMPLE_CONFIG.open("rb") as f:
        password_file = tomllib.load(f)["broker"]["password_file"]
    (credential,) = UNIT_SETTINGS[("Service", "LoadCredential")]

    assert credential.partition(":")[0] == password_file


def test_file_limit_leaves_room_above_the_largest_connection_cap() -> None:
    (limit,) = UNIT_SETTINGS[("Service", "LimitNOFILE")]
    cap = WebConfig.model_fields["max_connections"].metadata
    largest = max(m.le for m in cap if getattr(m, "le", None) is not None)

    assert int(limit) >= 2 * largest  # descriptors for the journal, broker and streams too


def test_a_broken_configuration_is_not_restarted() -> None:
    assert UNIT_SETTINGS[("Service", "RestartPreventExitStatus")] == [str(EXIT_CONFIG)]


def test_journal_directory_is_writable_under_the_sandbox() -> None:
    (state,) = UNIT_SETTINGS[("Service", "StateDirectory")]

    assert UNIT_SETTINGS[("Service", "ReadWritePaths")] == [f"/var/lib/{state}"]


def _existing_executable() -> str:
    # verify insists ExecStart= exists; /opt/hallwatch/bin/hallwatch only does after
    # `./dev install` (tests/test_packaging.py verifies the units against that install).
    venv_script = Path(sys.executable).with_name("hallwatch")
    return str(venv_script) if venv_script.exists() else "/bin/true"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit_text = UNIT.read_text(encoding="utf-8").replace(
        "ExecStart=/opt/hallwatch/bin/hallwatch ", f"ExecStart={_existing_executable()} ", 1
    )
    assert unit_text != UNIT.read_text(encoding="utf-8")
    copy = tmp_path / UNIT.name
    copy.write_text(unit_text, encoding="utf-8")

    done = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    output = done.stdout + done.stderr
    # Unknown or unparsable keys are only warnings ("..., ignoring.") and leave exit code 0.
    problems = [
        line for line in output.splitlines() if UNIT.name in line or "ignoring" in line.lower()
    ]
    assert done.returncode == 0, output
    assert problems == []

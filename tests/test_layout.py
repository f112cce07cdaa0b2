"""The package layout holds (docs/architecture.md): the import contracts, and what a device
adapter loads in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL_ONLY = ("monitor", "alerts.cards", "alerts.supervision", "alerts.people", "alerts.state")


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _loaded(module: str) -> list[str]:
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted(n for n in sys.modules "
        "if n.split('.')[0] in ('alerts', 'monitor', 'devices', 'hallkit'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize(
    "module", ["devices.zkpush", "devices.spool", "devices.simulator", "hallkit.mqtt"]
)
def test_a_device_adapter_loads_no_daemon_card_engine_or_sink(module: str) -> None:
    loaded = _loaded(module)
    assert module in loaded
    assert [m for m in loaded if m.startswith(SHELL_ONLY)] == []


def test_the_core_loads_nothing_of_the_shell() -> None:
    loaded = _loaded("alerts.supervision")
    assert [m for m in loaded if not m.startswith("alerts")] == []


def test_the_daemon_module_is_wiring_only() -> None:
    """The composition root stays small: what runs lives beside it (docs/architecture.md)."""
    daemon = Path(__file__).resolve().parent.parent / "monitor" / "daemon.py"
    lines = daemon.read_text(encoding="utf-8").splitlines()

    assert len(lines) <= 250, f"monitor/daemon.py has {len(lines)} lines"

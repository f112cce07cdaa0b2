"""What an operator installs: `./dev install` into a fresh venv, then the installed command.

The documented install (README "Install"): `./dev install` makes a venv and `pip install`s this
source tree into it, without extras, exactly as on a hall's server except for the prefix
(`PREFIX=`, here a temporary directory instead of /opt/hallwatch). Needs the package index
(pip downloads the dependencies; its cache makes a second run quick).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallkit.exits import EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from monitor import __version__

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("hallwatch.service", "hallwatch-zkpush.service", "hallwatch-camera@.service")
INSTALLED = "/opt/hallwatch/"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("opt") / "hallwatch"
    env = {**os.environ, "PREFIX": str(where)}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [str(ROOT / "dev"), "install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"hallwatch {__version__}" in done.stderr
    yield where


def _run(prefix: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "HALLWATCH_CONFIG"}
    return subprocess.run(
        [str(prefix / "bin" / "hallwatch"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=prefix,  # not the source tree: only the installed package is importable
    )


def test_version_is_the_packages(prefix: Path) -> None:
    done = _run(prefix, "--version")
    with (ROOT / "pyproject.toml").open("rb") as f:
        version = tomllib.load(f)["project"]["version"]

    assert done.returncode == EXIT_OK
    assert done.stdout.strip() == f"hallwatch {version}" == f"hallwatch {__version__}"


def test_the_licence_travels_with_the_package(prefix: Path) -> None:
    (dist,) = prefix.glob(f"lib/python3*/site-packages/hallwatch-{__version__}.dist-info")
    shipped = [p for p in dist.rglob("LICENSE*") if p.is_file()]

    assert shipped and shipped[0].read_text() == (ROOT / "LICENSE").read_text()
    assert "Apache License" in shipped[0].read_text() and "Version 2.0" in shipped[0].read_text()


def test_the_camera_models_travel_with_the_package(prefix: Path) -> None:
    """The camera agent loads its detectors from the installed package: nothing to download."""
    (site,) = prefix.glob("lib/python3*/site-packages")
    for name in ("person_ssdlite.pb", "selfie_segmentation.tflite", "LICENSE.person_ssdlite"):
        shipped = site / "devices" / "vision" / "models" / name
        source = ROOT / "devices" / "vision" / "models" / name
        assert shipped.is_file(), f"{name} is not in the installed package"
        assert shipped.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    "args", [("frobnicate",), ("run", "--no-such-option"), ("stats", "--from", "2026-11-01")]
)
def test_a_wrong_command_line_exits_64(prefix: Path, args: tuple[str, ...]) -> None:
    done = _run(prefix, *args)

    assert done.returncode == EXIT_USAGE == 64, done.stderr
    assert "usage: hallwatch" in done.stderr


def test_a_broken_configuration_exits_78_with_its_key_path(prefix: Path, tmp_path: Path) -> None:
    broken = tmp_path / "hall.toml"
    text = (ROOT / "config" / "hall.example.toml").read_text(encoding="utf-8")
    broken.write_text(text.replace("[hall]\n", "[hall]\nno_such_key = 1\n", 1), encoding="utf-8")

    done = _run(prefix, "check-config", str(broken))

    assert done.returncode == EXIT_CONFIG == 78, done.stdout + done.stderr
    assert "hall.no_such_key" in done.stderr
    ok = _run(prefix, "check-config", str(ROOT / "config" / "hall.example.toml"))
    assert ok.returncode == EXIT_OK, ok.stderr


def test_the_config_comes_from_hallwatch_config_else_etc(prefix: Path, tmp_path: Path) -> None:
    broken = tmp_path / "elsewhere.toml"
    broken.write_text("[hall\n", encoding="utf-8")

    from_env = _run(prefix, "check-config", HALLWATCH_CONFIG=str(broken))
    default = _run(prefix, "doctor")

    assert from_env.returncode == EXIT_CONFIG and str(broken) in from_env.stderr
    if not Path("/etc/hallwatch/hall.toml").exists():
        assert default.returncode == EXIT_CONFIG
        assert "/etc/hallwatch/hall.toml" in default.stderr


def test_the_camera_without_its_extra_says_what_to_install(prefix: Path) -> None:
    done = _run(prefix, "camera", "run", "--config", "/etc/hallwatch/camera-CAM1.toml")

    assert done.returncode == EXIT_UNAVAILABLE == 69, done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'hallwatch[camera]'" in done.stderr
    assert "缺少可选组件 [camera]" in done.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_verify_against_the_documented_install(
    prefix: Path, unit: str, tmp_path: Path
) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ROOT / "systemd" / unit).read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED}bin/hallwatch " in text
    name = unit.replace("@.", "@CAM1.")  # an instance of the template
    (tmp_path / name).write_text(text.replace(INSTALLED, f"{prefix}/"), encoding="utf-8")

    done = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    output = done.stdout + done.stderr
    problems = [line for line in output.splitlines() if name in line or "ignoring" in line.lower()]
    assert done.returncode == 0, output
    assert problems == []


@pytest.mark.parametrize("unit", UNITS)
def test_no_unit_restarts_a_broken_configuration(unit: str) -> None:
    text = (ROOT / "systemd" / unit).read_text(encoding="utf-8")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("RestartPreventExitStatus=")]

    assert str(EXIT_CONFIG) in line.partition("=")[2].split()

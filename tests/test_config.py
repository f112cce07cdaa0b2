"""Configuration: the example is valid; a broken file names every broken key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alerts.errors import ConfigError
from hallkit.config import example_config_path, load_config
from hallkit.exits import EXIT_CONFIG
from monitor.cli import main

BROKEN = """
[hall]
id = "bad hall id"
name = ""
timezone = "Mars/Olympus"
colour = "red"

[broker]
port = 70000

[journal]
synchronous = "sometimes"

[[sessions]]
name = "上午"
start = 12:00:00
end = 08:30:00

[[sessions]]
name = "下午"
start = 11:00:00
end = 17:30:00

[[departments]]
id = "d1"
name = "部门"

[[staff]]
id = "S001"
name = "张三"
department = "nowhere"

[[staff]]
id = "S001"
name = "李四"
department = "d1"

[[windows]]
id = "W01"
name = "窗口"
department = "d1"
a_post = "S404"
b_posts = ["S001", "S405"]

[[cameras]]
id = "CAM1"
windows = ["W02"]
"""

EXPECTED_KEYS = [
    "hall.id",
    "hall.name",
    "hall.timezone",
    "hall.colour",
    "broker.port",
    "journal.synchronous",
]
EXPECTED_CROSS = [
    "staff: id 'S001' appears 2 times",
    "staff[0].department",
    "windows[0].a_post",
    "windows[0].b_posts[1]",
    "cameras[0].windows[0]",
    "sessions[0].end",
    "overlaps session",
]


def test_example_config_is_a_realistic_hall() -> None:
    cfg = load_config(example_config_path())
    assert 18 <= len(cfg.windows) <= 22
    assert sum(1 for s in cfg.staff if s.role == "officer") >= 38
    assert len(cfg.sessions) == 2
    assert all(w.b_posts for w in cfg.windows)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_schema_problems_are_reported_with_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, BROKEN))
    text = "\n".join(info.value.problems)
    for key in EXPECTED_KEYS:
        assert key in text, key
    assert "unknown key" in text


def test_cross_reference_problems_are_all_reported(tmp_path: Path) -> None:
    fixed = BROKEN.replace('id = "bad hall id"', 'id = "h1"').replace('name = ""', 'name = "厅"')
    fixed = fixed.replace('timezone = "Mars/Olympus"\ncolour = "red"', "")
    fixed = fixed.replace("port = 70000", "port = 1883").replace('"sometimes"', '"full"')
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, fixed))
    text = "\n".join(info.value.problems)
    for key in EXPECTED_CROSS:
        assert key in text, (key, text)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "[hall]\nid = \n"))
    assert "line 2" in info.value.problems[0]


def test_check_config_command_exits_non_zero_and_lists_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(_write(tmp_path, BROKEN))]) == EXIT_CONFIG
    err = capsys.readouterr().err
    for key in EXPECTED_KEYS:
        assert key in err
    assert main(["check-config", str(example_config_path())]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_as_a_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == EXIT_CONFIG and "cannot read file" in proc.stderr

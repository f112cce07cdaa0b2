"""Reading configuration files: TOML, secrets, the hall's configuration, the embedded example.

The only part of configuration that touches the disk or the environment; validating the data
is pure (alerts/config.py, alerts/model.py).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from alerts.config import HallConfig, parse_config
from alerts.errors import ConfigError


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A TOML file as data; unreadable, non-UTF-8 or bad syntax is a ConfigError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), [f"not UTF-8 at byte {exc.start}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [f"TOML syntax: {exc}"]) from exc


def load_config(path: str | os.PathLike[str]) -> HallConfig:
    return parse_config(read_toml(path), str(path))


def read_secret(name: str, config_path: Path | None) -> str:
    """Resolve a secret file: absolute path, $CREDENTIALS_DIRECTORY, or beside the config."""
    candidates = [Path(name)] if os.path.isabs(name) else []
    if not candidates:
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds:
            candidates.append(Path(creds) / name)
        if config_path is not None:
            candidates.append(config_path.parent / name)
    for c in candidates:
        if c.is_file():
            return c.read_text(encoding="utf-8").strip()
    raise ConfigError("broker.password_file", [f"secret {name!r} not found in {candidates}"])


def example_config_path() -> Path:
    """The embedded example hall: packaged copy first, then the source tree's config/."""
    packaged = Path(__file__).parents[1] / "monitor" / "_embedded" / "hall.example.toml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"

"""The base of every configuration model and its validation into typed values (pure).

alerts/config.py mounts sections that the rule modules define, so those import this module,
never alerts/config.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError

from alerts.errors import ConfigError


class ConfigModel(BaseModel):
    """Frozen, and an unknown key is an error: a typo never falls back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_zone(name: str) -> str:
    """A validator: the name must be an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M],
    data: dict[str, Any],
    source: str,
    cross: Callable[[M], list[str]] = lambda _m: [],
) -> M:
    """A typed model from decoded TOML, or ConfigError with every problem and its key path."""
    try:
        cfg = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise ConfigError(source, problems) from exc
    problems = cross(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg

"""The base of every configuration model, apart from alerts.config so alerts/ can use it.

(alerts.config mounts sections defined in alerts/, so alerts/ must not import it.)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict


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

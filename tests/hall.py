"""Test helpers: the example hall and payload builders (no fixtures, plain functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alerts.config import HallConfig
from hallkit.config import example_config_path, load_config

HALL = "demo-county"
T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in the hall


def example() -> HallConfig:
    return load_config(example_config_path())


def topic(area: str, key: str, leaf: str | None = None) -> str:
    return f"hall/{HALL}/{area}/{key}" + (f"/{leaf}" if leaf else "")


def body(**fields: Any) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def punch(staff: str = "S001", ts: str = "2026-11-23T08:25:00+08:00", **extra: Any) -> bytes:
    return body(**{"staff": staff, "ts": ts, "verify": "fingerprint", **extra})

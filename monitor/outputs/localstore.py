"""The embedded time-series store: the same points as InfluxDB gets, in points.sqlite3.

Used when `[timeseries]` names no server (the demo, a hall without InfluxDB). Writes are
idempotent the way InfluxDB's are: a point with the same measurement, tags and time as a
stored one merges its fields into it, so writing a point twice stores it once.
`hallwatch query` reads them back with `query` and prints them with `render_query`.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from alerts.config import TimeSeriesConfig
from alerts.errors import HallwatchError
from alerts.points import FieldValue, Point, from_ns, time_ns
from monitor.ingest import checkpoint
from monitor.outputs.sinks import PointSink, RemoteSink

logger = logging.getLogger(__name__)

POINTS_FILE = "points.sqlite3"
_TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,            -- JSON object, keys sorted: the series key
    time INTEGER NOT NULL,         -- nanoseconds since the epoch, UTC
    fields TEXT NOT NULL,          -- JSON object
    PRIMARY KEY (measurement, tags, time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_time ON points(measurement, time);
"""


class LocalStoreError(HallwatchError):
    """The local store cannot be opened or queried."""


class LocalStore:
    """A `PointSink` over SQLite. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            checkpoint.defer(self._conn)
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise LocalStoreError(f"cannot open {path}: {exc}") from exc

    @classmethod
    def open(cls, data_dir: str | Path) -> LocalStore:
        return cls(Path(data_dir) / POINTS_FILE)

    def write(self, points: Sequence[Point]) -> bool:
        rows = [
            (p.measurement, _series(p.tags), p.time_ns, json.dumps(dict(p.fields))) for p in points
        ]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO points(measurement, tags, time, fields) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET fields = json_patch(fields, excluded.fields)",
                rows,
            )
        return True

    def start(self) -> None:
        """Nothing runs in the background: writes are synchronous."""

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._conn.close()

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        """Points of `measurement` with start <= time < end whose tags include `tags`."""
        sql = (
            "SELECT tags, time, fields FROM points WHERE measurement = ? AND time >= ? AND time < ?"
        )
        args: list[str | int] = [measurement, time_ns(start), time_ns(end)]
        for key, value in sorted((tags or {}).items()):
            if not _TAG_KEY.match(key):
                raise LocalStoreError(f"not a tag name: {key!r}")
            sql += f" AND json_extract(tags, '$.{key}') = ?"
            args.append(value)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY time, tags", args).fetchall()
        return [_point(measurement, t, ns, f) for t, ns, f in rows]

    def measurements(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT measurement FROM points ORDER BY 1")
            return [r[0] for r in rows]

    def prune(self, before: datetime) -> int:
        """Delete points older than `before`; how many went."""
        with self._lock, self._conn:
            cur = self._conn.execute("DELETE FROM points WHERE time < ?", (time_ns(before),))
        return cur.rowcount


def _series(tags: Mapping[str, str]) -> str:
    return json.dumps({k: v for k, v in tags.items() if v}, sort_keys=True, ensure_ascii=False)


def _point(measurement: str, tags: str, ns: int, fields: str) -> Point:
    values: dict[str, FieldValue] = json.loads(fields)
    return Point(measurement=measurement, tags=json.loads(tags), fields=values, time=from_ns(ns))


def open_sink(
    cfg: TimeSeriesConfig | None,
    data_dir: str | Path,
    *,
    config_path: Path | None = None,
    on_full: Callable[[int], None] | None = None,
    on_rejected: Callable[[int, str], None] | None = None,
) -> PointSink:
    """The configured server's outbox, or the local store when no server is configured."""
    if cfg is None or cfg.url is None:
        logger.info("time series: local store %s", Path(data_dir) / POINTS_FILE)
        return LocalStore.open(data_dir)
    logger.info("time series: %s bucket %s", cfg.url, cfg.bucket)
    return RemoteSink.open(
        cfg, data_dir, config_path=config_path, on_full=on_full, on_rejected=on_rejected
    )


# --- the text table of `hallwatch query` -----------------------------------------------------


def render_query(points: Sequence[Point], zone: tzinfo | None = None) -> str:
    """One row per point: time, then every tag, then every field (union over the points)."""
    if not points:
        return "(no points)\n"
    tag_keys = sorted({k for p in points for k in p.tags})
    field_keys = sorted({k for p in points for k in p.fields})
    header = ["time", *tag_keys, *field_keys]
    rows = [header]
    for p in points:
        at = p.time.astimezone(zone) if zone else p.time
        cells = [at.isoformat(timespec="milliseconds")]
        cells += [p.tags.get(k, "") for k in tag_keys]
        cells += [_cell(p.fields.get(k)) for k in field_keys]
        rows.append(cells)
    widths = [max(_width(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _cell(v: FieldValue | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _width(text: str) -> int:
    """Terminal columns: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))

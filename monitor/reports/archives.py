"""The archive folder the scheduled jobs fill (monitor/jobs.py, docs/archives.md).

`<journal.data_dir>/<jobs.archive_dir>/daily/2026-11-23.pdf` and `.csv`,
`monthly/2026-11.pdf` and `.xlsx`. A file is written beside its place and renamed into it, so
a reader never sees half of one. The console lists and reads them by name
(`GET /api/archives`); a name must match `NAME` before it comes near a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from alerts.config import HallConfig
from monitor.reports.downloads import PDF_TYPE, XLSX_TYPE

NAME = re.compile(r"^(daily/\d{4}-\d{2}-\d{2}|monthly/\d{4}-\d{2})\.(pdf|csv|xlsx)$")
TYPES = {"pdf": PDF_TYPE, "csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}
KINDS = ("daily", "monthly")


def folder(cfg: HallConfig) -> Path:
    """Where the archives are: `jobs.archive_dir` under the data directory (or absolute)."""
    return Path(cfg.journal.data_dir) / cfg.jobs.archive_dir


def daily_name(day: date, ext: str) -> str:
    return f"daily/{day.isoformat()}.{ext}"


def monthly_name(month: tuple[int, int], ext: str) -> str:
    return f"monthly/{month[0]:04d}-{month[1]:02d}.{ext}"


def write(root: Path, name: str, data: bytes) -> Path:
    """`data` as the archive `name`, whole or not at all (fsynced, then renamed)."""
    if not NAME.match(name):
        raise ValueError(f"not an archive name: {name!r}")
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    name: str  # daily/2026-11-23.pdf
    kind: str  # daily, monthly
    period: str  # 2026-11-23, 2026-11
    format: str  # pdf, csv, xlsx
    size: int
    written_at: datetime

    def doc(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "period": self.period,
            "format": self.format,
            "size": self.size,
            "written_at": self.written_at.isoformat(),
        }


def listing(root: Path) -> list[Entry]:
    """Every archive in the folder, the latest period first (daily before monthly)."""
    out: list[Entry] = []
    for kind in KINDS:
        sub = root / kind
        if not sub.is_dir():
            continue
        for path in sub.iterdir():
            name = f"{kind}/{path.name}"
            if not NAME.match(name) or not path.is_file():
                continue  # a temporary file being written, or someone else's
            st = path.stat()
            period, _, ext = path.name.partition(".")
            when = datetime.fromtimestamp(st.st_mtime, UTC)
            out.append(
                Entry(
                    name=name,
                    kind=kind,
                    period=period,
                    format=ext,
                    size=st.st_size,
                    written_at=when,
                )
            )
    return sorted(out, key=lambda e: (e.period, e.kind == "daily", e.format), reverse=True)


def read(root: Path, name: str) -> tuple[str, bytes] | None:
    """The content type and bytes of the archive `name`; None for no such archive."""
    m = NAME.match(name)
    if m is None:
        return None
    try:
        return TYPES[m.group(2)], (root / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None

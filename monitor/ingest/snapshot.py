"""Snapshots of the derived state: a stopping daemon writes one; the next start loads it and
replays only the journal's tail.

The journal stays the truth. A snapshot is a cache of what replaying the journal up to a
position gives, and it is used only when all of these still hold:
- it was written by this same code (a SHA-256 of the `alerts/` and `monitor/` sources);
- for this same configuration (a SHA-256 of the validated configuration);
- the journal still holds the event it ends at, with the same id, and at least as many ticks.
Otherwise the start-up replays the whole journal, as after a crash, and says why in the log.
A snapshot stays usable while the journal grows: the events and ticks after its position are
the tail. `hallwatch replay` never reads one: it is the check that a replay gives the same.

The file is `snapshot.bin` in the data directory: a magic line, a JSON header line, then the
pickled `Supervision`. It is written to a temporary file, flushed to disk and renamed, so a
crash while writing leaves the previous snapshot (or none). Like the journal, it is trusted:
only the daemon's user may write the data directory (pickle runs code on load).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from alerts.config import HallConfig
from alerts.supervision import Supervision
from monitor.ingest.journal import Journal

logger = logging.getLogger(__name__)

MAGIC = b"hallwatch-snapshot 1\n"
FILE_NAME = "snapshot.bin"


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    code: str  # SHA-256 of the sources that derive state
    config: str  # SHA-256 of the configuration
    last_seq: int  # the last journal event applied
    last_event: str  # its id: the same journal
    ticks: int  # journaled ticks applied, in journal order


@dataclass(frozen=True, slots=True)
class Loaded:
    sup: Supervision
    header: Header


def path_in(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILE_NAME


@cache
def code_fingerprint() -> str:
    """The sources whose code decides the derived state (read once per process)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for package in ("alerts", "monitor"):
        for source in sorted((root / package).rglob("*.py")):
            h.update(source.relative_to(root).as_posix().encode())
            h.update(source.read_bytes())
    return h.hexdigest()


def config_fingerprint(cfg: HallConfig) -> str:
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()


def save(path: Path, sup: Supervision, journal: Journal, cfg: HallConfig) -> Header | None:
    """Write the snapshot of `sup`, which must hold every event and tick of `journal`."""
    last = _event_id_at(journal, sup.state.last_seq)
    if last is None:
        return None  # an empty journal: nothing worth keeping
    header = Header(
        code=code_fingerprint(),
        config=config_fingerprint(cfg),
        last_seq=sup.state.last_seq,
        last_event=last,
        ticks=len(journal.ticks()),
    )
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(MAGIC)
        f.write(json.dumps(asdict(header)).encode() + b"\n")
        pickle.dump(sup, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    logger.info("snapshot written at event %d (%s)", header.last_seq, path)
    return header


def load(path: Path, journal: Journal, cfg: HallConfig) -> Loaded | None:
    """The snapshot at `path` if it still stands for a prefix of `journal`, else None."""
    if not path.exists():
        return None
    why = None
    try:
        with path.open("rb") as f:
            if f.readline() != MAGIC:
                why = "not a snapshot of this format"
            else:
                header = Header(**json.loads(f.readline()))
                why = _mismatch(header, journal, cfg)
                sup = None if why else pickle.load(f)
    except (OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        why = f"unreadable ({exc})"
    if why is None and not isinstance(sup, Supervision):
        why = "holds no supervision state"
    if why is not None or not isinstance(sup, Supervision):
        logger.warning("snapshot %s not used: %s; replaying the whole journal", path, why)
        return None
    return Loaded(sup, header)


def _mismatch(header: Header, journal: Journal, cfg: HallConfig) -> str | None:
    if header.code != code_fingerprint():
        return "written by other code"
    if header.config != config_fingerprint(cfg):
        return "written for another configuration"
    if _event_id_at(journal, header.last_seq) != header.last_event:
        return f"the journal no longer holds its event {header.last_seq}"
    if len(journal.ticks()) < header.ticks:
        return "the journal holds fewer ticks than it"
    return None


def _event_id_at(journal: Journal, seq: int) -> str | None:
    if seq <= 0:
        return None
    row = next(journal.events(after_seq=seq - 1, chunk=1), None)
    return row.event_id if row is not None and row.seq == seq else None

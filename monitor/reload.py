"""SIGHUP: the configuration file read again, refused if it cannot replace the running one."""

from __future__ import annotations

import logging
from pathlib import Path

from alerts.config import HallConfig
from alerts.errors import ConfigError
from hallkit.config import load_config

logger = logging.getLogger(__name__)


def reread(old: HallConfig, path: Path) -> HallConfig:
    """The configuration at `path` to run on; ConfigError if it is broken or would need a
    restart (another hall or journal). Broker changes wait for the next restart."""
    new = load_config(path)
    problems = []
    if new.hall.id != old.hall.id:
        problems.append(f"hall.id: changing {old.hall.id!r} needs a restart and a new data_dir")
    if new.journal.data_dir != old.journal.data_dir:
        problems.append("journal.data_dir: a different journal needs a restart")
    if problems:
        raise ConfigError("reload", problems)
    if new.broker != old.broker:
        logger.warning("broker settings changed: they take effect at the next restart")
    return new


def reread_or_keep(old: HallConfig, path: Path) -> HallConfig | None:
    """`reread`, or None with each of its problems logged: the running configuration stays."""
    try:
        return reread(old, path)
    except ConfigError as exc:
        for problem in exc.problems:
            logger.error("reload refused, old configuration kept: %s", problem)
        return None

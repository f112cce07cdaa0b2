"""Where a command finds its hall: the configuration file and the data directory.

The daemon's commands take `--config` (default `$HALLWATCH_CONFIG`, else
/etc/hallwatch/hall.toml). The reporting commands (stats, attendance, report, replay,
rejects, query) also take `--data-dir`, which overrides `journal.data_dir`; without
`--config` they use that default file when it exists, and otherwise the demo's hall (the
embedded example configuration `./dev demo` runs) on `--data-dir`, or on ./hallwatch-demo/
when run where the demo left it (the checkout). A reader never makes a journal: one that does
not exist is `JournalMissing`, told in Chinese and English with exit 66 (`missing_journal`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from alerts.config import HallConfig
from hallkit.config import load_config
from monitor.ingest.journal import JournalMissing

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("/etc/hallwatch/hall.toml")
CONFIG_ENV = "HALLWATCH_CONFIG"
DEMO_DIR = Path("hallwatch-demo")  # `hallwatch demo`'s default --data-dir


def default_config() -> Path:
    """`$HALLWATCH_CONFIG`, else /etc/hallwatch/hall.toml: where --config points unless given."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def reporting_config(config: Path | None, data_dir: Path | None) -> HallConfig:
    """The hall a reporting command reads (the module's docstring says which)."""
    if config is None and (os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG.is_file()):
        config = default_config()
    if config is not None:
        cfg = load_config(config)
        return cfg if data_dir is None else with_data_dir(cfg, data_dir)
    where = data_dir if data_dir is not None else DEMO_DIR if DEMO_DIR.is_dir() else None
    if where is None:
        return load_config(DEFAULT_CONFIG)  # it does not exist: says so, exit 78
    from monitor.demo import demo_config

    logger.info("no --config and no %s: the demo's hall, data in %s", DEFAULT_CONFIG, where)
    return demo_config(where, 1883, 8470)  # a reader uses neither port


def with_data_dir(cfg: HallConfig, data_dir: Path) -> HallConfig:
    journal = cfg.journal.model_copy(update={"data_dir": str(data_dir)})
    return cfg.model_copy(update={"journal": journal})


def missing_journal(exc: JournalMissing) -> str:
    where = exc.path.parent
    return (
        f"找不到日志 {exc.path}：该数据目录没有监察数据（报表命令不会新建日志）。"
        f"请用 --data-dir 指向守护进程或 ./dev demo 的数据目录，或用 --config 指定大厅配置。\n"
        f"no journal at {exc.path}: {where} holds no hall data (a reporting command never "
        f"creates one). Point --data-dir at the daemon's or `./dev demo`'s data directory, "
        f"or --config at the hall's configuration."
    )

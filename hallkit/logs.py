"""Logging to stderr: plain text for people, JSON lines for journald and log shippers.

Under systemd (stderr is the journal stream named by `$JOURNAL_STREAM`) every line starts
with its syslog priority, `<3>` error, `<4>` warning, `<6>` info, `<7>` debug (`<2>` critical):
journald strips the prefix and files the line at that priority (SyslogLevelPrefix=, on by
default), so `journalctl -u hallwatch -p warning` shows warnings and worse. Each line of a
multi-line record (a traceback in text format) carries the prefix; a JSON record is one line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

_QUIET = ("urllib3", "amqtt", "transitions", "websockets", "influxdb_client", "apscheduler")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level (sd-daemon(3) prefixes)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalPriorityFormatter(logging.Formatter):
    """Another formatter's lines, each with the record's `<N>` priority prefix."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in self.inner.format(record).split("\n"))


def under_journald(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """True when `stream` is the journal stream systemd connected (JOURNAL_STREAM=dev:inode)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, _, inode = value.partition(":")
    if not (dev.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):  # not a real file (pytest's capture)
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(inode))


def formatter(fmt: str, journal: bool) -> logging.Formatter:
    inner: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    return JournalPriorityFormatter(inner) if journal else inner


def setup(level: str = "INFO", fmt: str = "text", journal: bool | None = None) -> None:
    """Log to stderr; `journal` None: priority prefixes when stderr is the journal stream."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt, under_journald(sys.stderr) if journal is None else journal))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

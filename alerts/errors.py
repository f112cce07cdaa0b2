"""The exception root of the project and its tree.

    HallwatchError
    ├── ConfigError        a configuration or secret cannot be used (exit code 78)
    ├── HashError          a configured password hash cannot be checked (alerts/accounts.py)
    ├── PointError         not a time-series point (alerts/points.py)
    ├── ProtocolError      a ZKTeco PUSH request the bridge refuses (devices/zkproto.py)
    ├── SpoolError         the device spool cannot take a message (devices/spool.py)
    │   └── SpoolFull      it is at its bound and refuses (`when_full = "refuse"`)
    ├── PublishError       the simulator's broker is unreachable, refuses or is silent
    ├── JournalError       the journal cannot be opened or is another hall's
    │   └── JournalMissing a reader's journal does not exist: not made (exit code 66)
    ├── RulesFailed        the rules failed on some committed events (the ingestor)
    ├── SinkError          a time-series write did not succeed (monitor/outputs/sinks.py)
    │   ├── WriteFailed    transient: retried
    │   └── WriteRejected  the server refused the data itself
    ├── LocalStoreError    the local point store cannot be opened or queried
    ├── SendFailed         a notice channel did not take a notice: retried
    ├── ConsoleError       a console request refused: an HTTP status and a sentence
    ├── ChartError         a report chart cannot be drawn (no CJK font)
    └── PdfError           no browser to print the report with, or it failed

HashError and PointError are ValueErrors too, so a pydantic validator reports them with
their key path. alerts/contract.py keeps two private ones (a refusal, strict JSON) that never
leave its `decode`. A library's error (sqlite3, OSError, urllib, paho) is translated where it
would leave the module that called the library, with `raise ... from exc`, except where the
caller needs the library's own classes (the ingest tells a failing disk by sqlite3's).
"""

from __future__ import annotations


class HallwatchError(Exception):
    """Every error of hallwatch derives from this one."""


class ConfigError(HallwatchError):
    """The configuration cannot be used; `problems` lists each one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))

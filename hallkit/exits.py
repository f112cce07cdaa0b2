"""Exit codes of every hallwatch command, in one place: the daemon, the CLI, the device
adapters and the simulator (README "Exit codes").

The BSD sysexits values, so that systemd and shell scripts can tell a mistake in the command
line or the configuration, which a restart never fixes, from a failure that one might:

| code | name | meaning |
| --- | --- | --- |
| 0 | EXIT_OK | done, or stopped by SIGINT/SIGTERM |
| 1 | EXIT_FAILURE | a runtime failure (journal, broker refused, a probe of `hallwatch doctor`) |
| 64 | EXIT_USAGE | the command line is wrong (unknown command, missing argument) |
| 66 | EXIT_NOINPUT | a reporting command's journal does not exist (it is not made for a reader) |
| 69 | EXIT_UNAVAILABLE | a component the command needs is not installed (an extra) |
| 78 | EXIT_CONFIG | the configuration file or a credential is missing or invalid |

The units set `RestartPreventExitStatus=78`: a broken configuration stops the service instead
of restarting it until the start limit.
"""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from typing import NoReturn


class Exit(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 64  # EX_USAGE
    NOINPUT = 66  # EX_NOINPUT
    UNAVAILABLE = 69  # EX_UNAVAILABLE
    CONFIG = 78  # EX_CONFIG


EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = Exit.OK, Exit.FAILURE, Exit.CONFIG
EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NOINPUT = Exit.USAGE, Exit.UNAVAILABLE, Exit.NOINPUT


class UsageParser(argparse.ArgumentParser):
    """argparse with EXIT_USAGE for a wrong command line (argparse's own is 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

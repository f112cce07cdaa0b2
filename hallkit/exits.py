"""The exit codes of every command (the daemon, the CLI, the device adapters, the simulator)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # done, or stopped by SIGINT/SIGTERM
    FAILURE = 1  # the broker or the journal failed; systemd restarts the service
    CONFIG = 2  # the configuration or a credential is unusable; a restart cannot help


EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = Exit.OK, Exit.FAILURE, Exit.CONFIG

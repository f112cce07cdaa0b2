"""The small kit shared by the daemon and the device adapters (shell, may do I/O).

Configuration files and secrets (`config`), the broker connection with the one refused-CONNACK
handler (`mqtt`), the one HTTP request-head reader (`http`), the sender threads' loop (`loops`),
logging (`logs`), sd_notify (`sdnotify`) and exit codes (`exits`). It is a
package of its own, beside `monitor/`, so that a device adapter depends on it and on the core's
values without importing the daemon's package: it imports `alerts` value types and nothing of
`monitor/` or `devices/` (pyproject's import contracts; docs/architecture.md).
"""

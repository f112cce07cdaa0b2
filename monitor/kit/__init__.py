"""The small shared kit of the daemon and the device adapters: logging, sd_notify.

It imports neither the daemon nor the card engine nor the sinks (docs/architecture.md)."""

"""`hallwatch broker-acl`: the Mosquitto ACL of one hall, written from its configuration.

Mosquitto applies a `pattern` line to every account, so a `%u` pattern meant for devices also
lets the display, console and case-system accounts publish device topics, and a `+` at the
hall level lets a clock publish into any hall. Here every account gets its rights under its
own `user` line, for this hall only: each configured clock and camera its own topics, each
role account (daemon, case system, console, display) what that role sends and reads.
config/mosquitto.acl is this output for config/hall.example.toml (tests/test_broker_config.py
checks they are equal); docs/broker.md explains the accounts.
"""

from __future__ import annotations

from alerts.config import HallConfig
from alerts.contract import INBOUND_AREAS
from alerts.errors import ConfigError

DAEMON_ACCOUNT = "hallwatch"  # when [broker] username is not set
CASE_SYSTEM = "case-system"
CONSOLE = "console"
DISPLAY = "display"

_HEADER = """\
# Mosquitto ACL for the hallwatch hall {hall} (acl_file in config/mosquitto.conf).
#
# Written by `hallwatch broker-acl --config <hall.toml>` from the hall configuration: write
# it again after adding, removing or renaming a clock or camera, then reload the broker
# (docs/broker.md). Do not edit by hand.
#
# Anything not granted here is denied. A publish the ACL denies is dropped by the broker
# (the QoS flow still completes), so a mis-named device shows up as silence plus a
# connection log line, never as data under someone else's name.
#
# No `pattern` lines: Mosquitto applies a pattern to every account, so each account's rights
# are listed under its own name, for hall/{hall}/ only. Topics follow the wire contract
# (version 1). config/mosquitto.conf sets use_username_as_clientid, so an account is also its
# client id: no account can take over another's session.
"""


def broker_acl(cfg: HallConfig) -> str:
    """The ACL text; ConfigError when a device id is also a role account's name."""
    hall = f"hall/{cfg.hall.id}"
    daemon = cfg.broker.username or DAEMON_ACCOUNT
    roles = (daemon, CASE_SYSTEM, CONSOLE, DISPLAY)
    devices: dict[str, list[str]] = {}
    for clock in cfg.clocks:
        devices.setdefault(clock.id, []).extend(
            _device(hall, "clock", clock.id, "punch", "heartbeat")
        )
    for camera in cfg.cameras:
        devices.setdefault(camera.id, []).extend(_device(hall, "camera", camera.id, "presence"))
    clash = sorted(set(devices) & set(roles))
    if clash:
        problems = [f"device id {d!r} is also a broker role account" for d in clash]
        raise ConfigError("broker-acl", problems)
    parts = [
        _HEADER.format(hall=cfg.hall.id),
        _section(
            f"The daemon (account {daemon}, [broker] username)",
            "Reads what it subscribes to; the only publisher of lights, totals, cards, status.",
            daemon,
            [*(f"topic read {hall}/{area}/#" for area in INBOUND_AREAS), *_daemon_writes(hall)],
        ),
        _section(
            "The hall's case-handling system",
            "Case lifecycle, whereabouts and leave, complaints and ratings.",
            CASE_SYSTEM,
            [
                f"topic write {hall}/case/+/event",
                f"topic write {hall}/staff/+/status",
                f"topic write {hall}/complaint/+/event",
                f"topic write {hall}/rating/+",
            ],
        ),
        _section(
            "The supervisor console",
            "Sends card commands (the daemon checks who may do what); watches card transitions.",
            CONSOLE,
            [f"topic write {hall}/card/+/command", f"topic read {hall}/cards/#"],
        ),
        _section(
            "The hall display (LED lights and totals)",
            "Read-only: a compromised display cannot inject anything.",
            DISPLAY,
            [
                f"topic read {hall}/light/#",
                f"topic read {hall}/summary",
                f"topic read {hall}/monitor/status",
            ],
        ),
    ]
    parts += [
        _section(
            f"Device {device}",
            "Its own topics only, in this hall; status carries its retained last will.",
            device,
            lines,
        )
        for device, lines in devices.items()
    ]
    return "\n".join(parts)


def _daemon_writes(hall: str) -> list[str]:
    return [
        f"topic write {hall}/light/+",
        f"topic write {hall}/summary",
        f"topic write {hall}/cards/+",
        f"topic write {hall}/monitor/status",
        f"topic readwrite {hall}/monitor/sync",  # its marker (monitor/ingest/mqtt.py): its own
    ]


def _device(hall: str, kind: str, device: str, *data: str) -> list[str]:
    return [f"topic write {hall}/{kind}/{device}/{leaf}" for leaf in (*data, "status")]


def _section(title: str, why: str, user: str, lines: list[str]) -> str:
    rule = "-" * max(3, 88 - len(title))
    return f"# --- {title} {rule}\n# {why}\nuser {user}\n" + "\n".join(lines) + "\n"

"""Configuration of the ZKTeco PUSH bridge (`hallwatch zkpush --config FILE`).

Same rules as the hall configuration (alerts/config.py): typed frozen models that forbid
unknown keys, every problem reported at once with its key path, no I/O in validation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from alerts.config import BrokerConfig, Ident
from alerts.events import Verify
from alerts.model import ConfigModel, check_zone, validate
from hallkit.config import read_toml

Serial = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,32}$")]
Pin = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,24}$")]


class HallRef(ConfigModel):
    id: Ident = Field(description="Hall id; punches go to hall/{id}/clock/{device}/punch.")
    timezone: str = Field("Asia/Shanghai", description="Zone of clocks that do not name their own.")

    _zone = field_validator("timezone")(check_zone)


class ServerConfig(ConfigModel):
    listen: str = Field(
        "0.0.0.0", description="Address the clocks connect to (they are on the hall LAN)."
    )
    port: int = Field(8081, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    state_dir: str = Field(
        "/var/lib/hallwatch-zkpush", description="Spool files and the per-clock upload stamps."
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Larger uploads are refused with 413."
    )
    offline_after_s: int = Field(
        300, ge=10, description="A clock silent this long is published offline."
    )
    delay_s: int = Field(30, ge=1, le=3600, description="Option Delay: the clock's poll interval.")
    error_delay_s: int = Field(
        60, ge=1, le=3600, description="Option ErrorDelay: retry interval after a failure."
    )
    heartbeat_s: int = Field(
        300,
        ge=0,
        le=3600,
        description="At most this often, a clock's poll publishes hall/{id}/clock/{device}/"
        "heartbeat: every punch stamped before (poll time - delay_s - skew_s) is published. "
        "0: none.",
    )
    skew_s: int = Field(
        120,
        ge=0,
        le=3600,
        description="How far a clock's own time may lag the bridge's (a heartbeat vouches "
        "only for punches stamped this much before the poll).",
    )
    spool_max_rows: int = Field(
        500_000,
        ge=100,
        description="Unsent punches kept per clock; beyond it uploads are refused (503) and "
        "the clock keeps them.",
    )
    max_kept_lines: int = Field(
        10_000,
        ge=100,
        description="Bad upload lines kept for the operator (state_dir/rejects.sqlite3, "
        "`hallwatch zkpush --rejects`); beyond it the least recently seen are pruned.",
    )


class Device(ConfigModel):
    serial: Serial = Field(description="Serial number the clock sends as SN=.")
    id: Ident = Field(description="Device id of the wire contract, e.g. CLK-EAST.")
    timezone: str | None = Field(None, description="Zone of the clock's local times.")
    password_file: str | None = Field(
        None,
        description="MQTT password of the device user (user name = id); a relative name is "
        "looked up in $CREDENTIALS_DIRECTORY, else beside this file.",
    )

    _zone = field_validator("timezone")(lambda v: v if v is None else check_zone(v))


class ZkConfig(ConfigModel):
    hall: HallRef
    broker: BrokerConfig = BrokerConfig()
    server: ServerConfig = ServerConfig()
    devices: list[Device] = Field(min_length=1, description="The allow-list of clocks.")
    pins: dict[Pin, Ident] = Field(
        default_factory=dict, description="Clock PIN (enrolment number) → staff id."
    )
    verify_codes: dict[Annotated[int, Field(ge=0, le=255)], Verify] = Field(
        default_factory=dict,
        description="Extra or overriding verify codes → contract verify (see docs/zkpush.md).",
    )

    def device(self, serial: str) -> Device | None:
        for d in self.devices:
            if d.serial == serial:
                return d
        return None

    def zone(self, device: Device) -> ZoneInfo:
        return ZoneInfo(device.timezone or self.hall.timezone)


def _cross_problems(cfg: ZkConfig) -> list[str]:
    out = []
    for key, values in (
        ("serial", [d.serial for d in cfg.devices]),
        ("id", [d.id for d in cfg.devices]),
    ):
        for value, n in Counter(values).items():
            if n > 1:
                out.append(f"devices: {key} {value!r} appears {n} times")
    if cfg.broker.username is not None:
        out.append("broker.username: not used; each clock connects as its own device user")
    if cfg.broker.password_file is not None:
        out.append("broker.password_file: not used; give devices[i].password_file instead")
    if cfg.broker.reconnect_max_s < cfg.broker.reconnect_min_s:
        out.append("broker.reconnect_max_s: must not be below broker.reconnect_min_s")
    if cfg.server.offline_after_s < 2 * cfg.server.delay_s:
        out.append(
            f"server.offline_after_s: {cfg.server.offline_after_s} s is less than two polls "
            f"(delay_s = {cfg.server.delay_s}): a healthy clock would flap offline"
        )
    return out


def parse_zk_config(data: dict[str, Any], source: str = "<zkpush config>") -> ZkConfig:
    return validate(ZkConfig, data, source, _cross_problems)


def load_zk_config(path: Path) -> ZkConfig:
    return parse_zk_config(read_toml(path), str(path))

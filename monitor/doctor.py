"""`hallwatch doctor`: an operator's check of what the daemon needs outside its configuration.

Each check prints one status word and a Chinese and an English line; any FAIL makes the exit
code EXIT_FAILURE (WARN does not). Checks (README "Install" lists them for operators):

- broker login, as the daemon's account ([broker] username and password_file);
- the ACL grants the daemon needs: a SUBSCRIBE of each of its inbound filters (a broker that
  checks read rights at subscribe time refuses one in its SUBACK; Mosquitto 2.0 grants it and
  filters at delivery, so there a read denial stays silent) and a QoS 1 PUBLISH of
  `hall/{hall}/monitor/status` (MQTT 5, so the PUBACK says "not authorized" instead of the
  broker dropping it in silence);
- the time-series server ([timeseries] url: /health, the token, the outbox backlog) or the
  local store;
- free space where the journal lives ([journal] data_dir);
- the holiday calendar: this year's schedule known (FAIL), next year's (WARN).

The broker probe uses the daemon's own account, and the broker makes an account its client id
(config/mosquitto.conf `use_username_as_clientid`), so it resumes the daemon's persistent
session rather than replacing it: clean start off, the session kept on disconnect, the same
subscriptions the daemon holds, and nothing it receives acknowledged (the broker delivers it
again to the daemon). The status message is `offline`, retained, what a stopped daemon has
left there already. While the daemon runs, logging in would take its connection over, so the
broker is judged from the daemon's own /healthz instead.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts.config import HallConfig, work_calendar
from alerts.errors import ConfigError
from hallkit.config import read_secret
from hallkit.exits import EXIT_FAILURE, EXIT_OK
from hallkit.mqtt import authenticate
from monitor.ingest.mqtt import inbound_filters

MIN_FREE_BYTES = 1 << 30  # below 1 GiB free beside the journal: FAIL
MIN_FREE_SHARE = 0.05  # below 5 % of the file system free: WARN
PROBE_TIMEOUT_S = 10.0
_SESSION_KEPT = 0xFFFFFFFF  # MQTT 5 session expiry "never": the daemon's session stays


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    check: str
    status: Status
    zh: str
    en: str

    def lines(self) -> str:
        return f"[{self.status.value:<4}] {self.check}\n       {self.zh}\n       {self.en}"


def main(cfg: HallConfig, config_path: Path | None, out: Callable[[str], None]) -> int:
    findings = run_checks(cfg, config_path)
    for f in findings:
        out(f.lines())
    failed = [f for f in findings if f.status is Status.FAIL]
    if failed:
        out(f"{len(failed)} 项有问题 / {len(failed)} problem(s) found")
        return EXIT_FAILURE
    out("全部检查通过 / all checks passed")
    return EXIT_OK


def run_checks(cfg: HallConfig, config_path: Path | None) -> list[Finding]:
    return [
        *check_broker(cfg, config_path),
        check_timeseries(cfg, config_path),
        check_disk(Path(cfg.journal.data_dir)),
        *check_calendar(cfg, datetime.now(UTC)),
    ]


# --- the broker -------------------------------------------------------------------------------


def check_broker(cfg: HallConfig, config_path: Path | None) -> list[Finding]:
    health = _daemon_health(cfg)
    if health is not None:
        return [_from_health(health)]
    try:
        password = (
            read_secret(cfg.broker.password_file, config_path) if cfg.broker.password_file else None
        )
    except ConfigError as exc:
        return [
            Finding(
                check="broker login",
                status=Status.FAIL,
                zh=f"读不到 MQTT 密码文件：{exc}",
                en=f"cannot read the broker password file: {exc}",
            )
        ]
    return Probe(cfg, password).run()


def _daemon_health(cfg: HallConfig) -> dict[str, Any] | None:
    host = "127.0.0.1" if cfg.web.listen in ("0.0.0.0", "") else cfg.web.listen
    try:
        url = f"http://{host}:{cfg.web.port}/healthz"
        with urllib.request.urlopen(url, timeout=2) as resp:
            doc: dict[str, Any] = json.load(resp)
    except urllib.error.HTTPError as exc:
        doc = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return None
    return doc if doc.get("hall") == cfg.hall.id else None


def _from_health(doc: dict[str, Any]) -> Finding:
    problems = [p for p in doc.get("problems", []) if "MQTT" in p or "broker" in p]
    if problems:
        return Finding(
            check="broker (daemon running)",
            status=Status.FAIL,
            zh=f"监察程序正在运行，但与 MQTT 代理的连接有问题：{'; '.join(problems)}",
            en=f"the daemon is running but its broker connection has problems: {problems}",
        )
    return Finding(
        check="broker (daemon running)",
        status=Status.OK,
        zh="监察程序正在运行并已连接 MQTT 代理；为免顶掉它的会话，未另行登录探测",
        en="the daemon is running and connected to the broker; not probed (a login as its "
        "account would take its session over)",
    )


class Probe:
    """One MQTT 5 connection as the daemon's account: CONNACK, SUBACK, PUBACK reason codes."""

    def __init__(self, cfg: HallConfig, password: str | None) -> None:
        self.cfg = cfg
        self.account = cfg.broker.username or cfg.client_id
        self._connack: Any = None
        self._suback: list[Any] = []
        self._puback: Any = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,  # whatever the daemon's session holds is never acknowledged here
        )
        authenticate(client, cfg.broker.username, password, cfg.broker.tls)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = lambda *_: None
        self._client = client

    def run(self) -> list[Finding]:
        b = self.cfg.broker
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = _SESSION_KEPT
        try:
            self._client.connect(b.host, b.port, b.keepalive_s, clean_start=False, properties=props)
        except (OSError, ValueError) as exc:
            return [self._unreachable(exc)]
        self._client.loop_start()
        try:
            return self._exchange()
        finally:
            self._client.disconnect()
            self._client.loop_stop()

    def _exchange(self) -> list[Finding]:
        if not self._wait(lambda: self._connack is not None):
            return [self._unreachable(TimeoutError("no CONNACK"))]
        if self._connack.is_failure:
            return [self._login_failed()]
        found = [self._login_ok()]
        filters = inbound_filters(self.cfg.hall.id)
        self._client.subscribe([(f, 1) for f in filters])
        found.append(self._subscribed(filters))
        topic = f"hall/{self.cfg.hall.id}/monitor/status"
        self._client.publish(topic, "offline", qos=1, retain=True)
        found.append(self._published(topic))
        return found

    def _wait(self, condition: Callable[[], bool]) -> bool:
        """Poll what paho's thread sets, for at most PROBE_TIMEOUT_S."""
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        self._connack = rc

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _m: int, codes: Any, _p: object) -> None:
        self._suback = list(codes)

    def _on_publish(self, _c: mqtt.Client, _u: object, _m: int, rc: Any, _p: object) -> None:
        self._puback = rc

    def _where(self) -> str:
        b = self.cfg.broker
        return f"{b.host}:{b.port}"

    def _unreachable(self, exc: Exception) -> Finding:
        return Finding(
            check="broker login",
            status=Status.FAIL,
            zh=f"连不上 MQTT 代理 {self._where()}：{exc}",
            en=f"cannot reach the broker at {self._where()}: {exc}",
        )

    def _login_failed(self) -> Finding:
        return Finding(
            check="broker login",
            status=Status.FAIL,
            zh=f"MQTT 代理 {self._where()} 拒绝账号 {self.account} 登录（{self._connack}）："
            "检查 [broker] username 和 password_file 与代理的密码文件是否一致",
            en=f"the broker at {self._where()} refused the login of {self.account}: "
            f"{self._connack} (check [broker] username and password_file against the broker's "
            "password file)",
        )

    def _login_ok(self) -> Finding:
        return Finding(
            check="broker login",
            status=Status.OK,
            zh=f"账号 {self.account} 登录 MQTT 代理 {self._where()} 成功",
            en=f"logged in to the broker at {self._where()} as {self.account}",
        )

    def _subscribed(self, filters: list[str]) -> Finding:
        if not self._wait(lambda: len(self._suback) == len(filters)):
            refused = filters
        else:
            refused = [f for f, rc in zip(filters, self._suback, strict=True) if rc.is_failure]
        if refused:
            return Finding(
                check="ACL subscribe",
                status=Status.FAIL,
                zh=f"ACL 不允许账号 {self.account} 订阅：{', '.join(refused)}",
                en=f"the ACL does not let {self.account} subscribe to: {', '.join(refused)}",
            )
        return Finding(
            check="ACL subscribe",
            status=Status.OK,
            zh=f"代理接受了全部 {len(filters)} 个上行主题的订阅（Mosquitto 2.0 在投递时才按 ACL "
            "过滤读取，读权限被拒只表现为收不到消息）",
            en=f"the broker granted all {len(filters)} inbound subscriptions (Mosquitto 2.0 "
            "applies read rights at delivery, where a denial is silence)",
        )

    def _published(self, topic: str) -> Finding:
        if not self._wait(lambda: self._puback is not None):
            return Finding(
                check="ACL publish",
                status=Status.FAIL,
                zh=f"发布 {topic} 没有收到确认",
                en=f"no PUBACK for a publish to {topic}",
            )
        if self._puback.is_failure:
            return Finding(
                check="ACL publish",
                status=Status.FAIL,
                zh=f"ACL 不允许账号 {self.account} 发布 {topic}（{self._puback}）",
                en=f"the ACL does not let {self.account} publish {topic}: {self._puback}",
            )
        return Finding(
            check="ACL publish",
            status=Status.OK,
            zh=f"可以发布 {topic}（指示灯、汇总和亮牌主题在同一段授权中，未逐一探测）",
            en=f"may publish {topic} (lights, summary and cards share its ACL section and are "
            "not probed, to leave the display alone)",
        )


# --- time series, disk, calendar -------------------------------------------------------------


def check_timeseries(cfg: HallConfig, config_path: Path | None) -> Finding:
    ts = cfg.timeseries
    if ts.url is None:
        return Finding(
            check="time series",
            status=Status.OK,
            zh="未配置时序数据库：数据点写入本地 points.sqlite3",
            en="no time-series server configured: points go to the local points.sqlite3",
        )
    try:
        token = read_secret(ts.token_file, config_path) if ts.token_file else None
        _http_ok(ts.url, token, ts.bucket, ts.org)
    except (OSError, ConfigError, ValueError) as exc:
        return Finding(
            check="time series",
            status=Status.FAIL,
            zh=f"时序数据库 {ts.url} 不可用：{exc}",
            en=f"the time-series server {ts.url} is not usable: {exc}",
        )
    pending, rejected = _outbox(Path(cfg.journal.data_dir))
    status = Status.WARN if rejected else Status.OK
    return Finding(
        check="time series",
        status=status,
        zh=f"时序数据库 {ts.url} 可用；待发送 {pending} 点，被拒 {rejected} 点",
        en=f"the time-series server {ts.url} answers; outbox {pending} points waiting, "
        f"{rejected} refused by the server",
    )


def _http_ok(url: str, token: str | None, bucket: str, org: str) -> None:
    """/health (InfluxDB 2/3, VictoriaMetrics) or /ping (1.8); with a token, the bucket too."""
    base = url.rstrip("/")
    try:
        urllib.request.urlopen(base + "/health", timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise OSError(f"/health: HTTP {exc.code}") from exc
        urllib.request.urlopen(base + "/ping", timeout=PROBE_TIMEOUT_S).close()
    if token:
        query = urllib.parse.urlencode({"name": bucket, "org": org})
        req = urllib.request.Request(
            f"{base}/api/v2/buckets?{query}", headers={"Authorization": f"Token {token}"}
        )
        try:
            urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S).close()
        except urllib.error.HTTPError as exc:
            raise OSError(f"the token is refused (HTTP {exc.code})") from exc


def _outbox(data_dir: Path) -> tuple[int, int]:
    path = data_dir / "tsdb-outbox.sqlite3"
    if not path.exists():
        return 0, 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        pending = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        rejected = int(conn.execute("SELECT count(*) FROM rejected").fetchone()[0])
    return pending, rejected


def check_disk(data_dir: Path) -> Finding:
    where = data_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    usage = shutil.disk_usage(where)
    free_gib = usage.free / (1 << 30)
    share = usage.free / usage.total if usage.total else 0.0
    text = f"{free_gib:.1f} GiB ({share:.0%})"
    if usage.free < MIN_FREE_BYTES:
        return Finding(
            check="journal disk",
            status=Status.FAIL,
            zh=f"日志库 {data_dir} 所在磁盘只剩 {text}：少于 1 GiB，写满后不再接收事件",
            en=f"only {text} free for the journal at {data_dir}: below 1 GiB; a full disk "
            "stops the daemon accepting events",
        )
    status = Status.WARN if share < MIN_FREE_SHARE else Status.OK
    return Finding(
        check="journal disk",
        status=status,
        zh=f"日志库 {data_dir} 所在磁盘可用 {text}",
        en=f"{text} free for the journal at {data_dir}",
    )


def check_calendar(cfg: HallConfig, now: datetime) -> list[Finding]:
    cal = work_calendar(cfg)
    year = now.astimezone(cfg.hall.zone).year
    out = []
    for y, missing in ((year, Status.FAIL), (year + 1, Status.WARN)):
        if cal.year_known(y):
            out.append(
                Finding(
                    check=f"calendar {y}",
                    status=Status.OK,
                    zh=f"{y} 年节假日安排已知",
                    en=f"the {y} holiday schedule is known",
                )
            )
        else:
            out.append(
                Finding(
                    check=f"calendar {y}",
                    status=missing,
                    zh=f"{y} 年节假日安排未知：期限按周一至周五估算并标记；升级 chinesecalendar "
                    "或在 [calendar] 中填写",
                    en=f"the {y} holiday schedule is unknown: deadlines are estimated on "
                    "Monday-Friday and flagged; upgrade chinesecalendar or fill in [calendar]",
                )
            )
    return out

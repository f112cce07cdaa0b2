"""The VictoriaMetrics dashboards (config/grafana/hallwatch-vm-*.json) against real data.

Two halls' daemons (hall-a, hall-b), each on an injected clock standing at 19:00 of the last
working day, take that simulated day from Mosquitto and write their points to one
VictoriaMetrics, which also scrapes their /metrics (job `hallwatch`, as docs/timeseries.md
configures it). Every panel's query, with Grafana's variables filled in the way Grafana does,
is then sent to VictoriaMetrics as Grafana sends it (instant or range) and must return series
with values; the province board must show both halls.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import HallConfig, work_calendar
from bench.common import publish_all
from devices.simulator import simulate_days
from hallkit.config import load_config
from tests.brokers import TEST_ADMIN, Mosquitto, daemon_account, halls_broker
from tests.faults.clockd import set_clock
from tests.faults.common import ClockedDaemon
from tests.running import free_port, wait_until, write_config
from tests.victoria import VictoriaMetrics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
HALL_BOARD = ROOT / "config" / "grafana" / "hallwatch-vm-hall.json"
PROVINCE_BOARD = ROOT / "config" / "grafana" / "hallwatch-vm-province.json"
HALLS = ("hall-a", "hall-b")
SCRAPE = """scrape_configs:
  - job_name: hallwatch
    scrape_interval: 1s
    static_configs:
      - targets: [{targets}]
"""


class ScrapingVictoria(VictoriaMetrics):
    """The test VictoriaMetrics, also scraping the daemons' /metrics."""

    def __init__(self, workdir: Path, scrape_config: Path) -> None:
        super().__init__(workdir)
        self.scrape_config = scrape_config

    def command(self) -> list[str]:
        return [*super().command(), f"-promscrape.config={self.scrape_config}"]

    def query(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        body = json.loads(self.get(path, params))
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


@dataclass
class Site:
    vm: ScrapingVictoria
    broker: Mosquitto
    configs: dict[str, HallConfig]
    data: dict[str, Path]
    start: datetime  # the simulated day's start
    end: datetime  # now


def _last_working_day(cfg: HallConfig) -> datetime:
    cal = work_calendar(cfg)
    day = datetime.now(UTC).astimezone(cfg.hall.zone).date() - timedelta(days=1)
    while not cal.is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, dtime(0), cfg.hall.zone)


def _hall_config(directory: Path, broker: Mosquitto, vm_url: str, hall: str, web: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    account = daemon_account(hall)  # one broker, several daemons: each its own account
    path = write_config(directory, broker.port, broker.password(account), web)
    text = path.read_text(encoding="utf-8")
    text = text.replace('id = "demo-county"', f'id = "{hall}"', 1)
    text = text.replace('username = "hallwatch"', f'username = "{account}"', 1)
    ts = f'[timeseries]\nurl = "{vm_url}"\nflush_interval_s = 0.2\n\n'
    text = text.replace("[cards]", ts + "[cards]", 1)
    path.write_text(text, encoding="utf-8")
    return path


def _outbox_rows(data: Path) -> int:
    path = data / "tsdb-outbox.sqlite3"
    if not path.exists():
        return -1
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _sent(data: Path) -> bool:
    return _outbox_rows(data) == 0


def _scraped(vm: ScrapingVictoria, hall: str) -> bool:
    """Three scrapes of the hall's daemon are searchable (a rate needs two in its window)."""
    vm.force_flush()
    q = f'count_over_time(hallwatch_info{{hall="{hall}"}}[1m])'
    found = vm.query("/api/v1/query", {"query": q})
    return bool(found) and float(found[0]["value"][1]) >= 3


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("grafana")
    broker = halls_broker(tmp / "broker", HALLS)
    broker.start()
    webs = {hall: free_port() for hall in HALLS}
    scrape = tmp / "scrape.yml"
    targets = ", ".join(f'"127.0.0.1:{port}"' for port in webs.values())
    scrape.write_text(SCRAPE.format(targets=targets), encoding="utf-8")
    vm = ScrapingVictoria(tmp / "vm", scrape)
    vm.start()
    daemons: list[ClockedDaemon] = []
    try:
        configs, data = {}, {}
        for i, hall in enumerate(HALLS):
            path = _hall_config(tmp / hall, broker, vm.url, hall, webs[hall])
            cfg = configs[hall] = load_config(path)
            data[hall] = Path(cfg.journal.data_dir)
            start = _last_working_day(cfg)
            clock = tmp / hall / "clock.txt"
            set_clock(clock, start + timedelta(hours=19))
            daemon = ClockedDaemon(path, webs[hall], tmp / hall / "daemon.log", clock)
            daemons.append(daemon)
            daemon.start()
            msgs = simulate_days(cfg, start.date(), 1, seed=i + 1)
            publish_all(broker, msgs, f"grafana-pub-{hall}")

            def taken(d: ClockedDaemon = daemon, n: int = len(msgs)) -> bool:
                doc = d.health() or {}
                return sum(doc.get("counters", {}).values()) >= n and doc.get("queue") == 0

            wait_until(taken, 120, f"{hall}: the simulated day journaled")
        for hall in HALLS:
            wait_until(partial(_sent, data[hall]), 60, f"{hall}: outbox sent")
            wait_until(partial(_scraped, vm, hall), 30, f"{hall}: /metrics scraped")
        vm.force_flush()
        # The dashboard's time range: from before the simulated day until now.
        start = min(_last_working_day(c) for c in configs.values()) - timedelta(hours=1)
        yield Site(vm, broker, configs, data, start, datetime.now(UTC))
    finally:
        for d in daemons:
            d.stop()
        vm.stop()
        broker.stop()


def _targets(board: Path) -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target); a panel's relative time override (timeFrom) goes with it."""
    doc = json.loads(board.read_text(encoding="utf-8"))
    out = []
    for p in doc["panels"]:
        for t in p["targets"]:
            out.append((p["title"], {**t, "timeFrom": p.get("timeFrom")}))
    return out


def _span(site: Site, target: dict[str, Any]) -> tuple[datetime, datetime]:
    if target["timeFrom"] is None:
        return site.start, site.end
    hours = int(target["timeFrom"].removesuffix("h"))
    return site.end - timedelta(hours=hours), site.end


def _fill(expr: str, site: Site, span: tuple[datetime, datetime], hall: str, step_s: int) -> str:
    grace = next(iter(site.configs.values())).posts.yellow_min
    values = {
        "hall": hall,
        "__range": f"{int((span[1] - span[0]).total_seconds())}s",
        "__rate_interval": "1m",
        "__interval": f"{step_s}s",
        "unstaffed_grace": str(grace),
    }
    filled = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], expr)
    assert "$" not in filled, filled
    return filled


def _run(site: Site, target: dict[str, Any], hall: str) -> list[dict[str, Any]]:
    """The query as Grafana's Prometheus data source sends it, with `hall` selected."""
    start, end = _span(site, target)
    seconds = (end - start).total_seconds()
    step = 86400 if target.get("interval") == "1d" else max(60, int(seconds / 300))
    query = _fill(target["expr"], site, (start, end), hall, step)
    if target["instant"]:
        return site.vm.query("/api/v1/query", {"query": query, "time": str(end.timestamp())})
    params = {
        "query": query,
        "start": str(start.timestamp()),
        "end": str(end.timestamp()),
        "step": f"{step}s",
    }
    return site.vm.query("/api/v1/query_range", params)


def _values(series: dict[str, Any]) -> list[float]:
    pairs = series["values"] if "values" in series else [series["value"]]
    return [float(v) for _, v in pairs if v not in ("NaN", "+Inf", "-Inf")]


def test_the_boards_are_promql_over_a_prometheus_data_source() -> None:
    for board in (HALL_BOARD, PROVINCE_BOARD):
        doc = json.loads(board.read_text(encoding="utf-8"))
        assert doc["schemaVersion"] == 39
        assert {v["name"] for v in doc["templating"]["list"]} >= {"datasource", "hall"}
        for title, t in _targets(board):
            assert t["datasource"]["type"] == "prometheus", title
            assert "expr" in t and "query" not in t, title


@pytest.mark.parametrize(
    ("title", "target"), _targets(HALL_BOARD), ids=lambda x: x if isinstance(x, str) else ""
)
def test_each_hall_panel_returns_series_after_a_simulated_day(
    site: Site, title: str, target: dict[str, Any]
) -> None:
    found = _run(site, target, HALLS[0])

    assert found, f"{title}: {target['expr']} returned no series"
    assert all(_values(s) for s in found), (title, found)
    halls = {s["metric"]["hall"] for s in found if "hall" in s["metric"]}
    assert halls <= {HALLS[0]}, (title, halls)


@pytest.mark.parametrize(
    ("title", "target"), _targets(PROVINCE_BOARD), ids=lambda x: x if isinstance(x, str) else ""
)
def test_each_province_panel_compares_the_halls(
    site: Site, title: str, target: dict[str, Any]
) -> None:
    found = _run(site, target, ".*")  # the hall variable at "All"

    halls = {s["metric"].get("hall") for s in found if _values(s)}
    assert halls == set(HALLS), f"{title}: {target['expr']} gave halls {halls}"


def test_the_hall_variable_lists_both_halls(site: Site) -> None:
    body = json.loads(site.vm.get("/api/v1/label/hall/values", {"match[]": "card_level_code"}))

    assert set(HALLS) <= set(body["data"])


def test_cards_by_level_count_every_raise_in_the_journal(site: Site) -> None:
    """The panel's figure is the daemon's own: raised transitions in its journal's outbox."""
    (target,) = [t for title, t in _targets(HALL_BOARD) if title == "所选时段亮牌数（按级别）"]
    found = _run(site, target, HALLS[0])
    with sqlite3.connect(f"file:{site.data[HALLS[0]] / 'journal.sqlite3'}?mode=ro", uri=True) as c:
        rows = [json.loads(p) for (p,) in c.execute("SELECT payload FROM outbox")]
    raised: dict[str, int] = {}
    for t in rows:
        if t.get("state") == "raised" and "rule" in t:
            raised[t["level"]] = raised.get(t["level"], 0) + 1

    shown = {s["metric"]["level"]: round(_values(s)[0]) for s in found}
    assert shown.keys() == raised.keys()
    for level, n in raised.items():
        # VictoriaMetrics keeps milliseconds: cards of one window, rule and state raised at one
        # instant (immediate cases slow at close of service) may share one and then count once
        # (docs/timeseries.md); never more than the journal holds.
        assert 0.95 * n <= shown[level] <= n, (level, shown[level], n)


def _retained_summary(broker: Mosquitto, hall: str) -> dict[str, Any]:
    got: list[bytes] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"grafana-summary-{hall}")
    c.username_pw_set(TEST_ADMIN, broker.password(TEST_ADMIN))
    c.on_message = lambda _c, _u, msg: got.append(bytes(msg.payload))
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        c.subscribe(f"hall/{hall}/summary", qos=1)
        wait_until(lambda: bool(got), 10, f"{hall}: retained summary")
    finally:
        c.disconnect()
        c.loop_stop()
    doc: dict[str, Any] = json.loads(got[0])
    return doc


def _totals_against_summary(site: Site, hall: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(what the stat panels show, what the retained summary says), read now."""
    targets = {(title, t["refId"]): t for title, t in _targets(HALL_BOARD)}
    summary = _retained_summary(site.broker, hall)
    assert summary["received"] > 0 and summary["completed"] > 0
    site.vm.force_flush()
    shown = {
        key: _values(_run(site, targets[key], hall)[0])[-1]
        for key in targets
        if key[0] in ("今日收件 / 办结 / 按时办结率", "当前未结红牌 / 黄牌")
    }
    return shown, {
        ("今日收件 / 办结 / 按时办结率", "A"): summary["received"],
        ("今日收件 / 办结 / 按时办结率", "B"): summary["completed"],
        ("今日收件 / 办结 / 按时办结率", "C"): pytest.approx(summary["on_time_rate"], abs=1e-4),
        ("当前未结红牌 / 黄牌", "A"): summary["cards_open"]["red"],
        ("当前未结红牌 / 黄牌", "B"): summary["cards_open"]["yellow"],
    }


def test_the_totals_panels_show_the_halls_own_summary(site: Site) -> None:
    """The stat panels' figures are the ones the hall display shows (hall/{hall}/summary).

    The daemon's last refresh may come after the fixture saw its outbox empty (the rules on
    attendance facts run up to a second after the last event, the totals up to a second after
    that: monitor/runner.py), so the store is given a few seconds to hold the summary's figures;
    the summary is read again each time, and a store that never shows them fails."""
    for hall in HALLS:
        seen: list[tuple[dict[Any, Any], dict[Any, Any]]] = []
        try:
            wait_until(
                partial(_agree, site, hall, seen),
                15,
                f"{hall}: the stat panels showing the summary's figures",
            )
        except AssertionError:
            shown, summary = seen[-1]
            assert shown == summary, hall


def _agree(site: Site, hall: str, seen: list[tuple[dict[Any, Any], dict[Any, Any]]]) -> bool:
    seen.append(_totals_against_summary(site, hall))
    return seen[-1][0] == seen[-1][1]

"""The hall display: snapshot, hub and event stream over real HTTP, and the page in Chromium.

The end-to-end test runs what the daemon will run, in miniature: retained lights arrive from
real Mosquitto (read with the display's own read-only account), feed a DisplayHub behind the real
WebServer, and headless Chromium shows the page; a light published through MQTT changes a tile.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.cards import Card, CardState, Subject
from alerts.config import HallConfig
from alerts.ids import CardId, StaffId, WindowId
from alerts.lights import HallTotals, Light, light_payload, window_lights
from alerts.rules import RULES, Level, RuleId
from monitor.outputs.publish import card_subjects
from monitor.web.display import DisplayHub, _numbers, snapshot
from monitor.web.server import WebServer
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.hall import HALL, example
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_cards_e2e import account

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 23, 2, 24, 36, tzinfo=UTC)  # 10:24:36 in the hall
TOTALS = HallTotals(
    day=date(2026, 11, 23),
    received=312,
    completed=287,
    on_time_rate=0.9965,
    cards_open={Level.YELLOW: 1, Level.RED: 0},
    windows_staffed=18,
    windows=20,
)


@pytest.fixture(scope="module")
def cfg() -> HallConfig:
    return example()


def lights_with(cfg: HallConfig, **levels: Level) -> dict[WindowId, Light]:
    out = window_lights([], [w.window_id for w in cfg.windows], set())
    for window, level in levels.items():
        w = WindowId(window)
        out[w] = Light(window=w, level=level, cards=(CardId("K-1"),), reason_zh=f"{level}原因")
    return out


@pytest.fixture
def served(cfg: HallConfig) -> Iterator[tuple[DisplayHub, WebServer]]:
    hub = DisplayHub(cfg.hall.zone, now=lambda: NOW, heartbeat_s=0.2, max_clients=8)
    hub.update(snapshot(cfg, lights_with(cfg), TOTALS))
    web = WebServer("127.0.0.1", 0, hub.routes())
    web.start()
    try:
        yield hub, web
    finally:
        hub.close()
        web.stop()


# --- snapshot ----------------------------------------------------------------------------------


def test_snapshot_shows_names_on_duty_and_lights(cfg: HallConfig) -> None:
    lights = lights_with(cfg, W03=Level.RED)
    del lights[WindowId("W20")]
    on_post: dict[WindowId, StaffId | None] = {WindowId("W01"): StaffId("S002")}
    on_post[WindowId("W02")] = None
    snap = snapshot(cfg, lights, TOTALS, on_post)
    tiles = {t.window: t for t in snap.tiles}
    assert [t.window for t in snap.tiles] == [w.id for w in cfg.windows]
    assert snap.hall == "示范县政务服务中心"
    w03 = tiles["W03"]
    assert (w03.number, w03.name, w03.department) == ("03", "不动产登记(一)", "不动产登记中心")
    assert (w03.officer, w03.level, w03.reason, w03.cards) == ("陈静", "red", "red原因", 1)
    assert tiles["W01"].officer == "李芳"  # the B post covers
    assert tiles["W02"].officer is None  # nobody on post
    assert (tiles["W20"].level, tiles["W20"].reason) == ("unknown", "状态未知")


def test_the_reason_names_whom_the_card_is_about_when_someone_else_is_on_post(
    cfg: HallConfig,
) -> None:
    lights = lights_with(cfg, W01=Level.RED, W02=Level.YELLOW, W03=Level.RED, W04=Level.UNKNOWN)
    on_post = {WindowId("W01"): StaffId("S002"), WindowId("W02"): None}
    about = {WindowId(w): StaffId(s) for w, s in [("W01", "S001"), ("W02", "S003")]}
    about[WindowId("W03")] = StaffId("S005")
    about[WindowId("W04")] = StaffId("S001")
    tiles = {t.window: t for t in snapshot(cfg, lights, TOTALS, on_post, about).tiles}
    assert tiles["W01"].reason == "red原因（王伟）"  # 李芳 covers; the card is 王伟's
    assert tiles["W02"].reason == "yellow原因（张娜）"  # nobody on post
    assert tiles["W03"].reason == "red原因"  # the A post on post: the card is hers
    assert tiles["W04"].reason == "unknown原因"  # a grey light names the camera, nobody


def test_card_subjects_skip_the_window_rules(cfg: HallConfig) -> None:
    def card(rule: RuleId, window: str, staff: str | None) -> Card:
        return Card(
            id=CardId(f"K-{window}"),
            rule=rule,
            level=RULES[rule].level,
            subject=Subject(window=WindowId(window), staff=StaffId(staff) if staff else None),
            owner=None,
            raised_at=NOW,
            answer_by=None,
            evidence=(),
            estimated=False,
            state=CardState.RAISED,
            holds=True,
        )

    cards = {
        c.id: c
        for c in (
            card(RuleId.ATTENDANCE_LATE, "W05", "S010"),
            card(RuleId.POST_AB_UNCOVERED, "W16", "S031"),
            card(RuleId.PROMISED_OVERDUE, "W07", None),
        )
    }
    lights = window_lights(cards.values(), [w.window_id for w in cfg.windows], set())
    assert card_subjects(lights, cards) == {WindowId("W05"): StaffId("S010")}


@pytest.mark.parametrize(
    ("ids", "numbers"),
    [
        (["W01", "W02", "W10"], ["01", "02", "10"]),
        (["1", "2"], ["1", "2"]),
        (["A01", "B01"], ["A01", "B01"]),  # two prefixes: the number alone would be ambiguous
        (["W01", "VIP"], ["W01", "VIP"]),
    ],
)
def test_window_numbers(ids: list[str], numbers: list[str]) -> None:
    assert list(_numbers(ids).values()) == numbers


# --- HTTP: page, assets, state, keep-alive ------------------------------------------------------


def get(conn: http.client.HTTPConnection, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp, resp.read()


def test_page_assets_and_state_on_one_connection(served: tuple[DisplayHub, WebServer]) -> None:
    _, web = served
    conn = http.client.HTTPConnection(*web.address, timeout=5)
    resp, body = get(conn, "/display")
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "/display/static/display.js" in body.decode() and "http" not in body.decode()
    sock = conn.sock
    resp, body = get(conn, "/display/static/display.js")
    assert resp.getheader("Content-Type") == "text/javascript; charset=utf-8"
    assert b"EventSource" in body
    resp, body = get(conn, "/display/static/display.css")
    assert resp.getheader("Content-Type") == "text/css; charset=utf-8"
    assert b"Noto Sans CJK SC" in body and b"WenQuanYi Micro Hei" in body
    assert b"url(" not in body  # nothing fetched from anywhere: works offline
    resp, body = get(conn, "/display/state")
    doc = json.loads(body)
    assert doc["seq"] == 1 and doc["now"] == NOW.timestamp() * 1000
    assert doc["utc_offset_min"] == 480 and len(doc["tiles"]) == 20
    assert doc["totals"]["on_time_rate"] == 0.9965
    assert "cards_open" in doc["totals"] and "K-" not in body.decode()  # no card ids shown
    resp, body = get(conn, "/nowhere")
    assert resp.status == 404 and "/display/events" in json.loads(body)["paths"]
    assert conn.sock is sock  # HTTP/1.1 keep-alive: one connection for all of it
    conn.close()


def test_update_reports_whether_anything_changed(cfg: HallConfig) -> None:
    hub = DisplayHub(cfg.hall.zone, now=lambda: NOW)
    snap = snapshot(cfg, lights_with(cfg), TOTALS)
    assert hub.update(snap) is True
    assert hub.update(snapshot(cfg, lights_with(cfg), TOTALS)) is False
    assert hub.update(snapshot(cfg, lights_with(cfg, W05=Level.YELLOW), TOTALS)) is True


# --- the event stream ----------------------------------------------------------------------


class Events:
    """A minimal server-sent-events reader over http.client (which undoes the chunking)."""

    def __init__(self, web: WebServer) -> None:
        self.conn = http.client.HTTPConnection(*web.address, timeout=5)
        self.conn.request("GET", "/display/events", headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()

    def next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline().decode()
            if line in ("\n", ""):
                if fields or not line:
                    return fields
                continue
            name, _, value = line.rstrip("\n").partition(":")
            fields[name or "comment"] = value.strip()

    def close(self) -> None:
        self.conn.close()


def tile(doc: dict[str, Any], window: str) -> dict[str, Any]:
    return next(t for t in doc["tiles"] if t["window"] == window)


def test_stream_sends_state_changes_and_heartbeats(
    served: tuple[DisplayHub, WebServer], cfg: HallConfig
) -> None:
    hub, web = served
    events = Events(web)
    assert events.resp.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert events.resp.getheader("Transfer-Encoding") == "chunked"
    assert events.next() == {"retry": "3000"}
    first = events.next()
    assert (first["event"], first["id"]) == ("state", "1")
    assert tile(json.loads(first["data"]), "W07")["level"] == "green"
    hub.update(snapshot(cfg, lights_with(cfg, W07=Level.RED), TOTALS))
    second = events.next()
    assert (second["event"], second["id"]) == ("state", "2")
    assert tile(json.loads(second["data"]), "W07")["level"] == "red"
    assert not hub.update(snapshot(cfg, lights_with(cfg, W07=Level.RED), TOTALS))
    beat = events.next()  # nothing new: a heartbeat, as a comment and as a ping for the page
    assert (beat["comment"], beat["event"]) == ("heartbeat", "ping")
    assert json.loads(beat["data"]) == {"now": NOW.timestamp() * 1000, "utc_offset_min": 480}
    events.close()


def test_clients_that_leave_free_their_threads(served: tuple[DisplayHub, WebServer]) -> None:
    hub, web = served
    baseline = threading.active_count()
    socks = []
    for _ in range(5):
        s = socket.create_connection(web.address, timeout=5)
        s.sendall(b"GET /display/events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"event: state" in _until(s, b"event: state")
        socks.append(s)
    wait_until(lambda: hub.clients == 5, 5, "five streams")
    for s in socks:
        s.close()
    # The next heartbeat's write fails, which ends each stream and its thread.
    wait_until(lambda: hub.clients == 0, 5, "streams of closed clients to end")
    wait_until(lambda: threading.active_count() <= baseline, 5, "their threads to end")


def _until(s: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_too_many_screens_are_refused_and_close_ends_streams(cfg: HallConfig) -> None:
    hub = DisplayHub(cfg.hall.zone, now=lambda: NOW, heartbeat_s=30, max_clients=1)
    web = WebServer("127.0.0.1", 0, hub.routes())
    web.start()
    try:
        first = Events(web)
        assert first.next() == {"retry": "3000"}
        wait_until(lambda: hub.clients == 1, 5, "the first stream")
        second = Events(web)
        assert second.resp.status == 503
        second.close()
        first.next()  # the (empty) state
        hub.close()  # ends the stream at once, well before its 30 s heartbeat
        assert first.next() == {}
        assert first.resp.read() == b""
        first.close()
    finally:
        web.stop()


# --- end to end: MQTT → hub → page in Chromium -------------------------------------------------


class LightFeed:
    """The daemon's display wiring, in miniature: retained lights from MQTT feed the hub."""

    REASONS: ClassVar[dict[str, str]] = {
        "green": "正常",
        "yellow": "承诺时限将到",
        "red": "超过承诺时限",
        "unknown": "状态未知",
    }

    def __init__(self, broker: Mosquitto, cfg: HallConfig, hub: DisplayHub) -> None:
        self.cfg, self.hub = cfg, hub
        self.lights = lights_with(cfg)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-display-feed")
        self.client.username_pw_set("display", broker.password("display"))  # read-only account
        self.client.on_connect = lambda c, *_: c.subscribe(f"hall/{HALL}/light/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        w = WindowId(doc["window"])
        cards = tuple(CardId(c) for c in doc["cards"])
        reason = self.REASONS[doc["level"]]
        self.lights[w] = Light(window=w, level=Level(doc["level"]), cards=cards, reason_zh=reason)
        self.hub.update(snapshot(self.cfg, self.lights, TOTALS))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(broker: Mosquitto) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-display-daemon")
    c.username_pw_set("hallwatch", broker.password("hallwatch"))  # the only publisher of lights
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def publish_light(c: mqtt.Client, window: str, level: Level, cards: tuple[str, ...]) -> None:
    light = Light(
        window=WindowId(window), level=level, cards=tuple(map(CardId, cards)), reason_zh=""
    )
    info = c.publish(
        f"hall/{HALL}/light/{window}", light_payload(light, NOW.astimezone(CST)), 1, retain=True
    )
    info.wait_for_publish(5)


def url(web: WebServer) -> str:
    host, port = web.address
    return f"http://{host}:{port}/display"


TILE = "document.querySelector('.tile[data-window=\"%s\"]')"


@pytest.mark.integration
@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_a_light_changed_through_mqtt_changes_the_tile(
    mosquitto: Mosquitto, cfg: HallConfig, tmp_path: Path
) -> None:
    daemon = publisher(mosquitto)
    publish_light(daemon, "W03", Level.YELLOW, ("K-A",))  # retained before anyone looks
    hub = DisplayHub(cfg.hall.zone)
    hub.update(snapshot(cfg, lights_with(cfg), TOTALS))
    web = WebServer("127.0.0.1", 0, hub.routes())
    web.start()
    feed = LightFeed(mosquitto, cfg, hub)
    browser = Chromium(tmp_path)
    try:
        browser.navigate(url(web))
        w03 = TILE % "W03"
        browser.wait_for(f"{w03}?.dataset.level === 'yellow'", 20, "W03 yellow (retained)")
        assert browser.evaluate(f"{w03}.querySelector('.reason').innerText") == "承诺时限将到"
        assert browser.evaluate("document.querySelectorAll('.tile').length") == 20
        assert browser.evaluate("document.getElementById('link').textContent") == "实时"

        publish_light(daemon, "W03", Level.RED, ("K-B", "K-A"))
        browser.wait_for(f"{w03}.classList.contains('red')", 10, "W03 to turn red")
        reason = browser.evaluate(f"{w03}.querySelector('.reason').innerText")
        assert reason.split() == ["超过承诺时限", "共2项"]
        assert browser.evaluate("document.getElementById('lit-red').textContent") == "1"
        assert browser.evaluate("document.getElementById('ontime').textContent") == "99.65%"

        # The daemon restarts: the page reconnects by itself and shows the new daemon's state.
        address = web.address
        hub.close()
        web.stop()
        browser.wait_for("document.getElementById('link').textContent === '重连中'", 10, "lost")
        hub = feed.hub = DisplayHub(cfg.hall.zone)
        publish_light(daemon, "W03", Level.GREEN, ())
        wait_until(lambda: feed.lights[WindowId("W03")].level is Level.GREEN, 5, "W03 green")
        hub.update(snapshot(cfg, feed.lights, TOTALS))
        web = WebServer(*address, hub.routes())
        web.start()
        browser.wait_for(f"{w03}.dataset.level === 'green'", 15, "W03 green after reconnect")
        assert browser.evaluate("document.getElementById('link').textContent") == "实时"
        browser.screenshot(tmp_path / "display.png")
    finally:
        browser.close()
        feed.close()
        daemon.disconnect()
        daemon.loop_stop()
        hub.close()
        web.stop()


# --- end to end: a scripted morning through the real broker and daemon ----------------------------


def _send(c: mqtt.Client, topic: str, doc: dict[str, Any]) -> None:
    payload = json.dumps(doc, ensure_ascii=False)
    c.publish(f"hall/{HALL}/{topic}", payload, qos=1).wait_for_publish(10)


def _seat(cam: mqtt.Client, window: str, present: bool, at: datetime) -> None:
    doc = {"window": window, "present": present, "persons": int(present), "ts": at.isoformat()}
    _send(cam, "camera/CAM1/presence", doc)


def _tile_text(browser: Chromium, window: str, part: str) -> str:
    return str(browser.evaluate(f"{TILE % window}.querySelector('{part}').innerText"))


@pytest.mark.integration
@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_the_tiles_name_who_is_on_post_in_a_scripted_morning(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """W01's A post (王伟) is on leave and his B post (李芳) sits at the window, W02's seat has
    been empty for two minutes, W03's A post (陈静) is seated; the other seats have no camera
    reading. Then 李芳 leaves W01's seat. Stamps are the wall clock's: the daemon's is."""
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    cam, office = account(mosquitto, "CAM1"), account(mosquitto, "case-system")
    t0 = datetime.now(UTC).replace(microsecond=0)
    leave = {"state": "leave", "category": "annual", "approved_by": "L001"}
    leave |= {"ts": (t0 - timedelta(hours=2)).isoformat()}
    leave |= {"from": (t0 - timedelta(hours=2)).isoformat()}
    leave |= {"until": (t0 + timedelta(hours=6)).isoformat()}
    _send(office, "staff/S001/status", leave)
    overdue = {"id": "onpost-1", "case": "C-ONPOST-1", "action": "accepted", "kind": "promised"}
    overdue |= {"ts": (t0 - timedelta(days=30)).isoformat(), "window": "W01", "staff": "S001"}
    _send(office, "case/C-ONPOST-1/event", {**overdue, "promised_days": 3, "legal_days": 60})
    for s in (100, 95):  # W01 and W03 occupied, seen within the heartbeat timeout
        for window in ("W01", "W03"):
            _seat(cam, window, True, t0 - timedelta(seconds=s))
    for s in (120, 60, 0):
        _seat(cam, "W02", False, t0 - timedelta(seconds=s))
    browser = Chromium(tmp_path)
    try:
        browser.navigate(f"http://127.0.0.1:{daemon.web_port}/display")
        w01, w02, w03 = (TILE % w for w in ("W01", "W02", "W03"))
        staffed = "document.getElementById('staffed')?.textContent"
        browser.wait_for(f"{staffed} === '2/20'", 30, "two windows staffed")
        browser.wait_for(f"{w01}.dataset.level === 'red'", 30, "W01's overdue case")
        assert _tile_text(browser, "W01", ".officer span") == "李芳"  # the B post covers
        assert _tile_text(browser, "W01", ".reason .text") == "超过承诺时限（王伟）"
        assert _tile_text(browser, "W02", ".officer span") == "无人在岗"
        assert browser.evaluate(f"{w02}.querySelector('.officer').classList.contains('none')")
        assert _tile_text(browser, "W03", ".officer span") == "陈静"
        assert _tile_text(browser, "W04", ".officer span") == "黄强"  # no reading: A (S007)
        assert daemon_state(daemon)["seats_occupied"] == 2

        for s in (90, 10):  # 李芳 leaves: the seat empty since 90 s ago, confirmed after 60 s
            _seat(cam, "W01", False, t0 - timedelta(seconds=s))
        browser.wait_for(f"{staffed} === '1/20'", 30, "one window staffed")
        browser.wait_for(f"{w01}.querySelector('.officer span').innerText === '无人在岗'", 10, "")
        assert _tile_text(browser, "W01", ".reason .text") == "超过承诺时限（王伟）"
        assert _tile_text(browser, "W03", ".officer span") == "陈静"
        assert daemon_state(daemon)["seats_occupied"] == 1
        assert browser.evaluate(f"{w03}.dataset.level") == "green"
    finally:
        browser.close()
        for c in (cam, office):
            c.disconnect()
            c.loop_stop()
    assert daemon.stop() == 0


def daemon_state(daemon: DaemonProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.web_port}/state", timeout=5) as r:
        return dict(json.load(r))


def test_stopping_the_server_ends_idle_keep_alive_connections(cfg: HallConfig) -> None:
    """Else a browser reuses one and reaches the stopped server's routes after a restart."""
    hub = DisplayHub(cfg.hall.zone, now=lambda: NOW)
    web = WebServer("127.0.0.1", 0, hub.routes())
    web.start()
    conn = http.client.HTTPConnection(*web.address, timeout=5)
    resp, _ = get(conn, "/display/state")
    assert resp.status == 200 and not resp.will_close
    web.stop()
    assert conn.sock is not None
    assert conn.sock.recv(1) == b""  # the server hung up
    conn.close()

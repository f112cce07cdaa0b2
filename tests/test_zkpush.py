"""devices/zkpush.py: the bridge behind the PUSH protocol, its HTTP server, and the whole path
from a clock's upload to contract punches on a real Mosquitto."""

from __future__ import annotations

import http.client
import json
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.errors import ConfigError
from devices import zkpush
from devices.spool import Outgoing, SpoolFull
from devices.zkconfig import ZkConfig, load_zk_config, parse_zk_config
from devices.zkpush import Bridge, PushHttpServer, Reply, ZkPushService
from devices.zkstate import RejectStore, StampStore, read_kept
from hallkit.exits import EXIT_CONFIG
from tests.brokers import TEST_ADMIN, Mosquitto
from tests.running import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
EAST, WEST = "CJDE193560001", "CJDE193560002"
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
UPLOAD = (
    b"1\t2026-11-23 08:03:12\t0\t1\t0\t0\t0\n"
    b"2\t2026-11-23 08:04:40\t0\t15\t0\t0\t0\n"
    b"77\t2026-11-23 08:05:00\t0\t1\t0\t0\t0\n"  # PIN 77 is nobody's
)


def config_data(tmp_path: Path, **server: Any) -> dict[str, Any]:
    return {
        "hall": {"id": "demo-county"},
        "server": {"listen": "127.0.0.1", "port": 0, "state_dir": str(tmp_path / "state")} | server,
        "devices": [
            {"serial": EAST, "id": "CLK-EAST"},
            {"serial": WEST, "id": "CLK-WEST", "timezone": "Asia/Kathmandu"},
        ],
        "pins": {"1": "S001", "2": "S002", "3": "S003"},
        "verify_codes": {"25": "fingerprint"},
    }


class FakeSink:
    def __init__(self) -> None:
        self.items: list[Outgoing] = []
        self.statuses: list[str] = []
        self.full = False

    def publish_many(self, items: Sequence[Outgoing]) -> None:
        if self.full:
            raise SpoolFull("full")
        self.items.extend(items)

    def set_status(self, value: str) -> None:
        self.statuses.append(value)

    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(i.payload) for i in self.items]


class Rig:
    def __init__(self, tmp_path: Path, **server: Any) -> None:
        self.cfg = parse_zk_config(config_data(tmp_path, **server))
        self.sinks = {"CLK-EAST": FakeSink(), "CLK-WEST": FakeSink()}
        self.stamps = StampStore(tmp_path / "state" / "stamps.sqlite3")
        self.kept_path = tmp_path / "state" / "rejects.sqlite3"
        self.kept = RejectStore(self.kept_path, self.cfg.server.max_kept_lines)
        self.bridge = Bridge(self.cfg, self.sinks, self.stamps, self.kept, T0)

    def close(self) -> None:
        self.stamps.close()
        self.kept.close()

    def get(self, path: str, query: str, at: float = 1) -> Reply:
        return self.bridge.handle("GET", path, query, b"", T0 + timedelta(seconds=at))

    def post(self, path: str, query: str, body: bytes, at: float = 1) -> Reply:
        return self.bridge.handle("POST", path, query, body, T0 + timedelta(seconds=at))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


# --- the bridge -------------------------------------------------------------------------------


def test_records_become_contract_punches(rig: Rig) -> None:
    reply = rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=100", UPLOAD)
    assert reply == Reply(status=200, body="OK: 3")
    east = rig.sinks["CLK-EAST"]
    assert {i.topic for i in east.items} == {"hall/demo-county/clock/CLK-EAST/punch"}
    assert east.docs() == [
        {
            "id": f"{EAST}-1-20261123080312",
            "staff": "S001",
            "ts": "2026-11-23T08:03:12+08:00",
            "verify": "fingerprint",
            "state": "check_in",
        },
        {
            "id": f"{EAST}-2-20261123080440",
            "staff": "S002",
            "ts": "2026-11-23T08:04:40+08:00",
            "verify": "face",
            "state": "check_in",
        },
        {  # for the daemon to reject as unknown_staff, with the clock (topic) and the PIN
            "id": f"{EAST}-77-20261123080500",
            "staff": "pin:77",
            "ts": "2026-11-23T08:05:00+08:00",
            "verify": "fingerprint",
            "state": "check_in",
            "pin": "77",
        },
    ]
    assert rig.bridge.counters["published_unknown_pin"] == 1
    assert east.statuses == ["online"]
    assert rig.sinks["CLK-WEST"].items == []


def test_a_re_upload_yields_the_same_ids(rig: Rig) -> None:
    rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=100", UPLOAD)
    rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=100", UPLOAD.replace(b"\n", b"\r\n"))
    ids = [d["id"] for d in rig.sinks["CLK-EAST"].docs()]
    assert len(ids) == 6 and ids[:3] == ids[3:]


def test_the_clock_zone_gives_the_offset_and_extra_verify_codes_apply(rig: Rig) -> None:
    body = b"3\t2026-11-23 08:03:12\t1\t25\t0\n3\t2026-11-23 17:30:00\t1\t99\t0\n"
    assert rig.post("/iclock/cdata", f"SN={WEST}&table=ATTLOG", body).body == "OK: 2"
    doc, odd = rig.sinks["CLK-WEST"].docs()
    assert doc["ts"] == "2026-11-23T08:03:12+05:45"
    assert (doc["verify"], doc["state"]) == ("fingerprint", "check_out")
    assert (odd["staff"], odd["verify"]) == ("S003", "code:99")  # the daemon rejects it
    assert rig.bridge.counters["published_unknown_verify"] == 1


@pytest.mark.parametrize(
    ("pushver", "stamp_line"), [("&pushver=2.4.1", "ATTLOGStamp=100"), ("", "Stamp=100")]
)
def test_a_reconnecting_clock_gets_its_last_stamp(
    tmp_path: Path, pushver: str, stamp_line: str
) -> None:
    first = Rig(tmp_path)
    first.post("/iclock/cdata.aspx", f"SN={EAST}&table=ATTLOG&Stamp=100", UPLOAD)
    first.close()
    again = Rig(tmp_path)  # a restarted bridge
    reply = again.get("/iclock/cdata", f"SN={EAST}&options=all{pushver}&language=83")
    again.close()
    assert reply.status == 200
    assert reply.body.startswith(f"GET OPTION FROM: {EAST}\n")
    assert stamp_line in reply.body.splitlines()
    assert "TimeZone=8" in reply.body.splitlines()


def test_operation_logs_and_device_info_are_accepted_and_ignored(rig: Rig) -> None:
    oplog = b"OPLOG 4\t0\t2026-11-23 08:02:00\t0\t0\t0\t0\nUSER PIN=1\tName=" + "李四".encode("gbk")
    options = b"~DeviceName=iClock880,MAC=00:17:61:12:f8:d7,TransactionCount=1520,UserCount=12"
    assert rig.post("/iclock/cdata", f"SN={EAST}&table=OPERLOG&Stamp=55", oplog).body == "OK"
    assert rig.post("/iclock/cdata", f"SN={EAST}&table=options", options).body == "OK"
    info = "INFO=Ver%208.0.4.2-20161117,12,8,1520,192.168.1.201,10,12,12,7,111"
    assert rig.get("/iclock/getrequest", f"SN={EAST}&{info}").body == "OK"
    assert rig.get("/iclock/getrequest.aspx", f"SN={EAST}").body == "OK"
    assert rig.post("/iclock/devicecmd", f"SN={EAST}", b"ID=1&Return=0&CMD=INFO").body == "OK"
    assert rig.get("/iclock/cdata", f"SN={EAST}").body == "OK"  # heartbeat without options
    beats = {"hall/demo-county/clock/CLK-EAST/heartbeat"}
    assert {i.topic for i in rig.sinks["CLK-EAST"].items} == beats  # no punch, one beat
    assert len(rig.sinks["CLK-EAST"].items) == 1
    assert rig.stamps.get(EAST).operlog == "55"


def test_a_poll_vouches_for_the_punches_before_it_less_a_poll_and_the_skew(rig: Rig) -> None:
    """The clock's heartbeat (docs/zkpush.md): behind the punches it uploaded, at most once
    per `heartbeat_s`, stamped a poll interval and the skew before the poll."""
    s = rig.cfg.server
    assert rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=100", UPLOAD).body == "OK: 3"
    assert rig.get("/iclock/getrequest", f"SN={EAST}", at=10).body == "OK"
    assert rig.get("/iclock/getrequest", f"SN={EAST}", at=40).body == "OK"  # too soon
    later = s.heartbeat_s + 10
    assert rig.get("/iclock/getrequest", f"SN={EAST}", at=later).body == "OK"
    east = rig.sinks["CLK-EAST"]
    topics = [i.topic.rsplit("/", 1)[1] for i in east.items]
    assert topics == ["punch", "punch", "punch", "heartbeat", "heartbeat"]
    skew = timedelta(seconds=s.delay_s + s.skew_s)
    stamps = [datetime.fromisoformat(d["ts"]) for d in east.docs()[3:]]
    assert stamps == [T0 + timedelta(seconds=10) - skew, T0 + timedelta(seconds=later) - skew]
    assert rig.bridge.counters["heartbeats_published"] == 2
    assert rig.sinks["CLK-WEST"].items == []


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status"),
    [
        ("GET", "/iclock/cdata", "SN=CJDE999999999&options=all", b"", 403),
        ("POST", "/iclock/cdata", "SN=CJDE999999999&table=ATTLOG", UPLOAD, 403),
        ("POST", "/iclock/cdata", "table=ATTLOG", UPLOAD, 400),
        ("POST", "/iclock/cdata", f"SN={EAST}", UPLOAD, 400),
        ("GET", "/iclock/devicecmd", f"SN={EAST}", b"", 405),
        ("GET", "/iclock/registry", f"SN={EAST}", b"", 404),
    ],
)
def test_refused_requests_publish_nothing(
    rig: Rig, method: str, path: str, query: str, body: bytes, status: int
) -> None:
    reply = rig.bridge.handle(method, path, query, body, T0)
    assert reply.status == status and reply.body.startswith("ERROR: ")
    assert all(s.items == [] for s in rig.sinks.values())
    assert rig.stamps.get(EAST).attlog == "0"


def test_unknown_clock_gets_no_status_either(rig: Rig) -> None:
    rig.get("/iclock/cdata", "SN=CJDE999999999&options=all")
    assert all(s.statuses == [] for s in rig.sinks.values())


def test_a_full_spool_refuses_the_upload_and_keeps_the_stamp(rig: Rig) -> None:
    rig.sinks["CLK-EAST"].full = True
    reply = rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=300", UPLOAD + b"x\n")
    assert reply.status == 503
    assert rig.stamps.get(EAST).attlog == "0"  # the clock sends these again
    assert read_kept(rig.kept_path, 10).rows == 0  # its bad line too, then


# --- bad lines -------------------------------------------------------------------------------

BAD = [
    b"4\tnoon\t0\t1",  # bad time
    b"\x89PNG\r\x1a",  # a stray binary line (the \r is part of it, not the line end)
    b"5\t2026-11-23 08:06:00",  # too few fields
]


def with_bad_lines() -> bytes:
    first, second, third = UPLOAD.splitlines(keepends=True)
    return first + BAD[0] + b"\n" + second + BAD[1] + b"\n" + BAD[2] + b"\r\n" + third


def test_bad_lines_do_not_hold_back_the_good_records(rig: Rig) -> None:
    reply = rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=200", with_bad_lines())
    assert reply == Reply(status=200, body="OK: 6")  # every line is taken over: it moves on
    assert [d["staff"] for d in rig.sinks["CLK-EAST"].docs()] == ["S001", "S002", "pin:77"]
    assert rig.stamps.get(EAST).attlog == "200"
    kept = read_kept(rig.kept_path, 10)
    assert kept.rows == 3 and kept.pruned == 0
    got = sorted((k.number, k.reason, k.raw, k.device, k.serial, k.times) for k in kept.latest)
    assert got == [
        (2, "bad_time", BAD[0], "CLK-EAST", EAST, 1),
        (4, "not_ascii", BAD[1], "CLK-EAST", EAST, 1),
        (5, "too_few_fields", BAD[2], "CLK-EAST", EAST, 1),
    ]
    assert all(k.detail.startswith(f"line {k.number}: ") for k in kept.latest)
    assert rig.bridge.counters["bad_lines"] == 3


def test_a_line_sent_again_is_kept_once_and_counted(rig: Rig) -> None:
    for at in (1, 2):
        rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG", with_bad_lines(), at=at)
    rig.post("/iclock/cdata", f"SN={WEST}&table=ATTLOG", BAD[0], at=3)
    kept = read_kept(rig.kept_path, 10)
    assert kept.rows == 4  # the same line from another clock is another row
    assert sorted((k.device, k.times) for k in kept.latest) == [
        ("CLK-EAST", 2),
        ("CLK-EAST", 2),
        ("CLK-EAST", 2),
        ("CLK-WEST", 1),
    ]
    assert kept.latest[0].device == "CLK-WEST"  # newest first
    assert len(rig.sinks["CLK-EAST"].items) == 6  # same ids twice: the daemon counts once


def test_the_kept_lines_are_bounded(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_kept_lines=100)
    try:
        for at, start in ((1, 0), (2, 60), (3, 120)):
            body = b"".join(b"bad %d\n" % i for i in range(start, start + 60))
            assert rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG", body, at=at).status == 200
        kept = read_kept(rig.kept_path, 1000)
    finally:
        rig.close()
    assert (kept.rows, kept.pruned) == (100, 80)
    assert {k.raw for k in kept.latest} == {b"bad %d" % i for i in range(80, 180)}
    assert rig.bridge.counters["bad_lines_pruned"] == 80


def test_a_garbage_upload_keeps_a_bounded_trace_and_its_records(rig: Rig) -> None:
    body = b"\xde\xad\xbe\xef\n" * 300 + UPLOAD + bytes(range(256)) * 4
    reply = rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG&Stamp=9", body)
    assert reply.status == 200
    assert len(rig.sinks["CLK-EAST"].items) == 3
    kept = read_kept(rig.kept_path, 1000)
    # one row per distinct line (the 300 alike are one, seen 300 times) and the summary
    reasons = sorted(k.reason for k in kept.latest)
    assert reasons.count("too_many_bad_lines") == 1 and kept.rows <= 102
    assert rig.bridge.counters["bad_lines"] == int(reply.body.removeprefix("OK: ")) - 3


def test_cli_lists_the_kept_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hallkit.logs.setup", lambda *_: None)
    rig = Rig(tmp_path)
    rig.post("/iclock/cdata", f"SN={EAST}&table=ATTLOG", with_bad_lines())
    rig.close()
    path = tmp_path / "zk.toml"
    path.write_text(
        f'[hall]\nid = "demo-county"\n[server]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[[devices]]\nserial = "{EAST}"\nid = "CLK-EAST"\n',
        encoding="utf-8",
    )
    assert zkpush.main(["--config", str(path), "--rejects", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("3 条坏行 (bad lines kept), 0 条较早的已清除 (pruned)")
    assert len(out) == 1 + 2 * 3
    assert f"CLK-EAST (SN {EAST}), 1×" in out[1]
    assert "字段不足(too_few_fields)" in out[1] and "line 5: " in out[2]
    assert out[3] == "    " + repr(BAD[2])


def test_silence_publishes_offline_and_a_request_online_again(rig: Rig) -> None:
    east, west = rig.sinks["CLK-EAST"], rig.sinks["CLK-WEST"]
    rig.get("/iclock/getrequest", f"SN={EAST}", at=100)
    rig.bridge.sweep(T0 + timedelta(seconds=300))  # WEST never heard since the start
    assert (east.statuses, west.statuses) == (["online"], ["offline"])
    rig.get("/iclock/getrequest", f"SN={EAST}", at=300)
    rig.bridge.sweep(T0 + timedelta(seconds=599))
    assert east.statuses == ["online"]
    rig.bridge.sweep(T0 + timedelta(seconds=600))
    assert east.statuses == ["online", "offline"]
    rig.get("/iclock/getrequest", f"SN={EAST}", at=700)
    assert east.statuses == ["online", "offline", "online"]


# --- configuration and command line -------------------------------------------------------------


def test_config_problems_are_all_reported_with_key_paths(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["devices"][1]["serial"] = EAST
    data["devices"][1]["id"] = "CLK-EAST"
    data["broker"] = {"username": "zkpush"}
    data["server"]["offline_after_s"] = 30
    with pytest.raises(ConfigError) as caught:
        parse_zk_config(data)
    text = "\n".join(caught.value.problems)
    for path in ("devices: serial", "devices: id", "broker.username", "server.offline_after_s"):
        assert path in text


def test_cli_exit_code_2_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hallkit.logs.setup", lambda *_: None)
    bad = tmp_path / "zk.toml"
    bad.write_text(
        '[hall]\nid = "demo county"\n[server]\nport = 70000\ncolour = "red"\n'
        '[[devices]]\nserial = "CJ-1"\nid = "CLK-EAST"\ntimezone = "Mars/Olympus"\n',
        encoding="utf-8",
    )
    assert zkpush.main(["--config", str(bad)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    for path in (
        "hall.id",
        "server.port",
        "server.colour: unknown key",
        "devices[0].serial",
        "devices[0].timezone",
    ):
        assert path in err


def test_cli_checks_the_example_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hallkit.logs.setup", lambda *_: None)
    example = ROOT / "config" / "zkpush.example.toml"
    assert zkpush.main(["--config", str(example), "--check"]) == 0
    assert "2 clock(s)" in capsys.readouterr().out


# --- HTTP -------------------------------------------------------------------------------------


def request(
    address: tuple[str, int], method: str, url: str, body: bytes | None = None, **headers: str
) -> tuple[int, str]:
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request(method, url, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def server(rig: Rig) -> Iterator[tuple[str, int]]:
    srv = PushHttpServer(("127.0.0.1", 0), rig.bridge, max_body=4096)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    yield str(host), int(port)
    srv.shutdown()
    srv.server_close()


def test_http_upload_and_limits(server: tuple[str, int], rig: Rig) -> None:
    url = f"/iclock/cdata?SN={EAST}&table=ATTLOG&Stamp=1"
    assert request(server, "POST", url, UPLOAD) == (200, "OK: 3")
    assert request(server, "POST", url, with_bad_lines()) == (200, "OK: 6")
    status, _ = request(server, "POST", url, b"1\t2026-11-23 08:00:00\t0\t1\n" * 200)
    assert status == 413
    status, _ = request(server, "GET", f"/iclock/cdata?SN={EAST}&options=all&pushver=2.4.1")
    assert status == 200
    assert request(server, "GET", "/favicon.ico")[0] == 404
    assert len(rig.sinks["CLK-EAST"].items) == 6


@pytest.mark.parametrize(
    ("headers", "status", "text"),
    [
        ("Transfer-Encoding: chunked", 411, "ERROR: a body needs a Content-Length"),
        ("Content-Length: 1\r\nContent-Length: 2", 400, "ERROR: bad Content-Length"),
        ("Content-Length: -1", 400, "ERROR: bad Content-Length"),
        ("Content-Length: 4097", 413, "ERROR: body over 4096 bytes"),
    ],
)
def test_a_body_is_framed_as_the_web_server_frames_it(
    server: tuple[str, int], rig: Rig, headers: str, status: int, text: str
) -> None:
    """The one head reader (hallkit/http.py), with the bridge's own limit and wording."""
    head = f"POST /iclock/cdata?SN={EAST}&table=ATTLOG HTTP/1.1\r\nHost: x\r\n{headers}\r\n\r\n"
    with socket.create_connection(server, timeout=10) as s:
        s.sendall(head.encode())
        answer = s.makefile("rb").read().decode()
    assert answer.startswith(f"HTTP/1.0 {status} ") and answer.endswith("\r\n\r\n" + text)
    assert rig.sinks["CLK-EAST"].items == []


# --- end to end on Mosquitto ------------------------------------------------------------------


class Watcher:
    def __init__(self, broker: Mosquitto) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        ready = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="zkpush-watcher")
        client.username_pw_set(TEST_ADMIN, broker.password(TEST_ADMIN))
        client.on_connect = lambda c, *_: c.subscribe("hall/#", qos=1)
        client.on_subscribe = lambda *_: ready.set()
        client.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))
        client.connect(broker.host, broker.port)
        client.loop_start()
        assert ready.wait(10)
        self.client = client

    def punches(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < n:
            topic, payload = self.messages.get(timeout=10)
            if topic.endswith("/punch"):
                out.append({"topic": topic, **json.loads(payload)})
        return out

    def status(self, device: str) -> str:
        while True:
            topic, payload = self.messages.get(timeout=10)
            if topic == f"hall/demo-county/clock/{device}/status":
                return payload.decode()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def e2e_config(tmp_path: Path, broker: Mosquitto) -> ZkConfig:
    data = config_data(tmp_path)
    for device in data["devices"]:
        secret = tmp_path / f"mqtt-{device['id']}"
        secret.write_text(broker.password(device["id"]) + "\n", encoding="utf-8")
        device["password_file"] = str(secret)
    data["broker"] = {"host": broker.host, "port": broker.port, "reconnect_max_s": 2}
    return parse_zk_config(data)


@pytest.mark.integration
def test_upload_to_punches_on_mosquitto_and_a_re_upload_adds_nothing(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    watcher = Watcher(mosquitto)
    service = ZkPushService(e2e_config(tmp_path, mosquitto), None)
    service.start()
    try:
        hello = f"/iclock/cdata?SN={EAST}&options=all&pushver=2.4.1&language=83"
        status, options = request(service.address, "GET", hello)
        assert status == 200 and "ATTLOGStamp=0" in options
        assert watcher.status("CLK-EAST") == "online"

        url = f"/iclock/cdata?SN={EAST}&table=ATTLOG&Stamp=4711"
        assert request(service.address, "POST", url, UPLOAD) == (200, "OK: 3")
        first = watcher.punches(3)
        assert {p["topic"] for p in first} == {"hall/demo-county/clock/CLK-EAST/punch"}
        assert [(p["staff"], p["ts"]) for p in first] == [
            ("S001", "2026-11-23T08:03:12+08:00"),
            ("S002", "2026-11-23T08:04:40+08:00"),
            ("pin:77", "2026-11-23T08:05:00+08:00"),
        ]
        assert request(service.address, "POST", url, UPLOAD) == (200, "OK: 3")
        again = watcher.punches(3)
        assert {p["id"] for p in again} == {p["id"] for p in first}

        _, options = request(service.address, "GET", hello)
        assert "ATTLOGStamp=4711" in options.splitlines()
        stranger = "/iclock/cdata?SN=CJDE999999999&table=ATTLOG&Stamp=1"
        assert request(service.address, "POST", stranger, UPLOAD)[0] == 403
        assert all(p.flush(5) for p in service.publishers.values())
    finally:
        service.close()
    assert watcher.status("CLK-EAST") == "offline"
    watcher.close()


# --- the systemd unit -------------------------------------------------------------------------

UNIT = ROOT / "systemd" / "hallwatch-zkpush.service"


def unit_settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_unit_is_sandboxed_and_matches_the_example_configuration() -> None:
    unit = unit_settings()
    for key, value in [
        ("Type", "notify"),
        ("User", "hallwatch-zkpush"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
    ]:
        assert unit[key] == [value], key
    example = load_zk_config(ROOT / "config" / "zkpush.example.toml")
    (state,) = unit["StateDirectory"]
    assert example.server.state_dir == f"/var/lib/{state}"
    assert unit["ReadWritePaths"] == [f"/var/lib/{state}"]
    credentials = {c.partition(":")[0] for c in unit["LoadCredential"]}
    assert credentials == {d.password_file for d in example.devices}
    (exec_start,) = unit["ExecStart"]
    assert exec_start.split()[1:3] == ["zkpush", "--config"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    copy = tmp_path / UNIT.name
    text = UNIT.read_text(encoding="utf-8")
    installed = "ExecStart=/opt/hallwatch/bin/hallwatch "
    assert installed in text
    copy.write_text(text.replace(installed, "ExecStart=/bin/true ", 1))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert [line for line in output.splitlines() if UNIT.name in line or "ignoring" in line] == []


@pytest.mark.integration
def test_the_command_serves_until_sigterm(tmp_path: Path, mosquitto: Mosquitto) -> None:
    cfg = e2e_config(tmp_path, mosquitto)
    port = free_port()
    path = tmp_path / "zkpush.toml"
    devices = "".join(
        f'[[devices]]\nserial = "{d.serial}"\nid = "{d.id}"\npassword_file = "{d.password_file}"\n'
        for d in cfg.devices
    )
    path.write_text(
        f'[hall]\nid = "demo-county"\n[broker]\nhost = "{mosquitto.host}"\n'
        f'port = {mosquitto.port}\n[server]\nlisten = "127.0.0.1"\nport = {port}\n'
        f'state_dir = "{tmp_path / "state"}"\n{devices}[pins]\n"1" = "S001"\n',
        encoding="utf-8",
    )
    log = (tmp_path / "zkpush.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "zkpush", "--config", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        hello = f"/iclock/cdata?SN={EAST}&options=all"

        def answers() -> bool:
            try:
                return request(("127.0.0.1", port), "GET", hello)[0] == 200
            except OSError:
                return False

        wait_until(answers, 20, "the bridge's HTTP port")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, (tmp_path / "zkpush.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()

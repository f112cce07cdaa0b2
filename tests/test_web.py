"""The web server's own parts: request heads, Host names, the /metrics exposition (read back by
prometheus_client's parser), output of text that cannot be UTF-8, and a real `WebServer` on
loopback for keep-alive, pipelining, HEAD, 421, timeouts of slow requests and the connection
cap. The daemon under attack: tests/faults/test_web_abuse.py."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.web.server import (
    Limits,
    Request,
    Response,
    WebServer,
    get_only,
    host_allowed,
    number,
    parse_head,
    prometheus,
    utf8,
)
from tests.running import wait_until

# --- text that cannot be UTF-8 -------------------------------------------------------------------


def test_a_lone_surrogate_stays_its_json_escape() -> None:
    resp = Response.json(200, {"text": "旧\ud800日志", "k\udc80": 1})
    text = resp.body.decode("utf-8")  # valid UTF-8
    assert json.loads(text) == {"text": "旧\ud800日志", "k\udc80": 1}


def test_html_replaces_a_lone_surrogate() -> None:
    assert utf8("a\ud800b") == "a\ufffdb".encode()
    assert utf8("效能") == "效能".encode()


# --- heads and hosts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x", None),
        (b"GET / HTTP/1.1\nHost: x", None),  # bare LF, as netcat sends
        (b"GET /", 400),
        (b"GET http://evil/ HTTP/1.1", 400),  # absolute form: not from a browser or our proxy
        (b"G(T / HTTP/1.1", 400),
        (b"GET / HTTP/2.0", 505),
        (b"GET / HTTP/1.1\r\nbad header", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked", 411),
        (b"POST / HTTP/1.1\r\nContent-Length: -1", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 65537", 413),
        (b"GET / HTTP/1.1" + b"\r\nX: y" * 101, 431),
    ],
)
def test_parse_head(raw: bytes, status: int | None) -> None:
    got = parse_head(raw)
    assert (got.status if isinstance(got, Response) else None) == status


def test_the_first_of_a_repeated_header_wins() -> None:
    head = parse_head(b"GET /a?b=1 HTTP/1.1\r\nHost: one\r\nhost: two\r\nContent-Length: 0")
    assert not isinstance(head, Response)
    assert head.headers["host"] == "one" and head.keep_alive


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8470", True),
        ("localhost:8470", True),
        ("LOCALHOST", True),
        ("display.localhost", True),
        ("[::1]:8470", True),
        ("192.168.1.20", True),  # an address cannot be rebound
        ("jiancha.example.gov.cn", True),  # configured
        ("jiancha.example.gov.cn.:443", True),
        ("evil.example:8470", False),  # a rebinding page's own name
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("localhost:port", False),
        ("", False),
        (None, False),
    ],
)
def test_host_allowed(host: str | None, ok: bool) -> None:
    assert host_allowed(host, {"jiancha.example.gov.cn"}) is ok


# --- /metrics ------------------------------------------------------------------------------------


def test_metrics_are_exact_and_parse_as_prometheus_text() -> None:
    rows: list[tuple[str, str, str, dict[str, str], float]] = [
        ("x_events_total", "counter", "Events.", {}, 1_234_567),
        ("x_big_total", "counter", "Big.", {}, 10**15 + 1),
        ("x_float_total", "counter", "Seconds \\ in\ncommits.", {}, 1234567.125),
        ("x_by_total", "counter", "By reason.", {"reason": 'a"b\\c'}, 2_000_001),
        ("x_gauge", "gauge", "A gauge.", {}, 1_000_000.0),
        ("x_by_total", "counter", "By reason.", {"reason": "z"}, 3),  # same family, later row
    ]
    text = prometheus(rows).body.decode()
    assert "e+" not in text and "1234567\n" in text and "1000000000000001\n" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert values == {
        ("x_events_total", ()): 1_234_567,
        ("x_big_total", ()): 10**15 + 1,
        ("x_float_total", ()): 1234567.125,
        ("x_by_total", (("reason", 'a"b\\c'),)): 2_000_001,
        ("x_by_total", (("reason", "z"),)): 3,
        ("x_gauge", ()): 1_000_000,
    }
    assert families["x_float"].documentation == "Seconds \\ in\ncommits."
    assert text.count("# TYPE x_by_total counter") == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (True, "1"), (7.0, "7"), (0.1, "0.1"), (1e300, "1e+300"), (float("inf"), "+Inf")],
)
def test_number(value: float, text: str) -> None:
    assert number(value) == text


# --- a real server on loopback ------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[WebServer]:
    def boom() -> Response:
        raise RuntimeError("a bug")

    def echo(req: Request) -> Response:
        return Response.json(200, {"method": req.method, "body": req.body.decode()})

    routes = {"/ok": get_only(lambda: Response.json(200, {"ok": True})), "/boom": get_only(boom)}
    routes["/echo"] = echo
    limits = Limits(max_connections=16, request_timeout_s=1.0, idle_timeout_s=2.0, workers=2)
    web = WebServer("127.0.0.1", 0, routes, hosts={"hall.example"}, limits=limits)
    web.start()
    yield web
    web.stop()


def _get(web: WebServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*web.address, timeout=5)
    conn.request("GET", path, headers={"Host": host} if host else {})
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_keep_alive_pipelining_and_head(server: WebServer) -> None:
    s = socket.create_connection(server.address, timeout=5)
    two = b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    two += b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
    s.sendall(two)
    data = _read_until(s, b'"body": "abc"')
    assert data.count(b"HTTP/1.1 200 OK") == 2
    s.sendall(b"\r\nPOST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n\r\n")
    assert b'"body": "\\r\\n"' in _read_until(s, b'"body"')  # a body of blank lines is a body
    s.sendall(b"HEAD /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    rest = _read_until(s, b"")
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\n")  # no body
    assert b"Connection: close" in rest
    s.close()


def test_a_head_sent_a_byte_at_a_time_and_a_body_after_100_continue(server: WebServer) -> None:
    s = socket.create_connection(server.address, timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n":
        s.send(bytes([byte]))
    assert _read_until(s, b'"ok": true').startswith(b"HTTP/1.1 200 OK")
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n")
    s.sendall(b"Expect: 100-continue\r\n\r\n")
    assert _read_until(s, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"hi")
    assert b'"body": "hi"' in _read_until(s, b'"body"')
    s.sendall(b"GET /ok HTTP/1.1\r\nX: " + b"y" * 40_000)
    assert _read_until(s, b"").startswith(b"HTTP/1.1 431")
    s.close()


def test_host_names_and_errors(server: WebServer) -> None:
    assert _get(server, "/ok")[0] == 200
    assert _get(server, "/ok", "hall.example:8470")[0] == 200
    assert _get(server, "/ok", "evil.example:8470")[0] == 421
    assert _get(server, "/boom")[0] == 500
    assert _get(server, "/nothing")[0] == 404
    s = socket.create_connection(server.address, timeout=5)
    s.sendall(b"GET /ok HTTP/1.0\r\n\r\n")  # HTTP/1.0 without Host: no browser
    assert _read_until(s, b"").startswith(b"HTTP/1.1 200")
    s.close()


def test_a_slow_request_is_cut_off_and_holds_no_worker(server: WebServer) -> None:
    slow = [socket.create_connection(server.address, timeout=5) for _ in range(4)]
    for s in slow:  # more slow clients than workers (2)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nx")
    assert _get(server, "/ok")[0] == 200
    started = time.monotonic()
    for s in slow:
        assert hung_up(s)
    assert time.monotonic() - started < 3.0
    wait_until(lambda: server.counts["timed_out"] >= 4, 5, "four time-outs")


def test_beyond_the_cap_the_longest_waiting_connection_goes(server: WebServer) -> None:
    held = [socket.create_connection(server.address, timeout=5) for _ in range(40)]
    for s in held:
        s.sendall(b"GET /ok HTTP/1.1\r\n")
    for _ in range(5):
        started = time.monotonic()
        assert _get(server, "/ok")[0] == 200
        assert time.monotonic() - started < 1.0
    wait_until(lambda: server.open_connections() <= 16, 5, "the cap")
    assert server.counts["evicted"] >= 40 - 16
    assert hung_up(held[0])  # the first to wait was the first to go
    for s in held:
        s.close()


def hung_up(s: socket.socket) -> bool:
    """The server closed `s` (a reset when it left our bytes unread)."""
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def _read_until(s: socket.socket, marker: bytes) -> bytes:
    data = b""
    while not marker or marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data

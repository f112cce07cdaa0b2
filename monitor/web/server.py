"""HTTP on a loopback port: /healthz for probes, /metrics for Prometheus, pages, API, streams.

A thin shell: each route is a function from a `Request` (method, path, query, headers, cookies,
body, client address) to a `Response`; the routes decide which methods they answer. A route
key ending in `*` matches every path under it (the longest such prefix wins over a shorter
one; an exact key wins over both). HTTP/1.1 with keep-alive; an idle connection is dropped
after `IDLE_TIMEOUT_S`. A request body is read whole, at most `MAX_BODY` bytes, and only with
a Content-Length. A `Response` with a `stream` is sent chunked (server-sent events): its
iterator blocks between chunks, and the first write that fails (the client went away) ends
it, so a closed tab never keeps a thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 60.0  # also bounds a write to a client that stopped reading
MAX_BODY = 65536  # the console's forms and JSON are small; the contract's payload limit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    stream: Iterable[bytes] | None = None  # sent chunked, after `body`, until exhausted

    @classmethod
    def json(cls, status: int, doc: object) -> Response:
        text = json.dumps(doc, ensure_ascii=False, indent=1, default=str)
        return cls(status, "application/json; charset=utf-8", text.encode())

    @classmethod
    def asset(cls, name: str, data: bytes) -> Response:
        """A static file; `no-cache` so an upgraded daemon's page replaces the old one."""
        suffix = name[name.rfind(".") :] if "." in name else ""
        kind = CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")
        return cls(200, kind, data, (("Cache-Control", "no-cache"),))

    @classmethod
    def events(cls, chunks: Iterable[bytes]) -> Response:
        """Server-sent events: `chunks` yields whole events (or comments) as they happen."""
        headers = (("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"))
        return cls(200, "text/event-stream; charset=utf-8", b"", headers, chunks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    path: str  # without the query, not unquoted
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = ""  # the peer's address (a proxy's, behind one)

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


Route = Callable[[Request], Response]


def static_routes(prefix: str, directory: Traversable) -> dict[str, Route]:
    """One route per file under `directory` (read once, now), at `prefix` + its name."""
    routes: dict[str, Route] = {}
    for item in directory.iterdir():
        if item.is_file():
            routes[prefix + item.name] = get_only(
                _constant(Response.asset(item.name, item.read_bytes()))
            )
    return routes


def _constant(resp: Response) -> Callable[[], Response]:
    return lambda: resp


def get_only(page: Callable[[], Response]) -> Route:
    """A route that takes no input: GET answers it, any other method is 405."""

    def route(req: Request) -> Response:
        if req.method != "GET":
            return method_not_allowed("GET")
        return page()

    return route


def method_not_allowed(*allowed: str) -> Response:
    doc = {"error": "method not allowed", "allowed": list(allowed)}
    resp = Response.json(405, doc)
    return Response(resp.status, resp.content_type, resp.body, (("Allow", ", ".join(allowed)),))


def resolve(routes: Mapping[str, Route], path: str) -> Route | None:
    """The exact route, else the longest `prefix*` route whose prefix starts `path`."""
    exact = routes.get(path)
    if exact is not None:
        return exact
    best = ""
    for key in routes:
        if key.endswith("*") and path.startswith(key[:-1]) and len(key) > len(best):
            best = key
    return routes[best] if best else None


def parse_cookies(header: str | None) -> dict[str, str]:
    """`a=1; b=2` → {a: 1, b: 2}; the first of a repeated name wins; junk is skipped."""
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


class _Server(ThreadingHTTPServer):
    """Knows its open connections, so that stopping also ends idle keep-alives and streams."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)


class WebServer:
    def __init__(self, listen: str, port: int, routes: dict[str, Route]) -> None:
        self._closing = threading.Event()
        self._server = _Server((listen, port), _handler_for(routes, self._closing))
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        logger.info("web listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        """Stop listening and end every connection, idle keep-alives and streams included."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()


def _handler_for(
    routes: dict[str, Route], closing: threading.Event
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hallwatch"
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT_S

        def do_GET(self) -> None:
            self._handle()

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # any method reaches the routes; they answer 405
                return self._handle
            raise AttributeError(name)

        def do_HEAD(self) -> None:
            self._handle()  # routed as GET; `_send` leaves the body out

        def _handle(self) -> None:
            req = self._request()
            if isinstance(req, Response):
                self.close_connection = True  # the unread body would be taken for a request
                self._send(req)
                return
            if req.method == "HEAD":
                req = replace(req, method="GET")
            route = resolve(routes, req.path)
            if route is None:
                paths = sorted(k for k in routes if not k.endswith("*"))
                resp = Response.json(404, {"error": "not found", "paths": paths})
            else:
                try:
                    resp = route(req)
                except Exception:
                    logger.exception("web route %s %s failed", req.method, req.path)
                    resp = Response.json(500, {"error": "internal error"})
            self._send(resp)

        def _request(self) -> Request | Response:
            if self.headers.get("Transfer-Encoding"):
                return Response.json(411, {"error": "a body needs a Content-Length"})
            length_text = self.headers.get("Content-Length") or "0"
            if not length_text.isdigit():
                return Response.json(400, {"error": "bad Content-Length"})
            length = int(length_text)
            if length > MAX_BODY:
                return Response.json(413, {"error": f"body over {MAX_BODY} bytes"})
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            return Request(
                method=self.command,
                path=path,
                query={k: tuple(v) for k, v in parse_qs(query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in reversed(self.headers.items())},
                cookies=parse_cookies(self.headers.get("Cookie")),
                body=body,
                client=str(self.client_address[0]),
            )

        def _send(self, resp: Response) -> None:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in resp.headers:
                self.send_header(name, value)
            if self.command == "HEAD":  # the headers a GET would have, no body
                close: Any = getattr(resp.stream, "close", None)
                if close is not None:
                    close()
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                return
            if resp.stream is None:
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.close_connection = True  # a stream's end is its connection's end
            self.end_headers()
            self._stream(resp.body, resp.stream)

        def _stream(self, first: bytes, chunks: Iterable[bytes]) -> None:
            it = iter(chunks)
            try:
                self._chunk(first)
                for chunk in it:
                    if closing.is_set():
                        return
                    self._chunk(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError as exc:  # BrokenPipe, ConnectionReset, timeout: the client left
                logger.debug("web: stream %s ended: %s", self.path, exc)
            finally:
                close: Any = getattr(it, "close", None)
                if close is not None:
                    close()

        def _chunk(self, data: bytes) -> None:
            if data:  # an empty chunk would end the stream
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("web: %s", format % args)

    return Handler


def prometheus(metrics: list[tuple[str, str, str, dict[str, str], float]]) -> Response:
    """Render (name, type, help, labels, value) rows in the text exposition format."""
    lines: list[str] = []
    described: set[str] = set()
    for name, kind, text, labels, value in metrics:
        if name not in described:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            described.add(name)
        label = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{label}}} {value:g}" if label else f"{name} {value:g}")
    body = ("\n".join(lines) + "\n").encode()
    return Response(200, "text/plain; version=0.0.4; charset=utf-8", body)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

"""HTTP on a loopback port: /healthz for probes, /metrics for Prometheus, pages, API, streams.

Routes, requests and responses are values (monitor/web/routing.py, re-exported here). HTTP/1.1
with keep-alive. A request body is read whole, at most `MAX_BODY` bytes, and only with a
Content-Length. A `Response` with a `stream` is sent chunked (server-sent events): its iterator
blocks between chunks, and the first write that fails (the client went away) ends it.

The server holds under abuse (`Limits`; docs/console.md, "Under abuse"): one thread reads
the heads and bodies of every connection with a selector, so a client that sends slowly holds
a slot, not a thread, and a request must arrive whole within `request_timeout_s`; at most
`max_connections` are open, and a new one beyond that closes the one that has waited longest
for its request (a slow client goes first, a prompt one always gets in); complete requests go
to a fixed pool of `workers` threads; a stream gets a thread of its own, at most
`max_streams`. With `hosts` given, a request whose `Host` is not one of them, `localhost` or
an IP address is answered 421 (DNS rebinding: a foreign page that made its own name point at
127.0.0.1 still sends it).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from queue import SimpleQueue
from typing import Any
from urllib.parse import parse_qs

from hallkit.http import HEAD_END, MAX_HEAD, Head
from monitor.web.routing import (
    CONTENT_TYPES,
    MAX_BODY,
    Request,
    Response,
    Route,
    error,
    get_only,
    host_allowed,
    method_not_allowed,
    number,
    parse_cookies,
    parse_head,
    prometheus,
    resolve,
    static_routes,
    utf8,
)

__all__ = [
    "CONTENT_TYPES",
    "MAX_BODY",
    "Limits",
    "Request",
    "Response",
    "Route",
    "WebServer",
    "get_only",
    "host_allowed",
    "method_not_allowed",
    "number",
    "parse_cookies",
    "parse_head",
    "prometheus",
    "resolve",
    "static_routes",
    "utf8",
]

logger = logging.getLogger(__name__)

# --- the server ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_connections: int = 256  # open at once; the unit's LimitNOFILE is far above
    request_timeout_s: float = 10.0  # a request's head and body, from its first byte
    idle_timeout_s: float = 60.0  # a keep-alive connection between requests
    write_timeout_s: float = 60.0  # a write to a client that stopped reading
    workers: int = 8
    max_streams: int = 128


class _Conn:
    """A client connection; while it waits for a request, the reader thread owns it."""

    __slots__ = (
        "buf",
        "continued",
        "head",
        "peer",
        "scanned",
        "served",
        "since",
        "sock",
        "started",
    )

    def __init__(self, sock: socket.socket, peer: str, now: float) -> None:
        self.sock, self.peer = sock, peer
        self.buf = bytearray()
        self.head: Head | None = None
        self.since = now  # began waiting for its request: the eviction order
        self.started: float | None = now  # the request's first byte (or the accept)
        self.served = False
        self.continued = False
        self.scanned = 0  # bytes of `buf` searched for the end of the head

    def deadline(self, limits: Limits) -> float:
        if self.started is None:
            return self.since + limits.idle_timeout_s
        return self.started + limits.request_timeout_s


class WebServer:
    def __init__(
        self,
        listen: str,
        port: int,
        routes: dict[str, Route],
        *,
        hosts: Collection[str] | None = None,
        limits: Limits = Limits(),
    ) -> None:
        """`hosts`: names besides IP addresses and localhost that `Host` may name; None: any."""
        self._routes = routes
        self._hosts = None if hosts is None else frozenset(h.lower() for h in hosts)
        self.limits = limits
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self._listener = socket.create_server((listen, port), family=family, backlog=1024)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._returned: SimpleQueue[_Conn] = SimpleQueue()
        self._jobs: SimpleQueue[tuple[_Conn, Head, bytes] | None] = SimpleQueue()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._open: set[_Conn] = set()
        self._streams = 0
        self.counts = dict.fromkeys(
            ("accepted", "evicted", "timed_out", "refused", "bad_request", "wrong_host", "busy"), 0
        )
        self._thread = threading.Thread(target=self._read_loop, name="web", daemon=True)
        self._workers = [
            threading.Thread(target=self._work, name=f"web-{i}", daemon=True)
            for i in range(limits.workers)
        ]

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def metrics(self) -> list[tuple[str, str, str, dict[str, str], float]]:
        """Rows for `prometheus`: open connections, and the ones turned away, by reason."""
        rows: list[tuple[str, str, str, dict[str, str], float]] = [
            (
                "hallwatch_web_connections",
                "gauge",
                "Open HTTP connections.",
                {},
                self.open_connections(),
            )
        ]
        with self._lock:
            counts = dict(self.counts)
        for what, n in counts.items():
            rows.append(
                (
                    "hallwatch_web_connections_total",
                    "counter",
                    "HTTP connections accepted, and requests or connections turned away, "
                    "by reason.",
                    {"result": what},
                    n,
                )
            )
        return rows

    def start(self) -> None:
        for w in self._workers:
            w.start()
        self._thread.start()
        logger.info("web listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        """Stop listening and end every connection, idle keep-alives and streams included."""
        self._closing.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)
        for _ in self._workers:
            self._jobs.put(None)
        while not self._returned.empty():  # answered while the reader was stopping
            self._close(self._returned.get())
        with self._lock:
            busy = list(self._open)
        for conn in busy:  # in a worker or a stream: its next write fails, which ends it
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _close(self, conn: _Conn) -> None:
        with self._lock:
            self._open.discard(conn)
        with contextlib.suppress(OSError):
            conn.sock.close()

    # --- the reader thread: accepts, reads heads and bodies, times out, evicts ---------------

    def _read_loop(self) -> None:
        sel = selectors.DefaultSelector()
        waiting: dict[_Conn, None] = {}  # in the order they began waiting
        sel.register(self._listener, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        paused_until = swept = 0.0
        try:
            while not self._closing.is_set():
                for key, _ in self._select(sel):
                    if key.data == "listen" and not self._accept(sel, waiting):
                        sel.unregister(self._listener)  # out of descriptors: a pause
                        paused_until = time.monotonic() + 0.1
                    elif key.data == "wake":
                        self._take_back(sel, waiting)
                    elif isinstance(key.data, _Conn):
                        self._guarded(self._receive, key.data, sel, waiting)
                now = time.monotonic()
                if paused_until and now >= paused_until:
                    sel.register(self._listener, selectors.EVENT_READ, "listen")
                    paused_until = 0.0
                if now - swept >= 0.25:  # not at every event: a flood makes many
                    swept = now
                    for conn in [c for c in waiting if now > c.deadline(self.limits)]:
                        self.counts["timed_out"] += 1
                        self._drop(conn, sel, waiting)
        finally:
            for conn in list(waiting):
                self._drop(conn, sel, waiting)
            sel.close()

    def _select(self, sel: selectors.BaseSelector) -> list[tuple[selectors.SelectorKey, int]]:
        try:
            return sel.select(0.25)
        except OSError as exc:  # (a descriptor closed under it): the next round has it right
            logger.warning("web: select failed: %s", exc)
            return []

    def _guarded(
        self,
        step: Callable[[_Conn, selectors.BaseSelector, dict[_Conn, None]], None],
        conn: _Conn,
        sel: selectors.BaseSelector,
        waiting: dict[_Conn, None],
    ) -> None:
        """One connection's step; a bug in it ends that connection, never the reader."""
        try:
            step(conn, sel, waiting)
        except Exception:
            logger.exception("web: reading from %s failed", conn.peer)
            self._drop(conn, sel, waiting)

    def _drop(self, conn: _Conn, sel: selectors.BaseSelector, waiting: dict[_Conn, None]) -> None:
        waiting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn.sock)
        self._close(conn)

    def _accept(self, sel: selectors.BaseSelector, waiting: dict[_Conn, None]) -> bool:
        """Take what the backlog holds; False when out of file descriptors with none to free."""
        for _ in range(64):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except ConnectionAbortedError:  # the client gave up before we took it
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                logger.warning("web: cannot accept: %s", exc)
                if not waiting:
                    return False
                self.counts["evicted"] += 1
                self._drop(next(iter(waiting)), sel, waiting)
                continue
            conn = _Conn(sock, str(peer[0]), time.monotonic())
            with self._lock:
                full = len(self._open) >= self.limits.max_connections
            if full and waiting:  # the one that has waited longest for its request goes
                self.counts["evicted"] += 1
                self._drop(next(iter(waiting)), sel, waiting)
            elif full:
                self.counts["refused"] += 1
                sock.close()
                continue
            self.counts["accepted"] += 1
            sock.setblocking(False)
            with self._lock:
                self._open.add(conn)
            sel.register(sock, selectors.EVENT_READ, conn)
            waiting[conn] = None
        return True

    def _take_back(self, sel: selectors.BaseSelector, waiting: dict[_Conn, None]) -> None:
        """Connections a worker answered and keeps alive: wait for their next request."""
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while not self._returned.empty():
            conn = self._returned.get()
            if self._closing.is_set():
                self._close(conn)
                continue
            conn.sock.setblocking(False)
            sel.register(conn.sock, selectors.EVENT_READ, conn)
            waiting[conn] = None
            self._guarded(self._parse, conn, sel, waiting)  # a pipelined request may be there

    def _receive(
        self, conn: _Conn, sel: selectors.BaseSelector, waiting: dict[_Conn, None]
    ) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, sel, waiting)
            return
        if conn.started is None:
            conn.started = time.monotonic()
        conn.buf += data
        self._parse(conn, sel, waiting)

    def _parse(self, conn: _Conn, sel: selectors.BaseSelector, waiting: dict[_Conn, None]) -> None:
        buf = conn.buf
        if conn.head is None:
            while buf.startswith((b"\r", b"\n")):  # blank lines before a request are ignored
                del buf[:1]
                conn.scanned = 0
            # From where the last search ended: a head sent a byte at a time costs linear time.
            end = HEAD_END.search(buf, max(0, conn.scanned - 3))
            conn.scanned = len(buf)
            if end is None or end.start() > MAX_HEAD:
                if len(buf) > MAX_HEAD:
                    self._refuse(conn, error(431, "request head too large"), sel, waiting)
                return
            conn.scanned = 0
            head = parse_head(bytes(buf[: end.start()]))
            if isinstance(head, Response):
                self._refuse(conn, head, sel, waiting)
                return
            del buf[: end.end()]
            conn.head = head
        head = conn.head
        if len(buf) < head.length:
            expect = head.headers.get("expect", "").lower() == "100-continue"
            if expect and not conn.continued and head.version == "HTTP/1.1":
                conn.continued = True
                with contextlib.suppress(OSError):
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        body = bytes(buf[: head.length])
        del buf[: head.length]
        conn.head, conn.continued = None, False
        waiting.pop(conn, None)
        sel.unregister(conn.sock)
        self._jobs.put((conn, head, body))

    def _refuse(
        self, conn: _Conn, resp: Response, sel: selectors.BaseSelector, waiting: dict[_Conn, None]
    ) -> None:
        """A request that is not one: the answer if the socket takes it at once, then close."""
        self.counts["bad_request"] += 1
        with contextlib.suppress(OSError):
            conn.sock.send(_head_bytes(resp, close=True) + resp.body)
        self._drop(conn, sel, waiting)

    # --- the workers: route, answer, keep alive ----------------------------------------------

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            conn, head, body = job
            try:
                self._serve(conn, head, body)
            except Exception:  # a write that failed, or a bug: this connection only
                logger.debug("web: connection from %s ended", conn.peer, exc_info=True)
                self._close(conn)

    def _serve(self, conn: _Conn, head: Head, body: bytes) -> None:
        resp = self._answer(conn, head, body)
        keep = head.keep_alive and not self._closing.is_set()
        conn.sock.settimeout(self.limits.write_timeout_s)
        if head.method == "HEAD":  # the headers a GET would have, no body
            _close_iter(resp.stream)
            conn.sock.sendall(_head_bytes(resp, close=not keep))
        elif resp.stream is not None:
            self._start_stream(conn, resp)
            return
        else:
            conn.sock.sendall(_head_bytes(resp, close=not keep) + resp.body)
        if not keep:
            self._close(conn)
            return
        conn.served, conn.since, conn.started = True, time.monotonic(), None
        if conn.buf:
            conn.started = conn.since
        self._returned.put(conn)
        self._wake()

    def _answer(self, conn: _Conn, head: Head, body: bytes) -> Response:
        host = head.headers.get("host")
        # An HTTP/1.0 client that names no host is no browser (a browser always sends it).
        anonymous = host is None and head.version == "HTTP/1.0"
        if self._hosts is not None and not anonymous and not host_allowed(host, self._hosts):
            with self._lock:
                self.counts["wrong_host"] += 1
            return error(421, "unknown host: not a name of this server")
        path, _, query = head.target.partition("?")
        req = Request(
            method="GET" if head.method == "HEAD" else head.method,
            path=path,
            query={k: tuple(v) for k, v in parse_qs(query, keep_blank_values=True).items()},
            headers=head.headers,
            cookies=parse_cookies(head.headers.get("cookie")),
            body=body,
            client=conn.peer,
        )
        route = resolve(self._routes, req.path)
        if route is None:
            paths = sorted(k for k in self._routes if not k.endswith("*"))
            return Response.json(404, {"error": "not found", "paths": paths})
        try:
            return route(req)
        except Exception:
            logger.exception("web route %s %s failed", req.method, req.path)
            return Response.json(500, {"error": "internal error"})

    def _start_stream(self, conn: _Conn, resp: Response) -> None:
        with self._lock:
            busy = self._streams >= self.limits.max_streams
            if not busy:
                self._streams += 1
        if busy:
            with self._lock:
                self.counts["busy"] += 1
            _close_iter(resp.stream)
            refused = error(503, "too many streams")
            conn.sock.sendall(_head_bytes(refused, close=True) + refused.body)
            self._close(conn)
            return
        stream = threading.Thread(target=self._stream, args=(conn, resp), name="web-stream")
        stream.daemon = True
        stream.start()

    def _stream(self, conn: _Conn, resp: Response) -> None:
        assert resp.stream is not None
        it: Iterator[bytes] = iter(resp.stream)
        try:
            conn.sock.sendall(_head_bytes(resp, close=True, chunked=True) + _chunk(resp.body))
            for chunk in it:
                if self._closing.is_set():
                    return
                conn.sock.sendall(_chunk(chunk))
            conn.sock.sendall(b"0\r\n\r\n")
        except OSError as exc:  # BrokenPipe, ConnectionReset, timeout: the client left
            logger.debug("web: stream to %s ended: %s", conn.peer, exc)
        finally:
            _close_iter(it)
            self._close(conn)
            with self._lock:
                self._streams -= 1


def _close_iter(it: object) -> None:
    close: Any = getattr(it, "close", None)
    if close is not None:
        close()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""  # empty would end the stream


def _head_bytes(resp: Response, *, close: bool, chunked: bool = False) -> bytes:
    try:
        phrase = HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = ""
    lines = [
        f"HTTP/1.1 {resp.status} {phrase}",
        "Server: hallwatch",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {resp.content_type}",
        "X-Content-Type-Options: nosniff",
        *(f"{name}: {value}" for name, value in resp.headers),
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(resp.body)}",
    ]
    if close:
        lines.append("Connection: close")
    text = "\r\n".join(line.replace("\r", " ").replace("\n", " ") for line in lines)
    return (text + "\r\n\r\n").encode("latin-1", "replace")

"""Requests, responses and routes of the web server (server.py): values and pure helpers.

Each route is a function from a `Request` (method, path, query, headers, cookies, body, client
address) to a `Response`; the routes decide which methods they answer. A route key ending in
`*` matches every path under it (the longest such prefix wins over a shorter one; an exact key
wins over both). Also pure: parsing a request head, the `Host` check, the /metrics exposition.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

from hallkit import http

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
MAX_BODY = 65536  # the console's forms and JSON are small; the contract's payload limit
_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")


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
        # A lone surrogate (an old journal's JSON escape) stays the escape it was: valid JSON.
        body = text.encode("utf-8", "backslashreplace")
        return cls(status, "application/json; charset=utf-8", body)

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


def utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (stored text from an old journal) becomes U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode()


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


# --- request heads --------------------------------------------------------------------------


def error(status: int, text: str) -> Response:
    return Response.json(status, {"error": text})


def parse_head(raw: bytes) -> http.Head | Response:
    """The request line and headers (hallkit/http.py), or the error to answer."""
    head = http.parse_head(raw, MAX_BODY)
    return error(head.status, head.reason) if isinstance(head, http.Refused) else head


def host_allowed(host: str | None, names: Collection[str]) -> bool:
    """`Host` names this server: an IP address, `localhost` (RFC 6761), or one of `names`."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):  # [v6]:port
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name, _, port = name.partition(":")
        if not port.isdigit():
            return False
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name == "localhost" or name.endswith(".localhost") or name in names


# --- /metrics -----------------------------------------------------------------------------------


def prometheus(metrics: list[tuple[str, str, str, dict[str, str], float]]) -> Response:
    """Render (name, type, help, labels, value) rows in the text exposition format (0.0.4):
    one HELP and TYPE per name, its samples together, values exact (a count is an integer,
    never `1.23457e+06`; a float is the shortest text that reads back as itself)."""
    families: dict[str, list[tuple[str, str, dict[str, str], float]]] = {}
    for name, kind, text, labels, value in metrics:
        families.setdefault(name, []).append((kind, text, labels, value))
    lines: list[str] = []
    for name, samples in families.items():
        kind, text = samples[0][0], samples[0][1]
        help_text = text.replace("\\", "\\\\").replace("\n", "\\n")
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for _, _, labels, value in samples:
            label = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{name}{{{label}}} {number(value)}" if label else f"{name} {number(value)}"
            )
    body = utf8("\n".join(lines) + "\n")
    return Response(200, "text/plain; version=0.0.4; charset=utf-8", body)


def number(value: float) -> str:
    """A sample value as Prometheus reads it back exactly."""
    if isinstance(value, int):  # bool too
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

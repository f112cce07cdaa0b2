"""HTTP on a loopback port: /healthz for probes, /metrics for Prometheus.

A thin shell over snapshot functions the daemon passes in; later pages hang off `routes`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes

    @classmethod
    def json(cls, status: int, doc: object) -> Response:
        text = json.dumps(doc, ensure_ascii=False, indent=1, default=str)
        return cls(status, "application/json; charset=utf-8", text.encode())


Route = Callable[[], Response]


class WebServer:
    def __init__(self, listen: str, port: int, routes: dict[str, Route]) -> None:
        handler = _handler_for(routes)
        self._server = ThreadingHTTPServer((listen, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        logger.info("web listening on http://%s:%d", *self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(routes: dict[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hallwatch"

        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                resp = Response.json(404, {"error": "not found", "paths": sorted(routes)})
            else:
                try:
                    resp = route()
                except Exception:
                    logger.exception("web route %s failed", self.path)
                    resp = Response.json(500, {"error": "internal error"})
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)

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

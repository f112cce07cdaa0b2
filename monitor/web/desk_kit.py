"""What the complaint desk and the notices take from the console (`monitor/web/api.py`), handed
over by `Console.routes`, so that neither imports the module that imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from alerts.config import HallConfig
from alerts.supervision import Supervision
from monitor.ingest.journal import Journal
from monitor.web.auth import Permission, Session
from monitor.web.console import Decisions
from monitor.web.server import Request, Response

T = TypeVar("T")
Handler = Callable[[Request, Session], Response]
Route = Callable[[Request], Response]


class HallView(Protocol):
    """The running daemon, as `api.Hall` gives it."""

    @property
    def config(self) -> Callable[[], HallConfig]: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def decisions(self) -> Decisions: ...
    @property
    def audit_key(self) -> bytes: ...
    @property
    def now(self) -> Callable[[], datetime]: ...
    def read(self, fn: Callable[[Supervision], T], /) -> T: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Web:
    hall: HallView
    need: Callable[[Permission, Handler], Route]  # a session holding the permission
    csrf: Callable[[Permission, Handler], Route]  # and, for a POST, its CSRF token
    session: Callable[[Request], Session | None]
    client: Callable[[Request], str]
    err: Callable[[int, str, str], Response]
    no_store: Callable[[Response], Response]
    json_body: Callable[[Request], dict[str, Any] | Response]
    html: Callable[[str], Response]

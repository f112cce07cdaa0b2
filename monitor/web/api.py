"""The console over HTTP: login, the JSON API its pages use, the pages, the OpenAPI document.

Every route here but the login page, its assets and the OpenAPI document needs a session;
without one the API answers 401 and a page redirects to the login. A session whose role lacks
the permission gets 403 (the permissions of each role: `monitor.web.auth.GRANTS`). Every POST of a
session needs its CSRF token in `X-CSRF-Token` and, if the browser sends an Origin, this
host's (or one of `web.origins`); the cookie is also SameSite=Strict.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.resources import files
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote

from alerts.accounts import Account, Role
from alerts.cards import CardState
from alerts.config import HallConfig
from alerts.events import CardAction, EventKind, Mitigation
from alerts.ids import CardId
from alerts.rules import RULES, Level, RuleId
from alerts.supervision import Supervision
from monitor import __version__
from monitor.ingest.journal import Journal
from monitor.reports import annual, archives, downloads
from monitor.reports.monthly import MonthReport
from monitor.reports.pdf import PdfError, html_to_pdf
from monitor.web import cardpage, complaints_desk, desk_kit, notices_print
from monitor.web.auth import (
    COOKIE,
    CSRF_HEADER,
    CsrfVerdict,
    LoginGate,
    Permission,
    Session,
    Sessions,
    Throttle,
    check_csrf,
    clear_cookie,
    client_address,
    login_keys,
    origin_ok,
    session_cookie,
)
from monitor.web.board import Board
from monitor.web.console import (
    MAX_TEXT,
    CardFilter,
    ConsoleError,
    Decisions,
    Names,
    attendance_doc,
    attendance_html,
    audit_rows,
    card_detail,
    channel_labels,
    channel_row,
    complaints,
    list_cards,
    month_report,
    month_report_html,
    not_told_row,
    notice_row,
    transition_row,
)
from monitor.web.openapi import spec
from monitor.web.server import Request, Response, Route, method_not_allowed, utf8

logger = logging.getLogger(__name__)

T = TypeVar("T")
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
PUBLIC_ASSETS = ("login.html", "login.js", "console.css")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class Reader(Protocol):
    """Runs `fn` on the live state with the daemon's state lock held."""

    def __call__(self, fn: Callable[[Supervision], T], /) -> T: ...


class NoticeLog(Protocol):
    """The notifier's read side (monitor/outputs/notify.py `Notifier`), times as datetimes."""

    def card_log(self, card: str) -> list[dict[str, Any]]: ...
    def skipped(self, card: str) -> list[dict[str, Any]]: ...
    def unsent(
        self, *, failed: bool | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]: ...
    def channel_log(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Hall:
    """What the console needs from the running daemon."""

    config: Callable[[], HallConfig]
    read: Reader
    journal: Journal
    decisions: Decisions
    audit_key: bytes
    now: Callable[[], datetime]
    reload: Callable[[], None]
    notices: NoticeLog | None = None  # None: notification is off (no channel configured)


def _err(status: int, code: str, message_zh: str) -> Response:
    return _no_store(Response.json(status, {"error": code, "message": message_zh}))


def _no_store(resp: Response, *extra: tuple[str, str]) -> Response:
    headers = (("Cache-Control", "no-store"), *resp.headers, *extra)
    return Response(resp.status, resp.content_type, resp.body, headers, resp.stream)


def _page(resp: Response) -> Response:
    return _no_store(
        resp,
        ("Content-Security-Policy", PAGE_CSP),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Referrer-Policy", "same-origin"),
    )


def _html(text: str) -> Response:
    return _page(Response(200, "text/html; charset=utf-8", utf8(text)))


class Console:
    """Routes of the console; sessions and login throttling live here (in memory)."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        web = hall.config().web
        self.sessions = Sessions(
            timedelta(minutes=web.session_minutes), timedelta(minutes=web.idle_minutes)
        )
        lockout = timedelta(minutes=web.login_lockout_minutes)
        self.throttle = Throttle(web.login_attempts, lockout, lockout)
        self.gate = LoginGate(web.login_concurrency)
        folder = files("monitor.web").joinpath("static").joinpath("console")
        self._assets = {i.name: Response.asset(i.name, i.read_bytes()) for i in folder.iterdir()}

    def routes(self) -> dict[str, Route]:
        gets: dict[str, Callable[[Request], Response]] = {
            "/api/openapi.json": lambda _r: _no_store(Response.json(200, spec())),
            "/api/session": self._session_info,
            "/api/meta": self._meta,
            "/api/cards": self._need(Permission.READ_CARDS, self._cards),
            "/api/complaints": self._need(Permission.READ_COMPLAINTS, self._complaints),
            "/api/attendance": self._need(Permission.READ_ATTENDANCE, self._attendance),
            "/api/board": self._need(Permission.READ_ATTENDANCE, Board(self.hall).api),
            "/api/audit": self._need(Permission.READ_AUDIT, self._audit),
            "/api/notices": self._need(Permission.READ_AUDIT, self._unsent),
            "/api/config": self._need(Permission.CONFIGURE, self._config),
            "/api/archives": self._need(Permission.READ_DISPLAY, self._archives),
            "/console": lambda _r: _redirect("/console/"),
            "/console/": self._index,
            "/console/login": lambda _r: _page(self._assets["login.html"]),
            "/console/attendance/sheet": self._sheet,
            "/console/report": self._report,
            "/console/report.pdf": self._download(Permission.READ_REPORT, self._report_pdf),
            "/console/report.xlsx": self._download(Permission.READ_REPORT, self._report_xlsx),
            "/console/annual": self._annual,
            "/console/annual.xlsx": self._download(Permission.READ_REPORT, self._annual_xlsx),
            "/console/attendance/sheet.pdf": self._download(
                Permission.READ_ATTENDANCE, self._sheet_pdf
            ),
            "/console/static/*": self._asset,
        }
        posts: dict[str, Callable[[Request], Response]] = {
            "/api/login": self._login,
            "/api/logout": self._csrf(None, self._logout),
            "/api/config/reload": self._csrf(Permission.CONFIGURE, self._reload),
        }
        kit = desk_kit.Web(
            hall=self.hall,
            need=self._need,
            csrf=self._csrf,
            session=self.session,
            client=self.client,
            err=_err,
            no_store=_no_store,
            json_body=_json_body,
            html=_html,
        )
        desk, notices = complaints_desk.Desk(kit), notices_print.Notices(kit)
        gets, posts = {**gets, **desk.gets(), **notices.gets()}, {**posts, **desk.posts()}
        from monitor.web.cardviews import CardViews  # the list's paging, export, feed

        gets.update(CardViews(self, card_filter).gets())
        from monitor.web.register import RegisterViews  # the negative-filing register

        gets.update(RegisterViews(self).gets())
        routes: dict[str, Route] = {}
        for path in {*gets, *posts}:
            routes[path] = _by_method(gets.get(path), posts.get(path))
        routes["/api/cards/*"] = self._card_routes
        return routes

    # --- who is asking --------------------------------------------------------------------

    def _accounts(self) -> dict[str, Account]:
        return {u.name: u.account for u in self.hall.config().users}

    def session(self, req: Request) -> Session | None:
        return self.sessions.get(req.cookies.get(COOKIE), self._accounts(), self.hall.now())

    def client(self, req: Request) -> str:
        trusted = self.hall.config().web.trusted_proxies
        return client_address(req.client, req.header("X-Forwarded-For"), trusted)

    def _need(
        self, permission: Permission, fn: Callable[[Request, Session], Response]
    ) -> Callable[[Request], Response]:
        def route(req: Request) -> Response:
            s = self.session(req)
            if s is None:
                return _err(401, "login_required", "请先登录。")
            if not s.may(permission):
                return _err(403, "forbidden", f"{s.role.label_zh}账号无权访问此功能。")
            try:
                return fn(req, s)
            except ConsoleError as exc:
                return _err(exc.status, exc.code, exc.message_zh)

        return route

    def _csrf(
        self, permission: Permission | None, fn: Callable[[Request, Session], Response]
    ) -> Callable[[Request], Response]:
        """A state-changing route: a session, its permission, its CSRF token, our origin."""

        def checked(req: Request, s: Session) -> Response:
            web = self.hall.config().web
            verdict = check_csrf(
                s, req.header(CSRF_HEADER), req.header("Origin"), req.header("Host"), web.origins
            )
            if verdict is not CsrfVerdict.OK:
                logger.warning("console: %s refused for %s: %s", req.path, s.user, verdict)
                return _err(403, f"csrf_{verdict.value}", verdict.label_zh)
            return fn(req, s)

        if permission is None:
            return self._need(Permission.READ_DISPLAY, checked)  # every role holds it
        return self._need(permission, checked)

    # --- login ----------------------------------------------------------------------------

    def _login(self, req: Request) -> Response:
        web = self.hall.config().web
        if not origin_ok(req.header("Origin"), req.header("Host"), web.origins):
            return _err(403, "csrf_foreign_origin", CsrfVerdict.FOREIGN_ORIGIN.label_zh)
        body = _json_body(req)
        if isinstance(body, Response):
            return body
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
            return _err(400, "bad_request", "请填写用户名和密码。")
        client, now = self.client(req), self.hall.now()
        keys = login_keys(client, name)
        until = self.throttle.attempt(keys, now)  # counted before the check: no parallel escape
        if until is not None:
            wait = max(1, int((until - now).total_seconds()))
            resp = _err(429, "throttled", f"登录失败次数过多，请{(wait + 59) // 60}分钟后再试。")
            return _no_store(resp, ("Retry-After", str(wait)))
        account = self._accounts().get(name)
        ok = self.gate.verify(password, account.password_hash if account else None)
        if ok is None:
            self.throttle.cancel(keys, now)  # never checked: not an attempt
            resp = _err(503, "busy", "登录的人太多，请稍后再试。")
            return _no_store(resp, ("Retry-After", "1"))
        if not ok:
            logger.warning("console: failed login for %r from %s", name[:64], client)
            return _err(401, "bad_credentials", "用户名或密码错误。")
        assert account is not None
        self.throttle.succeeded(keys)
        token, s = self.sessions.open(account, client, now)
        logger.info("console: %s (%s) logged in from %s", s.user, s.role, client)
        cookie = session_cookie(token, web.session_minutes * 60, secure=web.secure_cookie)
        return _no_store(Response.json(200, self._session_doc(s)), ("Set-Cookie", cookie))

    def _logout(self, req: Request, s: Session) -> Response:
        self.sessions.close(req.cookies.get(COOKIE))
        logger.info("console: %s logged out", s.user)
        cookie = clear_cookie(secure=self.hall.config().web.secure_cookie)
        return _no_store(Response.json(200, {"ok": True}), ("Set-Cookie", cookie))

    def _session_doc(self, s: Session) -> dict[str, Any]:
        cfg = self.hall.config()
        names = Names.of(cfg)
        idle_end = s.seen + self.sessions.idle
        return {
            "user": s.user,
            "role": s.role.value,
            "role_zh": s.role.label_zh,
            "staff": s.staff,
            "staff_name": names.person(s.staff),
            "permissions": sorted(p.value for p in Permission if s.may(p)),
            "csrf": s.csrf,
            "expires_at": min(s.expires, idle_end).isoformat(),
            "hall": cfg.hall.name,
        }

    def _session_info(self, req: Request) -> Response:
        s = self.session(req)
        if s is None:
            return _err(401, "login_required", "请先登录。")
        return _no_store(Response.json(200, self._session_doc(s)))

    # --- reading --------------------------------------------------------------------------

    def _meta(self, req: Request) -> Response:
        if self.session(req) is None:
            return _err(401, "login_required", "请先登录。")
        cfg = self.hall.config()
        doc = {
            "hall": {"id": cfg.hall.id, "name": cfg.hall.name, "timezone": cfg.hall.timezone},
            "version": __version__,
            "rules": [
                {"id": r.id.value, "title": r.title_zh, "level": r.level.value}
                for r in RULES.values()
            ],
            "windows": [{"id": w.id, "name": w.name} for w in cfg.windows],
            "staff": [{"id": s.id, "name": s.name, "role": s.role} for s in cfg.staff],
        }
        return _no_store(Response.json(200, doc))

    def _cards(self, req: Request, _s: Session) -> Response:
        f = card_filter(req)
        cfg = self.hall.config()
        names, zone = Names.of(cfg), cfg.hall.zone
        doc = self.hall.read(lambda sup: list_cards(sup, f, names, zone))
        return _no_store(Response.json(200, doc))

    def _card_routes(self, req: Request) -> Response:
        rest = unquote(req.path[len("/api/cards/") :])
        card, _, tail = rest.partition("/")
        if tail == "decision":
            if req.method != "POST":
                return method_not_allowed("POST")
            return self._csrf(Permission.DECIDE_CARDS, lambda r, s: self._decide(r, s, card))(req)
        if tail or not card:
            return _err(404, "not_found", "没有这个地址。")
        if req.method != "GET":
            return method_not_allowed("GET")
        return self._need(Permission.READ_CARDS, lambda r, s: self._card(card, s))(req)

    def _card(self, card: str, s: Session) -> Response:
        cfg = self.hall.config()
        names, zone = Names.of(cfg), cfg.hall.zone
        found = self.hall.read(lambda sup: sup.engine.cards.get(CardId(card)))
        if found is None:
            return _err(404, "unknown_card", "没有这张牌。")
        evidence = self.hall.journal.find(list(found.evidence))
        doc = self.hall.read(
            lambda sup: {
                **card_detail(found, evidence, names, zone),
                **cardpage.people_view(found, sup, evidence, names, zone, s),
            }
        )
        return _no_store(Response.json(200, {**doc, **self._told(card, cfg)}))

    def _told(self, card: str, cfg: HallConfig) -> dict[str, Any]:
        """通知记录: the card's notices, and whom a route named but nobody could reach."""
        log, names, zone = self.hall.notices, Names.of(cfg), cfg.hall.zone
        if log is None:
            return {"notify_enabled": False, "notices": []}
        labels = channel_labels(cfg)
        rows = [notice_row(n, names, labels, zone) for n in log.card_log(card)]
        rows += [not_told_row(k, card, names, zone) for k in log.skipped(card)]
        rows.sort(key=lambda r: r["created_at"] or "")  # stable: a send's rows stay in order
        return {"notify_enabled": True, "notices": rows}

    def _unsent(self, req: Request, _s: Session) -> Response:
        """通知失败: notices not sent yet, newest first, and each channel's state."""
        which = _choice(req, "status", {"unsent": None, "failed": True, "waiting": False})
        limit = _int_arg(req, "limit", 50, 1, 500)
        offset = _int_arg(req, "offset", 0, 0, 1_000_000)
        cfg, log = self.hall.config(), self.hall.notices
        if log is None:
            doc: dict[str, Any] = {"notify_enabled": False, "total": 0, "notices": []}
            return _no_store(Response.json(200, {**doc, "channels": []}))
        names, zone, labels = Names.of(cfg), cfg.hall.zone, channel_labels(cfg)
        total, page = log.unsent(failed=which, limit=limit, offset=offset)
        doc = {
            "notify_enabled": True,
            "total": total,
            "notices": [notice_row(n, names, labels, zone) for n in page],
            "channels": [channel_row(c, labels, zone) for c in log.channel_log()],
        }
        return _no_store(Response.json(200, doc))

    def _complaints(self, req: Request, _s: Session) -> Response:
        cfg, now = self.hall.config(), self.hall.now()
        names = Names.of(cfg)
        everything = _flag(req, "include_voided")
        rows = self.hall.read(lambda sup: complaints(sup, cfg, names, now, everything))
        return _no_store(Response.json(200, {"complaints": rows}))

    def _attendance(self, req: Request, _s: Session) -> Response:
        cfg, now = self.hall.config(), self.hall.now()
        day = _day_arg(req, "date") or now.astimezone(cfg.hall.zone).date()
        doc = self.hall.read(lambda sup: attendance_doc(sup, cfg, day, now))
        return _no_store(Response.json(200, doc))

    def _audit(self, req: Request, _s: Session) -> Response:
        limit = _int_arg(req, "limit", 200, 1, 1000)
        cfg = self.hall.config()
        rows = self.hall.journal.latest_of_kind(EventKind.CARD_COMMAND, limit)
        names, zone, key = Names.of(cfg), cfg.hall.zone, self.hall.audit_key
        doc = self.hall.read(lambda sup: audit_rows(rows, sup, cfg.hall.id, key, names, zone))
        return _no_store(Response.json(200, {"entries": doc}))

    def _archives(self, req: Request, s: Session) -> Response:
        """The scheduled jobs' archives (monitor/jobs.py): the list, or with `name` the file."""
        if not (s.may(Permission.READ_REPORT) or s.may(Permission.CONFIGURE)):
            return _err(403, "forbidden", f"{s.role.label_zh}账号无权访问此功能。")
        cfg = self.hall.config()
        root, name = archives.folder(cfg), req.arg("name")
        if not name:
            doc = {"archives": [e.doc() for e in archives.listing(root)]}
            return _no_store(Response.json(200, doc))
        if not archives.NAME.match(name):
            raise _bad("name", "须为归档文件名, 如 daily/2026-11-23.pdf")
        found = archives.read(root, name)
        if found is None:
            return _err(404, "not_found", "没有这个归档文件。")
        save_as = quote(f"hallwatch-{cfg.hall.id}-{name.replace('/', '-')}")
        disposition = (("Content-Disposition", f"attachment; filename*=UTF-8''{save_as}"),)
        return _no_store(Response(200, found[0], found[1], disposition))

    def _config(self, _req: Request, _s: Session) -> Response:
        doc = self.hall.config().model_dump(mode="json")
        for u in doc.get("users", []):
            u["password_hash"] = "(hidden)"
        return _no_store(Response.json(200, doc))

    # --- deciding -------------------------------------------------------------------------

    def _decide(self, req: Request, s: Session, card: str) -> Response:
        body = _json_body(req)
        if isinstance(body, Response):
            return body
        action, text = body.get("action"), body.get("text")
        if not isinstance(action, str) or action not in {a.value for a in CardAction}:
            return _err(
                422,
                "bad_action",
                "操作须为 answer(录入申辩)、uphold(维持)、mitigate(从轻、减轻或免予处理)"
                "或 revoke(撤销)。",
            )
        mitigation = body.get("mitigation")
        known = {m.value for m in Mitigation}
        if action == CardAction.MITIGATE and not (
            isinstance(mitigation, str) and mitigation in known
        ):
            choices = "lighter(从轻)、reduced(减轻)或 exempt(免予)"
            return _err(422, "bad_mitigation", f"请选择处理方式：{choices}。")
        if not isinstance(text, str) or not text.strip():
            return _err(422, "text_required", "请填写说明(申辩内容或决定理由)。")
        if len(text) > MAX_TEXT:
            return _err(422, "text_too_long", f"说明不能超过{MAX_TEXT}字。")
        if not _encodable(text):
            return _err(422, "bad_text", "说明含有无效字符(孤立的代理项)。")
        if self.hall.read(lambda sup: sup.engine.cards.get(CardId(card))) is None:
            return _err(404, "unknown_card", "没有这张牌。")
        now, client = self.hall.now(), self.client(req)
        d = self.hall.decisions
        mit = Mitigation(str(mitigation)) if action == CardAction.MITIGATE else None
        topic, payload = d.command(card, CardAction(action), text.strip(), s, client, now, mit)
        done = d.submit(topic, payload, now)
        logger.info(
            "console: %s %s card %s from %s (seq %d)", s.user, action, card, client, done.seq
        )
        cfg = self.hall.config()
        names, zone = Names.of(cfg), cfg.hall.zone
        doc = {
            "card": card,
            "seq": done.seq,
            "event_id": done.event_id,
            "transitions": [transition_row(t, names, zone) for t in done.transitions],
        }
        return _no_store(Response.json(200, doc))

    def _reload(self, _req: Request, s: Session) -> Response:
        logger.info("console: %s asked for a configuration reload", s.user)
        self.hall.reload()
        return _no_store(Response.json(202, {"ok": True, "message": "已请求重新加载配置。"}))

    # --- pages ----------------------------------------------------------------------------

    def _index(self, req: Request) -> Response:
        if self.session(req) is None:
            return _redirect("/console/login")
        return _page(self._assets["index.html"])

    def _asset(self, req: Request) -> Response:
        name = req.path[len("/console/static/") :]
        asset = self._assets.get(name)
        if asset is None:
            return _err(404, "not_found", "没有这个文件。")
        if name not in PUBLIC_ASSETS and self.session(req) is None:
            return _err(401, "login_required", "请先登录。")
        return asset

    def _sheet(self, req: Request) -> Response:
        return self._html_page(req, Permission.READ_ATTENDANCE, self._sheet_html)

    def _sheet_html(self, req: Request) -> str:
        cfg, now = self.hall.config(), self.hall.now()
        day = _day_arg(req, "date") or now.astimezone(cfg.hall.zone).date()
        return self.hall.read(lambda sup: attendance_html(sup, cfg, day, now))

    def _report(self, req: Request) -> Response:
        return self._html_page(req, Permission.READ_REPORT, self._report_html)

    def _report_html(self, req: Request) -> str:
        cfg, now = self.hall.config(), self.hall.now()
        local = now.astimezone(cfg.hall.zone)
        month = _month_arg(req) or (local.year, local.month)
        figures = self.hall.read(lambda sup: month_report(sup, cfg, month, now))
        return month_report_html(figures)

    def _month_figures(self, req: Request) -> MonthReport:
        cfg, now = self.hall.config(), self.hall.now()
        local = now.astimezone(cfg.hall.zone)
        month = _month_arg(req) or (local.year, local.month)
        return self.hall.read(lambda sup: month_report(sup, cfg, month, now))

    def _year_figures(self, req: Request) -> annual.YearReport:
        cfg, now = self.hall.config(), self.hall.now()
        year = _int_arg(req, "year", now.astimezone(cfg.hall.zone).year, 2000, 2100)
        return self.hall.read(lambda sup: annual.year_report(sup, cfg, year, now))

    def _annual(self, req: Request) -> Response:
        return self._html_page(
            req, Permission.READ_REPORT, lambda r: annual.render_year_html(self._year_figures(r))
        )

    def _annual_xlsx(self, req: Request) -> tuple[str, str, bytes]:
        r = self._year_figures(req)
        name = f"hallwatch-{self.hall.config().hall.id}-{r.scores.year}-annual.xlsx"
        return name, downloads.XLSX_TYPE, annual.render_year_xlsx(r)

    def _report_pdf(self, req: Request) -> tuple[str, str, bytes]:
        r = self._month_figures(req)
        return (
            downloads.month_name(self.hall.config().hall.id, r.month, "pdf"),
            downloads.PDF_TYPE,
            downloads.month_pdf(r),
        )

    def _report_xlsx(self, req: Request) -> tuple[str, str, bytes]:
        r = self._month_figures(req)
        name = downloads.month_name(self.hall.config().hall.id, r.month, "xlsx")
        return name, downloads.XLSX_TYPE, downloads.month_xlsx(r)

    def _sheet_pdf(self, req: Request) -> tuple[str, str, bytes]:
        cfg, now = self.hall.config(), self.hall.now()
        day = _day_arg(req, "date") or now.astimezone(cfg.hall.zone).date()
        page = self.hall.read(lambda sup: attendance_html(sup, cfg, day, now))
        name = downloads.sheet_name(cfg.hall.id, day.isoformat())
        return name, downloads.PDF_TYPE, html_to_pdf(page)

    def _download(
        self, permission: Permission, render: Callable[[Request], tuple[str, str, bytes]]
    ) -> Callable[[Request], Response]:
        """A file to save (the report's PDF or XLSX, the sheet's PDF), rendered on request."""

        def route(req: Request) -> Response:
            s = self.session(req)
            if s is None:
                return _redirect("/console/login?next=" + quote(req.path, safe="/"))
            if not s.may(permission):
                return _err(403, "forbidden", f"{s.role.label_zh}账号无权访问此功能。")
            try:
                name, kind, body = render(req)
            except ConsoleError as exc:
                return _err(exc.status, exc.code, exc.message_zh)
            except PdfError as exc:
                return _err(503, "no_pdf", f"无法生成 PDF：{exc}")
            disposition = f"attachment; filename*=UTF-8''{quote(name)}"
            return _no_store(Response(200, kind, body, (("Content-Disposition", disposition),)))

        return route

    def _html_page(
        self, req: Request, permission: Permission, render: Callable[[Request], str]
    ) -> Response:
        s = self.session(req)
        if s is None:
            return _redirect("/console/login?next=" + quote(req.path, safe="/"))
        if not s.may(permission):
            return _err(403, "forbidden", f"{s.role.label_zh}账号无权访问此功能。")
        try:
            return _html(render(req))
        except ConsoleError as exc:
            return _err(exc.status, exc.code, exc.message_zh)


def _by_method(
    get: Callable[[Request], Response] | None, post: Callable[[Request], Response] | None
) -> Route:
    allowed = [m for m, fn in (("GET", get), ("POST", post)) if fn is not None]

    def route(req: Request) -> Response:
        fn = get if req.method == "GET" else post if req.method == "POST" else None
        return method_not_allowed(*allowed) if fn is None else fn(req)

    return route


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON lets through
        return False
    return True


def _redirect(to: str) -> Response:
    return Response(303, "text/plain; charset=utf-8", b"", (("Location", to),))


def _json_body(req: Request) -> dict[str, Any] | Response:
    kind = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if kind != "application/json":
        return _err(415, "json_required", "请求须为 JSON(Content-Type: application/json)。")
    try:
        doc = json.loads(req.body)
    except (ValueError, RecursionError):
        return _err(400, "bad_json", "请求内容不是有效的 JSON。")
    if not isinstance(doc, dict):
        return _err(400, "bad_json", "请求内容须为 JSON 对象。")
    return doc


def _bad(name: str, what: str) -> ConsoleError:
    return ConsoleError(400, f"参数 {name} 无效：{what}", "bad_parameter")


def _choice(req: Request, name: str, allowed: Mapping[str, T]) -> T | None:
    value = req.arg(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise _bad(name, "须为 " + ", ".join(sorted(allowed)))
    return allowed[value]


def _flag(req: Request, name: str) -> bool:
    return _choice(req, name, {"0": False, "1": True}) or False


def _int_arg(req: Request, name: str, default: int, low: int, high: int) -> int:
    value = req.arg(name)
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise _bad(name, f"须为 {low} 到 {high} 的整数")
    return int(value)


def _day_arg(req: Request, name: str) -> date | None:
    value = req.arg(name)
    if value is None or value == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(name, "须为日期 YYYY-MM-DD") from None


def _month_arg(req: Request) -> tuple[int, int] | None:
    value = req.arg("month")
    if value is None or value == "":
        return None
    m = _MONTH.match(value)
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise _bad("month", "须为月份 YYYY-MM")
    return int(m.group(1)), int(m.group(2))


_STATES = {
    "open": frozenset(s for s in CardState if s is not CardState.CLOSED),
    "all": frozenset(CardState),
    "pending": frozenset({CardState.RAISED, CardState.ESCALATED, CardState.ANSWERED}),  # 待处理
    **{s.value: frozenset({s}) for s in CardState},
}


def card_filter(req: Request) -> CardFilter:
    """The card list's filters from the query; a bad value is a 400 naming it."""
    levels = {lvl.value: lvl for lvl in (Level.YELLOW, Level.RED)}
    return CardFilter(
        level=_choice(req, "level", levels),
        rule=_choice(req, "rule", {r.value: r for r in RuleId}),
        window=req.arg("window") or None,
        staff=req.arg("staff") or None,
        day=_day_arg(req, "day"),
        states=_choice(req, "state", _STATES) or _STATES["open"],
        include_voided=_flag(req, "include_voided"),
        limit=_int_arg(req, "limit", 100, 1, 500),
        offset=_int_arg(req, "offset", 0, 0, 1_000_000),
    )


__all__ = ["Console", "Hall", "Reader", "Role", "card_filter"]

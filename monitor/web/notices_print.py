"""督办 (the supervision queue) and the printable notices: 告知书, 整改通知书, 督办通知单.

The queue is the cards nobody answered in time: escalated (逾期未申辩) ones, and raised ones
whose answer deadline has passed before the engine's next tick says so; each with its days
overdue, its owner and the owner's head (the window's `windows[].head`). A notice is one A4
page in Chinese (hall name, serial number, what, when, the rule's 依据, the deadline, signature
lines), as HTML to print and as PDF through the same Chromium path as the reports.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alerts.cards import Card, CardState
from alerts.config import HallConfig
from alerts.ids import CardId
from alerts.rules import RULES
from alerts.supervision import Supervision
from monitor.reports.pdf import PdfError, html_to_pdf
from monitor.web.auth import Permission, Session
from monitor.web.console import ConsoleError, Names, card_row, voided
from monitor.web.desk_kit import Web
from monitor.web.server import Request, Response

KINDS = {"inform": "效能监察告知书", "rectify": "效能监察整改通知书", "urge": "效能督办通知单"}
SERIAL_MARK = {"inform": "告", "rectify": "整", "urge": "督"}
RECTIFY_DAYS = 5  # working days to rectify and report (the 整改 practice the rules cite)
_DAY = timedelta(days=1)


def overdue_cards(sup: Supervision, now: datetime) -> list[Card]:
    """Escalated cards, and raised ones past their answer deadline; longest overdue first."""
    out = [
        c
        for c in sup.engine.cards.values()
        if not voided(c)
        and c.answer_by is not None
        and (c.state is CardState.ESCALATED or (c.state is CardState.RAISED and now > c.answer_by))
    ]
    out.sort(key=lambda c: (c.answer_by or now, c.id))
    return out


def days_overdue(c: Card, now: datetime) -> int:
    if c.answer_by is None or now <= c.answer_by:
        return 0
    return -(-(now - c.answer_by) // _DAY)  # a day begun counts


def queue_row(c: Card, cfg: HallConfig, names: Names, now: datetime) -> dict[str, Any]:
    heads = {w.id: w.head for w in cfg.windows}
    head = heads.get(c.subject.window) if c.subject.window else None
    return {
        **card_row(c, names, cfg.hall.zone),
        "days_overdue": days_overdue(c, now),
        "head": head,
        "head_name": names.person(head),
        "notice": f"/console/notice?kind=urge&card={c.id}",
    }


def serial(cfg: HallConfig, kind: str, c: Card) -> str:
    """Stable: a reprint carries the same number (year of the card, its id)."""
    year = c.raised_at.astimezone(cfg.hall.zone).year
    return f"{cfg.hall.id}〔{year}〕{SERIAL_MARK[kind]}字第 {c.id} 号"


def _zh_time(t: datetime | None, zone: Any) -> str:
    return "—" if t is None else t.astimezone(zone).strftime("%Y年%m月%d日 %H:%M")


def notice_html(kind: str, c: Card, cfg: HallConfig, now: datetime) -> str:
    names, zone = Names.of(cfg), cfg.hall.zone
    row = queue_row(c, cfg, names, now)
    s = row["subject"]
    who = s["staff_name"] or row["owner_name"] or "—"
    window = f"{s['window']} {s['window_name']}" if s["window"] else "—"
    rule = RULES[c.rule]
    facts = [
        ("卡片编号", c.id),
        ("情形", f"{rule.title_zh}({row['level_zh']})"),
        ("窗口", window),
        ("责任人", row["owner_name"] or "—"),
        ("办件编号", s["case"] or "—"),
        ("发生时间", _zh_time(c.raised_at, zone)),
        ("依据", names.bases.text(c.rule)),
    ]
    if kind == "inform":
        to = who
        text = (
            f"经电子监察系统核查，你于{_zh_time(c.raised_at, zone)}发生“{rule.title_zh}”情形。"
            f"请于{_zh_time(c.answer_by, zone)}前向效能投诉中心提出陈述申辩；逾期未申辩的，"
            "视为放弃陈述申辩的权利。"
        )
        facts.append(("申辩期限", _zh_time(c.answer_by, zone)))
        signs = ["效能督查员(签名)", "责任人签收(签名)"]
    elif kind == "rectify":
        to = window if s["window"] else who
        text = (
            f"经核查，上述“{rule.title_zh}”情形属实。请于收到本通知书之日起{RECTIFY_DAYS}个"
            "工作日内整改到位，并将整改情况书面报告效能投诉中心。"
        )
        signs = ["效能督查员(签名)", "窗口负责人签收(签名)"]
    else:
        to = row["head_name"] or "窗口负责人"
        text = (
            f"{row['owner_name'] or who}的上述卡片申辩期限({_zh_time(c.answer_by, zone)})已过，"
            f"已逾期 {row['days_overdue']} 天未申辩。请督促责任人立即办理，并于3个工作日内"
            "将办理情况反馈效能投诉中心。"
        )
        facts.append(("逾期天数", f"{row['days_overdue']} 天"))
        signs = ["效能督查员(签名)", "窗口负责人签收(签名)"]
    return _page(KINDS[kind], cfg.hall.name, serial(cfg, kind, c), to, text, facts, signs, now)


_CSS = """
@page { size: A4; margin: 22mm 20mm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 15px;
  color: #000; max-width: 170mm; margin: 0 auto; line-height: 1.8; }
h1 { text-align: center; font-size: 24px; letter-spacing: 4px; margin: 0 0 4px; }
.hall { text-align: center; font-size: 17px; margin: 0; }
.serial { text-align: right; margin: 8px 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 12px 0; }
th, td { border: 1px solid #000; padding: 4px 8px; text-align: left; vertical-align: top; }
th { width: 7em; white-space: nowrap; }
.signs { display: flex; justify-content: space-between; margin-top: 48px; gap: 24px; }
.signs div { flex: 1; border-top: 1px solid #000; padding-top: 4px; }
.date { text-align: right; margin-top: 36px; }
@media print { .noprint { display: none; } }
"""


def _page(
    title: str,
    hall: str,
    number: str,
    to: str,
    text: str,
    facts: list[tuple[str, str]],
    signs: list[str],
    now: datetime,
) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    sign = "".join(f"<div>{e(s)}</div>" for s in signs)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f'<p class="hall">{e(hall)}效能投诉中心</p><h1>{e(title)}</h1>'
        f'<p class="serial" id="serial">{e(number)}</p>'
        f"<p>{e(to)}：</p><p>{e(text)}</p><table>{rows}</table>"
        f'<div class="signs">{sign}</div>'
        f'<p class="date">{e(hall)}效能投诉中心(盖章)<br>{now:%Y年%m月%d日}</p>'
        "</body></html>"
    )


class Notices:
    """The 督办 queue's route and the notices' pages (`Console.routes` adds them)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.hall = web.hall

    def gets(self) -> dict[str, Callable[[Request], Response]]:
        return {
            "/api/supervision": self.web.need(Permission.READ_CARDS, self.queue),
            "/console/notice": self._page(self._html),
            "/console/notice.pdf": self._page(self._pdf),
        }

    def queue(self, _req: Request, _s: Session) -> Response:
        cfg, now = self.hall.config(), self.hall.now()
        names = Names.of(cfg)
        rows = self.hall.read(
            lambda sup: [queue_row(c, cfg, names, now) for c in overdue_cards(sup, now)]
        )
        return self.web.no_store(Response.json(200, {"total": len(rows), "cards": rows}))

    def _page(self, render: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def route(req: Request) -> Response:
            s = self.web.session(req)
            if s is None:
                return Response(303, "text/plain", b"", (("Location", "/console/login"),))
            if not s.may(Permission.READ_CARDS):
                return self.web.err(403, "forbidden", f"{s.role.label_zh}账号无权访问此功能。")
            try:
                return render(req)
            except ConsoleError as exc:
                return self.web.err(exc.status, exc.code, exc.message_zh)
            except PdfError as exc:
                return self.web.err(503, "no_pdf", f"无法生成 PDF：{exc}")

        return route

    def _notice(self, req: Request) -> tuple[str, str]:
        kind, card = req.arg("kind") or "", req.arg("card") or ""
        if kind not in KINDS:
            raise ConsoleError(400, "参数 kind 无效：须为 inform, rectify, urge", "bad_parameter")
        cfg, now = self.hall.config(), self.hall.now()
        found = self.hall.read(lambda sup: sup.engine.cards.get(CardId(card)))
        if found is None:
            raise ConsoleError(404, "没有这张牌。", "unknown_card")
        page = self.hall.read(lambda _sup: notice_html(kind, found, cfg, now))
        return f"{cfg.hall.id}-{kind}-{found.id}", page

    def _html(self, req: Request) -> Response:
        return self.web.html(self._notice(req)[1])

    def _pdf(self, req: Request) -> Response:
        name, page = self._notice(req)
        disposition = f"attachment; filename={name}.pdf"
        pdf = html_to_pdf(page)
        return self.web.no_store(
            Response(200, "application/pdf", pdf, (("Content-Disposition", disposition),))
        )

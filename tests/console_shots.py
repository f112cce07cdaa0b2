"""Every page of the supervisor's console at desktop width (1366 px) and at 390 px, into docs/.

    .venv/bin/python -m tests.console_shots [--out docs] [--all]

A real daemon (the example hall, real Mosquitto) holds November 2026 simulated with seed 7 up to
Thursday 26 November, 10:30 in the hall, on a stopped clock; an SMS channel whose gateway nobody
listens on makes 通知失败 show a failing channel; three decisions (one refused) fill the audit.
Headless Chromium logs in with the role each page is for and shoots `console-<page>.png` and
`console-<page>-390.png`. Pictures other tests already keep in docs/ (`COVERED`) are only
written with --all; `shoot` returns, per picture, the JavaScript errors seen and the page's
width, so tests/test_console_shots.py can check that no page rots.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.cards import CardState
from alerts.rules import RuleId
from hallkit.clock import SystemClock
from hallkit.config import load_config
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Inbound
from tests.brokers import Mosquitto
from tests.chromium import Chromium
from tests.hall import body, topic
from tests.report_shot import generate_month, month_messages
from tests.running import free_port, wait_until, write_config
from tests.test_console_api import Clock, call, login

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)  # 10:30 on Thursday 26 November in the hall
DESKTOP = (1366, 900)
NARROW = (390, 844)

# Pictures of the same pages other tests keep in docs/: mine → theirs.
COVERED = {
    "console-cards.png": "console-cards.png",
    "console-cards-390.png": "console-cards-390.png",
    "console-card.png": "console-card-case.png",
    "console-card-390.png": "console-card-390.png",
    "console-window.png": "console-window.png",
    "console-window-390.png": "console-window-390.png",
    "console-officer.png": "console-officer.png",
    "console-complaints.png": "console-complaints.png",
    "console-complaints-390.png": "console-complaints-390.png",
    "console-supervision.png": "console-supervision.png",
    "console-supervision-390.png": "console-supervision-390.png",
    "console-board.png": "leader-board.png",
    "console-notices.png": "console-notices.png",
}

# Before any script of the page: what goes wrong is kept where a test can read it.
CATCH = """
window.__errors = [];
addEventListener('error', (e) => __errors.push(
  e.message || ('load failed: ' + (e.target.src || e.target.href))), true);
addEventListener('unhandledrejection', (e) => __errors.push('rejected: ' + String(e.reason)));
"""
# Elements whose right edge is past the viewport (inside a scroller that holds them: not counted).
WIDER = """((w) => [...document.querySelectorAll('body *')].filter((e) => {
  if (e.getBoundingClientRect().right <= w + 1) return false;
  for (let p = e.parentElement; p; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== 'visible'
        && p.getBoundingClientRect().right <= w + 1) return false;
  return true;
}).slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (e.className ? '.' + e.className : '')))"""
ERRORS = (
    "window.__errors.concat([...document.querySelectorAll('#view > .error[role=alert]')]"
    ".map((e) => e.textContent))"
)
LOGIN_READY = "document.getElementById('login')?.dataset.ready === 'yes'"
SHOWN = "!!document.querySelector('#view h2') && !document.querySelector('#view .busy:not(:empty)')"


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    name: str
    role: str  # who logs in for it ("" for the login page)
    hash: str
    ready: str  # a JavaScript condition: the page shows what it is for
    scroll_to: str = ""  # an element id to scroll into view before the shot (else the top)


def _id(ident: str) -> str:
    return f"!!document.getElementById('{ident}')"


CONFIG = "!!document.querySelector('pre.config')"
ROWS = "document.querySelectorAll('#view tbody tr').length > 0"
REPORT = "!!document.querySelector('iframe.report') && " + SHOWN
# The hearing form with 从轻、减轻或免予处理 chosen (000_… 八(七)): its degree row shows.
MITIGATE = """(() => {
  const pick = document.querySelector('#decision select[name=action]');
  if (!pick) return false;
  if (pick.value !== 'mitigate') {
    pick.value = 'mitigate';
    pick.dispatchEvent(new Event('change'));
    document.getElementById('decision-mitigation').value = 'lighter';
  }
  return !document.getElementById('mitigation-row').hidden;
})()"""


def pages(case_card: str, heard_card: str = "") -> list[Page]:
    sup = "supervisor"
    return [
        Page(name="login", role="", hash="", ready=LOGIN_READY),
        Page(name="cards", role=sup, hash="#/cards", ready=_id("page-at")),
        Page(name="card", role=sup, hash=f"#/card/{case_card}", ready=_id("case-link")),
        Page(name="card-mitigate", role=sup, hash=f"#/card/{heard_card or case_card}",
             ready=MITIGATE, scroll_to="decision"),
        Page(name="window", role=sup, hash="#/window/W07", ready=_id("subject-history")),
        Page(name="officer", role=sup, hash="#/staff/S014", ready=_id("subject-history")),
        Page(name="complaints", role=sup, hash="#/complaints", ready=SHOWN),
        Page(name="supervision", role=sup, hash="#/supervision", ready=SHOWN),
        Page(name="register", role=sup, hash="#/register", ready=_id("register-count")),
        Page(name="attendance", role=sup, hash="#/attendance?date=2026-11-26", ready=ROWS),
        Page(name="board", role=sup, hash="#/board", ready=_id("board-live")),
        Page(name="report", role=sup, hash="#/report?month=2026-11", ready=REPORT),
        Page(name="audit", role=sup, hash="#/audit", ready=ROWS),
        Page(name="notices", role=sup, hash="#/notices", ready=_id("notices-count")),
        Page(name="system", role="admin", hash="#/system",
             ready=_id("system-cards") + " || " + _id("system-empty")),
        Page(name="admin", role="admin", hash="#/admin", ready=CONFIG),
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Shot:
    file: Path
    errors: list[str]  # JavaScript errors and failed loads on the page
    width: int  # the document's scroll width: more than the viewport is overflow
    wider: list[str]  # elements reaching past the viewport's right edge (tag#id.class)


def _sms_gateway_down(path: Path) -> None:
    """S001 gets a mobile number and the hall an SMS channel nobody answers."""
    text = path.read_text(encoding="utf-8")
    anchor = 'id = "S001"\nname = "王伟"\n'
    assert text.count(anchor) == 1
    text = text.replace(anchor, anchor + 'mobile = "13800000001"\n')
    dead = free_port()
    text += (
        '\n[notify]\nconsole_url = "https://jiancha.example.gov.cn"\n'
        f'\n[[notify.channels]]\nname = "sms"\nkind = "apprise"\n'
        f'url = "json://127.0.0.1:{dead}/sms/{{to}}"\naddress = "mobile"\n'
    )
    path.write_text(text, encoding="utf-8")


@contextmanager
def demo_hall(workdir: Path) -> Iterator[Daemon]:
    broker = Mosquitto(workdir / "mosquitto")
    broker.start()
    try:
        path = write_config(workdir, broker.port, broker.password("hallwatch"), 0)
        _sms_gateway_down(path)
        cfg = load_config(path)
        msgs = [m for m in month_messages(cfg) if m.at <= NOW]
        generate_month(workdir / "data", cfg, msgs, until=NOW)
        daemon = Daemon(cfg, path, clock=SystemClock(Clock(NOW)))
        stop = threading.Event()
        thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
        thread.start()
        try:
            assert daemon.started.wait(120), "daemon did not start"
            yield daemon
        finally:
            stop.set()
            thread.join(60)
    finally:
        broker.stop()


def _web(daemon: Daemon) -> tuple[str, int]:
    assert daemon.where is not None
    return daemon.where.web


def _live_red(daemon: Daemon) -> None:
    """A case promised in a day, accepted on Monday: red now, told to S001 by the dead SMS."""
    payload = body(id="C-LIVE-a", case="C-LIVE", action="accepted", kind="promised",
                   ts="2026-11-23T09:00:00+08:00", window="W01", staff="S001",
                   promised_days=1, legal_days=20)  # fmt: skip
    daemon.ingestor.submit(Inbound(topic("case", "C-LIVE", "event"), payload, NOW, qos=0))
    web = _web(daemon)
    cookie, _ = login(web, "supervisor")

    def failed() -> bool:
        _, _, doc = call(web, "GET", "/api/notices?status=failed", cookie=cookie)
        return bool(doc["total"])

    wait_until(failed, 60, "a failed SMS notice")


def _decide(daemon: Daemon) -> tuple[str, str]:
    """Three decisions for the audit (the last refused); returns a case card to show and a
    heard one (escalated) whose form offers every decision."""
    cards = daemon.runner.read(lambda s: list(s.engine.cards.values()))
    raised = [c for c in cards if c.state is CardState.RAISED and c.subject.case is not None]
    web = _web(daemon)
    cookie, csrf = login(web, "supervisor")
    for card, action, text in (
        (raised[0], "answer", "已听取窗口说明：系统故障导致延期，已补办。"),
        (raised[1], "revoke", "核实为申请人要求暂缓办理，撤销。"),
        (raised[2], "uphold", "未经申辩即维持(应被拒绝)。"),
    ):
        doc = {"action": action, "text": text}
        call(web, "POST", f"/api/cards/{card.id}/decision", doc, cookie=cookie, csrf=csrf)
    promised = [c for c in cards if c.rule is RuleId.PROMISED_OVERDUE]
    heard = [c for c in cards if c.state is CardState.ESCALATED and c.subject.case is not None]
    return str(promised[0].id), str((heard or promised)[0].id)


def _metrics(browser: Chromium, size: tuple[int, int]) -> None:
    browser.send("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1],
                 deviceScaleFactor=1, mobile=size[0] < 600)  # fmt: skip


def _login(browser: Chromium, base: str, role: str) -> None:
    browser.send("Network.clearBrowserCookies")
    browser.navigate(base + "/console/login")
    browser.wait_for(LOGIN_READY, 20, "login")
    browser.evaluate(
        f"document.getElementById('name').value = '{role}';"
        f"document.getElementById('password').value = 'demo-{role}';"
        "document.getElementById('submit').click(); true"
    )
    browser.wait_for("document.getElementById('nav')?.children.length > 0", 30, f"{role}'s nav")
    # The landing page renders after an API call: let it finish, or its late render replaces
    # the page asked for next (the console draws whichever view's data comes back last).
    browser.wait_for(SHOWN, 30, f"{role}'s landing page")


def _shoot_page(browser: Chromium, base: str, page: Page, out: Path) -> list[Shot]:
    shots = []
    for size, suffix in ((DESKTOP, ""), (NARROW, "-390")):
        _metrics(browser, size)
        if page.role:
            browser.evaluate(f"location.hash = '{page.hash}'; true")
        else:
            browser.navigate(base + "/console/login")
            _metrics(browser, size)
        ready = f"({page.ready}) && document.fonts.status === 'loaded'"
        browser.wait_for(ready, 60, page.name)
        if page.scroll_to:
            browser.evaluate(f"document.getElementById('{page.scroll_to}').scrollIntoView(), true")
        else:
            browser.evaluate("window.scrollTo(0, 0), true")
        file = out / f"console-{page.name}{suffix}.png"
        browser.screenshot(file)
        errors = browser.evaluate(ERRORS)
        width = browser.evaluate("document.documentElement.scrollWidth")
        wider = browser.evaluate(f"{WIDER}({size[0]})")
        shots.append(Shot(file, list(errors), int(width), list(wider)))
    return shots


def shoot(out: Path, workdir: Path) -> list[Shot]:
    """Every page at both widths into `out` (all of them: `COVERED` is for main)."""
    out.mkdir(parents=True, exist_ok=True)
    with demo_hall(workdir) as daemon:
        _live_red(daemon)
        case_card, heard_card = _decide(daemon)
        host, port = _web(daemon)
        base = f"http://{host}:{port}"
        browser = Chromium(workdir, *DESKTOP)
        shots: list[Shot] = []
        try:
            browser.send("Page.enable")
            browser.send("Page.addScriptToEvaluateOnNewDocument", source=CATCH)
            role = None
            for page in pages(case_card, heard_card):
                if page.role and page.role != role:
                    _metrics(browser, DESKTOP)
                    _login(browser, base, page.role)
                    role = page.role
                shots += _shoot_page(browser, base, page, out)
        finally:
            browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--all", action="store_true", help="also the pictures other tests keep")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shots = shoot(work / "shots", work)
        for s in shots:
            if s.file.name in COVERED and not args.all:
                continue
            target = args.out / s.file.name
            target.write_bytes(s.file.read_bytes())
            note = f" errors: {s.errors}" if s.errors else ""
            note += f" past the edge: {s.wider}" if s.wider else ""
            print(f"wrote {target} ({s.width} px wide){note}")


if __name__ == "__main__":
    main()

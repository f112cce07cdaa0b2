"""Screenshot of the hall display with a realistic mix of lights: docs/display.png.

    .venv/bin/python -m tests.display_shot [--out docs/display.png]

Serves the real page from a DisplayHub (the example hall, a fixed morning clock) and shoots it
in headless Chromium at 1920x1080.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

from alerts.config import HallConfig
from alerts.ids import CardId, StaffId, WindowId
from alerts.lights import HallTotals, Light, short_reason
from alerts.rules import Level, RuleId
from monitor.web.display import DisplayHub, Snapshot, snapshot
from monitor.web.server import WebServer
from tests.chromium import Chromium
from tests.hall import example

ROOT = Path(__file__).resolve().parent.parent
CST = timezone(timedelta(hours=8))
MORNING = datetime(2026, 11, 23, 10, 24, 36, tzinfo=CST)

# window: (level, rule or None, holding cards)
MIX: dict[str, tuple[Level, RuleId | None, int]] = {
    "W03": (Level.RED, RuleId.PROMISED_OVERDUE, 2),
    "W06": (Level.YELLOW, RuleId.PROMISED_WARNING, 1),
    "W08": (Level.YELLOW, RuleId.PROMISED_WARNING, 1),
    "W11": (Level.YELLOW, RuleId.IMMEDIATE_SLOW, 1),
    "W12": (Level.YELLOW, RuleId.POST_UNSTAFFED_WARNING, 1),
    "W14": (Level.RED, RuleId.STEP_OVERDUE, 1),
    "W17": (Level.UNKNOWN, None, 0),
}


def realistic(cfg: HallConfig) -> Snapshot:
    lights: dict[WindowId, Light] = {}
    for w in cfg.windows:
        level, rule, n = MIX.get(w.id, (Level.GREEN, None, 0))
        reason = short_reason(rule) if rule else ("正常" if level is Level.GREEN else "状态未知")
        cards = tuple(CardId(f"K-{w.id}-{i}") for i in range(n))
        lights[w.window_id] = Light(window=w.window_id, level=level, cards=cards, reason_zh=reason)
    on_post: dict[WindowId, StaffId | None] = {
        WindowId("W06"): StaffId("S012"),  # the B post covers while the A post is on leave
        WindowId("W12"): None,  # the seat empty for minutes: 无人在岗
        WindowId("W17"): None,  # camera offline and every post holder away
    }
    about = {WindowId("W06"): StaffId("S011")}  # the warning is about the A post's case
    totals = HallTotals(
        day=MORNING.date(),
        received=312,
        completed=287,
        on_time_rate=Fraction(286, 287),
        cards_open={Level.YELLOW: 2, Level.RED: 3},
        windows_staffed=18,  # all but W12 (empty) and W17 (unknown) seen occupied
        windows=len(cfg.windows),
    )
    return snapshot(cfg, lights, totals, on_post, about)


def shoot(out: Path) -> None:
    cfg = example()
    hub = DisplayHub(cfg.hall.zone, now=lambda: MORNING)
    hub.update(realistic(cfg))
    web = WebServer("127.0.0.1", 0, hub.routes())
    web.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            browser = Chromium(Path(tmp))
            try:
                host, port = web.address
                browser.navigate(f"http://{host}:{port}/display")
                browser.wait_for(
                    "document.querySelectorAll('.tile.red').length === 2"
                    " && document.querySelectorAll('.tile.yellow').length === 4"
                    " && document.fonts.status === 'loaded'",
                    20,
                    "the tiles",
                )
                browser.screenshot(out)
            finally:
                browser.close()
    finally:
        hub.close()
        web.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "display.png")
    args = parser.parse_args()
    shoot(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

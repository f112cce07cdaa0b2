"""The console's pages in headless Chromium against an in-process daemon: the login redirect,
logging in, the card list from the API, one card, and a decision made through the page's form
(with its CSRF header) that the card engine applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.cards import CardState
from alerts.ids import CardId
from tests.brokers import Mosquitto
from tests.chromium import INSTALL_HINT, Chromium, find_chromium
from tests.test_console_api import NOW, Clock, red_card_of, running, submit_case


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_log_in_list_open_and_answer_a_card(tmp_path: Path, mosquitto_session: Mosquitto) -> None:
    with running(tmp_path, mosquitto_session, Clock(NOW)) as daemon:
        assert daemon.where is not None
        host, port = daemon.where.web
        submit_case(daemon, "C-PAGE", "2026-11-19T09:00:00+08:00", 1)
        card = red_card_of(daemon, "C-PAGE")
        browser = Chromium(tmp_path)
        try:
            browser.navigate(f"http://{host}:{port}/console/")
            browser.wait_for(
                "location.pathname === '/console/login'"
                " && document.getElementById('login')?.dataset.ready === 'yes'",
                20,
                "the redirect to the login page",
            )
            browser.evaluate(
                "document.getElementById('name').value = 'supervisor';"
                "document.getElementById('password').value = 'demo-supervisor';"
                "document.getElementById('submit').click(); true"
            )
            found = browser.wait_for(
                "[...document.querySelectorAll('#view td a')]"
                f".some(a => a.textContent === {json.dumps(card)})"
                " && document.getElementById('user').textContent",
                20,
                "the card list after login",
            )
            assert found == "supervisor(效能督查员)"
            assert browser.evaluate("document.getElementById('count').textContent").startswith(
                "共 "
            )
            browser.evaluate(f"location.hash = '#/card/{card}'; true")
            browser.wait_for("!!document.getElementById('decision')", 20, "the card page")
            assert browser.evaluate("document.getElementById('card-state').textContent") == "已亮牌"
            browser.evaluate(
                "document.querySelector('#decision select').value = 'uphold';"
                "document.getElementById('decision-text').value = '页面直接维持';"
                "document.querySelector('#decision button').click(); true"
            )
            refused = browser.wait_for(
                "document.getElementById('decision-message').className === 'error'"
                " && document.getElementById('decision-message').textContent",
                20,
                "the engine's refusal on the page",
            )
            assert refused.startswith("尚未听取陈述申辩")
            browser.evaluate(
                "document.querySelector('#decision select').value = 'answer';"
                "document.getElementById('decision-text').value = '材料补正中，申请人已确认';"
                "document.querySelector('#decision button').click(); true"
            )
            browser.wait_for(
                "document.getElementById('card-state').textContent === '已申辩'"
                " && document.getElementById('decision-message').textContent === '已记录。'",
                20,
                "the answered card",
            )
        finally:
            browser.close()
        c = daemon.runner.read(lambda sup: sup.engine.cards[CardId(card)])
        assert c.state is CardState.ANSWERED and c.history[-1].text == "材料补正中，申请人已确认"

"""The daemon tells people: a case event through real Mosquitto, an e-mail out of real SMTP."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.running import DaemonProcess, free_port, wait_until, write_config
from tests.test_cards_e2e import account
from tests.test_notify_delivery import _Inbox, smtp  # noqa: F401  (the SMTP fixture)

pytestmark = pytest.mark.integration


def _notify_config(path: Path, smtp_port: int) -> None:
    text = path.read_text(encoding="utf-8")
    for anchor, extra in (
        ('id = "S005"\nname = "陈静"\n', 'email = "chenjing@example.gov.cn"\n'),
        ('id = "L001"\n', 'email = "head@example.gov.cn"\n'),
        ('id = "W03"\nname = "不动产登记(一)"\n', 'head = "L001"\n'),
    ):
        assert text.count(anchor) == 1, anchor
        text = text.replace(anchor, anchor + extra)
    url = f"mailto://127.0.0.1:{smtp_port}/{{to}}?from=hallwatch@example.gov.cn&mode=insecure"
    text += (
        '\n[notify]\nconsole_url = "https://jiancha.example.gov.cn"\n\n'
        f'[[notify.channels]]\nname = "mail"\nkind = "apprise"\nurl = "{url}"\naddress = "email"\n'
    )
    path.write_text(text, encoding="utf-8")


def test_a_red_card_is_mailed_to_the_owner_and_the_window_head(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    smtp: tuple[int, _Inbox],  # noqa: F811
) -> None:
    port, inbox = smtp
    web = free_port()
    cfg = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), web)
    _notify_config(cfg, port)
    daemon = DaemonProcess(cfg, web, tmp_path / "daemon.log")
    daemons.append(daemon)
    daemon.start()
    accepted = {
        "id": "notify-accepted",
        "case": "C-NOTIFY-1",
        "action": "accepted",
        "kind": "promised",
        "ts": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        "window": "W03",
        "staff": "S005",
        "promised_days": 3,
        "legal_days": 10,
    }
    cases = account(mosquitto, "case-system")
    cases.publish("hall/demo-county/case/C-NOTIFY-1/event", json.dumps(accepted), qos=1)

    def reds() -> set[str]:
        return {
            rcpt
            for _f, to, msg in inbox.mails
            if str(msg["Subject"]).startswith("【红牌】超过承诺时限")
            for rcpt in to
        }

    wait_until(lambda: reds() == {"chenjing@example.gov.cn", "head@example.gov.cn"}, 30, "mails")
    mail = next(m for _f, to, m in inbox.mails if "【红牌】超过承诺时限" in str(m["Subject"]))
    body = mail.get_body(("plain",))
    assert body is not None and "办件：C-NOTIFY-1" in body.get_content()
    assert "https://jiancha.example.gov.cn/console/#/card/K-" in body.get_content()
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'hallwatch_notify_channel_up{channel="mail"} 1' in metrics
    assert daemon.stop() == 0
    cases.loop_stop()

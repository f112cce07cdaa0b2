"""The case rules as the regulations say, through real Mosquitto and the daemon.

Seeds cited by file name: a refusal without reasons is a card, not a reject
(`000_d7818c12e4aa5d4b 二(二)`); an extension approved by the case's own officer moves nothing
(`000_d7818c12e4aa5d4b 四(五)`); with the hall's 超时默认 on, a case past its limit is deemed
approved (`003_fc486b7e164530f7 三`).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.brokers import ConsoleWatch, Mosquitto
from tests.hall import HALL
from tests.running import DaemonProcess, free_port, journal_ids, wait_until, write_config
from tests.test_cards_e2e import account

pytestmark = pytest.mark.integration


def _rejects(data: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{data / 'journal.sqlite3'}?mode=ro", uri=True) as conn:
        return [(t, r) for t, r in conn.execute("SELECT topic, reason FROM rejects")]


def _card(console: ConsoleWatch, rule: str, case: str) -> dict[str, Any]:
    wait_until(
        lambda: any(t["rule"] == rule and t["subject"]["case"] == case for t in console.seen),
        30,
        f"{rule} on {case}",
    )
    return next(t for t in console.seen if t["rule"] == rule and t["subject"]["case"] == case)


def test_case_rules_through_the_daemon(
    mosquitto: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    web = free_port()
    cfg = write_config(tmp_path, mosquitto.port, mosquitto.password("hallwatch"), web)
    text = cfg.read_text(encoding="utf-8")
    assert "deemed_approval = false" in text
    cfg.write_text(text.replace("deemed_approval = false", "deemed_approval = true"), "utf-8")
    daemon = DaemonProcess(cfg, web, tmp_path / "daemon.log")
    daemons.append(daemon)
    daemon.start()
    console = ConsoleWatch(mosquitto)
    cases = account(mosquitto, "case-system")
    now = datetime.now(UTC)

    def send(case: str, eid: str, ago: timedelta, **doc: Any) -> None:
        payload = {"id": eid, "case": case, "ts": (now - ago).isoformat(), **doc}
        cases.publish(f"hall/{HALL}/case/{case}/event", json.dumps(payload), qos=1)

    who = {"window": "W03", "staff": "S005"}
    # 000 二(二): a `returned` without `reason`, and a `completed` refused without one.
    send("C-R1", "r1-in", timedelta(hours=2), action="received", kind="returned", **who)
    send("C-R1", "r1-out", timedelta(hours=1), action="returned", reason_code=3)
    send("C-R2", "r2-in", timedelta(hours=2), action="accepted", kind="promised",
         promised_days=3, **who)  # fmt: skip
    send("C-R2", "r2-out", timedelta(hours=1), action="completed", outcome="refused")
    # 000 四(五): the officer approves their own extension; 003 三: the case is deemed approved.
    send("C-X1", "x1-in", timedelta(days=30), action="accepted", kind="promised",
         promised_days=3, legal_days=20, **who)  # fmt: skip
    send("C-X1", "x1-ext", timedelta(days=29), action="extended", extra_days=30,
         approved_by="S005", reason="需现场核查", applicant_told=True)  # fmt: skip

    for case, out in (("C-R1", "r1-out"), ("C-R2", "r2-out")):
        card = _card(console, "case.returned.no_reason", case)
        assert card["owner"] == "S005" and card["level"] == "red"
        assert card["evidence"] == [out]
    unapproved = _card(console, "case.extension.unapproved", "C-X1")
    assert unapproved["owner"] == "S005" and unapproved["evidence"] == ["x1-ext"]
    red = _card(console, "case.promised.overdue", "C-X1")
    assert red["evidence"] == ["x1-in"]  # the extension moved nothing
    deemed = _card(console, "case.deemed_approved", "C-X1")
    assert deemed["ts"] == red["ts"] and deemed["owner"] == "S005"

    data = tmp_path / "data"
    sent = {"r1-in", "r1-out", "r2-in", "r2-out", "x1-in", "x1-ext"}
    wait_until(lambda: set(journal_ids(data)) >= sent, 30, "every case event journaled")
    assert _rejects(data) == []
    cases.disconnect()
    console.close()
    assert daemon.stop() == 0

"""Health and metrics as data (monitor/health.py): components' states in, the checks of
/healthz and the samples of /metrics out, at fixed states."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor import health
from monitor.health import Check, Components, Sample
from monitor.ingest.ingestor import IngestHealth

AT = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
LINK: list[Sample] = [("hallwatch_mqtt_session_stable", "gauge", "0 while unstable.", {}, 1.0)]


def _components(**changes: Any) -> Components:
    base = Components(
        hall="demo-county",
        version="1.2.3",
        connected=True,
        connects=2,
        fatal=None,
        session_problems=(),
        link_samples=LINK,
        ingest=IngestHealth(batches=5, last_commit=AT, commit_seconds_total=0.25),
        queue=3,
        counters={"accepted": 40, "duplicate": 2, "rejected.schema": 1, "rejected.topic": 4},
        reloads={"ok": 1, "refused": 0},
    )
    return dataclasses.replace(base, **changes)


def test_a_healthy_daemon_answers_200_with_every_key() -> None:
    status, doc = health.healthz(_components())
    assert status == 200
    assert doc == {
        "ok": True,
        "problems": [],
        "hall": "demo-county",
        "version": "1.2.3",
        "queue": 3,
        "last_commit": AT,
        "counters": {"accepted": 40, "duplicate": 2, "rejected.schema": 1, "rejected.topic": 4},
        "judged_until": None,
        "holding": {},
    }
    assert all(c.ok for c in health.checks(_components()))


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"connected": False}, ["MQTT broker not connected"]),
        ({"ingest": IngestHealth(journal_error="OSError: full")}, ["journal: OSError: full"]),
        (
            {"ingest": IngestHealth(writer_error="RuntimeError: bug")},
            ["ingest writer died: RuntimeError: bug"],
        ),
        ({"fatal": "broker refused: Not authorized"}, ["broker refused: Not authorized"]),
        ({"session_problems": ["lost 3 times", "session lost"]}, ["lost 3 times", "session lost"]),
        (  # in this order, whatever fails
            {
                "connected": False,
                "fatal": "Bad user name or password",
                "session_problems": ["session lost"],
                "ingest": IngestHealth(journal_error="x", writer_error="y"),
            },
            [
                "MQTT broker not connected",
                "journal: x",
                "ingest writer died: y",
                "Bad user name or password",
                "session lost",
            ],
        ),
    ],
)
def test_each_failing_check_turns_healthz_503_with_its_problem(
    changes: dict[str, Any], problems: list[str]
) -> None:
    status, doc = health.healthz(_components(**changes))
    assert (status, doc["ok"], doc["problems"]) == (503, False, problems)


def test_checks_name_what_they_look_at() -> None:
    got = health.checks(_components(connected=False, session_problems=["a", "b"]))
    assert [c.name for c in got] == [
        "mqtt",
        "journal",
        "writer",
        "broker_refused",
        *["session"] * 2,
    ]
    assert got[0] == Check("mqtt", "MQTT broker not connected") and not got[0].ok
    assert got[1] == Check("journal") and got[1].ok


def test_metric_samples_in_order_with_their_labels() -> None:
    web: list[Sample] = [("hallwatch_web_connections", "gauge", "Open HTTP connections.", {}, 1.0)]
    c = _components(counters={"accepted": 40, "rejects_limited.clock": 7}, web_samples=web)
    rows = health.samples(c)
    names = [r[0] for r in rows]
    assert names == [
        "hallwatch_info",
        "hallwatch_events_accepted_total",
        "hallwatch_events_duplicate_total",
        "hallwatch_mqtt_connected",
        "hallwatch_mqtt_connects_total",
        "hallwatch_mqtt_session_stable",
        "hallwatch_ingest_queue",
        "hallwatch_journal_batches_total",
        "hallwatch_journal_commit_seconds_total",
        "hallwatch_journal_failures_total",
        "hallwatch_journal_healthy",
        "hallwatch_ingest_writer_alive",
        "hallwatch_ingest_isolated_total",
        "hallwatch_judged_lag_seconds",
        "hallwatch_rejects_pruned_total",
        "hallwatch_rejects_limited_total",
        "hallwatch_reloads_total",
        "hallwatch_reloads_total",
        "hallwatch_web_connections",
    ]
    by = {(r[0], tuple(sorted(r[3].items()))): (r[1], r[4]) for r in rows}
    assert by["hallwatch_info", (("hall", "demo-county"), ("version", "1.2.3"))] == ("gauge", 1)
    assert by["hallwatch_events_accepted_total", ()] == ("counter", 40)
    assert by["hallwatch_events_duplicate_total", ()] == ("counter", 0)
    assert by["hallwatch_rejects_limited_total", (("area", "clock"),)] == ("counter", 7)
    assert by["hallwatch_reloads_total", (("result", "ok"),)] == ("counter", 1)
    assert by["hallwatch_reloads_total", (("result", "refused"),)] == ("counter", 0)
    assert by["hallwatch_journal_commit_seconds_total", ()] == ("counter", 0.25)


def test_rejects_are_counted_by_reason_sorted() -> None:
    rows = health.samples(_components())
    rejected = [(r[3], r[4]) for r in rows if r[0] == "hallwatch_events_rejected_total"]
    assert rejected == [({"reason": "schema"}, 1), ({"reason": "topic"}, 4)]


@pytest.mark.parametrize(
    ("ingest", "healthy", "alive", "isolated"),
    [
        (IngestHealth(), 1, 1, 0),
        (IngestHealth(journal_error="OSError: full", isolated=2, rules_errors=3), 0, 1, 5),
        (IngestHealth(writer_error="RuntimeError: bug"), 1, 0, 0),
    ],
)
def test_ingest_gauges_follow_its_health(
    ingest: IngestHealth, healthy: int, alive: int, isolated: int
) -> None:
    rows = {r[0]: r[4] for r in health.samples(_components(ingest=ingest, connected=False))}
    assert rows["hallwatch_journal_healthy"] == healthy
    assert rows["hallwatch_ingest_writer_alive"] == alive
    assert rows["hallwatch_ingest_isolated_total"] == isolated
    assert rows["hallwatch_mqtt_connected"] == 0


def test_a_failing_notice_channel_fails_health_after_the_session_and_is_measured_last() -> None:
    notice: list[Sample] = [("hallwatch_notices_sent_total", "counter", "Notices.", {}, 4.0)]
    c = _components(
        session_problems=["session lost"],
        notice_problems=["notice channel sms failing since 09:00"],
        notice_samples=notice,
    )
    status, doc = health.healthz(c)
    assert status == 503
    assert doc["problems"] == ["session lost", "notice channel sms failing since 09:00"]
    assert health.checks(c)[-1].name == "notices"
    assert health.samples(c)[-1] == notice[0]


def test_voids_are_counted_by_cause_after_the_ingest_samples() -> None:
    """A void names the silent source whose late evidence caused it."""
    ingest = IngestHealth(voids={"unattributed": 1, "CLK-WEST": 40})
    rows = health.samples(_components(ingest=ingest))
    voids = [(r[1], r[3], r[4]) for r in rows if r[0] == "hallwatch_card_voids_total"]
    assert voids == [
        ("counter", {"cause": "CLK-WEST"}, 40),
        ("counter", {"cause": "unattributed"}, 1),
    ]
    names = [r[0] for r in rows]
    assert (
        names.index("hallwatch_card_voids_total")
        == names.index("hallwatch_ingest_isolated_total") + 1
    )

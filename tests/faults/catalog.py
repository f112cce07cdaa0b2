"""The faults of issue 8: what each injects and checks, and which tests prove it.

`python -m tests.faults` runs these tests and renders one row per fault into
docs/reliability.md, with the result and the numbers the tests recorded (`record_property`).
"""

from __future__ import annotations

from dataclasses import dataclass

SOAK_ENV = "HALLWATCH_SOAK"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    title: str
    injected: str
    checked: str
    nodes: tuple[str, ...]  # node ids (or their prefixes, for parametrized tests)
    on_demand: bool = False


FAULTS: tuple[Fault, ...] = (
    Fault(
        title="daemon killed (SIGKILL) 10 times during a stream",
        injected="a simulated hall day (simulator, seed 8) published at QoS 1 through Mosquitto "
        "(project config); the daemon SIGKILLed at 10 random journal counts and restarted; "
        "an undisturbed daemon gets the same stream through its own broker; both on one "
        "injected, standing clock",
        checked="every event journaled exactly once, in the undisturbed run's order; every "
        "standing card but the seat (post.*) warnings identical transition for transition to "
        "the undisturbed run's (replayed from each journal); the same seat cards stand (their "
        "clearing times, and which cards a tick inside a backlog raised before later evidence "
        "voided them, follow where ticks fall: counted, see below)",
        nodes=("tests/faults/test_kill.py::",),
    ),
    Fault(
        title="broker restarted during a stream",
        injected="Mosquitto with config/mosquitto.conf (persistence on) restarted cleanly "
        "(SIGTERM) mid-stream, then made to save (SIGUSR1) and SIGKILLed mid-stream; QoS 1 "
        "publisher and daemon both with persistent sessions",
        checked="clean restart: every event journaled once; crash: every event the broker had "
        "acknowledged before its last save journaled once (loss after the save is counted)",
        nodes=("tests/faults/test_broker.py::",),
    ),
    Fault(
        title="time-series server down, then back",
        injected="the daemon writing to a real VictoriaMetrics; the server stopped before 40 "
        "month-old promised cases arrive (their cards), started again; then a daemon with a "
        "300-point outbox bound (`max_outbox_rows`) while the server stays down",
        checked="every card transition of a replay of the journal stored in VictoriaMetrics "
        "exactly once after the outage; past the bound new points are refused (outbox never "
        "above it), the system card `system.timeseries_outbox_full` raised on MQTT, closed "
        "once the server is back and the backlog drained",
        nodes=("tests/faults/test_timeseries.py::",),
    ),
    Fault(
        title="disk full for the data directory",
        injected="the data directory on a 3 MiB tmpfs mounted for the test (root; skipped "
        "otherwise) filled by a file mid-stream (real SQLITE_FULL), the file deleted later",
        checked="no acknowledgement while full (the broker keeps the messages); /healthz 503 "
        "with the reason, hallwatch_journal_healthy 0, an ERROR log; after space returns every "
        "event journaled once and health back",
        nodes=("tests/faults/test_disk_full.py::",),
    ),
    Fault(
        title="wall clock stepped back an hour, forward a day",
        injected="the daemon process on an injected clock (tests/faults/clockd.py): 80 promised "
        "cases with deadlines behind, within and beyond the next day; clock stepped −1 h (some "
        "cases completed then), then +1 day",
        checked="a red for every deadline passed and no other, none twice, each stamped with "
        "its deadline; no card's history goes back in time; the transitions published live "
        "equal a replay of the journal",
        nodes=("tests/faults/test_clock.py::",),
    ),
    Fault(
        title="hostile input at volume",
        injected="100,000 malformed messages from a seeded fuzzer (15 kinds: broken JSON, bad "
        "UTF-8, wrong types, missing fields, naive and future times, unknown topics, devices, "
        "staff, windows, oversize...) mixed with valid punches through Mosquitto",
        checked="daemon alive and healthy; every malformed message in the rejects table with "
        "its expected reason and a detail; every valid one journaled",
        nodes=("tests/faults/test_hostile_volume.py::",),
    ),
    Fault(
        title="security: MQTT accounts against the daemon",
        injected="real Mosquitto with the shipped password file and ACL: anonymous and wrong "
        "passwords; a clock publishing a light, a card, a card command and another clock's "
        "punch; a camera publishing punches",
        checked="refused connections; none of the forged messages reaches the daemon's journal "
        "(not even as a reject) while the same accounts' own messages do",
        nodes=(
            "tests/faults/test_security.py::",
            "tests/test_broker_config.py::test_connection_without_valid_credentials_is_refused",
            "tests/test_broker_config.py::test_acl_decides_who_may_publish_where",
        ),
    ),
    Fault(
        title="security: HTTP console (login, roles, CSRF)",
        injected="the console's own tests (tests/test_console*.py)",
        checked="no page but the display without login, no card decision without the "
        "supervisor role, CSRF-safe forms",
        nodes=("tests/test_console",),
    ),
    Fault(
        title="soak: a simulated month at high speed",
        injected="the last 30 working days (six calendar weeks) of the example hall "
        "(simulator, seed 30) through Mosquitto into the daemon as fast as both take it",
        checked="resident memory after start, at half and at the end (below 1 GiB), journal "
        "and store sizes; the running daemon's totals and cards (/state) and every "
        "transition it published equal a replay of its journal",
        nodes=("tests/faults/test_soak.py::",),
        on_demand=True,
    ),
)

"""The fault suite: what each fault injects and checks, and which tests prove it.

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
        "card, seat (post.*) warnings included, identical transition for transition to the "
        "undisturbed run's (replayed from each journal), and none voided",
        nodes=("tests/faults/test_kill.py::",),
    ),
    Fault(
        title="cards on complete evidence: one day arriving five ways",
        injected="one simulated working day (simulator seed 15, reduced: presence heartbeats "
        "every 150 s, clock heartbeats every 5 min, 5,840 messages) into the daemon process on "
        "an injected clock, each scenario with its own Mosquitto and journal: A live-paced "
        "(the clock stepped an hour at a time, each hour's messages published once the daemon "
        "shows it, the harness waiting until it says it judged them, the sources idle: the "
        "reference); B the whole day queued while "
        "the daemon is down, started at 20:00; C as A with 10 SIGKILLs at random journal "
        "counts (seed recorded); D as A with the daemon down 10:00-13:00 (queued), caught up "
        "at 13:00, then live; E as A with CLK-WEST offline from 07:45 and its punches "
        "uploaded at 15:20, past its grace (15:00)",
        checked="asserted: every event journaled exactly once; each journal replayed twice "
        "gives the same digest and transitions byte for byte; each daemon stops cleanly; A "
        "voids nothing; B, C and D give exactly A's transitions, every card, and void none; "
        "E's voids each name CLK-WEST and /metrics counts them under it. Measured: per "
        "scenario the cards raised (`X_cards`), the cards voided by the cause the engine "
        "names (`X_voided_by_cause`) and by rule, and against A the transitions only the "
        "scenario has (`X_transitions_not_in_A`), those of A it lacks and the cards whose "
        "histories differ; all from replays of each journal (`hallwatch replay`)",
        nodes=("tests/faults/test_evidence.py::",),
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
        title="poisoned message among valid punches (the lone surrogate that once stalled ingest)",
        injected="5,000 valid punches from the clock account CLK-EAST (shipped ACL) with 8 "
        "messages spread through them that Python's json accepts and RFC 8259 does not, or "
        "with a bad time: a lone-surrogate `id` (`\\ud800`, the message that killed the "
        "writer), lone surrogates in a field and a key, a duplicate key, NaN, years 0001 and "
        "9999, a clock reset to 2000; plus in-process: a batch whose insert fails on one "
        "message, an event the rules fail on, a hypothesis stream of any bytes on any topic",
        checked="all 5,000 journaled once, with no restart (same process, healthy, no "
        "traceback in the log); each poisoned message a reject with its reason (not_utf8, "
        "bad_json, bad_value, bad_time, past_time) and its bytes; in-process, the failing "
        "message or event an internal_error reject and the rest of its batch committed",
        nodes=(
            "tests/faults/test_poison.py::test_poisoned_messages_among_5000_punches_cost_nothing_but_themselves",
            "tests/test_ingest.py::test_a_message_that_breaks_the_insert_is_kept_and_the_batch_goes_on",
            "tests/test_ingest.py::test_an_event_the_rules_fail_on_is_kept_and_the_others_applied",
            "tests/test_ingest.py::test_any_bytes_on_any_topic_leave_every_valid_event_journaled_once",
        ),
    ),
    Fault(
        title="ingest writer dies (a bug outside any message)",
        injected="the real daemon in-process against Mosquitto, its time-driven work (the "
        "tick on the writer thread) made to raise once it is healthy",
        checked="/healthz answers 503 naming the dead writer, the daemon exits 1 (systemd "
        "restarts it) instead of limping on, and writes no snapshot of the broken state",
        nodes=(
            "tests/faults/test_poison.py::test_a_dead_writer_turns_health_503_and_the_daemon_exits_non_zero",
        ),
    ),
    Fault(
        title="reject flood from a device account",
        injected="the clock account CLK-EAST publishing 3,000 payloads just under 64 KiB and "
        "20,000 small broken ones (all bad_json), with 1,000 valid punches among them, as "
        "fast as the broker takes them (default limits: 4 KiB kept, 1 reject/s, burst 100)",
        checked="every reject counted by its reason, every valid punch journaled; stored "
        "rejects <= burst + rate x seconds, each <= 4 KiB with its length and SHA-256; the "
        "rest counted as rejects_limited; journal growth under rows x 10 KiB + 8 MiB (WAL)",
        nodes=(
            "tests/faults/test_poison.py::test_a_clocks_reject_flood_grows_the_journal_only_within_its_bound",
            "tests/test_rejects_bounds.py::",
        ),
    ),
    Fault(
        title="security: MQTT accounts against the daemon",
        injected="real Mosquitto with the shipped password file and ACL: anonymous and wrong "
        "passwords; a clock publishing a light, a card, a card command and another clock's "
        "punch; a camera publishing punches",
        checked="refused connections; none of the forged messages reaches the daemon's journal "
        "(not even as a reject) while the same accounts' own messages do",
        nodes=(
            "tests/faults/test_security.py::test_anonymous_and_forged_traffic_never_reaches_the_daemon",
            "tests/test_broker_config.py::test_connection_without_valid_credentials_is_refused",
            "tests/test_broker_config.py::test_acl_decides_who_may_publish_where",
        ),
    ),
    Fault(
        title="security: a device takes over the daemon's MQTT session (client id)",
        injected="with the daemon stopped and 200 punches queued in its persistent session, "
        "a clock account connects with a clean session under the daemon's client ids "
        "(configured and account name); with the daemon running, 10 such connections",
        checked="stopped: the restarted daemon finds its session and journals all 200, none "
        "lost; running: the daemon is never disconnected (use_username_as_clientid in "
        "config/mosquitto.conf binds client ids to accounts)",
        nodes=(
            "tests/faults/test_security.py::test_a_device_using_the_daemons_client_id_while_it_is_stopped_loses_nothing",
            "tests/faults/test_security.py::test_a_device_using_the_daemons_client_id_while_it_runs_disconnects_nothing",
            "tests/test_broker_config.py::test_a_device_using_the_daemons_client_id_deletes_none_of_its_queue",
            "tests/test_broker_config.py::test_a_device_using_the_daemons_client_id_does_not_disconnect_it",
        ),
    ),
    Fault(
        title="security: the daemon's own account used by another client",
        injected="3 connections with the daemon's account and a clean session while it "
        "runs (a second daemon or a leaked password: each takes the session over)",
        checked="each lost connection and lost session counted in /metrics; /healthz 503 "
        "with the reason, an ERROR log and the system card `system.mqtt_session_unstable` "
        "raised on MQTT while it happens; healthy again and the card closed once 5 minutes "
        "pass without one (injected clock)",
        nodes=(
            "tests/faults/test_security.py::test_a_client_of_the_daemons_own_account_shows_in_healthz_until_it_stops",
        ),
    ),
    Fault(
        title="security: cross-hall and cross-kind publishing",
        injected="clock and camera accounts publishing their own topics into another hall; "
        "the display, console and case-system accounts publishing punches, presence and "
        "status of real devices and under their own names",
        checked="the ACL written by `hallwatch broker-acl` drops every one: none journaled, "
        "none rejected, none delivered to any subscriber",
        nodes=(
            "tests/faults/test_security.py::test_a_device_publishing_into_another_hall_is_dropped",
            "tests/faults/test_security.py::test_display_console_and_case_system_cannot_publish_device_topics",
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
        title="web: 60 logins at once (memory, throttle, lockout by a stranger)",
        injected="the daemon process (example hall, real Mosquitto): 60 wrong logins at once, "
        "each from its own loopback address (127.0.1.x); then waves of 60 at once from one "
        "address until it is spent; then the supervisor's right password from another",
        checked="peak RSS (VmHWM) under 300 MB: at most web.login_concurrency (2) scrypt "
        "checks at once, the rest 503 at once; from one address at most login_attempts (5) "
        "checked, every later one 429; the supervisor elsewhere still logs in",
        nodes=(
            "tests/faults/test_web_abuse.py::"
            "test_parallel_logins_keep_memory_bounded_and_none_escapes_the_throttle",
            "tests/test_auth.py::test_parallel_attempts_are_counted_before_any_is_checked",
            "tests/test_auth.py::test_a_stranger_cannot_lock_a_user_out_from_elsewhere",
            "tests/test_auth.py::test_the_login_gate_turns_away_checks_beyond_its_slots",
        ),
    ),
    Fault(
        title="web: 1,000 slow connections (slowloris)",
        injected="the daemon process under a file limit of 512: 900 connections sending a "
        "head that never ends and 100 announcing a 60,000-byte body with 1 byte sent, then "
        "one more byte on each; /display and /healthz fetched 30 times meanwhile",
        checked="every fetch answered 200 within 1 s; every slow connection closed by the "
        "server (evicted past web.max_connections, or cut at web.request_timeout_s); /metrics "
        "read by prometheus_client's parser; the daemon healthy",
        nodes=(
            "tests/faults/test_web_abuse.py::"
            "test_slow_connections_leave_display_and_healthz_answering",
            "tests/test_web.py::test_a_slow_request_is_cut_off_and_holds_no_worker",
            "tests/test_web.py::test_beyond_the_cap_the_longest_waiting_connection_goes",
        ),
    ),
    Fault(
        title="web: DNS rebinding (a foreign Host)",
        injected="requests to /state, /metrics, /display, /display/state, /api/session and "
        "/api/login naming `rebind.example` as Host, as a page whose name was pointed at "
        "127.0.0.1 sends them",
        checked="each answered 421; 127.0.0.1, localhost and a name in web.hosts answered",
        nodes=(
            "tests/faults/test_web_abuse.py::test_a_foreign_host_name_is_refused_on_every_route",
            "tests/test_web.py::test_host_allowed",
        ),
    ),
    Fault(
        title="web: lone surrogates in an old journal's text",
        injected="a card command journaled as an older daemon did, its answer text and its "
        "audit user holding JSON escapes of lone surrogates (\\ud800), then the daemon "
        "restarted on that journal",
        checked="the daemon replays it and starts; the card page, the card list, the audit "
        "and the monthly report answer 200 (JSON keeps the escape, HTML shows U+FFFD); a new "
        "decision text with a lone surrogate is refused 422",
        nodes=(
            "tests/test_console_api.py::test_a_lone_surrogate_from_an_old_journal_never_fails_a_page",
            "tests/test_web.py::test_a_lone_surrogate_stays_its_json_escape",
        ),
    ),
    Fault(
        title="ZKTeco bridge: corrupt lines, unmapped PINs and garbage in a clock's upload",
        injected="one ATTLOG upload to the real bridge (HTTP) of 200 good records, 10 corrupt "
        "lines of 5 kinds, 5 PINs missing from `[pins]` and 2 unknown verify codes, sent "
        "twice; then 3 uploads of 1 MiB random bytes from the same serial; through Mosquitto "
        "(project config) into the daemon",
        checked="the clock hears `OK: n` for every line (its stamp moves on); each good record "
        "journaled once; each unmapped one a daemon reject (unknown_staff / bad_value) under "
        "the clock's topic with its PIN, shown by `hallwatch rejects`; each corrupt line in the "
        "bridge's reject store, once, seen twice; the store bounded under the garbage",
        nodes=(
            "tests/faults/test_zkpush_uploads.py::",
            "tests/test_zkpush.py::test_bad_lines_do_not_hold_back_the_good_records",
            "tests/test_zkpush.py::test_the_kept_lines_are_bounded",
        ),
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

"""Cards on complete evidence: one simulated day, five ways of arriving (docs/cards.md).

Each scenario is the real daemon process (tests/faults/clockd.py: production wiring on an
injected clock) against its own real Mosquitto (project config), fed one simulated working day:

- A, the reference: published live-paced, the clock stepped forward an hour at a time and each
  hour's messages published once the daemon's clock shows it; the harness waits until they are
  journaled and the daemon has ticked at that hour (a tick that judged the new facts);
- B: the whole day queued in the broker while the daemon is down, the daemon started at 20:00;
- C: as A, with the daemon SIGKILLed 10 times at random journal counts (seeded, recorded) while
  an hour's messages stream in, restarted each time;
- D: as A, with the daemon stopped from 10:00 to 13:00 (the broker queues those hours), started
  at 13:00 and caught up live;
- E: as A, with the clock CLK-WEST offline from 07:45 and its punches uploaded at 15:00 (past
  its finalize grace): the one scenario where voids are honest.

What is measured, per scenario, from a replay of its own journal (`hallwatch replay`): cards
raised, cards voided (by the cause the engine gives in the void transition: its `cause`, else
its text; by rule), the transitions that differ from A's (multisets of the card payloads,
either way) and the differing cards by rule. What is asserted: every event journaled exactly
once; a replay of each journal is deterministic (replayed twice, the same digest and
transitions byte for byte); each daemon stops cleanly; B, C and D give exactly A's cards,
transition for transition, seat warnings included, and void none (the sync marker,
monitor/ingest/mqtt.py; judgement held while a source is still sending, alerts/sources.py;
seat warnings at the readings' instants, alerts/posts.py); B, read from the broker's queue at
20:00, ticks only after its last queued event; E's voids each name CLK-WEST (`cause`), and the
daemon's /metrics counts them under that cause.

The day is reduced to keep the file near a minute: presence heartbeats every 150 s instead of
60 (under the 180 s timeout: no seat turns unknown), no simulated clock outage of its own, the
example hall's 20 windows and 43 staff, hour-long live steps.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest

from alerts.config import work_calendar
from devices.simulation.model import Hall as SimHall
from devices.simulator import Message, Params, simulate_day
from tests.brokers import Mosquitto
from tests.faults.common import (
    ClockedDaemon,
    Replayed,
    expected_ids,
    is_status,
    journal_rows,
    publish_window,
    read_only,
    replayed,
    start_clocked,
)
from tests.hall import example
from tests.running import DaemonProcess, json_at, wait_until

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 24)  # a Tuesday, a working day
SEED = 15
PARAMS = Params(heartbeat_s=150, clock_outage_share=0.0)
KILLS = 10
SILENT = "CLK-WEST"
CFG = example()
ZONE = CFG.hall.zone


def local(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, clock_time(hour, minute), ZONE)


START, END = local(7), local(20)
IDLE = timedelta(seconds=60)  # the daemon's default `cards.idle_after_s`
HOURS = [local(h) for h in range(8, 19)] + [END]  # the live steps: 08:00 … 18:00, then 20:00
DOWN = (local(10), local(13))  # scenario D
# Scenario E: CLK-WEST offline from 07:45; the morning's punch windows settle at 15:00 (the
# out-window closes at 13:00, then `finalize_grace_min` 120), the backlog comes at 15:20.
OFFLINE, UPLOAD = local(7, 45), local(15, 20)


def day() -> list[Message]:
    msgs = simulate_day(CFG, DAY, SEED, PARAMS)
    assert work_calendar(CFG).is_working_day(DAY) and msgs
    assert all(START < m.at <= END for m in msgs)
    return msgs


def silenced(msgs: Sequence[Message]) -> list[Message]:
    """CLK-WEST goes offline at 07:45 and beats no more; what it punched meanwhile is
    uploaded at 15:20, then it beats again."""
    sim = SimHall(CFG, work_calendar(CFG))
    prefix = f"hall/{CFG.hall.id}/clock/{SILENT}/"
    out: list[Message] = []
    for m in msgs:
        if m.topic.startswith(prefix) and OFFLINE <= m.at < UPLOAD:
            if m.topic.endswith("/punch"):
                out.append(replace(m, at=UPLOAD))
            else:
                assert m.topic.endswith("/heartbeat"), m.topic
        else:
            out.append(m)
    out += [sim.status("clock", SILENT, False, OFFLINE), sim.status("clock", SILENT, True, UPLOAD)]
    return sorted(out, key=lambda m: m.at)  # stable: the backlog after the clock is back


def facts(batch: Sequence[Message]) -> bool:
    """Messages that leave attendance or seat facts waiting for the rules (a tick follows)."""
    return any(m.topic.split("/")[2] in ("camera", "clock", "staff") for m in batch)


class Run:
    """One scenario: its own broker, its own daemon on an injected clock, its own journal."""

    def __init__(self, name: str, tmp: Path, daemons: list[DaemonProcess]) -> None:
        self.name = name
        self.broker = Mosquitto(tmp / name / "broker")
        self.broker.start()
        self.daemon: ClockedDaemon
        self.daemon, self.config = start_clocked(self.broker, tmp / name, daemons, START)
        self.data = tmp / name / "data"
        self.published = 0
        self.kills = 0
        self.catch_up_s: list[float] = []
        self.ticks_inside_backlog = 0  # B: ticks between two journaled events (finish)

    def close(self) -> None:
        self.broker.stop()

    # --- the clock and the stream -----------------------------------------------------------

    def clock(self, at: datetime) -> None:
        """Step the daemon's clock and wait until it shows the new instant."""
        self.daemon.set_clock(at)
        want = int(at.timestamp() * 1000)
        wait_until(lambda: self._shown() == want, 10, f"{self.name}: the clock at {at}")

    def _shown(self) -> int | None:
        url = f"http://127.0.0.1:{self.daemon.web_port}/display/state"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(json.load(resp)["now"])
        except OSError:
            return None

    def voids_counted(self) -> dict[str, float]:
        """The daemon's /metrics: voids by cause (`hallwatch_card_voids_total`)."""
        url = f"http://127.0.0.1:{self.daemon.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        prefix = 'hallwatch_card_voids_total{cause="'
        return {
            line[len(prefix) :].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(prefix)
        }

    def publish(self, batch: Sequence[Message]) -> None:
        if batch:
            items = [(m.topic, m.payload) for m in batch]
            publish_window(self.broker, items, f"evidence-{self.name}")
        self.published += len(batch)

    def settle(self, at: datetime, ticked: bool) -> None:
        """Everything published is journaled, and (`ticked`) the daemon judged it: the clock
        moves on until every source is idle (`IDLE` after the step's last message), and the
        daemon says it has judged up to there (/healthz `judged_until`)."""
        what = f"{self.name}: {self.published} journaled by {at:%H:%M}"
        wait_until(lambda: self._count() >= self.published, 120, what)
        if ticked:
            idle = at + IDLE
            self.clock(idle)
            wait_until(lambda: self._judged(idle), 30, f"{self.name}: judged up to {idle:%H:%M}")

    def _judged(self, at: datetime) -> bool:
        try:
            judged = json_at(f"http://127.0.0.1:{self.daemon.web_port}/healthz", 2)
        except OSError:
            return False
        until = judged["judged_until"]
        return until is not None and datetime.fromisoformat(until) >= at

    def _count(self) -> int:
        path = self.data / "journal.sqlite3"
        if not path.exists():
            return 0
        with read_only(path) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def hour(self, msgs: Sequence[Message], after: datetime, at: datetime) -> None:
        """One live step: the clock shows `at`, then what went out in (after, at] arrives."""
        batch = [m for m in msgs if after < m.at <= at]
        self.clock(at)
        self.publish(batch)
        self.settle(at, facts(batch))

    def live(self, msgs: Sequence[Message], hours: Sequence[datetime], after: datetime) -> None:
        for at in hours:
            self.hour(msgs, after, at)
            after = at

    def killed_hour(
        self, msgs: Sequence[Message], after: datetime, at: datetime, rng: random.Random
    ) -> None:
        """A live step with a SIGKILL at a random journal count while its messages stream in."""
        batch = [m for m in msgs if after < m.at <= at]
        self.clock(at)
        base = self._count()
        threshold = base + rng.randrange(1, max(2, len(batch)))
        sender = threading.Thread(target=self.publish, args=(batch,), daemon=True)
        sender.start()
        wait_until(lambda: self._count() >= threshold, 60, f"{self.name}: {threshold} journaled")
        self.daemon.kill()
        self.kills += 1
        t0 = time.monotonic()
        self.daemon.start()
        self.catch_up_s.append(time.monotonic() - t0)
        sender.join(120)
        assert not sender.is_alive(), "the publisher did not finish"
        self.settle(at, True)

    def down(self) -> None:
        assert self.daemon.stop() == 0

    def up(self, at: datetime) -> None:
        """Start at `at` (the clock set while down) and wait until the queue is journaled."""
        self.daemon.set_clock(at)
        t0 = time.monotonic()
        self.daemon.start()
        self.settle(at, True)
        self.catch_up_s.append(time.monotonic() - t0)

    def finish(self, expected: set[str]) -> Outcome:
        assert self.daemon.stop() == 0, f"{self.name}: the daemon did not stop cleanly"
        with read_only(self.data / "journal.sqlite3") as conn:
            self.ticks_inside_backlog = int(
                conn.execute(
                    "SELECT count(*) FROM ticks WHERE after_seq > 0 AND after_seq < "
                    "(SELECT max(seq) FROM events)"
                ).fetchone()[0]
            )
        rows = journal_rows(self.data)
        ids = [i for i, t in rows if not is_status(t)]
        assert len(ids) == len(set(ids)), f"{self.name}: an event journaled twice"
        assert set(ids) == expected, f"{self.name}: events missing from the journal"
        first, second = replayed(self.config), replayed(self.config)
        assert first.digest == second.digest and first.cards == second.cards, (
            f"{self.name}: two replays of one journal differ"
        )
        return Outcome(self.name, first, len(rows), sum(is_status(t) for _, t in rows))


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    replay: Replayed
    events: int
    statuses: int

    def transitions(self) -> Counter[bytes]:
        return Counter(t for h in self.replay.cards.values() for t in h)

    def voided(self) -> dict[str, tuple[bytes, ...]]:
        return {c: h for c, h in self.replay.cards.items() if any(_why(t) == "void" for t in h)}

    def voids_by(self, key: Callable[[dict[str, object]], str]) -> str:
        counts: Counter[str] = Counter()
        for h in self.voided().values():
            counts[key(_void_of(h))] += 1
        return ", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none"

    def record(self, record: Callable[[str, object], None], ref: Outcome | None) -> None:
        """Cards raised, voided (by cause, by rule), and how far from the reference run."""
        p = self.name
        record(f"{p}_events", self.events)
        record(f"{p}_cards", len(self.replay.cards))
        record(f"{p}_transitions", self.replay.transitions)
        record(f"{p}_voided", len(self.voided()))
        record(f"{p}_voided_by_cause", self.voids_by(_cause))
        record(f"{p}_voided_by_rule", self.voids_by(lambda d: str(d["rule"])))
        if ref is not None:
            mine, theirs = self.transitions(), ref.transitions()
            record(f"{p}_transitions_not_in_A", sum((mine - theirs).values()))
            record(f"{p}_A_transitions_missing", sum((theirs - mine).values()))
            record(f"{p}_cards_differing_from_A", len(differing(self.replay, ref.replay)))
            rules = Counter(_rule_of(self.replay, ref.replay, c) for c in self.differing(ref))
            by_rule = ", ".join(f"{k} {n}" for k, n in rules.most_common())
            record(f"{p}_differing_by_rule", by_rule or "none")

    def differing(self, ref: Outcome) -> set[str]:
        return differing(self.replay, ref.replay)

    def same_as(self, ref: Outcome) -> None:
        """Exactly the reference's cards, transition for transition, and none voided."""
        assert not self.voided(), f"{self.name} voided {sorted(self.voided())}"
        diff = sorted(self.differing(ref))
        shown = {c: (self.replay.cards.get(c), ref.replay.cards.get(c)) for c in diff[:3]}
        assert not diff, f"{self.name}: {len(diff)} cards differ from A's, e.g. {shown}"


def _rule_of(a: Replayed, b: Replayed, card: str) -> str:
    history = a.cards.get(card) or b.cards[card]
    return str(json.loads(history[0])["rule"])


def _why(t: bytes) -> str:
    return str(json.loads(t)["reason"])


def _void_of(history: Sequence[bytes]) -> dict[str, object]:
    doc: dict[str, object] = next(json.loads(t) for t in history if _why(t) == "void")
    return doc


def _cause(doc: dict[str, object]) -> str:
    """The cause a void names (the silent source), if the engine gives one."""
    return str(doc.get("cause") or doc.get("text") or "unstated")


def differing(a: Replayed, b: Replayed) -> set[str]:
    """Cards only one run has, or whose histories differ."""
    return {c for c in a.cards.keys() | b.cards.keys() if a.cards.get(c) != b.cards.get(c)}


# --- the scenarios -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def started() -> Iterator[list[DaemonProcess]]:
    """Daemon processes of the module (the reference lives across its tests)."""
    procs: list[DaemonProcess] = []
    yield procs
    for d in procs:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)


@pytest.fixture(scope="module")
def stream() -> list[Message]:
    return day()


@pytest.fixture(scope="module")
def reference(
    stream: list[Message], tmp_path_factory: pytest.TempPathFactory, started: list[DaemonProcess]
) -> Outcome:
    run = Run("A", tmp_path_factory.mktemp("evidence"), started)
    try:
        run.live(stream, HOURS, START)
        return run.finish(expected_ids((m.topic, m.payload) for m in stream))
    finally:
        run.close()


def test_a_live_day_is_the_reference(
    reference: Outcome, stream: list[Message], record_property: Callable[[str, object], None]
) -> None:
    assert reference.replay.transitions > 0 and reference.statuses > 0
    record_property("messages", len(stream))
    record_property("steps", len(HOURS))
    reference.record(record_property, None)
    assert not reference.voided(), f"A voided {sorted(reference.voided())}"


def _scenario(
    name: str,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    play: Callable[[Run], None],
    msgs: Sequence[Message],
) -> tuple[Outcome, Run]:
    run = Run(name, tmp_path, daemons)
    t0 = time.monotonic()
    try:
        play(run)
        outcome = run.finish(expected_ids((m.topic, m.payload) for m in msgs))
    finally:
        run.close()
    run.catch_up_s.append(time.monotonic() - t0)  # the last: the whole scenario
    return outcome, run


def test_b_the_day_queued_while_the_daemon_is_down(
    reference: Outcome,
    stream: list[Message],
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    def play(run: Run) -> None:
        run.down()  # its session exists: the broker queues the day for it
        run.publish(stream)
        run.up(END)

    got, run = _scenario("B", tmp_path, daemons, play, stream)
    assert got.statuses == reference.statuses
    # No judgement while the backlog drains: every tick after the last queued event (the
    # sync marker came back behind the queue), and so no card raised that it then voids.
    assert run.ticks_inside_backlog == 0, "a tick judged while the queue was read"
    record_property("B_catch_up_s", round(run.catch_up_s[0], 1))
    got.record(record_property, reference)
    got.same_as(reference)


def test_c_the_day_with_ten_sigkills(
    reference: Outcome,
    stream: list[Message],
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    record_property("C_seed", seed)
    kill_at = set(rng.sample(range(len(HOURS) - 1), KILLS))  # never the empty evening step

    def play(run: Run) -> None:
        after = START
        for i, at in enumerate(HOURS):
            if i in kill_at:
                run.killed_hour(stream, after, at, rng)
            else:
                run.hour(stream, after, at)
            after = at

    got, run = _scenario("C", tmp_path, daemons, play, stream)
    assert run.kills == KILLS and got.statuses == reference.statuses
    record_property("C_restart_max_s", round(max(run.catch_up_s[:-1]), 1))
    got.record(record_property, reference)
    got.same_as(reference)


def test_d_the_daemon_down_from_ten_to_one(
    reference: Outcome,
    stream: list[Message],
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    before = [h for h in HOURS if h <= DOWN[0]]
    after = [h for h in HOURS if h > DOWN[1]]

    def play(run: Run) -> None:
        run.live(stream, before, START)
        run.down()
        run.publish([m for m in stream if DOWN[0] < m.at <= DOWN[1]])
        run.up(DOWN[1])
        run.live(stream, after, DOWN[1])

    got, run = _scenario("D", tmp_path, daemons, play, stream)
    assert got.statuses == reference.statuses
    record_property("D_catch_up_s", round(run.catch_up_s[0], 1))
    got.record(record_property, reference)
    got.same_as(reference)


def test_e_one_clock_silent_from_0745_uploads_at_three(
    reference: Outcome,
    stream: list[Message],
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    msgs = silenced(stream)
    backlog = sum(1 for m in msgs if m.at == UPLOAD and m.topic.endswith("/punch"))
    assert backlog > 0
    counted: dict[str, float] = {}

    def play(run: Run) -> None:
        run.live(msgs, HOURS, START)
        counted.update(run.voids_counted())

    got, _ = _scenario("E", tmp_path, daemons, play, msgs)
    got.record(record_property, reference)  # the figures, before what is asserted of them
    record_property("E_backlog_punches", backlog)
    assert got.statuses == reference.statuses + 2  # offline at 07:45, online at 15:00
    # Bounded lateness said out loud: the only voids are of cards judged without CLK-WEST
    # once its grace ran out, and each void names it (alerts/cards.py `_void`).
    assert got.voided(), "E: the backlog after the grace voided nothing"
    causes = {c: _cause(_void_of(h)) for c, h in got.voided().items()}
    assert all(c == SILENT for c in causes.values()), f"E: voids not naming {SILENT}: {causes}"
    assert counted == {SILENT: len(causes)}, f"E: /metrics counts voids {counted}"

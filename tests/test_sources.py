"""How far each source is heard, and the instant time-driven rules judge up to (alerts/sources.py).

The rule, as event-time systems state it: a judgement about an instant waits until every source
that could still contradict it has been heard past it, or has gone idle. Checked here on the
pure core, with receive times as the daemon's clock (no sleeping), and end to end on one
immediate case whose completion arrives in the same burst as its acceptance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.cards import Transition
from alerts.events import CaseAction, CaseEvent, CaseKind, Outcome, Recorded
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.sources import SourceKind, Sources
from alerts.supervision import Supervision
from tests.hall import example

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 in the hall
IDLE = timedelta(seconds=60)
NAMES = ("CLK-EAST", "CLK-WEST", "办件系统")


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[str, datetime, datetime]]:
    """Events of three sources, each in its own `ts` order, interleaved at random, with
    non-decreasing receive times (the daemon's clock)."""
    per: dict[str, list[datetime]] = {}
    for name in NAMES:
        gaps = draw(st.lists(st.integers(0, 3600), max_size=12))
        t, stamps = T0, []
        for g in gaps:
            t += timedelta(seconds=g)
            stamps.append(t)
        per[name] = stamps
    order = draw(st.permutations([n for n, ts in per.items() for _ in ts]))
    seen = {n: 0 for n in NAMES}
    received = T0 + timedelta(days=1)  # a backlog: read a day later
    out: list[tuple[str, datetime, datetime]] = []
    for name in order:
        received += timedelta(seconds=draw(st.integers(0, 90)))
        out.append((name, per[name][seen[name]], received))
        seen[name] += 1
    return out


@given(streams())
def test_judgement_never_passes_a_source_still_sending_nor_moves_back(
    events: list[tuple[str, datetime, datetime]],
) -> None:
    src = Sources(IDLE)
    last: dict[str, tuple[datetime, datetime]] = {}
    judged: datetime | None = None
    for name, ts, received in events:
        src.event(SourceKind.CLOCK, name, ts, received)
        last[name] = (max(ts, last.get(name, (ts, received))[0]), received)
        at = src.until(received)
        assert at is not None
        for heard, got in last.values():
            if received - got < IDLE:  # still sending: nothing past its latest ts is judged
                assert at <= heard or (judged is not None and at == judged)
        assert judged is None or at >= judged
        src.judging(at)
        judged = at
    if events:
        quiet = events[-1][2] + IDLE  # every source idle: judgement reaches the daemon's time
        assert src.until(quiet) == quiet


def test_an_offline_clock_holds_nothing_back_and_online_again_it_is_waited_for() -> None:
    src = Sources(IDLE)
    now = T0 + timedelta(hours=8)
    src.event(SourceKind.CLOCK, "CLK-WEST", T0, now)
    assert src.until(now) == T0  # still sending, heard up to 08:00
    src.status("CLK-WEST", False, now)
    assert src.until(now) == now
    src.judging(now)
    src.status("CLK-WEST", True, now + timedelta(seconds=5))
    assert src.holding(now + timedelta(seconds=5)) == {"CLK-WEST": T0}
    assert src.until(now + timedelta(seconds=5)) == now  # never back: its backlog is late


def test_just_started_with_every_source_quiet_nothing_is_judged_for_idle_after() -> None:
    src = Sources(IDLE)
    started = T0
    assert src.until(T0 + timedelta(seconds=59), started) is None
    assert src.until(T0 + timedelta(seconds=60), started) == T0 + timedelta(seconds=60)
    src.event(SourceKind.CASES, "办件系统", T0 - timedelta(days=1), T0 + timedelta(seconds=1))
    assert src.until(T0 + timedelta(seconds=2), started) == T0 - timedelta(days=1)


def test_zero_idle_after_judges_at_the_daemons_time_at_once() -> None:
    src = Sources(timedelta(0))
    src.event(SourceKind.CLOCK, "CLK-EAST", T0, T0 + timedelta(days=1))
    assert src.until(T0 + timedelta(days=1)) == T0 + timedelta(days=1)


def _case(seq: int, action: CaseAction, ts: datetime, received: datetime, **kw: object) -> Recorded:
    ev = CaseEvent(case=CaseId("C-1"), action=action, ts=ts, **kw)  # type: ignore[arg-type]
    return Recorded(seq, EventId(f"e{seq}"), received, ev)


def test_an_immediate_case_finished_in_the_same_backlog_raises_nothing() -> None:
    """Read a day late, an immediate case accepted at 09:00 and completed at 09:10: while the
    case system is still sending, the 2-hour warning and the close of business are not judged,
    so its completion, queued behind, is read first. Without the hold (idle_after 0) the
    same stream raises a card and voids it."""
    accepted_at = T0 + timedelta(hours=1)
    read = T0 + timedelta(days=1, hours=12)  # the next day, 20:00 in the hall
    stream = [
        _case(
            1,
            CaseAction.ACCEPTED,
            accepted_at,
            read,
            kind=CaseKind.IMMEDIATE,
            window=WindowId("W03"),
            staff=StaffId("S005"),
        ),
        _case(
            2,
            CaseAction.COMPLETED,
            accepted_at + timedelta(minutes=10),
            read,
            outcome=Outcome.APPROVED,
        ),
    ]

    def run(idle_after_s: int) -> list[str]:
        cfg = example()
        cfg = cfg.model_copy(
            update={"cards": cfg.cards.model_copy(update={"idle_after_s": idle_after_s})}
        )
        sup = Supervision(cfg)
        out: list[Transition] = []
        for rec in stream:
            out += sup.apply(rec)
            at = sup.judge_until(rec.received_at + timedelta(seconds=1))
            assert at is not None
            out += sup.tick(at)  # a tick between the two, as a batch boundary gives
        at = sup.judge_until(read + timedelta(minutes=5))
        assert at is not None
        out += sup.tick(at)
        return [t.why.value for t in out if t.subject.case == "C-1"]

    assert run(60) == []
    assert "void" in run(0)  # what the hold prevents

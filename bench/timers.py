"""Timer benchmark: N open promised cases in the card engine, against a bare heap, in one run.

    .venv/bin/python -m bench.timers [--cases N] [--legal-days D] [--top K]

The hall: Asia/Shanghai, sessions 08:30-12:00 and 14:00-17:30, the national schedule (the
acceptances span the 2026 Spring Festival and its swapped working Saturdays). N `accepted`
events of promised cases (windows W01-W20, officers S001-S040, 1-20 promised days, accepted
at random service seconds of the 10 working days before Monday 2 March 2026; seeded), fed in
time order with their own time as the receive time, as the daemon and a replay do.

Measured, each against a baseline from the same run:
- memory per open case: tracemalloc's traced bytes after the feed minus before, over N (the
  events are built inside the measured span, so what the engine keeps of them counts). The
  baseline is a heap of N (datetime, case id) tuples, the least a timer per case needs. The
  cases whose warning or limit passed during the 10 days carry their cards: counted too.
- cost per event: time inside `on_case_event` (the deadlines that came due between two
  acceptances are fired by an `advance` just before, and counted below, not here).
- cost per due deadline: time in `advance` (and in the daemon's garbage-collection policy,
  monitor/ingest/gcpolicy.py, called before it as the daemon's writer does between batches) over
  the case wake-ups it made, counted as the distinct (case, instant) pairs among the
  transitions it returned (the warning raised; at the limit the warning cleared and the
  overdue raised; the escalation when the answer is late), stepping the clock 15 minutes at a
  time until every case is past its escalation. The baseline is a heappush plus a heappop of
  a (datetime, id) tuple.
- start-up to readiness: a restart after a clean stop loads the snapshot the stop wrote
  (monitor/ingest/snapshot.py) and replays the journal's tail (empty here): the time to unpickle the
  engine. After a crash the start-up replays everything: a fresh engine fed the same N events
  in one go (second row, no target). Both with the garbage collector off, as the daemon has it
  (monitor/ingest/gcpolicy.py); neither counts reading and decoding the journal's tail (about 25 µs
  per event). The baseline is building the heap of N (instant, id) tuples.
Times are this process's CPU time (`time.process_time`), so a busy shared machine inflates
them less; start-up also prints its wall-clock time. Timings run without tracemalloc, and
`--top K` prints the memory pass's K largest allocation sites.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import linecache
import pickle
import random
import sys
import time
import tracemalloc
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.cards import CardEngine, Transition
from alerts.events import CaseAction, CaseEvent, CaseKind
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.rules import Policy
from alerts.workdays import Session, Timetable, WorkCalendar
from monitor.ingest.gcpolicy import LongLived, uncollected

SHANGHAI = ZoneInfo("Asia/Shanghai")
READY_DAY = date(2026, 3, 2)  # a Monday after the Spring Festival
SPREAD_DAYS = 10  # acceptances over this many working days before READY_DAY
WINDOWS = [WindowId(f"W{i:02d}") for i in range(1, 21)]
STAFF = [StaffId(f"S{i:03d}") for i in range(1, 41)]
STEP = timedelta(minutes=15)
TARGET_BYTES = 1024
TARGET_DEADLINE_US = 50.0
TARGET_READY_S = 60.0
cpu = time.process_time  # this process's CPU time: the machine may be shared


def hall_calendar() -> WorkCalendar:
    sessions = (
        Session(start=clock(8, 30), end=clock(12), name="上午"),
        Session(start=clock(14), end=clock(17, 30), name="下午"),
    )
    return WorkCalendar(SHANGHAI, [Timetable(sessions=sessions)])


@dataclass(frozen=True, slots=True)
class Workload:
    """The cases as compact columns, so building them costs the measured spans nothing."""

    seconds: array[int]  # acceptance, Unix seconds, sorted
    windows: array[int]
    staff: array[int]
    days: array[int]
    legal_days: int | None

    def __len__(self) -> int:
        return len(self.seconds)

    def events(self) -> Iterator[tuple[int, EventId, CaseEvent]]:
        for i, sec in enumerate(self.seconds):
            ev = CaseEvent(
                case=CaseId(f"C2026-{i:07d}"),
                action=CaseAction.ACCEPTED,
                ts=datetime.fromtimestamp(sec, UTC),
                kind=CaseKind.PROMISED,
                window=WINDOWS[self.windows[i]],
                staff=STAFF[self.staff[i]],
                promised_days=self.days[i],
                legal_days=self.legal_days,
            )
            yield i, EventId(f"e-{i}"), ev


def workload(cal: WorkCalendar, n: int, legal_days: int | None, seed: int) -> Workload:
    rng = random.Random(seed)
    days: list[date] = []
    day = READY_DAY
    while len(days) < SPREAD_DAYS:
        day -= timedelta(days=1)
        if cal.is_working_day(day):
            days.append(day)
    spans = [span for d in days for span in cal.service_hours(d)]
    secs = sorted(_service_second(rng, spans) for _ in range(n))
    return Workload(
        seconds=array("q", secs),
        windows=array("B", (rng.randrange(len(WINDOWS)) for _ in range(n))),
        staff=array("B", (rng.randrange(len(STAFF)) for _ in range(n))),
        days=array("B", (rng.randint(1, 20) for _ in range(n))),
        legal_days=legal_days,
    )


def _service_second(rng: random.Random, spans: list[tuple[datetime, datetime]]) -> int:
    start, end = rng.choice(spans)
    return int(start.timestamp()) + rng.randrange(int((end - start).total_seconds()))


def new_engine(cal: WorkCalendar) -> CardEngine:
    return CardEngine(cal, Policy(), {})


def wake_ups(fired: list[Transition]) -> int:
    """Deadlines that fired: distinct (case, instant) among the transitions time produced."""
    return len({(t.subject.case, t.ts) for t in fired})


# --- baselines ----------------------------------------------------------------------------


def baseline_bytes(w: Workload) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    heap = [(datetime.fromtimestamp(s, UTC), f"C2026-{i:07d}") for i, s in enumerate(w.seconds)]
    heapq.heapify(heap)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del heap
    return used / len(w)


def baseline_heap(w: Workload) -> tuple[float, float]:
    """(µs per heappush + heappop, seconds to build the heap from the timestamps)."""
    started = cpu()
    heap: list[tuple[datetime, str]] = []
    for i, sec in enumerate(w.seconds):
        heapq.heappush(heap, (datetime.fromtimestamp(sec, UTC), f"C2026-{i:07d}"))
    built = cpu() - started
    items = list(heap)
    random.Random(1).shuffle(items)
    heap = []
    started = cpu()
    for item in items:
        heapq.heappush(heap, item)
    while heap:
        heapq.heappop(heap)
    return (cpu() - started) / len(items) * 1e6, built


# --- the engine ---------------------------------------------------------------------------


def engine_bytes(cal: WorkCalendar, w: Workload, top: int) -> tuple[float, int]:
    """(traced bytes per case, cards raised during the feed)."""
    engine = new_engine(cal)
    engine.advance(datetime.fromtimestamp(w.seconds[0], UTC))  # calendar days, year notice
    gc.collect()
    tracemalloc.start(1 if top == 0 else 2)
    before = tracemalloc.get_traced_memory()[0]
    for seq, eid, ev in w.events():
        engine.on_case_event(seq, eid, ev, ev.ts)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    if top:
        _print_top(tracemalloc.take_snapshot(), top, len(w))
    tracemalloc.stop()
    return used / len(w), len(engine.cards)


def _print_top(snap: tracemalloc.Snapshot, top: int, n: int) -> None:
    here = tracemalloc.Filter(False, tracemalloc.__file__)
    stats = snap.filter_traces([here]).statistics("traceback")
    print(f"where the memory goes (tracemalloc, top {top}, per case):")
    for s in stats[:top]:
        frames = list(reversed(s.traceback))  # the allocating frame first
        if frames[0].filename == "<string>" and len(frames) > 1:  # a dataclass __init__
            frames = frames[1:2]
        print(f"  {s.size / n:7.1f} B {s.count / n:5.2f} blocks  {_frame(frames[0])}")


def _remember_sources() -> None:
    """Cache the source as imported: the breakdown quotes it even if a file changes meanwhile."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name.split(".")[0] in ("alerts", "monitor", "bench"):
            linecache.updatecache(path)


def _frame(f: tracemalloc.Frame) -> str:
    code = linecache.getline(f.filename, f.lineno).strip()[:60]
    return f"{Path(f.filename).name}:{f.lineno} {code}"


@dataclass(slots=True)
class Feed:
    engine: CardEngine
    event_s: float
    due_s: float
    wakes: int
    transitions: Counter[str]
    rss_bytes: int
    collector: LongLived


def live_feed(cal: WorkCalendar, w: Workload) -> Feed:
    engine = new_engine(cal)
    transitions: Counter[str] = Counter()
    event_s = due_s = 0.0
    wakes = 0
    rss = _rss()
    collector = LongLived()  # the daemon's collection policy, run where its writer runs it
    for seq, eid, ev in w.events():
        t0 = cpu()
        collector.step()
        fired = engine.advance(ev.ts)
        t1 = cpu()
        out = engine.on_case_event(seq, eid, ev, ev.ts)
        t2 = cpu()
        due_s += t1 - t0
        event_s += t2 - t1
        wakes += wake_ups(fired)
        transitions.update(t.state.value for t in (*fired, *out))
    return Feed(engine, event_s, due_s, wakes, transitions, _rss() - rss, collector)


def fire_all(feed: Feed) -> tuple[float, int]:
    """Step the clock until nothing is due before the year notice; (seconds, wake-ups)."""
    engine, spent, wakes = feed.engine, 0.0, 0
    now = datetime.combine(READY_DAY, clock(8), SHANGHAI).astimezone(UTC)
    last = now + timedelta(days=60)
    while now < last:
        now += STEP
        started = cpu()
        feed.collector.step()
        fired = engine.advance(now)
        spent += cpu() - started
        wakes += wake_ups(fired)
        feed.transitions.update(t.state.value for t in fired)
    return spent, wakes


def replay_seconds(cal: WorkCalendar, w: Workload) -> tuple[float, float, bytes]:
    """(CPU seconds, wall seconds) to rebuild a fresh engine from the N events, and the
    snapshot of what it built (pickled, as monitor/ingest/snapshot.py writes it)."""
    engine = new_engine(cal)
    wall, started = time.perf_counter(), cpu()
    with uncollected():  # as the daemon's replay does
        for seq, eid, ev in w.events():
            engine.on_case_event(seq, eid, ev, ev.ts)
    spent = cpu() - started, time.perf_counter() - wall
    frozen = pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL)
    del engine
    gc.unfreeze()
    return *spent, frozen


def snapshot_seconds(frozen: bytes) -> tuple[float, float]:
    """(CPU seconds, wall seconds) to load the engine from its snapshot, as a restart does."""
    wall, started = time.perf_counter(), cpu()
    with uncollected():
        engine = pickle.loads(frozen)
    spent = cpu() - started, time.perf_counter() - wall
    assert isinstance(engine, CardEngine)
    del engine
    gc.unfreeze()
    return spent


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- report -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--legal-days", type=int, default=0, help="legal limit too (0: none)")
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--top", type=int, default=0, help="memory breakdown: top K lines")
    args = ap.parse_args()
    _remember_sources()
    cal, n = hall_calendar(), args.cases
    w = workload(cal, n, args.legal_days or None, args.seed)
    legal = args.legal_days or "none"
    print(f"{n:,} accepted promised cases, legal limit {legal}, seed {args.seed}")

    feed = live_feed(cal, w)  # first, while the process is fresh: the RSS growth means something
    fire_s, fire_wakes = fire_all(feed)
    wakes = feed.wakes + fire_wakes
    due_us = (feed.due_s + fire_s) / wakes * 1e6 if wakes else 0.0
    event_us = feed.event_s / n * 1e6
    cards, transitions, rss = len(feed.engine.cards), feed.transitions, feed.rss_bytes
    freezes = feed.collector.freezes
    del feed
    gc.collect()
    replay_s, replay_wall_s, frozen = replay_seconds(cal, w)
    gc.collect()
    ready_s, ready_wall_s = snapshot_seconds(frozen)
    snapshot_b = len(frozen)
    del frozen
    gc.collect()
    case_b, mem_cards = engine_bytes(cal, w, args.top)
    gc.collect()
    base_b = baseline_bytes(w)
    base_us, base_ready_s = baseline_heap(w)

    rows = [
        ("memory per open case (tracemalloc)", f"{case_b:,.0f} B", f"{base_b:,.0f} B",
         case_b / base_b, f"< {TARGET_BYTES} B", case_b < TARGET_BYTES),
        ("cost per event (on_case_event)", f"{event_us:,.1f} µs", f"{base_us:,.2f} µs",
         event_us / base_us, "-", None),
        ("cost per due deadline (advance)", f"{due_us:,.1f} µs", f"{base_us:,.2f} µs",
         due_us / base_us, f"< {TARGET_DEADLINE_US:.0f} µs", due_us < TARGET_DEADLINE_US),
        ("start-up to readiness (snapshot)", f"{ready_s:,.1f} s", f"{base_ready_s:,.2f} s",
         ready_s / base_ready_s, f"< {TARGET_READY_S:.0f} s", ready_s < TARGET_READY_S),
        ("start-up after a crash (replay)", f"{replay_s:,.1f} s", f"{base_ready_s:,.2f} s",
         replay_s / base_ready_s, "-", None),
    ]  # fmt: skip
    print(f"{'measure':<36}{'engine':>11}{'baseline':>11}{'ratio':>7}  {'target':<9} verdict")
    for name, got, base, ratio, target, ok in rows:
        v = "" if ok is None else verdict(ok)
        print(f"{name:<36}{got:>11}{base:>11}{ratio:>6,.0f}x  {target:<9} {v}".rstrip())
    print("baselines: memory, a heap of N (datetime, id) tuples; per event and per deadline,")
    print("  a heappush + heappop of one; start-up, building that heap from the same timestamps")
    print(f"cards already raised when memory was measured: {mem_cards:,} (counted in)")
    print(
        f"start-up wall-clock time: {ready_wall_s:,.1f} s from the snapshot, "
        f"{replay_wall_s:,.1f} s by replay (CPU time is in the table)"
    )
    print(f"snapshot: {snapshot_b / n:,.0f} B per case ({snapshot_b / 2**20:,.0f} MiB)")
    print(f"RSS growth during the timed feed: {rss / n:,.0f} B per case (whole process)")
    print(f"collector: {freezes} freezes of the long-lived state (monitor/ingest/gcpolicy.py)")
    print(f"case wake-ups fired: {wakes:,} ({wakes / n:.2f} per case); cards: {cards:,}")
    print("transitions: " + ", ".join(f"{k} {v:,}" for k, v in sorted(transitions.items())))
    ok = case_b < TARGET_BYTES and due_us < TARGET_DEADLINE_US and ready_s < TARGET_READY_S
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

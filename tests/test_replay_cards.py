"""The journal is the truth: 10,000 case events through the real journal, replayed twice.

Replays give the same cards, bit for bit, as the live run; the same events uploaded out of
order (a clock or a case system that was offline) end with the same cards, raised at their
true times.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alerts.cards import CardState, Why
from alerts.events import Recorded
from alerts.stats import GroupBy, StatsRow, compute
from alerts.supervision import Supervision
from monitor.ingest.ingestor import Classifier, Inbound, Ingestor, Rules
from monitor.ingest.journal import Journal
from monitor.ingest.replay import replay
from monitor.outputs.outbox import rows
from tests.hall import HALL, example
from tests.running import write_config

CFG = example()
START = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)  # 09:00 in the hall
KINDS = ["immediate", "promised", "promised", "joint", "reported", "supplement", "special"]


@dataclass(frozen=True)
class Sent:
    topic: str
    payload: bytes
    ts: datetime


def _case_story(rng: random.Random, n: int) -> list[Sent]:
    """One case's events: received, accepted, perhaps steps, a suspension, an end."""
    case = f"C-R{n:05d}"
    kind = rng.choice(KINDS)
    t = START + timedelta(days=rng.randrange(0, 75), minutes=rng.randrange(0, 480))
    staff, window = f"S{rng.randrange(1, 41):03d}", f"W{rng.randrange(1, 21):02d}"
    out: list[dict[str, object]] = [
        {"action": "received", "kind": kind, "window": window, "staff": staff, "ts": t}
    ]
    acc: dict[str, object] = {"action": "accepted", "kind": kind, "window": window}
    acc.update(staff=staff, promised_days=rng.randrange(1, 12), legal_days=20)
    if kind == "special":
        acc["deadline"] = t + timedelta(days=rng.randrange(1, 5))
    t += timedelta(minutes=rng.randrange(5, 3000))
    out.append({**acc, "ts": t})
    if kind == "joint":
        out.append({"action": "step_started", "step": "会签", "step_days": 2, "dept": "gaj"})
        out[-1]["ts"] = t = t + timedelta(hours=1)
        if rng.random() < 0.7:
            out.append({"action": "step_finished", "step": "会签", "ts": t + timedelta(days=3)})
    if rng.random() < 0.2:
        t += timedelta(days=1)
        out.append({"action": "suspended", "reason": "补正材料", "ts": t})
        t += timedelta(days=rng.randrange(1, 6))
        out.append({"action": "resumed", "reason": "材料已补齐", "ts": t})
    if rng.random() < 0.85:
        t += timedelta(hours=rng.randrange(0, 24 * 12))
        out.append({"action": "completed", "outcome": rng.choice(["approved"] * 9 + ["refused"])})
        out[-1]["ts"] = t
    return [_sent(case, i, e) for i, e in enumerate(out)]


def _sent(case: str, i: int, e: dict[str, object]) -> Sent:
    ts = e["ts"]
    assert isinstance(ts, datetime)
    doc = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in e.items()}
    doc.update(id=f"{case}-{i}", case=case)
    body = json.dumps(doc, ensure_ascii=False).encode()
    return Sent(f"hall/{HALL}/case/{case}/event", body, ts)


def story(seed: int = 7, at_least: int = 10_000) -> list[Sent]:
    rng = random.Random(seed)
    out: list[Sent] = []
    n = 0
    while len(out) < at_least:
        out += _case_story(rng, n)
        n += 1
    return out


class _NoAck:
    def ack(self, batch: Sequence[Inbound]) -> None:
        pass


def run_live(data_dir: Path, sends: Sequence[tuple[Sent, datetime]]) -> Supervision:
    """What the daemon does: journal each batch, then apply it and store the outputs."""
    journal = Journal.open(data_dir, HALL, "normal")
    sup = Supervision(CFG)

    def committed(fresh: Sequence[Recorded]) -> None:
        out = [t for r in fresh for t in sup.apply(r)]
        journal.record_outputs(rows(HALL, out), None, fresh[-1].received_at)

    ing = Ingestor(journal, Classifier(Rules.of(CFG), {}), _NoAck(), committed, lambda: START)
    batch = [Inbound(s.topic, s.payload, at, i) for i, (s, at) in enumerate(sends)]
    for i in range(0, len(batch), 500):
        ing.process(batch[i : i + 500])
    end = max(at for _, at in sends) + timedelta(days=40)
    journal.record_outputs(rows(HALL, sup.tick(end)), (sup.state.last_seq, end), end)
    journal.close()
    return sup


def in_order(events: list[Sent]) -> list[tuple[Sent, datetime]]:
    ordered = sorted(events, key=lambda s: s.ts)
    return [(s, s.ts + timedelta(seconds=1)) for s in ordered]


def late_uploads(events: list[Sent], seed: int = 3) -> list[tuple[Sent, datetime]]:
    """A third of the events arrive hours or days late, in a shuffled order."""
    rng = random.Random(seed)
    delayed = [(s, s.ts + timedelta(hours=rng.choice([0, 0, 4, 30, 100]))) for s in events]
    return sorted(delayed, key=lambda p: (p[1], rng.random()))


def final_cards(sup: Supervision) -> Iterator[tuple[str, str, str, datetime, str, bool]]:
    for card in sup.engine.cards.values():
        if card.history[-1].why is Why.VOID:
            continue  # raised on what was known then, closed when the late evidence came
        yield card.id, card.rule.value, card.level.value, card.raised_at, card.state, card.holds


def test_replay_twice_gives_the_live_cards_bit_for_bit(tmp_path: Path) -> None:
    events = story()
    assert len(events) >= 10_000
    live = run_live(tmp_path, in_order(events))
    journal = Journal.open(tmp_path, HALL)
    first, out1 = replay(journal, CFG)
    second, out2 = replay(journal, CFG)
    stored = journal.outbox()
    journal.close()
    assert first.digest() == second.digest() == live.digest()
    assert [t.payload() for t in out1] == [t.payload() for t in out2]
    assert len(stored) == len(out1) == live.transitions  # nothing stored twice
    raised = {c.rule.value for c in live.engine.cards.values()}
    assert {"case.promised.overdue", "case.immediate.slow", "case.step.overdue"} <= raised
    assert any(c.state is CardState.ESCALATED for c in live.engine.cards.values())
    for by in ("hall", "window", "staff", "day", "month"):
        assert _stats(first, by) == _stats(second, by) == _stats(live, by)
    hall = _stats(first, "hall")[-1]
    assert hall.received > 2000 and 0 < hall.on_time < hall.completed


def _stats(sup: Supervision, by: GroupBy) -> list[StatsRow]:
    cases = [r.assessment for r in sup.engine.cases.values()]
    cal = sup.engine.calendar
    return compute(cases, sup.state.ratings, cal, date(2026, 9, 1), date(2026, 12, 31), by)


def test_stats_command_prints_the_figures_with_chinese_labels(tmp_path: Path) -> None:
    run_live(tmp_path / "data", in_order(story(seed=5, at_least=500)))
    cfg = write_config(tmp_path, 1883, None)
    args = ["stats", "--config", str(cfg), "--from", "2026-09-01", "--to", "2026-12-31"]
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args, "--by", "month"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "办件统计" in out and "2026-09" in out
    csv_out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args, "--csv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert len(csv_out.splitlines()) >= 2


def test_late_uploads_end_with_the_same_cards_at_their_true_times(tmp_path: Path) -> None:
    events = story(seed=11, at_least=3000)
    calm = run_live(tmp_path / "calm", in_order(events))
    late = run_live(tmp_path / "late", late_uploads(events))
    assert sorted(final_cards(late)) == sorted(final_cards(calm))
    voided = [c for c in late.engine.cards.values() if c.history[-1].why is Why.VOID]
    assert voided, "late completions must void cards raised on an incomplete picture"
    for card in voided:
        assert [t.state for t in card.history][-1] is CardState.CLOSED
        assert card.history[0].state is CardState.RAISED  # the raise stays on the record


def test_report_command_writes_the_monthly_html_and_xlsx(tmp_path: Path) -> None:
    run_live(tmp_path / "data", in_order(story(seed=5, at_least=500)))
    cfg = write_config(tmp_path, 1883, None)
    out = tmp_path / "out"
    args = ["report", "--config", str(cfg), "--month", "2026-10", "--out", str(out)]
    said = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, check=True
    ).stdout
    assert "效能考评（本月已结束）" in said
    page = (out / "hallwatch-demo-county-2026-10.html").read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in page and "扣分" in page
    assert (out / "hallwatch-demo-county-2026-10.xlsx").read_bytes()[:2] == b"PK"

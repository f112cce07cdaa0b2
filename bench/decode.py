"""Contract decoding: µs per payload, the decoder against the reference one, in one process.

    .venv/bin/python -m bench.decode [--quick | --size tiny|quick|full]

`alerts/contract.py` decides a message in two ways with one answer: `decode` (the msgspec
Struct of alerts/wire.py, a duplicate-key count, the common stamp shapes) and
`decode_reference` (stdlib json, field by field: the decoder the daemon had before, kept
because it words every rejection and decides whatever the fast path declines). Both run on
the same payloads, in alternating rounds, so load slows both sides of a ratio:

- one typical payload of each kind as devices and the case system send it, decided live
  (`decode`: topic, bytes, receive time, the hall's directory and limits);
- the simulated hall's stream (bench/common.py `mixed_stream`): live, and replayed
  (`decode_journaled`, as `hallwatch replay` and start-up read the journal);
- the share of that stream the fast path accepts (the rest is decided by the reference).

Target: a typical payload (punch, presence) decided in at most 5 µs.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from alerts import contract, wire
from alerts.config import HallConfig
from alerts.contract import Accepted, Limits, decode, decode_journaled, decode_reference
from bench.common import Result, Size, Verdict, add_size_flags, median, mixed_stream, ratio
from devices.simulator import Message
from hallkit.config import example_config_path, load_config

# (calls per payload per round, rounds, messages of the simulated stream)
SIZES = {Size.TINY: (500, 1, 500), Size.QUICK: (20_000, 3, 10_000), Size.FULL: (100_000, 5, 40_000)}
TARGET_US = 5.0
TYPICAL_KINDS = ("punch", "presence")


def _limits(cfg: HallConfig) -> Limits:
    i = cfg.ingest
    return Limits(
        max_payload_bytes=i.max_payload_bytes,
        max_future_skew=timedelta(seconds=i.max_future_skew_s),
        max_past=timedelta(days=i.max_past_days),
    )


def typical(cfg: HallConfig, now: datetime) -> list[tuple[str, str, bytes]]:
    """(name, topic, payload): one of each kind, its time a minute before `now`."""
    hall = f"hall/{cfg.hall.id}"
    stamp = (now - timedelta(minutes=1)).astimezone(cfg.hall.zone).isoformat(timespec="seconds")
    clock, camera = cfg.clocks[0].id, cfg.cameras[0].id
    window, staff = cfg.cameras[0].windows[0], cfg.staff[0].id

    def doc(**fields: object) -> bytes:
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()

    return [
        ("punch", f"{hall}/clock/{clock}/punch", doc(
            id=f"{clock}-{staff}-1", staff=staff, ts=stamp, verify="fingerprint",
        )),
        ("presence", f"{hall}/camera/{camera}/presence", doc(
            window=window, present=True, persons=1, ts=stamp, confidence=0.87,
        )),
        ("case accepted", f"{hall}/case/C2026-000001/event", doc(
            id="case-1", case="C2026-000001", action="accepted", kind="promised", ts=stamp,
            window=window, staff=staff, promised_days=5, legal_days=20,
        )),
        ("staff status", f"{hall}/staff/{staff}/status", doc(
            id="st-1", state="leave", category="sick", ts=stamp, **{"from": stamp},
        )),
        ("rating", f"{hall}/rating/C2026-000001", doc(
            id="r-1", case="C2026-000001", level=5, ts=stamp, channel="pad",
        )),
    ]  # fmt: skip


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def _pair(
    old: Callable[[], object], new: Callable[[], object], calls: int, rounds: int
) -> tuple[float, float]:
    """Median µs per call of each, in alternating rounds (after one warm-up call each)."""
    old(), new()
    olds, news = [], []
    for _ in range(rounds):
        olds.append(_per_call_us(old, calls))
        news.append(_per_call_us(new, calls))
    return median(olds), median(news)


def _stream_fn(msgs: Sequence[Message], decide: Callable[[Message], object]) -> Callable[[], None]:
    def run() -> None:
        for m in msgs:
            decide(m)

    return run


def run(size: Size = Size.QUICK) -> Result:
    started = time.perf_counter()
    calls, rounds, events = SIZES[size]
    cfg = load_config(example_config_path())
    hall, directory, limits = cfg.hall.id, cfg.directory(), _limits(cfg)
    now = datetime.now(UTC)
    rows: list[tuple[str, ...]] = []
    figures: dict[str, float] = {}
    for name, topic, payload in typical(cfg, now):
        d = decode(topic, payload, now, hall, directory, limits)
        assert isinstance(d, Accepted), (name, d)
        assert d == decode_reference(topic, payload, now, hall, directory, limits), name
        args = (topic, payload, now, hall, directory, limits)
        old, new = _pair(
            functools.partial(decode_reference, *args),
            functools.partial(decode, *args),
            calls,
            rounds,
        )
        figures[name] = new
        rows.append(
            (name, f"{len(payload)} B", f"{old:.2f}", f"{new:.2f}", f"{ratio(new, old):.2f}")
        )

    msgs = mixed_stream(cfg, events)
    live = [(m, decode(m.topic, m.payload, m.at, hall, directory, limits)) for m in msgs]
    journaled = [(m, d.event.ts) for m, d in live if isinstance(d, Accepted)]
    fast = sum(
        isinstance(d, Accepted)
        and contract._fast(m.topic, r, m.payload, m.at, directory, limits) is not None
        for m, d in live
        if (r := contract.route(m.topic, hall)) is not None and r.kind in wire.BUILDERS
    )
    stream_calls = max(1, calls // len(msgs))
    for label, old_fn, new_fn in (
        (
            "simulated stream, live",
            _stream_fn(
                msgs, lambda m: decode_reference(m.topic, m.payload, m.at, hall, directory, limits)
            ),
            _stream_fn(msgs, lambda m: decode(m.topic, m.payload, m.at, hall, directory, limits)),
        ),
        (
            "simulated stream, replay",
            _replay_fn(journaled, hall, _reference_journaled),
            _replay_fn(journaled, hall, decode_journaled),
        ),
    ):
        n = len(msgs) if label.endswith("live") else len(journaled)
        old, new = _pair(old_fn, new_fn, stream_calls, rounds)
        old, new = old / n, new / n
        figures[label] = new
        rows.append((label, f"{n:,} msgs", f"{old:.2f}", f"{new:.2f}", f"{ratio(new, old):.2f}"))

    verdicts = [
        Verdict(
            measure=f"{kind} decoded",
            value=f"{figures[kind]:.2f} µs",
            target=f"≤ {TARGET_US:.0f} µs",
            met=figures[kind] <= TARGET_US,
        )
        for kind in TYPICAL_KINDS
    ]
    share = fast / max(1, len(msgs))
    return Result(
        name="decode",
        title="Contract decoding (bench/decode.py)",
        setup=(
            f"`decode` against `decode_reference` (alerts/contract.py), {calls:,} calls per "
            f"payload per round, {rounds} alternating round(s), medians; the simulated hall "
            f"(config/hall.example.toml) for the stream."
        ),
        header=("payload", "size", "reference µs", "decode µs", "decode / reference"),
        rows=rows,
        verdicts=verdicts,
        notes=[
            f"the fast path accepted {share:.1%} of the simulated stream ({fast:,} of "
            f"{len(msgs):,}); the reference decided the rest (status messages are plain text "
            "and always take it)",
        ],
        seconds=time.perf_counter() - started,
    )


def _replay_fn(
    journaled: Sequence[tuple[Message, datetime]],
    hall: str,
    fn: Callable[[str, bytes, str, datetime], object],
) -> Callable[[], None]:
    def run() -> None:
        for m, ts in journaled:
            fn(m.topic, m.payload, hall, ts)

    return run


def _reference_journaled(topic: str, payload: bytes, hall: str, ts: datetime) -> object:
    """`decode_journaled` as it was: stdlib json, field by field, no fast path."""
    r = contract.route(topic, hall)
    assert r is not None
    event, _ = contract._build(r, payload, ts, UTC, Limits(max_payload_bytes=1 << 30), False)
    return contract._with_ts(event, ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_size_flags(ap)
    args = ap.parse_args()
    result = run(args.size)
    print(result.text())
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

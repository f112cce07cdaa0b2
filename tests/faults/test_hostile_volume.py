"""Fault: 100,000 malformed messages mixed into a valid stream, through real Mosquitto.

tests/test_hostile.py sends one message per reject reason; this sends volume: a seeded fuzzer
makes each malformed message from a valid one with exactly one defect, of fifteen kinds, with
random values, so the expected reject reason of every message is known. Valid punches (unique
ids) are interleaved. The daemon must stay up and healthy, record every malformed message in
the journal's rejects table with its expected reason and a detail, and journal every valid one.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.contract import RejectReason as R
from tests.brokers import Mosquitto
from tests.faults.common import journal_rows, publish_window, read_only, reject_reasons
from tests.hall import HALL
from tests.running import DaemonProcess, free_port, wait_until, write_config

pytestmark = pytest.mark.integration

MALFORMED = 100_000
VALID_EVERY = 10  # one valid punch after every ten malformed messages
PUNCH = f"hall/{HALL}/clock/CLK-EAST/punch"
PRESENCE = f"hall/{HALL}/camera/CAM1/presence"
STAFF = [f"S{i:03d}" for i in range(1, 41)]
KNOWN_KEYS = ("clock/CLK-EAST", "camera/CAM1", "case/C2026-000001", "complaint/K-1")

Make = Callable[[random.Random, datetime], tuple[str, bytes]]


def _doc(**fields: Any) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def _ts(rng: random.Random, now: datetime) -> str:
    return (now - timedelta(seconds=rng.randint(60, 86_400))).isoformat()


def _word(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))


def _punch(rng: random.Random, now: datetime, **over: Any) -> bytes:
    doc = {"staff": rng.choice(STAFF), "ts": _ts(rng, now), "verify": "fingerprint"}
    return _doc(**{**doc, **over, "nonce": _word(rng)})


def _truncated(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    whole = _punch(rng, now)
    return PUNCH, whole[: rng.randrange(0, len(whole) - 1)]  # a strict prefix: never JSON


def _not_utf8(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    bad = bytes([rng.choice([0xFF, 0xFE, 0xC0, 0x80])])
    return PUNCH, b'{"staff": "' + bad + _word(rng).encode() + b'"}'


def _not_object(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    value = rng.choice([[rng.random()], rng.randint(-9, 9**9), _word(rng), None, True])
    return PUNCH, json.dumps(value).encode()


def _missing(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return PUNCH, _doc(ts=_ts(rng, now), verify="card", nonce=_word(rng))


def _wrong_type(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return PUNCH, _punch(rng, now, staff=rng.randint(0, 10**6))


def _bad_value(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return PUNCH, _punch(rng, now, verify="x-" + _word(rng))


def _naive(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    local = now.replace(tzinfo=None) - timedelta(seconds=rng.randint(60, 86_400))
    return PUNCH, _punch(rng, now, ts=local.isoformat())


def _bad_time(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    ts = f"2026-{rng.randint(13, 99)}-{rng.randint(1, 28):02d}T08:00:00+08:00"
    return PUNCH, _punch(rng, now, ts=ts)


def _future(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    ts = (now + timedelta(seconds=rng.randint(3_600, 30 * 86_400))).isoformat()
    return PUNCH, _punch(rng, now, ts=ts)


def _unknown_staff(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return PUNCH, _punch(rng, now, staff=f"X{rng.randint(0, 10**6)}")


def _unknown_device(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return f"hall/{HALL}/clock/CLK-{_word(rng)}/punch", _punch(rng, now)


def _unknown_topic(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    # (An area nobody defined is not even subscribed: the broker never delivers it.)
    if rng.random() < 0.5:  # a known area and key, an unknown leaf
        return f"hall/{HALL}/{rng.choice(KNOWN_KEYS)}/{_word(rng)}", _punch(rng, now)
    return PUNCH + "/" + _word(rng), _punch(rng, now)  # one level too many


def _unknown_window(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    window = f"W{rng.randint(6, 20):02d}"  # CAM1 watches W01–W05 only
    payload = _doc(window=window, present=False, persons=0, ts=_ts(rng, now), n=_word(rng))
    return PRESENCE, payload


def _topic_mismatch(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    case = f"C{rng.randint(0, 10**6)}"
    doc = {"case": case + "x", "action": "received", "kind": "immediate", "ts": _ts(rng, now)}
    return f"hall/{HALL}/case/{case}/event", _doc(**doc, window="W01", staff="S001")


def _oversize(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    return PUNCH, b'{"pad": "' + b"x" * (65_536 + rng.randint(1, 4096)) + b'"}'


def _too_deep(rng: random.Random, now: datetime) -> tuple[str, bytes]:
    n = rng.randint(2_000, 20_000)
    return PUNCH, b"[" * n + b"]" * n


KINDS: dict[R, Make] = {
    R.BAD_JSON: _truncated,
    R.NOT_UTF8: _not_utf8,
    R.NOT_OBJECT: _not_object,
    R.MISSING_FIELD: _missing,
    R.WRONG_TYPE: _wrong_type,
    R.BAD_VALUE: _bad_value,
    R.NAIVE_TIME: _naive,
    R.BAD_TIME: _bad_time,
    R.FUTURE_TIME: _future,
    R.UNKNOWN_STAFF: _unknown_staff,
    R.UNKNOWN_DEVICE: _unknown_device,
    R.UNKNOWN_TOPIC: _unknown_topic,
    R.UNKNOWN_WINDOW: _unknown_window,
    R.TOPIC_MISMATCH: _topic_mismatch,
}
RARE: dict[R, tuple[Make, int]] = {R.OVERSIZE: (_oversize, 50), R.TOO_DEEP: (_too_deep, 50)}


def stream(seed: int, now: datetime) -> tuple[list[tuple[str, bytes]], Counter[str], set[str]]:
    """Malformed and valid messages interleaved; the expected reasons and the valid ids."""
    rng = random.Random(seed)
    plan = [reason for reason, (_, n) in RARE.items() for _ in range(n)]
    plan += rng.choices(list(KINDS), k=MALFORMED - len(plan))
    rng.shuffle(plan)
    out: list[tuple[str, bytes]] = []
    valid: set[str] = set()
    for i, reason in enumerate(plan):
        make = RARE[reason][0] if reason in RARE else KINDS[reason]
        t, payload = make(rng, now)
        out.append((t, payload))
        if i % VALID_EVERY == 0:
            eid = f"valid-{seed}-{i}"
            valid.add(eid)
            out.append((PUNCH, _punch(rng, now, id=eid)))
    return out, Counter(r.value for r in plan), valid


def _unlimited_daemon(
    broker: Mosquitto, tmp_path: Path, daemons: list[DaemonProcess]
) -> DaemonProcess:
    """This test reads every reject back, so none may be rate-limited out of the table
    (tests/faults/test_poison.py floods with the default limits)."""
    web = free_port()
    path = write_config(tmp_path, broker.port, broker.password("hallwatch"), web)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[ingest]\n", "[ingest]\nreject_burst = 1000000\n", 1))
    daemon = DaemonProcess(path, web, tmp_path / "daemon.log")
    daemons.append(daemon)
    daemon.start()
    return daemon


def test_100k_malformed_messages_are_each_rejected_with_their_reason_and_valid_ones_kept(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
) -> None:
    seed = random.randrange(1 << 30)
    record_property("seed", seed)
    started = time.monotonic()
    msgs, want, valid = stream(seed, datetime.now(UTC))
    daemon = _unlimited_daemon(mosquitto, tmp_path, daemons)
    data = tmp_path / "data"
    publish_window(mosquitto, msgs, "fuzzer")
    total = sum(want.values())
    wait_until(
        lambda: (
            sum(reject_reasons(data).values()) >= total and len(journal_rows(data)) >= len(valid)
        ),
        300,
        "every message decided",
    )
    assert daemon.healthy(), "the daemon must stay up and healthy"
    assert daemon.stop() == 0
    got = reject_reasons(data)
    assert got == want, {
        k: (got[k], want[k]) for k in want.keys() | got.keys() if got[k] != want[k]
    }
    ids = [i for i, _ in journal_rows(data)]
    assert sorted(ids) == sorted(valid), "every valid message journaled, nothing else"
    with read_only(data / "journal.sqlite3") as conn:
        (blank,) = conn.execute("SELECT count(*) FROM rejects WHERE detail = ''").fetchone()
    assert blank == 0, "every reject says why"
    for key, value in {
        "malformed": total,
        "valid": len(valid),
        "reasons": len(want),
        "duration_s": round(time.monotonic() - started, 1),
    }.items():
        record_property(key, value)

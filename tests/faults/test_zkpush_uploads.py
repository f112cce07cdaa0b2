"""Fault: a fingerprint clock uploads corrupt lines, PINs and verify codes nobody mapped, and
garbage, through the real ZKTeco bridge, Mosquitto (config/mosquitto.conf + .acl through
tests/brokers.py) and the daemon as its own process.

What the clock hears `OK` for is never dropped: the good records are journaled, an unmapped
PIN or verify code is a reject in the daemon's journal (`hallwatch rejects`, with the clock's
topic and the PIN), a line that is not a record is in the bridge's own reject store
(`hallwatch zkpush --rejects`), and the store stays bounded under garbage.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.zkconfig import parse_zk_config
from devices.zkpush import KEPT_FILE, ZkPushService
from devices.zkstate import read_kept
from monitor import cli
from tests.brokers import Mosquitto
from tests.faults.common import journal_rows, read_only
from tests.hall import HALL
from tests.running import DaemonProcess, start_daemon, wait_until
from tests.test_zkpush import request

pytestmark = pytest.mark.integration

SERIAL = "CJDE193560001"
TOPIC = f"hall/{HALL}/clock/CLK-EAST/punch"
GOOD, UNKNOWN_PINS, ODD_VERIFY = 200, 5, 2
BAD_LINES = [  # two of each kind a corrupted clock memory or a broken firmware sends
    b"7\t2026-02-30 08:00:00\t0\t1\t0\t0\t0",
    b"7\t08:00:00\t0\t1",
    b"8\t2026-11-23 08:00:00",
    b"8",
    b"9;1\t2026-11-23 08:00:00\t0\t1",
    b"\t2026-11-23 08:00:00\t0\t1",
    b"9\t2026-11-23 08:00:00\tin\t1",
    b"9\t2026-11-23 08:00:00\t0\t4096",
    "王\t2026-11-23 08:00:00\t0\t1".encode("gbk"),
    b"\x00\x01\x02\xff\xfe",
]
FLOOD_UPLOADS, FLOOD_BYTES = 3, 1 << 20


def _upload(base: datetime) -> tuple[bytes, set[str]]:
    """The clock's upload, records and bad lines mixed, and the ids of its good punches."""
    lines: list[bytes] = []
    good: set[str] = set()
    bad = iter(BAD_LINES)
    for i in range(GOOD + UNKNOWN_PINS + ODD_VERIFY):
        at = base + timedelta(seconds=i)
        pin, verify = str(1 + i % 40), 1
        if i >= GOOD:
            pin, verify = (str(900 + i - GOOD), 1) if i < GOOD + UNKNOWN_PINS else (pin, 99)
        else:
            good.add(f"{SERIAL}-{pin}-{at:%Y%m%d%H%M%S}")
        lines.append(f"{pin}\t{at:%Y-%m-%d %H:%M:%S}\t0\t{verify}\t0\t0\t0".encode())
        if i % 20 == 10:
            lines.append(next(bad))
    return b"\r\n".join(lines) + b"\r\n", good


def _bridge(tmp_path: Path, broker: Mosquitto, **pins: str) -> ZkPushService:
    secret = tmp_path / "mqtt-CLK-EAST"
    secret.write_text(broker.password("CLK-EAST") + "\n", encoding="utf-8")
    cfg = parse_zk_config(
        {
            "hall": {"id": HALL},
            "broker": {"host": broker.host, "port": broker.port, "reconnect_max_s": 2},
            "server": {
                "listen": "127.0.0.1",
                "port": 0,
                "state_dir": str(tmp_path / "zkpush"),
                "max_body_bytes": FLOOD_BYTES + 4096,
            },
            "devices": [{"serial": SERIAL, "id": "CLK-EAST", "password_file": str(secret)}],
            "pins": {str(n): f"S{n:03d}" for n in range(1, 41)} | pins,
        }
    )
    return ZkPushService(cfg, None)


def _rejects(data: Path) -> list[tuple[str, str, str, bytes]]:
    path = data / "journal.sqlite3"
    if not path.exists():
        return []
    with read_only(path) as conn:
        rows = conn.execute("SELECT topic, reason, detail, payload FROM rejects").fetchall()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def _garbage(rng: random.Random) -> bytes:
    out = bytearray()
    while len(out) < FLOOD_BYTES:
        out += rng.randbytes(rng.randrange(1, 80)).replace(b"\n", b"") + b"\n"
    return bytes(out[:FLOOD_BYTES])


def test_a_corrupt_upload_publishes_its_good_records_and_drops_nothing(
    mosquitto: Mosquitto,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    daemon, _ = start_daemon(mosquitto.port, mosquitto.password("hallwatch"), tmp_path, daemons)
    data = tmp_path / "data"
    service = _bridge(tmp_path, mosquitto)
    store = Path(service.cfg.server.state_dir) / KEPT_FILE
    service.start()
    try:
        base = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)
        body, good = _upload(base - timedelta(hours=2))
        url = f"/iclock/cdata?SN={SERIAL}&table=ATTLOG&Stamp=1001"
        sent = time.monotonic()
        taken = GOOD + UNKNOWN_PINS + ODD_VERIFY + len(BAD_LINES)
        assert request(service.address, "POST", url, body) == (200, f"OK: {taken}")

        def arrived() -> bool:
            journaled = {eid for eid, _ in journal_rows(data)} if data.exists() else set()
            return good <= journaled and len(_rejects(data)) >= UNKNOWN_PINS + ODD_VERIFY

        wait_until(arrived, 30, "the good punches journaled and the unmapped ones rejected")
        arrived_s = time.monotonic() - sent
        ids = Counter(eid for eid, topic in journal_rows(data) if topic == TOPIC)
        assert set(ids) == good and set(ids.values()) == {1}
        journaled = len(ids)

        rejects = _rejects(data)
        assert {topic for topic, *_ in rejects} == {TOPIC}  # the clock is in the topic
        reasons = Counter(reason for _, reason, _, _ in rejects)
        assert reasons == {"unknown_staff": UNKNOWN_PINS, "bad_value": ODD_VERIFY}
        unknown = [(d, json.loads(p)["pin"]) for _, r, d, p in rejects if r == "unknown_staff"]
        assert {pin for _, pin in unknown} == {str(900 + j) for j in range(UNKNOWN_PINS)}
        assert all(f"'pin:{pin}'" in detail for detail, pin in unknown)

        monkeypatch.setattr("hallkit.logs.setup", lambda *_: None)
        capsys.readouterr()
        assert cli.main(["rejects", "--data-dir", str(data), "--limit", "50"]) == 0
        shown = capsys.readouterr().out
        assert shown.count(f"未登记的人员(unknown_staff)  {TOPIC}") == UNKNOWN_PINS
        assert "staff 'pin:900'" in shown

        kept = read_kept(store, 100)
        assert kept.rows == len(BAD_LINES)
        assert {k.raw for k in kept.latest} == set(BAD_LINES)
        assert service.stamps.get(SERIAL).attlog == "1001"  # the clock moves on

        # The same upload again (a clock whose stamp was reset): nothing counts twice.
        assert request(service.address, "POST", url, body) == (200, f"OK: {taken}")
        wait_until(
            lambda: len(_rejects(data)) >= 2 * (UNKNOWN_PINS + ODD_VERIFY),
            30,
            "the re-sent unmapped punches rejected",
        )
        ids = Counter(eid for eid, topic in journal_rows(data) if topic == TOPIC)
        assert set(ids) == good and set(ids.values()) == {1}
        again = read_kept(store, 100)
        assert again.rows == len(BAD_LINES) and {k.times for k in again.latest} == {2}

        # Garbage from the allowed serial: acknowledged, a bounded trace kept.
        rng = random.Random(13)
        flood_s = []
        for n in range(FLOOD_UPLOADS):
            junk = _garbage(rng)
            started = time.monotonic()
            status, reply = request(service.address, "POST", url.replace("1001", f"2{n}"), junk)
            flood_s.append(time.monotonic() - started)
            assert status == 200 and reply.startswith("OK: ")
        flooded = read_kept(store, 1)
        assert flooded.rows <= len(BAD_LINES) + FLOOD_UPLOADS * 101
        store_kib = sum(p.stat().st_size for p in store.parent.glob(KEPT_FILE + "*")) // 1024
        assert daemon.healthy()
    finally:
        service.close()

    # The operator maps PIN 900 and the clock uploads again: its punch is journaled now.
    fixed = _bridge(tmp_path, mosquitto, **{"900": "S040"})
    fixed.start()
    try:
        assert request(fixed.address, "POST", url, body) == (200, f"OK: {taken}")
        late = f"{SERIAL}-900-{base - timedelta(hours=2) + timedelta(seconds=GOOD):%Y%m%d%H%M%S}"
        wait_until(lambda: late in {e for e, _ in journal_rows(data)}, 30, "the mapped punch")
        ids = Counter(eid for eid, topic in journal_rows(data) if topic == TOPIC)
        assert set(ids) == good | {late} and set(ids.values()) == {1}
    finally:
        fixed.close()
    record_property("records", GOOD + UNKNOWN_PINS + ODD_VERIFY)
    record_property("bad_lines", len(BAD_LINES))
    record_property("good_journaled", journaled)
    record_property("rejected_unknown_staff", reasons["unknown_staff"])
    record_property("rejected_bad_value", reasons["bad_value"])
    record_property("bad_lines_kept", kept.rows)
    record_property("journaled_s", round(arrived_s, 2))
    record_property("garbage_mib", FLOOD_UPLOADS * FLOOD_BYTES / (1 << 20))
    record_property("rows_kept_after_garbage", flooded.rows)
    record_property("store_kib", store_kib)
    record_property("garbage_upload_max_s", round(max(flood_s), 2))
    record_property("mapped_later_journaled", ids[late])

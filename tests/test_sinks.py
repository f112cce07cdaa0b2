"""Time-series points, the outbox and its sender, the local store; against real servers.

The server tests run against a VictoriaMetrics the test starts (tests/victoria.py) and, when
HALLWATCH_INFLUXDB_URL (+ _TOKEN, _ORG, _BUCKET) is set, against that InfluxDB as well.
The outage test stops the server for OUTAGE_S seconds (HALLWATCH_TEST_OUTAGE_S, default 3 for
CI time; the acceptance run is HALLWATCH_TEST_OUTAGE_S=300).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.cards import CardState, Subject, Transition, Why
from alerts.config import TimeSeriesConfig
from alerts.ids import CardId, CaseId, EventId, StaffId, WindowId
from alerts.points import (
    Point,
    PointError,
    check_level,
    points_for_attendance,
    points_for_lights,
    points_for_stats,
    points_for_transition,
    spread,
    time_ns,
    to_line,
)
from alerts.rules import Level, RuleId
from monitor.outputs.localstore import LocalStore, open_sink, render_query
from monitor.outputs.sinks import (
    OUTBOX_FILE,
    InfluxWriter,
    MemoryWriter,
    Outbox,
    RemoteSink,
    Sender,
    WriteRejected,
)
from tests.brokers import HOST, free_port
from tests.running import wait_until
from tests.victoria import VictoriaMetrics

OUTAGE_S = float(os.environ.get("HALLWATCH_TEST_OUTAGE_S", "3"))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def transition(i: int, **over: Any) -> Transition:
    values: dict[str, Any] = {
        "card": CardId(f"K-{i:016X}"),
        "rule": RuleId.PROMISED_OVERDUE,
        "level": Level.RED,
        "state": CardState.RAISED,
        "why": Why.CONDITION_MET,
        "subject": Subject(
            case=CaseId(f"C2026-{i:06d}"), window=WindowId(f"W0{i % 4 + 1}"), staff=StaffId("S001")
        ),
        "owner": StaffId("S001"),
        "answer_by": T0 + timedelta(days=2),
        "ts": T0 + timedelta(seconds=i),
        "evidence": tuple(EventId(f"e-{i}-{k}") for k in range(i % 3 + 1)),
        "holds": True,
    }
    values.update(over)
    return Transition(**values)


# --- pure: points and line protocol ----------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "line"),
    [
        (
            Point(measurement="m", tags={"hall": "H1"}, fields={"a": 1}, time=T0),
            b"m,hall=H1 a=1i 1793610000000000000",
        ),
        (
            Point(
                measurement="m x,y",
                tags={"k=1": "v 1,2", "empty": ""},
                fields={"s": 'say "hi"\\\n', "f": 0.5, "b": True},
                time=T0 + timedelta(microseconds=7),
            ),
            b'm\\ x\\,y,k\\=1=v\\ 1\\,2 b=true,f=0.5,s="say \\"hi\\"\\\\ " 1793610000000007000',
        ),
        (
            Point(measurement="m", tags={"b": "2", "a": "1"}, fields={"名": "窗口"}, time=T0),
            'm,a=1,b=2 名="窗口" 1793610000000000000'.encode(),
        ),
    ],
)
def test_line_protocol(point: Point, line: bytes) -> None:
    assert to_line(point) == line


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Point(measurement="m", tags={}, fields={}, time=T0),
        lambda: Point(measurement="", tags={}, fields={"a": 1}, time=T0),
        lambda: Point(measurement="m", tags={}, fields={"a": 1}, time=datetime(2026, 1, 1)),
        lambda: to_line(Point(measurement="m", tags={}, fields={"a": float("nan")}, time=T0)),
        lambda: points_for_lights("H1", {"W01": "blue"}, T0),
        lambda: points_for_stats("H1", {"x": True}, T0),
    ],
)
def test_points_refuse_what_line_protocol_cannot_carry(bad: Callable[[], object]) -> None:
    with pytest.raises(PointError):
        bad()


def test_transition_points() -> None:
    t = transition(5)
    card, status = points_for_transition("H1", t)
    at = t.ts + spread(t.card)
    assert card == Point(
        measurement="card",
        tags={
            "hall": "H1",
            "window": "W02",
            "rule": "case.promised.overdue",
            "level": "red",
            "state": "raised",
        },
        fields={
            "card": "K-0000000000000005",
            "reason": "condition_met",
            "evidence": 3,
            "holds": 1,
            "estimated": 0,
            "level_code": 2,
            "owner": "S001",
            "case": "C2026-000005",
            "staff": "S001",
            "answer_by": int((T0 + timedelta(days=2)).timestamp()),
        },
        time=at,
    )
    assert status.measurement == "statuses"
    assert status.tags == {
        "hall": "H1",
        "window": "W02",
        "_check_id": "case.promised.overdue",
        "_check_name": "超过承诺时限",
        "_level": "crit",
        "_source_measurement": "card",
        "_type": "custom",
    }
    assert status.fields["_source_timestamp"] == time_ns(t.ts)
    assert status.fields["_message"] == (
        "超过承诺时限 K-0000000000000005 raised (window=W02 staff=S001 case=C2026-000005)"
    )
    assert status.time == at


def test_a_card_without_window_has_no_window_tag() -> None:
    t = transition(1, rule=RuleId.CALENDAR_MISSING, subject=Subject(), owner=None, answer_by=None)
    card, status = points_for_transition("H1", t)
    assert "window" not in card.tags and "window" not in status.tags
    assert {"owner", "case", "staff", "answer_by"}.isdisjoint(card.fields)


@pytest.mark.parametrize(
    ("level", "state", "holds", "expected"),
    [
        (Level.YELLOW, CardState.RAISED, True, "warn"),
        (Level.RED, CardState.RAISED, True, "crit"),
        (Level.RED, CardState.ESCALATED, True, "crit"),
        (Level.RED, CardState.UPHELD, True, "crit"),
        (Level.RED, CardState.ANSWERED, False, "ok"),
        (Level.RED, CardState.REVOKED, True, "ok"),
        (Level.YELLOW, CardState.CLOSED, False, "ok"),
        (Level.UNKNOWN, CardState.RAISED, True, "unknown"),
    ],
)
def test_check_level(level: Level, state: CardState, holds: bool, expected: str) -> None:
    assert check_level(transition(1, level=level, state=state, holds=holds)) == expected


def test_spread_is_stable_below_a_second_and_separates_cards() -> None:
    offsets = {spread(f"K-{i}") for i in range(200)}
    assert spread("K-1") == spread("K-1")
    assert all(timedelta(0) <= o < timedelta(seconds=1) for o in offsets)
    assert len(offsets) == 200


def test_a_cards_transitions_at_one_instant_are_points_apart(tmp_path: Path) -> None:
    """A red re-raised by late evidence and ended at the instant it learned of it: two
    transitions of one card in one state at one instant. Each is its own point, in the
    card's order, and the store keeps both (it merges points of one series and instant)."""
    raised = transition(3, step=2)
    ended = transition(3, step=3, why=Why.CONDITION_ENDED, holds=False)
    first, second = points_for_transition("H1", raised)[0], points_for_transition("H1", ended)[0]
    assert first.tags == second.tags and first.time < second.time
    store = LocalStore.open(tmp_path)
    store.write([first, second])
    kept = store.query("card", T0, T0 + timedelta(minutes=1))
    assert [p.fields["reason"] for p in kept] == ["condition_met", "condition_ended"]
    store.close()


def test_lights_stats_attendance_points() -> None:
    lights = points_for_lights("H1", {"W02": "red", "W01": "green"}, T0, cards={"W02": 2})
    assert [(p.tags, p.fields) for p in lights] == [
        ({"hall": "H1", "window": "W01"}, {"level": "green", "code": 0, "cards": 0}),
        ({"hall": "H1", "window": "W02"}, {"level": "red", "code": 2, "cards": 2}),
    ]
    (stats,) = points_for_stats("H1", {"received": 12, "on_time_rate": 0.975}, T0)
    assert stats.fields == {"on_time_rate": 0.975, "received": 12} and stats.time == T0
    (att,) = points_for_attendance("H1", staff="S001", verdict="late", at=T0, minutes=7)
    assert att.tags == {"hall": "H1", "kind": "late"}
    assert att.fields == {"staff": "S001", "n": 1, "minutes": 7}


# --- the outbox and the sender against the in-package fake -----------------------------------


def sender_for(outbox: Outbox, writer: MemoryWriter, batch: int = 10, **kw: Any) -> Sender:
    return Sender(
        outbox,
        writer,
        batch_size=batch,
        flush_interval_s=0.01,
        retry_min_s=0.001,
        retry_max_s=0.01,
        **kw,
    )


def lines_of(points: Sequence[Point]) -> list[bytes]:
    return [to_line(p) for p in points]


def stream(n: int, start: int = 0) -> list[Point]:
    return [p for i in range(start, start + n) for p in points_for_transition("H1", transition(i))]


def test_sender_retries_the_same_batch_and_keeps_order(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path, max_rows=1000)
    writer = MemoryWriter()
    sender = sender_for(outbox, writer)
    points = stream(20)
    outbox.enqueue(points[:25])
    outbox.enqueue(points[25:])
    writer.fail = 3
    assert not sender.drain()  # the first attempt fails: the batch stays
    assert outbox.pending() == 40
    while not sender.drain():
        pass
    assert writer.lines == lines_of(points)
    assert (outbox.pending(), sender.stats.sent, sender.stats.failures) == (0, 40, 3)


def test_outbox_survives_a_restart_in_order(tmp_path: Path) -> None:
    points = stream(30)
    first = Outbox.open(tmp_path, max_rows=1000)
    first.enqueue(points)
    writer = MemoryWriter()
    sender = sender_for(first, writer, batch=7)
    writer.fail = 1
    sender.drain()
    first.close()
    again = Outbox.open(tmp_path, max_rows=1000)
    assert again.pending() == 60
    assert sender_for(again, writer, batch=7).drain()
    assert writer.lines == lines_of(points)


def test_full_outbox_refuses_calls_on_full_once_and_loses_nothing_accepted(tmp_path: Path) -> None:
    calls: list[int] = []
    outbox = Outbox.open(tmp_path, max_rows=10, on_full=calls.append)
    points = stream(8)  # 16 points
    assert outbox.enqueue(points[:8])
    assert not outbox.enqueue(points[8:12])  # 8 + 4 > 10: refused whole
    assert not outbox.enqueue(points[12:13])  # would fit, but the episode lasts until drained
    assert calls == [4] and outbox.refused == 5 and outbox.full
    writer = MemoryWriter()
    assert sender_for(outbox, writer).drain()
    assert writer.lines == lines_of(points[:8])
    assert not outbox.full
    assert outbox.enqueue(points[8:]) and calls == [4]


def test_refused_data_is_kept_aside_and_reported(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path, max_rows=100)
    reports: list[tuple[int, str]] = []
    writer = MemoryWriter()
    writer.reject = lambda lines: (
        WriteRejected(400, "bad line") if any(b"W03" in ln for ln in lines) else None
    )
    sender = sender_for(
        outbox, writer, batch=2, on_rejected=lambda n, why: reports.append((n, why))
    )
    points = stream(4)  # transition i=2 is at window W03: batch 3 (points 4 and 5)
    outbox.enqueue(points)
    assert sender.drain()
    assert writer.lines == lines_of(points[:4] + points[6:])
    assert [(s, ln) for s, ln, _, _ in outbox.rejected()] == [
        (5, to_line(points[4])),
        (6, to_line(points[5])),
    ]
    assert reports == [(2, "HTTP 400: bad line")]


def test_too_large_batches_are_split(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path, max_rows=100)
    writer = MemoryWriter()
    writer.reject = lambda lines: WriteRejected(413, "too large") if len(lines) > 3 else None
    points = stream(8)
    outbox.enqueue(points)
    assert sender_for(outbox, writer, batch=16).drain()
    assert writer.lines == lines_of(points) and outbox.rejected() == []


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# --- the local store -------------------------------------------------------------------------


def test_local_store_round_trip_and_idempotent(tmp_path: Path) -> None:
    sink = open_sink(None, tmp_path)
    assert isinstance(sink, LocalStore)
    points = stream(6) + points_for_lights("H1", {"W01": "yellow"}, T0, cards={"W01": 1})
    assert sink.write(points) and sink.write(points)  # a second write overwrites itself
    cards = sink.query("card", T0, T0 + timedelta(hours=1))
    assert cards == [p for p in points if p.measurement == "card"]
    w2 = sink.query("card", T0, T0 + timedelta(hours=1), {"window": "W02", "state": "raised"})
    assert [p.fields["card"] for p in w2] == ["K-0000000000000001", "K-0000000000000005"]
    assert sink.query("card", T0, T0 + timedelta(seconds=2)) == cards[:2]
    assert sink.measurements() == ["card", "light", "statuses"]
    table = render_query(sink.query("statuses", T0, T0 + timedelta(seconds=1)))
    assert "_check_name" in table.splitlines()[0] and "超过承诺时限" in table
    assert sink.prune(T0 + timedelta(seconds=3)) == 3 * 2 + 1  # with the light at T0
    sink.close()


def test_render_query_aligns_wide_characters() -> None:
    p = Point(
        measurement="light", tags={"window": "W01"}, fields={"name": "不动产登记", "n": 1}, time=T0
    )
    q = Point(measurement="light", tags={"window": "W02"}, fields={"name": "ab", "n": 22}, time=T0)
    lines = render_query([p, q]).splitlines()
    assert lines[0].split() == ["time", "window", "n", "name"]
    assert lines[2].endswith("不动产登记") and lines[3].endswith("ab")
    # CJK characters take two columns: the last column starts at the same column everywhere
    starts = {_columns(line[: line.rindex(" ") + 1]) for line in (lines[0], lines[2], lines[3])}
    assert len(starts) == 1
    assert render_query([]) == "(no points)\n"


def test_remote_config_opens_the_outbox(tmp_path: Path) -> None:
    sink = open_sink(TimeSeriesConfig(url="http://127.0.0.1:9"), tmp_path)
    assert isinstance(sink, RemoteSink) and (tmp_path / OUTBOX_FILE).exists()
    sink.close(timeout_s=0.1)
    with pytest.raises(ValueError, match="extra"):
        TimeSeriesConfig.model_validate({"url": "x", "buckets": "y"})


# --- real servers ----------------------------------------------------------------------------


class Recording:
    """Wraps the real writer: every batch the server accepted, in order."""

    def __init__(self, inner: InfluxWriter) -> None:
        self.inner = inner
        self.accepted: list[bytes] = []

    def write(self, lines: Sequence[bytes]) -> None:
        self.inner.write(lines)
        self.accepted.extend(lines)

    def close(self) -> None:
        self.inner.close()


Sample = tuple[str, frozenset[tuple[str, str]], str, Any, int]


class Backend:
    """A server to write to, to read back from, and to take down for a while."""

    url: str
    strings_as_zero: bool  # VictoriaMetrics keeps numbers only: a string field reads 0
    time_unit_ns: int  # the precision the server keeps

    def config(self, **kw: Any) -> TimeSeriesConfig:
        base: dict[str, Any] = {
            "url": self.url,
            "batch_size": 500,
            "flush_interval_s": 0.05,
            "retry_min_s": 0.05,
            "retry_max_s": 0.5,
            "timeout_s": 3.0,
        }
        return TimeSeriesConfig(**(base | kw))

    def token(self) -> str | None:
        return None

    def samples(self, hall: str) -> Counter[Sample]:
        raise NotImplementedError

    def down(self) -> None:
        raise NotImplementedError

    def up(self) -> None:
        raise NotImplementedError

    def expected(self, points: Sequence[Point]) -> Counter[Sample]:
        out: Counter[Sample] = Counter()
        for p in points:
            tags = frozenset(p.tags.items())
            stamp = p.time_ns // self.time_unit_ns
            for name, value in p.fields.items():
                out[(p.measurement, tags, name, self._value(value), stamp)] += 1
        return out

    def _value(self, value: Any) -> Any:
        if not self.strings_as_zero:
            return value
        return 0.0 if isinstance(value, str) else float(value)


class Victoria(Backend):
    strings_as_zero = True
    time_unit_ns = 1_000_000

    def __init__(self, vm: VictoriaMetrics) -> None:
        self.vm = vm
        self.url = vm.url

    def samples(self, hall: str) -> Counter[Sample]:
        out: Counter[Sample] = Counter()
        for series in self.vm.export(f'{{hall="{hall}"}}'):
            labels = dict(series["metric"])
            name = labels.pop("__name__")
            measurement, field = _split_metric(name)
            tags = frozenset(labels.items())
            for value, ms in zip(series["values"], series["timestamps"], strict=True):
                out[(measurement, tags, field, float(value), ms)] += 1
        return out

    def down(self) -> None:
        self.vm.stop()

    def up(self) -> None:
        self.vm.start()


_MEASUREMENTS = ("card", "statuses", "light", "hall_stats", "attendance")


def _split_metric(name: str) -> tuple[str, str]:
    """VictoriaMetrics names a field's series {measurement}_{field}."""
    for m in _MEASUREMENTS:
        if name.startswith(m + "_"):
            return m, name[len(m) + 1 :]
    raise AssertionError(f"unexpected metric {name}")


class Influx(Backend):
    """A real InfluxDB from HALLWATCH_INFLUXDB_URL; taken down by closing a TCP gate before it."""

    strings_as_zero = False
    time_unit_ns = 1000  # Python datetimes, as the client returns them, hold microseconds

    def __init__(self, tmp_path: Path) -> None:
        env = os.environ
        self.target = env["HALLWATCH_INFLUXDB_URL"]
        self.gate = Gate(self.target)
        self.url = self.gate.url
        self.org = env.get("HALLWATCH_INFLUXDB_ORG", "-")
        self.bucket = env.get("HALLWATCH_INFLUXDB_BUCKET", "hallwatch")
        self._token = env.get("HALLWATCH_INFLUXDB_TOKEN")
        if self._token:
            (tmp_path / "influx-token").write_text(self._token)

    def config(self, **kw: Any) -> TimeSeriesConfig:
        token = {"token_file": "influx-token"} if self._token else {}
        return super().config(org=self.org, bucket=self.bucket, **token, **kw)

    def token(self) -> str | None:
        return self._token

    def samples(self, hall: str) -> Counter[Sample]:
        from influxdb_client.client.influxdb_client import InfluxDBClient

        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: 0) '
            f'|> filter(fn: (r) => r.hall == "{hall}")'
        )
        fixed = {"_start", "_stop", "_time", "_value", "_field", "_measurement", "result", "table"}
        out: Counter[Sample] = Counter()
        with InfluxDBClient(url=self.target, token=self._token or "", org=self.org) as client:
            for table in client.query_api().query(flux):
                for r in table.records:
                    tags = frozenset((k, v) for k, v in r.values.items() if k not in fixed)
                    stamp = time_ns(r.get_time()) // self.time_unit_ns
                    out[(r.get_measurement(), tags, r.get_field(), r.get_value(), stamp)] += 1
        return out

    def down(self) -> None:
        self.gate.close()

    def up(self) -> None:
        self.gate.open()


class Gate:
    """A TCP forwarder on a fixed local port: `close` is an outage (connections cut, refused)."""

    def __init__(self, target_url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(target_url)
        self.target = (parts.hostname or HOST, parts.port or 8086)
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._server: socket.socket | None = None
        self._open: list[socket.socket] = []
        self.open()

    def open(self) -> None:
        server = socket.create_server((HOST, self.port))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        for s in [self._server, *self._open]:
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)  # wakes accept() and recv()
                s.close()
        self._server = None
        self._open = []

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


BACKENDS = [
    "victoria",
    pytest.param(
        "influxdb",
        marks=pytest.mark.skipif(
            not os.environ.get("HALLWATCH_INFLUXDB_URL"), reason="HALLWATCH_INFLUXDB_URL not set"
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "influxdb":
        influx = Influx(tmp_path)
        yield influx
        influx.gate.close()
        return
    vm = VictoriaMetrics(tmp_path / "victoria")
    vm.start()
    try:
        yield Victoria(vm)
    finally:
        vm.stop()


def remote(backend: Backend, tmp_path: Path, **kw: Any) -> tuple[RemoteSink, Recording]:
    cfg = backend.config(**kw)
    recording = Recording(InfluxWriter(cfg, backend.token()))
    sink = RemoteSink.open(cfg, tmp_path / "data", writer=recording, config_path=tmp_path / "x")
    return sink, recording


@pytest.mark.integration
def test_points_arrive_with_their_content(backend: Backend, tmp_path: Path) -> None:
    hall = "T" + uuid.uuid4().hex[:10]
    points = [p for i in range(40) for p in points_for_transition(hall, transition(i))]
    points += points_for_lights(hall, {"W01": "green", "W02": "red"}, T0, cards={"W02": 1})
    points += points_for_stats(hall, {"received": 27, "on_time_rate": 0.96}, T0)
    points += points_for_attendance(hall, staff="S001", verdict="late", at=T0, minutes=7)
    sink, recording = remote(backend, tmp_path, batch_size=25)
    sink.start()
    assert sink.write(points)
    sink.flush()
    wait_until(lambda: sink.outbox.pending() == 0, 15, "the outbox to drain")
    sink.close()
    assert recording.accepted == lines_of(points)
    assert sink.sender.stats.requests >= len(points) // 25
    wait_until(
        lambda: backend.samples(hall) == backend.expected(points), 10, "every point, exactly once"
    )


@pytest.mark.integration
def test_server_outage_during_a_stream_loses_nothing_and_doubles_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    hall = "T" + uuid.uuid4().hex[:10]
    sink, recording = remote(backend, tmp_path, batch_size=200)
    sink.start()
    written: list[Point] = []
    pace = max(0.01, OUTAGE_S / 300)  # 10 points a pace: 1000/s, 10/s for a 5-minute outage
    done = threading.Event()
    quit_ = threading.Event()

    def produce() -> None:
        i = 0
        while not quit_.is_set():
            pts = [p for k in range(i, i + 5) for p in points_for_transition(hall, transition(k))]
            assert sink.write(pts)
            written.extend(pts)
            i += 5
            if done.is_set():
                return
            quit_.wait(pace)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_until(lambda: sink.sender.stats.sent >= 100, 30, "points sent before the outage")
        backend.down()
        failures = sink.sender.stats.failures
        wait_until(lambda: sink.sender.stats.failures > failures, 10, "a failed write")
        quit_.wait(OUTAGE_S)  # the outage itself: the stream goes on meanwhile
        backend.up()
        waiting = sink.outbox.pending()
        done.set()
        producer.join(10)
        started = time.monotonic()
        wait_until(lambda: sink.outbox.pending() == 0, 30, "the backlog to drain")
        drained = time.monotonic() - started
    finally:
        quit_.set()
        producer.join(10)
        sink.close()
    print(f"outage backlog {waiting} points, drained in {drained:.2f} s")
    assert waiting > 0
    assert recording.accepted == lines_of(written)  # in order, each once
    wait_until(
        lambda: backend.samples(hall) == backend.expected(written), 10, "every point exactly once"
    )


@pytest.mark.integration
def test_sender_throughput_to_the_server(backend: Backend, tmp_path: Path) -> None:
    hall = "T" + uuid.uuid4().hex[:10]
    points = [p for i in range(10_000) for p in points_for_transition(hall, transition(i))]
    sink, _ = remote(backend, tmp_path, batch_size=5000)
    assert sink.write(points)
    started = time.monotonic()
    assert sink.sender.drain()
    elapsed = time.monotonic() - started
    sink.close()
    print(f"sent {len(points)} points in {elapsed:.2f} s: {len(points) / elapsed:.0f} points/s")
    assert sink.outbox.pending() == 0


def test_outbox_file_is_separate_from_the_journal(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path, max_rows=10)
    outbox.enqueue(stream(1))
    outbox.close()
    conn = sqlite3.connect(tmp_path / OUTBOX_FILE)
    rows = conn.execute("SELECT seq, line FROM outbox").fetchall()
    assert [r[0] for r in rows] == [1, 2] and rows[0][1].startswith(b"card,")
    assert all(p.name.startswith(OUTBOX_FILE) for p in tmp_path.iterdir())


def test_the_grafana_dashboard_reads_what_is_written() -> None:
    """Every measurement and field the dashboard's Flux queries name is one the code writes."""
    path = Path(__file__).resolve().parent.parent / "config/grafana/hallwatch-complaint-centre.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    written = stream(1) + points_for_transition("H1", transition(1, state=CardState.ESCALATED))
    written += points_for_lights("H1", {"W01": "red"}, T0, cards={"W01": 1})
    written += points_for_stats("H1", {"received": 1, "completed": 1, "on_time_rate": 1.0}, T0)
    written += points_for_attendance("H1", staff="S001", verdict="late", at=T0, minutes=3)
    fields = {(p.measurement, f) for p in written for f in p.fields}
    queries = [t["query"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) == len(dashboard["panels"]) >= 8
    for q in queries:
        (measurement,) = re.findall(r'r._measurement == "(\w+)"', q)
        assert measurement in {m for m, _ in fields}, q
        for field in re.findall(r'r._field == "(\w+)"', q):
            assert (measurement, field) in fields, (measurement, field)


def test_the_sender_reads_without_the_writers_lock_and_deletes_without_a_flush(
    tmp_path: Path,
) -> None:
    """peek reads on a connection of its own: it returns while an insert holds the lock; a
    delete commits at synchronous=NORMAL and leaves the writer's connection at FULL."""
    outbox = Outbox.open(tmp_path, max_rows=100)
    points = stream(4)
    assert outbox.enqueue(points)
    with outbox._lock:  # as an insert (and its flush) holds it
        got: list[list[tuple[int, bytes]]] = []
        reader = threading.Thread(target=lambda: got.append(outbox.peek(3)))
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive()
    assert [ln for _, ln in got[0]] == lines_of(points)[:3]
    outbox.delete(got[0][0][0], got[0][-1][0])
    assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert outbox.pending() == len(points) - 3
    assert [ln for _, ln in outbox.peek(10)] == lines_of(points)[3:]
    outbox.close()

"""Camera agent: seat decisions on synthetic frames, the wire format, configuration, the loop.

The accuracy on photographs of people is measured in tests/test_camera_eval.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.contract import Accepted, Limits, decode
from alerts.events import Presence
from devices import camera
from devices.seats import (
    Announcer,
    Hysteresis,
    SeatReport,
    SeatState,
    SeatTracker,
    Why,
    presence_payload,
)
from devices.vision.config import parse_camera_config
from devices.vision.detect import Detection, Detectors, DetectParams, Kind, Turn
from devices.vision.engine import EngineParams, PresenceEngine, Seat
from devices.vision.features import Frame, Geometry, analyse, fit_light
from devices.vision.source import FakeSource, OpenCVSource, backoff, redact
from hallkit.exits import EXIT_CONFIG
from tests import camera_scenes as cs
from tests.hall import example

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "camera.example.toml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = cs.T0
STEP = timedelta(seconds=0.5)  # 2 frames/s


def at(n: int) -> datetime:
    return T0 + n * STEP


# --- hysteresis: a pure state machine, table-driven ---------------------------------------

HP = Hysteresis(enter_frames=4, leave_after=timedelta(seconds=60), leave_frames=20)
FACE, BODY, NONE, MID = (0.95, True), (0.95, False), (0.05, False), (0.5, False)


def feed(
    frames: Sequence[tuple[float, bool] | None], tracker: SeatTracker | None = None, start: int = 0
) -> SeatReport:
    t = tracker or SeatTracker("W03", HP)
    report = None
    for n, f in enumerate(frames, start):
        p, seen = f if f is not None else (None, False)
        report = t.observe(p, 1 if seen else 0, at(n), seen)
    assert report is not None
    return report


@pytest.mark.parametrize(
    ("frames", "state", "why"),
    [
        ([FACE] * 4, SeatState.PRESENT, Why.ENTERED),
        ([FACE] * 3, SeatState.UNKNOWN, Why.HELD),
        ([BODY] * 3 + [FACE], SeatState.PRESENT, Why.ENTERED),  # the face may come last
        ([BODY] * 40, SeatState.UNKNOWN, Why.HELD),  # a coat on the chair: never confirmed
        ([FACE, FACE, MID, FACE, FACE], SeatState.UNKNOWN, Why.HELD),  # the run must be unbroken
        ([NONE] * 4, SeatState.EMPTY, Why.SEEN_EMPTY),
        ([NONE] * 4 + [FACE] * 3, SeatState.EMPTY, Why.HELD),
        ([None] * 100, SeatState.UNKNOWN, Why.HELD),  # blind from the start: nothing to say
    ],
)
def test_entering(frames: list[tuple[float, bool] | None], state: SeatState, why: Why) -> None:
    report = feed(frames)
    assert (report.state, report.why) == (state, why)


def test_leaving_needs_a_minute_of_absence_and_enough_frames() -> None:
    present = [FACE] * 4
    minute = 120  # frames at 2 frames/s

    assert feed(present + [NONE] * (minute - 1)).state is SeatState.PRESENT
    assert feed(present + [NONE] * minute).why is Why.LEFT
    # A steady run of support in between restarts the minute…
    assert feed(present + [NONE] * 100 + [MID] * 3 + [NONE] * 100).state is SeatState.PRESENT
    # …a passer-by crossing the departed seat for a frame or two does not.
    crossed = present + ([NONE] * 30 + [FACE] * 2) * 3 + [NONE] * 30
    assert feed(crossed).state is SeatState.EMPTY
    # A minute that is mostly stream gaps is not enough frames saying "gone".
    gappy = present + ([None] * 9 + [NONE]) * 15
    assert feed(gappy, SeatTracker("W03", HP)).state is not SeatState.EMPTY


def look(
    frames: Sequence[tuple[float, bool | None]],
    hp: Hysteresis = HP,
    tracker: SeatTracker | None = None,
) -> SeatReport:
    """Frames of (p, a person staying in the seat: True / looked and none: False / None)."""
    t = tracker or SeatTracker("W03", hp)
    report = None
    for n, (p, person) in enumerate(frames):
        report = t.observe(p, 1 if person else 0, at(n), bool(person), person)
    assert report is not None
    return report


def test_a_changed_seat_without_a_person_over_time_holds_an_object_and_is_empty() -> None:
    two_minutes = 241  # frames at 2 frames/s, the first and the last included
    coat = [(0.95, False)] * two_minutes  # changed, looked for a person, none there
    report = look(coat)
    assert (report.state, report.why) == (SeatState.EMPTY, Why.OBJECT)
    assert look(coat[:-1]).state is SeatState.UNKNOWN
    # Not looked for (no person evidence configured): it stays unknown, never guessed.
    assert look([(0.95, None)] * 400).state is SeatState.UNKNOWN
    # The officer leaves, the coat stays on the chair: empty two minutes after last seen.
    seated = [(0.95, True)] * 20
    assert look(seated + coat[:-2]).state is SeatState.PRESENT
    report = look(seated + coat[:-1])  # two minutes after the officer was last seen
    assert (report.state, report.why) == (SeatState.EMPTY, Why.OBJECT)
    # Sitting still with the person seen now and then holds.
    still = seated + ([(0.95, False)] * 200 + [(0.95, True)]) * 5
    assert look(still).state is SeatState.PRESENT


def test_blind_for_too_long_becomes_unknown_and_silent() -> None:
    tracker = SeatTracker("W03", HP)
    feed([FACE] * 4, tracker)
    report = feed([None] * 60, tracker, start=4)  # 30 s of nothing usable

    assert (report.state, report.why) == (SeatState.UNKNOWN, Why.BLIND)
    assert Announcer(timedelta(seconds=30)).select([report]) == []


def test_present_persons_and_confidence() -> None:
    tracker = SeatTracker("W03", HP)
    for n in range(8):
        report = tracker.observe(0.95, 2, at(n), True)
    assert report.state is SeatState.PRESENT
    assert report.persons == 2
    assert 0.5 < report.confidence <= 1.0
    for n in range(8, 200):
        report = tracker.observe(0.05, None, at(n))
    assert (report.state, report.persons) == (SeatState.EMPTY, 0)


# --- the wire: announcer and payload against the contract ---------------------------------


def report(state: SeatState, n: int, persons: int = 1, why: Why = Why.HELD) -> SeatReport:
    persons = persons if state is SeatState.PRESENT else 0
    return SeatReport(window="W03", state=state, why=why, persons=persons, confidence=0.9, ts=at(n))


def test_announcer_sends_changes_and_a_heartbeat_within_a_minute() -> None:
    ann = Announcer(timedelta(seconds=30))
    sent = [
        n
        for n in range(0, 400)
        if ann.select([report(SeatState.PRESENT if n < 300 else SeatState.EMPTY, n)])
    ]

    assert sent[0] == 0
    assert 300 in sent  # the change, at once
    gaps = [(b - a) * STEP for a, b in pairwise(sent)]
    assert max(gaps) <= timedelta(seconds=60)
    assert ann.select([report(SeatState.EMPTY, 400)]) == []  # no chatter within the heartbeat


@pytest.mark.parametrize(("state", "persons"), [(SeatState.PRESENT, 1), (SeatState.PRESENT, 2),
                                                (SeatState.EMPTY, 0)])  # fmt: skip
def test_payload_is_accepted_by_the_contract_decoder(state: SeatState, persons: int) -> None:
    r = report(state, 10, persons)
    body = presence_payload(r, SHANGHAI)
    doc = json.loads(body)

    assert set(doc) == {"window", "present", "persons", "ts", "confidence"}
    assert doc["ts"].endswith("+08:00")
    topic = "hall/demo-county/camera/CAM1/presence"
    decided = decode(topic, body, at(11), "demo-county", example().directory(), Limits())
    assert isinstance(decided, Accepted)
    assert isinstance(decided.event, Presence)
    ev = decided.event
    assert (ev.window, ev.present, ev.persons, ev.ts) == ("W03", state is SeatState.PRESENT,
                                                         persons, r.ts)  # fmt: skip
    assert ev.confidence == pytest.approx(0.9)


def test_an_unknown_state_is_never_serialised() -> None:
    with pytest.raises(ValueError, match="unknown"):
        presence_payload(report(SeatState.UNKNOWN, 0), SHANGHAI)


# --- the engine on synthetic frames ---------------------------------------------------------

SEAT = 2  # W03 of the drawn counter
X0, X1 = cs.CELL * SEAT - 12, cs.CELL * (SEAT + 1) + 12


def one_window(frame: Frame) -> Frame:
    """One window's slice of the counter: a cheap frame for long runs."""
    return np.ascontiguousarray(frame[:, X0:X1])


def window_engine(params: EngineParams, calibration: list[Frame]) -> PresenceEngine:
    region = [(x - X0, y) for x, y in cs.seat_region(SEAT)]
    engine = PresenceEngine([Seat("W03", region)], params)
    for n, f in enumerate(calibration):  # start-up reference from empty frames
        engine.observe(f, at(n - len(calibration)))
    assert engine.reference() is not None
    return engine


def officer() -> cs.Sitting:
    """Sits down facing the counter, then reads: only the crown of the head shows."""
    upright = cs.people(cs.TEST, np.random.default_rng(3))[2]  # an LFW face on a drawn body
    return cs.Sitting(cs.bowed(upright), cs.CELL * SEAT + cs.CELL // 2, cs.DESK_Y + 30, 165,
                      arrival=upright)  # fmt: skip


def test_a_still_officer_reading_stays_present_for_thirty_minutes() -> None:
    """3,600 frames at 2 frames/s: the officer sits down facing the counter, then reads
    without moving for half an hour while daylight slowly fades; frames repeat with fresh
    noise. Difference against the EMPTY reference, not motion, keeps the seat present."""
    rng = np.random.default_rng(30)
    c = cs.counter(4242)
    empty = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS)
    seated = tuple(officer() if i == SEAT else None for i in range(cs.SEATS))
    arriving = [i == SEAT for i in range(cs.SEATS)]
    # Seat features at half resolution (76 px wide) keep 3,600 frames cheap; faces are
    # still looked for at full resolution.
    params = EngineParams(analysis_width=(X1 - X0) // 2, detect_width=X1 - X0)
    engine = window_engine(params, [one_window(cs.render(c, empty, rng)) for _ in range(8)])
    dusk = [cs.Light(f"dusk{g}", gain=g, gamma=1.1) for g in (1.0, 0.85, 0.7, 0.55)]
    bank = {
        light.name: [one_window(cs.render(c, cs.Phase(1, light, seated), rng)) for _ in range(6)]
        for light in dusk
    }
    arrival = [one_window(cs.render(c, cs.Phase(1, dusk[0], seated), rng, arriving))] * 6

    states = []
    for n in range(3600):
        light = dusk[n * len(dusk) // 3600]
        frame = arrival[n] if n < len(arrival) else bank[light.name][n % 6]
        states.append(engine.observe(frame, at(n))[0].state)

    entered = states.index(SeatState.PRESENT)
    assert entered < 10
    assert set(states[entered:]) == {SeatState.PRESENT}


def test_lights_off_and_on_never_make_empty_seats_present() -> None:
    rng = np.random.default_rng(8)
    c = cs.counter(99)
    params = EngineParams(hysteresis=Hysteresis(blind_after=timedelta(seconds=10)))
    probe = PresenceEngine(cs.seats(), params)
    engine = PresenceEngine(cs.seats(), params, cs.calibration(c, probe, rng), probe.detectors)
    script = [("day", 8), ("off", 10), ("day", 4), ("off", 30), ("night", 8), ("dim", 4),
              ("bright", 4), ("side", 4), ("day", 8)]  # fmt: skip
    seen: list[list[SeatState]] = []
    n = 0
    for light, count in script:
        phase = cs.Phase(1, cs.LIGHTS[light], (None,) * cs.SEATS)
        for _ in range(count):
            seen.append([r.state for r in engine.observe(cs.render(c, phase, rng), at(n))])
            n += 1

    assert all(s is not SeatState.PRESENT for row in seen for s in row)
    assert all(s is SeatState.EMPTY for s in seen[20])  # 5 s dark: the state holds
    assert set(seen[50]) == {SeatState.UNKNOWN}  # 15 s dark: blind, so say nothing
    assert seen[-1] == [SeatState.EMPTY] * cs.SEATS  # and seen empty again after


class AlwaysAFace(Detectors):
    """A detector that sees a face in W03 on every frame, whatever is there."""

    def run(self, gray: Frame, origin: tuple[int, int], turn: Turn) -> list[Detection]:
        x, y = cs.CELL * SEAT + cs.CELL // 2 - 15, 140
        return [Detection(Kind.FACE, x, y, 30.0, 30.0)]


def test_a_detector_hit_on_a_seat_that_looks_empty_is_ignored() -> None:
    rng = np.random.default_rng(2)
    c = cs.counter(5)
    probe = PresenceEngine(cs.seats(), EngineParams())
    ref = cs.calibration(c, probe, rng)
    engine = PresenceEngine(cs.seats(), EngineParams(), ref, AlwaysAFace(DetectParams()))
    empty = cs.Phase(1, cs.LIGHTS["dim"], (None,) * cs.SEATS)
    for n in range(12):
        reports = engine.observe(cs.render(c, empty, rng), at(n))
    assert reports[SEAT].state is SeatState.EMPTY


def _small_astronaut(side: int) -> Frame:
    """scikit-image's astronaut scaled to `side` px (her face about a fifth of it), on grey."""
    import cv2
    import skimage.data

    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)  # type: ignore[no-untyped-call]
    frame = np.full((200, 240), 120, np.uint8)
    frame[40 : 40 + side, 60 : 60 + side] = cv2.resize(
        face, (side, side), interpolation=cv2.INTER_AREA
    )
    return frame


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_face_under_the_cascades_window_is_found_in_the_enlarged_crop(mirrored: bool) -> None:
    frame = _small_astronaut(110)  # a face of about 22 px: under the cascade's 24 px window
    turn: Turn = (Kind.FACE, mirrored)
    assert Detectors(DetectParams(kinds=(Kind.FACE,))).run(frame, (10, 5), turn) == []
    found = Detectors(DetectParams(kinds=(Kind.FACE,), face_upscale=2.0)).run(frame, (10, 5), turn)
    assert len(found) == 1, found
    d = found[0]
    # The face is at x 98–119, y 54–75 of the crop; boxes come back in the crop's own pixels
    # (not the enlarged ones), moved by its origin (10, 5).
    cx, cy = d.x + d.w / 2, d.y + d.h / 2
    assert 20 <= d.w <= 28 and 108 <= cx <= 129 and 59 <= cy <= 80, d


def test_a_coat_on_an_empty_chair_does_not_become_an_officer() -> None:
    rng = np.random.default_rng(3)
    c = cs.counter(6)
    probe = PresenceEngine(cs.seats(), EngineParams())
    engine = PresenceEngine(cs.seats(), EngineParams(), cs.calibration(c, probe, rng))
    coat = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS, jacket=(True,) * cs.SEATS)
    for n in range(16):
        reports = engine.observe(cs.render(c, coat, rng), at(n))
    assert all(r.state is not SeatState.PRESENT for r in reports)


def test_the_light_model_explains_global_changes_on_an_empty_counter() -> None:
    rng = np.random.default_rng(4)
    c = cs.counter(7)
    empty = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS)
    geo = Geometry([s.region for s in cs.seats()], (cs.W, cs.H), 640)
    ref = analyse(cs.render(c, empty, rng), geo)
    for name in ("dim", "bright", "side", "night"):
        now = analyse(cs.render(c, cs.Phase(1, cs.LIGHTS[name], empty.seated), rng), geo)
        light = fit_light(ref.backdrop, now.backdrop, geo)
        if name == "side":
            assert light.b > 0.1  # brighter to the right
        else:
            assert light.a < 0 if name in ("dim", "night") else light.a > 0


# --- configuration ------------------------------------------------------------------------


def example_doc() -> dict[str, object]:
    import tomllib

    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_configuration_is_valid() -> None:
    cfg = parse_camera_config(example_doc())
    hall = example()
    (cam,) = [c for c in hall.cameras if c.id == cfg.camera.id]
    assert cfg.hall.id == hall.hall.id
    assert [s.window for s in cfg.seats] == cam.windows
    assert cfg.client_id == "hallwatch-camera-demo-county-CAM1"


def test_every_problem_is_reported_with_its_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = example_doc()
    doc["camera"] |= {"sample_fps": 0, "colour": "red"}  # type: ignore[operator]
    doc["presence"] |= {"heartbeat_s": 90}  # type: ignore[operator]
    doc["seats"][1]["region"] = [[1, 1], [2, 2]]  # type: ignore[index]
    doc["seats"][2]["window"] = "W 3"  # type: ignore[index]
    broken = tmp_path / "cam.toml"
    broken.write_text(_toml(doc), encoding="utf-8")

    assert camera.main(["run", "--config", str(broken)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    for path in ("camera.sample_fps", "camera.colour: unknown key", "presence.heartbeat_s",
                 "seats[1].region", "seats[2].window"):  # fmt: skip
        assert path in err


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"seats": [{"window": "W01", "region": [[0, 0], [90, 0], [90, 90]]}] * 2},
         "seats: window 'W01' appears 2 times"),
        ({"seats": [{"window": "W01", "region": [[0, 0], [700, 0], [700, 90]]}]},
         "seats[0].region[1]: point (700, 0) is outside the frame"),
        ({"presence": {"p_on": 0.3, "p_off": 0.4}}, "presence.p_off: must be below"),
        ({"presence": {"leave_after_s": 5, "leave_frames": 20}}, "presence.leave_frames"),
        ({"presence": {"confirm_with": ["hog"]}, "detect": {"detectors": ["face"]}},
         "presence.confirm_with[0]: 'hog' is not in detect.detectors"),
        ({"camera": {"id": "CAM1", "url": "rtsp://x/{password}"}}, "camera.password_file"),
        ({"camera": {"id": "CAM1", "url": 0, "reconnect_min_s": 9, "reconnect_max_s": 3}},
         "camera.reconnect_max_s"),
    ],
)  # fmt: skip
def test_cross_checks(change: dict[str, object], problem: str) -> None:
    from alerts.errors import ConfigError

    doc = example_doc() | change
    with pytest.raises(ConfigError) as info:
        parse_camera_config(doc)
    assert any(problem in p for p in info.value.problems), info.value.problems


def _toml(doc: dict[str, object]) -> str:
    """Enough TOML for these documents: tables, arrays of tables, inline tables, lists."""

    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines: list[str] = []
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    for name, items in doc.items():
        for item in items if isinstance(items, list) else []:
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


# --- the stream: reconnects -----------------------------------------------------------------


class FlakyCapture:
    """Opens, gives `frames` frames, then fails; a new one is made per reconnect."""

    def __init__(self, frames: int) -> None:
        self.left = frames

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def read(self) -> tuple[bool, Frame | None]:
        self.left -= 1
        return (True, np.zeros((4, 4, 3), np.uint8)) if self.left >= 0 else (False, None)

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


def test_a_dropped_stream_is_reopened_with_backoff() -> None:
    opened: list[str | int] = []

    def opener(target: str | int) -> FlakyCapture:
        opened.append(target)
        if len(opened) in (2, 3):
            raise OSError("connection refused")
        return FlakyCapture(3)

    source = OpenCVSource(
        "rtsp://u:secret@cam/1", reconnect_min_s=0.01, reconnect_max_s=0.02, opener=opener
    ).start()
    frames = []
    try:
        for _ in range(200):
            if (f := source.read(timeout=0.05)) is not None:
                frames.append(f)
            if len(opened) >= 4:
                break
    finally:
        source.close()
    assert len(opened) >= 4 and frames
    assert source.reconnects >= 3


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    import random

    delays = list(islice(backoff(1.0, 30.0, random.Random(1)), 8))
    base = [1, 2, 4, 8, 16, 30, 30, 30]
    assert all(0.8 * b <= d <= 1.2 * b for d, b in zip(delays, base, strict=True))


def test_passwords_never_reach_the_logs() -> None:
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/ch1") == "rtsp://***@10.0.0.5:554/ch1"
    assert redact(0) == "0"


# --- the loop: frames in, messages out --------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = T0
        self.mono = 0.0

    def sleep(self, seconds: float) -> bool:
        self.mono += max(seconds, 0.5)
        self.now += timedelta(seconds=max(seconds, 0.5))
        return False


def test_the_loop_publishes_status_presence_and_heartbeats() -> None:
    cfg = parse_camera_config(example_doc())
    rng = np.random.default_rng(12)
    c = cs.counter(31)
    empty = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS)
    frames: list[Frame | None] = [cs.render(c, empty, rng) for _ in range(8)]
    frames += [cs.render(c, empty, rng) for _ in range(4)] * 20  # 40 s of an empty counter
    frames += [None] * 70  # the stream dies: 35 s without a frame
    engine = PresenceEngine(camera.seats_of(cfg), camera.engine_params(cfg))
    sent: list[tuple[str, bytes]] = []
    status: list[str] = []
    agent = camera.Agent(cfg, engine, lambda t, p, r: sent.append((t, p)), status.append)
    clock = FakeClock()
    stop = threading.Event()
    source = FakeSource(frames)

    def tick() -> None:
        if source.reads >= len(frames):
            stop.set()

    camera.loop(source, agent, stop, 0.5, clock=lambda: clock.now,
                monotonic=lambda: clock.mono, sleep=clock.sleep, tick=tick)  # fmt: skip

    assert status == ["online", "offline"]
    docs = [json.loads(p) for _, p in sent]
    assert {t for t, _ in sent} == {"hall/demo-county/camera/CAM1/presence"}
    assert {d["window"] for d in docs} == {"W01", "W02", "W03", "W04", "W05"}
    assert all(d["present"] is False and d["persons"] == 0 for d in docs)
    per_seat = [d for d in docs if d["window"] == "W01"]
    assert len(per_seat) >= 2  # the first "empty", then heartbeats while it holds


# --- calibrate: the only image the agent ever writes -------------------------------------------


def test_calibrate_writes_the_still_and_image_free_statistics(tmp_path: Path) -> None:
    import cv2

    rng = np.random.default_rng(13)
    c = cs.counter(47)
    empty = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS)
    video = tmp_path / "counter.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25, (cs.W, cs.H))
    for _ in range(12):
        writer.write(cs.render(c, empty, rng))
    writer.release()
    doc = example_doc()
    doc["camera"] = {"id": "CAM1", "url": str(video), "reference_file": "ref.json"}
    cfg_path = tmp_path / "cam.toml"
    cfg_path.write_text(_toml(doc), encoding="utf-8")

    code = camera.main(["calibrate", "--config", str(cfg_path), "--out",
                        str(tmp_path / "still.png"), "--reference", str(tmp_path / "ref.json"),
                        "--frames", "4"])  # fmt: skip

    assert code == 0
    still = cv2.imread(str(tmp_path / "still.png"))
    assert still is not None and still.shape == (cs.H, cs.W, 3)
    stats = json.loads((tmp_path / "ref.json").read_text(encoding="utf-8"))
    assert set(stats["seats"]) == {"W01", "W02", "W03", "W04", "W05"}
    assert all(isinstance(v, float) for v in stats["seats"]["W01"]["lum"])  # numbers, no pixels
    cfg = parse_camera_config(doc)
    ref = camera.read_reference(cfg, cfg_path)
    assert ref is not None and set(ref.seats) == set(stats["seats"])
    assert ref.frame_size == (cs.W, cs.H)
    # Frames of another size (the camera was reconfigured): the reference is not trusted.
    engine = PresenceEngine(camera.seats_of(cfg), camera.engine_params(cfg), ref)
    bigger = np.asarray(cv2.resize(cs.render(c, empty, rng), (cs.W * 2, cs.H * 2)), np.uint8)
    engine.observe(bigger, T0)
    assert engine.reference() is None


# --- the systemd unit ---------------------------------------------------------------------------


def test_the_camera_unit_is_hardened_like_the_daemon(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from tests.test_systemd_unit import settings

    root = EXAMPLE.parent.parent
    daemon = settings((root / "systemd" / "hallwatch.service").read_text(encoding="utf-8"))
    text = (root / "systemd" / "hallwatch-camera@.service").read_text(encoding="utf-8")
    unit = settings(text)
    sandbox = [k for k in daemon if k[0] == "Service" and k[1].startswith(
        ("Protect", "Restrict", "Private", "NoNew", "SystemCall", "Capability", "Lock",
         "MemoryDeny"))]  # fmt: skip
    assert sandbox and all(unit[k] == daemon[k] for k in sandbox)
    creds = {v.partition(":")[0] for v in unit[("Service", "LoadCredential")]}
    cfg = parse_camera_config(example_doc())
    assert {cfg.broker.password_file, cfg.camera.password_file} == creds
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    copy = tmp_path / "hallwatch-camera@CAM1.service"
    unit_text = text.replace("/opt/hallwatch/bin/hallwatch ", "/bin/true ", 1)
    copy.write_text(unit_text, encoding="utf-8")
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True,
                          text=True, check=False, timeout=60)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert [line for line in out.splitlines() if "ignoring" in line.lower()] == []

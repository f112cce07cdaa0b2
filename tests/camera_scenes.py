"""Labelled evaluation scenes for the camera agent, built from photographs in scikit-image.

Real people come from the wheel's own data, nothing is downloaded: `astronaut` (Eileen
Collins, frontal), `camera` (the cameraman, in profile) and the 100 face crops of
`lfw_subset` (Labeled Faces in the Wild), each set on a drawn head and torso. They are pasted
into the seats of a drawn service counter — five windows, chairs, partitions, a desk, monitors
that hide part of some seats — then lit (gain, gamma, a light from one side, lights off with
and without the camera's night gain), degraded (sensor noise, JPEG) and played as sequences at
2 frames/s in which officers sit down, stay still, turn, look down and leave.

Everything is a pure function of a seed. `python -m tests.camera_scenes` prints the measured
precision and recall (docs/camera.md), `--still FILE` writes one frame to look at.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

import cv2
import numpy as np
import skimage.data
from numpy.typing import NDArray

from devices.seats import Hysteresis, SeatState
from devices.vision.detect import DetectParams, Kind
from devices.vision.engine import EngineParams, PresenceEngine, Reference, Seat
from devices.vision.features import median_backdrop, median_descriptor

Image = NDArray[np.float32]  # BGR, 0–255
Alpha = NDArray[np.float32]  # 0–1

W, H = 640, 360  # a camera's sub-stream (D1/nHD), what analytics usually read
SEATS = 5
CELL = W // SEATS
DESK_Y = 272
FPS = 2.0
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

# Hysteresis for the evaluation: the production defaults (leave after 60 s) scaled down so
# a sequence stays short; the logic is the same, only the counts differ.
EVAL_HYSTERESIS = Hysteresis(
    enter_frames=3, leave_after=timedelta(seconds=4), leave_frames=6, blind_after=timedelta(60)
)


def seat_region(i: int) -> list[tuple[int, int]]:
    cx = CELL * i + CELL // 2
    return [(cx - 46, 64), (cx + 46, 64), (cx + 52, DESK_Y), (cx - 52, DESK_Y)]


def seats() -> list[Seat]:
    return [Seat(f"W{i + 1:02d}", seat_region(i)) for i in range(SEATS)]


# --- people -------------------------------------------------------------------------------


def _f32(a: object) -> Image:
    return np.asarray(a, np.float32)


def _u8(a: object) -> NDArray[np.uint8]:
    return np.asarray(a, np.uint8)


@dataclass(frozen=True, slots=True)
class Sprite:
    name: str
    bgr: Image
    alpha: Alpha


def _cut(name: str, img: NDArray[np.uint8], poly: Sequence[tuple[int, int]]) -> Sprite:
    pts = np.asarray(poly, np.int32)
    x, y, w, h = cv2.boundingRect(pts)
    mask = np.zeros(img.shape[:2], np.float32)
    cv2.fillPoly(mask, [pts], 1.0)
    mask = _f32(cv2.GaussianBlur(mask, (0, 0), 2.0))
    return Sprite(name, img[y : y + h, x : x + w].astype(np.float32), mask[y : y + h, x : x + w])


def photo_people() -> list[Sprite]:
    astro = _u8(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))  # type: ignore[no-untyped-call]
    cam = _u8(cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2BGR))  # type: ignore[no-untyped-call]
    return [_cut("astronaut", astro, ASTRONAUT), _cut("cameraman", cam, CAMERAMAN)]


# Outlines of the person in each photograph (hand-drawn on the 512×512 originals).
# fmt: off
ASTRONAUT = [(165, 35), (200, 14), (255, 14), (292, 40), (304, 95), (298, 150), (305, 200),
             (330, 290), (362, 320), (365, 345), (290, 370), (280, 512), (22, 512), (26, 330),
             (110, 285), (115, 200), (150, 150), (150, 95)]
CAMERAMAN = [(155, 80), (195, 65), (250, 68), (272, 105), (272, 140), (325, 150), (332, 215),
             (300, 250), (275, 290), (165, 335), (150, 512), (0, 512), (0, 230), (70, 150),
             (135, 115)]
# fmt: on


CLOTHES = [(70, 42, 30), (40, 40, 45), (215, 215, 210), (120, 120, 125), (60, 60, 150),
           (150, 110, 60), (30, 90, 50)]  # fmt: skip


def lfw_person(index: int, face: NDArray[np.float64], rng: np.random.Generator) -> Sprite:
    """A real face (LFW crop, 25×25 grey) on a drawn head, neck and torso; 120×180 px."""
    w, h = 120, 180
    bgr = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    tint = np.array([0.78, 0.88, 1.0], np.float32) * float(rng.uniform(0.8, 1.1))
    skin = tuple(float(v) for v in 150 * tint)
    hair = tuple(float(v) for v in rng.uniform(15, 55, 3))
    cloth = tuple(float(v) for v in CLOTHES[int(rng.integers(len(CLOTHES)))])
    cx = w // 2
    # torso and shoulders, then neck, then head (hair), then the face itself
    torso = np.array([(cx - 22, 62), (cx + 22, 62), (cx + 58, 92), (cx + 60, h),
                      (cx - 60, h), (cx - 58, 92)], np.int32)  # fmt: skip
    for img, val in ((bgr, cloth), (alpha, 1.0)):
        cv2.fillPoly(img, [torso], val)
        cv2.rectangle(img, (cx - 9, 50), (cx + 9, 70), skin if img is bgr else 1.0, -1)
        cv2.ellipse(img, (cx, 34), (22, 28), 0, 0, 360, hair if img is bgr else 1.0, -1)
    cv2.line(bgr, (cx, 66), (cx - 14, 110), (230, 230, 230), 3)  # collar / lapels
    cv2.line(bgr, (cx, 66), (cx + 14, 110), (230, 230, 230), 3)
    f = cv2.resize(face.astype(np.float32) * 255, (36, 40), interpolation=cv2.INTER_CUBIC)
    face_bgr = f[:, :, None] * (tint / tint.mean())[None, None, :]
    fmask = np.zeros((40, 36), np.float32)
    cv2.ellipse(fmask, (18, 20), (17, 20), 0, 0, 360, 1.0, -1)
    fmask = _f32(cv2.GaussianBlur(fmask, (0, 0), 1.5))
    region = (slice(16, 56), slice(cx - 18, cx + 18))
    bgr[region] = bgr[region] * (1 - fmask[..., None]) + face_bgr * fmask[..., None]
    alpha = _f32(cv2.GaussianBlur(alpha, (0, 0), 1.0))
    return Sprite(f"lfw{index:03d}", np.clip(bgr, 0, 255), alpha)


def bowed(s: Sprite) -> Sprite:
    """Looking down at the desk: the face turns away, the crown of the head shows."""
    bgr = s.bgr.copy()
    h, w = s.alpha.shape
    head_top = int(np.argmax(s.alpha.max(axis=1) > 0.5))
    crown = int(0.18 * h)
    top = bgr[head_top : head_top + 6][s.alpha[head_top : head_top + 6] > 0.5]
    colour = tuple(float(v) for v in np.median(top, axis=0))
    cx = w // 2
    cv2.ellipse(bgr, (cx, head_top + crown // 2 + 4), (int(0.19 * w), crown), 0, 0, 360,
                colour, -1)  # fmt: skip
    return _shift(Sprite(s.name + "/down", bgr, s.alpha), 0, 8)


def lowered(s: Sprite, dy: int = 8) -> Sprite:
    """The head dropped `dy` px, as when looking down at the desk."""
    return _shift(s, 0, dy)


def _shift(s: Sprite, dx: int, dy: int) -> Sprite:
    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    size = (s.alpha.shape[1], s.alpha.shape[0])
    return Sprite(
        s.name,
        _f32(cv2.warpAffine(s.bgr, m, size, borderMode=cv2.BORDER_REPLICATE)),
        _f32(cv2.warpAffine(s.alpha, m, size)),
    )


def turned(s: Sprite, angle: float, mirror: bool) -> Sprite:
    bgr, alpha = (s.bgr[:, ::-1], s.alpha[:, ::-1]) if mirror else (s.bgr, s.alpha)
    h, w = alpha.shape
    m = cv2.getRotationMatrix2D((w / 2, h * 0.35), angle, 1.0)
    return Sprite(
        f"{s.name}/turn{angle:+.0f}{'m' if mirror else ''}",
        _f32(cv2.warpAffine(np.ascontiguousarray(bgr), m, (w, h), borderMode=cv2.BORDER_REPLICATE)),
        _f32(cv2.warpAffine(np.ascontiguousarray(alpha), m, (w, h))),
    )


# --- the counter --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counter:
    back: Image  # wall, partitions, chairs
    front: Image  # desk and monitors
    front_alpha: Alpha


def counter(seed: int) -> Counter:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    wall = 200 - 40 * yy / H + 6 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    back = np.dstack([wall * 0.92, wall * 0.97, wall]).astype(np.float32)
    back += cv2.GaussianBlur(rng.normal(0, 6, (H, W, 3)).astype(np.float32), (0, 0), 3)
    for i in range(SEATS):
        cx = CELL * i + CELL // 2
        cv2.rectangle(back, (cx - 40, 12), (cx + 40, 34), (150, 60, 20), -1)  # window plate
        cv2.putText(back, f"W{i + 1:02d}", (cx - 24, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 2)  # fmt: skip
        chair = tuple(float(v) for v in rng.uniform(35, 90, 3))
        top = 150 + int(rng.integers(-12, 12))
        cv2.rectangle(back, (cx - 30, top), (cx + 30, DESK_Y + 10), chair, -1)
        cv2.ellipse(back, (cx, top), (30, 12), 0, 180, 360, chair, -1)
        cv2.line(back, (cx - 30, top + 40), (cx + 30, top + 40), [c * 0.7 for c in chair], 2)
    for x in range(0, W + 1, CELL):  # partitions between windows
        cv2.rectangle(back, (x - 5, 50), (x + 5, H), (140, 150, 160), -1)
        cv2.line(back, (x, 50), (x, H), (90, 95, 100), 1)
    front = np.zeros((H, W, 3), np.float32)
    alpha = np.zeros((H, W), np.float32)
    for img, colour in ((front, (60, 95, 140)), (alpha, 1.0)):
        cv2.rectangle(img, (0, DESK_Y), (W, H), colour, -1)
    cv2.line(front, (0, DESK_Y), (W, DESK_Y), (30, 50, 80), 2)
    for i in range(SEATS):
        cx = CELL * i + CELL // 2
        cv2.rectangle(front, (cx - 30, DESK_Y + 20), (cx + 30, DESK_Y + 30), (200, 200, 200), -1)
        if rng.random() < 0.6:  # a monitor hides part of the seat
            mx = cx + int(rng.choice([-1, 1])) * int(rng.integers(14, 34))
            for img, colour in ((front, (25, 25, 28)), (alpha, 1.0)):
                cv2.rectangle(img, (mx - 22, DESK_Y - 44), (mx + 22, DESK_Y - 10), colour, -1)
                cv2.rectangle(img, (mx - 4, DESK_Y - 8), (mx + 4, DESK_Y + 2), colour, -1)
    return Counter(back, front, alpha)


# --- light and sensor ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Light:
    name: str
    gain: float = 1.0
    gamma: float = 1.0
    side: float = 0.0  # a ramp across the frame, e.g. sun through a side window
    noise: float = 2.5  # sensor noise, grey levels
    jpeg: int = 80


LIGHTS = {
    "day": Light("day"),
    "dim": Light("dim", gain=0.55, gamma=1.25, noise=4.0),
    "bright": Light("bright", gain=1.25, gamma=0.85, noise=2.0),
    "side": Light("side", gain=0.9, side=0.45, noise=3.0),
    "night": Light("night", gain=0.3, noise=7.0, jpeg=60),  # lights off, camera gain up
    "off": Light("off", gain=0.05, noise=2.0),
}


def expose(img: Image, light: Light, rng: np.random.Generator) -> NDArray[np.uint8]:
    """The camera: the scene's light (gain, gamma, a ramp), sensor noise, JPEG."""
    levels = np.arange(256, dtype=np.float32) / 255
    table = (255 * light.gain * np.power(levels, light.gamma)).astype(np.float32)
    out = table[np.clip(img, 0, 255).astype(np.uint8)]
    if light.side:
        ramp = np.linspace(1 - light.side / 2, 1 + light.side / 2, W, dtype=np.float32)
        out *= ramp[None, :, None]
    out += light.noise * _noise(rng)
    frame = np.clip(out, 0, 255, out=out).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, light.jpeg])
    assert ok
    return _u8(cv2.imdecode(buf, cv2.IMREAD_COLOR))


_NOISE: list[Image] = []


def _noise(rng: np.random.Generator) -> Image:
    """Unit Gaussian noise for one frame: a fixed bank of fields, randomly picked and shifted
    (drawing 700,000 fresh normals per frame would double the evaluation's run time)."""
    if not _NOISE:
        bank = np.random.default_rng(0)
        _NOISE.extend(bank.standard_normal((H, W, 3), dtype=np.float32) for _ in range(4))
    field = _NOISE[int(rng.integers(len(_NOISE)))]
    return np.roll(field, (int(rng.integers(H)), int(rng.integers(W))), axis=(0, 1))


# --- scenes and sequences -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sitting:
    sprite: Sprite  # how the officer sits through the phase
    x: int  # centre
    bottom: int
    height: int
    arrival: Sprite | None = None  # how they sit down, upright, before turning or bowing


@dataclass(frozen=True, slots=True)
class Phase:
    frames: int
    light: Light
    seated: tuple[Sitting | None, ...]
    jacket: tuple[bool, ...] = (False,) * SEATS  # a coat over an empty chair (hard negative)
    visitor: tuple[int | None, ...] = (None,) * SEATS  # an applicant's back at the counter, x


def paste(img: Image, s: Sitting, jitter: tuple[int, int]) -> None:
    scale = s.height / s.sprite.alpha.shape[0]
    w = max(1, round(s.sprite.alpha.shape[1] * scale))
    bgr = cv2.resize(s.sprite.bgr, (w, s.height), interpolation=cv2.INTER_AREA)
    a = cv2.resize(s.sprite.alpha, (w, s.height), interpolation=cv2.INTER_AREA)
    x0 = s.x - w // 2 + jitter[0]
    y0 = s.bottom - s.height + jitter[1]
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + s.height, H)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    a = a[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0, None]
    src = bgr[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    img[iy0:iy1, ix0:ix1] = img[iy0:iy1, ix0:ix1] * (1 - a) + src * a


def jacket(img: Image, seat: int) -> None:
    cx = CELL * seat + CELL // 2
    pts = np.array([(cx - 34, 146), (cx + 34, 146), (cx + 38, 236), (cx + 12, 250),
                    (cx - 14, 244), (cx - 38, 236)], np.int32)  # fmt: skip
    cv2.fillPoly(img, [pts], (40, 38, 36))
    cv2.line(img, (cx, 146), (cx - 6, 240), (70, 68, 66), 2)


ARRIVAL_FRAMES = 3


def visitor(img: Image, x: int, shade: float) -> None:
    """An applicant standing at the window, seen from behind: head and shoulders."""
    coat = (shade * 0.9, shade, shade * 1.1)
    cv2.ellipse(img, (x, 300), (62, 40), 0, 180, 360, coat, -1)
    cv2.rectangle(img, (x - 62, 300), (x + 62, H), coat, -1)
    cv2.ellipse(img, (x, 238), (20, 25), 0, 0, 360, (25, 25, 30), -1)


def render(
    c: Counter, phase: Phase, rng: np.random.Generator, arriving: Sequence[bool] = ()
) -> NDArray[np.uint8]:
    img = c.back.copy()
    for i, s in enumerate(phase.seated):
        if s is not None:  # sitting still: a pixel or so of sway between frames
            if s.arrival is not None and i < len(arriving) and arriving[i]:
                s = replace(s, sprite=s.arrival)
            paste(img, s, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))))
        elif phase.jacket[i]:
            jacket(img, i)
    a = c.front_alpha[..., None]
    img = img * (1 - a) + c.front * a
    for x in phase.visitor:
        if x is not None:
            visitor(img, x, 40 + (x * 37) % 120)
    return expose(img, phase.light, rng)


@dataclass(frozen=True, slots=True)
class Split:
    """Which people a split may use: tuning and the reported figures never share a face."""

    name: str
    seed: int
    lfw: range


DEV = Split("dev", 11, range(0, 50))
TEST = Split("test", 23, range(50, 100))


def people(split: Split, rng: np.random.Generator) -> list[Sprite]:
    # The first 100 are faces, the rest are not.
    faces = skimage.data.lfw_subset()[:100]  # type: ignore[no-untyped-call]
    return photo_people() + [lfw_person(i, faces[i], rng) for i in split.lfw]


def _sitting(sprites: list[Sprite], seat: int, rng: np.random.Generator) -> Sitting:
    upright = sprites[int(rng.integers(len(sprites)))]
    pose = rng.random()
    sprite = upright
    if pose < 0.25:
        sprite = bowed(upright)
    elif pose < 0.5:
        sprite = turned(upright, float(rng.uniform(-22, 22)), bool(rng.random() < 0.5))
    # Most officers face the counter for a moment as they sit down; some arrive already
    # reading, and are never seen upright.
    arrival = upright if sprite is not upright and rng.random() < 0.75 else None
    photo = upright.name in ("astronaut", "cameraman")
    height = int(rng.integers(150, 185)) if photo else int(rng.integers(150, 175))
    cx = CELL * seat + CELL // 2 + int(rng.integers(-12, 13))
    return Sitting(sprite, cx, DESK_Y + 30 + int(rng.integers(-6, 10)), height, arrival)


def sequence(split: Split, k: int, n_phases: int = 8, frames: int = 12) -> list[Phase]:
    """Sequence `k` of a split: phases holding occupancy and light for `frames` frames each."""
    sprites = people(split, np.random.default_rng(split.seed))
    rng = np.random.default_rng([split.seed, k])
    seated: list[Sitting | None] = [None] * SEATS
    seq = [Phase(frames, LIGHTS["day"], tuple(seated))]
    off_at = int(rng.integers(2, n_phases - 1))
    for n in range(1, n_phases):
        if n == off_at:  # lights go off and come back: nobody moves meanwhile
            seq.append(replace(seq[-1], light=LIGHTS[str(rng.choice(["off", "night"]))]))
            continue
        for i in range(SEATS):
            if rng.random() < 0.4:
                seated[i] = None if seated[i] is not None else _sitting(sprites, i, rng)
        light = LIGHTS[str(rng.choice(["day", "day", "dim", "bright", "side"]))]
        coats = tuple(seated[i] is None and rng.random() < 0.1 for i in range(SEATS))
        guests = tuple(
            CELL * i + CELL // 2 + int(rng.integers(-20, 21)) if rng.random() < 0.15 else None
            for i in range(SEATS)
        )
        seq.append(Phase(frames, light, tuple(seated), coats, guests))
    return seq


def frames(c: Counter, seq: list[Phase], rng: np.random.Generator) -> Iterator[
    tuple[NDArray[np.uint8], tuple[bool, ...]]
]:  # fmt: skip
    before: tuple[Sitting | None, ...] = (None,) * SEATS
    for phase in seq:
        truth = tuple(s is not None for s in phase.seated)
        new = [s is not None and s is not b for s, b in zip(phase.seated, before, strict=True)]
        for n in range(phase.frames):
            yield render(c, phase, rng, [a and n < ARRIVAL_FRAMES for a in new]), truth
        before = phase.seated


def calibration(c: Counter, engine: PresenceEngine, rng: np.random.Generator) -> Reference:
    """What `hallwatch camera calibrate` stores: the median of a few empty, lit frames."""
    empty = Phase(1, LIGHTS["day"], (None,) * SEATS)
    looks = [engine.look(render(c, empty, rng)) for _ in range(5)]
    return Reference(
        median_backdrop([a.backdrop for a in looks]),
        {
            s.window: median_descriptor([a.descriptors[i] for a in looks])
            for i, s in enumerate(engine.seats)
        },
    )


# --- scoring ------------------------------------------------------------------------------


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unknown: int = 0
    frames: int = 0
    seconds: float = 0.0

    def count(self, state: SeatState, true: bool) -> None:
        if state is SeatState.UNKNOWN:
            self.unknown += 1
            return
        said = state is SeatState.PRESENT
        self.tp += said and true
        self.fp += said and not true
        self.fn += true and not said
        self.tn += not true and not said

    def add(self, other: Score) -> None:
        for name in ("tp", "fp", "fn", "tn", "unknown", "frames", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f} recall {self.recall:.3f} "
            f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn}, unknown {self.unknown}; "
            f"{self.frames} frames, {1000 * self.seconds / max(1, self.frames):.1f} ms/frame)"
        )


def grace(truth_changed_ago: int, now_true: bool, hp: Hysteresis) -> bool:
    """Frames just after a true change are not scored: hysteresis delays by design."""
    limit = hp.enter_frames + 1 if now_true else int(hp.leave_after.total_seconds() * FPS) + 2
    return truth_changed_ago < limit


def evaluate(
    split: Split,
    params: EngineParams | None = None,
    sequences: int = 3,
    workers: int = 1,
) -> Score:
    """Precision and recall of the seat states over `sequences` sequences of a split.

    Each sequence is a different counter (layout seed) and seeded on its own, so the result
    does not depend on `workers` (processes sharing the sequences)."""
    prm = params or EngineParams(hysteresis=EVAL_HYSTERESIS)
    jobs = [(split, k, prm) for k in range(sequences)]
    if workers <= 1:
        parts = [_evaluate_one(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            parts = list(pool.map(_evaluate_one, *zip(*jobs, strict=True)))
    total = Score()
    for part in parts:
        total.add(part)
    return total


def _evaluate_one(split: Split, k: int, prm: EngineParams) -> Score:
    score = Score()
    c = counter(split.seed * 1000 + k)
    rng = np.random.default_rng([split.seed, k, 1])
    probe = PresenceEngine(seats(), prm)
    engine = PresenceEngine(seats(), prm, calibration(c, probe, rng), probe.detectors)
    since = [10**6] * SEATS
    last: tuple[bool, ...] | None = None
    for n, (frame, truth) in enumerate(frames(c, sequence(split, k), rng)):
        since = [0 if last is not None and t != was else ago + 1
                 for ago, t, was in zip(since, truth, last or truth, strict=True)]  # fmt: skip
        last = truth
        t = time.perf_counter()
        reports = engine.observe(frame, T0 + timedelta(seconds=n / FPS))
        score.seconds += time.perf_counter() - t
        score.frames += 1
        for r, true, ago in zip(reports, truth, since, strict=True):
            if not grace(ago, true, prm.hysteresis):
                score.count(r.state, true)
    return score


def still(split: Split, path: str) -> None:
    """Every phase of the first sequence, one frame each, tiled, regions drawn."""
    rng = np.random.default_rng(split.seed)
    seq = sequence(split, 0)
    c = counter(split.seed * 1000)
    tiles = []
    for phase in seq:
        frame = render(c, phase, rng)
        for i in range(SEATS):
            cv2.polylines(frame, [np.asarray(seat_region(i), np.int32)], True, (0, 255, 255), 1)
        tiles.append(frame)
    tiles += [np.zeros_like(tiles[0])] * (len(tiles) % 2)
    cv2.imwrite(path, np.vstack([np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]))


BENCH_CONFIGS: dict[str, tuple[tuple[Kind, ...], float]] = {
    "person, face, profile, enlarged (default)": ((Kind.PERSON, Kind.FACE, Kind.PROFILE), 2.0),
    "person, face, profile, not enlarged": ((Kind.PERSON, Kind.FACE, Kind.PROFILE), 1.0),
    "cascades and HOG alone": ((Kind.FACE, Kind.PROFILE, Kind.UPPERBODY, Kind.HOG), 1.0),
}


def bench(configs: dict[str, tuple[tuple[Kind, ...], float]] | None = None) -> None:
    """Time per frame for 20 seats in one 1920×1080 frame (four counters in a 2×2 mosaic),
    one OpenCV thread, three situations: all seats empty, all occupied and settled, and the
    worst case — every seat in question every frame (just after start or a light change).

    The configurations take turns frame by frame, so that other jobs on the machine slow them
    alike; each frame is timed as wall time and as the process's CPU time."""
    cv2.setNumThreads(1)
    split = TEST
    rng = np.random.default_rng(5)
    sprites = people(split, rng)
    counters = [counter(split.seed * 1000 + k) for k in range(4)]
    occupied = [Phase(1, LIGHTS["day"], tuple(_sitting(sprites, i, rng) for i in range(SEATS)))
                for _ in range(4)]  # fmt: skip
    empty = Phase(1, LIGHTS["day"], (None,) * SEATS)
    regions = [
        Seat(f"W{4 * 0 + k * SEATS + i + 1:02d}", [(round(x * 1.5) + (k % 2) * 960,
             round(y * 1.5) + (k // 2) * 540) for x, y in seat_region(i)])
        for k in range(4) for i in range(SEATS)
    ]  # fmt: skip

    def mosaic(phases: list[Phase]) -> NDArray[np.uint8]:
        pairs = zip(counters, phases, strict=True)
        tiles = [cv2.resize(render(c, p, rng), (960, 540)) for c, p in pairs]
        return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])

    params = {
        name: EngineParams(
            analysis_width=640,
            detect_width=1280,
            detect=DetectParams(kinds=kinds, face_upscale=up),
            confirm_by=frozenset(kinds) & {Kind.PERSON, Kind.SEGMENT, Kind.FACE, Kind.PROFILE},
        )
        for name, (kinds, up) in (configs or BENCH_CONFIGS).items()
    }
    shots = {"empty": mosaic([empty] * 4), "occupied": mosaic(occupied)}
    for situation, frame in [("all empty", shots["empty"]), ("all occupied, settled",
                             shots["occupied"]), ("worst case", shots["occupied"])]:  # fmt: skip
        engines = {name: PresenceEngine(regions, prm) for name, prm in params.items()}
        for engine in engines.values():
            calibrated = engine.look(shots["empty"])
            engine.backdrop = calibrated.backdrop
            engine.references = list(calibrated.descriptors)
        wall: dict[str, list[float]] = {name: [] for name in engines}
        cpu: dict[str, list[float]] = {name: [] for name in engines}
        for n in range(40):
            for name, engine in engines.items():
                if situation == "worst case":
                    engine.trackers = [t.__class__(t.window, t.params) for t in engine.trackers]
                t0, c0 = time.perf_counter(), time.process_time()
                engine.observe(frame, T0 + timedelta(seconds=n / FPS))
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        for name in engines:
            w, c = 1000 * np.array(wall[name][5:]), 1000 * np.array(cpu[name][5:])
            print(
                f"{situation:<22} {name:<42} CPU median {np.median(c):6.1f} ms"
                f" p95 {np.percentile(c, 95):6.1f} ms ({100 * np.median(c) / 1000 * FPS:4.1f} %"
                f" of one core); wall median {np.median(w):6.1f} ms p95 {np.percentile(w, 95):6.1f}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test"], default="test")
    ap.add_argument("--still", help="write one frame of the first sequence here and stop")
    ap.add_argument("--sequences", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bench", action="store_true", help="time 20 seats in 1920×1080")
    ap.add_argument("--kinds", help="--bench only these detectors, e.g. person,face,profile")
    ap.add_argument("--face-upscale", type=float, default=1.0, help="with --kinds")
    args = ap.parse_args(argv)
    split = DEV if args.split == "dev" else TEST
    if args.bench:
        kinds = tuple(Kind(k) for k in args.kinds.split(",")) if args.kinds else None
        bench({args.kinds: (kinds, args.face_upscale)} if kinds else None)
        return 0
    if args.still:
        still(split, args.still)
        return 0
    score = evaluate(split, sequences=args.sequences, workers=args.workers)
    print(f"{split.name}, {args.sequences} sequences: {score}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

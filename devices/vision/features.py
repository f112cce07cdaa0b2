"""Seat features: how different a seat region looks from its frozen empty reference.

A frame is reduced once to a small grey image (`Geometry.analysis_size`). Each seat region is
cut into a grid of cells, each described by its mean grey level and an orientation histogram
of gradient magnitude. The part of the frame outside every seat (the *backdrop*: wall,
partitions, desk front) is cut into cells too. Comparing the backdrop with its own reference
tells how the light changed — gain, gamma and a ramp across the frame, fitted in log space —
so a seat is compared with its reference *as that light would show it*: lights dimmed,
brightened or slanting leave an empty chair empty; a person does not fit the model.

The reference is statistics (a few numbers per cell), not a picture: it is what `calibrate`
stores, and it never leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]
Floats = NDArray[np.float32]
Point = tuple[int, int]

BINS = 8  # unsigned gradient orientations, 22.5° each
BACKDROP_GRID = (16, 9)  # cells across and down the whole frame


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeParams:
    """Tolerances of the per-cell comparison; a cell scores 1 at its tolerance."""

    orientation: float = 0.5  # 1 - cosine of the two orientation histograms
    energy: float = 1.0  # |log| ratio of gradient energies
    luminance: float = 0.35  # |log| residual of the grey level against the light model
    noise_floor: float = 1.5  # energies are compared above this many times the noise level


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One seat: per cell, mean grey level and mean gradient magnitude per orientation."""

    hist: Floats  # (cells, BINS)
    lum: Floats  # (cells,)

    def to_json(self) -> dict[str, list[float]]:
        return {"hist": _rounded(self.hist), "lum": _rounded(self.lum)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], cells: int) -> Descriptor:
        hist = np.asarray(doc["hist"], np.float32)
        lum = np.asarray(doc["lum"], np.float32)
        if hist.size != cells * BINS or lum.size != cells:
            raise ValueError(f"expected {cells} cells, found {lum.size}")
        return cls(hist.reshape(cells, BINS), lum)


@dataclass(frozen=True, slots=True)
class Backdrop:
    """The frame outside the seats: grey level per backdrop cell, and the sensor noise."""

    lum: Floats  # (backdrop cells,), NaN where a cell is mostly seat
    noise: float  # mean gradient magnitude of the flattest backdrop cells
    brightness: float = field(init=False)  # mean grey level of the backdrop

    def __post_init__(self) -> None:
        ok = self.lum[np.isfinite(self.lum)]
        object.__setattr__(self, "brightness", float(ok.mean()) if ok.size else 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"lum": [None if not np.isfinite(v) else round(float(v), 3) for v in self.lum],
                "noise": round(self.noise, 4)}  # fmt: skip

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Backdrop:
        lum = np.asarray([np.nan if v is None else v for v in doc["lum"]], np.float32)
        if lum.size != BACKDROP_GRID[0] * BACKDROP_GRID[1]:
            raise ValueError("backdrop grid does not match")
        return cls(lum, float(doc["noise"]))


def _rounded(a: Floats) -> list[float]:
    return [round(float(v), 4) for v in a.ravel()]


def median_descriptor(items: Sequence[Descriptor]) -> Descriptor:
    return Descriptor(
        np.median(np.stack([d.hist for d in items]), axis=0).astype(np.float32),
        np.median(np.stack([d.lum for d in items]), axis=0).astype(np.float32),
    )


def median_backdrop(items: Sequence[Backdrop]) -> Backdrop:
    return Backdrop(
        np.median(np.stack([b.lum for b in items]), axis=0).astype(np.float32),
        float(np.median([b.noise for b in items])),
    )


@dataclass(frozen=True, slots=True)
class Analysed:
    gray: Frame  # the analysis-size grey frame
    sight: Frame  # the grey frame at detection size (detectors run on crops of it)
    backdrop: Backdrop
    descriptors: tuple[Descriptor, ...]  # one per seat, in configuration order


class _SeatCells:
    __slots__ = ("box", "cell", "centre", "mask", "valid", "weight")

    def __init__(self, poly: NDArray[np.int32], grid: int, size: tuple[int, int]) -> None:
        x, y, w, h = cv2.boundingRect(poly)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, size[0]), min(y + h, size[1])
        if x1 - x0 < grid or y1 - y0 < grid:
            raise ValueError("seat region is smaller than its cell grid at analysis size")
        self.box = (x0, y0, x1, y1)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [poly - np.array([x0, y0], np.int32)], 1)
        self.mask = mask.astype(np.float32)
        rows = np.minimum((np.arange(y1 - y0) * grid) // (y1 - y0), grid - 1)
        cols = np.minimum((np.arange(x1 - x0) * grid) // (x1 - x0), grid - 1)
        self.cell = (rows[:, None] * grid + cols[None, :]).astype(np.intp)
        self.weight = np.bincount(
            self.cell.ravel(), weights=self.mask.ravel(), minlength=grid * grid
        ).astype(np.float32)
        # Cells the polygon barely touches are noise, not evidence.
        self.valid = self.weight >= 0.25 * float(self.weight.max())
        step = np.array([(x1 - x0) / grid, (y1 - y0) / grid])
        ij = np.array([(c, r) for r in range(grid) for c in range(grid)], np.float64)
        centre = np.array([x0, y0]) + (ij + 0.5) * step
        self.centre = (centre / np.array(size) * 2 - 1).astype(np.float32)  # in [-1, 1]


class Geometry:
    """Seat regions scaled to the analysis size of one frame size; built once per stream."""

    def __init__(
        self,
        regions: Sequence[Sequence[Point]],
        frame_size: tuple[int, int],
        analysis_width: int,
        grid: int = 4,
        detect_width: int | None = None,
    ) -> None:
        self.frame_size = frame_size
        self.scale = min(1.0, analysis_width / frame_size[0])
        w, h = _size(frame_size, self.scale)
        self.analysis_size = (w, h)
        # Detectors may look at a sharper image than the seat features need.
        self.detect_size = _size(frame_size, min(1.0, (detect_width or w) / frame_size[0]))
        self.detect_ratio = self.detect_size[0] / w
        self.grid = grid
        self.polys = [
            np.round(np.asarray(r, np.float64) * self.scale).astype(np.int32) for r in regions
        ]
        self.seats = [_SeatCells(p, grid, self.analysis_size) for p in self.polys]
        self.labels = np.full((h, w), -1, np.int16)
        for i, p in enumerate(self.polys):
            cv2.fillPoly(self.labels, [p], i)
        seat_px = cv2.dilate((self.labels >= 0).astype(np.uint8), np.ones((9, 9), np.uint8))
        self.background = seat_px == 0
        self._backdrop_cells()

    @property
    def cells(self) -> int:
        return self.grid * self.grid

    def _backdrop_cells(self) -> None:
        # Cells are what cv2.resize(INTER_AREA) averages into a BACKDROP_GRID image.
        self.bg_f32 = self.background.astype(np.float32)
        share = np.asarray(cv2.resize(self.bg_f32, BACKDROP_GRID, interpolation=cv2.INTER_AREA))
        self.bd_share = np.maximum(share, 1e-3).astype(np.float32)
        self.bd_valid = (share >= 0.8).ravel()
        gx, gy = BACKDROP_GRID
        cx = (np.arange(gx) + 0.5) / gx * 2 - 1
        cy = (np.arange(gy) + 0.5) / gy * 2 - 1
        self.bd_centre = np.array([(x, y) for y in cy for x in cx], np.float32)

    def crops_of(self, seats: Iterable[int], most_px: int) -> list[Crop]:
        """Where the detectors look for some seats, in detection pixels: the padded union of
        their regions — split where joining two groups would mostly add unwatched area."""
        w, h = self.detect_size
        r = self.detect_ratio
        crops: list[Crop] = []
        for i in seats:
            x0, y0, x1, y1 = self.seats[i].box
            pad = max(8, (y1 - y0) // 10)
            box = (max(0, round((x0 - pad) * r)), max(0, round((y0 - pad) * r)),
                   min(w, round((x1 + pad) * r)), min(h, round((y1 + pad) * r)))  # fmt: skip
            crops.append((box, frozenset({i})))
        return _merge(crops, most_px)

    def seat_at(self, x: float, y: float) -> int:
        """Index of the seat whose region holds the analysis-size point, or -1."""
        w, h = self.analysis_size
        xi, yi = int(x), int(y)
        if 0 <= xi < w and 0 <= yi < h:
            return int(self.labels[yi, xi])
        return -1


Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def _size(frame_size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(frame_size[0] * scale)), max(1, round(frame_size[1] * scale))


def _area(b: Box) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


Crop = tuple[Box, frozenset[int]]  # a box and the seats it covers


def _merge(crops: list[Crop], most_px: int) -> list[Crop]:
    """Join crops while the join covers little more than its parts (one detector pass over a
    row of seats is cheaper than one per seat; one over two distant rows is not)."""
    crops = sorted(crops, key=lambda c: c[0])
    joined = True
    while joined:
        joined = False
        pairs = [(i, j) for i in range(len(crops)) for j in range(i + 1, len(crops))]
        for a, b in pairs:
            (p, ps), (q, qs) = crops[a], crops[b]
            u = (min(p[0], q[0]), min(p[1], q[1]), max(p[2], q[2]), max(p[3], q[3]))
            if _area(u) <= min(most_px, 1.25 * (_area(p) + _area(q))):
                crops[a] = (u, ps | qs)
                del crops[b]
                joined = True
                break
    return crops


def to_gray(frame: Frame, size: tuple[int, int]) -> Frame:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    if (gray.shape[1], gray.shape[0]) != size:
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray, dtype=np.uint8)


def analyse(frame: Frame, geo: Geometry) -> Analysed:
    sight = to_gray(frame, geo.detect_size)
    gray = to_gray(sight, geo.analysis_size)
    smooth = _f32(cv2.GaussianBlur(gray, (0, 0), 1.0))
    gx = _f32(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, scale=0.125))
    gy = _f32(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, scale=0.125))
    mag = _f32(cv2.magnitude(gx, gy))
    return Analysed(gray, sight, _backdrop(smooth, mag, geo), _seats(smooth, gx, gy, mag, geo))


def _f32(a: object) -> Floats:
    return np.asarray(a, np.float32)


def _cell_means(img: Floats, geo: Geometry) -> Floats:
    masked = cv2.multiply(img, geo.bg_f32)
    small = cv2.resize(masked, BACKDROP_GRID, interpolation=cv2.INTER_AREA)
    return _f32(np.asarray(small) / geo.bd_share).ravel()


def _backdrop(smooth: Floats, mag: Floats, geo: Geometry) -> Backdrop:
    lum = _cell_means(smooth, geo)
    flat = _cell_means(mag, geo)[geo.bd_valid]
    noise = float(np.sort(flat)[flat.size // 4]) if flat.size else float(mag.mean())
    return Backdrop(_f32(np.where(geo.bd_valid, lum, np.nan)), noise)


def _seats(smooth: Floats, gx: Floats, gy: Floats, mag: Floats, geo: Geometry) -> tuple[
    Descriptor, ...
]:  # fmt: skip
    out = []
    n = geo.cells
    for seat in geo.seats:
        x0, y0, x1, y1 = seat.box
        angle = np.asarray(cv2.phase(gx[y0:y1, x0:x1], gy[y0:y1, x0:x1])) % np.float32(np.pi)
        bins = np.minimum((angle * (BINS / np.pi)).astype(np.intp), BINS - 1)
        m = mag[y0:y1, x0:x1] * seat.mask
        idx = seat.cell * BINS + bins
        hist = np.bincount(idx.ravel(), weights=m.ravel(), minlength=n * BINS).reshape(n, BINS)
        lum = np.bincount(
            seat.cell.ravel(), weights=(smooth[y0:y1, x0:x1] * seat.mask).ravel(), minlength=n
        )
        w = np.maximum(seat.weight, 1.0)
        out.append(Descriptor(_f32(hist / w[:, None]), _f32(lum / w)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Light:
    """log(grey now + 1) = gamma * log(grey then + 1) + a + b*x + c*y, x and y in [-1, 1]."""

    gamma: float = 1.0
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0

    def predict(self, lum_then: Floats, centre: Floats) -> Floats:
        log_then = np.log(lum_then + 1.0)
        shift = self.a + self.b * centre[:, 0] + self.c * centre[:, 1]
        return _f32(self.gamma * log_then + shift)

    def inverse(self, log_now: Floats, centre: Floats) -> Floats:
        shift = self.a + self.b * centre[:, 0] + self.c * centre[:, 1]
        out: Floats = (np.exp((log_now - shift) / self.gamma) - 1.0).astype(np.float32)
        return out


def _median(a: NDArray[np.float64]) -> float:
    return float(np.sort(a)[a.size // 2]) if a.size else 0.0


def fit_light(then: Backdrop, now: Backdrop, geo: Geometry) -> Light:
    """Robust least squares over the backdrop cells; passers-by are trimmed as outliers."""
    ok = np.isfinite(then.lum) & np.isfinite(now.lum)
    if ok.sum() < 8:
        shift = float(np.log((now.brightness + 1) / (then.brightness + 1)))
        return Light(a=shift)
    x = np.log(then.lum[ok].astype(np.float64) + 1)
    y = np.log(now.lum[ok].astype(np.float64) + 1)
    xy = geo.bd_centre[ok].astype(np.float64)
    design = np.column_stack([x, np.ones_like(x), xy[:, 0], xy[:, 1]])
    keep = np.ones(x.size, bool)
    coef = np.array([1.0, 0.0, 0.0, 0.0])
    for _ in range(3):
        if keep.sum() < 6:
            break
        a = design[keep]
        # Normal equations: a 4×4 solve, ridge-damped so a flat backdrop cannot blow it up.
        coef = np.linalg.solve(a.T @ a + 1e-6 * np.eye(4), a.T @ y[keep])
        resid = np.abs(design @ coef - y)
        keep = resid <= max(3 * _median(resid[keep]), 0.05)
    if not 0.3 <= coef[0] <= 3.0 or np.ptp(x) < 0.3:  # too little contrast to fit a gamma
        coef = np.array([1.0, _median(y - x), 0.0, 0.0])
    return Light(float(coef[0]), float(coef[1]), float(coef[2]), float(coef[3]))


def cell_change(
    ref: Descriptor,
    cur: Descriptor,
    light: Light,
    noise: tuple[float, float],
    centre: Floats,
    p: ChangeParams,
) -> Floats:
    """Per-cell dissimilarity in [0, 1]: 1 means the cell clearly differs from the reference."""
    noise_then, noise_now = noise
    predicted = light.predict(ref.lum, centre)
    lum = np.abs(np.log(cur.lum + 1.0) - predicted)
    # A brighter or steeper response scales gradients by d(now)/d(then) = gamma * now / then.
    gain = light.gamma * np.exp(predicted - np.log(ref.lum + 1.0))
    h_ref = np.maximum(ref.hist - noise_then / BINS, 0) * gain[:, None]
    h_cur = np.maximum(cur.hist - noise_now / BINS, 0)
    floor = p.noise_floor * max(noise_now, noise_then * float(np.median(gain)), 0.05)
    e_ref = h_ref.sum(axis=1)
    e_cur = h_cur.sum(axis=1)
    energy = np.abs(np.log((e_cur + floor) / (e_ref + floor)))
    dot = (h_ref * h_cur).sum(axis=1)
    norms = np.linalg.norm(h_ref, axis=1) * np.linalg.norm(h_cur, axis=1)
    cosine = dot / np.maximum(norms, 1e-9)
    low = np.minimum(e_ref, e_cur)
    orientation = (1.0 - cosine) * (low / (low + floor))  # orientation means little when flat
    score = np.maximum(orientation / p.orientation, energy / p.energy)
    score = np.maximum(score, lum / p.luminance)
    out: Floats = np.clip(score, 0.0, 1.0).astype(np.float32)
    return out


def change(
    ref: Descriptor,
    cur: Descriptor,
    light: Light,
    noise: tuple[float, float],
    geo: Geometry,
    seat: int,
    p: ChangeParams,
) -> float:
    """Share of the seat region (by polygon area) that differs from its empty reference."""
    cells = geo.seats[seat]
    w = cells.weight * cells.valid
    score = cell_change(ref, cur, light, noise, cells.centre, p)
    return float((score * w).sum() / max(float(w.sum()), 1.0))


def to_reference_light(
    cur: Descriptor, light: Light, noise: tuple[float, float], centre: Floats
) -> Descriptor:
    """What `cur` would have looked like in the reference's light (for refresh and warm-up)."""
    noise_then, noise_now = noise
    lum = light.inverse(np.log(cur.lum + 1.0), centre)
    gain = light.gamma * (cur.lum + 1.0) / (np.maximum(lum, 0) + 1.0)
    hist = np.maximum(cur.hist - noise_now / BINS, 0) / gain[:, None] + noise_then / BINS
    return Descriptor(hist.astype(np.float32), np.maximum(lum, 0).astype(np.float32))


def blend(a: Descriptor, b: Descriptor, rate: float) -> Descriptor:
    return Descriptor(
        (a.hist * (1 - rate) + b.hist * rate).astype(np.float32),
        (a.lum * (1 - rate) + b.lum * rate).astype(np.float32),
    )

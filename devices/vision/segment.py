"""Person evidence that needs no face: MediaPipe's selfie segmentation run through OpenCV DNN.

The model (`models/selfie_segmentation.tflite`, 249,505 bytes, Apache-2.0, from the
MediaPipe 0.10.14 wheel; docs/camera.md) ships in this package: nothing is downloaded. It
marks, per pixel of a 256×256 image, how likely a person is there — from the front, the side
or behind, seated or standing — which is what a seat needs to know.

Each seat is looked at through its own crop of the full frame, in colour, reaching below
the seat's bottom edge (the desk): a person whose outline continues well below the desk
stands in front of it — an applicant or a passer-by — and is not the seat's. What remains is
the seat's *person share* (how much of its region a person covers) and where that person is
(`Blob`), so the engine can ask whether the same person stays put over several frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from devices.vision.features import Frame

MODEL = Path(__file__).with_name("models") / "selfie_segmentation.tflite"
SIDE = 256  # the model's fixed input size
BELOW = 0.35  # the crop reaches this share of the seat's height below its bottom edge
SIDEWAYS = 0.15  # … and this share of its width to either side
IN_FRONT = 0.15  # an outline reaching this far below the bottom edge stands in front


@dataclass(frozen=True, slots=True)
class Blob:
    """The person a segmentation finds in one seat, in shares of the seat's box."""

    share: float  # of the seat region covered
    x: float  # centroid, 0 (left edge) … 1 (right edge)
    y: float  # 0 (top) … 1 (bottom)
    front: bool = False  # someone stands in front of the seat (an applicant, a passer-by)


class SeatWindow:
    """One seat's crop of the frame, letterboxed into the model's square, and its region."""

    __slots__ = ("box", "front_row", "mask", "pad", "seat_box", "side")

    def __init__(self, poly: NDArray[np.int32], size: tuple[int, int]) -> None:
        x, y, w, h = cv2.boundingRect(poly)
        x0, x1 = max(0, round(x - SIDEWAYS * w)), min(size[0], round(x + w + SIDEWAYS * w))
        y0, y1 = max(0, round(y - 0.05 * h)), min(size[1], round(y + h + BELOW * h))
        self.box = (x0, y0, x1, y1)
        side = max(x1 - x0, y1 - y0)
        left, top = (side - (x1 - x0)) // 2, (side - (y1 - y0)) // 2
        self.pad = (top, side - (y1 - y0) - top, left, side - (x1 - x0) - left)
        self.side = side
        origin = np.array([x0 - left, y0 - top], np.int32)
        mask = np.zeros((side, side), np.uint8)
        cv2.fillPoly(mask, [poly - origin], 1)
        self.mask = mask.astype(bool)
        self.seat_box = (x - int(origin[0]), y - int(origin[1]), w, h)
        self.front_row = min(side - 1, self.seat_box[1] + h + round(IN_FRONT * h))

    def cut(self, frame: Frame, out: int = SIDE) -> Frame:
        x0, y0, x1, y1 = self.box
        crop = frame[y0:y1, x0:x1]
        if crop.ndim == 2:
            crop = np.asarray(cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR), np.uint8)
        top, bottom, left, right = self.pad
        crop = np.asarray(cv2.copyMakeBorder(crop, top, bottom, left, right,
                          cv2.BORDER_CONSTANT, value=(128, 128, 128)), np.uint8)  # fmt: skip
        return np.asarray(cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA), np.uint8)

    def blob(self, prob: NDArray[np.float32], threshold: float) -> Blob:
        side = self.side
        person = np.asarray(cv2.resize(prob, (side, side)) >= threshold, np.uint8)
        n, labels, _, centres = cv2.connectedComponentsWithStats(person, connectivity=8)
        bx, by, bw, bh = self.seat_box
        keep = np.zeros(n, bool)
        # A person is the seat's if the middle of their outline is over the seat (not a
        # neighbour leaning in) and the outline ends at the desk (not someone standing in
        # front of it).
        keep[1:] = (centres[1:, 0] >= bx) & (centres[1:, 0] <= bx + bw)
        keep[np.unique(labels[self.front_row :, :])] = False
        mine = keep[labels] & self.mask
        area = int(self.mask.sum())
        if not mine.any() or area == 0:
            return Blob(0.0, 0.5, 0.5)
        ys, xs = np.nonzero(mine)
        return Blob(
            float(mine.sum()) / area,
            float((xs.mean() - bx) / max(1, bw)),
            float((ys.mean() - by) / max(1, bh)),
        )


class Segmenter:
    """Per seat, the person the model sees in it (one batched forward pass per frame)."""

    def __init__(self, model: Path = MODEL, threshold: float = 0.5) -> None:
        if not model.is_file():
            raise RuntimeError(f"person segmentation model missing: {model}")
        try:
            self._net = cv2.dnn.readNetFromTFLite(str(model))
        except cv2.error as exc:
            raise RuntimeError(f"cannot load {model.name} with OpenCV DNN: {exc}") from exc
        self.threshold = threshold
        self._windows: list[SeatWindow] = []
        self._size: tuple[int, int] | None = None

    def prepare(self, polys: Sequence[NDArray[np.int32]], size: tuple[int, int]) -> None:
        """Seat polygons in full-frame pixels, for frames of `size` (width, height)."""
        self._windows = [SeatWindow(p, size) for p in polys]
        self._size = size

    def look(self, frame: Frame, seats: Sequence[int]) -> dict[int, Blob]:
        """The person in each of `seats` of a full frame (BGR, or grey)."""
        if not seats:
            return {}
        crops = np.stack([self._windows[i].cut(frame) for i in seats])  # N, 256, 256, BGR
        rgb = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) * (1 / 255)
        blob = np.ascontiguousarray(rgb)  # N, 3, 256, 256
        self._net.setInput(blob)
        out = np.asarray(self._net.forward(), np.float32).reshape(len(seats), SIDE, SIDE)
        return {i: self._windows[i].blob(out[k], self.threshold) for k, i in enumerate(seats)}

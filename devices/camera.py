"""`hallwatch camera`: the seat-presence agent of one camera.

    hallwatch camera [run] --config cam1.toml
    hallwatch camera calibrate --config cam1.toml --out still.png [--reference cam1-ref.json]

`run` samples the stream (default 2 frames/s), decides per seat with `PresenceEngine`, and
publishes `hall/{hall}/camera/{camera}/presence` on every change and as a heartbeat, plus the
retained availability `…/status` (`online`, last will `offline`). No image is ever stored or
sent; `calibrate` writes one still, on request, for an installer to check the regions.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from alerts.errors import ConfigError
from devices.seats import (
    Announcer,
    Hysteresis,
    SeatReport,
    presence_payload,
    presence_topic,
    status_topic,
)
from devices.vision.config import CameraConfig, load_camera_config, load_json
from devices.vision.detect import Detection, DetectParams, Kind
from devices.vision.engine import DEFAULT_WEIGHTS, EngineParams, PresenceEngine, Reference, Seat
from devices.vision.features import (
    Backdrop,
    Descriptor,
    Frame,
    median_backdrop,
    median_descriptor,
)
from devices.vision.source import FrameSource, OpenCVSource, redact
from hallkit import logs
from hallkit.config import read_secret
from hallkit.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, UsageParser

logger = logging.getLogger("hallwatch.camera")

REFERENCE_VERSION = 1


def engine_params(cfg: CameraConfig) -> EngineParams:
    d, p = cfg.detect, cfg.presence
    return EngineParams(
        analysis_width=cfg.camera.analysis_width,
        detect_width=cfg.camera.detect_width,
        change_low=p.change_low,
        change_high=p.change_high,
        min_brightness=p.min_brightness,
        census_frames=p.census_frames,
        warmup_frames=p.warmup_frames,
        refresh_rate=p.refresh_rate,
        weights={**DEFAULT_WEIGHTS, **{Kind(k): v for k, v in d.weights.items()}},
        confirm_by=frozenset(Kind(k) for k in p.confirm_with),
        dwell_frames=p.dwell_frames,
        detect=DetectParams(
            kinds=tuple(Kind(k) for k in d.detectors),
            min_face=d.min_face_px,
            max_face=d.max_face_px,
            scale_factor=d.scale_factor,
            min_neighbors=d.min_neighbors,
            face_upscale=d.face_upscale,
        ),
        hysteresis=Hysteresis(
            enter_frames=p.enter_frames,
            leave_after=timedelta(seconds=p.leave_after_s),
            leave_frames=p.leave_frames,
            blind_after=timedelta(seconds=p.blind_after_s),
            p_on=p.p_on,
            p_off=p.p_off,
            confirm=bool(p.confirm_with),
            steady_frames=p.steady_frames,
            object_after=None
            if p.object_after_s is None or not {"person", "segment"} & set(d.detectors)
            else timedelta(seconds=p.object_after_s),
        ),
    )


def seats_of(cfg: CameraConfig) -> list[Seat]:
    return [Seat(s.window, s.region) for s in cfg.seats]


def stream_url(cfg: CameraConfig, config_path: Path | None) -> str | int:
    url = cfg.camera.url
    if isinstance(url, int) or not cfg.camera.password_file:
        return url
    try:
        secret = read_secret(cfg.camera.password_file, config_path)
    except ConfigError as exc:
        raise ConfigError("camera.password_file", exc.problems) from exc
    return url.replace("{password}", secret)


# --- the reference statistics file --------------------------------------------------------


def reference_doc(cfg: CameraConfig, ref: Reference, frame_size: tuple[int, int]) -> dict[str, Any]:
    return {
        "version": REFERENCE_VERSION,
        "camera": cfg.camera.id,
        "frame": list(frame_size),
        "analysis_width": cfg.camera.analysis_width,
        "backdrop": ref.backdrop.to_json(),
        "seats": {
            s.window: {"region": [list(p) for p in s.region], **ref.seats[s.window].to_json()}
            for s in cfg.seats
        },
    }


def read_reference(cfg: CameraConfig, config_path: Path | None) -> Reference | None:
    """The calibrated empty scene, or None (then each seat takes one at start, logged)."""
    name = cfg.camera.reference_file
    if name is None:
        return None
    path = Path(name)
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    doc = load_json(path)
    try:
        return _reference(cfg, doc, path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(str(path), [f"not a reference file of this camera: {exc!r}"]) from exc


def _reference(cfg: CameraConfig, doc: Any, path: Path) -> Reference | None:
    if doc.get("version") != REFERENCE_VERSION or doc.get("analysis_width") != (
        cfg.camera.analysis_width
    ):
        logger.warning("%s: made for other settings; recalibrate. Using a start-up one.", path)
        return None
    cells = engine_params(cfg).grid ** 2
    seats: dict[str, Descriptor] = {}
    for s in cfg.seats:
        entry = doc.get("seats", {}).get(s.window)
        if entry is None or [tuple(p) for p in entry["region"]] != list(s.region):
            logger.warning("%s: seat %s missing or its region changed; recalibrate", path, s.window)
            continue
        seats[s.window] = Descriptor.from_json(entry, cells)
    size = doc.get("frame")
    frame = (int(size[0]), int(size[1])) if size else None
    return Reference(Backdrop.from_json(doc["backdrop"]), seats, frame)


# --- the agent: thin glue between the engine and the wire ---------------------------------


Publish = Callable[[str, bytes, bool], None]


@dataclass(slots=True)
class Availability:
    """`online` while frames arrive; `offline` once none came for `blind_after`."""

    blind_after: timedelta
    status: str | None = None
    last_frame: datetime | None = None

    def update(self, got_frame: bool, now: datetime) -> str | None:
        """The new status if it changed."""
        if got_frame:
            self.last_frame = now
        fresh = self.last_frame is not None and now - self.last_frame < self.blind_after
        status = "online" if fresh else ("offline" if self.status == "online" else self.status)
        if status == self.status:
            return None
        self.status = status
        return status


class Agent:
    def __init__(
        self,
        cfg: CameraConfig,
        engine: PresenceEngine,
        publish: Publish,
        set_status: Callable[[str], None],
    ) -> None:
        self.cfg = cfg
        self.engine = engine
        self._publish = publish
        self._set_status = set_status
        self.announcer = Announcer(timedelta(seconds=cfg.presence.heartbeat_s))
        self.availability = Availability(timedelta(seconds=cfg.presence.blind_after_s))
        self.topic = presence_topic(cfg.hall.id, cfg.camera.id)

    def step(self, frame: Frame | None, now: datetime) -> list[SeatReport]:
        status = self.availability.update(frame is not None, now)
        if status is not None:
            logger.info("camera %s %s", self.cfg.camera.id, status)
            self._set_status(status)
        reports = self.engine.observe(frame, now)
        for r in reports:
            if r.changed:
                logger.info(
                    "seat %s: %s (%s, %d person(s), confidence %.2f)",
                    r.window, r.state, r.why, r.persons, r.confidence,
                )  # fmt: skip
        for r in self.announcer.select(reports):
            self._publish(self.topic, presence_payload(r, self.cfg.zone), False)
        return reports


def utc_now() -> datetime:
    return datetime.now(UTC)


def loop(
    source: FrameSource,
    agent: Agent,
    stop: threading.Event,
    period: float,
    *,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], bool] | None = None,
    tick: Callable[[], None] = lambda: None,
) -> None:
    """One sample per `period`; an exception is logged and the next frame tried."""
    wait = sleep or stop.wait
    due = monotonic()
    failures = late = 0
    while not stop.is_set():
        frame = source.read(timeout=period)
        started = monotonic()
        try:
            agent.step(frame, clock())
            failures = 0
        except Exception:
            failures += 1
            if failures == 1 or failures % 100 == 0:
                logger.exception("frame analysis failed (%d in a row)", failures)
        tick()
        due += period
        if monotonic() > due + period:  # more than a frame behind: skip, do not catch up
            late += 1
            if late == 1 or late % 120 == 0:
                logger.warning(
                    "analysis takes %.0f ms, longer than a frame at %.1f frames/s (%d times); "
                    "lower analysis_width/detect_width or drop detectors",
                    1000 * (monotonic() - started), 1 / period, late,
                )  # fmt: skip
            due = monotonic()
        if wait(max(0.0, due - monotonic())):
            break


def run(cfg: CameraConfig, config_path: Path | None, stop: threading.Event) -> int:
    from devices.spool import SpooledPublisher
    from hallkit.sdnotify import SdNotifier

    password = read_secret(cfg.broker.password_file, config_path) if (
        cfg.broker.password_file
    ) else None  # fmt: skip
    url = stream_url(cfg, config_path)
    engine = PresenceEngine(seats_of(cfg), engine_params(cfg), read_reference(cfg, config_path))
    cfg.spool_path.parent.mkdir(parents=True, exist_ok=True)
    publisher = SpooledPublisher(
        cfg.broker,
        cfg.client_id,
        cfg.spool_path,
        password,
        status_topic(cfg.hall.id, cfg.camera.id),
        birth=False,  # `online` means frames arrive, which the agent says itself
    )
    source = OpenCVSource(
        url, reconnect_min_s=cfg.camera.reconnect_min_s, reconnect_max_s=cfg.camera.reconnect_max_s
    )
    notifier = SdNotifier.from_env()
    logger.info(
        "camera %s of hall %s: %s, %d seat(s), %.1f frames/s",
        cfg.camera.id, cfg.hall.id, redact(url), len(cfg.seats), cfg.camera.sample_fps,
    )  # fmt: skip
    publisher.start()
    source.start()
    agent = Agent(cfg, engine, publisher.publish, publisher.set_status)
    notifier.ready()
    try:
        loop(source, agent, stop, cfg.sample_period, tick=notifier.watchdog)
    finally:
        notifier.stopping()
        source.close()
        publisher.stop()
    return EXIT_OK


# --- calibrate ----------------------------------------------------------------------------


def grab(source: FrameSource, count: int, timeout: float) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        frame = source.read(timeout=max(0.0, deadline - time.monotonic()))
        if frame is not None:
            frames.append(frame)
    return frames


def draw_regions(
    frame: Frame, cfg: CameraConfig, found: Sequence[Sequence[Detection]], scale: float
) -> Frame:
    """The installer's still: each region outlined and labelled, detections (analysis
    coordinates, times `scale`) boxed in red."""
    out = np.array(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), np.uint8)
    for seat, hits in zip(cfg.seats, found, strict=True):
        poly = np.asarray(seat.region, np.int32)
        cv2.polylines(out, [poly], True, (0, 0, 0), 3)
        cv2.polylines(out, [poly], True, (0, 255, 255), 1)
        x, y = int(poly[:, 0].min()) + 3, int(poly[:, 1].min()) + 16
        for colour, width in (((0, 0, 0), 3), ((0, 255, 255), 1)):
            cv2.putText(out, seat.window, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, width)
        for d in hits:
            box = [round(v * scale) for v in (d.x, d.y, d.w, d.h)]
            cv2.rectangle(out, (box[0], box[1]), (box[0] + box[2], box[1] + box[3]), (0, 0, 255))
    return out


def calibrate(
    cfg: CameraConfig,
    config_path: Path | None,
    out: Path,
    reference_out: Path | None,
    count: int = 10,
    source: FrameSource | None = None,
) -> int:
    src = (
        source
        or OpenCVSource(
            stream_url(cfg, config_path), reconnect_min_s=1.0, reconnect_max_s=5.0
        ).start()
    )
    try:
        frames = grab(src, count, timeout=30.0)
    finally:
        src.close()
    if not frames:
        logger.error("no frame from %s within 30 s", redact(cfg.camera.url))
        return EXIT_FAILURE
    engine = PresenceEngine(seats_of(cfg), engine_params(cfg))
    looks = [engine.look(f) for f in frames]
    found = engine.detect_everyone(looks[-1])
    geo = engine.geometry
    assert geo is not None
    cv2.imwrite(str(out), draw_regions(frames[-1], cfg, found, 1.0 / geo.scale))
    _report(cfg, found)
    if reference_out is not None:
        ref = Reference(
            median_backdrop([a.backdrop for a in looks]),
            {
                s.window: median_descriptor([a.descriptors[i] for a in looks])
                for i, s in enumerate(cfg.seats)
            },
        )
        doc = reference_doc(cfg, ref, geo.frame_size)
        reference_out.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
        sys.stdout.write(f"reference statistics (no image) written to {reference_out}\n")
    sys.stdout.write(f"still with regions written to {out}; delete it once checked\n")
    return EXIT_OK


def _report(cfg: CameraConfig, found: Sequence[Sequence[Detection]]) -> None:
    for seat, hits in zip(cfg.seats, found, strict=True):
        kinds = sorted({d.kind.value for d in hits})
        if kinds:
            sys.stdout.write(
                f"{seat.window}: someone seems seated ({', '.join(kinds)}); calibrate the "
                "reference with every seat empty\n"
            )
        else:
            sys.stdout.write(f"{seat.window}: nobody detected\n")


# --- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = UsageParser(add_help=False)
    common.add_argument("--config", required=True, type=Path, help="camera configuration TOML")
    common.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    common.add_argument("--log-format", default="text", choices=["text", "json"])
    p = UsageParser(prog="hallwatch camera", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", parents=[common], help="watch the seats and publish presence")
    cal = sub.add_parser("calibrate", parents=[common], help="write a still with the regions")
    cal.add_argument("--out", required=True, type=Path, help="PNG to write (the only image)")
    cal.add_argument("--reference", type=Path, help="also write empty-seat statistics (JSON)")
    cal.add_argument("--frames", type=int, default=10, help="frames to average")
    return p


def main(argv: list[str]) -> int:
    words = list(argv)
    if not words or words[0] not in ("run", "calibrate", "-h", "--help"):
        words.insert(0, "run")
    args = _parser().parse_args(words)
    logs.setup(args.log_level, args.log_format)
    try:
        cfg = load_camera_config(args.config)
        if args.command == "calibrate":
            return calibrate(cfg, args.config, args.out, args.reference, args.frames)
        cv2.setNumThreads(1)  # the budget is one core (docs/camera.md): keep to it
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        return run(cfg, args.config, stop)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG

"""Camera agent configuration: one TOML file per camera (config/camera.example.toml).

Typed, frozen models that forbid unknown keys, like the hall's (`alerts.config`); every
problem is reported with its key path (``seats[2].region[1]``), all at once. Validation never
does I/O: reading the file, the secrets and the reference statistics happens in `load_*`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import Field, field_validator

from alerts.config import BrokerConfig
from alerts.errors import ConfigError
from alerts.model import ConfigModel, check_zone, validate
from hallkit.config import read_toml

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
DetectorName = Literal["person", "segment", "face", "profile", "upperbody", "hog"]
# The person detector (its model ships in the package) with the face cascades: on the
# harder evaluation set the cascades alone miss officers seen from behind or looking down and
# take coats for officers (docs/camera.md, "Which detectors by default"). The cascades and
# HOG alone: ["face", "profile", "upperbody", "hog"], confirm_with = ["face", "profile"].
ALL_DETECTORS: list[DetectorName] = ["person", "face", "profile"]  # segment: opt-in
CONFIRMERS: list[DetectorName] = ["person", "face", "profile"]


class HallRef(ConfigModel):
    id: Ident = Field(description="Hall id, as in the hall configuration; topics hall/{id}/…")
    timezone: str = Field("Asia/Shanghai", description="IANA zone of the `ts` sent.")

    _zone = field_validator("timezone")(check_zone)


class StreamSection(ConfigModel):
    id: Ident = Field(description="Camera id, as listed under [[cameras]] in the hall config.")
    url: str | int = Field(
        description="rtsp://…, http://… (MJPEG), a video file, or a device index (0). "
        "'{password}' in it is replaced by the contents of password_file."
    )
    password_file: str | None = Field(
        None, description="Stream password file: $CREDENTIALS_DIRECTORY, else beside this file."
    )
    sample_fps: float = Field(2.0, gt=0, le=15, description="Frames analysed per second.")
    reconnect_min_s: float = Field(1.0, gt=0, description="First delay before reopening.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest delay (backoff cap).")
    frame_width: int | None = Field(None, ge=16, description="Expected width; checks regions.")
    frame_height: int | None = Field(None, ge=16, description="Expected height.")
    analysis_width: int = Field(
        640, ge=160, le=3840, description="Seat features are computed at this frame width."
    )
    detect_width: int | None = Field(
        None, ge=160, le=3840, description="People detectors' frame width; analysis_width if unset."
    )
    reference_file: str | None = Field(
        None, description="Empty-seat statistics written by `calibrate --reference` (no image)."
    )
    spool_dir: str = Field(
        "/var/lib/hallwatch-camera", description="Directory of the outgoing message spool."
    )


class DetectSection(ConfigModel):
    detectors: list[DetectorName] = Field(
        default_factory=lambda: list(ALL_DETECTORS),
        description="People evidence: person (person detector model shipped in the package), "
        "segment (person segmentation model, likewise), face/profile/upperbody cascades and "
        "hog from the OpenCV wheel.",
    )
    min_face_px: int = Field(20, ge=12, le=400, description="Smallest face, analysis pixels.")
    max_face_px: int = Field(200, ge=12, le=2000, description="Largest face, analysis pixels.")
    scale_factor: float = Field(1.15, gt=1.01, le=2.0, description="Cascade pyramid step.")
    min_neighbors: int = Field(4, ge=1, le=20, description="Cascade hits needed per face.")
    face_upscale: float = Field(
        2.0,
        ge=1,
        le=4,
        description="The face cascades look at their crop enlarged this much, faces of "
        "min_face_px at this many times the size (their own window is 24 px); 1: off.",
    )
    weights: dict[DetectorName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="Evidence weight per detector (0–1)."
    )


class PresenceSection(ConfigModel):
    enter_frames: int = Field(4, ge=1, le=100, description="Positive frames in a row to enter.")
    leave_after_s: float = Field(60, ge=1, le=3600, description="No support this long to leave.")
    leave_frames: int = Field(20, ge=1, description="…and at least this many negative frames.")
    blind_after_s: float = Field(30, ge=1, description="Unusable frames this long: unknown.")
    heartbeat_s: float = Field(30, ge=1, le=60, description="Resend a holding state this often.")
    confirm_with: list[DetectorName] = Field(
        default_factory=lambda: list(CONFIRMERS),
        description="Entering needs a person seen by one of these to stay in the seat for "
        "dwell_frames looks; [] turns that off.",
    )
    dwell_frames: int = Field(
        3, ge=1, le=50, description="Looks in a row a person must stay in the seat to count."
    )
    steady_frames: int = Field(
        3, ge=1, le=50, description="Non-negative frames in a row that hold a present seat."
    )
    object_after_s: float | None = Field(
        120,
        ge=1,
        description="Changed seat with no person staying this long: an object, "
        "empty (needs person or segment; null: never).",
    )
    p_on: float = Field(0.6, gt=0, lt=1, description="Frame probability counted positive.")
    p_off: float = Field(0.35, gt=0, lt=1, description="Frame probability counted negative.")
    change_low: float = Field(0.15, ge=0, lt=1, description="Seat change that is still empty.")
    change_high: float = Field(0.35, gt=0, le=1, description="Seat change that is surely not.")
    min_brightness: float = Field(20, ge=0, le=255, description="Darker frames are unusable.")
    census_frames: int = Field(60, ge=1, description="Re-count settled seats this often.")
    warmup_frames: int = Field(6, ge=2, description="Frames for a start-up reference.")
    refresh_rate: float = Field(0.02, ge=0, le=0.5, description="Reference drift per frame.")


class SeatSection(ConfigModel):
    window: Ident = Field(description="Window whose officer's seat this is (e.g. W03).")
    region: list[tuple[int, int]] = Field(
        min_length=3, description="Polygon around the seat, [x, y] in full-frame pixels."
    )


class CameraConfig(ConfigModel):
    hall: HallRef
    camera: StreamSection
    broker: BrokerConfig = BrokerConfig()
    detect: DetectSection = DetectSection()
    presence: PresenceSection = PresenceSection()
    seats: list[SeatSection] = Field(min_length=1, max_length=64)

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"hallwatch-camera-{self.hall.id}-{self.camera.id}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hall.timezone)

    @property
    def spool_path(self) -> Path:
        return Path(self.camera.spool_dir) / f"{self.camera.id}.spool"

    @property
    def sample_period(self) -> float:
        return 1.0 / self.camera.sample_fps


def _area(points: list[tuple[int, int]]) -> float:
    pts = np.asarray(points, np.float64)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _seat_problems(cfg: CameraConfig) -> Iterator[str]:
    for window, n in Counter(s.window for s in cfg.seats).items():
        if n > 1:
            yield f"seats: window {window!r} appears {n} times"
    w, h = cfg.camera.frame_width, cfg.camera.frame_height
    for i, seat in enumerate(cfg.seats):
        if _area(seat.region) < 400:
            yield f"seats[{i}].region: polygon encloses less than 400 px² (20×20)"
        for j, (x, y) in enumerate(seat.region):
            if x < 0 or y < 0 or (w is not None and x >= w) or (h is not None and y >= h):
                yield f"seats[{i}].region[{j}]: point ({x}, {y}) is outside the frame"


def _cross_problems(cfg: CameraConfig) -> list[str]:
    out = list(_seat_problems(cfg))
    cam, pres = cfg.camera, cfg.presence
    if cam.reconnect_max_s < cam.reconnect_min_s:
        out.append("camera.reconnect_max_s: must not be below camera.reconnect_min_s")
    has_slot = isinstance(cam.url, str) and "{password}" in cam.url
    if cam.password_file and not has_slot:
        out.append("camera.url: password_file is set but the url has no '{password}'")
    if has_slot and not cam.password_file:
        out.append("camera.password_file: the url has '{password}' but no password_file")
    if isinstance(cam.url, str) and not cam.url.strip():
        out.append("camera.url: empty")
    if pres.p_off >= pres.p_on:
        out.append("presence.p_off: must be below presence.p_on")
    if pres.change_low >= pres.change_high:
        out.append("presence.change_low: must be below presence.change_high")
    if pres.leave_frames > pres.leave_after_s * cam.sample_fps:
        out.append(
            f"presence.leave_frames: {pres.leave_frames} frames do not fit in leave_after_s="
            f"{pres.leave_after_s:g} at camera.sample_fps={cam.sample_fps:g}"
        )
    if pres.blind_after_s * cam.sample_fps < 2:
        out.append("presence.blind_after_s: shorter than two frames at camera.sample_fps")
    for j, name in enumerate(pres.confirm_with):
        if name not in cfg.detect.detectors:
            out.append(f"presence.confirm_with[{j}]: {name!r} is not in detect.detectors")
    if cfg.detect.min_face_px > cfg.detect.max_face_px:
        out.append("detect.min_face_px: must not exceed detect.max_face_px")
    return out


def parse_camera_config(data: dict[str, Any], source: str = "<camera config>") -> CameraConfig:
    return validate(CameraConfig, data, source, _cross_problems)


def load_camera_config(path: str | Path) -> CameraConfig:
    return parse_camera_config(read_toml(path), str(path))


def timedelta_s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), [f"cannot read reference statistics: {exc}"]) from exc

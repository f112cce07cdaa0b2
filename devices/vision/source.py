"""Frame sources: the seam between the camera agent and a camera.

`FrameSource` is all the agent needs. `FakeSource` plays numpy frames (tests, evaluation);
`OpenCVSource` reads RTSP, HTTP MJPEG, a video file or a local device through OpenCV, in a
thread that keeps only the newest frame (a live stream must be drained, or the decoder's
buffer turns "now" into "a minute ago") and reopens the stream with backoff when it drops.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from devices.vision.features import Frame

logger = logging.getLogger(__name__)


class FrameSource(Protocol):
    def read(self, timeout: float) -> Frame | None:
        """The newest frame not returned before, waiting up to `timeout`; None if none."""
        ...

    def close(self) -> None: ...


class FakeSource:
    """Plays the given frames in order, one per read; then None (a dead stream)."""

    def __init__(self, frames: Iterable[Frame | None]) -> None:
        self._frames = iter(frames)
        self.reads = 0
        self.closed = False

    def read(self, timeout: float) -> Frame | None:
        self.reads += 1
        return next(self._frames, None)

    def close(self) -> None:
        self.closed = True


def redact(url: str | int) -> str:
    """The stream address for logs: never its password."""
    return re.sub(r"//[^/@]*@", "//***@", str(url))


def backoff(low: float, high: float, rng: random.Random | None = None) -> Iterator[float]:
    """Delays between reconnects: doubling from `low` up to `high`, with ±20 % jitter so a
    hall's cameras do not hammer a rebooted NVR in step."""
    r = rng or random.Random()
    delay = low
    while True:
        yield min(high, delay) * r.uniform(0.8, 1.2)
        delay = min(high, delay * 2)


class Capture(Protocol):
    """The part of cv2.VideoCapture the source uses."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


def open_capture(target: str | int) -> Capture:
    import cv2

    if isinstance(target, int):
        return cv2.VideoCapture(target)
    # Without timeouts a dead RTSP peer blocks read() forever (FFmpeg's default).
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def is_file(target: str | int) -> bool:
    return isinstance(target, str) and "://" not in target


class OpenCVSource:
    """Newest-frame reader with reconnect; `read` never blocks longer than its timeout."""

    def __init__(
        self,
        target: str | int,
        *,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        opener: Callable[[str | int], Capture] = open_capture,
    ) -> None:
        self.target = target
        self._low, self._high = reconnect_min_s, reconnect_max_s
        self._opener = opener
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0  # frames decoded so far
        self._taken = 0  # seq of the last frame handed out
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self._thread = threading.Thread(target=self._loop, name="camera-reader", daemon=True)

    def start(self) -> OpenCVSource:
        self._thread.start()
        return self

    def read(self, timeout: float) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._seq > self._taken, timeout)
            if self._seq == self._taken:
                return None
            self._taken = self._seq
            return self._frame

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        delays = backoff(self._low, self._high)
        while not self._stop.is_set():
            frames = self._session()
            self.connected.clear()
            if self._stop.is_set():
                break
            if frames > 0:  # it worked for a while: start the backoff over
                delays = backoff(self._low, self._high)
            self.reconnects += 1
            delay = next(delays)
            logger.warning(
                "stream %s lost after %d frame(s); reopening in %.1f s",
                redact(self.target),
                frames,
                delay,
            )
            self._stop.wait(delay)

    def _session(self) -> int:
        """Read one opened stream until it fails; the number of frames it gave."""
        try:
            cap = self._opener(self.target)
        except Exception:
            logger.exception("cannot open stream %s", redact(self.target))
            return 0
        frames = 0
        try:
            if not cap.isOpened():
                return 0
            pace = self._file_pace(cap)
            while not self._stop.is_set():
                ok, frame = cap.read()
                if not ok or frame is None:
                    return frames
                if frames == 0:
                    logger.info("stream %s: receiving frames", redact(self.target))
                    self.connected.set()
                frames += 1
                with self._cond:
                    self._frame, self._seq = frame, self._seq + 1
                    self._cond.notify_all()
                if pace:  # a file plays at its own rate, as a camera would
                    self._stop.wait(pace)
        except Exception:
            logger.exception("stream %s failed", redact(self.target))
        finally:
            cap.release()
        return frames

    def _file_pace(self, cap: Capture) -> float:
        if not is_file(self.target):
            return 0.0
        fps = cap.get(5)  # cv2.CAP_PROP_FPS
        return 1.0 / fps if 1.0 <= fps <= 240.0 else 1.0 / 25

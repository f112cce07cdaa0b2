"""The camera agent end to end: a video file in, presence and availability out through a
real Mosquitto (the project's broker configuration and ACL, user CAM1)."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices import camera
from devices.vision.config import load_camera_config
from tests import camera_scenes as cs
from tests.brokers import Mosquitto
from tests.test_broker_config import watching

pytestmark = pytest.mark.integration

ROOT = "hall/demo-county/camera/CAM1"


def write_video(path: Path, frames: int) -> None:
    rng = np.random.default_rng(21)
    c = cs.counter(77)
    empty = cs.Phase(1, cs.LIGHTS["day"], (None,) * cs.SEATS)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (cs.W, cs.H))
    for _ in range(frames):
        writer.write(cs.render(c, empty, rng))
    writer.release()


def write_config(tmp_path: Path, broker: Mosquitto) -> Path:
    (tmp_path / "mqtt-password").write_text(broker.password("CAM1") + "\n", encoding="utf-8")
    seats = "".join(
        f'[[seats]]\nwindow = "W{i + 1:02d}"\nregion = {[list(p) for p in cs.seat_region(i)]}\n'
        for i in range(cs.SEATS)
    )
    path = tmp_path / "camera.toml"
    path.write_text(
        f"""
[hall]
id = "demo-county"
[camera]
id = "CAM1"
url = "{tmp_path / "counter.avi"}"
sample_fps = 4
spool_dir = "{tmp_path / "spool"}"
[broker]
host = "{broker.host}"
port = {broker.port}
username = "CAM1"
password_file = "mqtt-password"
[presence]
warmup_frames = 2
enter_frames = 2
blind_after_s = 10
{seats}""",
        encoding="utf-8",
    )
    return path


def test_presence_and_retained_availability_reach_the_broker(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    write_video(tmp_path / "counter.avi", 40)
    path = write_config(tmp_path, mosquitto)
    cfg = load_camera_config(path)
    stop = threading.Event()
    agent = threading.Thread(target=camera.run, args=(cfg, path, stop), daemon=True)
    seen: dict[str, dict[str, object]] = {}
    status: list[str] = []
    with watching(mosquitto, f"{ROOT}/#") as watcher:
        agent.start()
        try:
            while len(seen) < cs.SEATS or "online" not in status:
                message = watcher.messages.get(timeout=20)
                if message.topic == f"{ROOT}/status":
                    status.append(message.payload.decode())
                else:
                    doc = json.loads(message.payload)
                    seen[doc["window"]] = doc
        finally:
            stop.set()
            agent.join(timeout=20)
        try:
            while status[-1] != "offline":
                status.append(watcher.messages.get(timeout=10).payload.decode())
        except queue.Empty:
            pass

    assert not agent.is_alive()
    assert sorted(seen) == ["W01", "W02", "W03", "W04", "W05"]
    assert all(d["present"] is False and d["persons"] == 0 for d in seen.values())
    assert status[0] == "online" and status[-1] == "offline"

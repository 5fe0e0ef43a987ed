"""Real pixels for the video tests: encoded clips (ffmpeg) and rendered street frames."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from streams.bus import Bus
from streams.codec import decode
from streams.records import CameraStatus, Frame, Sighting
from streams.topics import Topic


def need_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        pytest.skip("ffmpeg is missing: run bash tests/setup/ensure_rtsp.sh")
    return path


def make_clip(path: Path, seconds: float = 4.0, size: str = "640x360", fps: int = 25) -> Path:
    """An H.264 MP4 of ffmpeg's test pattern (moov atom first, like a camera export)."""
    need_ffmpeg()
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc=size={size}:rate={fps}", "-t", str(seconds), "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps), "-movflags", "+faststart",
         str(path)],
        check=True,
    )
    return path


def encode_frames(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Encode BGR frames to H.264 MP4 (what a camera export or the sample media is)."""
    need_ffmpeg()
    h, w = frames[0].shape[:2]
    proc = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
         "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    return path


def street_frames(appearances: list, seconds: float, fps: float, condition: str = "day",
                  seed: int = 3, vehicles: dict | None = None) -> list[np.ndarray]:
    """Frames of the sample media's street with these people and cars (render.py)."""
    from sample_media import render
    from sample_media.scenario import PEOPLE, Vehicle

    rng = np.random.default_rng(seed)
    bg = render.background(rng, condition)
    people = {p.name: p for p in PEOPLE}
    sprites = {}
    for a in appearances:
        if a.kind == "face":
            sprites[id(a)] = render.person_sprite(people[a.object_id], rng, condition)
        else:
            vehicle: Vehicle = (vehicles or {})[a.object_id]
            sprites[id(a)] = render.car_sprite(vehicle, condition, rng)
    out = []
    for n in range(int(seconds * fps)):
        t = n / fps
        frame = bg.copy()
        placed = []
        for a in appearances:
            where = (render.person_at if a.kind == "face" else render.car_at)(a, sprites[id(a)], t)
            if where is not None:
                placed.append((where, sprites[id(a)]))
        for where, sprite in sorted(placed, key=lambda p: p[0].depth):
            render.paste(frame, sprite, where)
        out.append(frame)
    return out


def as_frames(images: list[np.ndarray], fps: float, camera_id: str = "PF-C001",
              start: datetime | None = None, every: int = 1) -> list[Frame]:
    start = start or datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
    return [Frame(camera_id, i, start + timedelta(seconds=i / fps), img)
            for i, img in enumerate(images) if i % every == 0]


def read_records(bus: Bus, topic: Topic, group: str, timeout_s: float = 0.2) -> list:
    with bus.consumer(group, [topic]) as consumer:
        out = []
        while True:
            batch = consumer.poll(timeout_s)
            if not batch:
                break
            out += [decode(topic, m.value) for m in batch]
        consumer.commit()
    return out


class StatusWatcher:
    """Follows the cameras topic of a bus; answers 'when did camera X go online/offline'."""

    def __init__(self, bus: Bus, group: str = "test-status") -> None:
        self.consumer = bus.consumer(group, [Topic.CAMERAS])
        self.seen: list[tuple[float, CameraStatus]] = []

    def poll(self) -> list[CameraStatus]:
        got = []
        for m in self.consumer.poll(0.2):
            status = decode(Topic.CAMERAS, m.value)
            assert isinstance(status, CameraStatus)
            self.seen.append((time.monotonic(), status))
            got.append(status)
        return got

    def wait_for(self, test: Callable[[CameraStatus], bool], timeout_s: float) -> CameraStatus | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for status in self.poll():
                if test(status):
                    return status
        return None

    def latest(self) -> dict[str, CameraStatus]:
        self.poll()
        out: dict[str, CameraStatus] = {}
        for _, status in self.seen:
            out[status.camera_id] = status
        return out

    def close(self) -> None:
        self.consumer.close()


def sightings_of(bus: Bus, group: str = "test-sightings") -> list[Sighting]:
    return [r for r in read_records(bus, Topic.SIGHTINGS, group) if isinstance(r, Sighting)]

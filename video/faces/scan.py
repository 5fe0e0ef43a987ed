"""Go through a video file and yield one finished face track at a time.

Frames are sampled (`sample_fps`, default 5 per second: a face passing a camera stays in
view for a second or more); on each sampled frame the big faces are searched on the
downscaled frame, and small faces only where something moved since the last sampled
frame, plus on the whole frame every `key_every` samples so that a still person is
found too. Each track keeps only its best view (see `track.best_face`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from streams.records import BBox
from video.faces.detect import detect_faces_scored, face_quality
from video.faces.track import FaceCandidate, FaceTrack, IouFaceTracker, make_candidate

MOTION_SIDE = 320
"""Motion is measured on a frame shrunk to this long side: enough to find a walking person."""


class VideoError(OSError):
    """The file cannot be read as a video."""


def faces_in_frame(
    image_bgr: np.ndarray,
    frame_index: int = 0,
    regions: list[BBox] | None = None,
    upsample_small: bool = True,
) -> list[FaceCandidate]:
    """Every face in one image as a candidate (box, quality, crop to encode)."""
    return [
        make_candidate(image_bgr, frame_index, face.bbox, face_quality(image_bgr, face.bbox), face.score)
        for face in detect_faces_scored(image_bgr, upsample_small=upsample_small, regions=regions)
    ]


def motion_regions(previous: np.ndarray | None, current: np.ndarray) -> tuple[list[BBox], np.ndarray]:
    """Boxes (original pixels) where the frame changed since `previous` (a grey thumbnail),
    and the current frame's grey thumbnail to pass next time."""
    height, width = current.shape[:2]
    scale = min(1.0, MOTION_SIDE / max(height, width))
    thumb = cv2.resize(current, (max(1, round(width * scale)), max(1, round(height * scale))))
    thumb = cv2.GaussianBlur(cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    if previous is None or previous.shape != thumb.shape:
        return [], thumb
    changed = cv2.threshold(cv2.absdiff(previous, thumb), 18, 255, cv2.THRESH_BINARY)[1]
    changed = cv2.dilate(changed, np.ones((5, 5), np.uint8), iterations=2)
    contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h >= 16:
            boxes.append((int(x / scale), int(y / scale), int((x + w) / scale), int((y + h) / scale)))
    return boxes, thumb


def face_tracks_in_video(
    path: Path, sample_fps: float = 5.0, key_every: int = 10, max_missed: int = 5
) -> Iterator[FaceTrack]:
    """Finished face tracks of a video file, each as soon as it ends."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path}: cannot open as a video (unsupported format or damaged file)")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps / sample_fps))
        tracker = IouFaceTracker(max_missed=max_missed)
        previous: np.ndarray | None = None
        index = -1
        sampled = 0
        while True:
            ok = capture.grab()
            if not ok:
                break
            index += 1
            if index % step:
                continue
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                break
            regions, previous = motion_regions(previous, frame)
            key_frame = sampled % key_every == 0
            candidates = faces_in_frame(frame, index, regions=None if key_frame else regions)
            sampled += 1
            yield from tracker.update(index, candidates)
        if index < 0:
            raise VideoError(f"{path}: no frame could be decoded")
        yield from tracker.finish()
    finally:
        capture.release()

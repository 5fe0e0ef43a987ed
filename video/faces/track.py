"""Follow faces across frames, and pick the one view of each face worth encoding.

Encoding costs ~60 ms per face, so a face is encoded once per *track* (one pass in front
of a camera), from its best frame, not once per frame. `best_face` is the rule, kept apart
so that the video pipeline's own tracker can reuse it; `IouFaceTracker` is a simple
tracker (boxes overlapping from one sampled frame to the next) for `cityops faces`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streams.records import BBox
from video.faces.detect import iou

CROP_MARGIN = 0.5
"""A candidate keeps its face plus this fraction of its size on each side: enough context
for the landmark model, far less memory than the frame."""


@dataclass(slots=True, eq=False)
class FaceCandidate:
    """One view of a face: where and when it was, how good it is, and the pixels to encode."""

    frame_index: int
    bbox: BBox  # in the frame's pixels
    quality: float
    crop: np.ndarray  # BGR pixels around the face
    crop_box: BBox  # the face's box inside `crop`
    score: float = 0.0


def make_candidate(
    image_bgr: np.ndarray, frame_index: int, bbox: BBox, quality: float, score: float = 0.0
) -> FaceCandidate:
    """A candidate that owns a copy of the pixels around the face (the frame can go)."""
    height, width = image_bgr.shape[:2]
    x1, y1, x2, y2 = bbox
    mx, my = round((x2 - x1) * CROP_MARGIN), round((y2 - y1) * CROP_MARGIN)
    cx1, cy1 = max(0, x1 - mx), max(0, y1 - my)
    cx2, cy2 = min(width, x2 + mx), min(height, y2 + my)
    crop = image_bgr[cy1:cy2, cx1:cx2].copy()
    return FaceCandidate(frame_index, bbox, quality, crop, (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1), score)


def best_face(candidates: Sequence[FaceCandidate]) -> FaceCandidate:
    """The candidate to encode: highest quality; on a tie the larger face, then the earlier."""
    if not candidates:
        raise ValueError("best_face needs at least one candidate")
    return max(
        candidates,
        key=lambda c: (
            round(c.quality, 6),
            (c.bbox[2] - c.bbox[0]) * (c.bbox[3] - c.bbox[1]),
            -c.frame_index,
        ),
    )


@dataclass(slots=True, eq=False)
class FaceTrack:
    id: int
    first_frame: int
    last_frame: int
    last_bbox: BBox
    best: FaceCandidate
    views: int = 1
    missed: int = 0
    boxes: list[tuple[int, BBox]] = field(default_factory=list)


class IouFaceTracker:
    """Links each face to the track whose last box overlaps it most (IoU >= `min_iou`).

    A track ends after `max_missed` sampled frames without its face. Only the best
    candidate is kept per track, so memory stays one crop per live track.
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 5) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self._live: list[FaceTrack] = []
        self._next_id = 1

    def update(self, frame_index: int, candidates: Sequence[FaceCandidate]) -> list[FaceTrack]:
        """Add one sampled frame's faces; returns the tracks that ended with it."""
        pairs = sorted(
            (
                (iou(track.last_bbox, candidate.bbox), t, c)
                for t, track in enumerate(self._live)
                for c, candidate in enumerate(candidates)
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_candidates: set[int] = set()
        for overlap, t, c in pairs:
            if overlap < self.min_iou:
                break
            if t in used_tracks or c in used_candidates:
                continue
            used_tracks.add(t)
            used_candidates.add(c)
            track, candidate = self._live[t], candidates[c]
            track.last_frame, track.last_bbox, track.missed = frame_index, candidate.bbox, 0
            track.views += 1
            track.boxes.append((frame_index, candidate.bbox))
            track.best = best_face([track.best, candidate])
        for c, candidate in enumerate(candidates):
            if c not in used_candidates:
                self._live.append(
                    FaceTrack(
                        self._next_id, frame_index, frame_index, candidate.bbox, candidate,
                        boxes=[(frame_index, candidate.bbox)],
                    )
                )
                self._next_id += 1
        ended = []
        for t, track in enumerate(self._live):
            if t in used_tracks or track.last_frame == frame_index:
                continue
            track.missed += 1
            if track.missed > self.max_missed:
                ended.append(track)
        ended_ids = {track.id for track in ended}
        self._live = [track for track in self._live if track.id not in ended_ids]
        return ended

    def finish(self) -> list[FaceTrack]:
        """End every live track (end of the video)."""
        ended, self._live = self._live, []
        return ended

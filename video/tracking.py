"""Follow boxes from one analysed frame to the next, so reads of one object pool together.

The association is Roboflow's maintained ByteTrack (`trackers` package, on top of
`supervision`): Kalman-predicted boxes matched by IoU in two stages, high then low
confidence. At 2 analysed frames per second a car moves a good part of its own width
between frames, so the prediction matters and the IoU floor is low.

What this wrapper adds: every input box gets an id, in input order. ByteTrack leaves a
box at -1 until its track is confirmed on a second frame; here such a box gets a
provisional id, which the confirmed track adopts (the track grew from that very box), so
the first read of an object is not lost.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import count

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from streams.records import BBox


def iou(a: BBox, b: BBox) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Stable ids for boxes across frames of one camera, one object kind."""

    def __init__(
        self,
        lost_after_s: float = 1.5,
        min_iou: float = 0.05,
        activation: float = 0.2,
        high_confidence: float = 0.45,
        analysed_fps: float = 2.0,
    ) -> None:
        # ByteTrack counts its lost-time budget in frames of 1/30 s when given timestamps
        self._byte = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_after_s * 30)),
            frame_rate=analysed_fps,
            track_activation_threshold=activation,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
        )
        self._ids = count(1)
        self._adopted: dict[int, int] = {}  # ByteTrack id -> our id
        self._provisional: list[tuple[int, BBox]] = []  # from the previous update
        self._last_ts: float | None = None

    def update(self, boxes: Sequence[BBox], scores: Sequence[float], ts: float) -> list[int]:
        """An id per box (input order). Call on every analysed frame, even with no boxes,
        so that tracks age; `ts` in seconds, increasing."""
        if self._last_ts is not None and ts <= self._last_ts:
            ts = self._last_ts + 1e-3
        self._last_ts = ts
        if boxes:
            detections = sv.Detections(
                xyxy=np.asarray(boxes, dtype=float).reshape(-1, 4),
                confidence=np.clip(np.asarray(scores, dtype=float), 0.0, 1.0),
                data={"index": np.arange(len(boxes))},
            )
        else:
            detections = sv.Detections.empty()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = self._byte.update(detections, timestamp=ts)
        ids = [0] * len(boxes)
        provisional_before = self._provisional
        claimed: set[int] = set()
        self._provisional = []
        fresh: list[tuple[int, int]] = []  # (input index, ByteTrack id) first seen now
        for index, byte_id in zip(result.data.get("index", []), result.tracker_id, strict=True):
            index, byte_id = int(index), int(byte_id)
            if byte_id < 0:
                ids[index] = next(self._ids)
                self._provisional.append((ids[index], tuple(boxes[index])))  # type: ignore[arg-type]
            elif byte_id in self._adopted:
                ids[index] = self._adopted[byte_id]
            else:
                fresh.append((index, byte_id))
        for index, byte_id in fresh:
            box = tuple(boxes[index])
            best, best_iou = None, 0.0
            for pid, pbox in provisional_before:
                overlap = iou(box, pbox)  # type: ignore[arg-type]
                if pid not in claimed and overlap > best_iou:
                    best, best_iou = pid, overlap
            our_id = best if best is not None else next(self._ids)
            claimed.add(our_id)
            self._adopted[byte_id] = our_id
            ids[index] = our_id
        alive = {int(t.tracker_id) for t in self._byte.tracks}
        self._adopted = {b: o for b, o in self._adopted.items() if b in alive}
        return ids

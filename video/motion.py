"""The motion gate: where in this frame did something move? Nowhere means no detector runs.

Most of a street camera's frames show an empty or parked scene; the plate and face
detectors cost tens of milliseconds per frame, the gate about one. It keeps a background
model (OpenCV's MOG2) on a small grey copy of each analysed frame and returns the boxes
of what differs from it, padded (a plate or a face may sit at a moving blob's edge) and
merged (one detector call per area, not per fragment), in the original frame's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.records import BBox

WORK_WIDTH = 320
"""The gate looks at a copy this wide: a car or a walking person still spans many pixels."""


class MotionGate:
    """Background subtraction over the analysed frames of one camera."""

    def __init__(
        self,
        work_width: int = WORK_WIDTH,
        history: int = 120,
        var_threshold: float = 16.0,
        min_area_share: float = 0.0005,
        pad_share: float = 0.5,
        whole_frame_share: float = 0.55,
        max_regions: int = 8,
        hold_frames: int = 3,
    ) -> None:
        self.work_width = work_width
        self.min_area_share = min_area_share
        self.pad_share = pad_share
        self.whole_frame_share = whole_frame_share
        self.max_regions = max_regions
        self.hold_frames = hold_frames
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=var_threshold, detectShadows=False
        )
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        self._frames = 0
        self._recent: list[tuple[int, BBox]] = []  # (frame number, blob in frame pixels) of recent motion
        self.last_mask: np.ndarray | None = None

    def regions(self, image: np.ndarray) -> list[BBox]:
        """Boxes (x1, y1, x2, y2) of moving areas in `image`; [] when nothing moved.

        The first frame has no background yet: it is returned whole, so that whatever is
        already in view when a camera starts is looked at once.
        """
        height, width = image.shape[:2]
        scale = self.work_width / width
        small = cv2.resize(image, (self.work_width, max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0)
        mask = self._model.apply(grey)
        self._frames += 1
        if self._frames == 1:
            return [(0, 0, width, height)]
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._grow, iterations=2)
        self.last_mask = mask
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self.min_area_share * mask.shape[0] * mask.shape[1]
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < min_area:
                continue
            self._recent.append((self._frames, (
                int(x / scale), int(y / scale), min(width, int((x + w) / scale) + 1), min(height, int((y + h) / scale) + 1))))
        # a slow or uniform mover shows only some of its edges in a given frame: keep the
        # areas that moved in the last few frames (the face above moving shoulders, too)
        self._recent = [(n, b) for n, b in self._recent if self._frames - n < self.hold_frames]
        boxes = merge_boxes([_grow(b, (b[2] - b[0]) * self.pad_share, (b[3] - b[1]) * self.pad_share, width, height)
                             for _, b in self._recent])
        covered = sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
        if len(boxes) > self.max_regions or covered > self.whole_frame_share * width * height:
            return [(0, 0, width, height)]
        return boxes

    def moving_areas(self, margin_px: int, width: int, height: int) -> list[BBox]:
        """What moved in the frames `regions` last held, each blob grown by `margin_px`
        instead of by half its size, merged, and never widened to the whole frame: for a
        detector whose cost follows the area it searches (face HOG), where `regions`
        serves one that costs the same for any area (a busy street's padded regions cover
        75-100% of the frame, its moving blobs 45-70%)."""
        return merge_boxes([_grow(b, margin_px, margin_px, width, height) for _, b in self._recent])


def _grow(box: BBox, dx: float, dy: float, width: int, height: int) -> BBox:
    """`box` widened by dx each side and dy above and below, kept inside the frame."""
    x1, y1, x2, y2 = box
    return (max(0, int(x1 - dx)), max(0, int(y1 - dy)), min(width, int(x2 + dx) + 1), min(height, int(y2 + dy) + 1))


def _overlap(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merge_boxes(boxes: list[BBox]) -> list[BBox]:
    """Union overlapping boxes until none overlap (so no area is searched twice)."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[BBox] = []
        for box in merged:
            for i, other in enumerate(out):
                if _overlap(box, other):
                    out[i] = (min(box[0], other[0]), min(box[1], other[1]),
                              max(box[2], other[2]), max(box[3], other[3]))
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return sorted(merged)

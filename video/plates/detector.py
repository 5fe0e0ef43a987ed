"""Find plates in a frame with the YOLO model trained here, run through onnxruntime.

The committed model was exported for 384x640 inputs (a 720p frame letterboxed to 640
wide loses nothing): any image is letterboxed to that size, boxes are mapped back to
image pixels. A model exported with dynamic input axes (same weights, `dynamic=True`)
can instead take each image at a chosen `scale`: its cost then follows the image's area,
so a small motion region or a lower scale costs a fraction of a whole 640 px frame; and
`detect_coarse_to_fine` uses that to look for plates cheaply on a shrunk frame, then
again at full detail only around what it found. No torch at run time.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from streams.records import BBox
from video.motion import merge_boxes
from video.plates.sessions import session_options

EXPORTED_SIZE = (384, 640)
"""(height, width) the committed model was exported for; a dynamic model's default too."""
STRIDE = 32
"""YOLO's coarsest feature map: a dynamic input's sides must be multiples of it."""
COARSE_MIN_SCORE = 0.2
"""A coarse box only says where to look again; the second look applies the real bar."""
SECOND_LOOK_MIN_SCORE = 0.4
"""`detect_two_scales`' closer look finds more text-like clutter than plates: on 100 held-out
scenes a bar of 0.4 instead of 0.3 on its boxes cut the boxes on no plate 52 -> 36 and
kept recall at 199/200."""
WINDOW_MARGIN = (0.5, 1.0)
"""Around a coarse box, the second look's window: this many plate widths left and right,
plate heights above and below (a coarse box is a few pixels off at a quarter scale)."""


class PlateDetector:
    """YOLO (single class: plate) on onnxruntime."""

    def __init__(self, onnx_path: Path, threads: int = 1, pin_size: tuple[int, int] | None = None) -> None:
        """`pin_size` (height, width) fixes a dynamic model's input, so it runs as a
        fixed-size export does (one letterboxed call a frame, no coarse-to-fine)."""
        options = session_options(threads)
        if pin_size is not None:
            for axis, size in (("batch", 1), ("height", pin_size[0]), ("width", pin_size[1])):
                options.add_free_dimension_override_by_name(axis, size)
        self.session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        _, _, height, width = self.session.get_inputs()[0].shape
        self.dynamic = not (isinstance(height, int) and isinstance(width, int))
        """The model takes any input size (symbolic axes), not only the exported one."""
        self.height, self.width = EXPORTED_SIZE if self.dynamic else (height, width)

    def input_size(self, image_shape: tuple[int, ...], scale: float | None = None) -> tuple[int, int]:
        """(height, width) of the input `detect` feeds for an image of this shape."""
        if scale is None or not self.dynamic:
            return self.height, self.width
        h, w = image_shape[:2]
        return (max(STRIDE, math.ceil(h * scale / STRIDE) * STRIDE),
                max(STRIDE, math.ceil(w * scale / STRIDE) * STRIDE))

    def _letterbox(self, image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, int, int]:
        height, width = size
        h, w = image.shape[:2]
        scale = min(width / w, height / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.full((height, width, 3), 114, np.uint8)
        top, left = (height - nh) // 2, (width - nw) // 2
        canvas[top : top + nh, left : left + nw] = resized
        return canvas, scale, left, top

    def detect(self, image: np.ndarray, min_score: float = 0.25, iou: float = 0.5,
               scale: float | None = None) -> list[tuple[BBox, float]]:
        """Plate boxes (x1, y1, x2, y2) in `image` pixels with their scores, best first.

        `scale`: with a dynamic model, the image is shrunk (or grown) by about this factor
        into an input padded to multiples of STRIDE, so the cost follows the image's area;
        a plate must then be some 16 px wide or more *after* scaling to be found (the
        detector was trained on plates of 16-170 px). None, or a fixed-size model: the
        image is letterboxed into the exported 384x640, whatever its size."""
        canvas, scale, left, top = self._letterbox(image, self.input_size(image.shape, scale))
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self.session.run(None, {self.input_name: blob})[0][0]  # (5, N): cx, cy, w, h, score
        scores = out[4]
        keep = scores >= min_score
        if not keep.any():
            return []
        cx, cy, bw, bh = out[0][keep], out[1][keep], out[2][keep], out[3][keep]
        scores = scores[keep]
        boxes_xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
        idx = cv2.dnn.NMSBoxes(boxes_xywh.tolist(), scores.tolist(), min_score, iou)
        h, w = image.shape[:2]
        found = []
        for i in np.array(idx).reshape(-1):
            x, y, bw_i, bh_i = boxes_xywh[i]
            x1 = int(np.clip((x - left) / scale, 0, w - 1))
            y1 = int(np.clip((y - top) / scale, 0, h - 1))
            x2 = int(np.clip((x + bw_i - left) / scale, 0, w))
            y2 = int(np.clip((y + bh_i - top) / scale, 0, h))
            if x2 - x1 >= 4 and y2 - y1 >= 3:
                found.append(((x1, y1, x2, y2), float(scores[i])))
        return _drop_nested(sorted(found, key=lambda item: -item[1]))

    def detect_two_scales(self, image: np.ndarray, min_score: float = 0.25,
                          iou: float = 0.5) -> list[tuple[BBox, float]]:
        """`detect` on the letterboxed image, and again (dynamic model) at twice that scale,
        boxes merged: at the letterbox scale a 1280x720 frame's 60-80 px plates are 30-40 px
        and a 1080p frame's are 20-27, near the smallest the detector learnt (16 px), and it
        missed 7 of 200 on held-out scenes; at twice the scale those are found, while plates
        over ~300 px are found by the first pass (docs/ACCURACY.md). For still images (the
        CLI, photos): about four times the cost of one pass. Video uses
        `detect_coarse_to_fine`."""
        first = self.detect(image, min_score, iou)
        if not self.dynamic:
            return first
        h, w = image.shape[:2]
        base = min(self.width / w, self.height / h)
        both = first + self.detect(image, max(min_score, SECOND_LOOK_MIN_SCORE), iou, scale=2 * base)
        if not both:
            return []
        boxes = [[x1, y1, x2 - x1, y2 - y1] for (x1, y1, x2, y2), _ in both]
        idx = cv2.dnn.NMSBoxes(boxes, [score for _, score in both], min_score, iou)
        return _drop_nested(sorted((both[i] for i in np.array(idx).reshape(-1)), key=lambda item: -item[1]))

    def detect_coarse_to_fine(self, image: np.ndarray, min_score: float, coarse_scale: float,
                              fine_scale: float) -> list[tuple[BBox, float]]:
        """`detect` at `fine_scale`, for a fraction of its cost: first the whole image at
        `coarse_scale` (a 16th of the pixels at 0.25 vs 1.0) for where plates are, then
        `fine_scale` only in a window around each, so boxes are as tight as a fine pass over
        the whole image would give. A plate the coarse pass misses (too small at its scale,
        e.g. < ~64 px at 0.25) is not found; a fixed-size model does one `detect`."""
        if not self.dynamic:
            return self.detect(image, min_score)
        h, w = image.shape[:2]
        mx, my = WINDOW_MARGIN
        windows = merge_boxes([
            (max(0, int(x1 - mx * (x2 - x1))), max(0, int(y1 - my * (y2 - y1))),
             min(w, int(x2 + mx * (x2 - x1)) + 1), min(h, int(y2 + my * (y2 - y1)) + 1))
            for (x1, y1, x2, y2), _ in self.detect(image, COARSE_MIN_SCORE, scale=coarse_scale)])
        found = []
        for wx1, wy1, wx2, wy2 in windows:
            for (x1, y1, x2, y2), score in self.detect(image[wy1:wy2, wx1:wx2], min_score, scale=fine_scale):
                found.append(((x1 + wx1, y1 + wy1, x2 + wx1, y2 + wy1), score))
        return sorted(found, key=lambda item: -item[1])


def _drop_nested(found: list[tuple[BBox, float]]) -> list[tuple[BBox, float]]:
    """Plates do not nest: a box that holds a better-scored, much smaller box (most of its
    area inside, a third of its size or less) is the detector seeing the plate's
    surroundings as one more plate, which NMS keeps (their IoU is low). `found` is sorted
    best first; so is the result."""
    kept: list[tuple[BBox, float]] = []
    for box, score in found:
        x1, y1, x2, y2 = box
        area = (x2 - x1) * (y2 - y1)
        nested = False
        for (kx1, ky1, kx2, ky2), _ in kept:
            inner = (kx2 - kx1) * (ky2 - ky1)
            overlap = max(0, min(x2, kx2) - max(x1, kx1)) * max(0, min(y2, ky2) - max(y1, ky1))
            if inner * 3 <= area and overlap >= 0.8 * inner:
                nested = True
                break
        if not nested:
            kept.append((box, score))
    return kept

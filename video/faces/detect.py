"""Find faces in a frame, encode them, and score how good a view of the face each one is.

dlib's HOG detector looks with an 80x80 px window, so it finds faces of ~80 px and up and
its cost grows with the pixel count. We therefore run it twice:

1. on the frame shrunk to `max_side` (cheap; finds the large, near faces), then
2. if `upsample_small`, at twice that scale (capped at 2x the original) to find faces
   down to ~40 px at the first scale, but only where small faces are looked for: inside
   `regions` when the caller gives them (motion or person boxes from the video pipeline),
   else over the whole frame (a still photo, or a video key frame).

Boxes are always returned in the original frame's pixels as (x1, y1, x2, y2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from streams.records import BBox
from video.faces.engine import face_api

HOG_WINDOW_PX = 80
"""Smallest face dlib's frontal HOG detector finds without upsampling."""

REGION_MARGIN = 0.25
"""Regions grow by this fraction on each side, so a face at a region's edge is whole."""

WHOLE_FRAME_SHARE = 0.6
"""When regions cover more than this share of the frame, one whole-frame pass is cheaper."""

FIRST_PASS_MIN_SCORE = 0.1
SMALL_PASS_MIN_SCORE = 0.2
"""Detector scores below which a box is not a face. dlib's own threshold is 0, but the
sample faces show a false face near it: skimage's astronaut wears a mission patch that
scores 0.04 (first pass, once saved as JPEG) and 0.06-0.17 (upsampled pass, which looks at
~4x more windows, hence its higher bar). Real faces there: 0.15 and up in the first pass;
0.27 and up in the upsampled one (37-63 px faces of the samples shrunk to 0.3-0.5x, JPEG
q70: 0.3-2.4, most above 0.8)."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face: its box in original pixels and the detector's score (> 0)."""

    bbox: BBox
    score: float


def detect_faces(
    image_bgr: np.ndarray,
    max_side: int = 960,
    upsample_small: bool = True,
    regions: Sequence[BBox] | None = None,
) -> list[BBox]:
    """Face boxes (x1, y1, x2, y2) in original pixels, most confident first."""
    return [face.bbox for face in detect_faces_scored(image_bgr, max_side, upsample_small, regions)]


def detect_faces_scored(
    image_bgr: np.ndarray,
    max_side: int = 960,
    upsample_small: bool = True,
    regions: Sequence[BBox] | None = None,
    scale: float | None = None,
) -> list[FaceBox]:
    """Like `detect_faces`, with the detector's score kept (for tracks and sightings).

    `scale`: the first pass's, instead of what `max_side` gives (a crop of a frame
    searched as the whole frame would be)."""
    _check_image(image_bgr)
    height, width = image_bgr.shape[:2]
    if scale is None:
        scale = min(1.0, max_side / max(height, width))
    found = _hog(image_bgr, (0, 0, width, height), scale, min_score=FIRST_PASS_MIN_SCORE)
    if upsample_small:
        small_scale = min(2.0, 2.0 * scale)
        for area in _small_face_areas(regions, width, height):
            found += _hog(image_bgr, area, small_scale, min_score=SMALL_PASS_MIN_SCORE)
    return _suppress_duplicates(found)


def encode_faces(image_bgr: np.ndarray, boxes: Sequence[BBox]) -> list[np.ndarray]:
    """One 128-d encoding (float64) per box, in the order given.

    Only the area around the boxes is converted to RGB, so encoding a face of a large frame
    costs about the same as encoding it in a crop.
    """
    _check_image(image_bgr)
    if not boxes:
        return []
    api = face_api()
    height, width = image_bgr.shape[:2]
    x1 = max(0, min(b[0] for b in boxes) - 32)
    y1 = max(0, min(b[1] for b in boxes) - 32)
    x2 = min(width, max(b[2] for b in boxes) + 32)
    y2 = min(height, max(b[3] for b in boxes) + 32)
    rgb = np.ascontiguousarray(image_bgr[y1:y2, x1:x2, ::-1])
    locations = [(b[1] - y1, b[2] - x1, b[3] - y1, b[0] - x1) for b in boxes]  # top, right, bottom, left
    encodings = api.face_encodings(rgb, known_face_locations=locations, num_jitters=1, model="small")
    return [np.asarray(encoding, dtype=np.float64) for encoding in encodings]


def face_quality(image_bgr: np.ndarray, box: BBox) -> float:
    """How good a view of the face this box is, in [0, 1]: larger, sharper, more frontal
    is higher. Picks the one frame per track that gets encoded."""
    _check_image(image_bgr)
    x1, y1, x2, y2 = _clip(box, image_bgr.shape[1], image_bgr.shape[0])
    if x2 - x1 < 4 or y2 - y1 < 4:
        return 0.0
    size = min(1.0, float(np.sqrt((x2 - x1) * (y2 - y1))) / 150.0)
    crop = cv2.cvtColor(image_bgr[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    crop = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(crop, cv2.CV_64F).var())
    sharpness = variance / (variance + 150.0)
    frontal = _frontalness(image_bgr, (x1, y1, x2, y2))
    return float(size * (0.4 + 0.6 * sharpness) * (0.2 + 0.8 * frontal))


# ---------------------------------------------------------------- internals


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected a BGR uint8 image of shape HxWx3, got {type(image).__name__} {shape}")


def _clip(box: BBox, width: int, height: int) -> BBox:
    x1, y1, x2, y2 = box
    return max(0, x1), max(0, y1), min(width, x2), min(height, y2)


def _hog(image_bgr: np.ndarray, area: BBox, scale: float, min_score: float) -> list[FaceBox]:
    """HOG (no upsampling) on `area` of the image resized by `scale`; boxes in original px."""
    ax1, ay1, ax2, ay2 = area
    crop = image_bgr[ay1:ay2, ax1:ax2]
    out_w, out_h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    if out_w < HOG_WINDOW_PX or out_h < HOG_WINDOW_PX:
        return []
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (out_w, out_h), interpolation=interpolation)
    rgb = np.ascontiguousarray(crop[:, :, ::-1])
    rects, scores, _ = face_api().api.face_detector.run(rgb, 0, min_score)
    height, width = image_bgr.shape[:2]
    found = []
    for rect, score in zip(rects, scores, strict=True):
        box = (
            ax1 + round(rect.left() / scale),
            ay1 + round(rect.top() / scale),
            ax1 + round((rect.right() + 1) / scale),
            ay1 + round((rect.bottom() + 1) / scale),
        )
        x1, y1, x2, y2 = _clip(box, width, height)
        if x2 - x1 >= 8 and y2 - y1 >= 8:
            found.append(FaceBox((x1, y1, x2, y2), float(score)))
    return found


def _small_face_areas(regions: Sequence[BBox] | None, width: int, height: int) -> list[BBox]:
    """Where to look for small faces: grown, merged regions, or the whole frame."""
    whole = [(0, 0, width, height)]
    if regions is None:
        return whole
    grown = []
    for x1, y1, x2, y2 in regions:
        mx, my = round((x2 - x1) * REGION_MARGIN), round((y2 - y1) * REGION_MARGIN)
        box = _clip((x1 - mx, y1 - my, x2 + mx, y2 + my), width, height)
        if box[2] > box[0] and box[3] > box[1]:
            grown.append(box)
    merged = _merge_overlapping(grown)
    covered = sum((b[2] - b[0]) * (b[3] - b[1]) for b in merged)
    return whole if covered > WHOLE_FRAME_SHARE * width * height else merged


def _merge_overlapping(boxes: list[BBox]) -> list[BBox]:
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    merged[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def iou(a: BBox, b: BBox) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _suppress_duplicates(faces: list[FaceBox]) -> list[FaceBox]:
    """The same face found at both scales (or in two regions) is kept once, best score."""
    kept: list[FaceBox] = []
    for face in sorted(faces, key=lambda f: f.score, reverse=True):
        cx, cy = (face.bbox[0] + face.bbox[2]) / 2, (face.bbox[1] + face.bbox[3]) / 2
        duplicate = any(
            iou(face.bbox, other.bbox) > 0.3
            or (other.bbox[0] <= cx <= other.bbox[2] and other.bbox[1] <= cy <= other.bbox[3])
            for other in kept
        )
        if not duplicate:
            kept.append(face)
    return kept


def _frontalness(image_bgr: np.ndarray, box: BBox) -> float:
    """1 for a face looking at the camera, towards 0 as it turns (nose off the eyes' middle)."""
    api = face_api()
    x1, y1, x2, y2 = box
    pad = max(x2 - x1, y2 - y1) // 2
    ox, oy = max(0, x1 - pad), max(0, y1 - pad)
    crop = np.ascontiguousarray(image_bgr[oy : y2 + pad, ox : x2 + pad, ::-1])
    rect = dlib.rectangle(x1 - ox, y1 - oy, x2 - ox - 1, y2 - oy - 1)
    shape = api.api.pose_predictor_5_point(crop, rect)
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64)
    eye_a = points[0:2].mean(axis=0)
    eye_b = points[2:4].mean(axis=0)
    eye_distance = float(np.linalg.norm(eye_a - eye_b))
    if eye_distance < 1.0:
        return 0.0
    middle = (eye_a + eye_b) / 2
    offset = abs(float(points[4][0] - middle[0])) / eye_distance
    return max(0.0, 1.0 - 2.0 * offset)

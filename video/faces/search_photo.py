"""Search by photo (以图搜人) starts here: one photo -> the one face's 128-d encoding.

The analytics side ranks stored face sightings by distance to it; it never decodes
images itself, so `analytics/` stays free of the face engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from video.faces.cli import read_image
from video.faces.detect import detect_faces, encode_faces


def encode_image_face(image_bgr: np.ndarray, source: str = "photo") -> list[float]:
    """The encoding of the single face in the image; ValueError when none or several."""
    boxes = detect_faces(image_bgr)
    if not boxes:
        raise ValueError(f"{source}: no face found (use a clear, frontal photo)")
    if len(boxes) > 1:
        raise ValueError(f"{source}: {len(boxes)} faces found; crop the photo to one person")
    return [float(x) for x in encode_faces(image_bgr, boxes)[0]]


def encode_one_face(path: Path) -> list[float]:
    return encode_image_face(read_image(path), str(path))

"""The detectors a camera pipeline calls, behind two small interfaces.

The plate path (`video.plates`) and the face path (`video.faces`) are built elsewhere;
the pipeline only needs "plates in these regions" and "faces in these regions, then who
is this". Keeping that here lets the pipeline, replay and bench share one way of loading
them, and lets a deployment run plates only or faces only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from streams.records import BBox, Detection

if TYPE_CHECKING:
    from video.faces.track import FaceCandidate


class PlateReader(Protocol):
    """What the pipeline needs from the plate recognizer (video.plates.PlateRecognizer)."""

    def read_regions(self, image: np.ndarray, regions: Sequence[BBox]) -> list[Detection]: ...

    def read_frame(self, image: np.ndarray) -> list[Detection]: ...


_DLIB = threading.Lock()
"""dlib's detector and encoder are shared objects inside face_recognition (the encoder a
network with its own buffers): camera threads of one process take turns with them."""


class ReaderUnavailable(RuntimeError):
    """A detector cannot be loaded (models missing, broken install); says how to fix it."""


PPOCR_ENV = "CITYOPS_PLATE_PPOCR"


def ppocr_default() -> bool:
    """Whether video uses PP-OCR's second opinion on unsure plate reads ($CITYOPS_PLATE_PPOCR,
    1/0; default off). It rescues reads our reader is unsure of, at 0.3-1 s per call (a
    text-detection pass on every region without a confident read)."""
    return os.environ.get(PPOCR_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def load_plate_reader(use_ppocr: bool | None = None) -> PlateReader:
    """The plate recognizer with its committed models (sha256-checked by video.plates);
    `use_ppocr=None` follows $CITYOPS_PLATE_PPOCR."""
    if use_ppocr is None:
        use_ppocr = ppocr_default()
    try:
        from video.plates.recognizer import PlateRecognizer
    except ImportError as exc:
        raise ReaderUnavailable(f"the plate recognizer is not installed: {exc}") from exc
    try:
        return PlateRecognizer.load(use_ppocr=use_ppocr)
    except Exception as exc:  # missing weights, onnxruntime problems: say which
        raise ReaderUnavailable(f"the plate recognizer cannot load its models: {exc}") from exc


class FaceReader:
    """Faces in moving regions (dlib HOG), their best view's encoding, and who it is.

    Detection runs on each region's crop, not on the whole frame, so a quiet frame costs
    nothing and a busy one costs in proportion to what moves.
    """

    def __init__(self, home: Path, small_faces: bool = False) -> None:
        """`small_faces`: also look for faces of 40-80 px (dlib at 2x: ~4x the cost). Off
        for video: a face walking towards the camera grows past 80 px within its pass, and
        that larger view is the one worth encoding anyway."""
        try:
            from streams.watchlist import Watchlist
            from video.faces.matcher import FaceMatcher
        except ImportError as exc:
            raise ReaderUnavailable(f"the face path is not installed: {exc}") from exc
        self.home = Path(home)
        self.small_faces = small_faces
        self._watchlist = Watchlist(self.home)
        self._matcher = FaceMatcher(self._watchlist, self.home)

    def find(self, image: np.ndarray, regions: Sequence[BBox], frame_index: int) -> list[FaceCandidate]:
        from video.faces.detect import detect_faces_scored, face_quality
        from video.faces.track import make_candidate

        height, width = image.shape[:2]
        views: list[FaceCandidate] = []
        for x1, y1, x2, y2 in regions:
            x1, y1 = max(0, x1), max(0, y1)
            x2, y2 = min(width, x2), min(height, y2)
            if x2 - x1 < 40 or y2 - y1 < 40:
                continue
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            with _DLIB:  # detection and the landmarks behind face_quality
                found = detect_faces_scored(crop, upsample_small=self.small_faces)
                for face in found:
                    fx1, fy1, fx2, fy2 = face.bbox
                    box = (fx1 + x1, fy1 + y1, fx2 + x1, fy2 + y1)
                    quality = face_quality(image, box)
                    views.append(make_candidate(image, frame_index, box, quality, face.score))
        return _distinct(views)

    def identify(self, candidate: FaceCandidate, seen_at: datetime) -> tuple[str, bool, float, list[float]]:
        """(identity, watch-listed, distance, encoding) of the face in `candidate`."""
        from video.faces.detect import encode_faces

        with _DLIB:
            encoding = encode_faces(candidate.crop, [candidate.crop_box])[0]
        who = self._matcher.identify(encoding, seen_at)
        return who.identity, who.watchlisted, float(who.distance), [float(v) for v in encoding]

    def close(self) -> None:
        self._matcher.close()
        self._watchlist.close()


def _distinct(views: list[FaceCandidate]) -> list[FaceCandidate]:
    """Regions may overlap at their margins: keep one view per face."""
    from video.tracking import iou

    kept: list[FaceCandidate] = []
    for view in sorted(views, key=lambda v: -v.quality):
        if all(iou(view.bbox, other.bbox) < 0.5 for other in kept):
            kept.append(view)
    return kept

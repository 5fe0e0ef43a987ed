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


class SeparateStepsReader(PlateReader, Protocol):
    """A plate reader that finds plates and reads them in two calls (`separate_steps`
    true, as `VideoPlateReader`): the pipeline then tracks every plate box and skips
    reading the ones whose pass already knows its plate."""

    separate_steps: bool

    def detect(self, image: np.ndarray, region: BBox) -> list[tuple[BBox, float]]: ...

    def read(self, image: np.ndarray, found: Sequence[tuple[BBox, float]]) -> list[Detection]: ...


_DLIB = threading.Lock()
"""dlib's detector and encoder are shared objects inside face_recognition (the encoder a
network with its own buffers): camera threads of one process take turns with them."""


SecondOpinion = tuple[str, float]
"""PP-OCR's reading of a plate crop (separators removed) and its score."""


class ReaderUnavailable(RuntimeError):
    """A detector cannot be loaded (models missing, broken install); says how to fix it."""


PPOCR_ENV = "CITYOPS_PLATE_PPOCR"
COARSE_SCALE, FINE_SCALE = 0.25, 0.5
"""Plate detector input per frame pixel, when its model takes any input size: where plates
are, on a 720p frame shrunk to 320x180 (~7 ms of CPU), then around each at 640 px's detail,
as a fixed 384x640 model sees a whole 720p frame (~26 ms). The coarse pass finds plates of
80 px and more (the readable ones) as well as the fine one does."""


def ppocr_default() -> bool:
    """Whether video asks PP-OCR for a second opinion on unsure plate reads
    ($CITYOPS_PLATE_PPOCR, 1/0; default on): our reader alone is not sure enough of the
    province glyph yet (docs/ACCURACY.md); see `VideoPlateReader` for what it costs."""
    return os.environ.get(PPOCR_ENV, "1").strip().lower() in ("1", "true", "yes", "on")


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
        recognizer = PlateRecognizer.load(use_ppocr=use_ppocr)
    except Exception as exc:  # missing weights, onnxruntime problems: say which
        raise ReaderUnavailable(f"the plate recognizer cannot load its models: {exc}") from exc
    return VideoPlateReader(recognizer, second_opinion=use_ppocr)


class VideoPlateReader:
    """The plate recognizer driven for video, where its PP-OCR backing costs too much,
    and where finding a plate (`detect`) and reading it (`read`) are separate steps: a
    camera pass that has read its plate enough times need not read it again.

    `PlateRecognizer.read_frame` asks PP-OCR's text detector to search any image in which
    our YOLO found no readable plate, and runs that detector again on every unsure crop:
    about a second each on 720p. In video, YOLO already finds the plates (on the sample
    media: in every analysed frame of every pass) and a pass offers many reads, so here the
    second opinion is PP-OCR's recogniser alone on YOLO's crop (~0.1 s), only for plates
    big enough to be worth it, and the recognizer's own rule (`_decide`) decides.
    Falls back to the recognizer's public methods if its internals change.
    """

    MIN_SECOND_OPINION_PX = 80
    """Plates narrower than this are read by our reader alone (wait for them to come closer)."""
    SURE_SECOND_OPINION = 0.9

    def __init__(self, recognizer: object, second_opinion: bool = True) -> None:
        self.recognizer = recognizer
        self.second_opinion = second_opinion
        self._ok = all(hasattr(recognizer, name) for name in ("detector", "reader", "_decide", "_ppocr", "settled"))

    @property
    def separate_steps(self) -> bool:
        """`detect` and `read` work (they use the recognizer's internals)."""
        return self._ok

    def detect(self, image: np.ndarray, region: BBox) -> list[tuple[BBox, float]]:
        """Plate boxes (frame pixels) and detector scores inside `region`, not read yet."""
        from video.plates.recognizer import DETECTOR_MIN_SCORE

        x1, y1, x2, y2 = region
        ox, oy = max(0, x1), max(0, y1)
        sub = image[oy:y2, ox:x2]
        if sub.size == 0:
            return []
        found = self.recognizer.detector.detect_coarse_to_fine(  # type: ignore[attr-defined]
            sub, DETECTOR_MIN_SCORE, coarse_scale=COARSE_SCALE, fine_scale=FINE_SCALE)
        return [((bx1 + ox, by1 + oy, bx2 + ox, by2 + oy), float(score)) for (bx1, by1, bx2, by2), score in found]

    def read(self, image: np.ndarray, found: Sequence[tuple[BBox, float]]) -> list[Detection]:
        """Read the plates in these boxes (from `detect`), one Detection per box."""
        return [det for det, _ in self.read_tracked(image, found, [()] * len(found))]

    def read_tracked(self, image: np.ndarray, found: Sequence[tuple[BBox, float]],
                     earlier: Sequence[Sequence[SecondOpinion]],
                     may_ask: Sequence[bool] | None = None) -> list[tuple[Detection, SecondOpinion | None]]:
        """`read`, for boxes that belong to tracks: `earlier[i]` are PP-OCR's recent opinions
        that may be of box i's plate (its track's last one first: the same car a moment
        ago; then those of the camera's other open passes, for a car the tracker lost).
        When our read of the box still says what one of them said, PP-OCR would only say
        it again (~40 ms of CPU a call): that opinion is reused. `may_ask[i]` False: no new
        opinion for box i this time (the caller rations them per track). Returns each
        Detection with the opinion it was decided on, for the caller to keep."""
        from video.plates.recognizer import plate_views

        rec = self.recognizer
        groups = [plate_views(image, box) for box, _score in found]  # one group per box
        crops = [group[0] for group in groups]  # the standard padded crop, for PP-OCR
        out: list[tuple[Detection, SecondOpinion | None]] = []
        reads = rec.reader.read_views(groups) if groups else []  # type: ignore[attr-defined]
        asks = may_ask if may_ask is not None else [True] * len(found)
        for (box, score), crop, before, ask, read in zip(found, crops, earlier, asks, reads, strict=True):
            raw, probs = read.own if read.own is not None else (read.raw, read.probs)  # PP-OCR judges ours alone
            second = None
            unsure = not rec.settled(read, box)  # type: ignore[attr-defined]
            hidden = read.hidden >= rec.max_hidden  # type: ignore[attr-defined]
            if self.second_opinion and unsure and not hidden and box[2] - box[0] >= self.MIN_SECOND_OPINION_PX:
                second = next((opinion for opinion in before if _opinion_holds(raw, opinion)), None)
                if second is None and ask:
                    second = self._second_opinion(crop)
            det = rec._decide(image, box, score, read, second)  # type: ignore[attr-defined]
            if det.text is None and second is not None:
                det = self._province_from_second_opinion(det, raw, probs, second)
            out.append((det, second))
        return out

    def warm_up(self) -> None:
        """Load every model now (PP-OCR's import and sessions take seconds): a camera's
        first unsure plate, or a benchmark's clock, should not pay for it."""
        self.read_frame(np.full((720, 1280, 3), 127, np.uint8))
        if self.second_opinion and self._ok:
            self._second_opinion(np.full((48, 160, 3), 127, np.uint8))

    def read_frame(self, image: np.ndarray) -> list[Detection]:
        if not self._ok:
            return self.recognizer.read_frame(image)  # type: ignore[attr-defined]
        return self.read(image, self.detect(image, (0, 0, image.shape[1], image.shape[0])))

    def _province_from_second_opinion(self, det: Detection, raw: str, probs: list[float],
                                      second: tuple[str, float]) -> Detection:
        """Both readers agree on every character but the province glyph, ours is unsure of
        it (its known weak point, docs/ACCURACY.md) and PP-OCR is sure: PP-OCR's province."""
        from video.plates.grammar import normalize_plate

        ours, theirs = normalize_plate(raw), normalize_plate(second[0])
        rec = self.recognizer
        if ours is None or theirs is None or len(ours) != len(theirs) or ours[1:] != theirs[1:]:
            return det
        chars = probs[: len(ours)]
        if not chars or chars[0] >= rec.min_char_confidence or second[1] < self.SURE_SECOND_OPINION \
                or min(chars[1:], default=0.0) < rec.agreed_char_confidence:  # type: ignore[attr-defined]
            return det
        det.text = theirs
        det.char_confidences = [second[1], *chars[1:]]
        return det

    def read_regions(self, image: np.ndarray, regions: Sequence[BBox]) -> list[Detection]:
        if not self._ok:
            return self.recognizer.read_regions(image, list(regions))  # type: ignore[attr-defined]
        return [d for region in regions for d in self.read(image, self.detect(image, region))]

    def _second_opinion(self, crop: np.ndarray) -> SecondOpinion:
        """PP-OCR's reading of the crop; ("", 0.0) when it reads no text at all, which is
        an answer too (no plate here), rationed like any other non-plate answer: as None
        it looked like "not asked", and a blank sign was asked again on the next frame."""
        from video.plates.recognizer import _clean

        result = self.recognizer._ppocr(rec_only=True)(crop, use_det=False, use_cls=False)  # type: ignore[attr-defined]
        reads = [(t, float(sc)) for t, sc in zip(result.txts or (), result.scores or (), strict=False) if t]
        return (_clean(reads[0][0]), reads[0][1]) if reads else ("", 0.0)


FACE_SEARCH_SIDE = 960
"""Faces are searched on the frame shrunk to this long side (0.75 of 720p: faces from ~100
px, as dlib's HOG window is 80), in any region of it, so that where a face is found does
not depend on how busy the frame is, and a region costs in proportion to its area."""


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
        scale = min(1.0, FACE_SEARCH_SIDE / max(height, width))
        views: list[FaceCandidate] = []
        for x1, y1, x2, y2 in regions:
            x1, y1 = max(0, x1), max(0, y1)
            x2, y2 = min(width, x2), min(height, y2)
            if x2 - x1 < 40 or y2 - y1 < 40:
                continue
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            with _DLIB:  # detection and the landmarks behind face_quality
                found = detect_faces_scored(crop, upsample_small=self.small_faces, scale=scale)
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


def _opinion_holds(raw: str, opinion: SecondOpinion) -> bool:
    """Our read says the plate PP-OCR read earlier: the same plate, or the same but for
    the province glyph (our known weak point, which the opinion is there to settle) or a
    glyph PP-OCR tends to drop."""
    from video.plates.grammar import normalize_plate
    from video.plates.recognizer import _agrees

    ours = normalize_plate(raw)
    if ours is None:
        return False
    theirs = normalize_plate(opinion[0]) or opinion[0]
    return ours == theirs or (len(ours) == len(theirs) and ours[1:] == theirs[1:]) or _agrees(ours, opinion[0])


def _distinct(views: list[FaceCandidate]) -> list[FaceCandidate]:
    """Regions may overlap at their margins: keep one view per face."""
    from video.tracking import iou

    kept: list[FaceCandidate] = []
    for view in sorted(views, key=lambda v: -v.quality):
        if all(iou(view.bbox, other.bbox) < 0.5 for other in kept):
            kept.append(view)
    return kept

"""Frame in, plates out: YOLO finds plates, fast-plate-ocr reads them, PP-OCR backs them up.

A wrong plate string sends analysts after the wrong car, so a read is only returned as
text when it is a valid plate *and* every character is confident (MIN_CHAR_CONFIDENCE,
calibrated on held-out synthetic plates, see docs/ACCURACY.md); otherwise the plate is
still reported (box, colour) with `text=None`.

PP-OCR (rapidocr, bundled ONNX models) is the second, independent detector+reader: where
the YOLO pass reads nothing, the frame goes through PP-OCR, and a PP-OCR plate string is
kept only when our reader, run on PP-OCR's box, agrees (two readers, one answer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from streams.records import BBox, Detection, SightingKind
from video.model_files import MODELS_DIR, verified_path
from video.plates.color import plate_color
from video.plates.detector import PlateDetector
from video.plates.grammar import normalize_plate

log = logging.getLogger(__name__)

MIN_CHAR_CONFIDENCE = 0.80
"""Lowest per-character probability for a read to be returned as text (see ACCURACY.md)."""
PAD_X, PAD_Y = 0.04, 0.10
"""Margins added around a detector box before reading: the reader was trained on such crops."""
DETECTOR_MIN_SCORE = 0.30


class PlateImageError(ValueError):
    """The image given to the recognizer is empty or not an image."""


def check_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.size == 0 or image.ndim not in (2, 3):
        shape = getattr(image, "shape", None)
        raise PlateImageError(f"expected a non-empty HxW or HxWx3 image array, got {type(image).__name__}"
                              + (f" of shape {shape}" if shape is not None else ""))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def pad_box(box: BBox, shape: tuple[int, ...], px: float = PAD_X, py: float = PAD_Y) -> BBox:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return (max(0, int(round(x1 - px * w))), max(0, int(round(y1 - py * h))),
            min(shape[1], int(round(x2 + px * w))), min(shape[0], int(round(y2 + py * h))))


class PlateReader:
    """fast-plate-ocr model trained here, loaded from local files (never the hub)."""

    def __init__(self, onnx_path: Path, config_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from fast_plate_ocr import LicensePlateRecognizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.model = LicensePlateRecognizer(onnx_model_path=str(onnx_path),
                                            plate_config_path=str(config_path),
                                            providers=["CPUExecutionProvider"],
                                            sess_options=options)

    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, list[float]]]:
        """Raw text (pads removed) and per-slot probabilities (pads included) per crop."""
        if not crops:
            return []
        grays = [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY)[..., None] for c in crops]
        preds = self.model.run(grays, return_confidence=True)
        out = []
        for pred in preds:
            probs = [float(p) for p in np.asarray(pred.char_probs).reshape(-1)]
            out.append((pred.plate, probs))
        return out


class PlateRecognizer:
    """The plate path of the video pipeline; see the module docstring."""

    def __init__(self, detector: PlateDetector, reader: PlateReader, *, use_ppocr: bool = True,
                 min_char_confidence: float = MIN_CHAR_CONFIDENCE) -> None:
        self.detector = detector
        self.reader = reader
        self.use_ppocr = use_ppocr
        self.min_char_confidence = min_char_confidence
        self._ppocr = None

    @classmethod
    def load(cls, models_dir: Path | None = None, *, use_ppocr: bool = True,
             threads: int = 1) -> PlateRecognizer:
        """Load the committed models after checking their sha256 (ModelFileError if not)."""
        root = Path(models_dir) if models_dir else MODELS_DIR
        detector = PlateDetector(verified_path("plate_detector", root), threads=threads)
        reader = PlateReader(verified_path("plate_reader", root),
                             verified_path("plate_reader_config", root), threads=threads)
        return cls(detector, reader, use_ppocr=use_ppocr)

    # ------------------------------------------------------------ reading

    def _accept(self, raw: str, probs: list[float]) -> tuple[str | None, list[float]]:
        text = normalize_plate(raw)
        if text is None:
            return None, probs[: len(raw)]
        confident = min(probs) >= self.min_char_confidence if probs else False
        return (text if confident else None), probs[: len(text)]

    def _detection(self, image: np.ndarray, box: BBox, score: float, raw: str,
                   probs: list[float]) -> Detection:
        text, chars = self._accept(raw, probs)
        x1, y1, x2, y2 = box
        return Detection(kind=SightingKind.PLATE, bbox=box, score=score, text=text,
                         char_confidences=chars, color=plate_color(image[y1:y2, x1:x2], text))

    def read_crop(self, image: np.ndarray) -> Detection | None:
        """Read an image that is one plate already (cut by hand or by another system)."""
        image = check_image(image)
        h, w = image.shape[:2]
        # the reader expects a little margin around the plate; add it when the cut is tight
        border_x, border_y = int(round(w * PAD_X)), int(round(h * PAD_Y))
        padded = cv2.copyMakeBorder(image, border_y, border_y, border_x, border_x, cv2.BORDER_REPLICATE)
        candidates = [image, padded]
        reads = self.reader.read(candidates)
        best = max(reads, key=lambda r: (normalize_plate(r[0]) is not None, min(r[1], default=0)))
        det = self._detection(image, (0, 0, w, h), 1.0, *best)
        return det if det.text or normalize_plate(best[0]) else det

    def read_frame(self, image: np.ndarray) -> list[Detection]:
        """Every plate in a frame: box, score, normalised text (or None), colour."""
        image = check_image(image)
        found = self.detector.detect(image, min_score=DETECTOR_MIN_SCORE)
        detections = self._read_boxes(image, found)
        if self.use_ppocr and not any(d.text for d in detections):
            detections = self._merge(detections, self._ppocr_pass(image))
        return detections

    def read_regions(self, image: np.ndarray, regions: list[BBox]) -> list[Detection]:
        """Detect only inside `regions` (e.g. motion boxes); boxes come back in frame pixels."""
        image = check_image(image)
        out: list[Detection] = []
        for rx1, ry1, rx2, ry2 in regions:
            sub = image[max(0, ry1) : ry2, max(0, rx1) : rx2]
            if sub.size == 0:
                continue
            for det in self.read_frame(sub):
                x1, y1, x2, y2 = det.bbox
                det.bbox = (x1 + max(0, rx1), y1 + max(0, ry1), x2 + max(0, rx1), y2 + max(0, ry1))
                out.append(det)
        return out

    def _read_boxes(self, image: np.ndarray, found: list[tuple[BBox, float]]) -> list[Detection]:
        crops, kept = [], []
        for box, score in found:
            x1, y1, x2, y2 = pad_box(box, image.shape)
            crop = image[y1:y2, x1:x2]
            if crop.size:
                crops.append(crop)
                kept.append((box, score))
        reads = self.reader.read(crops)
        return [self._detection(image, box, score, raw, probs)
                for (box, score), (raw, probs) in zip(kept, reads, strict=True)]

    # ------------------------------------------------------------ PP-OCR second opinion

    def _ppocr_engine(self):
        if self._ppocr is None:
            from rapidocr import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            self._ppocr = RapidOCR()  # det+rec instance only: use_det=False sticks (known bug)
        return self._ppocr

    def _ppocr_pass(self, image: np.ndarray) -> list[Detection]:
        result = self._ppocr_engine()(image, use_cls=False)
        if result.boxes is None or result.txts is None:
            return []
        boxes, texts = [], []
        for quad, txt in zip(result.boxes, result.txts, strict=True):
            pts = np.asarray(quad)
            x1, y1 = pts.min(axis=0)
            x2, y2 = pts.max(axis=0)
            w, h = x2 - x1, y2 - y1
            if h <= 0 or not 1.2 <= w / h <= 8.0:
                continue
            text = normalize_plate(txt)
            if text is None:
                continue
            boxes.append((int(x1), int(y1), int(x2), int(y2)))
            texts.append(text)
        if not boxes:
            return []
        dets = self._read_boxes(image, [(b, 0.5) for b in boxes])
        agreed = []
        for det, pp_text in zip(dets, texts, strict=True):
            if det.text != pp_text:  # disagreement or unsure reader: report the plate, no text
                det.text = None
            agreed.append(det)
        return agreed

    @staticmethod
    def _merge(primary: list[Detection], extra: list[Detection]) -> list[Detection]:
        def iou(a: BBox, b: BBox) -> float:
            ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
            iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = ix * iy
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            return inter / union if union else 0.0

        merged = list(extra)
        for det in primary:
            if all(iou(det.bbox, other.bbox) < 0.3 for other in extra):
                merged.append(det)
        return merged

"""Frame in, plates out: YOLO finds plates, fast-plate-ocr reads them, PP-OCR backs them up.

Our readers (fast-plate-ocr's CCT, the slot reader, the province reader: all trained here
from scratch on synthetic plates) ask the line reader (PP-OCR's recogniser fine-tuned here
on plates, `line_reader.py`) about every plate they are not sure of, and join its glyphs
with theirs (`with_line`).

YOLO looks at a still frame twice (`PlateDetector.detect_two_scales`): letterboxed, and at
twice that scale for the small plates the first look misses.

A wrong plate string sends analysts after the wrong car, so a read is only returned as
text when it is a valid plate *and* the read as a whole is confident (MIN_PLATE_CONFIDENCE,
calibrated on held-out synthetic plates, see docs/ACCURACY.md); otherwise the plate is
still reported (box, colour) with `text=None`.

PP-OCR (rapidocr, bundled ONNX models) is the second, independent detector and reader:
a read that is valid but not sure enough alone is kept when PP-OCR reads the same string
on the same crop; where the YOLO pass reads nothing, PP-OCR's text detector proposes
plate-shaped lines, our reader reads them, and again only agreed strings are kept.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from fast_plate_ocr.core.process import preprocess_image, resize_image

from streams.records import BBox, Detection, SightingKind
from video.model_files import MODELS_DIR, verified_path
from video.plates.color import plate_color
from video.plates.detector import PlateDetector
from video.plates.grammar import ALPHABET, LETTERS, PROVINCES, SPECIALS, normalize_plate
from video.plates.line_reader import LineRead, LineReader
from video.plates.province import CLASSES as PROVINCE_CLASSES
from video.plates.province import ProvinceReader
from video.plates.sessions import session_options
from video.plates.slot_reader import SlotReader

log = logging.getLogger(__name__)

MIN_PLATE_CONFIDENCE = 0.80
"""Lowest product of the read's per-character probabilities (averaged over the VIEWS) for
our read alone to be returned as text; every slot, pads included, must reach it too (no
8th glyph half seen). Since session 7 a glyph's probability is the geometric mean of the
two readers' (SLOT_TEMPER), not renormalised, so a read is sure only when both readers are.
Chosen on held-out synthetic scenes of another seed range than the one reported
(`evaluate_synthetic.py --seed0 41000000` and `--seed0 41000200`, 400 scenes): the most
confident wrong read scored 0.697 there (docs/ACCURACY.md)."""
PROVINCE_TEMPER = 0.5
"""Slot 0 is (reader x province reader) ** PROVINCE_TEMPER, renormalised: 0.5, the geometric
mean. The plain product (1.0) was surer of its wrong provinces (two models trained on the
same crops err together): on the threshold range it had a wrong read at 0.986 by its least
sure character, and 1 wrong of 339 kept at the bar (docs/ACCURACY.md)."""
SLOT_TEMPER = 0.5
"""Every slot is (reader x slot reader) ** SLOT_TEMPER: 0.5, the geometric mean of the two
readers' distributions, left unnormalised. Renormalised, the pair was sure (0.997) of
plates half hidden by an object, where both readers, trained on the same crops, stretch
the glyphs they see over the slots; unnormalised, a glyph is only as sure as both readers
are, and the most confident wrong read fell to 0.697 (docs/ACCURACY.md)."""
LINE_TEMPER = 0.5
"""Our slots and the line reader's glyphs are joined as (ours x its) ** LINE_TEMPER,
renormalised within the mass our readers give the slot (`with_line`): a glyph is no surer
than our readers together make it, but the line reader decides between the glyphs they
hesitate over. On the threshold range (seeds 41M, 768 detected plates,
`sweep_line_temper.py`): exact reads 615 -> 631, reads kept at MIN_PLATE_CONFIDENCE 373 ->
393, none wrong; at 1.0, 401 kept with 1 wrong; renormalised to 1 instead (the line
reader's word alone makes a glyph sure), 568 kept with 2 wrong at 0.5 and 610 with 20 at 1.0."""
LINE_AGREED_CHAR_CONFIDENCE = 0.30
"""Our three readers' least sure glyph when the line reader reads their very string (the
join aside): agreement of two readers that learnt apart, as with PP-OCR (AGREED_CHAR_CONFIDENCE)."""
LINE_AGREED_READ_CONFIDENCE = 0.50
"""The line reader's own read (the product of its glyphs) must be at least this sure."""
LINE_AGREED_MIN_WIDTH = 75
"""Plates narrower than this (px) are not read on that agreement: on synthetic plates under
~70 px the province glyph is a blur of a dozen pixels, and both readers, trained on the same
renderer, can guess the same wrong province. Threshold range at the two bars above: 181
agreements, 1 wrong (新R95899K read 鄂 by both, 67 px); 143 at 70 px and wider, 124 at 75,
none wrong (with our least glyph at 0.2 instead: 3 wrong, all under 70 px)."""
LINE_SURE_CHAR_CONFIDENCE = 0.98
LINE_SURE_SUPPORT = 0.01
LINE_SURE_MIN_WIDTH = 60
"""Rule (e), `line_sure`: the line reader's own read stands when it is a valid plate of as
many glyphs as our three readers read, every glyph of it at least LINE_SURE_CHAR_CONFIDENCE,
none of them all but ruled out by our readers at its slot (each >= LINE_SURE_SUPPORT), on a
plate at least LINE_SURE_MIN_WIDTH px wide. On real crops the line reader (trained from
PP-OCR's real-text features) is right and sure where ours are unsure; on the threshold
range of synthetic scenes (sweep_line_temper.py) the rule kept 33 more plates than the
other rules, 0 wrong, where 0.95 or 0.90 had a wrong province at 67 px."""
MIN_CHAR_CONFIDENCE = 0.80
"""Lowest probability of a glyph only our readers vouch for (one PP-OCR left out or
disputes). 0.95 until session 7, when glyph probabilities became the two readers'
geometric mean: on the threshold range (`evaluate_synthetic.py --system
--min-char-confidence X`) 0.80 reads 8 more plates than 0.95 with the same wrong reads."""
AGREED_CHAR_CONFIDENCE = 0.30
"""Lowest per-character probability when PP-OCR independently reads the same plate. A glyph
PP-OCR left out (the province, a red suffix) is confirmed by nobody, so it must reach
MIN_CHAR_CONFIDENCE on its own."""
OBJECTING_CHAR_CONFIDENCE = 0.50
"""Our read of another length than PP-OCR's, if every character is at least this sure (on
synthetic scenes such reads are right ~4 times in 5, below it ~1 time in 6), vetoes
PP-OCR's string; of the same length, it vetoes only where it differs with a sure glyph."""
MAX_HIDDEN = 0.5
"""A plate the slot reader says is partly hidden by an object with at least this probability
(averaged over the views read) gets no string at all, not even PP-OCR's: the glyphs left in
sight often spell another valid plate (an 8-glyph plate without its last glyph is a 7-glyph
one). Every wrong read of the whole path on the threshold range was such a plate."""
PAD_X, PAD_Y = 0.04, 0.10
"""Margins added around a detector box before reading: the reader was trained on such crops."""
VIEWS: tuple[tuple[float, float, float], ...] = (
    (PAD_X, PAD_Y, 0.0), (0.02, 0.05, 0.0), (0.07, 0.16, 0.0), (PAD_X, PAD_Y, 0.02), (PAD_X, PAD_Y, -0.02))
"""The crops the reader looks at for one plate box: (margin x, margin y, shift x), as
fractions of the box; the first is the standard padded crop. Their per-character
distributions are averaged: a detector box a few pixels off, or a glyph the reader half
sees at one framing, matters less. Held-out synthetic scenes, same models: 97 -> 113 of
184 detected plates read exactly, and wrong reads less confident (docs/ACCURACY.md)."""
SINGLE_VIEW_SURE = 0.95
"""A plate whose first view alone is read with every character at least this sure is not
looked at through the other views (4 more reads, ~7 ms): on the threshold range of
held-out synthetic scenes (seeds 41M) the session-4 reader's most confident wrong read of
a single crop scored 0.914, and its 107 single reads at >= 0.95 were all right. Keeps
video's cost per sure plate where it was (BENCHMARKS.md, Video)."""
DETECTOR_MIN_SCORE = 0.30
PP_ALONE_SCORE = 0.95
"""PP-OCR's own sequence score above which its valid plate string stands without ours."""

LINE_INSET = (0.043, 0.033, 0.091, 0.050)
"""How far inside PP-OCR's box of a whole plate line (province first) the plate's own box
lies: left, right (of the line's width), top, bottom (of its height). PP-OCR's detector
grows its text boxes past the glyphs; our readers were trained on plate boxes, and read
a box ~10% too tall less surely. The medians over 46 such lines of held-out synthetic
scenes (seeds 45000000-45000059), measured against the plates' true boxes
(models/plates/measure_line_inset.py)."""
NO_PROVINCE_LINE_INSET = (0.065, 0.062, 0.147, 0.110)
"""The same for a line PP-OCR read without its province glyph (53 lines, same scenes): its
box most often spans that glyph anyway, so the box without it is one framing to try."""
DOUBLE_ROW_INSET = (0.016, 0.025, -0.012, 0.036)
"""The same for the box joining a double-row plate's two rows, each found as its own line
(`top_row_of`): the medians of 15 such pairs in 200 scenes (seeds 45000000-45000199); the
plate reaches a little above its top row's box."""

PPRead = tuple[str, float]
"""PP-OCR's text (separators removed) and its score."""


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


def pad_box(box: BBox, shape: tuple[int, ...], px: float = PAD_X, py: float = PAD_Y,
            shift: float = 0.0) -> BBox:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    dx = shift * w
    return (max(0, int(round(x1 + dx - px * w))), max(0, int(round(y1 - py * h))),
            min(shape[1], int(round(x2 + dx + px * w))), min(shape[0], int(round(y2 + py * h))))


def plate_views(image: np.ndarray, box: BBox) -> list[np.ndarray]:
    """The VIEWS crops of one plate box (never empty: a tiny stand-in if the box is)."""
    views = []
    for px, py, shift in VIEWS:
        x1, y1, x2, y2 = pad_box(box, image.shape, px, py, shift)
        crop = image[y1:y2, x1:x2]
        views.append(crop if crop.size else np.zeros((8, 24, 3), np.uint8))
    return views


def crop_views(crop: np.ndarray) -> list[np.ndarray]:
    """The VIEWS of an image that is one plate already: taken as a crop with the standard
    margins (PAD_X, PAD_Y) around the plate, like the reader's training crops, the views
    around that plate box are cut from the image with its edge replicated (reading the image
    itself as the box shrank the plate)."""
    h, w = crop.shape[:2]
    ix, iy = w * PAD_X / (1 + 2 * PAD_X), h * PAD_Y / (1 + 2 * PAD_Y)
    # a border wide enough for every view around that box (its widest margin + shift)
    bx = int(np.ceil(w * max(px + abs(shift) for px, _, shift in VIEWS))) + 1
    by = int(np.ceil(h * max(py for _, py, _ in VIEWS))) + 1
    canvas = cv2.copyMakeBorder(crop, by, by, bx, bx, cv2.BORDER_REPLICATE)
    box = (int(round(bx + ix)), int(round(by + iy)), int(round(bx + w - ix)), int(round(by + h - iy)))
    return plate_views(canvas, box)


@dataclass(frozen=True, slots=True)
class RawRead:
    """Our readers' word on one plate: the raw text (pads removed), every slot's probability
    (pads included), and the probability that an object hides one of its glyphs."""

    raw: str
    probs: list[float]
    hidden: float = 0.0
    line: LineRead | None = None
    """The line reader's read of the plate's first view, when it was asked."""
    own: tuple[str, list[float]] | None = None
    """Our three readers' read (text, per-slot probabilities) before the line reader
    joined, when it was asked; None otherwise (then `raw`, `probs` are theirs)."""
    line_support: float = 0.0
    """The least probability our three readers give, slot by slot, to the line reader's
    glyphs (0 when it read another number of glyphs, or was not asked)."""


class PlateReader:
    """fast-plate-ocr model trained here, loaded from local files (never the hub), with the
    slot reader's second opinion on every glyph and the province reader's on the first one,
    and the line reader's on plates the three leave unsure, when they are given."""

    def __init__(self, onnx_path: Path, config_path: Path, threads: int = 1,
                 province: ProvinceReader | None = None, slots: SlotReader | None = None,
                 line: LineReader | None = None) -> None:
        from fast_plate_ocr import LicensePlateRecognizer

        self.model = LicensePlateRecognizer(onnx_model_path=str(onnx_path),
                                            plate_config_path=str(config_path),
                                            providers=["CPUExecutionProvider"],
                                            sess_options=session_options(threads))
        self.province = province
        self.province_temper = PROVINCE_TEMPER
        self.slots = slots
        self.slot_temper = SLOT_TEMPER
        self.line = line
        self.line_temper = LINE_TEMPER
        self.line_below = MIN_PLATE_CONFIDENCE
        """The line reader is asked about plates our readers read less surely than this."""
        self.renormalise_slots = False  # True only to measure the rejected variant (ACCURACY.md)
        alphabet = self.model.config.alphabet
        self._province_slots = np.array([alphabet.index(c) for c in PROVINCE_CLASSES])

    @classmethod
    def load(cls, models_dir: Path | None = None, threads: int = 1) -> PlateReader:
        """The committed reader, slot reader, province reader and line reader, sha256-checked
        (ModelFileError if not)."""
        root = Path(models_dir) if models_dir else MODELS_DIR
        return cls(verified_path("plate_reader", root), verified_path("plate_reader_config", root),
                   threads=threads, province=ProvinceReader(verified_path("plate_province", root), threads),
                   slots=SlotReader(verified_path("plate_slots", root), threads),
                   line=LineReader(verified_path("plate_line", root), threads))

    def read(self, crops: Sequence[np.ndarray]) -> list[RawRead]:
        """Each crop read as the only view of its plate."""
        return self.read_views([[crop] for crop in crops])

    def _read_crops(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The readers' combined softmax per crop and slot (crops, slots, alphabet), and per
        crop the slot reader's probability of a hidden glyph."""
        cfg = self.model.config
        batch = np.stack([
            resize_image(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY), cfg.img_height, cfg.img_width,
                         image_color_mode=cfg.image_color_mode, keep_aspect_ratio=cfg.keep_aspect_ratio,
                         interpolation_method=cfg.interpolation, padding_color=cfg.padding_color)
            for c in crops])
        out = self.model.model.run([self.model.plate_output_name], {"input": preprocess_image(batch)})[0]
        dists = np.asarray(out, np.float32).reshape(len(crops), cfg.max_plate_slots, len(cfg.alphabet))
        hidden = np.zeros(len(crops), np.float32)
        if self.slots is not None:  # not renormalised: a glyph is as sure as both readers together
            slot_dists, hidden = self.slots.read(crops)
            dists = (dists * slot_dists) ** self.slot_temper
            if self.renormalise_slots:
                dists = dists / np.maximum(dists.sum(axis=2, keepdims=True), 1e-12)
        if self.province is not None:
            dists[:, 0] = self._with_province(dists[:, 0], self.province.distributions(crops))
        return dists, hidden

    def _with_province(self, first: np.ndarray, province: np.ndarray) -> np.ndarray:
        """Slot 0 from both models: their distributions over the provinces multiplied and
        tempered (PROVINCE_TEMPER; a wrong province must fool both), renormalised, within the
        mass the reader gives to "this slot is a province" at all (a reader that sees a letter
        there, a shifted read, is not overruled into a sure province)."""
        slots = self._province_slots
        mass = first[:, slots].sum(axis=1, keepdims=True)
        joint = (first[:, slots] * province) ** self.province_temper
        joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12) * mass
        combined = first.copy()
        combined[:, slots] = joint
        return combined

    def read_views(self, groups: Sequence[Sequence[np.ndarray]],
                   sure: float = SINGLE_VIEW_SURE) -> list[RawRead]:
        """`read` for plates seen through several crops each (plate_views): our readers'
        distributions (`distributions`), joined with the line reader's read of each plate's
        first view when there is a line reader (`_with_line`)."""
        if not groups:
            return []
        dists, hidden = self.distributions(groups, sure)
        lines: list[LineRead | None] = [None] * len(groups)
        if self.line is not None:  # only where ours is not sure alone: sure reads keep their cost
            unsure = [i for i, d in enumerate(dists) if not sure_read(*self._decode(d), self.line_below)]
            for i, line in zip(unsure, self.line.read([groups[i][0] for i in unsure]), strict=True):
                lines[i] = line
        out = []
        for dist, h, line in zip(dists, hidden, lines, strict=True):
            own, support = None, 0.0
            if line is not None:
                own = self._decode(dist)
                support = self._support(dist, own[0], line.text)
                dist = self._with_line(dist, line)
            out.append(RawRead(*self._decode(dist), hidden=h, line=line, own=own, line_support=support))
        return out

    def distributions(self, groups: Sequence[Sequence[np.ndarray]],
                      sure: float = SINGLE_VIEW_SURE) -> tuple[list[np.ndarray], list[float]]:
        """Our three readers' per-slot distributions of each plate, and its hidden-glyph
        probability: each plate's first view is read; a plate not read with every slot >=
        `sure` from it is read through all its views, their distributions (and hidden-glyph
        probabilities) averaged."""
        if not groups:
            return [], []
        firsts, first_hidden = self._read_crops([group[0] for group in groups])
        dists, hidden = list(firsts), [float(h) for h in first_hidden]
        again = [i for i, d in enumerate(firsts) if d.max(axis=1).min() < sure and len(groups[i]) > 1]
        if again:
            rest, rest_hidden = self._read_crops([crop for i in again for crop in groups[i][1:]])
            start = 0
            for i in again:
                n = len(groups[i]) - 1
                dists[i] = (firsts[i] + rest[start : start + n].sum(axis=0)) / (n + 1)
                hidden[i] = float(first_hidden[i] + rest_hidden[start : start + n].sum()) / (n + 1)
                start += n
        return dists, hidden

    def _with_line(self, dist: np.ndarray, line: LineRead) -> np.ndarray:
        cfg = self.model.config
        return with_line(dist, line, cfg.alphabet, cfg.pad_char, self.line_temper)

    def _support(self, dist: np.ndarray, own: str, line: str) -> float:
        """The least of our slots' probabilities for the line reader's glyphs, slot by slot."""
        if not line or len(line) != len(own):
            return 0.0
        alphabet = self.model.config.alphabet
        return float(min(dist[i, alphabet.index(c)] for i, c in enumerate(line)))

    def _decode(self, dist: np.ndarray) -> tuple[str, list[float]]:
        cfg = self.model.config
        text = "".join(cfg.alphabet[i] for i in dist.argmax(axis=1)).rstrip(cfg.pad_char)
        return text, [float(p) for p in dist.max(axis=1)]


def sure_read(raw: str, probs: Sequence[float], bar: float) -> bool:
    """A read needs nobody's agreement at `bar`: its glyphs together (the product of their
    probabilities) and every slot, pads too, are at least `bar`."""
    return bool(probs) and min(probs) >= bar and float(np.prod(probs[: len(raw)])) >= bar


def with_line(dist: np.ndarray, line: LineRead, alphabet: str, pad_char: str,
              temper: float = LINE_TEMPER, capped: bool = True) -> np.ndarray:
    """Our slots (`dist`, slots x `alphabet`) with the line reader's glyphs, when it reads as
    many glyphs as we do: slot by slot, (ours x its) ** temper, renormalised within the mass
    ours gives to "a glyph is here" (as the province reader joins slot 0). A read of another
    length leaves ours alone: its glyphs do not line up with our slots. `capped=False`
    renormalises to 1 instead: measured by sweep_line_temper.py, not used."""
    ours = "".join(alphabet[i] for i in dist.argmax(axis=1)).rstrip(pad_char)
    n = len(line.text)
    if n == 0 or n != len(ours):
        return dist
    glyphs = np.array([alphabet.index(c) for c in ALPHABET])
    combined = dist.copy()
    mass = dist[:n][:, glyphs].sum(axis=1, keepdims=True)
    joint = (dist[:n][:, glyphs] * line.dists) ** temper
    combined[:n][:, glyphs] = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12) * (mass if capped else 1.0)
    return combined


class PlateRecognizer:
    """The plate path of the video pipeline; see the module docstring."""

    def __init__(self, detector: PlateDetector, reader: PlateReader, *, use_ppocr: bool = True,
                 min_char_confidence: float = MIN_CHAR_CONFIDENCE,
                 min_plate_confidence: float = MIN_PLATE_CONFIDENCE,
                 agreed_char_confidence: float = AGREED_CHAR_CONFIDENCE,
                 ppocr_threads: int | None = None) -> None:
        self.detector = detector
        self.reader = reader
        self.use_ppocr = use_ppocr
        self.min_char_confidence = min_char_confidence
        self.min_plate_confidence = min_plate_confidence
        self.agreed_char_confidence = agreed_char_confidence
        self.max_hidden = MAX_HIDDEN
        """Above it a plate is read as partly hidden (1.01: never; to measure the rule)."""
        self.ppocr_threads = ppocr_threads
        """onnxruntime threads of PP-OCR's sessions (None: its default, one per core). One
        for video: a second thread only spins against the first on a busy or pinned core
        (measured: 75 -> 37 ms of CPU per read on one core), cameras are the parallelism."""
        self._ppocr_det = None
        self._ppocr_rec = None

    @classmethod
    def load(cls, models_dir: Path | None = None, *, use_ppocr: bool = True,
             threads: int = 1) -> PlateRecognizer:
        """Load the committed models after checking their sha256 (ModelFileError if not)."""
        root = Path(models_dir) if models_dir else MODELS_DIR
        detector = PlateDetector(verified_path("plate_detector", root), threads=threads)
        reader = PlateReader.load(root, threads=threads)
        return cls(detector, reader, use_ppocr=use_ppocr, ppocr_threads=threads)

    # ------------------------------------------------------------ public API

    def read_crop(self, image: np.ndarray) -> Detection | None:
        """Read an image that is one plate already (cut by hand or by another system).

        Always returns a Detection covering the whole image; `text` is None when the read
        is not a confident, valid plate.
        """
        image = check_image(image)
        h, w = image.shape[:2]
        read = self.reader.read_views([crop_views(image)])[0]
        unsure = not self.settled(read, (0, 0, w, h))
        pp = self._ppocr_read(image) if self.use_ppocr and unsure else None
        return self._decide(image, (0, 0, w, h), 1.0, read, pp)

    def read_frame(self, image: np.ndarray) -> list[Detection]:
        """Every plate in a frame: box, score, normalised text (or None), colour."""
        image = check_image(image)
        found = self.detector.detect_two_scales(image, min_score=DETECTOR_MIN_SCORE)
        detections = self._read_boxes(image, found, second_opinion=self.use_ppocr)
        if self.use_ppocr and not any(d.text for d in detections):
            detections = self._merge(detections, self._ppocr_pass(image))
        return detections

    def read_regions(self, image: np.ndarray, regions: list[BBox]) -> list[Detection]:
        """Detect only inside `regions` (e.g. motion boxes); boxes come back in frame pixels."""
        image = check_image(image)
        out: list[Detection] = []
        for rx1, ry1, rx2, ry2 in regions:
            ox, oy = max(0, rx1), max(0, ry1)
            sub = image[oy:ry2, ox:rx2]
            if sub.size == 0:
                continue
            for det in self.read_frame(sub):
                x1, y1, x2, y2 = det.bbox
                det.bbox = (x1 + ox, y1 + oy, x2 + ox, y2 + oy)
                out.append(det)
        return out

    # ------------------------------------------------------------ deciding on a read

    def sure_alone(self, raw: str, probs: Sequence[float]) -> bool:
        """Our read needs nobody's agreement: the read's characters together (the product of
        their probabilities) and every slot, pads too, are at least min_plate_confidence."""
        return sure_read(raw, probs, self.min_plate_confidence)

    def line_agreed(self, read: RawRead, box: BBox) -> bool:
        """The line reader read our three readers' very string, a valid plate, both fairly
        sure (LINE_AGREED_*), on a plate wide enough for its province glyph to be read."""
        return read.own is not None and read.line is not None and read.own[0] == read.line.text \
            and normalize_plate(read.own[0]) is not None \
            and min(read.own[1][: len(read.own[0])]) >= LINE_AGREED_CHAR_CONFIDENCE \
            and float(np.prod(read.line.probs)) >= LINE_AGREED_READ_CONFIDENCE \
            and box[2] - box[0] >= LINE_AGREED_MIN_WIDTH

    def line_sure(self, read: RawRead, box: BBox) -> bool:
        """The line reader's own read is very sure, a valid plate, and not ruled out by our
        three readers, on a plate wide enough (LINE_SURE_*)."""
        return read.line is not None and read.own is not None and normalize_plate(read.line.text) is not None \
            and len(read.line.text) == len(read.own[0]) \
            and min(read.line.probs) >= LINE_SURE_CHAR_CONFIDENCE \
            and read.line_support >= LINE_SURE_SUPPORT and box[2] - box[0] >= LINE_SURE_MIN_WIDTH

    def settled(self, read: RawRead, box: BBox) -> bool:
        """Our read needs no PP-OCR: sure alone, agreed by the line reader, or the line
        reader's very sure read."""
        return self.sure_alone(read.raw, read.probs) or self.line_agreed(read, box) or self.line_sure(read, box)

    def _decide(self, image: np.ndarray, box: BBox, score: float, read: RawRead,
                pp: PPRead | None) -> Detection:
        """Nothing for a plate an object partly hides; else our read (joined with the line
        reader's) if very sure, or if the line reader read our three readers' very string;
        the line reader's own read if very sure and not ruled out by ours (`line_sure`);
        our three readers' own read confirmed by PP-OCR if fairly sure; PP-OCR's read alone
        if it is a valid plate, PP-OCR is very sure and our three readers do not object.

        PP-OCR judges our three readers' read as it was before the line reader joined: the
        line reader is PP-OCR's recogniser fine-tuned, and the two err alike (a 73 px 津FA18900
        that both read 津FA10900 on the threshold range), so PP-OCR agreeing with a glyph the
        line reader chose is no second opinion."""
        raw, probs = read.raw, read.probs
        own_raw, own_probs = read.own if read.own is not None else (raw, probs)
        text = normalize_plate(raw)
        own_text = normalize_plate(own_raw)
        chars = probs[: len(text)] if text else probs[: len(raw)]
        least = min(own_probs) if own_probs else 0.0
        pp_text, pp_score = pp if pp else (None, 0.0)
        pp_plate = normalize_plate(pp_text) if pp_text else None
        accepted = None
        left_out = _left_out(own_text or "", pp_text)  # a glyph only ours read must be sure alone
        confirmed = least >= self.agreed_char_confidence and left_out is not None and (
            left_out < 0 or (left_out < len(own_probs) and own_probs[left_out] >= self.min_char_confidence))
        if read.hidden >= self.max_hidden:
            pass  # the glyphs in sight may spell another plate: no string, whoever reads it
        elif text is not None and (self.sure_alone(raw, probs) or self.line_agreed(read, box)):
            accepted = text
        elif read.line is not None and self.line_sure(read, box):
            accepted = normalize_plate(read.line.text)
            chars = list(read.line.probs)
        elif own_text is not None and confirmed:
            accepted = own_text
            chars = own_probs[: len(own_text)]
        elif pp_plate is not None and pp_score >= PP_ALONE_SCORE and not _objects(
                own_text, own_probs, pp_plate, self.min_char_confidence):
            accepted = pp_plate
            chars = [pp_score] * len(pp_plate)
        x1, y1, x2, y2 = box
        return Detection(kind=SightingKind.PLATE, bbox=box, score=score, text=accepted,
                         char_confidences=chars, color=plate_color(image[y1:y2, x1:x2], accepted))

    def _read_boxes(self, image: np.ndarray, found: list[tuple[BBox, float]],
                    second_opinion: bool) -> list[Detection]:
        groups, kept = [], []
        for box, score in found:
            x1, y1, x2, y2 = pad_box(box, image.shape)
            if image[y1:y2, x1:x2].size:
                groups.append(plate_views(image, box))
                kept.append((box, score))
        out = []
        for group, (box, score), read in zip(groups, kept, self.reader.read_views(groups), strict=True):
            unsure = not self.settled(read, box)
            pp = None
            if second_opinion and unsure and read.hidden < self.max_hidden:
                pp = self._ppocr_read(group[0])
            out.append(self._decide(image, box, score, read, pp))
        return out

    # ------------------------------------------------------------ PP-OCR second opinion

    def _ppocr(self, rec_only: bool):
        """Two separate rapidocr instances: one called with use_det=False keeps skipping
        detection on later calls (known bug), so the rec-only one is never used for det."""
        from rapidocr import RapidOCR

        quiet: dict[str, object] = {"Global.log_level": "error"}
        if self.ppocr_threads:
            quiet["EngineConfig.onnxruntime.intra_op_num_threads"] = self.ppocr_threads
            quiet["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        if rec_only:
            if self._ppocr_rec is None:
                self._ppocr_rec = RapidOCR(params=quiet)
            return self._ppocr_rec
        if self._ppocr_det is None:
            self._ppocr_det = RapidOCR(params=quiet)
        return self._ppocr_det

    def _ppocr_read(self, crop: np.ndarray) -> PPRead | None:
        """PP-OCR's reading of one plate crop and its score, or None.

        PP-OCR's detector runs on the crop first, so that the frame, rivets and margins
        are left out and a double-row plate comes back as two lines, joined top to bottom
        (京·E over A5331 -> 京EA5331), and a single row split in two is joined left to right
        (reading_order); without any line found, the recogniser reads the whole crop.
        """
        result = self._ppocr(rec_only=False)(crop, use_cls=False)
        if result.boxes is not None and result.txts:
            lines = reading_order(list(zip(result.boxes, result.txts, result.scores, strict=True)))
            text = "".join(_clean(t) for _, t, _ in lines)
            score = min(float(sc) for _, _, sc in lines)
            if text:
                return text, score
        result = self._ppocr(rec_only=True)(crop, use_det=False, use_cls=False)
        reads = [(t, float(sc)) for t, sc in zip(result.txts or (), result.scores or (), strict=False) if t]
        return (_clean(reads[0][0]), reads[0][1]) if reads else None

    def _ppocr_pass(self, image: np.ndarray) -> list[Detection]:
        """PP-OCR finds text lines; plate-shaped ones become plate candidates.

        A line's box is moved in to where the plate's own box lies (LINE_INSET). A line that
        does not start with a province is read again by PP-OCR where the rest of the plate
        would be (left for the province glyph, up for the top row of a double-row plate),
        and framed by our readers three ways, the surest kept; `_decide` keeps a string
        only as described there.
        """
        result = self._ppocr(rec_only=False)(image, use_cls=False)
        out: list[Detection] = []
        h_img, w_img = image.shape[:2]
        lines = ppocr_lines(result)
        for (x1, y1, x2, y2), clean, pp_score in lines:
            w, h = x2 - x1, y2 - y1
            if not plate_shaped_line(w, h, clean):
                continue
            pp: PPRead = (clean, pp_score)
            top = top_row_of((x1, y1, x2, y2), clean, lines)
            if top is not None:  # a double-row plate PP-OCR read as two lines: both rows are it
                (tx1, ty1, tx2, _), top_clean, top_score = top
                joined = (min(x1, tx1), ty1, max(x2, tx2), y2)
                box = _inset(joined, DOUBLE_ROW_INSET, image.shape)
                read = self.reader.read_views([plate_views(image, box)])[0]
                out.append(self._decide(image, box, 0.5, read, (top_clean + clean, min(pp_score, top_score))))
                continue

            def clip(bx1: float, by1: float, bx2: float, by2: float, w=w, h=h) -> BBox:
                return (int(max(0, bx1 - 0.03 * w)), int(max(0, by1 - 0.05 * h)),
                        int(min(w_img, bx2 + 0.03 * w)), int(min(h_img, by2 + 0.05 * h)))

            framings = [_inset((x1, y1, x2, y2), LINE_INSET, image.shape)]
            if clean[0] in LETTERS or clean[0].isdigit():  # no province in PP-OCR's line
                char_w = w / max(len(clean), 1)
                # PP-OCR reads again where the province would be: left of the line, or the top
                # row of a double-row plate above a 5-glyph line
                candidates = [clip(x1 - char_w * 1.3, y1, x2, y2)]
                if len(clean) == 5:
                    candidates.insert(0, clip(x1, y1 - h * 0.9, x2, y2))
                for cand in candidates:
                    again = self._ppocr_read(image[cand[1] : cand[3], cand[0] : cand[2]])
                    if again and normalize_plate(again[0]):
                        pp = again
                        break
                # our readers frame the plate three ways: the line's box most often spans the
                # province it did not read; else the province is left of it or a row above it
                plain = _inset((x1, y1, x2, y2), NO_PROVINCE_LINE_INSET, image.shape)
                framings = [plain, (max(0, int(plain[0] - char_w * 1.3)), *plain[1:]), *candidates[:-1]]
            framings = [b for b in framings if b[2] - b[0] > 2 and b[3] - b[1] > 2]
            if framings:
                box, read = self._surest_framing(image, framings)
                out.append(self._decide(image, box, 0.5, read, pp))
        return out

    def _surest_framing(self, image: np.ndarray, boxes: list[BBox]) -> tuple[BBox, RawRead]:
        """The box our readers read most surely (the product of a read's probabilities), and
        that read: of a few framings of one plate, the one that frames it as they learnt."""
        reads = self.reader.read_views([plate_views(image, box) for box in boxes])
        best = int(np.argmax([_sureness(r) for r in reads]))
        return boxes[best], reads[best]

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


def _sureness(read: RawRead) -> float:
    """The product of a read's glyph probabilities (0 for no glyphs)."""
    return float(np.prod(read.probs[: len(read.raw)])) if read.raw else 0.0


def _inset(line: tuple[float, float, float, float], inset: tuple[float, float, float, float],
           shape: tuple[int, ...]) -> BBox:
    """A text line's box moved in by (left, right, top, bottom) fractions of its size."""
    x1, y1, x2, y2 = line
    w, h = x2 - x1, y2 - y1
    left, right, top, bottom = inset
    return (int(max(0, round(x1 + left * w))), int(max(0, round(y1 + top * h))),
            int(min(shape[1], round(x2 - right * w))), int(min(shape[0], round(y2 - bottom * h))))


def reading_order(lines: list[tuple]) -> list[tuple]:
    """PP-OCR lines (quad, text, score) as a plate is read: rows top to bottom, each row left
    to right. Two lines are one row when they stand side by side (their x spans overlap by
    less than a third of the narrower) at a shared height (the centre of one within the
    other's y span): a tilted single-row plate split in two (粤Z | R066港) has its right part
    higher or lower than its left, and sorting by height alone read it R066港粤Z; the rows of
    a double-row plate overlap in x, so they stay top over bottom however the plate leans."""
    def box(line: tuple) -> tuple[float, float, float, float]:
        pts = np.asarray(line[0], np.float32)
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())

    def same_row(a: tuple, b: tuple) -> bool:
        (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = box(a), box(b)
        x_overlap = min(ax2, bx2) - max(ax1, bx1)
        side_by_side = x_overlap < min(ax2 - ax1, bx2 - bx1) / 3
        return side_by_side and (ay1 <= (by1 + by2) / 2 <= ay2 or by1 <= (ay1 + ay2) / 2 <= by2)

    rows: list[list[tuple]] = []
    for line in sorted(lines, key=lambda item: box(item)[1] + box(item)[3]):
        if rows and all(same_row(line, other) for other in rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: box(item)[0])]


PPLine = tuple[tuple[float, float, float, float], str, float]
"""A PP-OCR text line: its axis-aligned box (x1, y1, x2, y2), its text `_clean`ed, its score."""


def ppocr_lines(result: object) -> list[PPLine]:
    """rapidocr's result (quads, texts, scores) as PPLines; none when it found no text."""
    if result.boxes is None or result.txts is None:  # type: ignore[attr-defined]
        return []
    return [(tuple(float(v) for v in (*np.asarray(quad).min(axis=0), *np.asarray(quad).max(axis=0))),
             _clean(txt), float(score))
            for quad, txt, score in zip(result.boxes, result.txts, result.scores, strict=True)]  # type: ignore[attr-defined]


def top_row_of(bottom: tuple[float, float, float, float], clean: str, lines: list[PPLine]) -> PPLine | None:
    """The PP-OCR line that is the top row (province, letter) of the double-row plate whose
    bottom row is `bottom` (5 glyphs, no province), if PP-OCR found one: centred over it,
    narrower, and ending where the bottom row begins (rows of a plate nearly touch)."""
    if len(clean) != 5 or clean[0] in PROVINCES:
        return None
    x1, y1, x2, y2 = bottom
    h = y2 - y1
    for box, text, score in lines:
        tx1, ty1, tx2, ty2 = box
        centre = (tx1 + tx2) / 2
        if len(text) == 2 and text[0] in PROVINCES and text[1] in LETTERS \
                and x1 <= centre <= x2 and tx2 - tx1 <= x2 - x1 \
                and ty1 < y1 and y1 - 0.5 * h <= ty2 <= y1 + 0.6 * h and ty1 >= y1 - 1.2 * h:
            return box, text, score
    return None


def plate_shaped_line(w: float, h: float, clean: str) -> bool:
    """A PP-OCR text line that could be a plate (or its bottom row): plate-like proportions,
    5-9 characters once separators are gone, at least one digit."""
    return h > 0 and 1.3 <= w / h <= 7.0 and 5 <= len(clean) <= 9 and any(c.isdigit() for c in clean)


def _clean(text: str) -> str:
    """PP-OCR text without separators, upper case, I/O folded like the grammar does."""
    compact = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum()).upper()
    return compact[:1] + compact[1:].replace("O", "0").replace("I", "1")


def _objects(ours: str | None, probs: list[float], pp_plate: str, sure: float) -> bool:
    """Does our read speak against PP-OCR's plate? Only with characters it is sure of: where
    the two strings line up (same length), a differing glyph ours read at < `sure` is our
    doubt, not an objection; a string of another length objects when it is fairly sure."""
    if ours is None or ours == pp_plate:
        return False
    if len(ours) != len(pp_plate) or len(probs) < len(ours):
        return min(probs, default=0.0) >= OBJECTING_CHAR_CONFIDENCE
    return any(a != b and p >= sure for a, b, p in zip(ours, pp_plate, probs, strict=False))


def _left_out(ours: str, pp_text: str | None) -> int | None:
    """Does PP-OCR say the same plate? -1: exactly ours; i: ours but for glyph i, which
    PP-OCR often drops (the province first, or a red suffix such as 警 or 领 last), so
    only ours stands for it; None: not the same plate."""
    if not pp_text or not ours:
        return None
    if pp_text == ours:
        return -1
    if len(pp_text) != len(ours) - 1:
        return None
    if ours.endswith(pp_text):
        return 0
    if ours[-1] in SPECIALS and ours.startswith(pp_text):
        return len(ours) - 1
    return None


def _agrees(ours: str, pp_text: str | None) -> bool:
    """PP-OCR says the same plate (maybe without the province or a red suffix glyph)."""
    return _left_out(ours, pp_text) is not None

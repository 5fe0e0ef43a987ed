"""One more reading of the plate, as one line of text: PP-OCRv6's recogniser (trained by
PaddleOCR on real text, shipped in the rapidocr wheel), its last backbone stage, neck and
head fine-tuned here on synthetic plates (models/plates/train_line_reader.py).

Why: our other readers were trained from scratch on synthetic pixels only, and on real
photos they are often right but unsure (the province glyph most of all); a recogniser
that has seen real Chinese text brings glyph shapes the generator cannot draw.

The model reads a line with CTC (20 steps per 160 px); a double-row plate is cut into its
two rows, laid side by side (`line_image`), so that it too is one line. The output is the
best path's text over the plate alphabet with each glyph's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from video.plates.grammar import ALPHABET
from video.plates.sessions import session_options

LINE_HEIGHT = 48
# a crop this much wider than tall or less is a double-row plate, this much or more a single
# row; in between it is read both ways and the surer read kept. Runtime crops (PAD_X, PAD_Y)
# of held-out synthetic scenes: double rows 1.38-1.73, single rows 1.78-2.97 (tilted ones
# low; models/plates/measure_row_aspect.py --scenes 150); a frontal 440x220 mm double-row
# plate comes out at 1.8
DOUBLE_ROW_ASPECT = 1.6
SINGLE_ROW_ASPECT = 2.0
TRAINED_DOUBLE_ROW_ASPECT = 1.75  # the training crops were laid out by this one cut
TOP_ROW = 0.42  # a double-row plate's top row (province + letter) within the crop's height
BOTTOM_ROW = 0.36  # where its bottom row starts
TOP_ROW_SPAN = (0.15, 0.85)  # the top row's two glyphs sit between the rivets, mid-plate
WIDTH_STEP = 32  # lines are padded to a multiple of this (the batches of training)
MAX_WIDTH = 480


def row_layouts(crop: np.ndarray) -> tuple[bool, ...]:
    """How the crop may be laid out: (True,) a double-row plate, (False,) a single row, or
    both when its shape does not tell."""
    aspect = crop.shape[1] / max(crop.shape[0], 1)
    if aspect < DOUBLE_ROW_ASPECT:
        return (True,)
    return (False,) if aspect >= SINGLE_ROW_ASPECT else (False, True)


def line_image(crop: np.ndarray, double: bool | None = None) -> np.ndarray:
    """The crop as one text line LINE_HEIGHT px high (BGR, uint8), padded on the right to
    a multiple of WIDTH_STEP with mid-grey, as PP-OCR pads. `double`: lay it out as a
    double-row plate (None: when its shape says so, the training crops' rule)."""
    h, w = crop.shape[:2]
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    if double is None:
        double = w / max(h, 1) < TRAINED_DOUBLE_ROW_ASPECT
    if double:
        left, right = round(w * TOP_ROW_SPAN[0]), max(round(w * TOP_ROW_SPAN[1]), round(w * TOP_ROW_SPAN[0]) + 1)
        parts = [crop[: max(1, round(h * TOP_ROW)), left:right], crop[min(h - 1, round(h * BOTTOM_ROW)):]]
    else:
        parts = [crop]
    rows = [cv2.resize(p, (max(8, round(LINE_HEIGHT * p.shape[1] / max(p.shape[0], 1))), LINE_HEIGHT),
                       interpolation=cv2.INTER_LINEAR) for p in parts]
    line = np.concatenate(rows, axis=1)[:, :MAX_WIDTH]
    width = min(MAX_WIDTH, -(-line.shape[1] // WIDTH_STEP) * WIDTH_STEP)
    out = np.full((LINE_HEIGHT, width, 3), 128, np.uint8)
    out[:, : line.shape[1]] = line
    return out


def line_tensor(line: np.ndarray) -> np.ndarray:
    """PP-OCR's input normalisation: CHW float, (x / 255 - 0.5) / 0.5."""
    return ((line.astype(np.float32).transpose(2, 0, 1) / 255.0) - 0.5) / 0.5


@dataclass(frozen=True)
class LineRead:
    """The line reader's word: its text over the plate alphabet and each glyph's probability."""

    text: str
    probs: list[float]
    dists: np.ndarray
    """Each glyph's distribution over ALPHABET (at the step that emitted it), (glyphs, 72)."""


def ctc_best_path(steps: np.ndarray) -> LineRead:
    """Greedy CTC decoding of (steps, 1 + len(ALPHABET)) probabilities (class 0 is the
    blank): repeats collapsed, blanks dropped; a glyph's probability is its best step's."""
    best = steps.argmax(axis=1)
    text: list[str] = []
    at: list[int] = []  # the step each glyph is surest at
    prev = 0
    for t, k in enumerate(best):
        if k != 0 and k != prev:
            text.append(ALPHABET[k - 1])
            at.append(t)
        elif k != 0 and steps[t, k] > steps[at[-1], k]:
            at[-1] = t
        prev = k
    glyphs = steps[at, 1:] if at else np.zeros((0, len(ALPHABET)), np.float32)
    dists = glyphs / np.maximum(glyphs.sum(axis=1, keepdims=True), 1e-12)
    return LineRead("".join(text), [float(steps[t, best[t]]) for t in at], dists)


class LineReader:
    """The fine-tuned PP-OCR line reader on onnxruntime."""

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads),
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def read(self, crops: Sequence[np.ndarray]) -> list[LineRead]:
        """Each crop read as one plate; a crop whose shape does not tell single from double
        row is read both ways, the surer read kept (crops of one line width are batched)."""
        jobs = [(i, line_tensor(line_image(c, double))) for i, c in enumerate(crops) for double in row_layouts(c)]
        reads: list[list[LineRead]] = [[] for _ in crops]
        for width in sorted({x.shape[2] for _, x in jobs}):
            batch = [(i, x) for i, x in jobs if x.shape[2] == width]
            steps = self.session.run(None, {self.input_name: np.stack([x for _, x in batch])})[0]
            for (i, _), s in zip(batch, steps, strict=True):
                reads[i].append(ctc_best_path(s))
        return [max(r, key=lambda read: float(np.prod(read.probs)) if read.text else -1.0) for r in reads]

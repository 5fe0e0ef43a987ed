"""The line reader (PP-OCR's recogniser fine-tuned on plates): how a crop becomes one line,
how its CTC output becomes glyphs, what it reads, and how it joins our readers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from video.plates.grammar import ALPHABET
from video.plates.line_reader import (
    LINE_HEIGHT,
    WIDTH_STEP,
    LineRead,
    ctc_best_path,
    line_image,
    row_layouts,
)
from video.plates.recognizer import PlateRecognizer, RawRead, with_line
from video.plates.render import KINDS, random_plate_text, render_plate


@pytest.fixture(scope="module")
def recognizer() -> PlateRecognizer:
    return PlateRecognizer.load(use_ppocr=False)


def padded(plate: np.ndarray, width: int = 220) -> np.ndarray:
    """A rendered plate at `width` px with margins as the detector's crops have them."""
    plate = cv2.resize(plate, (width, int(width * plate.shape[0] / plate.shape[1])), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(plate, int(plate.shape[0] * 0.1), int(plate.shape[0] * 0.1), 9, 9,
                              cv2.BORDER_CONSTANT, value=(70, 70, 70))


def test_a_single_row_crop_becomes_one_line_of_the_models_height():
    crop = padded(render_plate("京A12345", "blue", np.random.default_rng(1)))
    line = line_image(crop)
    assert line.shape[0] == LINE_HEIGHT and line.shape[1] % WIDTH_STEP == 0
    scaled = round(LINE_HEIGHT * crop.shape[1] / crop.shape[0])
    assert scaled <= line.shape[1] < scaled + WIDTH_STEP  # the plate itself, grey padding after


def test_a_double_row_plate_is_laid_out_as_its_two_rows_side_by_side():
    """The top row (province, letter) first, then the bottom row: one line in reading order.
    A frontal double-row plate's crop (1.8 wide per tall) is as wide as a tilted single row's:
    it is laid out both ways, and a single row's crop only as one."""
    crop = padded(render_plate("京EA5331", "yellow_double", np.random.default_rng(2)))
    assert True in row_layouts(crop)
    assert row_layouts(padded(render_plate("京A12345", "blue", np.random.default_rng(1)))) == (False,)
    line = line_image(crop, double=True)
    assert line.shape[0] == LINE_HEIGHT
    assert line.shape[1] > LINE_HEIGHT * crop.shape[1] / crop.shape[0] * 1.5  # two rows, not one squeezed crop


def test_ctc_best_path_collapses_repeats_and_keeps_doubled_glyphs():
    """"京A11" needs a blank between the two 1s; a glyph held over two steps is one glyph,
    with its surest step's probability."""
    path = ["京", "京", "", "A", "1", "", "1", ""]
    steps = np.full((len(path), 1 + len(ALPHABET)), 0.01, np.float32)
    for t, char in enumerate(path):
        steps[t, 0 if not char else ALPHABET.index(char) + 1] = 0.9 if t != 1 else 0.95
    read = ctc_best_path(steps)
    assert read.text == "京A11"
    assert read.probs[0] == pytest.approx(0.95)
    assert read.dists.shape == (4, len(ALPHABET))
    assert np.allclose(read.dists.sum(axis=1), 1.0)


def test_the_line_reader_reads_plates_it_never_saw(recognizer):
    """Rendered plates of every kind, single and double row, seeds the training never saw."""
    rng = np.random.default_rng(2026)
    crops, truths = [], []
    for i in range(12):
        kind = KINDS[i % len(KINDS)]
        text = random_plate_text(kind, rng)
        crops.append(padded(render_plate(text, kind, rng)))
        truths.append(text)
    reads = [r.text for r in recognizer.reader.line.read(crops)]
    assert sum(r == t for r, t in zip(reads, truths, strict=True)) >= len(truths) - 1, list(zip(reads, truths, strict=True))


def test_the_line_reader_makes_an_agreed_glyph_surer_and_leaves_other_lengths_alone():
    alphabet = ALPHABET + "_"
    ours = np.full((8, len(alphabet)), 0.002, np.float32)
    for slot, char in enumerate("粤B6R678_"):
        ours[slot, alphabet.index(char)] = 0.9
    ours[0, alphabet.index("粤")], ours[0, alphabet.index("闽")] = 0.45, 0.40  # our weak province
    theirs = np.full((7, len(ALPHABET)), 1e-4, np.float32)
    for slot, char in enumerate("粤B6R678"):
        theirs[slot, ALPHABET.index(char)] = 1.0
    theirs /= theirs.sum(axis=1, keepdims=True)
    joined = with_line(ours, LineRead("粤B6R678", [0.99] * 7, theirs), alphabet, "_", 1.0)
    assert alphabet[joined[0].argmax()] == "粤" and joined[0].max() > 0.8
    assert joined[7].argmax() == alphabet.index("_")  # the pad slot is ours alone
    shorter = with_line(ours, LineRead("B6R678", [0.99] * 6, theirs[1:]), alphabet, "_", 1.0)
    assert np.array_equal(shorter, ours)


def test_a_plate_both_kinds_of_reader_read_alike_is_read_unless_too_small_or_hidden(recognizer):
    """Our three readers unsure (least glyph 0.35) but the line reader reads their very
    string: the plate gets its string when it is wide enough for its province glyph to be
    read; never when it is narrower, nor when an object hides part of it."""
    image = np.full((200, 400, 3), 90, np.uint8)
    text = "苏E12345"
    probs = [0.35, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.99]
    line = LineRead(text, [0.97] * 7, np.eye(len(ALPHABET), dtype=np.float32)[[ALPHABET.index(c) for c in text]])
    read = RawRead(text, probs, line=line, own=(text, probs))
    assert not recognizer.sure_alone(text, probs)
    assert recognizer._decide(image, (50, 50, 150, 80), 0.9, read, None).text == text
    assert recognizer._decide(image, (50, 50, 110, 70), 0.9, read, None).text is None  # 60 px wide
    hidden = RawRead(text, probs, hidden=0.9, line=line, own=(text, probs))
    assert recognizer._decide(image, (50, 50, 150, 80), 0.9, hidden, None).text is None
    other = RawRead(text, probs, line=LineRead("苏E12346", [0.97] * 7, line.dists), own=(text, probs))
    assert recognizer._decide(image, (50, 50, 150, 80), 0.9, other, None).text is None

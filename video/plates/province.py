"""The province reader: a second opinion on a plate's first glyph, at twice the resolution.

The plate reader sees a whole crop at 48x128, where a province glyph is ~14x30 px (~12x12 on
a double-row plate); it gets that slot right far less often than the others. This small
CNN (trained by models/plates/train_province.py) sees the left 60% of the crop
(INPUT_WIDTH of STORED_WIDTH) at INPUT_HEIGHT x INPUT_WIDTH and says which of CLASSES opens
the plate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from video.plates.grammar import PROVINCES
from video.plates.sessions import session_options

CLASSES = PROVINCES + "使"
"""Every glyph that opens a valid plate (grammar): the 31 provinces and the embassy mark."""
INPUT_HEIGHT, INPUT_WIDTH = 64, 96
STORED_WIDTH = 160
"""The whole crop is resized to INPUT_HEIGHT x STORED_WIDTH; its left INPUT_WIDTH columns
(60% of the crop) are the model's input: the province of a single-row plate, and the
top-left of a double-row one, where the province sits beside the letter."""


def province_input(image: np.ndarray, *, stored: bool = False) -> np.ndarray:
    """A crop (BGR or gray; `stored`: already INPUT_HEIGHT x STORED_WIDTH gray) -> the model's
    float input in [0, 1], INPUT_HEIGHT x INPUT_WIDTH."""
    if not stored:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        image = cv2.resize(gray, (STORED_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
    return image[:, :INPUT_WIDTH].astype(np.float32) / 255.0


class ProvinceReader:
    """The exported CNN on onnxruntime (no torch at run time)."""

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads),
                                            providers=["CPUExecutionProvider"])

    def distributions(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax over CLASSES per crop: (crops, len(CLASSES))."""
        if not crops:
            return np.zeros((0, len(CLASSES)), np.float32)
        batch = np.stack([province_input(c) for c in crops])[:, None]
        logits = self.session.run(None, {"input": batch})[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

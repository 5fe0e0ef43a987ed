"""The slot reader: a second opinion on every glyph of a plate, from another kind of network.

The plate reader (fast-plate-ocr's CCT, 48x128) stalled at ~0.73 exact on its own val crops
after ~6 h of training; a small CNN trained with torch on the same crops learned the
province glyph far faster (province.py). This CNN reads all MAX_SLOTS slots of the whole
crop at INPUT_HEIGHT x INPUT_WIDTH: convolutions, then one attention map per slot over the
feature grid (so a double-row plate needs no special layout) and one classifier per slot,
over the reader's own alphabet (pad included), so the runtime can combine both models'
distributions slot by slot (PlateReader._read_crops). Beside the slots it says how
likely an object (a pole, a leg, a tow bar) hides a glyph: trained on crops with such
occluders whose hidden glyphs carry no label, it learns to say "hidden" instead of
guessing, and the runtime reads no string from such a plate. Trained by
models/plates/train_slot_reader.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from video.plates.sessions import session_options

INPUT_HEIGHT, INPUT_WIDTH = 64, 160
MAX_SLOTS = 8


def slot_input(image: np.ndarray) -> np.ndarray:
    """A crop (BGR or gray) -> the model's float input in [0, 1], INPUT_HEIGHT x INPUT_WIDTH."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if gray.shape != (INPUT_HEIGHT, INPUT_WIDTH):
        gray = cv2.resize(gray, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
    return gray.astype(np.float32) / 255.0


class SlotReader:
    """The exported CNN on onnxruntime (no torch at run time)."""

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads),
                                            providers=["CPUExecutionProvider"])

    def distributions(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax per crop and slot over the reader's alphabet: (crops, MAX_SLOTS, alphabet)."""
        return self.read(crops)[0]

    def read(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """`distributions`, and per crop the probability that an object hides a glyph of
        the plate (zeros from a model without that output)."""
        batch = np.stack([slot_input(c) for c in crops])[:, None]
        outputs = self.session.run(None, {"input": batch})
        logits = outputs[0] - outputs[0].max(axis=2, keepdims=True)
        exp = np.exp(logits)
        dists = (exp / exp.sum(axis=2, keepdims=True)).astype(np.float32)
        hidden = (1.0 / (1.0 + np.exp(-outputs[1][:, 0])) if len(outputs) > 1
                  else np.zeros(len(crops))).astype(np.float32)
        return dists, hidden

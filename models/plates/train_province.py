"""Train the province reader: a small CNN that reads only a plate's first glyph, at twice the
reader's resolution, and export it to ONNX.

Why: on the reader's own val crops the province slot is right 0.78 of the time against
0.95-0.97 for every other slot, and on crops >= 160 px wide 56 of 70 wrong reads are the
province alone (evaluate_val_crops.py): a Chinese glyph squeezed into ~14x30 px (~12x12 on a
double-row plate) of a 48x128 crop is too few pixels for the CCT. This model sees the left
60% of the crop at 64x96 (video/plates/province.py); the runtime combines both models'
province distributions (PlateReader._with_province), so a wrong province must fool both.

    .venv/bin/pip install -r requirements-train.txt   # torch, for training only
    .venv/bin/python models/plates/train_province.py --data .cache/plates/reader5 --epochs 6

The data is the reader's (make_reader_data.py, same fonts); --init continues from the
committed checkpoint instead of random weights.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.plates.torch_training import parse_args, train_and_export  # noqa: E402
from video.plates.province import (  # noqa: E402
    CLASSES,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    STORED_WIDTH,
    province_input,
)

ONNX_OUT = ROOT / "models/plates/plate_province.onnx"
CHECKPOINT = ROOT / "models/plates/checkpoints/plate_province.pt"


def load_split(data: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole crops as the runtime resizes them (INPUT_HEIGHT x STORED_WIDTH gray), and labels.
    Crops whose first glyph an occluder hides (slot 0 in the `hidden` column of
    make_reader_data.py --occluded) are left out: the model is not taught to guess it."""
    with open(data / f"{split}.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["plate_text"][0] in CLASSES
                and "0" not in (r.get("hidden") or "").split(";")][:limit]
    images = np.zeros((len(rows), INPUT_HEIGHT, STORED_WIDTH), np.uint8)
    labels = np.zeros(len(rows), np.int64)
    for i, row in enumerate(rows):
        crop = cv2.imread(str(data / row["image_path"]), cv2.IMREAD_GRAYSCALE)
        images[i] = cv2.resize(crop, (STORED_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
        labels[i] = CLASSES.index(row["plate_text"][0])
    return images, labels


def augment(whole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A detector box a bit off (span, vertical margins), another exposure, some blur."""
    h, w = whole.shape
    span = rng.uniform(0.52, 0.70)
    x0 = int(rng.integers(0, max(1, int(0.04 * w))))
    y0, y1 = int(rng.integers(0, 6)), h - int(rng.integers(0, 6))
    part = whole[y0:y1, x0 : x0 + int(span * w)]
    part = cv2.resize(part, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        part = cv2.GaussianBlur(part, (3, 3), rng.uniform(0.3, 1.2))
    gain, bias = rng.uniform(0.6, 1.3), rng.uniform(-40, 40)
    return np.clip(part.astype(np.float32) * gain + bias, 0, 255)


def build_model():  # noqa: ANN201 - torch is a training-only dependency
    """Six 3x3 conv blocks and global pooling: the glyph may sit anywhere in the input (single-
    or double-row plate, a box a bit off), so no position is baked into the head."""
    import torch.nn as nn

    def block(i: int, o: int, stride: int = 1) -> list:
        return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, 32, 2), *block(32, 48), nn.MaxPool2d(2),
        *block(48, 96), *block(96, 96), nn.MaxPool2d(2),
        *block(96, 160), *block(160, 160),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(160, len(CLASSES)))


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> float:  # noqa: ANN001
    """Province accuracy on whole crops cut exactly as the runtime cuts them (no augmentation)."""
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for s in range(0, len(images), 256):
            batch = np.stack([province_input(img, stored=True) for img in images[s : s + 256]])
            logits = model(torch.from_numpy(batch)[:, None].to(memory_format=torch.channels_last))
            right += int((logits.argmax(1).numpy() == labels[s : s + 256]).sum())
    return right / len(images)


def main() -> None:
    import torch

    args = parse_args(__doc__.splitlines()[0], ROOT, epochs=6)
    parts = [load_split(d, "train", args.limit) for d in args.data]
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    val_images, val_labels = load_split(args.data[0], "val")
    print(f"{len(images)} training crops, {len(val_images)} val crops, {len(CLASSES)} classes", flush=True)
    train_and_export(build_model(), images, labels, args=args, augment=augment,
                     loss=torch.nn.functional.cross_entropy,
                     score=lambda model: evaluate(model, val_images, val_labels),
                     checkpoint=CHECKPOINT, onnx_out=ONNX_OUT, input_hw=(INPUT_HEIGHT, INPUT_WIDTH))


if __name__ == "__main__":
    main()

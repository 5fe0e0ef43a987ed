"""Train the slot reader (video/plates/slot_reader.py), a CNN that reads every glyph of a
plate crop, and export it to ONNX.

Why a second full reader: the fast-plate-ocr CCT plateaued at ~0.73 exact on its val crops
(the province slot at 0.78); the province CNN (train_province.py), trained with torch on the
same crops, reached 0.87 on that slot in 40 minutes. The runtime combines the two readers'
distributions slot by slot (PlateReader.distributions), so a wrong glyph must fool both.

    .venv/bin/pip install -r requirements-train.txt   # torch, for training only
    .venv/bin/python models/plates/train_slot_reader.py --data .cache/plates/reader5 --epochs 6

The data is the reader's (make_reader_data.py, same fonts); --init continues from the
committed checkpoint instead of random weights.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.plates.torch_training import parse_args, train_and_export  # noqa: E402
from video.plates.slot_reader import INPUT_HEIGHT, INPUT_WIDTH, MAX_SLOTS  # noqa: E402

ONNX_OUT = ROOT / "models/plates/plate_slots.onnx"
CHECKPOINT = ROOT / "models/plates/checkpoints/plate_slots.pt"
PLATE_CONFIG = ROOT / "models/plates/reader_plate_config.yaml"


def reader_alphabet() -> tuple[str, str]:
    """The plate reader's alphabet and pad glyph: both readers' slots index the same list."""
    cfg = yaml.safe_load(PLATE_CONFIG.read_text(encoding="utf-8"))
    return cfg["alphabet"], cfg["pad_char"]


def load_split(data: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole crops resized to the model's input (gray uint8) and their slot labels (pads last)."""
    alphabet, pad = reader_alphabet()
    with open(data / f"{split}.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:limit]
    images = np.zeros((len(rows), INPUT_HEIGHT, INPUT_WIDTH), np.uint8)
    labels = np.zeros((len(rows), MAX_SLOTS), np.int64)
    for i, row in enumerate(rows):
        crop = cv2.imread(str(data / row["image_path"]), cv2.IMREAD_GRAYSCALE)
        images[i] = cv2.resize(crop, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
        labels[i] = [alphabet.index(c) for c in row["plate_text"].ljust(MAX_SLOTS, pad)]
    return images, labels


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A detector box a bit off (margins cut or added), another exposure, some blur."""
    h, w = image.shape
    x0, x1 = (int(v) for v in rng.integers(-int(0.03 * w), int(0.04 * w) + 1, 2))
    y0, y1 = (int(v) for v in rng.integers(-4, 7, 2))
    padded = cv2.copyMakeBorder(image, max(0, -y0), max(0, -y1), max(0, -x0), max(0, -x1),
                                cv2.BORDER_REPLICATE)
    part = padded[max(0, y0) : padded.shape[0] - max(0, y1), max(0, x0) : padded.shape[1] - max(0, x1)]
    part = cv2.resize(part, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        part = cv2.GaussianBlur(part, (3, 3), rng.uniform(0.3, 1.2))
    gain, bias = rng.uniform(0.6, 1.3), rng.uniform(-40, 40)
    return np.clip(part.astype(np.float32) * gain + bias, 0, 255)


def build_model(classes: int):  # noqa: ANN201 - torch is a training-only dependency
    """Conv blocks to an 8x20 grid, one attention map per slot over it (the grid's x/y
    coordinates are two extra channels of the attention branch, so a slot can learn where
    its glyph sits), and one linear classifier per slot."""
    import torch
    import torch.nn as nn

    def block(i: int, o: int, stride: int = 1) -> list:
        return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    class SlotCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(1, 24, 2), *block(24, 32), nn.MaxPool2d(2),
                *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
                *block(64, 128), *block(128, 160))
            gy, gx = torch.meshgrid(torch.linspace(-1, 1, INPUT_HEIGHT // 8),
                                    torch.linspace(-1, 1, INPUT_WIDTH // 8), indexing="ij")
            self.register_buffer("coords", torch.stack([gy, gx])[None])
            self.attend = nn.Sequential(nn.Conv2d(162, 64, 3, padding=1), nn.ReLU(inplace=True),
                                        nn.Conv2d(64, MAX_SLOTS, 1))
            self.dropout = nn.Dropout(0.2)
            self.classify = nn.Conv1d(MAX_SLOTS * 160, MAX_SLOTS * classes, 1, groups=MAX_SLOTS)

        def forward(self, x):  # noqa: ANN001, ANN202
            f = self.features(x)  # (b, 160, 8, 20)
            b = f.shape[0]
            coords = self.coords.expand(b, -1, -1, -1)
            weights = torch.softmax(self.attend(torch.cat([f, coords], 1)).flatten(2), dim=2)  # (b, slots, hw)
            pooled = torch.bmm(weights, f.flatten(2).transpose(1, 2))  # (b, slots, 160)
            logits = self.classify(self.dropout(pooled).reshape(b, MAX_SLOTS * 160, 1))
            return logits.reshape(b, MAX_SLOTS, classes)

    return SlotCNN()


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:  # noqa: ANN001
    """Exact reads and glyph accuracy on crops as the runtime sees them (no augmentation)."""
    import torch

    model.eval()
    exact = glyphs = 0
    with torch.no_grad():
        for s in range(0, len(images), 256):
            x = torch.from_numpy(images[s : s + 256].astype(np.float32) / 255.0)[:, None]
            hit = model(x.to(memory_format=torch.channels_last)).argmax(2).numpy() == labels[s : s + 256]
            exact += int(hit.all(axis=1).sum())
            glyphs += int(hit.sum())
    return exact / len(images), glyphs / labels.size


def main() -> None:
    import torch

    args = parse_args(__doc__.splitlines()[0], ROOT, epochs=7)
    alphabet, _ = reader_alphabet()
    parts = [load_split(d, "train", args.limit) for d in args.data]
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    val_images, val_labels = load_split(args.data[0], "val")
    print(f"{len(images)} training crops, {len(val_images)} val crops, {len(alphabet)} classes", flush=True)

    def loss(logits, target):  # noqa: ANN001, ANN202 - every slot's cross-entropy
        return torch.nn.functional.cross_entropy(logits.reshape(-1, len(alphabet)), target.reshape(-1))

    train_and_export(build_model(len(alphabet)), images, labels, args=args, augment=augment, loss=loss,
                     score=lambda model: evaluate(model, val_images, val_labels)[0],
                     checkpoint=CHECKPOINT, onnx_out=ONNX_OUT, input_hw=(INPUT_HEIGHT, INPUT_WIDTH))


if __name__ == "__main__":
    main()

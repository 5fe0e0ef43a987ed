"""Train the slot reader (video/plates/slot_reader.py), a CNN that reads every glyph of a
plate crop, and export it to ONNX.

Why a second full reader: the fast-plate-ocr CCT plateaued at ~0.73 exact on its val crops
(the province slot at 0.78); the province CNN (train_province.py), trained with torch on the
same crops, reached 0.87 on that slot in 40 minutes. The runtime combines the two readers'
distributions slot by slot (PlateReader._read_crops), so a wrong glyph must fool both.

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


IGNORED = -100
"""The label of a glyph an occluder hides: no loss, so the network is never taught to guess it."""


def load_split(data: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole crops resized to the model's input (gray uint8) and their labels: MAX_SLOTS slot
    labels (pads last, IGNORED where an occluder hides the glyph), then 1 if any is hidden."""
    alphabet, pad = reader_alphabet()
    with open(data / f"{split}.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:limit]
    images = np.zeros((len(rows), INPUT_HEIGHT, INPUT_WIDTH), np.uint8)
    labels = np.zeros((len(rows), MAX_SLOTS + 1), np.int64)
    for i, row in enumerate(rows):
        crop = cv2.imread(str(data / row["image_path"]), cv2.IMREAD_GRAYSCALE)
        images[i] = cv2.resize(crop, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
        labels[i, :MAX_SLOTS] = [alphabet.index(c) for c in row["plate_text"].ljust(MAX_SLOTS, pad)]
        hidden = [int(v) for v in (row.get("hidden") or "").split(";") if v]
        labels[i, hidden] = IGNORED
        labels[i, MAX_SLOTS] = int(bool(hidden))
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
    its glyph sits), and one linear classifier per slot; beside them one logit, from the
    whole grid, for "an object hides a glyph of this plate"."""
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
            self.hidden = nn.Linear(2 * 160, 1)

        def forward(self, x):  # noqa: ANN001, ANN202
            f = self.features(x)  # (b, 160, 8, 20)
            b = f.shape[0]
            coords = self.coords.expand(b, -1, -1, -1)
            weights = torch.softmax(self.attend(torch.cat([f, coords], 1)).flatten(2), dim=2)  # (b, slots, hw)
            pooled = torch.bmm(weights, f.flatten(2).transpose(1, 2))  # (b, slots, 160)
            logits = self.classify(self.dropout(pooled).reshape(b, MAX_SLOTS * 160, 1))
            flat = f.flatten(2)
            hidden = self.hidden(torch.cat([flat.mean(2), flat.amax(2)], 1))  # (b, 1)
            return logits.reshape(b, MAX_SLOTS, classes), hidden

    return SlotCNN()


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    """On crops as the runtime sees them (no augmentation): exact reads and glyph accuracy of
    the crops with nothing hidden, and how often "hidden" (p >= 0.5) is said right."""
    import torch

    model.eval()
    exact = glyphs = said_hidden = said_hidden_right = 0
    readable = labels[:, MAX_SLOTS] == 0
    with torch.no_grad():
        for s in range(0, len(images), 256):
            x = torch.from_numpy(images[s : s + 256].astype(np.float32) / 255.0)[:, None]
            logits, hidden = model(x.to(memory_format=torch.channels_last))
            part = labels[s : s + 256]
            ok = part[:, MAX_SLOTS] == 0
            hit = logits.argmax(2).numpy()[ok] == part[ok, :MAX_SLOTS]
            exact += int(hit.all(axis=1).sum())
            glyphs += int(hit.sum())
            says = torch.sigmoid(hidden[:, 0]).numpy() >= 0.5
            said_hidden += int(says.sum())
            said_hidden_right += int((says == (part[:, MAX_SLOTS] == 1)).sum())
    n_readable = max(int(readable.sum()), 1)
    return {"exact": exact / n_readable, "glyphs": glyphs / (n_readable * MAX_SLOTS),
            "hidden_said": said_hidden / len(images), "hidden_right": said_hidden_right / len(images),
            "hidden_share": float((~readable).mean())}


def main() -> None:
    import torch

    args = parse_args(__doc__.splitlines()[0], ROOT, epochs=7)
    alphabet, _ = reader_alphabet()
    parts = [load_split(d, "train", args.limit) for d in args.data]
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    val_images, val_labels = load_split(args.data[0], "val")
    hidden_val = [d for d in args.data if (d / "val.csv").read_text(encoding="utf-8").startswith(
        "image_path,plate_text,hidden")]
    occluded_vals = [(d, load_split(d, "val")) for d in hidden_val]
    print(f"{len(images)} training crops ({int(labels[:, MAX_SLOTS].sum())} with a hidden glyph), "
          f"{len(val_images)} val crops, {len(alphabet)} classes", flush=True)

    def loss(output, target):  # noqa: ANN001, ANN202 - every seen slot's cross-entropy, and "hidden"
        logits, hidden = output
        slots = torch.nn.functional.cross_entropy(logits.reshape(-1, len(alphabet)),
                                                  target[:, :MAX_SLOTS].reshape(-1), ignore_index=IGNORED)
        said = torch.nn.functional.binary_cross_entropy_with_logits(hidden[:, 0], target[:, MAX_SLOTS].float())
        return slots + said

    def score(model) -> float:  # noqa: ANN001 - exact reads on the first data dir's val crops
        for folder, split in occluded_vals:
            print(f"occluded val ({folder}): {evaluate(model, *split)}", flush=True)
        return evaluate(model, val_images, val_labels)["exact"]

    train_and_export(build_model(len(alphabet)), images, labels, args=args, augment=augment, loss=loss,
                     score=score, checkpoint=CHECKPOINT, onnx_out=ONNX_OUT,
                     input_hw=(INPUT_HEIGHT, INPUT_WIDTH), output_names=["logits", "hidden"])


if __name__ == "__main__":
    main()

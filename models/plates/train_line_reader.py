"""Fine-tune PP-OCRv6's recogniser (from the rapidocr wheel) into the plate line reader.

    .venv-det/bin/python models/plates/train_line_reader.py \
        --data .cache/plates/reader12 .cache/plates/reader13 --val .cache/plates/val5std \
        --epochs 6 --out models/plates/plate_line.onnx

The recogniser's early layers stay as PaddleOCR trained them on real text (frozen; their
output is computed once per crop, on onnxruntime); its last backbone stage, its neck and
a new head over the plate alphabet (initialised from its own rows for those glyphs, so
training starts from what PP-OCR already reads) are trained with CTC on synthetic crops
(make_reader_data.py; crops with a hidden glyph are left out: a line reader has no way to
say "hidden"). Needs torch and onnx2torch (.venv-det); the runtime needs neither.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from video.plates.grammar import ALPHABET  # noqa: E402
from video.plates.line_reader import ctc_best_path, line_image, line_tensor  # noqa: E402

CUT = "p2o.pd_op.add.51.0"  # before the last backbone stage: (192, 6, W/4)
SEQUENCE = "p2o.pd_op.transpose.8.0"  # the neck's output: (T, 120), T = W/8
HEAD_W, HEAD_B = "linear_8.w_0", "linear_8.b_0"


def ppocr_rec_path() -> Path:
    """The recogniser in the rapidocr wheel: this venv's, else the runtime venv's (.venv)."""
    try:
        import rapidocr

        folder = Path(rapidocr.__file__).parent
    except ImportError:
        folder = next((ROOT / ".venv/lib").glob("python3*/site-packages/rapidocr"))
    return folder / "models" / "PP-OCRv6_rec_small.onnx"


def explicit_pads(model: onnx.ModelProto) -> onnx.ModelProto:
    """SAME_UPPER padding (stride 1) written out as pads: onnx2torch does not take auto_pad."""
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if "auto_pad" in attrs and helper.get_attribute_value(attrs["auto_pad"]) == b"SAME_UPPER":
            kernel = helper.get_attribute_value(attrs["kernel_shape"])
            assert all(s == 1 for s in helper.get_attribute_value(attrs["strides"]))
            begin = [(k - 1) // 2 for k in kernel]
            node.attribute.remove(attrs["auto_pad"])
            node.attribute.append(helper.make_attribute("pads", begin + [k - 1 - b for k, b in zip(kernel, begin, strict=True)]))
    return model


def split_model(work: Path) -> tuple[Path, nn.Module, np.ndarray, np.ndarray, list[str]]:
    """The frozen front (ONNX file), the trainable tail (torch), the head's weights, and
    PP-OCR's character list."""
    from onnx2torch import convert

    model = explicit_pads(onnx.load(str(ppocr_rec_path())))
    chars = ["<blank>", *[p.value for p in model.metadata_props if p.key == "character"][0].splitlines(), " "]
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    work.mkdir(parents=True, exist_ok=True)
    full = work / "rec_padded.onnx"
    onnx.save(model, str(full))
    front, tail = work / "front.onnx", work / "tail.onnx"
    onnx.utils.extract_model(str(full), str(front), ["x"], [CUT])
    onnx.utils.extract_model(str(full), str(tail), [CUT], [SEQUENCE])
    return front, convert(str(tail)), inits[HEAD_W], inits[HEAD_B], chars


class LineModel(nn.Module):
    """Tail (last stage + neck) and a head over blank + ALPHABET; softmax on export."""

    def __init__(self, tail: nn.Module, weight: np.ndarray, bias: np.ndarray, chars: list[str]) -> None:
        super().__init__()
        self.tail = tail
        self.head = nn.Linear(weight.shape[0], 1 + len(ALPHABET))
        rows = [0] + [chars.index(c) for c in ALPHABET]
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(weight[:, rows].T.copy()))
            self.head.bias.copy_(torch.from_numpy(bias[rows].copy()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.tail(features))  # (B, T, classes) logits


class Exported(nn.Module):
    def __init__(self, front: nn.Module, line: LineModel) -> None:
        super().__init__()
        self.front, self.line = front, line

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.line(self.front(x)), dim=-1)


def load_rows(folders: list[Path], limit: int, split: str, skip: int = 0) -> list[tuple[Path, str]]:
    """Up to `limit` crops of each folder's split, after its first `skip` (crops an earlier
    run trained on), leaving out crops with a hidden glyph."""
    rows = []
    for folder in folders:
        with open(folder / f"{split}.csv", encoding="utf-8") as f:
            kept = [(folder / r["image_path"], r["plate_text"]) for r in csv.DictReader(f)
                    if not r.get("hidden")]
        rows += kept[skip : skip + limit]
    return rows


def featurise(front: Path, rows: list[tuple[Path, str]]) -> list[tuple[np.ndarray, list[int]]]:
    """The frozen front's output per crop (float16), with its CTC target."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(front), options, providers=["CPUExecutionProvider"])
    out, t0 = [], time.time()
    for i, (path, text) in enumerate(rows):
        crop = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if crop is None:
            continue
        feats = session.run(None, {"x": line_tensor(line_image(crop))[None]})[0][0]
        out.append((feats.astype(np.float16), [ALPHABET.index(c) + 1 for c in text]))
        if (i + 1) % 5000 == 0:
            print(f"  features {i + 1}/{len(rows)} ({time.time() - t0:.0f} s)", flush=True)
    return out


def batches(samples: list[tuple[np.ndarray, list[int]]], size: int, rng: np.random.Generator):
    by_width: dict[int, list[int]] = {}
    for i, (feats, _) in enumerate(samples):
        by_width.setdefault(feats.shape[-1], []).append(i)
    chunks = []
    for idx in by_width.values():
        idx = list(rng.permutation(idx))
        chunks += [idx[i : i + size] for i in range(0, len(idx), size)]
    for k in rng.permutation(len(chunks)):
        yield chunks[k]


def exact(model: LineModel, samples: list[tuple[np.ndarray, list[int]]]) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for chunk in batches(samples, 64, np.random.default_rng(0)):
            x = torch.from_numpy(np.stack([samples[i][0] for i in chunk]).astype(np.float32))
            probs = torch.softmax(model(x), dim=-1).numpy()
            for i, p in zip(chunk, probs, strict=True):
                right += ctc_best_path(p).text == "".join(ALPHABET[k - 1] for k in samples[i][1])
    model.train()
    return right / max(len(samples), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=50000, help="train crops per --data folder")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out each --data folder's first N train crops (seen by an earlier run)")
    parser.add_argument("--val-limit", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from this state dict (e.g. models/plates/checkpoints/plate_line.pt)")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache/plates/line_reader")
    parser.add_argument("--out", type=Path, default=ROOT / "models/plates/plate_line.onnx")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "models/plates/checkpoints/plate_line.pt",
                        help="where the best state dict is kept, for --init next time")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    front_path, tail, weight, bias, chars = split_model(args.work)
    model = LineModel(tail, weight, bias, chars)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    train_rows = load_rows(args.data, args.limit, "train", args.skip)
    val_rows = load_rows([args.val], args.val_limit, "val")
    print(f"{len(train_rows)} train crops, {len(val_rows)} val crops", flush=True)
    val = featurise(front_path, val_rows)
    start = args.init or "PP-OCR's own rows"
    print(f"epoch 0 ({start}): val exact {exact(model, val):.4f}", flush=True)
    train = featurise(front_path, train_rows)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(train) / args.batch) + args.epochs * 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.05)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    rng = np.random.default_rng(1)
    best = -1.0
    for epoch in range(1, args.epochs + 1):
        t0, total, n = time.time(), 0.0, 0
        for chunk in batches(train, args.batch, rng):
            x = torch.from_numpy(np.stack([train[i][0] for i in chunk]).astype(np.float32))
            logp = torch.log_softmax(model(x), dim=-1).permute(1, 0, 2)  # (T, B, C)
            targets = [train[i][1] for i in chunk]
            loss = ctc(logp, torch.tensor([k for t in targets for k in t]),
                       torch.full((len(chunk),), logp.shape[0], dtype=torch.long),
                       torch.tensor([len(t) for t in targets]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total, n = total + float(loss), n + 1
        score = exact(model, val)
        print(f"epoch {epoch}: loss {total / n:.4f}, val exact {score:.4f} ({time.time() - t0:.0f} s)", flush=True)
        if score > best:
            best = score
            torch.save(model.state_dict(), args.work / "line_model.pt")
    model.load_state_dict(torch.load(args.work / "line_model.pt"))
    torch.save(model.state_dict(), args.checkpoint)
    export(front_path, model, args.out)
    print(f"best val exact {best:.4f}; wrote {args.out}", flush=True)


def export(front_path: Path, model: LineModel, out: Path) -> None:
    """One ONNX file: the frozen front and the trained tail, softmax at the end; checked
    against torch on a random line."""
    from onnx2torch import convert

    full = Exported(convert(str(front_path)), model).eval()
    x = torch.randn(2, 3, 48, 192)
    torch.onnx.export(full, (x,), str(out), input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "steps"}},
                      opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for width in (160, 320):
        x = torch.randn(2, 3, 48, width)
        with torch.no_grad():
            want = full(x).numpy()
        got = session.run(None, {"x": x.numpy()})[0]
        assert np.abs(want - got).max() < 1e-3, f"export differs at width {width}"


if __name__ == "__main__":
    main()

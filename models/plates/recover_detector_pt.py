"""Rebuild the detector's ultralytics checkpoint from its committed ONNX file, to train on.

    python models/plates/recover_detector_pt.py --images .cache/plates/detector/images/val \\
        --out models/plates/checkpoints/plate_detector.pt

Why: the training runs lived under `.cache/` (not committed) and a new machine starts
without them. ultralytics exports every convolution with its batch norm folded in (one
weight, one bias); each is unfolded so that the network computes the same function and its
batch norms hold the channel statistics of real inputs (synthetic scenes), which is what
training-mode batches will see: weight = folded weight, running mean/var = statistics of
that convolution's output, gamma = sqrt(var + eps), beta = folded bias + mean. The rebuilt
model must give the ONNX model's outputs on the images, or nothing is saved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from models.plates.train_detector import offline_env  # noqa: E402

SIZE = (384, 640)
"""Input height, width of the check: the size the ONNX model was checked at in production."""


def letterbox(image: np.ndarray) -> np.ndarray:
    """1x3xHxW float32 RGB/255, the frame scaled into SIZE and padded with grey (114)."""
    h, w = image.shape[:2]
    scale = min(SIZE[0] / h, SIZE[1] / w)
    resized = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((*SIZE, 3), 114, np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=HERE / "plate_detector.onnx")
    parser.add_argument("--model", type=Path, default=HERE / "yolo11p-plates.yaml")
    parser.add_argument("--images", type=Path, required=True, help="scenes for the statistics and the check")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    offline_env()
    from ultralytics import YOLO
    from ultralytics.nn.modules import Conv

    folded = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
              for t in onnx.load(str(args.onnx)).graph.initializer if t.name.startswith("model.")}
    yolo = YOLO(str(args.model))
    net = yolo.model
    net.model[-1].nc = 1
    used: set[str] = set()
    outputs: dict[str, list[torch.Tensor]] = {}
    hooks = []
    with torch.no_grad():
        for name, module in net.named_modules():
            if isinstance(module, Conv) and isinstance(module.bn, torch.nn.BatchNorm2d):
                weight, bias = folded[f"{name}.conv.weight"], folded[f"{name}.conv.bias"]
                used |= {f"{name}.conv.weight", f"{name}.conv.bias"}
                module.conv.weight.copy_(weight)
                bn = module.bn
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0)
                bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
                bn.bias.copy_(bias)
                hooks.append(module.conv.register_forward_hook(
                    lambda _m, _i, out, key=name: outputs.setdefault(key, []).append(out.detach())))
            elif isinstance(module, torch.nn.Conv2d) and f"{name}.weight" in folded:
                module.weight.copy_(folded[f"{name}.weight"])
                used.add(f"{name}.weight")
                if module.bias is not None:
                    module.bias.copy_(folded[f"{name}.bias"])
                    used.add(f"{name}.bias")
        left = sorted(set(folded) - used)
        if left:
            raise SystemExit(f"ONNX tensors not placed in the model: {left[:5]}")
        images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:48]
        batch = np.concatenate([letterbox(cv2.imread(str(p))) for p in images])
        net.eval()
        net(torch.from_numpy(batch))  # the hooks collect each convolution's output
        for hook in hooks:
            hook.remove()
        modules = dict(net.named_modules())
        for name, outs in outputs.items():
            x = torch.cat(outs).transpose(0, 1).reshape(outs[0].shape[1], -1).double()
            mean, var = x.mean(1), x.var(1, unbiased=False)
            bn = modules[name].bn
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.bias.add_(mean.float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float())
        got = net(torch.from_numpy(batch))
        got = (got[0] if isinstance(got, (tuple, list)) else got).numpy()
    session = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])
    expected = np.concatenate([session.run(None, {session.get_inputs()[0].name: batch[i : i + 1]})[0]
                               for i in range(len(batch))])
    diff = float(np.abs(got - expected).max())
    score_diff = float(np.abs(got[:, 4] - expected[:, 4]).max())
    print(f"rebuilt vs ONNX on {len(batch)} scenes at {SIZE[1]}x{SIZE[0]}: max |diff| {diff:.2e} "
          f"(box pixels), scores {score_diff:.2e}")
    if score_diff > 1e-3 or diff > 0.05:
        raise SystemExit("the rebuilt model does not compute the ONNX model's function: not saved")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    yolo.save(str(args.out))
    print(f"checkpoint saved to {args.out}")


if __name__ == "__main__":
    main()

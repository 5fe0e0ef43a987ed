"""What the two torch-trained plate CNNs (province reader, slot reader) share: the command
line, the training loop (AdamW, one-cycle learning rate, augmentation drawn per batch, the
best val epoch kept as a checkpoint) and the ONNX export. Each script brings its data, its
model, its loss and its val score."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def parse_args(description: str, root: Path, epochs: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, nargs="+", default=[root / ".cache/plates/reader"])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--init", type=Path, help="continue from these weights (.pt state dict)")
    parser.add_argument("--limit", type=int, help="use only this many training crops per data dir")
    return parser.parse_args()


def train_and_export(model, images: np.ndarray, labels: np.ndarray, *,  # noqa: ANN001, PLR0913
                     args: argparse.Namespace,
                     augment: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                     loss: Callable, score: Callable[[object], float],
                     checkpoint: Path, onnx_out: Path, input_hw: tuple[int, int],
                     output_names: tuple[str, ...] | list[str] = ("logits",)) -> dict:
    """Train `model` on (images, labels) for args.epochs, keep the epoch with the best
    `score(model)` in `checkpoint`, export that one to `onnx_out`; returns the scores."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = model.to(memory_format=torch.channels_last)
    if args.init:  # a layer the saved weights lack (a new head) starts from random weights
        missing, unexpected = model.load_state_dict(torch.load(args.init), strict=False)
        if unexpected:
            raise SystemExit(f"{args.init} has weights this model lacks: {unexpected}")
        if missing:
            print(f"not in {args.init}, trained from scratch: {missing}", flush=True)
    batches = len(images) // args.batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.epochs * batches,
                                                   pct_start=0.15)
    best, history = -1.0, []
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(images))
        started, seen, loss_sum = time.time(), 0, 0.0
        for b in range(batches):
            idx = order[b * args.batch : (b + 1) * args.batch]
            batch = np.stack([augment(images[i], rng) for i in idx]) / 255.0
            x = torch.from_numpy(batch.astype(np.float32))[:, None].to(memory_format=torch.channels_last)
            value = loss(model(x), torch.from_numpy(labels[idx]))
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            schedule.step()
            seen, loss_sum = seen + len(idx), loss_sum + float(value.detach()) * len(idx)
            if b % 100 == 0:
                print(f"epoch {epoch + 1} batch {b}/{batches} loss {loss_sum / seen:.3f} "
                      f"({time.time() - started:.0f} s)", flush=True)
        value = score(model)
        history.append(round(value, 4))
        print(f"epoch {epoch + 1}: train loss {loss_sum / seen:.3f}, val {value:.4f}", flush=True)
        if value > best:
            best = value
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), checkpoint)
    model.load_state_dict(torch.load(checkpoint))
    model.eval()
    torch.onnx.export(model.to(memory_format=torch.contiguous_format), torch.zeros(1, 1, *input_hw),
                      str(onnx_out), input_names=["input"], output_names=list(output_names),
                      dynamic_axes={"input": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
                      dynamo=False)
    result = {"val": best, "val_by_epoch": history, "onnx": str(onnx_out)}
    print(json.dumps(result))
    return result

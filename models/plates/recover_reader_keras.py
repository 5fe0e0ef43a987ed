"""Rebuild the reader's Keras weights from its committed ONNX file, to train on from there.

    .venv-train/bin/python models/plates/recover_reader_keras.py --out models/plates/checkpoints/plate_reader.weights.h5

Why: training checkpoints lived under `.cache/` (not committed) and a new machine starts
without them; from scratch the reader costs ~5.5 h of 2 cores. The ONNX export keeps every
trained tensor under its Keras name, except batch normalisation, which it folds into one
scale and one offset per channel. Those are unfolded with the channel statistics measured
on real inputs (val crops): gamma = scale * sqrt(var + eps), beta = offset + mean * scale,
which computes the same function in inference and matches what training-mode batches see.
The rebuilt model must give the ONNX model's outputs on the val crops, or nothing is saved.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from fast_plate_ocr.train.model.config import load_plate_config_from_yaml  # noqa: E402
from fast_plate_ocr.train.model.model_builders import build_model  # noqa: E402
from fast_plate_ocr.train.model.model_schema import load_model_config_from_yaml  # noqa: E402
from onnx import numpy_helper  # noqa: E402

HERE = Path(__file__).resolve().parent
STEM = (("conv_stem_1/coord_conv2d_1/coord_conv2d_1/", "batch_normalization_1/"),
        ("conv_stem_1/conv2d_1_1/", "batch_normalization_1_2/"),
        ("conv_stem_1/conv2d_2_1/", "batch_normalization_2_1/"),
        ("conv_stem_1/coord_conv2d_1_2/coord_conv2d_1_1/", "batch_normalization_3_1/"))
"""ONNX scopes of the stem's convolutions, in order, and of the batch norm after each."""


def onnx_tensors(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def pick(tensors: dict[str, np.ndarray], *parts: str) -> np.ndarray:
    """The one ONNX tensor whose name holds every part (in order)."""
    found = [n for n in tensors if all(p in n for p in parts)
             and all(n.index(a) < n.index(b) for a, b in zip(parts, parts[1:], strict=False))]
    if len(found) != 1:
        raise SystemExit(f"expected one ONNX tensor named like {parts}, found {found}")
    return tensors[found[0]]


def load_crops(val_csv: Path, size: tuple[int, int], limit: int) -> np.ndarray:
    with open(val_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:limit]
    crops = []
    for row in rows:
        gray = cv2.imread(str(val_csv.parent / row["image_path"]), cv2.IMREAD_GRAYSCALE)
        crops.append(cv2.resize(gray, (size[1], size[0]), interpolation=cv2.INTER_LINEAR))
    return np.stack(crops)[..., None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=HERE / "plate_reader.onnx")
    parser.add_argument("--val", type=Path, default=Path(".cache/plates/reader/val.csv"),
                        help="val crops (make_reader_data.py): channel statistics and the check")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    plate_cfg = load_plate_config_from_yaml(HERE / "reader_plate_config.yaml")
    model = build_model(load_model_config_from_yaml(HERE / "reader_model_config.yaml"), plate_cfg,
                        enable_region_head=False)
    t = onnx_tensors(args.onnx)
    stem = model.get_layer("conv_stem")
    norms = [layer for layer in stem.layers if isinstance(layer, keras.layers.BatchNormalization)]
    convs = [layer for layer in stem.layers if not isinstance(layer, keras.layers.BatchNormalization)
             and layer.weights]
    folded = []
    for conv, norm, (scope, bn) in zip(convs, norms, STEM, strict=True):
        conv.set_weights([pick(t, scope, "convolution/ReadVariableOp").transpose(2, 3, 1, 0),
                          pick(t, scope, "Squeeze:0")])
        folded.append((norm, pick(t, bn, "batchnorm/mul:0").reshape(-1)))
    offsets = {t[n].shape[1]: t[n].reshape(-1) for n in t  # anonymous: told apart by channel count
               if n.startswith("const_fold_opt__") and t[n].ndim == 4 and t[n].shape[::2] == (1, 1)}
    for norm, scale in folded:
        norm.set_weights([scale, offsets[scale.size], np.zeros_like(scale), np.full_like(scale, 1 - norm.epsilon)])
    _set_transformer(model, t)
    crops = load_crops(args.val, (plate_cfg.img_height, plate_cfg.img_width), 512)
    _unfold_batch_norms(model, folded, crops)
    session = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: crops})[0]
    got = np.asarray(model.predict(crops, verbose=0)["plate"])
    diff = float(np.abs(got - expected).max())
    agree = float((got.argmax(-1) == expected.argmax(-1)).mean())
    print(f"rebuilt vs ONNX on {len(crops)} val crops: max |diff| {diff:.2e}, same argmax {agree:.4f}")
    if diff > 1e-3 or agree < 0.999:
        raise SystemExit("the rebuilt model does not compute the ONNX model's function: not saved")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.out)
    print(f"weights saved to {args.out}")


def _set_transformer(model: keras.Model, t: dict[str, np.ndarray]) -> None:
    model.get_layer("pos_emb").set_weights([pick(t, "pos_emb_1/Slice:0")])
    blocks = [("transformer_block_1", "transformer_block_1_1/", "multi_head_attention_1/",
               ("layer_normalization_1/", "layer_normalization_1_2/"), ("mlp_1/dense_1/", "mlp_1/dense_1_2/")),
              ("transformer_block_2", "transformer_block_2_1/", "multi_head_attention_1_1/",
               ("layer_normalization_2_1/", "layer_normalization_3_1/"), ("dense_2_1/", "dense_3_1/"))]
    for layer_name, scope, mha, lns, denses in blocks:
        block = model.get_layer(layer_name)
        weights = []
        for ln in lns[:1]:
            weights += _layer_norm(t, scope, ln)
        weights += _attention(t, scope + mha)
        weights += _layer_norm(t, scope, lns[1])
        for dense in denses:
            weights += [pick(t, scope, dense, "Cast/ReadVariableOp"), pick(t, scope, dense, "BiasAdd/ReadVariableOp")]
        _assign(block, weights)
    reducer = model.get_layer("token_reducer")
    _assign(reducer, [pick(t, "token_reducer_1/Tile/ReadVariableOp")]
            + _attention(t, "token_reducer_1/multi_head_attention_2_1/"))
    model.get_layer("plate").set_weights([pick(t, "plate_1/dense_4_1/Cast/ReadVariableOp"),
                                          pick(t, "plate_1/dense_4_1/BiasAdd/ReadVariableOp")])


def _layer_norm(t: dict[str, np.ndarray], scope: str, ln: str) -> list[np.ndarray]:
    return [pick(t, scope, ln, "Reshape:0").reshape(-1), pick(t, scope, ln, "Reshape_1:0").reshape(-1)]


def _attention(t: dict[str, np.ndarray], scope: str) -> list[np.ndarray]:
    out = []
    for proj in ("query_1/", "key_1/", "value_1/"):
        out += [pick(t, scope, proj, "Reshape:0").reshape(96, 2, 96), pick(t, scope, proj, "Add/ReadVariableOp")]
    out += [pick(t, scope, "attention_output_1/Reshape_1:0").reshape(2, 96, 96),
            pick(t, scope, "attention_output_1/BiasAdd/ReadVariableOp")]
    return out


def _assign(layer: keras.layers.Layer, weights: list[np.ndarray]) -> None:
    """Set a layer's weights in the order Keras lists them, checking every shape."""
    if len(layer.weights) != len(weights):
        raise SystemExit(f"{layer.name}: {len(layer.weights)} weights, {len(weights)} given")
    for var, value in zip(layer.weights, weights, strict=True):
        if tuple(var.shape) != value.shape:
            raise SystemExit(f"{var.path}: shape {tuple(var.shape)}, ONNX gives {value.shape}")
        var.assign(value)


def _unfold_batch_norms(model: keras.Model, folded: list, crops: np.ndarray) -> None:
    """Give each batch norm the statistics of its input on real crops (see the module doc)."""
    stem = model.get_layer("conv_stem")
    for norm, scale in folded:
        probe = keras.Model(model.inputs, _input_of(model, stem, norm))
        x = np.asarray(probe.predict(crops, verbose=0), np.float64).reshape(-1, scale.size)
        mean, var = x.mean(0), x.var(0)
        _, offset, _, _ = norm.get_weights()
        std = np.sqrt(var + norm.epsilon)
        norm.set_weights([(scale * std).astype(np.float32), (offset + mean * scale).astype(np.float32),
                          mean.astype(np.float32), var.astype(np.float32)])


def _input_of(model: keras.Model, stem: keras.Sequential, norm: keras.layers.Layer):
    """The symbolic tensor entering `norm` inside the stem, from the model's input."""
    x = model.get_layer(index=1)(model.inputs[0])  # the rescaling layer
    for layer in stem.layers:
        if layer is norm:
            return x
        x = layer(x)
    raise SystemExit(f"{norm.name} not in the stem")


if __name__ == "__main__":
    sys.exit(main())

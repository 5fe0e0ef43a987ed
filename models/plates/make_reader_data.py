"""Generate the plate reader's training set: padded crops of synthetic plates, as a detector
would cut them from a camera frame (fast-plate-ocr CSV: image_path, plate_text).

    python models/plates/make_reader_data.py --out .cache/plates/reader --train 24000 --val 2000
"""

from __future__ import annotations

import argparse
import csv
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.synth import background, camera, occlude, paste_plate, random_plate, second_pass  # noqa: E402
from video.plates.render import TRAINING_FONT_PACKAGES, hidden_slots, missing_training_fonts  # noqa: E402


def padded_crop(img: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator
                ) -> np.ndarray:
    """Cut the plate like the runtime does (box + ~4% x, ~10% y), with detector-like jitter."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if rng.random() < 0.15:  # tight or slightly cut boxes happen too
        px = rng.uniform(-0.02, 0.03, 2)
        py = rng.uniform(-0.04, 0.06, 2)
    else:
        px = rng.uniform(0.0, 0.09, 2)
        py = rng.uniform(0.02, 0.24, 2)
    cx1 = int(max(0, round(x1 - px[0] * w)))
    cx2 = int(min(img.shape[1], round(x2 + px[1] * w)))
    cy1 = int(max(0, round(y1 - py[0] * h)))
    cy2 = int(min(img.shape[0], round(y2 + py[1] * h)))
    return img[cy1:cy2, cx1:cx2]


def make_sample(seed: int, occluded: float = 0.0, trimmed: float = 0.0,
                typeface: float = 0.0, widths: tuple[float, float] = (48, 330),
                second: float = 0.0) -> tuple[np.ndarray, str, tuple[int, ...]]:
    """One crop, its plate's text, and the slots an occluder hides (drawn with probability
    `occluded`, from a generator of its own, so the same seed gives the same plate and
    framing with or without it). With probability `trimmed` an occluded plate's box stops
    where the occluder starts, as a detector often cuts it: the crop then shows a
    whole-looking shorter plate and a sliver of the object. With probability `typeface`
    the plate is drawn in a plate-like typeface (render_plate's `typeface_rng`, also from
    a generator of its own). The plate's width in pixels is drawn log-uniformly from
    `widths` (a narrower range gives a set of small plates, where the province glyph is a
    dozen pixels tall). With probability `second` the scene goes through the imaging chain a
    second time (synth.second_pass, from a generator of its own)."""
    rng = np.random.default_rng(seed)
    typeface_rng = np.random.default_rng([seed, 11])
    plate, text, kind = random_plate(rng, typeface_rng=typeface_rng if typeface_rng.random() < typeface else None)
    width = float(np.exp(rng.uniform(np.log(widths[0]), np.log(widths[1]))))
    ph, pw = plate.shape[:2]
    cw = int(width * 1.8) + 8
    ch = int(width * ph / pw * 2.6) + 8
    scene = background(ch, cw, rng)
    quad = paste_plate(scene, plate, (cw / 2, ch / 2), width, rng, max_skew=0.14, max_rot=8)
    xs, ys = quad[:, 0], quad[:, 1]
    box = (xs.min(), ys.min(), xs.max(), ys.max())
    hidden: tuple[int, ...] = ()
    occluder_rng = np.random.default_rng([seed, 7])
    if occluder_rng.random() < occluded:
        lo, hi = occlude(scene, box, occluder_rng, max_fraction=0.3)
        hidden = hidden_slots(kind, (lo, hi))
        if hidden and occluder_rng.random() < trimmed:
            x1, y1, x2, y2 = box
            w = x2 - x1
            box = (x1, y1, x1 + lo * w, y2) if lo > 0.01 else (x1 + hi * w, y1, x2, y2)
    scene = camera(scene, rng, strength=float(np.clip(width / 160, 0.3, 1.0)))
    second_rng = np.random.default_rng([seed, 13])
    if second_rng.random() < second:
        scene = second_pass(scene, second_rng, width)
    crop = padded_crop(scene, box, rng)
    return crop, text, hidden


def _write(args: tuple[Path, int, int, float, float, float, tuple[float, float], float]
           ) -> list[tuple[str, ...]]:
    folder, start, count, occluded, trimmed, typeface, widths, second = args
    rows = []
    for seed in range(start, start + count):
        crop, text, hidden = make_sample(seed, occluded, trimmed, typeface, widths, second)
        name = f"{seed:07d}.jpg"
        cv2.imwrite(str(folder / name), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
        row = (f"{folder.name}/{name}", text)
        rows.append((*row, ";".join(map(str, hidden))) if occluded else row)
    return rows


def build(out: Path, split: str, count: int, seed0: int, workers: int, occluded: float = 0.0,
          trimmed: float = 0.0, typeface: float = 0.0, widths: tuple[float, float] = (48, 330),
          second: float = 0.0) -> None:
    folder = out / split
    folder.mkdir(parents=True, exist_ok=True)
    chunk = 500
    jobs = [(folder, seed0 + i, min(chunk, count - i), occluded, trimmed, typeface, widths, second)
            for i in range(0, count, chunk)]
    with Pool(workers) as pool:
        rows = [r for part in pool.map(_write, jobs) for r in part]
    with open(out / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        # fast-plate-ocr's own trainer reads the first two columns; `hidden` lists the slots
        # an occluder hides (the slot reader learns to say so instead of guessing them)
        writer.writerow(["image_path", "plate_text", *(["hidden"] if occluded else [])])
        writer.writerows(rows)
    print(f"{split}: {len(rows)} crops in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/plates/reader"))
    parser.add_argument("--train", type=int, default=24000)
    parser.add_argument("--val", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-seed", type=int, default=0,
                        help="first seed of the training crops: a new value gives a fresh set "
                        "for continued training (keep it below 10,000,000, where val starts)")
    parser.add_argument("--occluded", type=float, default=0.0,
                        help="share of crops with an object hiding one end of the plate (their "
                        "hidden slots are listed in a third column, `hidden`)")
    parser.add_argument("--trimmed", type=float, default=0.0,
                        help="share of the crops with a hidden glyph whose box stops at the occluder")
    parser.add_argument("--typeface", type=float, default=0.0,
                        help="share of plates drawn in a plate-like typeface (narrow DIN-like "
                        "Latin fonts, the plate's bar-shaped 1, more CJK weights)")
    parser.add_argument("--widths", type=float, nargs=2, default=(48.0, 330.0), metavar=("MIN", "MAX"),
                        help="plate widths in pixels, drawn log-uniformly (e.g. 48 120 for small plates)")
    parser.add_argument("--second-pass", type=float, default=0.0,
                        help="share of crops that go through the imaging chain twice (resampled, "
                        "sharpened, colour bled, compressed again: screenshots, web resizes, zooms)")
    args = parser.parse_args()
    if missing := missing_training_fonts():
        print(f"warning: {len(missing)} fonts missing ({', '.join(Path(m).name for m in missing)}): these seeds"
              f" draw other plates than the recorded training sets; apt-get install {TRAINING_FONT_PACKAGES}")
    build(args.out, "train", args.train, args.train_seed, args.workers, args.occluded, args.trimmed, args.typeface,
          tuple(args.widths), args.second_pass)
    build(args.out, "val", args.val, 10_000_000, args.workers, args.occluded, args.trimmed, args.typeface,
          tuple(args.widths), args.second_pass)  # disjoint seeds: held out


if __name__ == "__main__":
    main()

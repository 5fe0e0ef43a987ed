"""Generate the plate detector's training set: synthetic street scenes in YOLO format.

Scenes are 320x320 at the scale the runtime sees them (a 1280x720 frame letterboxed to
640 px halves every plate: 60-300 px plates become 30-150 px; still photos add smaller
ones), so the detector trains fast at imgsz=320 and runs on whole frames at 640.

    python models/plates/make_detector_data.py --out .cache/plates/detector --train 2400 --val 200
"""

from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.synth import (  # noqa: E402
    Placed,
    background,
    camera,
    draw_car,
    draw_distractors,
    occlude,
    paste_plate,
    random_plate,
)
from video.plates.render import hidden_slots  # noqa: E402


def _overlaps(box, boxes, margin: float = 0.15) -> bool:
    x1, y1, x2, y2 = box
    for a1, b1, a2, b2 in boxes:
        mx = (x2 - x1) * margin
        if not (x2 + mx < a1 or a2 + mx < x1 or y2 + mx < b1 or b2 + mx < y1):
            return True
    return False


def heldout_scene(seed0: int, index: int) -> tuple[np.ndarray, list[Placed]]:
    """Scene `index` of a held-out range starting at `seed0`, as every evaluation and
    measurement draws it: 1-4 plates of 60-300 px, a 1280x720 frame (every fourth 1920x1080)."""
    size = (1920, 1080) if index % 4 == 3 else (1280, 720)
    return make_scene(seed0 + index, size=size, min_w=60, max_w=300, max_plates=4)


def make_scene(seed: int, size: tuple[int, int] = (320, 320), min_w: float = 16,
               max_w: float = 170, max_plates: int = 3) -> tuple[np.ndarray, list[Placed]]:
    """One scene and the plates in it (corners in pixels)."""
    rng = np.random.default_rng(seed)
    w, h = size
    scene = background(h, w, rng)
    draw_distractors(scene, rng, int(rng.integers(0, 7)))
    n = 0 if rng.random() < 0.08 else int(rng.integers(1, max_plates + 1))
    # choose every car first, draw them, then the plates: nothing drawn later hides a plate
    spots: list[tuple[np.ndarray, str, str, float, float, float]] = []
    cars: list[tuple[float, float, float, float]] = []
    for _ in range(n * 6):
        if len(spots) >= n:
            break
        plate, text, kind = random_plate(rng)
        pw = float(np.exp(rng.uniform(np.log(min_w), np.log(max_w))))
        ph = pw * plate.shape[0] / plate.shape[1]
        cx = rng.uniform(pw * 0.6, w - pw * 0.6)
        cy = rng.uniform(ph * 1.2, h - ph * 1.2)
        car_w = pw * rng.uniform(3.5, 6.0)
        car = (cx - car_w / 2, cy - car_w * 0.45, cx + car_w / 2, cy + car_w * 0.12)
        if _overlaps(car, cars, 0.05):
            continue
        cars.append(car)
        spots.append((plate, text, kind, cx, cy, pw))
    for car in cars:
        if rng.random() < 0.75:
            draw_car(scene, tuple(int(v) for v in car), rng)
    placed: list[Placed] = []
    for plate, text, kind, cx, cy, pw in spots:
        quad = paste_plate(scene, plate, (cx, cy), pw, rng)
        item = Placed(quad=quad, text=text, kind=kind)
        if rng.random() < 0.1:
            item = Placed(quad=quad, text=text, kind=kind,
                          hidden=hidden_slots(kind, occlude(scene, item.box, rng)))
        placed.append(item)
    scene = camera(scene, rng)
    return scene, placed


def yolo_label(item: Placed, w: int, h: int) -> str | None:
    x1, y1, x2, y2 = item.box
    x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
    if x2 - x1 < 4 or y2 - y1 < 3:
        return None
    return f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def _write(args: tuple[Path, int, int]) -> int:
    root, start, count = args
    for seed in range(start, start + count):
        scene, placed = make_scene(seed)
        h, w = scene.shape[:2]
        name = f"{seed:07d}"
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), scene, [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines = [line for item in placed if (line := yolo_label(item, w, h))]
        (root / "labels" / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    return count


def build(out: Path, split: str, count: int, seed0: int, workers: int) -> None:
    root = out / split
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    chunk = 100
    jobs = [(root, seed0 + i, min(chunk, count - i)) for i in range(0, count, chunk)]
    with Pool(workers) as pool:
        total = sum(pool.map(_write, jobs))
    print(f"{split}: {total} scenes in {root}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/plates/detector"))
    parser.add_argument("--train", type=int, default=2400)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    build(args.out, "train", args.train, 20_000_000, args.workers)
    build(args.out, "val", args.val, 30_000_000, args.workers)
    (args.out / "plates.yaml").write_text(
        f"path: {args.out.resolve()}\ntrain: train/images\nval: val/images\nnames:\n  0: plate\n")


if __name__ == "__main__":
    main()

"""How wide per tall the runtime's standard crop of a plate is, single rows against double
rows, on held-out synthetic scenes: the numbers behind line_reader.DOUBLE_ROW_ASPECT and
SINGLE_ROW_ASPECT (a crop between the two is read both ways).

    python models/plates/measure_row_aspect.py --scenes 150
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.make_detector_data import heldout_scene  # noqa: E402
from video.plates.recognizer import pad_box  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=150)
    parser.add_argument("--seed0", type=int, default=41_000_000)
    args = parser.parse_args()
    aspects: dict[str, list[float]] = {"single row": [], "double row": []}
    for i in range(args.scenes):
        scene, placed = heldout_scene(args.seed0, i)
        for item in placed:
            x1, y1, x2, y2 = pad_box(tuple(int(v) for v in item.box), scene.shape)
            aspects["double row" if item.kind == "yellow_double" else "single row"].append((x2 - x1) / (y2 - y1))
    for kind, values in aspects.items():
        q = np.percentile(values, [0, 2, 5, 50, 95, 100]).round(2)
        print(f"{kind}: {len(values)} plates; min {q[0]}, 2% {q[1]}, 5% {q[2]}, median {q[3]}, 95% {q[4]}, max {q[5]}")


if __name__ == "__main__":
    main()

"""Our three readers' raw read of each hand-cut real plate, without PP-OCR or the bar:
the string, the product of its glyphs' probabilities and each glyph's probability. Shows
whether a real plate the product misses is read wrong or read right but unsure.

    python models/plates/raw_real_reads.py

Uses the labelled crops of tests/data/plates_real_labels.tsv on ../shared/dev_media/plates_real/
(the same crops `evaluate_real.py` reads with `--crop`, framed the same way). A check, not
a training or tuning set.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.evaluate_real import PHOTOS, load_labels  # noqa: E402
from video.plates.recognizer import PAD_X, PAD_Y, VIEWS, PlateRecognizer, plate_views  # noqa: E402


def main() -> None:
    if not PHOTOS.is_dir():
        raise SystemExit(f"no real photos at {PHOTOS}")
    reader = PlateRecognizer.load(use_ppocr=False).reader
    print("| plate | width px | raw read | right | product | per glyph |\n|---|---|---|---|---|---|")
    for row in load_labels():
        if row["status"] != "read":
            continue
        x1, y1, x2, y2 = (int(v) for v in row["crop"].split(","))
        crop = cv2.imread(str(PHOTOS / row["image"]))[y1:y2, x1:x2]
        h, w = crop.shape[:2]
        # as PlateRecognizer.read_crop frames it: the crop holds the plate with the standard margins
        bx = int(np.ceil(w * max(px + abs(shift) for px, _, shift in VIEWS))) + 1
        by = int(np.ceil(h * max(py for _, py, _ in VIEWS))) + 1
        canvas = cv2.copyMakeBorder(crop, by, by, bx, bx, cv2.BORDER_REPLICATE)
        ix, iy = w * PAD_X / (1 + 2 * PAD_X), h * PAD_Y / (1 + 2 * PAD_Y)
        box = (round(bx + ix), round(by + iy), round(bx + w - ix), round(by + h - iy))
        read = reader.read_views([plate_views(canvas, box)])[0]
        product = float(np.prod(read.probs[: len(read.raw)]))
        glyphs = " ".join(f"{p:.2f}" for p in read.probs)
        print(f"| {row['plate']} | {w} | {read.raw} | {'yes' if read.raw == row['plate'] else 'no'} "
              f"| {product:.2f} | {glyphs} |")


if __name__ == "__main__":
    main()

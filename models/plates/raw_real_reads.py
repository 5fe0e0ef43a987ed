"""Our readers' raw read of each hand-cut real plate, without PP-OCR or the bar: the three
trained from scratch, the line reader, and the two joined as at run time; the string, the
product of its glyphs' probabilities and each glyph's probability. Shows whether a real
plate the product misses is read wrong or read right but unsure.

    python models/plates/raw_real_reads.py

Uses the labelled crops of tests/data/plates_real_labels.tsv on ../shared/dev_media/plates_real/
(the same crops `evaluate_real.py` reads with `--crop`, framed the same way). A check, not
a training or tuning set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.evaluate_real import PHOTOS, load_labels  # noqa: E402
from video.plates.line_reader import LineReader  # noqa: E402
from video.plates.recognizer import PlateRecognizer, crop_views  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line-model", type=Path, default=None,
                        help="a line reader ONNX (default: the recogniser's own, if it has one)")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        raise SystemExit(f"no real photos at {PHOTOS}")
    recognizer = PlateRecognizer.load(use_ppocr=False)
    reader = recognizer.reader
    line_reader = LineReader(args.line_model) if args.line_model else reader.line
    print("| plate | width px | our three readers | right | product | per glyph | line reader | right | "
          "per glyph | joined (runtime) | right | product |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in load_labels():
        if row["status"] != "read":
            continue
        x1, y1, x2, y2 = (int(v) for v in row["crop"].split(","))
        crop = cv2.imread(str(PHOTOS / row["image"]))[y1:y2, x1:x2]
        w = crop.shape[1]
        views = crop_views(crop)  # as PlateRecognizer.read_crop frames it
        reader.line = None
        read = reader.read_views([views])[0]
        reader.line = line_reader
        joined = reader.read_views([views])[0]
        product = float(np.prod(read.probs[: len(read.raw)]))
        glyphs = " ".join(f"{p:.2f}" for p in read.probs)
        line = line_reader.read([views[0]])[0] if line_reader else None
        line_cells = (f"{line.text} | {'yes' if line.text == row['plate'] else 'no'} | "
                      + " ".join(f"{p:.2f}" for p in line.probs)) if line else "- | - | -"
        print(f"| {row['plate']} | {w} | {read.raw} | {'yes' if read.raw == row['plate'] else 'no'} "
              f"| {product:.2f} | {glyphs} | {line_cells} | {joined.raw} | "
              f"{'yes' if joined.raw == row['plate'] else 'no'} | {np.prod(joined.probs[: len(joined.raw)]):.2f} |")


if __name__ == "__main__":
    main()

"""Measure how far PP-OCR's text-line boxes lie outside the plates' true boxes, on held-out
synthetic scenes: the source of LINE_INSET and NO_PROVINCE_LINE_INSET in
video/plates/recognizer.py.

    python models/plates/measure_line_inset.py --scenes 60

Prints, for whole lines (province first) and lines read without their province, the
median, 25th and 75th percentile of (left, right, top, bottom) insets: plate box minus
line box, as fractions of the line's width (left, right) or height (top, bottom); negative
= the line's box reaches past the plate. Double-row plates are left out (their rows are
separate lines).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.plates.make_detector_data import heldout_scene  # noqa: E402
from video.plates.grammar import PROVINCES  # noqa: E402
from video.plates.recognizer import PlateRecognizer, plate_shaped_line, ppocr_lines, top_row_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--seed0", type=int, default=45_000_000)
    args = parser.parse_args()
    ocr = PlateRecognizer.load(use_ppocr=True)._ppocr(rec_only=False)
    insets: dict[str, list[tuple[float, ...]]] = {"whole line": [], "without province": [],
                                                  "double row, both rows joined": []}
    for i in range(args.scenes):
        scene, placed = heldout_scene(args.seed0, i)
        result = ocr(scene, use_cls=False)
        lines = ppocr_lines(result)
        for (lx1, ly1, lx2, ly2), clean, _ in lines:
            lw, lh = lx2 - lx1, ly2 - ly1
            if not clean or not plate_shaped_line(lw, lh, clean):
                continue
            top = top_row_of((lx1, ly1, lx2, ly2), clean, lines)
            if top is not None:
                (tx1, ty1, tx2, _), _, _ = top
                jx1, jy1, jx2, jy2 = min(lx1, tx1), ty1, max(lx2, tx2), ly2
                jw, jh = jx2 - jx1, jy2 - jy1
                for item in placed:
                    x1, y1, x2, y2 = item.box
                    if x1 <= (lx1 + lx2) / 2 <= x2 and y1 <= (ly1 + ly2) / 2 <= y2 and not item.hidden \
                            and item.kind == "yellow_double":
                        insets["double row, both rows joined"].append(
                            ((jx1 - x1) / jw, (x2 - jx2) / jw, (jy1 - y1) / jh, (y2 - jy2) / jh))
                continue
            for item in placed:
                x1, y1, x2, y2 = item.box
                inside = x1 <= (lx1 + lx2) / 2 <= x2 and y1 <= (ly1 + ly2) / 2 <= y2
                if inside and not item.hidden and item.kind != "yellow_double":
                    key = "whole line" if clean[0] in PROVINCES else "without province"
                    insets[key].append(((lx1 - x1) / lw, (x2 - lx2) / lw, (ly1 - y1) / lh, (y2 - ly2) / lh))
    for key, rows in insets.items():
        if rows:
            a = np.array(rows)
            print(f"{key}: {len(a)} lines; (left, right, top, bottom) median {np.round(np.median(a, 0), 3)}, "
                  f"p25 {np.round(np.percentile(a, 25, 0), 3)}, p75 {np.round(np.percentile(a, 75, 0), 3)}")


if __name__ == "__main__":
    main()

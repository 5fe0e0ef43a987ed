"""Run the peer, HyperLPR (PyPI hyperlpr2==2.0.0), on the labelled real photos.

It needs opencv-python<5, so it lives in its own venv; run it there:

    python -m venv .venv-peer && .venv-peer/bin/pip install hyperlpr2==2.0.0 'opencv-python<5'
    .venv-peer/bin/python bench/peer_hyperlpr.py > .cache/peer_hyperlpr.jsonl

Prints one JSON line per (image, mode): mode "frame" is the whole photo, mode "crop" is a
hand-cut plate box from tests/data/plates_real_labels.tsv; texts as the peer returns them
(normalisation and scoring happen on our side, in models/plates/evaluate_real.py).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "dev_media" / "plates_real"
LABELS = ROOT / "tests" / "data" / "plates_real_labels.tsv"


def main() -> None:
    from hyperlpr2 import PR, HyperLPR_plate_recognition

    lines = [line for line in LABELS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    images = sorted({r["image"] for r in rows} | {p.name for p in PHOTOS.iterdir()})
    for name in images:
        image = cv2.imread(str(PHOTOS / name))
        HyperLPR_plate_recognition(image)  # warm-up
        t0 = time.perf_counter()
        res = HyperLPR_plate_recognition(image)
        ms = (time.perf_counter() - t0) * 1000
        print(json.dumps({"image": name, "mode": "frame", "ms": ms,
                          "texts": [r[0] for r in res], "confidences": [float(r[1]) for r in res]},
                         ensure_ascii=False))
    for i, row in enumerate(rows):
        image = cv2.imread(str(PHOTOS / row["image"]))
        x1, y1, x2, y2 = (int(v) for v in row["crop"].split(","))
        crop = image[y1:y2, x1:x2]
        t0 = time.perf_counter()
        try:
            text, conf = PR.segmentation_free_recognition(PR.finetune(crop))
        except Exception as exc:  # the peer's fine-mapping step fails on some crops
            print(f"peer finetune failed on row {i}: {exc}", file=sys.stderr)
            text, conf = PR.segmentation_free_recognition(crop)
        ms = (time.perf_counter() - t0) * 1000
        print(json.dumps({"image": row["image"], "row": i, "mode": "crop", "ms": ms,
                          "texts": [text], "confidences": [float(conf)]}, ensure_ascii=False))


if __name__ == "__main__":
    main()

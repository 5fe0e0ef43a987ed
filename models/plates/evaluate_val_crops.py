"""Where the reader fails on its own val crops: exact reads by crop width, accuracy by slot.

    python models/plates/evaluate_val_crops.py [--data .cache/plates/reader] [--limit 1000]

The val crops are fast-plate-ocr's validation set (make_reader_data.py, seeds from
10,000,000, never trained on), read through the runtime's PlateReader. If wide, clear crops
fail as often as narrow ones, or one slot is far below the others, the model is still
learning; if only narrow crops fail, the pixels are the limit.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from video.plates.recognizer import PlateReader  # noqa: E402

BUCKET_PX = 40
WIDE_PX = 160


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/plates/reader")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--without-province", action="store_true",
                        help="read slot 0 with the plate reader alone (the province reader's baseline)")
    parser.add_argument("--without-slots", action="store_true",
                        help="without the slot reader's opinion (its baseline)")
    args = parser.parse_args()
    if not (args.data / "val.csv").is_file():
        sys.exit(f"no val crops in {args.data}: python models/plates/make_reader_data.py --out {args.data}")
    reader = PlateReader.load()
    if args.without_province:
        reader.province = None
    if args.without_slots:
        reader.slots = None
    with open(args.data / "val.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[: args.limit]
    by_width: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
    slot_right: defaultdict[int, int] = defaultdict(int)
    slot_seen: defaultdict[int, int] = defaultdict(int)
    wide_wrong = wide_province_only = 0  # wrong reads of crops >= WIDE_PX, and those wrong in slot 0 alone
    for row in rows:
        crop = cv2.imread(str(args.data / row["image_path"]), cv2.IMREAD_COLOR)
        text = reader.read([crop])[0].raw
        read, truth = text.rstrip("_"), row["plate_text"]
        bucket = min(crop.shape[1] // BUCKET_PX, 8)
        by_width[bucket][0] += read == truth
        by_width[bucket][1] += 1
        if crop.shape[1] >= WIDE_PX and read != truth:
            wide_wrong += 1
            wide_province_only += len(read) == len(truth) and read[1:] == truth[1:]
        for i, char in enumerate(truth):
            slot_seen[i] += 1
            slot_right[i] += i < len(read) and read[i] == char
    print(f"{len(rows)} val crops from {args.data}\n\n| crop width px | exact |\n|---|---|")
    for bucket in sorted(by_width):
        right, seen = by_width[bucket]
        label = f"{bucket * BUCKET_PX}+" if bucket == 8 else f"{bucket * BUCKET_PX}-{bucket * BUCKET_PX + BUCKET_PX - 1}"
        print(f"| {label} | {right}/{seen} = {right / seen:.0%} |")
    print("\n| slot | " + " | ".join(str(i) for i in sorted(slot_seen)) + " |")
    print("|---|" + "---|" * len(slot_seen))
    print("| right | " + " | ".join(f"{slot_right[i] / slot_seen[i]:.2f}" for i in sorted(slot_seen)) + " |")
    print(f"\nwrong reads of crops >= {WIDE_PX} px wide: {wide_wrong}, of which wrong in the "
          f"province glyph alone: {wide_province_only}")


if __name__ == "__main__":
    main()

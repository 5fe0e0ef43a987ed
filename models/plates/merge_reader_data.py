"""Join crop sets written by make_reader_data.py into one folder, for trainers that take a
single data folder (fast-plate-ocr's, through train_reader.sh).

    python models/plates/merge_reader_data.py --out .cache/plates/reader9_10 \
        .cache/plates/reader10var .cache/plates/reader9tf

The images stay where they are (each set's folders are linked in as train0, train1, ...);
train.csv lists every set's crops, val.csv the first set's. The `hidden` column is kept, so
train_reader.sh can leave the occluded glyphs out as it does for one set.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def merge(out: Path, sources: list[Path]) -> dict[str, int]:
    """Write out/train.csv and out/val.csv over the linked sets; returns the rows per split."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "val"):
        rows = []
        for i, source in enumerate(sources if split == "train" else sources[:1]):  # val: the first set's
            link = out / f"{split}{i}"
            if not link.exists():
                link.symlink_to((source / split).resolve(), target_is_directory=True)
            with open(source / f"{split}.csv", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    name = row["image_path"].split("/", 1)[1]
                    rows.append([f"{split}{i}/{name}", row["plate_text"], row.get("hidden") or ""])
        with open(out / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image_path", "plate_text", "hidden"])
            writer.writerows(rows)
        counts[split] = len(rows)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("sources", type=Path, nargs="+", help="make_reader_data.py output folders")
    args = parser.parse_args()
    for split, n in merge(args.out, args.sources).items():
        print(f"{split}: {n} crops in {args.out / (split + '.csv')}")


if __name__ == "__main__":
    main()

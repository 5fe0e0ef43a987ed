"""`cityops plates [--crop] IMAGE...`: read plates in image files, one JSON line per plate.

Anyone can check the reader on their own photos with this. An image that cannot be read
(missing, corrupt, empty) is reported on stderr and the run goes on; the exit code is 1
at the end if any image failed, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from video.plates.grammar import display_plate


def load_image(path: Path) -> np.ndarray:
    """Decode an image file, or raise ValueError saying why it cannot be read."""
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not an image")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"{path}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ValueError(f"{path}: not a readable image (corrupt or unsupported format)")
    return image


def run_plates(paths: list[Path], crop: bool = False, out: TextIO = sys.stdout,
               recognizer=None) -> int:
    """Print one JSON object per plate found; return 1 if any image failed, else 0."""
    from video.plates.recognizer import PlateRecognizer

    recognizer = recognizer or PlateRecognizer.load()
    failed = 0
    for path in map(Path, paths):
        try:
            image = load_image(path)
        except ValueError as exc:
            print(f"cityops plates: {exc}", file=sys.stderr)
            failed += 1
            continue
        if crop:
            found = recognizer.read_crop(image)
            detections = [found] if found is not None else []
        else:
            detections = recognizer.read_frame(image)
        for det in detections:
            confidence = min(det.char_confidences) if det.text and det.char_confidences else 0.0
            record = {
                "image": str(path),
                "text": det.text,
                "display": display_plate(det.text) if det.text else None,
                "confidence": round(confidence, 4),
                "bbox": list(det.bbox),
                "color": det.color,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (python -m video.plates.cli [--crop] IMAGE...)."""
    import argparse

    parser = argparse.ArgumentParser(prog="cityops plates", description=__doc__.splitlines()[0])
    parser.add_argument("--crop", action="store_true", help="each image is one plate: skip detection")
    parser.add_argument("images", nargs="+", type=Path)
    args = parser.parse_args(argv)
    return run_plates(args.images, crop=args.crop)


if __name__ == "__main__":
    raise SystemExit(main())

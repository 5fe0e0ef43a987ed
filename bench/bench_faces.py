"""Speed of the face path on this machine: `python -m bench.bench_faces [--repeat N]`.

Medians (ms) over N runs, after one warm-up run, on 1280x720 frames made from the sample
faces in tests/data/faces/: `zidane.jpg` (already 720p, one 168 px face) and `t1.jpg`
scaled to 720p (six ~95 px faces, which the 960 px first pass shrinks below dlib's 80 px
window, so only the small-face pass finds them). Prints a markdown table for
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from streams.config import REPO_ROOT
from streams.watchlist import Watchlist
from video.faces.detect import detect_faces, encode_faces, face_quality

SAMPLES = REPO_ROOT / "tests" / "data" / "faces"


def median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up: model loading, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def frames_720p() -> dict[str, np.ndarray]:
    zidane = cv2.imread(str(SAMPLES / "zidane.jpg"))
    t1 = cv2.imread(str(SAMPLES / "t1.jpg"))
    canvas = np.zeros((720, 1280, 3), np.uint8)
    scaled = cv2.resize(t1, (round(t1.shape[1] * 720 / t1.shape[0]), 720), interpolation=cv2.INTER_AREA)
    x = (1280 - scaled.shape[1]) // 2
    canvas[:, x : x + scaled.shape[1]] = scaled
    return {"zidane 720p (1 face)": zidane, "t1 720p (6 faces)": canvas}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, float, str]] = []
    for name, frame in frames_720p().items():
        faces = detect_faces(frame)
        box = faces[0]
        region = (max(0, box[0] - 150), max(0, box[1] - 100), min(1280, box[2] + 150), min(720, box[3] + 300))
        cases: list[tuple[str, Callable[[], object]]] = [
            ("detect, first pass only (960 px)", lambda f=frame: detect_faces(f, upsample_small=False)),
            ("detect, small faces in one motion region", lambda f=frame, r=region: detect_faces(f, regions=[r])),
            ("detect, small faces over the whole frame", lambda f=frame: detect_faces(f)),
        ]
        for label, work in cases:
            found = len(work())  # type: ignore[arg-type]
            rows.append((name, label, median_ms(work, args.repeat), f"{found} found"))
        rows.append((name, "encode, per face", median_ms(lambda f=frame, b=box: encode_faces(f, [b]), args.repeat), ""))
        per_face = median_ms(lambda f=frame, b=faces: encode_faces(f, b), args.repeat) / len(faces)
        rows.append((name, f"encode, per face in a batch of {len(faces)}", per_face, ""))
        rows.append((name, "quality (pick the best view), per face", median_ms(lambda f=frame, b=box: face_quality(f, b), args.repeat), ""))
    rows.extend(_matching_rows(args.repeat))
    load = os.getloadavg()[0]
    print(f"Medians of {args.repeat} runs (ms); {os.cpu_count()} cores, load average {load:.1f} at the end.\n")
    print("| frame | step | ms | note |")
    print("|---|---|---|---|")
    for frame_name, label, ms, note in rows:
        print(f"| {frame_name} | {label} | {ms:.1f} | {note} |")
    return 0


def _matching_rows(repeat: int) -> list[tuple[str, str, float, str]]:
    """Naming a face against a large watch list, and against many unknown people."""
    from video.faces.matcher import FaceMatcher

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as home, Watchlist(Path(home)) as watchlist:
        for i in range(1000):
            watchlist.enroll(f"person{i:04d}", [rng.normal(size=128) * 0.09], "bench")
        matcher = FaceMatcher(watchlist, Path(home))
        probes = [rng.normal(size=128) * 0.09 for _ in range(200)]
        for probe in probes:  # 200 unknown people
            matcher.identify(probe)
        ms = median_ms(lambda: matcher.identify(probes[7]), repeat * 10)
        rows.append(("-", "identify vs 1000 enrolled + 200 unknown people", ms, "numpy, no index"))
        matcher.close()
    return rows


if __name__ == "__main__":
    raise SystemExit(main())

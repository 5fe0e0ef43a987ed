"""Speed of the plate path on this machine: medians over many runs, one thread each.

    python bench/bench_plates.py --runs 200 [--write docs/BENCHMARKS.md]

Measures: YOLO detection per 1280x720 frame (onnxruntime, letterbox included; one look, as
video's fine pass, and the still-image path's two looks), reading
per plate (fast-plate-ocr ONNX, one crop per call, per plate in a batch of 8, and the
read of a plate the first crop leaves unsure: all its VIEWS crops, averaged; the line
reader that our readers ask about plates they are unsure of), the
whole read_frame on a frame with two plates, and PP-OCR (rapidocr) on the same frame.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.plates.make_detector_data import make_scene  # noqa: E402
from video.plates.recognizer import VIEWS, PlateRecognizer, pad_box, plate_views  # noqa: E402


def median_ms(fn, runs: int, warmup: int = 5) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--ppocr-runs", type=int, default=20)
    parser.add_argument("--write", type=Path, default=None, help="append the table to this markdown file")
    args = parser.parse_args()
    rec = PlateRecognizer.load(use_ppocr=False)
    frame, placed = make_scene(40_000_001, size=(1280, 720), min_w=100, max_w=220, max_plates=2)
    dets = rec.detector.detect(frame)
    crops = [frame[y1:y2, x1:x2] for x1, y1, x2, y2 in (pad_box(b, frame.shape) for b, _ in dets)]
    if not crops:
        raise SystemExit("no plate found in the benchmark frame: is the detector model right?")
    crop = crops[0]
    batch = [crop] * 8
    rows = []
    det_ms = median_ms(lambda: rec.detector.detect(frame), args.runs)
    rows.append(("YOLO detection, 1280x720 frame (384x640 input)", "ms / frame", *det_ms))
    two_ms = median_ms(lambda: rec.detector.detect_two_scales(frame), args.runs)
    rows.append(("YOLO detection, two looks (384x640 and 736x1280: still images)", "ms / frame", *two_ms))
    read_ms = median_ms(lambda: rec.reader.read([crop]), args.runs)
    rows.append(("reading (fast-plate-ocr + slot reader + province reader), 1 plate per call", "ms / plate",
                 *read_ms))
    slots_ms = median_ms(lambda: rec.reader.slots.distributions([crop]), args.runs)
    rows.append(("of which the slot reader", "ms / plate", *slots_ms))
    province_ms = median_ms(lambda: rec.reader.province.distributions([crop]), args.runs)
    rows.append(("of which the province reader", "ms / plate", *province_ms))
    if rec.reader.line is not None:
        line_ms = median_ms(lambda: rec.reader.line.read([crop]), args.runs)
        rows.append(("the line reader (fine-tuned PP-OCR recogniser), asked on unsure plates", "ms / plate",
                     *line_ms))
    batch_ms = median_ms(lambda: rec.reader.read(batch), args.runs)
    rows.append(("reading, batch of 8", "ms / plate", batch_ms[0] / 8, batch_ms[1] / 8))
    views = [plate_views(frame, dets[0][0])]
    views_ms = median_ms(lambda: rec.reader.read_views(views, sure=1.01), args.runs)
    rows.append((f"read of an unsure plate: {len(VIEWS)} views, averaged", "ms / plate", *views_ms))
    frame_ms = median_ms(lambda: rec.read_frame(frame), args.runs)
    rows.append((f"read_frame end to end ({len(dets)} plates)", "ms / frame", *frame_ms))
    pp = PlateRecognizer(rec.detector, rec.reader, use_ppocr=True)
    pp_ms = median_ms(lambda: pp._ppocr_pass(frame), args.ppocr_runs, warmup=2)
    rows.append(("PP-OCR (rapidocr) det+rec pass, same frame", "ms / frame", *pp_ms))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores "
        f"(shared), onnxruntime with 1 thread. Medians over {args.runs} runs "
        f"({args.ppocr_runs} for PP-OCR), 90th percentile beside.",
        "",
        "| what | unit | median | p90 | median / one-crop read (same run) |",
        "|---|---|---|---|---|",
        *[f"| {what} | {unit} | {med:.2f} | {p90:.2f} | {med / read_ms[0]:.2f} |" for what, unit, med, p90 in rows],
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

"""Score the plate path on the labelled real photos, beside the peer (HyperLPR).

    .venv-peer/bin/python bench/peer_hyperlpr.py > .cache/peer_hyperlpr.jsonl
    python models/plates/evaluate_real.py --peer .cache/peer_hyperlpr.jsonl

Counts, per image: exact = labelled plates (status `read`) whose string was output;
wrong = output strings that match no plate of the image (a confident wrong read);
foreign/unsure/unreadable plates are never counted as missed. Prints markdown tables
for docs/ACCURACY.md. The photos are a check, not a training set: nothing is tuned here.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.plates.evaluate_synthetic import iou  # noqa: E402
from video.plates.grammar import normalize_plate  # noqa: E402
from video.plates.recognizer import (  # noqa: E402
    DETECTOR_MIN_SCORE,
    PlateRecognizer,
    _clean,
    plate_shaped_line,
)

PHOTOS = ROOT.parent / "shared" / "dev_media" / "plates_real"
LABELS = ROOT / "tests" / "data" / "plates_real_labels.tsv"


def load_labels(path: Path = LABELS) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def score(outputs: list[str | None], plates: list[dict[str, str]]) -> tuple[int, int, int]:
    """(exact, wrong, counted) for one image's outputs against its labelled plates."""
    texts = {normalize_plate(t) for t in outputs if t} - {None}
    counted = [p for p in plates if p["status"] == "read"]
    any_label = {normalize_plate(p["plate"]) for p in plates if p["status"] in ("read", "unsure")}
    exact = sum(1 for p in counted if normalize_plate(p["plate"]) in texts)
    wrong = sum(1 for t in texts if t not in any_label)
    return exact, wrong, len(counted)


def verdict(text: str | None, truth: str | None, foreign: bool) -> str:
    if foreign:
        return "wrong" if text else "ok (none)"
    return "exact" if text == truth else ("wrong" if text else "none")


def ppocr_plate_lines(rec: PlateRecognizer, image) -> list[tuple[float, float, float, float]]:
    """Boxes of PP-OCR's text lines that the runtime would take as plate candidates."""
    result = rec._ppocr(rec_only=False)(image, use_cls=False)
    boxes = []
    for quad, txt in zip(result.boxes if result.boxes is not None else (), result.txts or (), strict=False):
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        if plate_shaped_line(max(xs) - min(xs), max(ys) - min(ys), _clean(txt)):
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return boxes


def detectors_side_by_side(rec: PlateRecognizer, labels: list[dict[str, str]]) -> None:
    """Which labelled plates each detector finds (IoU >= 0.3 with the hand-cut box, which
    is looser than a detector's), and how many of its boxes match no labelled plate."""
    print("\n### Detectors side by side on the real photos\n")
    print("| image | plates (read + foreign) | YOLO found, one look | YOLO found, two looks (runtime) "
          "| PP-OCR lines found | either | YOLO boxes on no plate | PP-OCR plate-shaped lines on no plate |")
    print("|---|---|---|---|---|---|---|---|")
    tot = defaultdict(int)
    by_image: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in labels:
        by_image[row["image"]].append(row)
    for name in sorted({p.name for p in PHOTOS.iterdir()}):
        image = cv2.imread(str(PHOTOS / name))
        rows = by_image.get(name, [])
        hand = [tuple(float(v) for v in r["crop"].split(",")) for r in rows if r.get("crop")]
        judged = [tuple(float(v) for v in r["crop"].split(",")) for r in rows
                  if r.get("crop") and r["status"] in ("read", "foreign")]
        one_look = [b for b, _ in rec.detector.detect(image, min_score=DETECTOR_MIN_SCORE)]
        yolo = [b for b, _ in rec.detector.detect_two_scales(image, min_score=DETECTOR_MIN_SCORE)]
        lines = ppocr_plate_lines(rec, image)
        y1 = sum(any(iou(h, b) >= 0.3 for b in one_look) for h in judged)
        y = sum(any(iou(h, b) >= 0.3 for b in yolo) for h in judged)
        p = sum(any(iou(h, b) >= 0.3 for b in lines) for h in judged)
        e = sum(any(iou(h, b) >= 0.3 for b in yolo + lines) for h in judged)
        yf = sum(all(iou(h, b) < 0.1 for h in hand) for b in yolo)
        pf = sum(all(iou(h, b) < 0.1 for h in hand) for b in lines)
        for key, v in (("n", len(judged)), ("y1", y1), ("y", y), ("p", p), ("e", e), ("yf", yf), ("pf", pf)):
            tot[key] += v
        print(f"| {name} | {len(judged)} | {y1} | {y} | {p} | {e} | {yf} | {pf} |")
    print(f"| **total** | {tot['n']} | {tot['y1']} | **{tot['y']}** | **{tot['p']}** | **{tot['e']}** | {tot['yf']} | {tot['pf']} |")


def timed(fn, *args, repeat: int = 3):
    fn(*args)  # warm-up
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, (time.perf_counter() - t0) * 1000)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, default=ROOT / ".cache" / "peer_hyperlpr.jsonl")
    parser.add_argument("--no-ppocr", action="store_true", help="YOLO + reader only")
    args = parser.parse_args()
    labels = load_labels()
    by_image: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in labels:
        by_image[row["image"]].append(row)
    images = sorted({p.name for p in PHOTOS.iterdir()})
    peer_frame, peer_crop = {}, {}
    if args.peer.exists():
        for line in args.peer.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["mode"] == "frame":
                peer_frame[rec["image"]] = rec
            else:
                peer_crop[rec["row"]] = rec
    rec = PlateRecognizer.load(use_ppocr=not args.no_ppocr)
    yolo_only = PlateRecognizer(rec.detector, rec.reader, use_ppocr=False)

    print("### Real photos, end to end (detect + read)\n")
    print("| image | plates (counted) | ours: read | ours: exact | ours: wrong | ours ms "
          "| YOLO-only exact | HyperLPR: read | HyperLPR exact | HyperLPR wrong | HyperLPR ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    tot = defaultdict(int)
    for name in images:
        image = cv2.imread(str(PHOTOS / name))
        plates = by_image.get(name, [])
        dets, ms = timed(rec.read_frame, image, repeat=1)
        ours = [d.text for d in dets if d.text]
        e, w, n = score(ours, plates)
        ydets = yolo_only.read_frame(image)
        ye, yw, _ = score([d.text for d in ydets if d.text], plates)
        peer = peer_frame.get(name, {"texts": [], "ms": float("nan")})
        peer_texts = [normalize_plate(t) or t for t in peer["texts"]]
        pe, pw, _ = score(peer["texts"], plates)
        # the peer's invalid strings (e.g. a missing suffix) are wrong reads too
        pw += sum(1 for t in peer["texts"] if normalize_plate(t) is None)
        tot["n"] += n
        tot["e"] += e
        tot["w"] += w
        tot["ye"] += ye
        tot["yw"] += yw
        tot["pe"] += pe
        tot["pw"] += pw
        tot["ms"] += ms
        tot["pms"] += peer["ms"]
        labelled = ", ".join(p["plate"] for p in plates if p["status"] == "read") or "-"
        print(f"| {name} | {labelled} | {', '.join(ours) or '-'} | {e}/{n} | {w} | {ms:.0f} "
              f"| {ye}/{n} | {', '.join(peer_texts) or '-'} | {pe}/{n} | {pw} | {peer['ms']:.0f} |")
    k = len(images)
    print(f"| **total** | {tot['n']} | | **{tot['e']}/{tot['n']} ({tot['e'] / tot['n']:.0%})** "
          f"| **{tot['w']}** | {tot['ms'] / k:.0f} (mean) | {tot['ye']}/{tot['n']} (wrong {tot['yw']}) "
          f"| | **{tot['pe']}/{tot['n']} ({tot['pe'] / tot['n']:.0%})** | **{tot['pw']}** "
          f"| {tot['pms'] / k:.0f} (mean) |")

    print("\n### Real plates cut by hand (`--crop`)\n")
    print("| image | plate | width px | ours | ok | HyperLPR | ok |")
    print("|---|---|---|---|---|---|---|")
    ctot = defaultdict(int)
    for i, row in enumerate(labels):
        if row["status"] not in ("read", "foreign"):
            continue
        image = cv2.imread(str(PHOTOS / row["image"]))
        x1, y1, x2, y2 = (int(v) for v in row["crop"].split(","))
        det = rec.read_crop(image[y1:y2, x1:x2])
        ours = det.text if det else None
        peer_text = peer_crop.get(i, {"texts": [None]})["texts"][0]
        peer_norm = normalize_plate(peer_text) if peer_text else None
        truth = normalize_plate(row["plate"]) if row["status"] == "read" else None

        foreign = row["status"] == "foreign"
        ov = verdict(ours, truth, foreign)
        pv = verdict(peer_norm if peer_norm else (peer_text or None), truth, foreign)
        small = (x2 - x1) <= 110
        for who, v in (("o", ov), ("p", pv)):
            ctot[f"{who}_{v.split()[0]}"] += 1
            if small and row["status"] == "read":
                ctot[f"{who}_small_{v.split()[0]}"] += 1
        ctot["n"] += row["status"] == "read"
        ctot["small"] += small and row["status"] == "read"
        print(f"| {row['image']} | {row['plate']} ({row['status']}) | {x2 - x1} | {ours or '-'} | {ov} "
              f"| {peer_text or '-'} | {pv} |")
    print(f"\nCrops: ours exact {ctot['o_exact']}/{ctot['n']}, wrong {ctot['o_wrong']}; "
          f"HyperLPR exact {ctot['p_exact']}/{ctot['n']}, wrong {ctot['p_wrong']}. "
          f"Low-res (<=110 px wide): ours {ctot['o_small_exact']}/{ctot['small']}, "
          f"HyperLPR {ctot['p_small_exact']}/{ctot['small']}.")
    detectors_side_by_side(rec, labels)


if __name__ == "__main__":
    main()

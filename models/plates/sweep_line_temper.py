"""Choose how the line reader joins our readers, on dumped reads of held-out scenes.

    python models/plates/evaluate_synthetic.py --scenes 200 --seed0 41000000 --dump .cache/plates/t1.jsonl
    python models/plates/evaluate_synthetic.py --scenes 200 --seed0 41000200 --dump .cache/plates/t2.jsonl
    python models/plates/sweep_line_temper.py .cache/plates/t1.jsonl .cache/plates/t2.jsonl

For each LINE_TEMPER (0: the line reader left out) it prints the exact reads of the
detected plates at any confidence, and at each bar on the read's confidence (the product
of its glyphs' probabilities, every slot too, as `sure_alone`) the reads kept and the
wrong ones among them, plates the slot reader calls hidden (MAX_HIDDEN) left out as at
run time. The bar and the temper are chosen where wrong reads vanish (the threshold
range, seeds 41M), and reported on another range (seeds 40M).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from video.plates.grammar import ALPHABET, normalize_plate  # noqa: E402
from video.plates.line_reader import LineRead  # noqa: E402
from video.plates.recognizer import (  # noqa: E402
    LINE_AGREED_CHAR_CONFIDENCE,
    LINE_AGREED_MIN_WIDTH,
    LINE_AGREED_READ_CONFIDENCE,
    LINE_SURE_SUPPORT,
    LINE_TEMPER,
    MAX_HIDDEN,
    MIN_PLATE_CONFIDENCE,
    sure_read,
    with_line,
)

SLOTS_ALPHABET = ALPHABET + "_"
BARS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def decode(dist: np.ndarray) -> tuple[str, list[float]]:
    """Our slots' argmax read (pads dropped) and every slot's probability, as PlateReader decodes."""
    return "".join(SLOTS_ALPHABET[i] for i in dist.argmax(axis=1)).rstrip("_"), [float(p) for p in dist.max(axis=1)]


def read(row: dict, temper: float, below: float, capped: bool = True) -> tuple[str | None, float, float]:
    """The read's normalised text, the product of its glyphs, and its least sure slot."""
    dist = np.asarray(row["ours"], np.float32)
    if temper > 0 and row.get("line") is not None and not sure_read(*decode(dist), below):
        line = LineRead(row["line"], [], np.asarray(row["line_dists"], np.float32))
        dist = with_line(dist, line, SLOTS_ALPHABET, "_", temper, capped)
    best = dist.max(axis=1)
    raw = "".join(SLOTS_ALPHABET[i] for i in dist.argmax(axis=1)).rstrip("_")
    return normalize_plate(raw), float(np.prod(best[: len(raw)])), float(best.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dumps", type=Path, nargs="+")
    parser.add_argument("--tempers", type=float, nargs="+", default=[0.0, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    rows = [json.loads(line) for path in args.dumps for line in path.open(encoding="utf-8")]
    rows = [r for r in rows if "ours" in r]
    print(f"{len(rows)} detected plates")
    print("| temper | exact (any confidence) | " + " | ".join(f"kept / wrong at {b}" for b in BARS) + " |")
    print("|---|---|" + "---|" * len(BARS))
    for temper, capped in [(t, c) for c in (True, False) for t in args.tempers]:
        reads = [(read(r, temper, MIN_PLATE_CONFIDENCE, capped), normalize_plate(r["truth"]), r["hidden"])
                 for r in rows]
        exact = sum(text == truth for (text, _, _), truth, _ in reads)
        cells = []
        for bar in BARS:
            kept = [(text, truth) for (text, product, least), truth, hidden in reads
                    if text and product >= bar and least >= bar and hidden < MAX_HIDDEN]
            cells.append(f"{len(kept)} / {sum(t != truth for t, truth in kept)}")
        print(f"| {temper}{'' if capped else ', renormalised'} | {exact}/{len(rows)} | " + " | ".join(cells) + " |")
    agreement(rows)
    line_alone(rows)


def agreement(rows: list[dict]) -> None:
    """The rule LINE_AGREED_*: plates our three readers leave unsure, whose string the line
    reader reads too; kept and wrong by our least sure glyph and the plate's width."""
    agreed = []
    for r in rows:
        dist = np.asarray(r["ours"], np.float32)
        raw = "".join(SLOTS_ALPHABET[i] for i in dist.argmax(axis=1)).rstrip("_")
        line_dists = np.asarray(r["line_dists"], np.float32) if r.get("line_dists") is not None else None
        if sure_read(*decode(dist), MIN_PLATE_CONFIDENCE) or r.get("line") != raw or normalize_plate(raw) is None \
                or r["hidden"] >= MAX_HIDDEN or line_dists is None or not len(line_dists) \
                or float(np.prod(line_dists.max(axis=1))) < LINE_AGREED_READ_CONFIDENCE:
            continue
        agreed.append((float(dist.max(axis=1)[: len(raw)].min()), r["width"], normalize_plate(raw) != normalize_plate(r["truth"])))
    print(f"\nthe line reader reads our three readers' unsure string (its product >= {LINE_AGREED_READ_CONFIDENCE}):")
    print("| our least glyph >= | any width: kept / wrong | >= 70 px | >= 75 px | >= 80 px |\n|---|---|---|---|---|")
    for least in (0.2, 0.3, 0.4, 0.5):
        cells = []
        for width in (0, 70, 75, 80):
            kept = [wrong for low, w, wrong in agreed if low >= least and w >= width]
            cells.append(f"{len(kept)} / {sum(kept)}")
        print(f"| {least} | " + " | ".join(cells) + " |")


def line_alone(rows: list[dict]) -> None:
    """The rule LINE_SURE_*: the line reader's own read, where it reads as many glyphs as
    our three readers and each of its glyphs keeps >= LINE_SURE_SUPPORT of ours; kept and
    wrong by its least sure glyph and the plate's width, on plates the other rules (the
    joined read at the bar, LINE_AGREED_*) leave without a string."""
    candidates = []
    for r in rows:
        text = r.get("line")
        if not text or normalize_plate(text) is None or r["hidden"] >= MAX_HIDDEN:
            continue
        dist = np.asarray(r["ours"], np.float32)
        own = "".join(SLOTS_ALPHABET[i] for i in dist.argmax(axis=1)).rstrip("_")
        if len(own) != len(text) or min(dist[i, SLOTS_ALPHABET.index(c)] for i, c in enumerate(text)) < LINE_SURE_SUPPORT:
            continue
        joined, product, least = read(r, LINE_TEMPER, MIN_PLATE_CONFIDENCE)
        line_dists = np.asarray(r["line_dists"], np.float32)
        agreed = own == text and float(dist.max(axis=1)[: len(own)].min()) >= LINE_AGREED_CHAR_CONFIDENCE \
            and float(np.prod(line_dists.max(axis=1))) >= LINE_AGREED_READ_CONFIDENCE and r["width"] >= LINE_AGREED_MIN_WIDTH
        if (joined and product >= MIN_PLATE_CONFIDENCE and least >= MIN_PLATE_CONFIDENCE) or agreed:
            continue
        wrong = normalize_plate(text) != normalize_plate(r["truth"])
        candidates.append((float(line_dists.max(axis=1).min()), r["width"], wrong, f"{r['truth']} read {text}"))
    print(f"\nthe line reader's own read, where the other rules keep none (ours >= {LINE_SURE_SUPPORT} on each of its glyphs):")
    print("| its least glyph >= | any width: kept / wrong | >= 60 px | >= 75 px |\n|---|---|---|---|")
    for least in (0.9, 0.95, 0.98, 0.99):
        cells = []
        for width in (0, 60, 75):
            kept = [wrong for low, w, wrong, _ in candidates if low >= least and w >= width]
            cells.append(f"{len(kept)} / {sum(kept)}")
        print(f"| {least} | " + " | ".join(cells) + " |")
    for least in (0.9, 0.95, 0.98, 0.99):
        wrongs = [f"{what} ({w:.0f} px)" for low, w, wrong, what in candidates if low >= least and wrong]
        print(f"wrong at >= {least}: {', '.join(wrongs) or 'none'}")


if __name__ == "__main__":
    main()

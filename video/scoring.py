"""Compare what the pipeline saw with what is in the video: precision and recall.

The truth is the sample media's per-clip JSON (written by `sample_media/generate.py`):
every plate or face *pass* with its first and last frame and time. A sighting is right
when it is in the same clip, within the pass's time window (widened by `tolerance_s`),
and has the right identity:

- plates: the exact text (a plate one character off is wrong);
- faces: the watch-listed name when the person is enrolled, else the unknown-person id
  that the pipeline gave that person. Unknown ids are arbitrary, so each is mapped to at
  most one true person (the one it co-occurs with most, across all clips) and each
  person to at most one id: a person split over two ids, or two people merged into one,
  costs recall or precision as it should.

Each pass counts once: a second sighting of the same pass is a false positive (the
"one sighting per pass" promise).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from streams.records import Sighting


@dataclass(frozen=True, slots=True)
class TruePass:
    kind: str
    identity: str
    object: str
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class ClipTruth:
    file: str
    camera_id: str
    start: datetime
    fps: float
    frames: int
    passes: tuple[TruePass, ...]


def load_clip_truth(video: Path) -> ClipTruth | None:
    """The truth next to a video (`X.mp4` -> `X.json`), or None when there is none."""
    path = video.with_suffix(".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        passes = tuple(
            TruePass(p["kind"], p["identity"], p.get("object", ""),
                     datetime.fromisoformat(p["first_time"]), datetime.fromisoformat(p["last_time"]))
            for p in data["passes"]
        )
        return ClipTruth(data["file"], data["camera_id"], datetime.fromisoformat(data["start"]),
                         float(data["fps"]), int(data["frames"]), passes)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(slots=True)
class KindScore:
    truth: int = 0
    sightings: int = 0
    true_positives: int = 0
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.sightings if self.sightings else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.truth if self.truth else None

    def add(self, other: KindScore) -> None:
        self.truth += other.truth
        self.sightings += other.sightings
        self.true_positives += other.true_positives

    def as_dict(self, details: bool = True) -> dict:
        out = {"truth": self.truth, "sightings": self.sightings, "correct": self.true_positives,
               "precision": _round(self.precision), "recall": _round(self.recall)}
        if details:
            out |= {"missed": self.missed, "wrong": self.wrong}
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(slots=True)
class VideoScore:
    file: str
    camera_id: str
    plates: KindScore
    faces: KindScore


def map_face_identities(clips: list[tuple[ClipTruth, list[Sighting]]], shift: timedelta,
                        tolerance_s: float) -> dict[str, str]:
    """Pipeline face identity -> true person, one to one, by co-occurrence."""
    together: Counter[tuple[str, str]] = Counter()
    for truth, sightings in clips:
        for s in sightings:
            if s.kind.value != "face":
                continue
            for p in truth.passes:
                if p.kind == "face" and _within(s.ts, p, shift, tolerance_s):
                    together[(s.identity, p.identity)] += 1
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for (found, person), _ in sorted(together.items(), key=lambda kv: (-kv[1], kv[0])):
        if found == person:  # a watch-listed name is its own mapping
            mapping.setdefault(found, person)
            taken.add(person)
    for (found, person), _ in sorted(together.items(), key=lambda kv: (-kv[1], kv[0])):
        if found not in mapping and person not in taken:
            mapping[found] = person
            taken.add(person)
    return mapping


def _within(ts: datetime, p: TruePass, shift: timedelta, tolerance_s: float) -> bool:
    margin = timedelta(seconds=tolerance_s)
    return p.first + shift - margin <= ts <= p.last + shift + margin


def score_clip(truth: ClipTruth, sightings: list[Sighting], shift: timedelta, tolerance_s: float,
               face_map: dict[str, str]) -> VideoScore:
    scores = {"plate": KindScore(), "face": KindScore()}
    for kind, score in scores.items():
        passes = [p for p in truth.passes if p.kind == kind]
        mine = sorted((s for s in sightings if s.kind.value == kind), key=lambda s: s.ts)
        score.truth = len(passes)
        score.sightings = len(mine)
        matched: set[int] = set()
        for s in mine:
            identity = s.identity if kind == "plate" else face_map.get(s.identity, s.identity)
            hit = next((i for i, p in enumerate(passes)
                        if i not in matched and p.identity == identity and _within(s.ts, p, shift, tolerance_s)),
                       None)
            if hit is None:
                near = [p for p in passes if _within(s.ts, p, shift, tolerance_s)]
                why = f"expected {' or '.join(sorted({p.identity for p in near}))}" if near else "nothing there"
                offset = (s.ts - (truth.start + shift)).total_seconds()
                score.wrong.append(f"{s.identity} at {offset:.1f} s ({why})")
            else:
                matched.add(hit)
                score.true_positives += 1
        for i, p in enumerate(passes):
            if i not in matched:
                score.missed.append(f"{p.identity} ({p.object}) at {(p.first - truth.start).total_seconds():.1f}"
                                    f"-{(p.last - truth.start).total_seconds():.1f} s")
    return VideoScore(truth.file, truth.camera_id, scores["plate"], scores["face"])


def overall(scores: list[VideoScore]) -> dict[str, KindScore]:
    total = {"plate": KindScore(), "face": KindScore()}
    for s in scores:
        total["plate"].add(s.plates)
        total["face"].add(s.faces)
    return total


def report_dict(scores: list[VideoScore]) -> dict:
    total = overall(scores)
    return {
        "videos": [{"file": s.file, "camera_id": s.camera_id, "plates": s.plates.as_dict(),
                    "faces": s.faces.as_dict()} for s in scores],
        "overall": {"plates": total["plate"].as_dict(False), "faces": total["face"].as_dict(False)},
    }


def format_table(scores: list[VideoScore]) -> str:
    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    lines = [f"{'video':<24} {'plates P':>9} {'plates R':>9} {'(n)':>5}   {'faces P':>8} {'faces R':>8} {'(n)':>4}"]
    for s in scores:
        lines.append(f"{s.file:<24} {pct(s.plates.precision):>9} {pct(s.plates.recall):>9} {s.plates.truth:>5}"
                     f"   {pct(s.faces.precision):>8} {pct(s.faces.recall):>8} {s.faces.truth:>4}")
    t = overall(scores)
    lines.append(f"{'overall':<24} {pct(t['plate'].precision):>9} {pct(t['plate'].recall):>9} {t['plate'].truth:>5}"
                 f"   {pct(t['face'].precision):>8} {pct(t['face'].recall):>8} {t['face'].truth:>4}")
    return "\n".join(lines)


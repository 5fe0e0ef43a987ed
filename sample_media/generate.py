"""Write the sample media: 720p street clips as the district's first cameras, with truth.

    python -m sample_media.generate [--if-missing] [--out DIR] [--seed N] [--workers N]

Deterministic from the seed (same seed, same frames, same truth). Per clip it writes
`<file>.mp4` (H.264, libx264 preset fast, via ffmpeg) and `<file>.json` (its truth:
every plate and face pass with first/last frame and time); and one `truth.json` tying
them together: cameras, clip offsets in each scenario, trajectories of every vehicle and
person, the co-travel pair and the cloned plate. Format: sample_media/README.md.

A pass is in the truth for the frames where its plate is at least 80 px wide (a face at
least 40 px), wholly in the frame and at most 20% hidden by something nearer: what a
reader could possibly read. Clip files are written under a temporary name and renamed
when complete, so `--if-missing` never mistakes a half-written clip for a finished one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

GENERATOR_VERSION = "sample-media-2"
DEFAULT_OUT = Path(__file__).resolve().parent
DEFAULT_SEED = 7
FPS = 20
PLATE_MIN_PX = 80
FACE_MIN_PX = 40
MAX_HIDDEN = 0.2


@dataclass(slots=True)
class PassTruth:
    kind: str
    identity: str
    object: str
    first_frame: int
    last_frame: int
    first_s: float
    last_s: float
    first_time: str
    last_time: str
    max_px: int
    plate_kind: str | None = None


def _camera_positions() -> dict[str, tuple[float, float]]:
    from streams.district import load_district

    return {c.id: (c.lat, c.lon) for c in load_district().cameras}


def _camera_names() -> dict[str, str]:
    from streams.district import load_district

    return {c.id: c.name for c in load_district().cameras}


class ClipRenderer:
    """The frames of one clip, drawn on demand (deterministic from the seed and clip index)."""

    def __init__(self, plan, clip, seed: int, index: int) -> None:
        from sample_media import render

        self.render = render
        self.clip = clip
        rng = np.random.default_rng([seed, index])
        bg = render.background(rng, clip.condition)
        self.rain = render.rain_texture(rng) if clip.condition == "rain" else None
        # sensor noise: a fixed grain (costs the encoder nothing) plus a little that changes
        self.bg = render.add_grain(bg, rng, {"night": 5.0, "rain": 3.0}.get(clip.condition, 2.0))
        self.noise = render.noise_layers(rng, sigma=1.5)
        self.sprites = {}
        for a in clip.appearances:
            if a.kind == "plate":
                self.sprites[id(a)] = render.car_sprite(plan.vehicles[a.object_id], clip.condition, rng)
            else:
                self.sprites[id(a)] = render.person_sprite(plan.people[a.object_id], rng, clip.condition)
        self.frames = int(round(clip.duration_s * FPS))

    def frame(self, n: int, visible: dict[int, list[tuple[int, int]]] | None = None) -> np.ndarray:
        """Frame n (BGR); records into `visible` which passes are readable in it."""
        render = self.render
        t = n / FPS
        frame = self.bg.copy()
        placed = []
        for a in self.clip.appearances:
            sprite = self.sprites[id(a)]
            where = render.car_at(a, sprite, t) if a.kind == "plate" else render.person_at(a, sprite, t)
            if where is not None:
                placed.append((where, sprite))
        placed.sort(key=lambda ps: ps[0].depth)
        covers = [render.paste(frame, sprite, where) for where, sprite in placed]
        if visible is not None:
            _record_visible(placed, covers, n, visible)
        if self.rain is not None:
            frame = _add(frame, self.render.rain_at(self.rain, n))
        add, sub = self.noise[n % len(self.noise)]
        return _sub(_add(frame, add), sub)


def render_clip(args: tuple) -> dict:
    """Render and encode one clip; returns its truth (runs in a worker process)."""
    from sample_media import render

    plan, clip, scenario_start, out_dir, seed, index = args
    renderer = ClipRenderer(plan, clip, seed, index)
    frames = renderer.frames
    visible: dict[int, list[tuple[int, int]]] = {id(a): [] for a in clip.appearances}
    tmp = out_dir / f".{clip.file}.part.mp4"
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "bgr24", "-s", f"{render.W}x{render.H}", "-r", str(FPS), "-i", "-",
           "-c:v", "libx264", "-preset", "fast", "-crf", "21", "-pix_fmt", "yuv420p",
           "-g", str(2 * FPS), "-threads", "2", "-movflags", "+faststart", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for n in range(frames):
            proc.stdin.write(renderer.frame(n, visible).tobytes())
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed on {clip.file}")
    except BaseException:
        proc.kill()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out_dir / clip.file)
    start = datetime.fromisoformat(scenario_start) + timedelta(seconds=clip.offset_s)
    passes = []
    for a in clip.appearances:
        seen = visible[id(a)]
        if not seen:
            print(f"  note: {a.kind} {a.object_id} in {clip.file} is never readable; not in the truth",
                  file=sys.stderr)
            continue
        first, last = seen[0][0], seen[-1][0]
        identity = plan.vehicles[a.object_id].plate if a.kind == "plate" else a.object_id
        passes.append(PassTruth(
            kind=a.kind, identity=identity, object=a.object_id, first_frame=first, last_frame=last,
            first_s=round(first / FPS, 3), last_s=round(last / FPS, 3),
            first_time=(start + timedelta(seconds=first / FPS)).isoformat(timespec="milliseconds"),
            last_time=(start + timedelta(seconds=last / FPS)).isoformat(timespec="milliseconds"),
            max_px=max(px for _, px in seen),
            plate_kind=plan.vehicles[a.object_id].plate_kind if a.kind == "plate" else None,
        ))
    passes.sort(key=lambda p: (p.first_frame, p.kind, p.identity))
    return {
        "file": clip.file, "camera_id": clip.camera_id, "condition": clip.condition,
        "scenario": clip.scenario, "offset_s": clip.offset_s, "start": start.isoformat(),
        "fps": FPS, "frames": frames, "width": render.W, "height": render.H,
        "passes": [asdict(p) for p in passes],
    }


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.add(a, b)


def _sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.subtract(a, b)


def _record_visible(placed: list, covers: list, n: int, visible: dict[int, list[tuple[int, int]]]) -> None:
    """Which key boxes (plate, face) are readable in frame n: big enough, whole, not hidden."""
    from sample_media import render

    for i, (where, sprite) in enumerate(placed):
        key = sprite.plate_box if where.appearance.kind == "plate" else sprite.face_box
        if key is None:
            continue
        x1, y1, x2, y2 = render.box_in_frame(key, where)
        width = x2 - x1
        if width < (PLATE_MIN_PX if where.appearance.kind == "plate" else FACE_MIN_PX):
            continue
        if x1 < 0 or y1 < 0 or x2 > render.W or y2 > render.H:
            continue
        area = max(1, (x2 - x1) * (y2 - y1))
        hidden = 0
        for cover in covers[i + 1:]:
            if cover is None:
                continue
            mask, cx, cy = cover
            ix1, iy1 = max(x1, cx), max(y1, cy)
            ix2, iy2 = min(x2, cx + mask.shape[1]), min(y2, cy + mask.shape[0])
            if ix2 > ix1 and iy2 > iy1:
                hidden += int(np.count_nonzero(mask[iy1 - cy:iy2 - cy, ix1 - cx:ix2 - cx] > 127))
        if hidden / area <= MAX_HIDDEN:
            visible[id(where.appearance)].append((n, width))


def _trajectories(plan, clip_truths: dict[str, dict], scenarios) -> list[dict]:
    """Each object's camera passes in time order, per scenario (one trip each)."""
    out = []
    for scenario in scenarios:
        by_object: dict[str, list[dict]] = {}
        kinds: dict[str, tuple[str, str]] = {}
        for clip in scenario.clips:
            truth = clip_truths.get(clip.file)
            if truth is None:  # not rendered in this run (--only)
                continue
            for p in truth["passes"]:
                by_object.setdefault(p["object"], []).append(
                    {"camera_id": truth["camera_id"], "first_time": p["first_time"],
                     "last_time": p["last_time"], "file": clip.file})
                kinds[p["object"]] = (p["kind"], p["identity"])
        for obj, points in sorted(by_object.items()):
            points.sort(key=lambda q: q["first_time"])
            kind, identity = kinds[obj]
            out.append({"scenario": scenario.name, "kind": kind, "identity": identity, "object": obj,
                        "points": points})
    return out


def _cloned(plan, clip_truths: dict[str, dict], positions) -> list[dict]:
    from sample_media.scenario import haversine_m

    out = []
    for clone in plan.cloned_plates:
        sightings = []
        for truth in clip_truths.values():
            for p in truth["passes"]:
                if p["object"] in clone["vehicles"] and truth["scenario"] == "day":
                    sightings.append({"camera_id": truth["camera_id"], "object": p["object"],
                                      "first_time": p["first_time"], "file": truth["file"]})
        sightings.sort(key=lambda s: s["first_time"])
        worst = None
        for a in sightings:
            for b in sightings:
                if a["object"] >= b["object"]:
                    continue
                dt = abs((datetime.fromisoformat(a["first_time"]) - datetime.fromisoformat(b["first_time"])).total_seconds())
                d = haversine_m(*positions[a["camera_id"]], *positions[b["camera_id"]])
                kmh = d / max(dt, 1e-3) * 3.6
                if worst is None or kmh > worst["implied_kmh"]:
                    worst = {"cameras": [a["camera_id"], b["camera_id"]], "distance_m": round(d),
                             "seconds_apart": round(dt, 2), "implied_kmh": round(kmh)}
        out.append({"plate": clone["plate"], "vehicles": clone["vehicles"], "sightings": sightings,
                    "conflict": worst})
    return out


def generate(out: Path, seed: int, workers: int, only: set[str] | None = None,
             clip_s: float | None = None) -> Path:
    """Render the clips (all, or the `only` ones) and write their truth; returns truth.json.

    `clip_s` shortens every clip (tests); a run with `only` or `clip_s` writes a truth.json
    marked partial, which `--if-missing` does not take for complete media.
    """
    from sample_media import scenario as scenario_mod

    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is needed to encode the sample media: apt-get install ffmpeg "
                         "(or bash tests/setup/ensure_rtsp.sh)")
    positions = _camera_positions()
    names = _camera_names()
    plan = scenario_mod.plan(seed, positions, clip_s or scenario_mod.CLIP_S)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    index = 0
    for sc in plan.scenarios:
        for clip in sc.clips:
            if only is None or clip.file in only:
                jobs.append((plan, clip, sc.start, out, seed, index))
            index += 1
    if not jobs:
        raise SystemExit(f"no clip named {', '.join(sorted(only or []))}")
    started = time.monotonic()
    if workers > 1:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers) as pool:
            results = pool.map(render_clip, jobs, chunksize=1)
    else:
        results = [render_clip(job) for job in jobs]
    clip_truths = {r["file"]: r for r in results}
    for truth in results:
        truth["camera_name"] = names.get(truth["camera_id"], "")
        (out / truth["file"]).with_suffix(".json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    everything = {
        "generator": GENERATOR_VERSION, "seed": seed, "fps": FPS,
        "partial": bool(only) or clip_s is not None,
        "scenarios": [{"name": sc.name, "start": sc.start, "cycle_s": sc.cycle_s,
                       "clips": [{"file": c.file, "camera_id": c.camera_id, "condition": c.condition,
                                  "offset_s": c.offset_s, "duration_s": c.duration_s} for c in sc.clips]}
                      for sc in plan.scenarios],
        "videos": [{"file": r["file"], "truth": Path(r["file"]).with_suffix(".json").name,
                    "camera_id": r["camera_id"], "scenario": r["scenario"], "start": r["start"],
                    "condition": r["condition"],
                    "plates": sum(p["kind"] == "plate" for p in r["passes"]),
                    "faces": sum(p["kind"] == "face" for p in r["passes"])} for r in results],
        "people": [{"name": p.name, "image": f"faces/{p.image}", "face_box": list(p.face)}
                   for p in plan.people.values()],
        "vehicles": [{"object": v.id, "plate": v.plate, "plate_kind": v.plate_kind, "style": v.style}
                     for v in plan.vehicles.values()],
        "trajectories": _trajectories(plan, clip_truths, plan.scenarios),
        "co_travel": plan.co_travel,
        "cloned_plates": _cloned(plan, clip_truths, positions),
    }
    path = out / "truth.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(everything, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    plates = sum(v["plates"] for v in everything["videos"])
    faces = sum(v["faces"] for v in everything["videos"])
    print(f"sample media: {len(results)} clips, {plates} plate passes, {faces} face passes "
          f"in {time.monotonic() - started:.0f} s -> {out}")
    return path


def is_complete(out: Path, seed: int) -> bool:
    path = out / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if truth.get("generator") != GENERATOR_VERSION or truth.get("seed") != seed or truth.get("partial"):
        return False
    return all((out / v["file"]).is_file() and (out / v["truth"]).is_file() for v in truth["videos"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the sample street videos and their truth.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: sample_media/)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--if-missing", action="store_true", help="do nothing when complete media exist")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--only", action="append", metavar="FILE", help="render only this clip (repeatable)")
    parser.add_argument("--clip-seconds", type=float, help="shorter clips (tests)")
    args = parser.parse_args(argv)
    if args.if_missing and is_complete(args.out, args.seed):
        print(f"sample media present in {args.out}")
        return 0
    generate(args.out, args.seed, max(1, args.workers), set(args.only) if args.only else None,
             args.clip_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

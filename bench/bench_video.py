"""Video pipeline speed on one core: decode-only vs the full pipeline vs a naive one.

    cityops bench video [--clips PF-C002.mp4 PF-C005_rain.mp4] [--seconds 20] [--write]
    python bench/bench_video.py ...

On the same 720p sample clips, in one run, pinned to one core (so the figures are per
core): (a) decode only: every frame decoded to BGR, as any pipeline must at least (the
median of one run before (b) and two after, so that one lucky or slow baseline does not move b/a);
(b) the full pipeline: sampling at 2 analysed fps, motion gate, plates and faces in the
moving regions, tracking, plates read until their pass is settled, one sighting per
pass; (c) the naive pipeline: both detectors on every whole frame, every plate read.
Reports b/a and the recall of b and c against the clips' truth, then what that means
for cameras per core and for the district's 152 cameras.
`--write` replaces the `## Video` section of docs/BENCHMARKS.md (other sections kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streams.records import Sighting  # noqa: E402
from video.camera_pipeline import CameraPipeline, PipelineOptions  # noqa: E402
from video.capture import Capture, Timestamps  # noqa: E402
from video.scoring import ClipTruth, load_clip_truth, map_face_identities, overall, score_clip  # noqa: E402

DEFAULT_CLIPS = ("PF-C002.mp4", "PF-C005_rain.mp4")
DISTRICT_CAMERAS = 152


@dataclass(slots=True)
class RunResult:
    frames: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time of the process (all its threads, on its one core): what the work costs
    whatever else the machine runs, unlike `seconds` (wall clock)."""
    sightings: dict[str, list[Sighting]] = field(default_factory=dict)
    stage_s: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def cpu_fps(self) -> float:
        """Frames per CPU-second: the frames/s of a core this process had to itself."""
        return self.frames / self.cpu_seconds if self.cpu_seconds else 0.0


def _frames(video: Path, truth: ClipTruth | None, seconds: float, every_s: float):
    start = truth.start if truth else None
    capture = Capture(video.stem, str(video), timestamps=Timestamps.MEDIA, media_start=start)
    limit = None
    for frame in capture.frames(threading.Event(), every_s=every_s):
        limit = limit or int(seconds * capture.source_fps)
        if capture.frames_read > limit:
            break
        yield capture, frame


def decode_only(clips: list[tuple[Path, ClipTruth | None]], seconds: float) -> RunResult:
    result = RunResult()
    for video, truth in clips:
        started, cpu_started = time.perf_counter(), time.process_time()
        count = 0
        for _capture, _frame in _frames(video, truth, seconds, every_s=0.0):
            count += 1
        result.seconds += time.perf_counter() - started
        result.cpu_seconds += time.process_time() - cpu_started
        result.frames += count
    return result


def median_run(runs: list[RunResult]) -> RunResult:
    """The decode run of median speed: decode-only speed swings by a third between runs on a
    shared machine, and b/a should not move with one lucky or unlucky baseline."""
    return sorted(runs, key=lambda r: r.cpu_fps)[len(runs) // 2]


def pipeline_run(clips: list[tuple[Path, ClipTruth | None]], seconds: float, naive: bool,
                 analysed_fps: float) -> RunResult:
    from video.readers import FaceReader, load_plate_reader

    plates = load_plate_reader()
    result = RunResult(stage_s={"gate": 0.0, "plates": 0.0, "faces": 0.0, "identify": 0.0})
    with tempfile.TemporaryDirectory() as home:
        faces = FaceReader(Path(home))
        _warm_up(plates, faces)
        try:
            for video, truth in clips:
                camera = truth.camera_id if truth else video.stem
                fps_source = truth.fps if truth else 25.0
                if naive:  # both detectors on every whole frame, every plate read every time
                    options = PipelineOptions(analysed_fps=fps_source, gate=False, face_fps=0.0, snapshots=False,
                                              skip_settled=False)
                else:
                    options = PipelineOptions(analysed_fps=analysed_fps, snapshots=False)
                pipeline = CameraPipeline(camera, plates=plates, faces=faces, options=options)
                found: list[Sighting] = []
                started, cpu_started = time.perf_counter(), time.process_time()
                last_read = 0
                for capture, frame in _frames(video, truth, seconds, every_s=0.0 if naive else 1.0 / analysed_fps):
                    found += pipeline.process(frame)
                    last_read = capture.frames_read
                found += pipeline.finish()
                result.seconds += time.perf_counter() - started
                result.cpu_seconds += time.process_time() - cpu_started
                result.frames += last_read
                result.sightings[video.name] = found
                for stage in result.stage_s:
                    result.stage_s[stage] += getattr(pipeline.stats, f"{stage}_s")
        finally:
            faces.close()
    return result


def _warm_up(plates, faces) -> None:
    """Load models and lazy imports before the clock starts (dlib's first call takes seconds)."""
    import numpy as np

    blank = np.full((720, 1280, 3), 127, np.uint8)
    if hasattr(plates, "warm_up"):
        plates.warm_up()  # PP-OCR too, which only unsure reads load
    else:
        plates.read_frame(blank)
    faces.find(blank, [(0, 0, 1280, 720)], 0)


def _cut(truth: ClipTruth, seconds: float) -> ClipTruth:
    """The truth of the first `seconds` of a clip (passes that start within them)."""
    end = truth.start + timedelta(seconds=seconds)
    passes = tuple(p for p in truth.passes if p.first < end - timedelta(seconds=1.0))
    return ClipTruth(truth.file, truth.camera_id, truth.start, truth.fps, truth.frames, passes)


def recall(run: RunResult, clips: list[tuple[Path, ClipTruth | None]], seconds: float) -> dict:
    pairs = [(_cut(t, seconds), run.sightings.get(v.name, [])) for v, t in clips if t is not None]
    face_map = map_face_identities(pairs, timedelta(0), 1.5)
    scores = [score_clip(t, s, timedelta(0), 1.5, face_map) for t, s in pairs]
    total = overall(scores)
    return {kind: {"recall": total[kind].recall, "precision": total[kind].precision,
                   "truth": total[kind].truth} for kind in ("plate", "face")}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def run_video_bench(clips: list[Path] | None = None, seconds: float = 20.0, analysed_fps: float = 2.0,
                    write: Path | None = None, pin_core: bool = True, naive: bool = True) -> int:
    """Measure (a), (b), (c); print the table; with `write`, update BENCHMARKS.md's Video section."""
    media = ROOT / "sample_media"
    paths = clips or [media / name for name in DEFAULT_CLIPS]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"bench video: missing {', '.join(map(str, missing))} (python -m sample_media.generate)",
              file=sys.stderr)
        return 2
    if pin_core and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)
    pairs = [(p, load_clip_truth(p)) for p in paths]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench video: {len(paths)} clip(s) x {seconds:.0f} s, one core, load average {load:.1f}")
    decodes = [decode_only(pairs, seconds)]
    print(f"(a) decode only:  {decodes[0].fps:7.1f} frames/s, {decodes[0].cpu_fps:7.1f} per CPU-second")
    b = pipeline_run(pairs, seconds, naive=False, analysed_fps=analysed_fps)
    decodes += [decode_only(pairs, seconds) for _ in range(2)]
    a = median_run(decodes)
    print(f"(a) decode only, runs before and after (b): "
          f"{', '.join(f'{d.cpu_fps:.1f}' for d in decodes)} per CPU-second; median {a.cpu_fps:.1f}")
    print(f"(b) pipeline:     {b.fps:7.1f} frames/s, {b.cpu_fps:7.1f} per CPU-second  "
          f"(b/a = {b.fps / a.fps:.2f} wall, {b.cpu_fps / a.cpu_fps:.2f} CPU)  stages {b.stage_s}")
    b_recall = recall(b, pairs, seconds)
    c = pipeline_run(pairs, seconds, naive=True, analysed_fps=analysed_fps) if naive else None
    c_recall = recall(c, pairs, seconds) if c else None
    if c:
        print(f"(c) naive:        {c.fps:7.1f} frames/s, {c.cpu_fps:7.1f} per CPU-second  stages {c.stage_s}")
    source_fps = next((t.fps for _, t in pairs if t), 25.0)
    per_core = b.cpu_fps / source_fps  # a core to itself; wall-clock figures depend on the load
    cores = DISTRICT_CAMERAS / per_core if per_core else float("inf")
    lines = [
        "| run | frames/s (wall, one shared core) | frames per CPU-second | plate recall | face recall "
        "| plate precision | face precision |",
        "|---|---|---|---|---|---|---|",
        f"| (a) decode only, median of {len(decodes)} runs around (b) | {a.fps:.1f} | {a.cpu_fps:.1f} | | | | |",
        f"| (b) pipeline, {analysed_fps:g} analysed fps, motion-gated | {b.fps:.1f} | {b.cpu_fps:.1f} "
        f"| {_pct(b_recall['plate']['recall'])} "
        f"| {_pct(b_recall['face']['recall'])} | {_pct(b_recall['plate']['precision'])} | {_pct(b_recall['face']['precision'])} |",
    ]
    if c and c_recall:
        lines.append(f"| (c) naive: detectors on every whole frame | {c.fps:.1f} | {c.cpu_fps:.1f} "
                     f"| {_pct(c_recall['plate']['recall'])} "
                     f"| {_pct(c_recall['face']['recall'])} | {_pct(c_recall['plate']['precision'])} "
                     f"| {_pct(c_recall['face']['precision'])} |")
    table = "\n".join(lines)
    print(table)
    summary = (f"b/a = {b.fps / a.fps:.2f} by wall clock, {b.cpu_fps / a.cpu_fps:.2f} by CPU time; one core "
               f"sustains {per_core:.1f} cameras of {source_fps:g} fps at {analysed_fps:g} analysed fps "
               f"(frames per CPU-second / {source_fps:g}), so {DISTRICT_CAMERAS} cameras need ~{cores:.0f} cores")
    print(summary)
    document = {"clips": [p.name for p in paths], "seconds": seconds, "load_average": load,
                "a_fps": a.fps, "b_fps": b.fps, "c_fps": c.fps if c else None, "a_cpu_fps": a.cpu_fps,
                "b_cpu_fps": b.cpu_fps, "c_cpu_fps": c.cpu_fps if c else None, "b_recall": b_recall,
                "c_recall": c_recall, "b_stage_s": b.stage_s, "c_stage_s": c.stage_s if c else None,
                "cameras_per_core": per_core, "cores_for_152": cores}
    print(json.dumps(document, ensure_ascii=False, default=str))
    if write is not None:
        _write_section(write, paths, seconds, load, table, summary, b, c, b_recall, c_recall)
    return 0


KEEP_MARKER = "<!-- bench video --write replaces the text above this line and keeps what follows -->"


def _write_section(path: Path, paths: list[Path], seconds: float, load: float, table: str, summary: str,
                   b: RunResult, c: RunResult | None, b_recall: dict, c_recall: dict | None) -> None:
    """Replace (or add) the `## Video` section, re-reading the file right before writing."""
    clips = ", ".join(f"`{p.name}`" for p in paths)
    body = (
        "## Video\n\n"
        f"Command: `cityops bench video --write` (or `python bench/bench_video.py --write`). "
        f"{clips}, first {seconds:.0f} s each (720p H.264), the process pinned to one core, "
        f"measured on {platform.machine()} with load average {load:.1f}. Other work shared the "
        "machine, so the frames/s are lower bounds; the ratios (b/a, recall of b vs c), measured "
        "in the same run on the same frames, are what counts.\n\n"
        f"{table}\n\n{summary}.\n\n"
        f"Where (b) spends its time (s): {', '.join(f'{k} {v:.1f}' for k, v in b.stage_s.items())}"
        + (f"; (c): {', '.join(f'{k} {v:.1f}' for k, v in c.stage_s.items())}" if c else "")
        + ".\n"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Video\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    if found:
        old = found.group(0)
        # hand-written history (before -> after, what was tried) survives a rerun
        kept = old[old.index(KEEP_MARKER):] if KEEP_MARKER in old else KEEP_MARKER + "\n"
        text = text[:found.start()] + body + "\n" + kept.rstrip("\n") + "\n\n" + text[found.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")
    print(f"wrote the Video section of {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", type=Path, help="720p clips with truth (default: two samples)")
    parser.add_argument("--seconds", type=float, default=20.0, help="first seconds of each clip")
    parser.add_argument("--fps", type=float, default=2.0, help="analysed fps of (b)")
    parser.add_argument("--no-naive", action="store_true", help="skip (c), the slow one")
    parser.add_argument("--write", nargs="?", const=ROOT / "docs" / "BENCHMARKS.md", type=Path,
                        help="update the Video section of docs/BENCHMARKS.md (or this file)")
    args = parser.parse_args(argv)
    clips = [c if c.is_absolute() or c.exists() else ROOT / "sample_media" / c for c in args.clips] \
        if args.clips else None
    return run_video_bench(clips, args.seconds, args.fps, args.write, naive=not args.no_naive)


if __name__ == "__main__":
    sys.exit(main())

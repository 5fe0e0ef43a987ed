"""`cityops replay VIDEO... [--camera ID] [--speed realtime|max] [--score]`: testers'
recorded media through the real camera pipeline, onto the bus, scored against the truth.

Each video is one camera: the camera id comes from `--camera`, else from the video's
truth file (`X.json` next to `X.mp4`), else from a district camera id at the start of its
name (`PF-C002_night.mp4` -> PF-C002). Videos run in parallel, one process each (up to
one per core at `--speed max`; all at once at `--speed realtime`, as cameras would).

Times: a sighting carries the recording's own time, moved so that the last recording
ends when the replay starts (everything happened "just now", in the recorded order and
spacing, never in the future). A video without truth starts at the replay's start.

`--score` prints plate and face precision/recall per video and overall (rules in
`video/scoring.py`) and writes a JSON report (default: <home>/reports/replay-*.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from streams.config import Settings, load_settings
from streams.records import Sighting
from video.camera_pipeline import DEFAULT_ANALYSED_FPS, PipelineOptions
from video.scoring import (
    ClipTruth,
    format_table,
    load_clip_truth,
    map_face_identities,
    report_dict,
    score_clip,
)

log = logging.getLogger(__name__)

Speed = Literal["realtime", "max"]
TOLERANCE_S = 1.5
"""A sighting may be stamped this far outside its pass (the pass's best read is inside
it, but frames are sampled and the truth's edges are where a plate becomes readable)."""


@dataclass(frozen=True, slots=True)
class _Task:
    video: str
    camera_id: str
    media_start: str
    realtime: bool
    analysed_fps: float
    settings: Settings
    publish: bool
    plates: bool
    faces: bool


_PROGRESS: object = None  # the queue of the pool's progress, set in each worker process
_PLATES: object = None  # one plate recognizer per worker process, loaded on first use


def _init_worker(queue: object) -> None:
    global _PROGRESS
    _PROGRESS = queue
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _plate_reader() -> object:
    global _PLATES
    if _PLATES is None:
        from video.readers import load_plate_reader

        _PLATES = load_plate_reader()
    return _PLATES


def _replay_one(task: _Task) -> dict:
    """Run one video through a camera pipeline (in a pool process)."""
    import threading

    from streams.bus import open_bus
    from video.camera_pipeline import CameraPipeline
    from video.capture import Capture, Timestamps
    from video.readers import FaceReader, ReaderUnavailable

    started = time.monotonic()
    problems: list[str] = []
    plates = faces = None
    if task.plates:
        try:
            plates = _plate_reader()
        except ReaderUnavailable as exc:
            problems.append(str(exc))
    if task.faces:
        try:
            faces = FaceReader(task.settings.home)
        except ReaderUnavailable as exc:
            problems.append(str(exc))
    pipeline = CameraPipeline(
        task.camera_id, plates=plates, faces=faces,  # type: ignore[arg-type]
        options=PipelineOptions(analysed_fps=task.analysed_fps, plates=plates is not None,
                                faces=faces is not None, snapshots=task.publish),
        home=task.settings.home if task.publish else None,
    )
    capture = Capture(task.camera_id, task.video, loop=False, pace=task.realtime,
                      timestamps=Timestamps.MEDIA, media_start=datetime.fromisoformat(task.media_start))
    sightings: list[Sighting] = []
    reported = 0
    bus = open_bus(task.settings.bus_url, task.settings.home) if task.publish else None
    try:
        for frame in capture.frames(threading.Event(), every_s=1.0 / task.analysed_fps):
            found = pipeline.process(frame)
            sightings += found
            if bus is not None:
                for s in found:
                    bus.publish(s)
            if _PROGRESS is not None and capture.frames_read - reported >= 10:
                _PROGRESS.put(capture.frames_read - reported)  # type: ignore[attr-defined]
                reported = capture.frames_read
        found = pipeline.finish()
        sightings += found
        if bus is not None:
            for s in found:
                bus.publish(s)
            bus.flush()
    finally:
        if bus is not None:
            bus.close()
        if faces is not None:
            faces.close()
    if _PROGRESS is not None and capture.frames_read > reported:
        _PROGRESS.put(capture.frames_read - reported)  # type: ignore[attr-defined]
    error = capture.health().error
    if error and error.startswith("end of file"):
        error = None
    stats = pipeline.stats
    return {
        "video": task.video, "camera_id": task.camera_id, "frames": capture.frames_read,
        "analysed": stats.frames, "gated_out": stats.gated_out, "seconds": round(time.monotonic() - started, 2),
        "error": error, "problems": problems,
        "sightings": [s.model_dump_json() for s in sightings],
        "stage_s": {"gate": round(stats.gate_s, 2), "plates": round(stats.plates_s, 2),
                    "faces": round(stats.faces_s, 2), "identify": round(stats.identify_s, 2)},
        "suppressed": stats.suppressed, "dropped": stats.dropped,
    }


def camera_for(video: Path, truth: ClipTruth | None, known: set[str], override: str | None) -> str | None:
    if override:
        return override
    if truth is not None:
        return truth.camera_id
    match = re.match(r"^([A-Za-z0-9-]+?)(?:[_.].*)?$", video.stem)
    if match and match.group(1) in known:
        return match.group(1)
    return None


def _frame_count(video: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    finally:
        cap.release()


def run_replay(
    videos: list[Path],
    settings: Settings,
    camera: str | None = None,
    speed: Speed = "max",
    score: bool = False,
    report: Path | None = None,
    analysed_fps: float = DEFAULT_ANALYSED_FPS,
    publish: bool = True,
    jobs: int | None = None,
    plates: bool = True,
    faces: bool = True,
    out: TextIO | None = None,
) -> int:
    """Replay `videos`; with `score`, print and write the precision/recall report.

    Returns 0 when every video was read to its end, 1 otherwise, 2 for bad arguments.
    """
    from tqdm import tqdm

    from streams.district import load_district

    stream = out or sys.stdout
    if speed not in ("realtime", "max"):
        print(f"replay: --speed must be realtime or max, not {speed!r}", file=sys.stderr)
        return 2
    known = {c.id for c in load_district(settings.district_file).cameras}
    tasks: list[_Task] = []
    truths: dict[str, ClipTruth | None] = {}
    failed: list[str] = []
    resolved: list[tuple[Path, str, ClipTruth | None]] = []
    for video in videos:
        if not video.is_file():
            print(f"replay: {video}: no such file", file=sys.stderr)
            failed.append(str(video))
            continue
        truth = load_clip_truth(video)
        cam = camera_for(video, truth, known, camera)
        if cam is None:
            print(f"replay: {video}: which camera is this? Pass --camera ID", file=sys.stderr)
            failed.append(str(video))
            continue
        resolved.append((video, cam, truth))
    if not resolved:
        return 2 if videos else 0
    now = datetime.now(UTC)
    ends = [t.start + timedelta(seconds=t.frames / t.fps) for _, _, t in resolved if t is not None]
    shift = (now - max(ends)) if ends else timedelta(0)
    settings.ensure()
    for video, cam, truth in resolved:
        start = (truth.start + shift) if truth is not None else now
        truths[str(video)] = truth
        tasks.append(_Task(str(video), cam, start.isoformat(), speed == "realtime", analysed_fps,
                           settings, publish, plates, faces))
    total = sum(_frame_count(Path(t.video)) for t in tasks)
    processes = len(tasks) if speed == "realtime" else max(1, min(len(tasks), jobs or os.cpu_count() or 1))
    ctx = multiprocessing.get_context("spawn")
    started = time.monotonic()
    results: list[dict] = []
    with ctx.Manager() as manager:
        queue = manager.Queue()
        with ctx.Pool(processes, initializer=_init_worker, initargs=(queue,)) as pool, \
                tqdm(total=total or None, unit="frame", desc="replay", file=sys.stderr,
                     disable=None) as bar:
            pending = [pool.apply_async(_replay_one, (task,)) for task in tasks]
            while pending:
                while not queue.empty():
                    bar.update(queue.get())
                still = []
                for item in pending:
                    if item.ready():
                        results.append(item.get())
                    else:
                        still.append(item)
                pending = still
                time.sleep(0.1)
            while not queue.empty():
                bar.update(queue.get())
    elapsed = time.monotonic() - started
    results.sort(key=lambda r: r["video"])
    frames = sum(r["frames"] for r in results)
    count = sum(len(r["sightings"]) for r in results)
    print(f"replayed {len(results)} video(s), {frames} frames in {elapsed:.1f} s "
          f"({frames / max(elapsed, 1e-6):.0f} frames/s): {count} sightings"
          f"{' published on the bus' if publish else ''}", file=stream)
    for r in results:
        for problem in r["problems"]:
            print(f"  {Path(r['video']).name}: {problem}", file=stream)
        if r["error"]:
            print(f"  {Path(r['video']).name}: {r['error']}", file=stream)
            failed.append(r["video"])
    document: dict = {
        "replayed_at": now.isoformat(), "speed": speed, "analysed_fps": analysed_fps,
        "elapsed_s": round(elapsed, 2), "time_shift_s": round(shift.total_seconds(), 3),
        "videos": [{k: v for k, v in r.items() if k != "sightings"} | {"sightings": len(r["sightings"])}
                   for r in results],
        "failed": failed,
    }
    if score:
        clips = []
        unscored = []
        for r in results:
            truth = truths.get(r["video"])
            sightings = [Sighting.model_validate_json(s) for s in r["sightings"]]
            if truth is None:
                unscored.append(Path(r["video"]).name)
            else:
                clips.append((truth, sightings))
        face_map = map_face_identities(clips, shift, TOLERANCE_S)
        scores = [score_clip(t, s, shift, TOLERANCE_S, face_map) for t, s in clips]
        print(format_table(scores), file=stream)
        if unscored:
            print(f"not scored (no truth file next to them): {', '.join(unscored)}", file=stream)
        document["score"] = report_dict(scores) | {"face_identities": face_map,
                                                   "tolerance_s": TOLERANCE_S}
    if score or report is not None:
        path = report or settings.home / "reports" / f"replay-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"report: {path}", file=stream)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m video.replay", description=__doc__.split("\n")[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--camera", help="camera id for every video (default: from truth or name)")
    parser.add_argument("--speed", choices=["realtime", "max"], default="max")
    parser.add_argument("--score", action="store_true", help="precision/recall against the truth")
    parser.add_argument("--report", type=Path, help="where to write the JSON report")
    parser.add_argument("--fps", type=float, default=DEFAULT_ANALYSED_FPS, help="analysed frames per second")
    parser.add_argument("--no-publish", action="store_true", help="do not send the sightings to the bus")
    parser.add_argument("--jobs", type=int, help="parallel videos at --speed max (default: cores)")
    parser.add_argument("--home")
    parser.add_argument("--bus")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(home=args.home, bus_url=args.bus)
    return run_replay(args.videos, settings, camera=args.camera, speed=args.speed, score=args.score,
                      report=args.report, analysed_fps=args.fps, publish=not args.no_publish, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())

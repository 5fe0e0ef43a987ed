"""One tester replay inside the dashboard process: a video through the real camera pipeline,
frame by frame, with what the detectors saw drawn on the frame and a running score.

The readers are wrapped only to *record* the boxes they return (the pipeline itself is
untouched); sightings are scored with `video/scoring.py`'s rules against the truth file
next to the video, counting only the true passes that have ended by the current frame, so
the score is fair while the replay is still running. Nothing is published on the bus:
this is a check of the pipeline, not traffic for the wall screen.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from streams.records import BBox, Detection, Sighting

log = logging.getLogger(__name__)

VIEW_WIDTH = 960
"""Annotated frames are sent at this width (a 720p JPEG would be ~3x the bytes per tick)."""
ANALYSED_FPS = 2.0
FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@dataclass(slots=True)
class Box:
    kind: str  # plate | face
    bbox: BBox
    label: str


@dataclass(slots=True)
class RunView:
    """What the page shows of a run (a copy, safe to read while the run goes on)."""

    video: str
    camera_id: str
    frames_read: int
    frames_total: int
    done: bool
    error: str | None
    problems: list[str]
    frame_jpeg: str | None  # data: URI
    hit_jpeg: str | None  # the latest frame with at least one box (what was found, kept in view)
    boxes: int  # boxes drawn so far
    sightings: list[Sighting]
    score: dict | None  # {"plates": KindScore.as_dict(False), "faces": ...} or None without truth


class _Recorder:
    def __init__(self) -> None:
        self.boxes: list[Box] = []


class _RecordingPlates:
    """A plate reader that remembers the boxes it returned for the current frame."""

    def __init__(self, inner: Any, recorder: _Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def _keep(self, found: list[Detection]) -> list[Detection]:
        self.recorder.boxes += [Box("plate", d.bbox, d.text or "") for d in found]
        return found

    def read_regions(self, image: np.ndarray, regions: Sequence[BBox]) -> list[Detection]:
        return self._keep(self.inner.read_regions(image, regions))

    def read_frame(self, image: np.ndarray) -> list[Detection]:
        return self._keep(self.inner.read_frame(image))


class _RecordingFaces:
    def __init__(self, inner: Any, recorder: _Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def find(self, image: np.ndarray, regions: Sequence[BBox], frame_index: int) -> list:
        views = self.inner.find(image, regions, frame_index)
        self.recorder.boxes += [Box("face", v.bbox, "") for v in views]
        return views

    def identify(self, candidate: Any, seen_at: datetime) -> Any:
        return self.inner.identify(candidate, seen_at)

    def close(self) -> None:
        self.inner.close()


@cache
def _plate_reader() -> Any:
    from video.readers import load_plate_reader

    return load_plate_reader()


@cache
def _font(size: int) -> Any:
    from PIL import ImageFont

    for path in FONT_FILES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def annotate(image: np.ndarray, boxes: list[Box]) -> str:
    """The frame, scaled to VIEW_WIDTH, with its boxes and labels, as a JPEG data URI."""
    import cv2
    from PIL import Image, ImageDraw

    height, width = image.shape[:2]
    scale = VIEW_WIDTH / width if width > VIEW_WIDTH else 1.0
    small = cv2.resize(image, (int(width * scale), int(height * scale))) if scale != 1.0 else image.copy()
    picture = Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(picture)
    font = _font(18)
    for box in boxes:
        x1, y1, x2, y2 = (int(v * scale) for v in box.bbox)
        color = (72, 219, 251) if box.kind == "plate" else (255, 159, 67)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=3)
        if box.label:
            width_px = int(draw.textlength(box.label, font=font)) + 8
            lx = max(0, min(x1, picture.width - width_px))  # keep the label inside the frame
            ly = y1 - 24 if y1 >= 24 else y2
            draw.rectangle((lx, ly, lx + width_px, ly + 24), fill=color)
            draw.text((lx + 4, ly), box.label, fill=(0, 0, 0), font=font)
    out = cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 72])
    if not ok:
        raise ValueError("cannot encode the annotated frame")
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode()


NAME_WINDOW_S = 15.0
"""A face box takes the name of a face sighting this close in time whose best view overlaps it."""


def named(boxes: list[Box], ts: datetime, sightings: list[Sighting]) -> list[Box]:
    """Label unlabelled face boxes with who they turned out to be (known once a pass ends)."""
    from video.tracking import iou

    faces = [s for s in sightings if s.kind.value == "face"
             and abs((s.ts - ts).total_seconds()) <= NAME_WINDOW_S]
    out = []
    for box in boxes:
        if box.kind == "face" and not box.label and faces:
            best = max(faces, key=lambda s: iou(s.bbox, box.bbox))
            if iou(best.bbox, box.bbox) > 0.05:
                box = replace(box, label=best.identity)
        out.append(box)
    return out


@dataclass
class ReplayRun:
    video: Path
    home: Path
    known_cameras: set[str]
    analysed_fps: float = ANALYSED_FPS
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _view: RunView | None = None

    def start(self) -> ReplayRun:
        from video.replay import camera_for
        from video.scoring import load_clip_truth

        self.truth = load_clip_truth(self.video)
        self.camera_id = camera_for(self.video, self.truth, self.known_cameras, None) or "PF-C001"
        self._view = RunView(self.video.name, self.camera_id, 0, 0, False, None, [], None, None, 0, [], None)
        threading.Thread(target=self._run, name=f"tester-{self.video.name}", daemon=True).start()
        return self

    def view(self) -> RunView:
        with self._lock:
            assert self._view is not None
            return replace(self._view, sightings=list(self._view.sightings), problems=list(self._view.problems))

    def _update(self, **changes: Any) -> None:
        with self._lock:
            assert self._view is not None
            self._view = replace(self._view, **changes)

    def _run(self) -> None:
        try:
            self._replay()
        except Exception as exc:  # the page must say why, not hang on "running"
            log.exception("tester replay of %s failed", self.video)
            self._update(error=f"{type(exc).__name__}: {exc}", done=True)

    def _replay(self) -> None:
        from video.camera_pipeline import CameraPipeline, PipelineOptions
        from video.capture import Capture, Timestamps
        from video.readers import FaceReader, ReaderUnavailable

        recorder = _Recorder()
        problems: list[str] = []
        plates = faces = None
        try:
            plates = _RecordingPlates(_plate_reader(), recorder)
        except ReaderUnavailable as exc:
            problems.append(f"plates off: {exc}")
        try:
            faces = _RecordingFaces(FaceReader(self.home), recorder)
        except ReaderUnavailable as exc:
            problems.append(f"faces off: {exc}")
        self._update(problems=problems)
        start = self.truth.start if self.truth is not None else datetime.now(UTC)
        pipeline = CameraPipeline(
            self.camera_id, plates=plates, faces=faces,  # type: ignore[arg-type]
            options=PipelineOptions(analysed_fps=self.analysed_fps, plates=plates is not None,
                                    faces=faces is not None, snapshots=False))
        capture = Capture(self.camera_id, str(self.video), loop=False, pace=False,
                          timestamps=Timestamps.MEDIA, media_start=start)
        sightings: list[Sighting] = []
        drawn = 0
        hit: tuple[datetime, np.ndarray, list[Box]] | None = None  # the latest frame with boxes
        try:
            for frame in capture.frames(self.stop, every_s=1.0 / self.analysed_fps):
                recorder.boxes = []
                found = pipeline.process(frame)
                sightings += found
                boxes = named(recorder.boxes, frame.ts, sightings)
                picture = annotate(frame.image, boxes)
                drawn += len(boxes)
                changes: dict[str, Any] = {}
                if boxes:
                    hit = (frame.ts, frame.image, list(recorder.boxes))
                    changes["hit_jpeg"] = picture
                elif found and hit is not None:  # a pass just ended: its name goes on the kept frame
                    changes["hit_jpeg"] = annotate(hit[1], named(hit[2], hit[0], sightings))
                self._update(frames_read=capture.frames_read, frames_total=capture.frame_count,
                             frame_jpeg=picture, sightings=list(sightings), boxes=drawn,
                             score=self._score(sightings, frame.ts), **changes)
            sightings += pipeline.finish()
            if hit is not None:
                self._update(hit_jpeg=annotate(hit[1], named(hit[2], hit[0], sightings)))
        finally:
            if faces is not None:
                faces.close()
        error = capture.health().error
        if error and error.startswith("end of file"):
            error = None
        self._update(frames_read=capture.frames_read, sightings=list(sightings), done=True, error=error,
                     score=self._score(sightings, None))

    def _score(self, sightings: list[Sighting], now: datetime | None) -> dict | None:
        """Precision/recall so far: true passes that ended before `now` (all at the end)."""
        from video.replay import TOLERANCE_S
        from video.scoring import map_face_identities, score_clip

        if self.truth is None:
            return None
        truth = self.truth
        counted = sightings
        if now is not None:
            settled = now - timedelta(seconds=TOLERANCE_S + 3.0)  # a pass's sighting comes ~pass_gap after it
            truth = replace(truth, passes=tuple(p for p in truth.passes if p.last <= settled))
            counted = [s for s in sightings if s.ts <= settled]
        shift = timedelta(0)
        face_map = map_face_identities([(truth, counted)], shift, TOLERANCE_S)
        result = score_clip(truth, counted, shift, TOLERANCE_S, face_map)
        return {"plates": result.plates.as_dict(False), "faces": result.faces.as_dict(False)}


_RUNS: dict[str, ReplayRun] = {}
_RUNS_LOCK = threading.Lock()


def start_run(run_id: str, video: Path, home: Path, known_cameras: set[str]) -> ReplayRun:
    """Start a replay; any other one still going is stopped (two cores do not run two)."""
    with _RUNS_LOCK:
        for other in _RUNS.values():
            other.stop.set()
        _RUNS.clear()
        run = ReplayRun(video, home, known_cameras).start()
        _RUNS[run_id] = run
        return run


def get_run(run_id: str | None) -> ReplayRun | None:
    with _RUNS_LOCK:
        return _RUNS.get(run_id or "")


def stop_run(run_id: str | None) -> None:
    run = get_run(run_id)
    if run is not None:
        run.stop.set()


def wait_done(run: ReplayRun, timeout_s: float) -> RunView:
    """For benches and scripts: block until the run ends (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = run.view()
        if view.done:
            return view
        time.sleep(0.2)
    return run.view()

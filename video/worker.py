"""`cityops worker`: camera pipelines in a pool of processes, supervised, with heartbeats.

    cityops worker --cameras /config/cameras.csv --shard 1/4 --bus kafka://...
    cityops worker --demo --cameras 6

Layout: the parent process is a supervisor; it splits its cameras over `processes` child
processes (default: one per core) and keeps one more process standing by, imports done
and models loaded; when a child dies its cameras go to the standby at once (then after
2 s, then 5 s if it keeps dying), and the status topic is told meanwhile that they are
down and why. Inside a child each camera runs in its own thread (capture,
gate, detectors, tracker: `camera_pipeline`); a camera whose pipeline raises is restarted
the same way, alone. A heartbeat thread per child publishes every camera's
`CameraStatus` every 2 s and at once when it changes, so the map shows a dead camera
within seconds. Each camera's `PassJournal` makes a restart neither repeat nor lose a
pass. Frames never leave the process: only sightings (and snapshot paths) go on the bus.

Demo: the district's first N cameras replay `sample_media/PF-C00k.mp4` at real time in
the recorded scenario's rhythm (see `LoopSchedule`), forever; each loop gives new
sightings with new ids and current times. The district's other cameras stay configured
but idle (no stream, no status).
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import json
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from streams.bus import Bus, open_bus
from streams.config import REPO_ROOT, Settings
from streams.records import CameraStatus, Frame, Sighting
from video.camera_config import CameraSource, load_cameras_csv, parse_shard, shard
from video.camera_pipeline import DEFAULT_ANALYSED_FPS
from video.capture import Capture, LoopSchedule, redact

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
RESTART_BACKOFF_S = (0.0, 2.0, 5.0)
"""Waits before restarting a crashed process (at once, then 2 s, 5 s): all well under 10 s."""
PIPELINE_BACKOFF_S = (1.0, 2.0, 5.0)
"""Waits before restarting a camera whose pipeline raised (the process lives on)."""
STOP_GRACE_S = 8.0
"""How long a stopping camera process lets its cameras close their open passes: a worker
killed by -9 must be gone well before its successor reads the same cameras."""
DEFAULT_CAMERAS_CSV = Path("/config/cameras.csv")
MALLOC_ARENAS = "2"
"""glibc malloc arenas of a camera process (MALLOC_ARENA_MAX). Its default, 8 per core,
gives each of a process's ~25 threads (a decoder and a pipeline per camera, onnxruntime's
and FFmpeg's) arenas of their own; frame-sized buffers freed in one and asked for in
another fragment them, and a 12-camera process's RSS kept climbing (the load test: ~12
MB/min each for 10 minutes). With two it levels off within a minute (docs/RELIABILITY.md,
Load test). An operator's own MALLOC_ARENA_MAX is kept."""
SAMPLE_MEDIA = REPO_ROOT / "sample_media"


@dataclass(frozen=True, slots=True)
class CameraJob:
    """One camera for one pipeline: where to read, how often to analyse, demo timing."""

    camera_id: str
    url: str
    analysed_fps: float = DEFAULT_ANALYSED_FPS
    schedule: LoopSchedule | None = None
    loop_files: bool = True


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    plates: bool = True
    faces: bool = True
    snapshots: bool = True


# ---------------------------------------------------------------- which cameras


def demo_jobs(count: int, media: Path = SAMPLE_MEDIA, district_file: Path | None = None,
              analysed_fps: float = DEFAULT_ANALYSED_FPS) -> list[CameraJob]:
    """The district's first `count` cameras, each replaying its sample clip `<camera_id>.mp4`.

    Cameras without a clip of their own (a load test asks for 24; there are 10 clips)
    replay the clips in turn, half a cycle later than the clip's own camera, so that one
    car is not at two places at the same moment."""
    from streams.district import load_district

    cameras = load_district(district_file).cameras[:count]
    timing = _scenario_timing(media)
    clips = sorted(media.glob("*.mp4"))
    jobs = []
    reused = 0
    for camera in cameras:
        clip = media / f"{camera.id}.mp4"
        shift = 0.0
        if not clip.is_file():
            if not clips:
                log.info("demo: no sample clip for %s: it stays idle", camera.id)
                continue
            clip = clips[reused % len(clips)]
            reused += 1
            shift = 0.5
        cycle, offset = timing.get(clip.name, (None, 0.0))
        schedule = LoopSchedule(cycle_s=cycle, offset_s=(offset + shift * cycle) % cycle) if cycle else None
        jobs.append(CameraJob(camera.id, str(clip), analysed_fps, schedule))
    return jobs


def _scenario_timing(media: Path) -> dict[str, tuple[float, float]]:
    """file -> (cycle_s, offset_s) from sample_media/truth.json, if it is there."""
    try:
        truth = json.loads((media / "truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    timing: dict[str, tuple[float, float]] = {}
    for scenario in truth.get("scenarios", []):
        for clip in scenario.get("clips", []):
            timing[clip["file"]] = (float(scenario["cycle_s"]), float(clip["offset_s"]))
    return timing


def config_jobs(sources: list[CameraSource], analysed_fps: float = DEFAULT_ANALYSED_FPS) -> list[CameraJob]:
    return [CameraJob(s.camera_id, s.url, s.analysed_fps or analysed_fps) for s in sources if s.url]


# ---------------------------------------------------------------- inside a child process


class CameraRunner(threading.Thread):
    """One camera: capture -> pipeline -> bus, restarted on failure, forever."""

    def __init__(self, job: CameraJob, settings: Settings, bus: Bus, options: WorkerOptions,
                 plate_reader: object | None, plate_lock: threading.Lock, stop: threading.Event,
                 reader_problem: str | None = None) -> None:
        super().__init__(name=f"camera-{job.camera_id}", daemon=True)
        self.job = job
        self.settings = settings
        self.bus = bus
        self.options = options
        self.plate_reader = plate_reader
        self.plate_lock = plate_lock
        self.stop_event = stop
        self.reader_problem = reader_problem
        self.capture: Capture | None = None
        self.crash: str | None = None
        self.sightings = 0
        self.dropped = 0  # analysed samples skipped because analysis was behind

    def run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                self._run_once()
                if self.capture is not None and self.capture.finished:
                    return
                failures = 0
            except Exception as exc:  # a pipeline bug must not take the other cameras down
                self.crash = f"pipeline crashed: {type(exc).__name__}: {exc}"[:400]
                log.exception("camera %s: %s", self.job.camera_id, self.crash)
                delay = PIPELINE_BACKOFF_S[min(failures, len(PIPELINE_BACKOFF_S) - 1)]
                failures += 1
                if self.stop_event.wait(delay):
                    return

    def _run_once(self) -> None:
        from video.camera_pipeline import CameraPipeline, PipelineOptions
        from video.pass_journal import PassJournal
        from video.readers import FaceReader, ReaderUnavailable

        job = self.job
        journal = PassJournal(self.settings.home / "video" / "journal" / f"{job.camera_id}.json")
        self._publish(journal.pending(), None)  # written before a crash, maybe not sent
        faces = None
        if self.options.faces:
            try:
                faces = FaceReader(self.settings.home)
            except ReaderUnavailable as exc:
                self.reader_problem = str(exc)
        plates = _LockedPlates(self.plate_reader, self.plate_lock) if self.plate_reader else None
        pipeline = CameraPipeline(
            job.camera_id, plates=plates, faces=faces,
            options=PipelineOptions(analysed_fps=job.analysed_fps, plates=plates is not None,
                                    faces=faces is not None, snapshots=self.options.snapshots),
            home=self.settings.home, journal=journal,
        )
        # a file stands for a camera: it plays at its own frame rate, in a loop
        self.capture = Capture(job.camera_id, job.url, loop=job.loop_files, pace=True, schedule=job.schedule)
        self.crash = None
        samples: queue.Queue[Frame | None] = queue.Queue(maxsize=2)
        reader = threading.Thread(target=self._decode, args=(self.capture, samples, 1.0 / job.analysed_fps),
                                  name=f"decode-{job.camera_id}", daemon=True)
        reader.start()
        try:
            while not self.stop_event.is_set():
                try:
                    frame = samples.get(timeout=0.5)
                except queue.Empty:
                    if not reader.is_alive():
                        break
                    continue
                if frame is None:  # end of the source
                    break
                self._publish(pipeline.process(frame), pipeline)
            self._publish(pipeline.finish(), pipeline)  # stopping or end of file: nothing left open
        finally:
            if faces is not None:
                faces.close()
            reader.join(timeout=5)

    def _decode(self, capture: Capture, samples: queue.Queue[Frame | None], every_s: float) -> None:
        """Decode in its own thread: a live stream is read at its pace even while a frame
        is being analysed; when analysis falls behind, the oldest sample waiting is dropped
        (the pipeline always works on the newest picture, never on a growing backlog)."""
        for frame in capture.frames(self.stop_event, every_s=every_s):
            while True:
                try:
                    samples.put_nowait(frame)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        samples.get_nowait()
                        self.dropped += 1
        samples.put(None)

    def _publish(self, sightings: list[Sighting], pipeline: object | None) -> None:
        if not sightings:
            return
        for sighting in sightings:
            self.bus.publish(sighting)
        self.bus.flush()
        self.sightings += len(sightings)
        if pipeline is not None:
            pipeline.acknowledge(sightings)  # type: ignore[attr-defined]

    def status(self, worker: str) -> CameraStatus:
        now = datetime.now(UTC)
        if self.capture is None:
            return CameraStatus(camera_id=self.job.camera_id, ts=now, online=False,
                                error=self.crash or "starting up", worker=worker)
        health = self.capture.health()
        error = self.crash or health.error
        if error is None and self.reader_problem:
            error = self.reader_problem
        return CameraStatus(camera_id=self.job.camera_id, ts=now, online=health.online and self.crash is None,
                            fps_in=health.fps_in, last_frame_ts=health.last_frame_ts,
                            error=error[:500] if error else None, worker=worker)


class _LockedPlates:
    """One plate model per process, shared by its camera threads one call at a time
    (onnxruntime then uses every core for that call instead of fighting over them)."""

    def __init__(self, reader: object, lock: threading.Lock) -> None:
        self._reader = reader
        self._lock = lock

    def read_regions(self, image, regions):  # noqa: ANN001, ANN201 - PlateReader protocol
        with self._lock:
            return self._reader.read_regions(image, regions)  # type: ignore[attr-defined]

    def read_frame(self, image):  # noqa: ANN001, ANN201
        with self._lock:
            return self._reader.read_frame(image)  # type: ignore[attr-defined]

    @property
    def separate_steps(self) -> bool:
        return bool(getattr(self._reader, "separate_steps", False))

    def detect(self, image, region):  # noqa: ANN001, ANN201 - SeparateStepsReader protocol
        with self._lock:
            return self._reader.detect(image, region)  # type: ignore[attr-defined]

    def read(self, image, found):  # noqa: ANN001, ANN201
        with self._lock:
            return self._reader.read(image, found)  # type: ignore[attr-defined]

    def read_tracked(self, image, found, earlier, may_ask=None):  # noqa: ANN001, ANN201
        with self._lock:
            return self._reader.read_tracked(image, found, earlier, may_ask)  # type: ignore[attr-defined]


def _heartbeats(runners: list[CameraRunner], bus: Bus, worker: str, stop: threading.Event) -> None:
    """Every camera's status every HEARTBEAT_S, and at once when online/error changes."""
    last_sent: dict[str, tuple[float, bool, str | None]] = {}
    while not stop.is_set():
        now = time.monotonic()
        sent = False
        for runner in runners:
            try:
                status = runner.status(worker)
            except Exception:  # a status must never stop the heartbeat of the others
                log.exception("status of camera %s", runner.job.camera_id)
                continue
            previous = last_sent.get(status.camera_id)
            changed = previous is None or previous[1] != status.online or previous[2] != status.error
            if changed or now - previous[0] >= HEARTBEAT_S:
                try:
                    bus.publish(status)
                    sent = True
                except Exception as exc:
                    log.warning("heartbeat of %s not sent: %s", status.camera_id, exc)
                    continue
                last_sent[status.camera_id] = (now, status.online, status.error)
        if sent:
            try:
                bus.flush()
            except Exception as exc:
                log.warning("heartbeats not flushed: %s", exc)
        stop.wait(0.5)


def _stop_with_parent() -> None:
    """Get SIGTERM when the supervisor process dies, even by kill -9 (Linux).

    Without it a killed `cityops worker` leaves its camera processes running, and the new
    worker the demo supervisor starts reads the same cameras: every pass twice. SIGTERM
    lets the orphan finish its passes (recorded in their journals) and stop.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the prctl
        os.kill(os.getpid(), signal.SIGTERM)


def standby_main(conn: Connection, settings: Settings, options: WorkerOptions) -> None:
    """Entry point of a worker process: load everything, then wait for cameras to read.

    The supervisor keeps one such process ready beyond those at work, so that replacing a
    dead one costs a message, not an interpreter start, imports and model loading (which
    take several seconds on a busy machine).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s")
    faulthandler.enable(all_threads=True)  # a crash in native code leaves its stack in the log
    stop = threading.Event()
    at_work = threading.Event()

    def on_signal(*_: object) -> None:
        if not at_work.is_set():  # standing by: no pass open, nothing to finish
            os._exit(0)
        if not stop.is_set():
            stop.set()
            last_resort = threading.Timer(STOP_GRACE_S + 4, os._exit, (1,))  # a hung camera must not outlive us
            last_resort.daemon = True
            last_resort.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _stop_with_parent()
    import video.camera_pipeline  # noqa: F401 - the heavy imports, done while idle
    from video.readers import FaceReader, ReaderUnavailable, load_plate_reader

    plate_reader = None
    problem = None
    if options.plates:
        try:
            plate_reader = load_plate_reader()
        except ReaderUnavailable as exc:
            problem = str(exc)
            log.error("%s: plates are not read by this worker", problem)
    if options.faces:
        try:
            FaceReader(settings.home).close()  # imports dlib and opens the watch list once
        except ReaderUnavailable as exc:
            log.error("%s: faces are not read by this worker", exc)
    while not stop.is_set():
        try:
            if not conn.poll(0.5):
                continue
            jobs, worker = conn.recv()
        except (EOFError, OSError):  # the supervisor is gone
            return
        at_work.set()
        run_cameras(settings, jobs, worker, options, plate_reader, problem, stop)
        return


def run_cameras(settings: Settings, jobs: list[CameraJob], worker: str, options: WorkerOptions,
                plate_reader: object | None, problem: str | None, stop: threading.Event) -> None:
    """One worker process at work: its cameras' threads and their heartbeat, until `stop`."""
    worker = f"{worker}:{os.getpid()}"  # statuses name the very process reading the camera
    log.info("worker %s: reading %s", worker, ", ".join(j.camera_id for j in jobs))
    lock = threading.Lock()
    with open_bus(settings.bus_url, settings.home) as bus:
        runners = [CameraRunner(job, settings, bus, options, plate_reader, lock, stop, problem) for job in jobs]
        beat = threading.Thread(target=_heartbeats, args=(runners, bus, worker, stop), daemon=True)
        beat.start()
        for runner in runners:
            runner.start()
        while not stop.is_set() and any(r.is_alive() for r in runners):
            stop.wait(0.5)
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_S  # one grace for all cameras, not one each
        for runner in runners:
            runner.join(timeout=max(0.1, deadline - time.monotonic()))
        beat.join(timeout=max(0.1, deadline - time.monotonic()))
        for runner in runners:  # the last word: this camera is no longer read
            status = runner.status(worker).model_copy(update={"online": False, "fps_in": 0.0})
            if status.error is None:
                status = status.model_copy(update={"error": "worker stopped"})
            bus.publish(status)


# ---------------------------------------------------------------- the supervisor


@dataclass
class _Process:
    process: BaseProcess
    conn: Connection


@dataclass
class _Child:
    index: int
    jobs: list[CameraJob]
    worker: _Process | None = None
    failures: int = 0
    restart_at: float = 0.0
    started_at: float = 0.0


def split(jobs: list[CameraJob], processes: int) -> list[list[CameraJob]]:
    groups: list[list[CameraJob]] = [[] for _ in range(max(1, min(processes, len(jobs))))]
    for i, job in enumerate(jobs):
        groups[i % len(groups)].append(job)
    return groups


class _Pool:
    """The worker processes: those at work, and one standing by to replace a dead one."""

    def __init__(self, settings: Settings, options: WorkerOptions, worker: str, bus: Bus) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.settings = settings
        self.options = options
        self.worker = worker
        self.bus = bus
        self.spare: _Process | None = None
        self._spawned = 0
        self._next_spare = 0.0

    def _spawn(self) -> _Process:
        # glibc reads it when the process starts: the child inherits this environment
        os.environ.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENAS)
        ours, theirs = self.ctx.Pipe()
        self._spawned += 1
        process = self.ctx.Process(target=standby_main, name=f"video-{self._spawned}",  # type: ignore[attr-defined]
                                   args=(theirs, self.settings, self.options), daemon=False)
        process.start()
        theirs.close()
        return _Process(process, ours)

    def ensure_spare(self, now: float) -> None:
        if self.spare is not None and self.spare.process.is_alive():
            return
        if self.spare is not None:  # it died while waiting: do not respawn in a tight loop
            log.error("standby worker process died (exit code %s)", self.spare.process.exitcode)
            self.spare = None
            self._next_spare = now + 5.0
        if now >= self._next_spare:
            self.spare = self._spawn()

    def start(self, child: _Child, now: float) -> None:
        """Put `child`'s cameras on the standing-by process (or a new one)."""
        worker = self.spare if self.spare is not None and self.spare.process.is_alive() else self._spawn()
        self.spare = None
        worker.conn.send((child.jobs, f"{self.worker}/{child.index}"))
        child.worker = worker
        child.started_at = now

    def tend(self, child: _Child, now: float) -> None:
        if child.worker is None:
            if now >= child.restart_at:
                self.start(child, now)
            return
        if child.worker.process.is_alive():
            if now - child.started_at > 60:
                child.failures = 0
            return
        code = child.worker.process.exitcode
        child.worker.conn.close()
        child.worker = None
        delay = RESTART_BACKOFF_S[min(child.failures, len(RESTART_BACKOFF_S) - 1)]
        child.failures += 1
        child.restart_at = now + delay
        reason = f"worker process died (exit code {code}); restarting" + (f" in {delay:.0f} s" if delay else "")
        log.error("worker %s/%d: %s", self.worker, child.index, reason)
        stamp = datetime.now(UTC)
        for job in child.jobs:
            try:
                self.bus.publish(CameraStatus(camera_id=job.camera_id, ts=stamp, online=False, error=reason,
                                              worker=f"{self.worker}/{child.index}"))
            except Exception as exc:
                log.warning("status of %s not sent: %s", job.camera_id, exc)
        try:
            self.bus.flush()
        except Exception as exc:
            log.warning("statuses not flushed: %s", exc)
        if delay == 0:
            self.start(child, now)

    def stop(self, children: list[_Child]) -> None:
        everyone = [c.worker for c in children if c.worker is not None] + ([self.spare] if self.spare else [])
        for w in everyone:
            if w.process.is_alive():
                w.process.terminate()  # SIGTERM: finish passes, last status
        deadline = time.monotonic() + 15
        for w in everyone:
            w.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                log.warning("worker process %s did not stop: killing it", w.process.name)
                w.process.kill()
                w.process.join()


def supervise(settings: Settings, jobs: list[CameraJob], processes: int, options: WorkerOptions,
              stop: threading.Event, worker: str | None = None) -> int:
    """Run `jobs` over `processes` children until `stop`; replace children that die."""
    if not jobs:
        log.warning("no camera with a stream to read: nothing to do")
        stop.wait()
        return 0
    worker = worker or f"{socket.gethostname()}-{os.getpid()}"
    children = [_Child(i, group) for i, group in enumerate(split(jobs, processes))]
    log.info("worker %s: %d cameras over %d processes (+1 standing by)", worker, len(jobs), len(children))
    with open_bus(settings.bus_url, settings.home) as bus:
        pool = _Pool(settings, options, worker, bus)
        try:
            while not stop.is_set():
                now = time.monotonic()
                for child in children:
                    pool.tend(child, now)
                pool.ensure_spare(now)
                stop.wait(0.25)
        finally:
            pool.stop(children)
    return 0


def run_worker(
    settings: Settings,
    cameras: str | Path | int | None = None,
    shard_spec: str = "0/1",
    demo: bool = False,
    processes: int | None = None,
    analysed_fps: float = DEFAULT_ANALYSED_FPS,
    media: Path | None = None,
    plates: bool = True,
    faces: bool = True,
) -> int:
    """`cityops worker`: returns the exit code (2 for a configuration error).

    `cameras`: with `demo`, how many of the district's first cameras replay sample media
    (default 6); otherwise the cameras CSV (default /config/cameras.csv).
    """
    from streams.district import load_district
    from video.camera_config import CameraConfigError

    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping the camera pipelines", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        index, count = parse_shard(shard_spec)
        if demo:
            n = int(cameras) if cameras not in (None, "") else 6
            jobs = demo_jobs(n, media or SAMPLE_MEDIA, settings.district_file, analysed_fps)
            if not jobs:
                log.error("demo: no sample media in %s (run: python -m sample_media.generate)",
                          media or SAMPLE_MEDIA)
                return 2
        else:
            path = Path(str(cameras)) if cameras not in (None, "") else DEFAULT_CAMERAS_CSV
            known = [c.id for c in load_district(settings.district_file).cameras]
            jobs = config_jobs(load_cameras_csv(path, known), analysed_fps)
        jobs = shard(jobs, index, count)
    except (CameraConfigError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    for job in jobs:
        log.info("camera %s <- %s (%.1f analysed fps)", job.camera_id, redact(job.url), job.analysed_fps)
    processes = processes or min(len(jobs), os.cpu_count() or 1)
    return supervise(settings, jobs, processes, WorkerOptions(plates=plates, faces=faces), stop)


def main(argv: list[str] | None = None) -> int:
    """`python -m video.worker ...` until `cityops worker` exists (same options)."""
    import argparse

    from streams.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m video.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", help="cameras CSV (default /config/cameras.csv); with --demo: how many")
    parser.add_argument("--shard", default="0/1", help="i/n: this worker's share of the cameras")
    parser.add_argument("--demo", action="store_true", help="replay sample media as the first cameras")
    parser.add_argument("--processes", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--fps", type=float, default=DEFAULT_ANALYSED_FPS, help="analysed frames per second")
    parser.add_argument("--no-plates", action="store_true")
    parser.add_argument("--no-faces", action="store_true")
    parser.add_argument("--home")
    parser.add_argument("--bus")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(home=args.home, bus_url=args.bus).ensure()
    return run_worker(settings, args.cameras, args.shard, args.demo, args.processes, args.fps,
                      plates=not args.no_plates, faces=not args.no_faces)


if __name__ == "__main__":
    import sys

    sys.exit(main())

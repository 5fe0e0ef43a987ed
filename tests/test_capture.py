"""Capture: files, sampling, clear errors for broken sources; the worker keeps good cameras
going while broken ones report why."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from streams.config import Settings
from streams.localbus import LocalBus
from tests.video_helpers import StatusWatcher, make_clip
from video.camera_config import (
    CameraConfigError,
    CameraSource,
    parse_cameras_csv,
    parse_shard,
    shard,
)
from video.capture import Capture, LoopSchedule, redact, source_kind
from video.worker import CameraJob, WorkerOptions, supervise


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "ok.mp4", seconds=4.0)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("broken")
    data = clip.read_bytes()
    half = folder / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    zero = folder / "zero.mp4"
    zero.write_bytes(b"")
    text = folder / "notes.mp4"
    text.write_text("this is not a video, it is a shopping list\n")
    return {"half": half, "zero": zero, "text": text}


def read_all(capture: Capture, every_s: float = 0.0) -> list:
    return list(capture.frames(threading.Event(), every_s=every_s))


def test_file_is_read_and_sampled(clip: Path) -> None:
    every = read_all(Capture("PF-C001", str(clip)))
    assert len(every) == 100  # 4 s at 25 fps
    assert every[0].image.shape == (360, 640, 3)
    sampled = read_all(Capture("PF-C001", str(clip)), every_s=0.5)
    assert len(sampled) == 8  # 2 analysed frames per second
    assert [f.index for f in sampled[:3]] == [0, 13, 25]
    capture = Capture("PF-C001", str(clip))
    read_all(capture)
    health = capture.health()
    assert not health.online and health.error == "end of file after 100 frames"
    assert capture.finished


def test_paced_file_runs_at_its_frame_rate(clip: Path) -> None:
    capture = Capture("PF-C001", str(clip), pace=True)
    stop = threading.Event()
    started = time.monotonic()
    for frame in capture.frames(stop, every_s=0.5):
        if frame.index >= 25:  # one second of video
            assert 0.9 <= time.monotonic() - started <= 1.6
            assert capture.health().online
            assert 20 <= capture.health().fps_in <= 30
            stop.set()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("zero", "empty file (0 bytes)"),
        ("text", "not a video file"),
        ("half", "truncated or corrupt: it ended after"),
    ],
)
def test_broken_files_say_why(broken: dict[str, Path], name: str, expected: str) -> None:
    capture = Capture("PF-C001", str(broken[name]))
    read_all(capture)
    health = capture.health()
    assert not health.online
    assert health.error is not None and expected in health.error


def test_missing_file_and_refusing_url_say_why(tmp_path: Path) -> None:
    capture = Capture("PF-C001", str(tmp_path / "nope.mp4"))
    read_all(capture)
    assert capture.health().error == f"file not found: {tmp_path / 'nope.mp4'}"
    capture = Capture("PF-C002", "rtsp://admin:secret@127.0.0.1:1/cam", backoff_s=(0.2,))
    stop = threading.Event()
    thread = threading.Thread(target=lambda: read_all_until(capture, stop))
    thread.start()
    time.sleep(0.6)
    stop.set()
    thread.join(5)
    error = capture.health().error or ""
    assert "connection refused by 127.0.0.1:1" in error
    assert "secret" not in error and "admin:***@" in error


def read_all_until(capture: Capture, stop: threading.Event) -> None:
    for _ in capture.frames(stop):
        pass


def test_scheduled_clip_shows_empty_street_outside_its_window(clip: Path) -> None:
    """Demo timing: the clip plays in its window of the cycle, its first frame otherwise."""
    now = time.time()
    schedule = LoopSchedule(cycle_s=6.0, offset_s=(now % 6.0 + 1.0) % 6.0)  # opens in 1 s
    capture = Capture("PF-C001", str(clip), schedule=schedule)
    stop = threading.Event()
    indices = []
    started = time.monotonic()
    for frame in capture.frames(stop, every_s=0.25):
        indices.append(frame.index)
        if time.monotonic() - started > 2.5:
            stop.set()
    assert indices[0] == 0 and indices.count(0) >= 3  # idle before the window
    assert max(indices) >= 25 and indices == sorted(indices)  # then the clip, in order


def test_url_kinds_and_redaction() -> None:
    assert source_kind("rtsp://10.0.0.1/x") == "network"
    assert source_kind("0") == "device" and source_kind("/dev/video2") == "device"
    assert source_kind("/srv/a.mp4") == "file"
    assert redact("rtsp://u:p4ss@h:554/s") == "rtsp://u:***@h:554/s"


def test_cameras_csv_is_checked_line_by_line() -> None:
    text = "camera_id,url,analysed_fps\n# comment\nPF-C001,rtsp://a/1,4\nPF-C002,\n"
    cameras = parse_cameras_csv(text, known_ids=["PF-C001", "PF-C002"])
    assert cameras == [CameraSource("PF-C001", "rtsp://a/1", 4.0), CameraSource("PF-C002", "", None)]
    bad = "PF-C001,rtsp://a\nPF-C001,rtsp://b\nPF-X,rtsp://c\nPF-C002,rtsp://d,fast\n"
    with pytest.raises(CameraConfigError) as err:
        parse_cameras_csv(bad, "cams.csv", known_ids=["PF-C001", "PF-C002"])
    message = str(err.value)
    assert "cams.csv:2: camera PF-C001 is already configured on line 1" in message
    assert "cams.csv:3: unknown camera 'PF-X'" in message
    assert "cams.csv:4: analysed_fps 'fast' is not a number" in message


def test_shards_split_evenly_and_disjointly() -> None:
    cameras = [CameraSource(f"PF-C{i:03d}", "x") for i in range(1, 153)]
    parts = [shard(cameras, i, 4) for i in range(4)]
    assert [len(p) for p in parts] == [38, 38, 38, 38]
    ids = [c.camera_id for p in parts for c in p]
    assert sorted(ids) == sorted(c.camera_id for c in cameras) and len(set(ids)) == 152
    assert parse_shard("3/4") == (3, 4)
    with pytest.raises(CameraConfigError):
        parse_shard("4/4")


def test_worker_reports_broken_cameras_and_keeps_the_good_one_going(
        tmp_path: Path, clip: Path, broken: dict[str, Path]) -> None:
    """Four broken sources and one good: five statuses, each with a clear reason."""
    settings = Settings(home=tmp_path / "home").ensure()
    jobs = [
        CameraJob("PF-C001", str(clip)),
        CameraJob("PF-C002", "rtsp://127.0.0.1:1/cam1"),
        CameraJob("PF-C003", str(broken["half"])),
        CameraJob("PF-C004", str(broken["zero"])),
        CameraJob("PF-C005", str(broken["text"])),
    ]
    stop = threading.Event()
    worker = threading.Thread(target=supervise, args=(settings, jobs, 2, WorkerOptions(plates=False, faces=False), stop))
    bus = LocalBus(settings.home / "bus")
    watcher = StatusWatcher(bus)
    worker.start()
    try:
        expected = {"PF-C002": "connection refused by 127.0.0.1:1", "PF-C003": "truncated or corrupt",
                    "PF-C004": "empty file (0 bytes)", "PF-C005": "not a video file"}
        deadline = time.monotonic() + 25
        latest: dict = {}
        while time.monotonic() < deadline:
            latest = watcher.latest()
            if len(latest) == 5 and latest["PF-C001"].online and all(
                    text in (latest[c].error or "") for c, text in expected.items()):
                break
            time.sleep(0.3)
        assert latest["PF-C001"].online and latest["PF-C001"].fps_in > 0
        for camera, text in expected.items():
            assert text in (latest[camera].error or ""), (camera, latest[camera].error)
        for camera in ("PF-C002", "PF-C004", "PF-C005"):
            assert not latest[camera].online
        # the good camera keeps sending heartbeats while the others fail
        seen_at = [t for t, s in watcher.seen if s.camera_id == "PF-C001" and s.online]
        time.sleep(3)
        watcher.poll()
        assert [t for t, s in watcher.seen if s.camera_id == "PF-C001" and s.online][-1] > seen_at[-1]
    finally:
        stop.set()
        worker.join(30)
        watcher.close()
        bus.close()
    assert not worker.is_alive()


def test_a_killed_worker_process_is_restarted_within_10_s_without_a_duplicate(tmp_path: Path) -> None:
    """SIGKILL the process while a person walks past: the supervisor says why the camera is
    down, a new process reads on within 10 s, and the person is sighted once."""
    import os
    import signal

    from sample_media.scenario import Appearance
    from tests.video_helpers import encode_frames, sightings_of, street_frames

    fps = 10
    clip = encode_frames(tmp_path / "walk.mp4",
                         street_frames([Appearance("face", "grace_hopper", 1.0, 8.0)], 12.0, fps), fps)
    settings = Settings(home=tmp_path / "home").ensure()
    now = time.time()
    schedule = LoopSchedule(cycle_s=60.0, offset_s=(now % 60.0 + 3.0) % 60.0)  # clip starts in 3 s
    stop = threading.Event()
    worker = threading.Thread(target=supervise, args=(
        settings, [CameraJob("PF-C001", str(clip), schedule=schedule)], 1, WorkerOptions(plates=False), stop))
    bus = LocalBus(settings.home / "bus")
    watcher = StatusWatcher(bus)
    worker.start()
    try:
        first = watcher.wait_for(lambda s: s.online, 30)
        assert first is not None
        while time.time() < now + 3.0 + 5.0:  # the person is in view (and being tracked)
            watcher.poll()
        pid = int(first.worker.rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        down = watcher.wait_for(lambda s: not s.online and "worker process died" in (s.error or ""), 10)
        assert down is not None
        back = watcher.wait_for(lambda s: s.online and not s.worker.endswith(f":{pid}"), 15)
        assert back is not None and time.monotonic() - killed <= 10.0, [
            (round(t - killed, 1), s.online, s.fps_in, s.error, s.worker) for t, s in watcher.seen]
        print(f"back online {time.monotonic() - killed:.1f} s after the kill")
        while time.time() < now + 3.0 + 12.0 + 4.0:  # the clip ends, the pass closes
            watcher.poll()
        faces = [s for s in sightings_of(bus) if s.kind.value == "face"]
        assert len(faces) == 1, [(s.identity, s.ts) for s in faces]
    finally:
        stop.set()
        worker.join(30)
        watcher.close()
        bus.close()

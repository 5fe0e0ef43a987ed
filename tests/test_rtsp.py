"""A real camera protocol: RTSP from a GStreamer server on 127.0.0.1 that the test starts,
kills mid-stream and starts again; the status topic must follow within 10 s."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import Settings
from streams.localbus import LocalBus
from tests.video_helpers import StatusWatcher, make_clip
from video.capture import Capture
from video.worker import CameraJob, WorkerOptions, supervise

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).resolve().parent / "rtsp_server.py"


def _server_available() -> str | None:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{SYSTEM_PYTHON} cannot run: {exc}"
    if done.returncode != 0:
        return "Debian's GStreamer RTSP server is missing: run bash tests/setup/ensure_rtsp.sh"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    """tests/rtsp_server.py under Debian's python3, serving one clip at /cam1."""

    def __init__(self, clip: Path, port: int) -> None:
        self.clip = clip
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/cam1"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(self.clip), "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("ready"):
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"RTSP server did not start (exit {self.proc.poll()})")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspServer]:
    reason = _server_available()
    if reason:
        pytest.skip(reason)
    clip = make_clip(tmp_path_factory.mktemp("rtsp") / "cam1.mp4", seconds=20, size="1280x720", fps=15)
    srv = RtspServer(clip, _free_port())
    srv.start()
    yield srv
    srv.kill()


def test_opencv_reads_720p_frames_over_rtsp(server: RtspServer) -> None:
    capture = Capture("PF-C001", server.url)
    stop = threading.Event()
    frames = []
    for frame in capture.frames(stop):
        frames.append(frame)
        if len(frames) == 10:
            stop.set()
    assert frames[0].image.shape == (720, 1280, 3)
    assert capture.health().online


def test_killing_the_server_turns_the_camera_offline_and_back(server: RtspServer, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home").ensure()
    stop = threading.Event()
    worker = threading.Thread(target=supervise, args=(
        settings, [CameraJob("PF-C001", server.url)], 1, WorkerOptions(plates=False, faces=False), stop))
    bus = LocalBus(settings.home / "bus")
    watcher = StatusWatcher(bus)
    worker.start()
    try:
        assert watcher.wait_for(lambda s: s.online and s.fps_in > 0, 30), "camera never came online"
        server.kill()
        killed = time.monotonic()
        offline = watcher.wait_for(lambda s: not s.online, 15)
        offline_after = time.monotonic() - killed
        assert offline is not None and offline_after <= 10.0
        assert offline.error and ("stream lost" in offline.error or "no frame" in offline.error)
        later = watcher.wait_for(lambda s: "connection refused" in (s.error or ""), 10)
        assert later is not None  # while it is down, the status says why
        server.start()
        restarted = time.monotonic()
        back = watcher.wait_for(lambda s: s.online and s.fps_in > 0, 30)
        assert back is not None, "camera did not come back online"
        print(f"offline {offline_after:.1f} s after the kill, online {time.monotonic() - restarted:.1f} s "
              "after the restart")
    finally:
        stop.set()
        worker.join(30)
        watcher.close()
        bus.close()

"""`cityops demo`: start every process of the district on one machine and keep them up.

Children run in their own sessions so that Ctrl-C reaches only the supervisor, which
then stops them in order (producers first, consumers last, so nothing is left unread)
and kills whatever does not stop in time. Each child also dies with the supervisor
(PR_SET_PDEATHSIG), so a killed supervisor leaves no orphans. A child that crashes is
restarted with backoff; a one-shot child (the history backfill) is not.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from streams.config import Settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0
RESTART_BACKOFF_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before restarting a child that died: at once the first time (a killed video worker
must have its cameras back within 10 s), then longer while it keeps dying."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8050
    cameras: int = 6
    speed: float = 60.0
    backfill_days: int = 30
    start_tansu: bool = False
    complaints_per_s: float | None = None  # overrides speed (load tests)


@dataclass
class Child:
    """One supervised process: its command, its log, and how often it has failed."""

    name: str
    args: list[str]
    one_shot: bool = False
    stop_order: int = 0  # lower stops first
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    failures: int = 0
    next_start: float = 0.0
    done: bool = False
    started_at: float = field(default=0.0)
    on_done: Callable[[], None] | None = None
    niceness: int = 0  # added to the child's nice value (lower CPU priority)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _child_setup(niceness: int) -> None:
    """In the child, before exec: die with the parent, and take the asked CPU priority."""
    _die_with_parent()
    if niceness:
        os.nice(niceness)


VIDEO_NICENESS = 5
"""The video workers yield the CPU to the wall and the analytics consumers: when a machine
is short of cores, cameras are analysed at a lower frame rate (files and streams are read
live, so nothing queues up) while operators still see the wall update and every sighting
and complaint that was produced is still stored."""


class Supervisor:
    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def add(self, child: Child) -> None:
        self.children.append(child)

    def _start(self, child: Child) -> None:
        log_path = self.settings.logs / f"{child.name}.out"
        child.log_file = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's life
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "cityops.cli", *child.args],
            stdout=child.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True,
            preexec_fn=partial(_child_setup, child.niceness),
        )
        child.started_at = time.monotonic()
        log.info("started %s (pid %d): cityops %s", child.name, child.proc.pid, " ".join(child.args))

    def _check(self, child: Child, now: float) -> None:
        if child.done:
            return
        if child.proc is None:
            if now >= child.next_start:
                self._start(child)
            return
        code = child.proc.poll()
        if code is None:
            if now - child.started_at > 60:
                child.failures = 0  # it has been healthy for a while
            return
        if child.log_file:
            child.log_file.close()
        child.proc = None
        if child.one_shot and code == 0:
            log.info("%s finished", child.name)
            child.done = True
            if child.on_done:
                child.on_done()
            return
        delay = RESTART_BACKOFF_S[min(child.failures, len(RESTART_BACKOFF_S) - 1)]
        child.failures += 1
        child.next_start = now + delay
        log.warning("%s exited with %s; restarting in %.0f s (see %s)", child.name, code, delay,
                    self.settings.logs / f"{child.name}.out")

    def run(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
            for child in self.children:
                self._check(child, now)
            self.stopping.wait(0.5)

    def stop(self) -> None:
        """Stop children in `stop_order` groups: SIGTERM, wait, then SIGKILL."""
        self.stopping.set()
        for order in sorted({c.stop_order for c in self.children}):
            group = [c for c in self.children if c.stop_order == order and c.proc is not None]
            for child in group:
                assert child.proc is not None
                if child.proc.poll() is None:
                    child.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for child in group:
                assert child.proc is not None
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.0f s: killing it", child.name, STOP_GRACE_S)
                    child.proc.kill()
                    child.proc.wait()
                if child.log_file:
                    child.log_file.close()
                log.info("stopped %s", child.name)


def run_demo(settings: Settings, options: DemoOptions) -> int:
    broker = None
    bus_url = settings.bus_url
    if options.start_tansu:
        from streams.tansu import TansuBroker

        broker = TansuBroker(log_file=settings.logs / "tansu.log")
        broker.start()
        bus_url = broker.url
        log.info("Tansu (Kafka protocol) broker at %s", bus_url)

    env = dict(os.environ)
    env.update({"CITYOPS_HOME": str(settings.home), "CITYOPS_BUS": bus_url,
                "PYTHONUNBUFFERED": "1"})
    if settings.db_url:
        env["CITYOPS_DB"] = settings.db_url
    if settings.district_file:
        env["CITYOPS_DISTRICT"] = str(settings.district_file)

    sup = Supervisor(settings, env)
    sup.add(Child("analytics", ["analytics"], stop_order=2))
    sup.add(Child("dashboard", ["dashboard", "--host", options.host, "--port", str(options.port)], stop_order=1))
    rate = ["--complaints-per-s", str(options.complaints_per_s)] if options.complaints_per_s else []
    sup.add(Child("simulator", ["simulate", "--speed", str(options.speed), *rate], stop_order=0))
    marker = settings.home / "backfill.done"
    if options.backfill_days > 0 and not marker.exists():
        sup.add(Child("backfill", ["simulate", "--no-live", "--backfill-days",
                                   str(options.backfill_days)], one_shot=True, stop_order=0,
                      on_done=lambda: marker.write_text("ok\n")))
    _add_video_workers(sup, settings, options)

    def _on_signal(signum: int, _frame: object) -> None:
        sup.stopping.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"CityOps is starting: dashboard on http://{options.host}:{options.port}  "
          f"(bus: {bus_url}; data: {settings.home}; logs: {settings.logs}). Ctrl-C stops it.",
          flush=True)
    try:
        sup.run()
    finally:
        print("CityOps: stopping...", flush=True)
        sup.stop()
        if broker is not None:
            broker.stop()
        print("CityOps: stopped.", flush=True)
    return 0


def _add_video_workers(sup: Supervisor, settings: Settings, options: DemoOptions) -> None:
    """Replay sample media as cameras, once the video workers and the media exist."""
    media = Path(__file__).resolve().parent.parent / "sample_media"
    if options.cameras <= 0:
        return
    try:
        import video.worker  # noqa: F401
    except ImportError:
        log.info("video workers not available in this build: cameras stay idle")
        return
    if not any(media.glob("*.mp4")):
        log.info("no sample media in %s: cameras stay idle", media)
        return
    sup.add(Child("video", ["worker", "--demo", "--cameras", str(options.cameras)], stop_order=0,
                  niceness=VIDEO_NICENESS))

"""Camera processes start with few glibc malloc arenas: with glibc's default (8 per core)
their RSS climbed for as long as the load test ran (docs/RELIABILITY.md, Load test)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from streams.config import load_settings
from video.worker import MALLOC_ARENAS, WorkerOptions, _Pool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/environ")


def _environ_of_child(tmp_path: Path) -> dict[str, str]:
    settings = load_settings(home=tmp_path / "home", bus_url="local").ensure()
    pool = _Pool(settings, WorkerOptions(plates=False, faces=False), "test", bus=None)  # type: ignore[arg-type]
    child = pool._spawn()
    try:
        deadline = time.monotonic() + 10
        while True:  # the spawned interpreter's environment, as glibc saw it at exec
            raw = Path(f"/proc/{child.process.pid}/environ").read_bytes()
            if raw or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
    finally:
        child.process.kill()
        child.process.join(10)
        child.conn.close()


def test_a_camera_process_runs_with_two_malloc_arenas(tmp_path: Path) -> None:
    saved = os.environ.pop("MALLOC_ARENA_MAX", None)
    try:
        assert _environ_of_child(tmp_path).get("MALLOC_ARENA_MAX") == MALLOC_ARENAS == "2"
    finally:
        os.environ.pop("MALLOC_ARENA_MAX", None)
        if saved is not None:
            os.environ["MALLOC_ARENA_MAX"] = saved


def test_an_operators_own_arena_setting_is_kept(tmp_path: Path) -> None:
    saved = os.environ.get("MALLOC_ARENA_MAX")
    os.environ["MALLOC_ARENA_MAX"] = "4"
    try:
        assert _environ_of_child(tmp_path).get("MALLOC_ARENA_MAX") == "4"
    finally:
        if saved is None:
            os.environ.pop("MALLOC_ARENA_MAX", None)
        else:
            os.environ["MALLOC_ARENA_MAX"] = saved

"""`cityops demo` as a new user runs it: the page is up, complaints flow into it within
30 s, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from analytics.store import Store

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s:.0f} s")


def _http_ok(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def _complaints(home: Path) -> int:
    db = home / "cityops.db"
    if not db.exists():
        return 0
    try:
        store = Store(f"sqlite:///{db}")
        try:
            return store.complaints_count()
        finally:
            store.close()
    except Exception:  # not migrated yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("bus", ["local", "tansu"])
def test_demo_serves_the_wall_with_live_complaints_and_stops_cleanly(tmp_path: Path, bus: str) -> None:
    """`--bus tansu` runs the same system over the Kafka protocol, broker started by the demo."""
    children: list[psutil.Process] = []
    home, port = tmp_path / "home", _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "demo", "--home", str(home), "--port", str(port),
         "--backfill-days", "1", "--cameras", "0", "--bus", bus],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        page = _wait(lambda: _http_ok(f"http://127.0.0.1:{port}/"), 60, "the dashboard answering")
        assert "CityOps" in page and "_dash-config" in page
        _wait(lambda: _complaints(home) > 0, 30 - (time.monotonic() - started) + 30,
              "simulated complaints in the store")
        children += psutil.Process(demo.pid).children(recursive=True)
        assert {"analytics", "dashboard", "simulate"} <= {
            arg for child in children for arg in child.cmdline()[3:4]
        }
        if CHROMIUM:
            dom = subprocess.run(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
                 "--virtual-time-budget=10000", "--dump-dom", f"http://127.0.0.1:{port}/"],
                capture_output=True, text=True, timeout=90,
            ).stdout
            today = dom.split('id="kpi-total"')[1].split(">")[1].split("<")[0]
            assert today.replace(",", "").isdigit() and int(today.replace(",", "")) > 0, today
            assert "实时诉求" in dom and "leaflet" in dom
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            output = demo.communicate(timeout=40)[0].decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert demo.returncode == 0, output
    assert "CityOps: stopped." in output
    assert "Traceback" not in "".join(f.read_text() for f in (home / "logs").glob("*.out"))
    leftovers = [child for child in children if child.is_running()
                 and child.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], f"orphan processes: {[c.cmdline() for c in leftovers]}"

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


def _command(process: psutil.Process) -> list[str]:
    """A child's command line; [] for one that has already exited (the one-shot backfill)."""
    try:
        return process.cmdline()
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return []


def _demo_credentials(home: Path) -> dict[str, str]:
    """The accounts `cityops demo` made, from the file it leaves for testers."""
    lines = (home / "demo_credentials.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t") for line in lines if line and not line.startswith("#"))


def _logged_in(port: int, name: str, password: str) -> urllib.request.OpenerDirector:
    """An HTTP client holding the session cookie of a login through the real route."""
    import http.cookiejar
    import json

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", method="POST",
                                     data=json.dumps({"name": name, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=10) as response:
        assert response.status == 200
    return opener


def _wall_dom_after_login(port: int, name: str, password: str) -> str:
    """Log in through the form in headless Chromium and return the wall's DOM once it has data."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = Options()
    options.binary_location = CHROMIUM or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/login")
        driver.find_element(By.ID, "login-name").send_keys(name)
        driver.find_element(By.ID, "login-password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.ID, "kpi-total") and d.find_element(By.ID, "kpi-total").text.strip()
            not in ("", "–", "0"))
        return driver.page_source
    finally:
        driver.quit()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning")  # selenium 4.2 on urllib3 2
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
        assert "CityOps" in page and 'id="login-form"' in page  # nothing without logging in
        credentials = _demo_credentials(home)
        assert set(credentials) == {f"demo-{role}" for role in ("operator", "analyst", "leader", "tester",
                                                                 "admin")}
        assert oct((home / "demo_credentials.txt").stat().st_mode & 0o777) == "0o600"
        opener = _logged_in(port, "demo-operator", credentials["demo-operator"])
        with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert "_dash-config" in response.read().decode("utf-8")
        _wait(lambda: _complaints(home) > 0, 30 - (time.monotonic() - started) + 30,
              "simulated complaints in the store")
        children += psutil.Process(demo.pid).children(recursive=True)
        assert {"analytics", "dashboard", "simulate"} <= {
            arg for child in children for arg in _command(child)[3:4]
        }
        if CHROMIUM and shutil.which("chromedriver"):
            dom = _wall_dom_after_login(port, "demo-operator", credentials["demo-operator"])
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
    assert f"demo-admin\t{credentials['demo-admin']}" in output  # printed once at start
    assert "Traceback" not in "".join(f.read_text() for f in (home / "logs").glob("*.out"))
    leftovers = [child for child in children if child.is_running()
                 and child.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], f"orphan processes: {[c.cmdline() for c in leftovers]}"

"""Load test: the whole demo under a camera and complaint load, watched from outside.

    cityops bench load --cameras 24 --complaints-per-s 10 --minutes 10      # issue 9's run
    cityops bench load --cameras 4 --complaints-per-s 2 --minutes 1 --backfill-days 1

Starts `cityops demo` in a fresh data folder (24 cameras reuse the 10 sample clips), waits
until the dashboard answers and the history backfill is done, then every `--every-s`:

- memory: the RSS of every process of the demo (psutil), by role;
- queues: for each topic of the embedded bus and each consumer group, the messages not
  yet committed (the lag); a queue that keeps growing shows in its trend;
- freshness: a complaint is submitted through the dashboard's HTTP API (logged in as the
  demo's operator), travels the bus to the analytics consumer, and the store the wall
  reads is polled until it holds it: the time from submit to stored is what the wall's
  next tick (every 1.5 s) can show at the earliest;
- rates: complaints and sightings stored per second.

At the end the demo is stopped with Ctrl-C (as a user would) and a Markdown report is
printed and written into docs/RELIABILITY.md between the load-test markers (--no-doc: not).
Needs psutil (requirements-test.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- load-test:begin -->", "<!-- load-test:end -->"
MB = 1024 * 1024


@dataclass
class Sample:
    at: float
    rss: dict[str, int]  # role -> bytes
    lag: dict[str, int]  # "topic / group" -> messages
    fresh_s: float | None
    complaints: int
    sightings: int


@dataclass
class Run:
    args: argparse.Namespace
    home: Path
    samples: list[Sample] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    started_wall: str = ""
    warmup_s: float = 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- processes and memory


def _role(proc, demo_pid: int) -> str:  # type: ignore[no-untyped-def]
    """A stable name for one process of the demo."""
    import psutil

    try:
        cmd = proc.cmdline()
        parent = proc.ppid()
    except psutil.Error:
        return "gone"
    if proc.pid == demo_pid:
        return "demo supervisor"
    if cmd and cmd[0].endswith("tansu"):
        return "tansu broker"
    if "cityops.cli" in cmd:
        sub = cmd[cmd.index("cityops.cli") + 1] if cmd.index("cityops.cli") + 1 < len(cmd) else "?"
        return "backfill" if sub == "simulate" and "--no-live" in cmd else sub
    joined = " ".join(cmd)
    if "resource_tracker" in joined:
        return "video resource tracker"
    if "multiprocessing" in joined:
        return f"video camera process (pid {proc.pid}, parent {parent})"
    return f"{Path(cmd[0]).name if cmd else '?'} (pid {proc.pid})"


def _rss(demo_pid: int) -> dict[str, int]:
    import psutil

    try:
        root = psutil.Process(demo_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    out: dict[str, int] = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            role = _role(proc, demo_pid)
            out[role] = out.get(role, 0) + proc.memory_info().rss
    return out


# ---------------------------------------------------------------- queues, counts


def _lag(home: Path) -> dict[str, int]:
    """Uncommitted messages per topic and group on the embedded bus."""
    out: dict[str, int] = {}
    for db in sorted((home / "bus").glob("*.db")):
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
                row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
                last = int(row[0]) if row else 0
                for group, offset in conn.execute("SELECT grp, last_offset FROM offsets"):
                    out[f"{db.stem.removeprefix('cityops.')} / {group}"] = last - int(offset)
        except sqlite3.Error:
            continue
    return out


def _cameras_online(home: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(home / "cityops.db", timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM camera_status WHERE online").fetchone()[0])
    except sqlite3.Error:
        return 0


def _count(home: Path, table: str) -> int:
    try:
        with contextlib.closing(sqlite3.connect(home / "cityops.db", timeout=5)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    except sqlite3.Error:
        return 0


# ---------------------------------------------------------------- the dashboard's API


class Api:
    """The dashboard's HTTP API as the demo's operator."""

    def __init__(self, base: str, home: Path) -> None:
        self.base = base
        self.home = home
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.point = self._a_place()

    @staticmethod
    def _a_place() -> tuple[float, float]:
        from streams.district import load_district

        camera = load_district(None).cameras[0]
        return camera.lat, camera.lon

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 10) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}
        except (OSError, ValueError):  # not up yet, or not JSON
            return 0, {}

    def login(self) -> bool:
        credentials = self.home / "demo_credentials.txt"
        if not credentials.exists():
            return False
        for line in credentials.read_text(encoding="utf-8").splitlines():
            name, _, password = line.partition("\t")
            if name == "demo-operator":
                status, _ = self._call("POST", "/login", {"name": name, "password": password})
                return status == 200
        return False

    def freshness(self, n: int, timeout_s: float = 30.0) -> float | None:
        """Seconds from submitting a complaint to the API showing it (None: not in time)."""
        started = time.monotonic()
        lat, lon = self.point
        status, answer = self._call("POST", "/api/complaints", {
            "text": f"负载测试 {n}: 路灯不亮", "lat": lat, "lon": lon, "source": "app"})
        if status != 201:
            print(f"load: submit refused ({status}); logging in again", file=sys.stderr)
            self.login()
            return None
        code = answer["code"]
        while time.monotonic() - started < timeout_s:
            if _stored(self.home, code):
                return time.monotonic() - started
            time.sleep(0.1)
        return None


def _stored(home: Path, code: str) -> bool:
    """Whether the wall can show it: the complaint is in the store's `complaints` table,
    which the wall reads. (The API's own read would answer at once: the intake keeps the
    events it has published but not yet seen stored.)"""
    try:
        with contextlib.closing(sqlite3.connect(home / "cityops.db", timeout=5)) as conn:
            return conn.execute("SELECT 1 FROM complaints WHERE code = ?", (code,)).fetchone() is not None
    except sqlite3.Error:
        return False


# ---------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> Run:
    home = Path(args.home or tempfile.mkdtemp(prefix="cityops-load-")).resolve()
    port = args.port or _free_port()
    command = [sys.executable, "-m", "cityops.cli", "demo", "--home", str(home), "--port", str(port),
               "--cameras", str(args.cameras), "--complaints-per-s", str(args.complaints_per_s),
               "--backfill-days", str(args.backfill_days)]
    if args.bus:
        command += ["--bus", args.bus]
    home.mkdir(parents=True, exist_ok=True)
    out = open(home / "load-demo.out", "ab")  # noqa: SIM115 - closed at the end
    print(f"load: {' '.join(command[2:])}\nload: data in {home}", flush=True)
    demo = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    result = Run(args, home, started_wall=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    try:
        t0 = time.monotonic()
        api = Api(f"http://127.0.0.1:{port}", home)
        deadline = t0 + args.warmup_timeout_s
        while not api.login():
            if demo.poll() is not None:
                raise SystemExit(f"load: the demo exited with {demo.returncode}; see {home / 'load-demo.out'}")
            if time.monotonic() > deadline:
                raise SystemExit("load: the dashboard did not answer in time")
            time.sleep(1)
        while args.backfill_days and not (home / "backfill.done").exists():
            if time.monotonic() > deadline:
                raise SystemExit("load: the history backfill did not finish in time")
            time.sleep(2)
        while _cameras_online(home) < min(args.cameras, 1) and time.monotonic() < deadline:
            time.sleep(2)  # the video worker has loaded its models and reads
        time.sleep(args.settle_s)  # every process past its start-up, so "start" RSS is steady
        result.warmup_s = time.monotonic() - t0
        print(f"load: warm after {result.warmup_s:.0f} s; measuring for {args.minutes} min", flush=True)
        start = time.monotonic()
        n = 0
        while True:
            now = time.monotonic()
            n += 1
            result.samples.append(Sample(
                at=now - start, rss=_rss(demo.pid), lag=_lag(home), fresh_s=api.freshness(n),
                complaints=_count(home, "complaints"), sightings=_count(home, "sightings")))
            last = result.samples[-1]
            print(f"load: t={last.at:5.0f} s  rss {sum(last.rss.values()) / MB:6.0f} MB  "
                  f"max lag {max(last.lag.values(), default=0):5d}  fresh "
                  f"{'-' if last.fresh_s is None else f'{last.fresh_s:.2f} s'}  complaints {last.complaints}  "
                  f"sightings {last.sightings}", flush=True)
            if now - start >= args.minutes * 60 or demo.poll() is not None:
                break
            time.sleep(max(0.0, args.every_s - (time.monotonic() - now)))
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
            try:
                demo.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        out.close()
    text = (home / "logs" / "demo.log").read_text(encoding="utf-8", errors="replace") \
        if (home / "logs" / "demo.log").exists() else ""
    result.restarts = [line.split(": ", 1)[-1] for line in text.splitlines() if "exited with" in line]
    return result


# ---------------------------------------------------------------- the report


def _trend(values: list[int]) -> str:
    if len(values) < 3:
        return "-"
    third = max(1, len(values) // 3)  # medians: one busy moment is not a trend
    first, last = statistics.median(values[:third]), statistics.median(values[-third:])
    return "flat" if last <= first * 1.2 + 20 else f"growing ({first:.0f} -> {last:.0f})"


def report(result: Run) -> str:
    a, s = result.args, result.samples
    if not s:
        return "no samples"
    span = s[-1].at - s[0].at or 1.0
    lines = [
        f"Run of {result.started_wall}: `cityops bench load --cameras {a.cameras} --complaints-per-s "
        f"{a.complaints_per_s} --minutes {a.minutes} --backfill-days {a.backfill_days} --settle-s {a.settle_s:g} "
        f"--every-s {a.every_s:g}{' --bus ' + a.bus if a.bus else ''}` on this machine ({os.cpu_count()} cores, shared with "
        f"whatever else runs: load average {os.getloadavg()[0]:.1f} at the end). Warm-up (dashboard up, "
        f"{a.backfill_days} days of history, a camera online, then {a.settle_s:.0f} s) took {result.warmup_s:.0f} s; then {len(s)} samples over "
        f"{span / 60:.1f} min.",
        "",
        f"- stored: {(s[-1].complaints - s[0].complaints) / span:.2f} complaints/s, "
        f"{(s[-1].sightings - s[0].sightings) / span:.2f} sightings/s",
    ]
    fresh = [x.fresh_s for x in s if x.fresh_s is not None]
    if fresh:
        lines.append(f"- a complaint submitted through the API is in the store the wall reads after "
                     f"median {statistics.median(fresh):.2f} s, max {max(fresh):.2f} s "
                     f"({len(s) - len(fresh)} of {len(s)} not within 30 s); the wall's tick adds at most 1.5 s")
    lines.append(f"- processes restarted by the supervisor: {len(result.restarts)}"
                 + (f" ({'; '.join(result.restarts[:5])})" if result.restarts else ""))
    lines += ["", "| process | RSS at start (MB) | RSS at end (MB) | max (MB) |", "|---|---:|---:|---:|"]
    for role in sorted({r for x in s for r in x.rss}):
        series = [x.rss[role] for x in s if role in x.rss]
        first = s[0].rss.get(role)
        end = s[-1].rss.get(role)
        lines.append(f"| {role} | {'-' if first is None else f'{first / MB:.0f}'} | "
                     f"{'-' if end is None else f'{end / MB:.0f}'} | {max(series) / MB:.0f} |")
    lines += ["", "| topic / consumer group | lag at start | max | at end | trend |", "|---|---:|---:|---:|---|"]
    for key in sorted({k for x in s for k in x.lag}):
        series = [x.lag.get(key, 0) for x in s]
        lines.append(f"| {key} | {series[0]} | {max(series)} | {series[-1]} | {_trend(series)} |")
    if not any(x.lag for x in s):
        lines.append("| (lag is read from the embedded bus's files; not measured on Kafka) | | | | |")
    return "\n".join(lines)


def write_doc(text: str, doc: Path = DOC) -> None:
    body = doc.read_text(encoding="utf-8") if doc.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in body and END in body:
        body = body[: body.index(BEGIN)] + block + body[body.index(END) + len(END):]
    else:
        body = body.rstrip() + "\n\n### Load test: last run\n\n" + block + "\n"
    doc.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityops bench load", description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=24)
    parser.add_argument("--complaints-per-s", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--every-s", type=float, default=15.0, help="sampling period")
    parser.add_argument("--bus", help="local (default), tansu or kafka://host:port")
    parser.add_argument("--home", help="data folder (default: a new temporary one)")
    parser.add_argument("--port", type=int)
    parser.add_argument("--warmup-timeout-s", type=float, default=900.0)
    parser.add_argument("--settle-s", type=float, default=60.0,
                        help="wait after warm-up (cameras online) before the first sample")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/RELIABILITY.md")
    args = parser.parse_args(argv)
    try:
        import psutil  # noqa: F401
    except ImportError:
        print("cityops bench load needs psutil: pip install -r requirements-test.txt", file=sys.stderr)
        return 2
    result = run(args)
    text = report(result)
    print(text)
    if not args.no_doc:
        write_doc(text)
        print(f"load: written to {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall-screen cost: bytes per 2 s tick and the first paint, at district scale.

    python bench/bench_dashboard.py                  # 152 cameras, every grid with a status,
                                                     # 1,000 open complaints (+ 4,000 closed)
    python bench/bench_dashboard.py --ticks 30 --no-browser

A store is seeded (tests/page_seed.py: the same writes as production) in a temporary
folder. Then:

- payload: the wall's tick callback is called through Dash's own HTTP endpoint
  (`/_dash-update-component`, Flask test client), as the browser calls it; the response
  bytes are the payload per tick (raw, and gzip-compressed as a proxy in front would send
  them), with the server time per tick;
- first paint: headless Chromium opens the wall and reports the browser's
  first-contentful-paint and the moment the first data (the KPI tiles) is on screen.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.config import load_settings  # noqa: E402
from tests.page_seed import seed  # noqa: E402


def _client(app):  # type: ignore[no-untyped-def]
    """A test client logged in as an operator (the wall's role), through the real login route."""
    from tests.auth_helpers import login

    client = app.server.test_client()
    login(client, "operator")
    return client


def _tick_request(app) -> dict:
    """The body the browser posts for the wall's 2 s tick (read from the app's dependencies)."""
    client = _client(app)
    deps = client.get("/_dash-dependencies").get_json()
    tick = next(d for d in deps if any(i["id"] == "wall-tick" for i in d["inputs"]))
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in tick["output"].strip(".").split("...")]
    return {"output": tick["output"], "outputs": outputs,
            "inputs": [{"id": "wall-tick", "property": "n_intervals", "value": 1}],
            "state": [{"id": "wall-lang", "property": "data", "value": "zh"}],
            "changedPropIds": ["wall-tick.n_intervals"]}


def measure_ticks(app, ticks: int) -> dict:
    client = _client(app)
    body = _tick_request(app)
    sizes, zipped, seconds = [], [], []
    for n in range(ticks):
        body["inputs"][0]["value"] = n + 1
        started = time.perf_counter()
        response = client.post("/_dash-update-component", json=body)
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"tick {n}: HTTP {response.status_code}: {response.data[:300]!r}")
        sizes.append(len(response.data))
        zipped.append(len(gzip.compress(response.data)))
    parts = json.loads(response.data)["response"]
    by_output = {f"{cid}.{prop}": len(json.dumps(value, ensure_ascii=False).encode())
                 for cid, props in parts.items() for prop, value in props.items()}
    return {"bytes_median": statistics.median(sizes), "bytes_max": max(sizes),
            "gzip_median": statistics.median(zipped), "server_ms_median": 1000 * statistics.median(seconds),
            "server_ms_p95": 1000 * sorted(seconds)[int(0.95 * (len(seconds) - 1))], "largest": sorted(
                by_output.items(), key=lambda kv: -kv[1])[:5]}


def first_paint(app, runs: int) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1920,1080", "--disable-background-networking", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options)
    fcp, data = [], []
    try:
        from analytics.accounts import Role
        from tests.auth_helpers import PASSWORDS, user_name

        driver.get(url + "login")  # log in once through the form; the session cookie is kept
        driver.find_element("id", "login-name").send_keys(user_name(Role.OPERATOR))
        driver.find_element("id", "login-password").send_keys(PASSWORDS[Role.OPERATOR])
        driver.find_element("id", "login-submit").click()
        for _ in range(runs + 1):  # the first run warms the server's caches (district, store)
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(url)
            while driver.execute_script(
                    "const e = document.getElementById('kpi-cameras'); return !e || e.textContent === '–'"):
                if time.perf_counter() - started > 30:
                    raise RuntimeError("the wall showed no data within 30 s")
                time.sleep(0.02)
            data.append(time.perf_counter() - started)
            fcp.append(driver.execute_script(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
                / 1000)
    finally:
        driver.quit()
        server.shutdown()
    return {"fcp_s_median": statistics.median(fcp[1:]), "data_s_median": statistics.median(data[1:]),
            "data_s_max": max(data[1:]), "cold_data_s": data[0]}


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=1000, help="open complaints")
    parser.add_argument("--closed", type=int, default=4000, help="closed complaints (30 days)")
    parser.add_argument("--sightings", type=int, default=5000, help="background sightings (6 h)")
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--paints", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        settings = load_settings(home=folder)
        started = time.perf_counter()
        seeded = seed(settings, complaints=args.open + args.closed, open_complaints=args.open,
                      extra_sightings=args.sightings)
        print(f"seeded {seeded.complaints:,} complaints ({seeded.open_complaints:,} open), "
              f"{seeded.sightings:,} sightings in {time.perf_counter() - started:.1f} s")
        from dashboard.app import create_app
        from tests.auth_helpers import add_role_users

        add_role_users(settings)
        app = create_app(settings)
        ticks = measure_ticks(app, args.ticks)
        print(f"tick payload: median {ticks['bytes_median'] / 1024:.1f} KB, max {ticks['bytes_max'] / 1024:.1f} KB, "
              f"gzip {ticks['gzip_median'] / 1024:.1f} KB; server {ticks['server_ms_median']:.0f} ms median, "
              f"{ticks['server_ms_p95']:.0f} ms p95 over {args.ticks} ticks")
        print("largest outputs: " + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in ticks["largest"]))
        if not args.no_browser:
            paint = first_paint(app, args.paints)
            print(f"first contentful paint {paint['fcp_s_median']:.2f} s; data on screen "
                  f"{paint['data_s_median']:.2f} s median, {paint['data_s_max']:.2f} s max "
                  f"(cold server: {paint['cold_data_s']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

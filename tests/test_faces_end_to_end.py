"""A watch-listed face crossing two cameras, end to end on the real path.

Grace Hopper (matplotlib's sample photo) walks past PF-C002 and, a minute later, PF-C003
in the sample media. Enrolled from her photo, the two clips replayed through the camera
pipeline (faces only) onto the embedded bus, and the analytics process consuming it, she
must come out as two sightings, one watch-list alert per camera pass and one two-point
trajectory.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.queries import SightingQueries, Window
from analytics.store import Store
from streams.config import load_settings
from streams.records import AlertKind, SightingKind
from video.faces.cli import run_enroll
from video.replay import run_replay

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "sample_media"
PERSON = "grace_hopper"


def test_a_watch_listed_face_on_two_cameras_gives_two_sightings_two_alerts_one_trip(
        tmp_path: Path, two_sample_clips: list[Path]) -> None:
    clips = two_sample_clips
    truths = [json.loads(c.with_suffix(".json").read_text(encoding="utf-8")) for c in clips]
    assert [(t["camera_id"], sum(p["identity"] == PERSON for p in t["passes"])) for t in truths] \
        == [("PF-C002", 1), ("PF-C003", 1)]  # the truth: one pass at each camera

    home = tmp_path / "home"
    settings = load_settings(home=home, bus_url="local", db_url=f"sqlite:///{tmp_path / 'store.db'}").ensure()
    assert run_enroll(PERSON, [MEDIA / "faces" / "grace_hopper.jpg"], home, added_by="test",
                      reason="end-to-end test", out=io.StringIO()) == 0

    out = io.StringIO()
    code = run_replay(clips, settings, speed="max", score=True, publish=True, plates=False, faces=True,
                      report=tmp_path / "report.json", out=out)
    assert code == 0, out.getvalue()

    env = {**os.environ, "CITYOPS_HOME": str(home), "CITYOPS_DB": settings.store_url, "CITYOPS_BUS": "local"}
    analytics = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "analytics", "--role", "ingest", "--role", "trajectories"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = Store.open(settings.store_url)
    try:
        queries = SightingQueries(store)

        def state() -> tuple[list, list, list]:
            seen = queries.face(PERSON)
            alerts = queries.alerts(kind=AlertKind.WATCHLIST, identity=PERSON)
            trips = queries.trajectories(PERSON, kind=SightingKind.FACE)
            return seen, alerts, trips

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and analytics.poll() is None:
            seen, alerts, trips = state()
            if len(seen) >= 2 and len(alerts) >= 2 and trips and len(trips[0].points) >= 2:
                break
            time.sleep(0.5)
        time.sleep(2.0)  # anything extra (a duplicate sighting or alert) would arrive by now
        seen, alerts, trips = state()
        every_alert = queries.alerts(kind=AlertKind.WATCHLIST)
        today = Window(since=datetime.now(UTC) - timedelta(hours=1), until=datetime.now(UTC) + timedelta(minutes=1))
        strangers = [h for h in queries.at_cameras(["PF-C002", "PF-C003"], today, kind=SightingKind.FACE)
                     if h.identity != PERSON]
    finally:
        analytics.send_signal(signal.SIGTERM)
        try:
            logs, _ = analytics.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            analytics.kill()
            logs, _ = analytics.communicate()
        store.close()

    detail = f"replay:\n{out.getvalue()}\nanalytics:\n{logs[-3000:]}"
    # two sightings of her, one per camera, in the order she walked
    assert [s.camera_id for s in sorted(seen, key=lambda s: s.ts)] == ["PF-C002", "PF-C003"], detail
    assert all(s.face_distance is not None and s.face_distance < 0.6 for s in seen), detail
    # one watch-list alert per camera pass, each pointing at its sighting
    assert sorted(a.camera_id for a in alerts) == ["PF-C002", "PF-C003"], detail
    assert {e for a in alerts for e in a.evidence} >= {s.sighting_id for s in seen}, detail
    # the other people in those clips: unknown-person ids, and no alert for them
    assert strangers and all(h.identity.startswith("unknown:") for h in strangers), detail
    assert len(every_alert) == 2, detail
    # one trip, C002 then C003
    assert len(trips) == 1, detail
    assert [p.camera_id for p in trips[0].points] == ["PF-C002", "PF-C003"], detail
    assert analytics.returncode == 0, detail

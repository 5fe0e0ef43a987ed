"""The analyst's searches on a small stored world, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.alerts import CoTravelRules
from analytics.camera_graph import CameraGraph
from analytics.queries import QueryError, SightingQueries, Window
from analytics.search import SearchRequest, run_search
from analytics.store import Store
from analytics.trajectories import TrajectoryBuilder
from streams.config import Settings
from streams.district import load_district
from streams.records import Sighting, SightingKind

T0 = datetime(2026, 5, 12, 0, 0, tzinfo=UTC)
DISTRICT = load_district()
GRAPH = CameraGraph.from_district(DISTRICT)
EAST = ["PF-C002", "PF-C003", "PF-C004", "PF-C006"]
ALL = Window(T0 - timedelta(days=1), T0 + timedelta(days=1))
RNG = np.random.default_rng(7)
ALICE = RNG.normal(0, 0.1, 128)
BOB = RNG.normal(0, 0.1, 128)


def seen(camera: str, seconds: float, identity: str, kind: SightingKind = SightingKind.PLATE,
         encoding: np.ndarray | None = None) -> Sighting:
    return Sighting(id=hashlib.sha1(f"{identity}{camera}{seconds}".encode()).hexdigest(),
                    camera_id=camera, ts=T0 + timedelta(seconds=seconds), kind=kind, identity=identity,
                    confidence=0.91, bbox=(0, 0, 10, 10), snapshot=f"snap/{camera}-{seconds:.0f}.jpg",
                    encoding=None if encoding is None else [float(x) for x in encoding])


WORLD = [
    *[seen(c, 60 * i, "黑A12345") for i, c in enumerate(EAST)],
    *[seen(c, 60 * i + 2, "黑A88888") for i, c in enumerate(EAST)],  # travels with 黑A12345
    seen("PF-C002", 30, "黑A12346"), seen("PF-C010", 3600, "黑A92345"), seen("PF-C011", 7200, "黑B12345"),
    seen("PF-C050", 100, "吉A12345"),
    seen("PF-C002", 10, "alice", SightingKind.FACE, ALICE + RNG.normal(0, 0.01, 128)),
    seen("PF-C004", 130, "alice", SightingKind.FACE, ALICE + RNG.normal(0, 0.01, 128)),
    seen("PF-C003", 70, "unknown-3", SightingKind.FACE, BOB),
]


@pytest.fixture
def queries(store_url: str) -> SightingQueries:
    store = Store.open(store_url)
    store.write(WORLD)
    TrajectoryBuilder(store, GRAPH).add(WORLD)
    yield SightingQueries(store, GRAPH)
    store.close()


def test_plate_exact_returns_every_sighting_with_time_camera_confidence_and_snapshot(queries: SightingQueries) -> None:
    hits = queries.plate("黑A·12345", ALL)  # typed the way it is printed
    assert [h.camera_id for h in hits] == EAST
    first = hits[0]
    assert first.ts == T0 and first.confidence == pytest.approx(0.91)
    assert first.snapshot == "snap/PF-C002-0.jpg" and first.lat is not None and first.match_cost == 0
    assert queries.plate("黑A12345", Window(T0 + timedelta(seconds=90), T0 + timedelta(hours=1)))[0].camera_id == "PF-C004"
    with pytest.raises(QueryError, match="not a plate"):
        queries.plate("hello")


def test_wildcards_match_one_character_or_any_run(queries: SightingQueries) -> None:
    assert queries.plates_like("黑A?2345") == ["黑A12345", "黑A92345"]
    assert queries.plates_like("黑A1234*") == ["黑A12345", "黑A12346"]
    assert queries.plates_like("*12345") == ["吉A12345", "黑A12345", "黑B12345"]
    assert {h.identity for h in queries.plate_pattern("黑A?23*", ALL)} == {"黑A12345", "黑A92345", "黑A12346"}
    with pytest.raises(QueryError):
        queries.plates_like("*??")


def test_fuzzy_finds_the_plate_behind_an_ocr_confusion_and_ranks_it_first(queries: SightingQueries) -> None:
    matches = queries.fuzzy_plates("黑A1Z345")
    assert matches[0].plate == "黑A12345" and matches[0].cost == 0.5  # 2 read as Z
    assert {m.plate for m in matches[1:]} <= {"黑A12346", "黑A92345", "黑B12345", "吉A12345"}
    costs = [m.cost for m in matches]
    assert costs == sorted(costs)
    hits = queries.plate_fuzzy("黑A1Z345", ALL)
    assert hits[0].identity == "黑A12345" and hits[0].match_cost == 0.5
    assert {h.identity for h in hits} >= {"黑A12345"}
    # each listed confusion, in both directions
    for misread in ("黑A1234S", "黑A7Z345", "黑AI2345"):
        assert queries.fuzzy_plates(misread)[0].plate == "黑A12345", misread
    assert queries.fuzzy_plates("黑A8BBBB", max_cost=0.5) == []


def test_a_face_by_name_and_by_photo(queries: SightingQueries) -> None:
    assert [h.camera_id for h in queries.face("alice", ALL)] == ["PF-C002", "PF-C004"]
    hits = queries.by_photo(ALICE, ALL)
    assert [h.identity for h in hits] == ["alice", "alice"]
    assert all(h.match_cost < 0.6 for h in hits) and hits[0].match_cost <= hits[1].match_cost
    assert queries.by_photo(-ALICE, ALL) == []  # nobody like that
    with pytest.raises(QueryError):
        queries.by_photo([0.0] * 3, ALL)


def test_everything_at_a_camera_or_in_a_drawn_area_in_a_window(queries: SightingQueries) -> None:
    first_minute = Window(T0, T0 + timedelta(seconds=59))
    hits = queries.at_cameras(["PF-C002"], first_minute)
    assert [(h.identity, h.ts.second) for h in hits] == [("黑A12345", 0), ("黑A88888", 2), ("alice", 10), ("黑A12346", 30)]
    assert [h.identity for h in queries.at_cameras(["PF-C002"], first_minute, kind=SightingKind.FACE)] == ["alice"]
    c2 = DISTRICT.camera("PF-C002")
    square = [(c2.lon - 0.001, c2.lat - 0.001), (c2.lon + 0.001, c2.lat - 0.001),
              (c2.lon + 0.001, c2.lat + 0.001), (c2.lon - 0.001, c2.lat + 0.001)]
    assert [h.identity for h in queries.in_area(square, first_minute)] == [h.identity for h in hits]
    with pytest.raises(QueryError, match="window"):
        queries.at_cameras(["PF-C002"], Window())


def test_companions_of_one_identity_with_the_shared_sightings(queries: SightingQueries) -> None:
    found = queries.companions(SightingKind.PLATE, "黑A12345", ALL, CoTravelRules(min_cameras=3))
    assert [(c.identity, c.cameras) for c in found] == [("黑A88888", 4)]
    assert [m.camera_id for m in found[0].shared] == EAST
    assert queries.companions(SightingKind.PLATE, "黑A12345", ALL, CoTravelRules(min_cameras=5)) == []


def test_trajectories_of_an_identity(queries: SightingQueries) -> None:
    (trip,) = queries.trajectories("黑A12345", ALL)
    assert [p.camera_id for p in trip.points] == EAST and trip.start == T0
    assert queries.trajectories("黑A12345", Window(T0 + timedelta(hours=2), T0 + timedelta(hours=3))) == []


# ---------------------------------------------------------------- cityops search and the HTTP API


@pytest.fixture
def home(tmp_path) -> Settings:
    settings = Settings(home=tmp_path).ensure()
    store = Store.open(settings.store_url)
    store.write(WORLD)
    TrajectoryBuilder(store, GRAPH).add(WORLD)
    store.close()
    return settings


def test_run_search_prints_one_json_object_per_line(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert run_search(home, SearchRequest(fuzzy="黑A1Z345", since="2026-05-12T00:00"), out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["identity"] == "黑A12345" and rows[0]["type"] == "sighting"
    assert {"ts", "camera_id", "confidence", "snapshot", "match_cost"} <= set(rows[0])
    assert run_search(home, SearchRequest(plate="黑A00000"), io.StringIO()) == 1
    assert run_search(home, SearchRequest(plate="黑A12345", face="alice"), io.StringIO()) == 2
    assert "exactly one" in capsys.readouterr().err


def test_the_http_api_answers_each_question_and_explains_bad_requests(home: Settings) -> None:
    import flask

    from dashboard import auth, context
    from dashboard.api_search import register
    from tests.auth_helpers import add_role_users, login

    context.configure(home)
    server = flask.Flask("test")
    auth.install(server)  # the API answers only logged-in users with the search permission
    register(server, home)
    add_role_users(home)
    client = server.test_client()
    assert client.get("/api/search", query_string={"plate": "黑A12345"}).status_code == 401
    login(client, "analyst")
    got = client.get("/api/search", query_string={"plate": "黑A12345"}).get_json()
    assert got["question"] == "plate" and [r["camera_id"] for r in got["results"]] == EAST
    got = client.get("/api/search", query_string={"camera": "PF-C002,PF-C003", "since": "2026-05-12T08:00",
                                                  "until": "2026-05-12T08:01"}).get_json()  # local time
    assert {r["camera_id"] for r in got["results"]} == {"PF-C002", "PF-C003"}
    got = client.post("/api/search", json={"photo": [float(x) for x in ALICE], "since": "2026-05-12T00:00",
                                           "until": "2026-05-13T00:00"}).get_json()
    assert [r["identity"] for r in got["results"]] == ["alice", "alice"]
    got = client.get("/api/search", query_string={"companions": "黑A12345"}).get_json()
    assert got["results"][0]["identity"] == "黑A88888" and len(got["results"][0]["shared"]) == 4
    got = client.get("/api/search", query_string={"trajectories": "黑A12345"}).get_json()
    assert [p["camera_id"] for p in got["results"][0]["points"]] == EAST
    bad = client.get("/api/search", query_string={"plat": "黑A12345"})
    assert bad.status_code == 400 and "unknown parameter" in bad.get_json()["error"]
    assert client.get("/api/search", query_string={"plate": "nope"}).status_code == 400


def test_recent_trajectories_for_the_wall_screen(queries: SightingQueries) -> None:
    live = queries.recent_trajectories(T0 + timedelta(minutes=2))
    assert [tr.identity for tr in live][:1] == ["黑B12345"]  # the newest trip first
    assert {tr.identity for tr in live} >= {"黑A12345", "黑A88888", "alice"}
    assert queries.recent_trajectories(T0 + timedelta(days=1)) == []


def test_alerts_come_with_their_evidence_as_sightings(home: Settings) -> None:
    from analytics.alerts import ClonedPlateDetector

    store = Store.open(home.store_url)
    clone = seen("PF-C001", 65, "黑A12345")  # ~5.5 km from C003 a few seconds after
    store.write([clone, *ClonedPlateDetector(GRAPH).check([*WORLD[:2], clone])])
    store.close()
    out = io.StringIO()
    assert run_search(home, SearchRequest(alerts="cloned_plate"), out) == 0
    (alert,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert alert["identity"] == "黑A12345"
    assert [e["camera_id"] for e in alert["evidence_sightings"]] == ["PF-C003", "PF-C001"]
    assert all(e["snapshot"] for e in alert["evidence_sightings"])

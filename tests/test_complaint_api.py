"""The complaint HTTP API on the real Dash app's Flask server: bad input refused with 4xx and a
message, a whole loop through HTTP, the embedded bus, the ingest and governance consumers
(rankings, grid status, heat map, trends), the OpenAPI spec, and a bounded schemathesis
fuzz of that spec with no 5xx."""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import flask
import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis import GenerationMode

from analytics.accounts import Role
from analytics.governance import Governance, governance_loop
from analytics.ingest import ingest_loop
from analytics.store import Store
from dashboard.api_complaints import register
from dashboard.app import create_app
from streams.config import Settings, load_settings
from streams.district import District, load_district
from streams.localbus import LocalBus
from tests.auth_helpers import add_role_users, login

MAX_PHOTO = 100_000


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(home=tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[flask.Flask]:
    app = create_app(settings)
    register(app.server, settings, max_photo_bytes=MAX_PHOTO)
    yield app.server
    app.server.extensions["cityops_complaints"].close()


@pytest.fixture
def client(server: flask.Flask, settings: Settings):
    """A client logged in as an operator (the role that takes complaints in)."""
    add_role_users(settings)
    client = server.test_client()
    login(client, Role.OPERATOR)
    return client


def _inside(district: District, i: int = 30) -> dict[str, float]:
    lat, lon = district.community_grids()[i].centroid
    return {"lat": lat, "lon": lon}


def _submit(client, district: District, **extra) -> str:
    r = client.post("/api/complaints", json={"text": "小区门口路灯不亮，晚上太黑", **_inside(district), **extra})
    assert r.status_code == 201, r.json
    return r.json["code"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"lat": 45.6, "lon": 126.6}, 400, "text is required"),
    ({"text": "", "lat": 45.6, "lon": 126.6}, 400, "text"),
    ({"text": "路灯不亮", "lat": 39.9042, "lon": 116.4074}, 400, "outside Pingfang"),
    ({"text": "路灯不亮"}, 400, "a location is required"),
    ({"text": "路灯不亮", "lat": 45.6, "lon": 126.6, "level": 7}, 400, "level"),
    ({"text": "路灯不亮", "lat": 45.6, "lon": 126.6, "colour": "red"}, 400, "colour"),
    ({"text": "路灯不亮", "lat": 45.6, "lon": 126.6, "photo": "%%%"}, 400, "base64"),
])
def test_bad_submissions_get_400_with_a_message(client, body: dict, status: int, message: str) -> None:
    r = client.post("/api/complaints", json=body)
    assert r.status_code == status and message in r.json["error"], r.json


def test_an_oversized_photo_gets_413(client, district: District) -> None:
    photo = base64.b64encode(b"\xff\xd8\xff" + bytes(MAX_PHOTO + 10)).decode()
    r = client.post("/api/complaints", json={"text": "垃圾满溢", **_inside(district), "photo": photo})
    assert r.status_code == 413 and "larger than" in r.json["error"]
    huge = "A" * (MAX_PHOTO * 2)
    r = client.post("/api/complaints", json={"text": "垃圾满溢", **_inside(district), "photo": huge})
    assert r.status_code == 413


def test_bodies_that_are_not_json_objects_get_400(client) -> None:
    for data in (b"not json", b"[1, 2]", b"\xff\xfe", b'"text"'):
        r = client.post("/api/complaints", data=data, content_type="application/json")
        assert r.status_code == 400 and r.json["error"] == "the body must be a JSON object"


def test_unknown_codes_get_404_and_illegal_steps_409(client, district: District) -> None:
    for path in ("/api/complaints/PF-20261121-999999", "/api/complaints/nonsense"):
        r = client.get(path)
        assert r.status_code == 404 and "no complaint" in r.json["error"]
    r = client.post("/api/complaints/PF-20261121-999999/accept", json={})
    assert r.status_code == 404 and "PF-20261121-999999" in r.json["error"]
    code = _submit(client, district)
    r = client.post(f"/api/complaints/{code}/fly", json={})
    assert r.status_code == 404 and "no step 'fly'" in r.json["error"]
    r = client.post(f"/api/complaints/{code}/rate", json={"rating": 5})
    assert r.status_code == 409
    assert r.json["code"] == code and r.json["state"] == "created" and r.json["step"] == "rate"
    assert f"complaint {code} is created: cannot rate" in r.json["error"]
    r = client.post(f"/api/complaints/{code}/dispatch", json={})
    assert r.status_code == 400 and "department is required" in r.json["error"]


def test_ratings_outside_1_to_5_get_400(client, district: District) -> None:
    code = _submit(client, district)
    for step, body in (("accept", {}), ("dispatch", {"department": "PF-CGJ"}), ("handle", {"actor": "PF-CGJ"})):
        assert client.post(f"/api/complaints/{code}/{step}", json=body).status_code == 200
    for rating in (0, 6, -3, 4.5, "five", None):
        r = client.post(f"/api/complaints/{code}/rate", json={"rating": rating})
        assert r.status_code == 400 and "rating" in r.json["error"], (rating, r.json)
    r = client.post(f"/api/complaints/{code}/redispatch", json={"department": "PF-MARS"})
    assert r.status_code == 400 and "unknown department 'PF-MARS'" in r.json["error"]
    r = client.post(f"/api/complaints/{code}/redispatch", json={"department": "PF-JTJ"})
    assert r.status_code == 409  # handled: only rate, supervise or (by silence) close
    assert client.post(f"/api/complaints/{code}/rate", json={"rating": 5}).status_code == 200


def test_a_whole_loop_through_http_the_bus_and_the_consumers(client, district: District,
                                                             settings: Settings) -> None:
    code = _submit(client, district, reporter="13900001111")
    steps = [("accept", {}), ("dispatch", {"department": "PF-JTJ"}),
             ("redispatch", {"department": "PF-CGJ", "actor": "PF-JTJ", "note": "非本部门职责"}),
             ("supervise", {"actor": "PF-JCJ", "note": "督办"}), ("handle", {"actor": "PF-CGJ"}),
             ("rate", {"rating": 4, "note": "满意"}), ("close", {})]
    for step, body in steps:
        r = client.post(f"/api/complaints/{code}/{step}", json=body)
        assert r.status_code == 200, (step, r.json)
    got = client.get(f"/api/complaints/{code}").json
    assert [e["type"] for e in got["trace"]] == ["created", "accepted", "dispatched", "redispatched",
                                                 "supervised", "handled", "rated", "closed"]
    assert got["complaint"]["phase"] == "closed" and got["complaint"]["reporter"] == "139****1111"

    bus = LocalBus(settings.home / "bus")
    with Store.open(settings.store_url) as store:
        ingest, _ = ingest_loop(bus, store)
        gov = Governance(district, bus, store)
        loop = governance_loop(gov, bus)
        assert ingest.wait_for(lambda: store.complaint(code) is not None
                               and store.complaint(code).state == "closed", timeout_s=20)
        assert loop.wait_for(lambda: gov.book.state(code) is None and code in gov.book.closed, timeout_s=20)
        gov.save()
        ingest.close()
        loop.close()
    bus.close()
    ranking = client.get("/api/rankings").json
    assert ranking["prior"]["weight"] == 20
    cgj = next(d for d in ranking["departments"] if d["department"] == "PF-CGJ")
    assert cgj["ratings"] >= 1 and cgj["name"] == "平房区城市管理局"
    grid = got["complaint"]["grid_id"]
    status = {g["grid_id"]: g for g in client.get("/api/grids/status").json["grids"]}
    assert len(status) == len(district.community_grids()) and status[grid]["levels"]
    today = datetime.now(UTC).astimezone(district.timezone).date().isoformat()
    heat = client.get(f"/api/heatmap?start={today}&end={today}").json
    assert heat["grids"][grid] >= 1
    trend = client.get("/api/trends?by=week").json
    assert trend["by"] == "week" and sum(p["created"] for p in trend["points"]) >= 1
    assert client.get("/api/heatmap?start=2026-13-01").status_code == 400
    assert client.get("/api/trends?by=year").status_code == 400
    assert client.get("/api/heatmap?start=2026-11-21&end=2026-11-01").status_code == 400
    assert client.get("/api/heatmap?end=0001-01-02").json["grids"] == {}  # the calendar's edge: not a 500
    for query in ("start=0001-01-01&end=9999-12-31", "start=9999-12-31", "end=x"):
        assert client.get(f"/api/heatmap?{query}").status_code == 400, query
    assert client.get("/api/trends?end=0001-01-05").status_code == 200  # an empty trend
    r = client.post("/api/complaints", data='{"text": "路灯不亮", "lat": NaN, "lon": 126.6}',
                    content_type="application/json")
    assert r.status_code == 400 and "lat" in r.json["error"]


def test_an_unreachable_store_gives_503_with_a_message(tmp_path: Path, district: District) -> None:
    settings = Settings(home=tmp_path, db_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    app = flask.Flask("unreachable")
    register(app, settings)
    r = app.test_client().post("/api/complaints", json={"text": "路灯不亮", **_inside(district)})
    assert r.status_code == 503 and "unavailable" in r.json["error"]


def test_the_openapi_spec_lists_every_operation(client) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    steps = {p.rsplit("/", 1)[1] for p in spec["paths"] if p.startswith("/api/complaints/{code}/")}
    assert steps == {"accept", "dispatch", "handle", "supervise", "rate", "redispatch", "close"}
    assert {"/api/complaints", "/api/rankings", "/api/grids/status", "/api/heatmap", "/api/trends"} <= set(spec["paths"])


@hypothesis.given(start=st.one_of(st.none(), st.dates()), end=st.one_of(st.none(), st.dates()),
                  by=st.sampled_from(["day", "week", "", "year"]),
                  photo=st.one_of(st.text(max_size=40), st.from_regex(r"data:[a-z/]*(;base64)?,?[A-Za-z0-9+/=]*",
                                                                      fullmatch=True)))
@hypothesis.settings(max_examples=60, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_edge_dates_and_photo_strings_never_give_a_server_error(client, district: District, start, end, by,
                                                               photo) -> None:
    query = "&".join(f"{k}={v}" for k, v in (("start", start), ("end", end), ("by", by)) if v is not None)
    for path in ("/api/heatmap", "/api/trends"):
        r = client.get(f"{path}?{query}")
        assert r.status_code in (200, 400), (path, query, r.status_code)
    r = client.post("/api/complaints", json={"text": "垃圾满溢", "category": "garbage_pileup",
                                             **_inside(district), "photo": photo})
    assert r.status_code in ((201,) if photo == "" else (400, 413)), (photo, r.status_code, r.json)  # "": none


# ---------------------------------------------------------------- fuzz
# schemathesis needs the schema when the tests are collected (its lazy `from_fixture` does
# not work with this pytest), so the fuzzed app gets a data folder of its own, made here.

_FUZZ_HOME = Path(tempfile.mkdtemp(prefix="cityops-api-fuzz-"))
atexit.register(shutil.rmtree, _FUZZ_HOME, True)
_fuzz_settings = load_settings(home=_FUZZ_HOME)
_fuzz_app = create_app(_fuzz_settings)
register(_fuzz_app.server, _fuzz_settings, max_photo_bytes=MAX_PHOTO)
add_role_users(_fuzz_settings)
_fuzz_client = _fuzz_app.server.test_client()
login(_fuzz_client, Role.OPERATOR)
_FUZZ_COOKIES = {"cityops_session": _fuzz_client.get_cookie("cityops_session").value}
"""The fuzzer calls the API as a logged-in operator, so it reaches the handlers, not the login gate."""
_SPEC = _fuzz_client.get("/api/openapi.json").json  # the spec too is behind the login
fuzzed = schemathesis.openapi.from_dict(_SPEC)
fuzzed.app = _fuzz_app.server  # called in-process (WSGI), as from_wsgi would
OPERATIONS = [(path, method.upper()) for path, methods in _SPEC["paths"].items() for method in methods]
FUZZ_EXAMPLES = 12
"""Per operation and mode: 13 operations x (valid + invalid data) x 12 = ~310 requests."""


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzing_the_spec_never_gives_a_server_error(path: str, method: str, mode: GenerationMode) -> None:
    operation = fuzzed[path][method]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    def fuzz(case) -> None:
        response = case.call(cookies=_FUZZ_COOKIES)
        assert response.status_code < 500, (method, case.formatted_path, case.body, response.text[:500])
        assert response.status_code not in (401, 403), response.text[:200]  # logged in, allowed
        if response.status_code >= 400 and response.status_code != 405:
            assert response.json()["error"]  # every refusal says why

    try:
        fuzz()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip(f"{method} {path}: nothing in its spec can be made invalid")

"""The district model: the bundled Pingfang loads, tiles and keeps the grid rules; broken
files are refused with a message naming the grid; a second district loads from a file."""

from __future__ import annotations

import copy
import json
import pickle
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest
import shapely

from streams.district import (
    BUNDLED_DISTRICT,
    MAX_HOUSEHOLDS,
    MAX_PEOPLE,
    DistrictError,
    load_district,
    parse_district,
    to_polygon,
)

LAKESIDE = Path(__file__).parent / "data" / "district_lakeside.json"
M2_PER_DEG2 = 111_144 * 77_970  # near 45.6 N: square degrees -> square metres


@pytest.fixture(scope="module")
def pingfang():
    return load_district()


@pytest.fixture(scope="module")
def pingfang_raw() -> dict:
    return json.loads(BUNDLED_DISTRICT.read_text(encoding="utf-8"))


@pytest.fixture
def lakeside_raw() -> dict:
    return json.loads(LAKESIDE.read_text(encoding="utf-8"))


def refused(raw: dict, tmp_path: Path) -> str:
    """Write raw to a file, load it, and return the refusal message."""
    path = tmp_path / "district.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DistrictError) as info:
        load_district(path)
    return str(info.value)


# ---------------------------------------------------------------------------- bundled Pingfang


def test_bundled_district_parses_well_under_a_second_and_is_cached():
    text = BUNDLED_DISTRICT.read_bytes()
    assert len(text) < 2_000_000
    started = time.perf_counter()
    parse_district(text)
    assert time.perf_counter() - started < 1.0
    assert load_district() is load_district() is load_district(BUNDLED_DISTRICT)


def test_pingfang_headline_figures(pingfang):
    assert (pingfang.id, pingfang.code_prefix) == ("pingfang", "PF")
    assert pingfang.timezone.key == "Asia/Shanghai"
    assert pingfang.name_zh == "哈尔滨市平房区"
    boundary = to_polygon(pingfang.boundary)
    assert 90 <= boundary.area * M2_PER_DEG2 / 1e6 <= 98  # about 94 km²
    minx, miny, maxx, maxy = boundary.bounds
    assert 45.54 < miny < maxy < 45.66 and 126.54 < minx < maxx < 126.76
    streets = pingfang.street_grids()
    assert {s.name for s in streets} == {"兴建街道", "保国街道", "联盟街道", "友协街道",
                                         "新疆街道", "新伟街道", "平房镇"}
    communities = pingfang.community_grids()
    assert 400 <= len(communities) <= 440
    assert abs(sum(g.households for g in communities) - 75_000) <= 3_000
    assert abs(sum(g.people for g in communities) - 190_000) <= 8_000
    assert pingfang.district_grid().households == sum(g.households for g in communities)


def test_community_grids_tile_the_district_exactly(pingfang):
    boundary = to_polygon(pingfang.boundary)
    polys = np.array([to_polygon(g.polygon) for g in pingfang.community_grids()])
    assert all(p.is_valid for p in polys)
    union = shapely.union_all(polys)
    assert union.symmetric_difference(boundary).area * M2_PER_DEG2 < 1.0  # m²
    left, right = shapely.STRtree(polys).query(polys, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(polys[left[pairs]], polys[right[pairs]]))
    assert overlap.max() * M2_PER_DEG2 < 0.01
    for street in pingfang.street_grids():
        mine = [to_polygon(g.polygon) for g in pingfang.community_grids()
                if g.parent_id == street.id]
        diff = to_polygon(street.polygon).symmetric_difference(shapely.union_all(mine))
        assert diff.area * M2_PER_DEG2 < 1.0, street.name


def test_every_community_grid_keeps_the_limits_and_has_a_worker(pingfang):
    communities = pingfang.community_grids()
    assert max(g.households for g in communities) <= MAX_HOUSEHOLDS
    assert max(g.people for g in communities) <= MAX_PEOPLE
    assert all(g.worker is not None for g in communities)
    assert len({g.worker.id for g in communities}) == len(communities)
    assert all(re.fullmatch(r"PF-G\d{4}", g.id) for g in communities)
    for g in communities:
        lat, lon = g.centroid
        assert to_polygon(g.polygon).contains(shapely.Point(lon, lat)), g.id


def test_152_cameras_inside_at_named_intersections(pingfang):
    cameras = pingfang.cameras
    assert [c.id for c in cameras] == [f"PF-C{n:03d}" for n in range(1, 153)]
    assert len({c.name for c in cameras}) == 152
    assert len({(c.lat, c.lon) for c in cameras}) == 152
    boundary = to_polygon(pingfang.boundary)
    roads = {r.name: shapely.LineString(r.line) for r in pingfang.roads}
    for c in cameras:
        assert boundary.contains(shapely.Point(c.lon, c.lat)), c.id
        assert 0 <= c.heading < 360
        assert c.name.endswith("交口") and c.road in c.name, c.name
        assert roads[c.road].distance(shapely.Point(c.lon, c.lat)) < 0.0005, c.id  # ~40 m
        assert pingfang.camera(c.id) is c
    main = {r.name for r in pingfang.roads if r.kind == "main"}
    on_main = [c for c in cameras if any(name in c.name for name in main)]
    assert len(on_main) >= 110  # mostly main intersections, the rest on busy side streets


def test_taxonomy_has_5_levels_33_types_and_real_departments(pingfang):
    types = pingfang.complaint_types
    assert len(types) == 33 and len({t.code for t in types}) == 33
    assert sorted({t.level for t in types}) == [1, 2, 3, 4, 5]
    dept_ids = {d.id for d in pingfang.departments}
    assert all(t.department_id in dept_ids for t in types)
    names = " ".join(d.name_zh for d in pingfang.departments)
    for office in ("城市管理", "公安", "民政", "住房和城乡建设", "生态环境", "交通运输", "水务",
                   "供热", "监察局"):
        assert office in names, office
    offices = [d for d in pingfang.departments if d.street_id]
    assert {d.street_id for d in offices} == {s.id for s in pingfang.street_grids()}
    by_name = {t.name_zh: t for t in types}
    for name in ("路灯不亮", "垃圾堆放", "噪音扰民", "供暖不热", "道路破损", "井盖缺失",
                 "违章停车", "占道经营", "道路积水", "停水", "违章建筑", "油烟扰民", "流浪动物",
                 "树木倒伏"):
        assert name in by_name, name
    heating = by_name["供暖不热"]
    assert set(heating.peak_months) >= {11, 12, 1, 2, 3} and not set(heating.peak_months) & {6, 7, 8}
    assert 7 in by_name["噪音扰民"].peak_months and 1 not in by_name["噪音扰民"].peak_months
    assert all(t.keywords and t.time_limit_hours > 0 for t in types)
    urgent = [t.time_limit_hours for t in types if t.level == 1]
    relaxed = [t.time_limit_hours for t in types if t.level == 5]
    assert max(urgent) < min(relaxed)


def test_local_matters_go_to_the_street_office_of_the_grid(pingfang):
    grid = pingfang.community_grids()[0]
    street = pingfang.street_of(grid.id)
    office = pingfang.department_for("neighbor_dispute", grid.id)
    assert office.street_id == street.id
    assert pingfang.department_for("heating_cold", grid.id).id == "PF-GRB"
    assert pingfang.department_for("neighbor_dispute").id == "PF-MZJ"  # no grid: fallback


def test_grid_at_finds_each_grid_and_none_outside(pingfang):
    communities = pingfang.community_grids()
    for g in communities:
        point = to_polygon(g.polygon).representative_point()
        assert pingfang.grid_at(point.y, point.x) is g
        assert pingfang.contains(point.y, point.x)
    assert pingfang.grid_at(45.75, 126.63) is None  # downtown Harbin
    assert pingfang.grid_at(0.0, 0.0) is None
    assert not pingfang.contains(45.75, 126.63)
    rng = random.Random(7)
    lats = [rng.uniform(45.55, 45.65) for _ in range(3000)]
    lons = [rng.uniform(126.54, 126.76) for _ in range(3000)]
    assert [pingfang.grid_at(a, b) for a, b in zip(lats, lons, strict=True)] == \
        pingfang.grids_at(lats, lons)


def test_grid_at_is_fast(pingfang):
    rng = random.Random(3)
    points = [(rng.uniform(45.58, 45.625), rng.uniform(126.60, 126.70)) for _ in range(30_000)]
    pingfang.grid_at(*points[0])  # builds the locator
    started = time.perf_counter()
    for lat, lon in points:
        pingfang.grid_at(lat, lon)
    rate = len(points) / (time.perf_counter() - started)
    assert rate >= 50_000, f"{rate:.0f} lookups/s"


def test_random_point_falls_in_its_grid(pingfang):
    rng = random.Random(11)
    for g in pingfang.community_grids()[::40]:
        lat, lon = pingfang.random_point(g.id, rng)
        assert pingfang.grid_at(lat, lon) is g


def test_unknown_ids_raise_clear_key_errors(pingfang):
    for lookup, key in ((pingfang.camera, "PF-C999"), (pingfang.grid, "PF-G9999"),
                        (pingfang.department, "nope"), (pingfang.complaint_type, "nope")):
        with pytest.raises(KeyError, match=key):
            lookup(key)


def test_geojson_for_the_map(pingfang):
    grids = pingfang.grids_geojson()
    assert grids["type"] == "FeatureCollection"
    assert len(grids["features"]) == len(pingfang.community_grids())
    props = grids["features"][0]["properties"]
    assert {"id", "name", "level", "households", "people", "worker"} <= set(props)
    assert len(pingfang.grids_geojson("street")["features"]) == 7
    roads = pingfang.roads_geojson()["features"]
    assert {f["properties"]["name"] for f in roads} >= {"新疆大街", "友协大街", "哈平路"}
    assert pingfang.boundary_geojson()["features"][0]["geometry"]["type"] == "Polygon"
    assert len(pingfang.cameras_geojson()["features"]) == 152
    json.dumps([grids, pingfang.roads_geojson(), pingfang.boundary_geojson()])
    with pytest.raises(ValueError, match="level"):
        pingfang.grids_geojson("block")


def test_the_model_is_read_only(pingfang):
    with pytest.raises(ValueError):
        pingfang.cameras[0].lat = 0.0  # type: ignore[misc]


def test_a_district_can_be_sent_to_worker_processes(pingfang):
    copy_ = pickle.loads(pickle.dumps(pingfang))
    grid = pingfang.community_grids()[5]
    assert copy_.grid_at(*grid.centroid).id == grid.id
    assert copy_.camera("PF-C152") == pingfang.camera("PF-C152")


@pytest.mark.slow
def test_generator_reproduces_the_committed_file():
    from streams.districts.make_pingfang import main

    assert main(["--check"]) == 0


# ---------------------------------------------------------------------------- other files


def test_second_district_loads_from_a_file_of_the_same_format():
    lake = load_district(LAKESIDE)
    assert (lake.id, lake.code_prefix) == ("lakeside", "LK")
    assert len(lake.community_grids()) == 4 and len(lake.cameras) == 3
    assert lake.grid_at(30.206, 120.105).id == "LK-G1"
    assert lake.grid_at(30.201, 120.120).id == "LK-G4"
    assert lake.grid_at(30.3, 120.1) is None
    assert lake.department_for("dispute", "LK-G3").id == "LK-SO2"
    assert lake.grid("LK-G1").centroid == pytest.approx((30.20675, 120.106))  # filled on load
    assert load_district(str(LAKESIDE)) is lake


def test_overlapping_grids_are_refused_naming_both(lakeside_raw, tmp_path):
    g2 = lakeside_raw["grids"][4]
    assert g2["id"] == "LK-G2"
    g2["polygon"] = [[[120.100, 30.200], [120.112, 30.200], [120.112, 30.206],
                      [120.100, 30.206], [120.100, 30.200]]]  # reaches 150 m into LK-G1
    message = refused(lakeside_raw, tmp_path)
    assert re.search(r"community grids LK-G1 .* and LK-G2 .* overlap", message), message


def test_overlap_in_pingfang_is_refused_naming_the_grids(pingfang_raw, tmp_path):
    raw = copy.deepcopy(pingfang_raw)
    grids = {g["id"]: g for g in raw["grids"]}
    grids["PF-G0101"]["polygon"] = [
        [[x + 0.0005, y] for x, y in ring] for ring in grids["PF-G0101"]["polygon"]]  # ~40 m east
    message = refused(raw, tmp_path)
    assert "PF-G0101" in message and "overlap" in message, message


def test_grid_over_300_households_is_refused_naming_it(lakeside_raw, tmp_path):
    for g in lakeside_raw["grids"]:
        if g["id"] in ("LK-D", "LK-S2", "LK-G3"):
            g["households"] += 1  # LK-G3: 301; parents stay consistent
    message = refused(lakeside_raw, tmp_path)
    assert "community grid LK-G3 (East North) has 301 households; the limit is 300" in message
    assert message.count("\n  - ") == 1, message  # nothing else wrong


def test_pingfang_grid_over_300_households_is_refused(pingfang_raw, tmp_path):
    raw = copy.deepcopy(pingfang_raw)
    grid = next(g for g in raw["grids"] if g["id"] == "PF-G0007")
    grid["households"] = 301
    message = refused(raw, tmp_path)
    assert "PF-G0007" in message and "301 households" in message


def test_grid_over_1000_people_is_refused(lakeside_raw, tmp_path):
    lakeside_raw["grids"][3]["people"] = 1001
    assert "LK-G1 (West North) has 1001 people" in refused(lakeside_raw, tmp_path)


def test_gap_in_the_tiling_is_refused_naming_the_neighbours(lakeside_raw, tmp_path):
    g4 = lakeside_raw["grids"][6]
    g4["polygon"] = [[[120.112, 30.200], [120.120, 30.200], [120.120, 30.2045],
                      [120.112, 30.2045], [120.112, 30.200]]]  # leaves a strip empty
    message = refused(lakeside_raw, tmp_path)
    assert "gap in the tiling" in message and "LK-G3" in message and "LK-G4" in message


def test_camera_outside_the_district_is_refused(lakeside_raw, tmp_path):
    lakeside_raw["cameras"][1]["lat"] = 30.3
    assert "camera LK-C2 (Lake Road west end) at (30.3, 120.1005) is outside" in \
        refused(lakeside_raw, tmp_path)


def test_duplicate_ids_are_refused(lakeside_raw, tmp_path):
    lakeside_raw["cameras"][2]["id"] = "LK-C1"
    assert "duplicate camera id 'LK-C1'" in refused(lakeside_raw, tmp_path)


def test_type_with_unknown_department_is_refused(lakeside_raw, tmp_path):
    lakeside_raw["complaint_types"][2]["department_id"] = "LK-NOPE"
    assert "complaint type litter (垃圾): department 'LK-NOPE' does not exist" in \
        refused(lakeside_raw, tmp_path)


def test_unknown_time_zone_is_refused(lakeside_raw, tmp_path):
    lakeside_raw["time_zone"] = "Harbin/Pingfang"
    assert "time_zone 'Harbin/Pingfang'" in refused(lakeside_raw, tmp_path)


def test_taxonomy_without_all_5_levels_is_refused(lakeside_raw, tmp_path):
    del lakeside_raw["complaint_types"][4]
    assert "exactly the 5 levels" in refused(lakeside_raw, tmp_path)


def test_schema_errors_name_the_item(lakeside_raw, tmp_path):
    lakeside_raw["grids"][5]["households"] = "many"
    lakeside_raw["cameras"][0]["heading"] = 400
    message = refused(lakeside_raw, tmp_path)
    assert "grid LK-G3: households" in message
    assert "camera LK-C1: heading" in message


def test_unreadable_files_are_refused_clearly(tmp_path):
    with pytest.raises(DistrictError, match="No such file"):
        load_district(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DistrictError, match="not JSON"):
        load_district(bad)


def test_a_changed_file_is_reloaded(lakeside_raw, tmp_path):
    path = tmp_path / "lake.json"
    path.write_text(json.dumps(lakeside_raw), encoding="utf-8")
    first = load_district(path)
    lakeside_raw["name_en"] = "Lakeside, renamed"
    path.write_text(json.dumps(lakeside_raw), encoding="utf-8")
    assert load_district(path).name_en == "Lakeside, renamed" and first.name_en != "Lakeside, renamed"

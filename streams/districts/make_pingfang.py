"""Generate `pingfang.json`, the bundled model of Pingfang District (平房区), Harbin.

Why a script: there is no survey data offline, so the district is *modelled*: a boundary
of about 94 km² south of Harbin (45.56-45.64 N, 126.56-126.74 E), the street plan of the
old aerospace town (新疆大街, 友协大街, 哈平路, 联盟大街, 保国大街, 新伟大街 x 建安街,
南通大街, 兴建路, 电碳路, 新发路, ...), six urban subdistricts plus 平房镇, 152 camera
points at the main intersections, and ~420 community grids that tile the district exactly
(Voronoi cells of density-weighted k-means seeds, noded on a 1e-6 degree grid so that
neighbours share their edges vertex for vertex). Residents sit mostly in the urban core;
the plants (哈飞, 东安, 东轻), the 哈南 industrial new town and the airfield hold few.

Deterministic (fixed seed): rerun with
    python -m streams.districts.make_pingfang            # writes streams/districts/pingfang.json
    python -m streams.districts.make_pingfang --check    # fails if the file is not what it makes
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from streams.district import district_stats, parse_district

OUT = Path(__file__).resolve().parent / "pingfang.json"
SEED = 20240602
GRID = 1e-6  # degrees; every vertex of every polygon lies on this lattice

LON0, LAT0 = 126.648, 45.601  # origin of the local kilometre frame
_PHI = math.radians(LAT0)
KM_PER_DEG_LAT = (111132.92 - 559.82 * math.cos(2 * _PHI) + 1.175 * math.cos(4 * _PHI)) / 1000
KM_PER_DEG_LON = (111412.84 * math.cos(_PHI) - 93.5 * math.cos(3 * _PHI)) / 1000

AREA_KM2 = 94.0
HOUSEHOLDS = 75_000
PEOPLE = 190_000
MAX_HOUSEHOLDS = 300
MAX_PEOPLE = 1000
GRID_ANGLE = math.radians(-6.0)  # the town's street plan is turned a little off north

# The urban core is the rectangle u in [-4, 4], v >= -2.5 of the street plan (km, rotated).
CORE_W, CORE_E, CORE_S = -4.0, 4.0, -2.5
COL_W, COL_E = -1.4, 1.4  # 南通大街, 电碳路: borders between the core's three columns
ROW = 0.0  # 哈平路: border between the core's two rows


# ---------------------------------------------------------------------------- frames


def plan_to_world(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(GRID_ANGLE), math.sin(GRID_ANGLE)
    return c * u - s * v, s * u + c * v


def world_to_plan(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(GRID_ANGLE), math.sin(GRID_ANGLE)
    return c * x + s * y, -s * x + c * y


def km_to_lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(
        [LON0 + xy[:, 0] / KM_PER_DEG_LON, LAT0 + xy[:, 1] / KM_PER_DEG_LAT]))


def lonlat_to_km(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(
        [(xy[:, 0] - LON0) * KM_PER_DEG_LON, (xy[:, 1] - LAT0) * KM_PER_DEG_LAT]))


def plan_line(points: list[tuple[float, float]]) -> LineString:
    u, v = np.array(points, dtype=float).T
    x, y = plan_to_world(u, v)
    return LineString(np.column_stack([x, y]))


# ---------------------------------------------------------------------------- boundary

BOUNDARY_KM = [  # world km, clockwise from the west; scaled to AREA_KM2 below
    (-7.6, 0.6), (-7.4, 1.8), (-6.6, 2.2), (-6.3, 3.0), (-4.9, 3.2), (-4.4, 3.9), (-3.0, 3.9),
    (-1.9, 3.5), (-1.1, 3.9), (0.3, 4.1), (1.2, 3.6), (2.0, 3.9), (3.6, 3.6), (4.3, 2.9),
    (5.2, 3.1), (6.2, 2.4), (6.6, 1.5), (7.6, 1.0), (7.6, -0.3), (7.0, -1.2), (7.4, -2.3),
    (6.6, -3.4), (5.6, -3.6), (5.1, -4.6), (3.2, -4.8), (2.4, -4.1), (1.3, -4.3), (-0.5, -4.9),
    (-1.6, -4.3), (-2.4, -4.7), (-4.1, -4.0), (-5.0, -3.3), (-5.9, -3.5), (-6.8, -2.1),
    (-7.0, -1.2), (-7.6, -0.8),
]


def make_boundary(rng: np.random.Generator) -> Polygon:
    """An irregular outline: the control polygon, scaled to the real area, with its edges
    broken into ~350 m pieces nudged sideways like field and ditch borders."""
    rough = Polygon(BOUNDARY_KM)
    scale = math.sqrt(AREA_KM2 / rough.area)
    pts = np.array(BOUNDARY_KM) * scale
    out: list[tuple[float, float]] = []
    for a, b in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        length = float(np.hypot(*(b - a)))
        steps = max(2, round(length / 0.3))
        normal = np.array([-(b - a)[1], (b - a)[0]]) / length
        wiggle = 0.0
        for k in range(steps):
            t = k / steps
            wiggle = 0.0 if k == 0 else 0.5 * wiggle + rng.normal(0, 0.08)
            out.append(tuple(a + (b - a) * t + normal * wiggle))
    poly = Polygon(out)
    assert poly.is_valid, shapely.is_valid_reason(poly)
    return shapely.affinity.scale(poly, math.sqrt(AREA_KM2 / poly.area),
                                  math.sqrt(AREA_KM2 / poly.area), origin=(0, 0))


# ---------------------------------------------------------------------------- roads


@dataclass(frozen=True)
class RoadPlan:
    name: str
    points: list[tuple[float, float]]  # plan km (u, v)
    kind: str = "main"


ROADS = [
    # east-west, north to south
    RoadPlan("北环路", [(-4.4, 3.0), (4.4, 3.0)], "secondary"),
    RoadPlan("新疆大街", [(-9.0, 2.1), (9.0, 2.1)]),
    RoadPlan("文化街", [(-4.4, 1.55), (4.4, 1.55)], "secondary"),
    RoadPlan("友协大街", [(-4.4, 1.0), (8.0, 1.0)]),
    RoadPlan("建华街", [(-4.4, 0.5), (4.4, 0.5)], "secondary"),
    RoadPlan("哈平路", [(-9.5, 1.1), (-4.0, 0.0), (9.5, 0.0)]),
    RoadPlan("和平街", [(-4.4, -0.45), (4.4, -0.45)], "secondary"),
    RoadPlan("联盟大街", [(-7.0, -0.9), (8.0, -0.9)]),
    RoadPlan("胜利街", [(-4.4, -1.3), (4.4, -1.3)], "secondary"),
    RoadPlan("保国大街", [(-7.0, -1.7), (8.0, -1.7)]),
    RoadPlan("工农街", [(-4.4, -2.1), (1.8, -2.1)], "secondary"),
    RoadPlan("新伟大街", [(-9.0, -2.5), (9.0, -2.5)]),
    RoadPlan("哈南第十二大道", [(-8.0, -3.3), (1.8, -3.3)]),
    RoadPlan("庆丰路", [(-3.0, -3.9), (6.0, -3.9)], "secondary"),
    # north-south, west to east
    RoadPlan("哈南一路", [(-6.3, -4.5), (-6.3, 2.5)]),
    RoadPlan("哈南三路", [(-5.1, -4.5), (-5.1, 1.8)]),
    RoadPlan("建安街", [(-4.0, -4.5), (-4.0, 5.0)]),
    RoadPlan("东轻路", [(-3.35, -2.9), (-3.35, 5.0)], "secondary"),
    RoadPlan("友谊路", [(-2.7, -2.9), (-2.7, 5.0)], "secondary"),
    RoadPlan("太平路", [(-2.05, -2.9), (-2.05, 5.0)], "secondary"),
    RoadPlan("南通大街", [(-1.4, -5.5), (-1.4, 5.0)]),
    RoadPlan("创业路", [(-0.7, -2.9), (-0.7, 5.0)], "secondary"),
    RoadPlan("兴建路", [(0.0, -2.9), (0.0, 5.0)]),
    RoadPlan("航天路", [(0.7, -1.0), (0.7, 5.0)], "secondary"),
    RoadPlan("电碳路", [(1.4, -4.5), (1.4, 5.0)]),
    RoadPlan("长征路", [(2.2, -1.0), (2.2, 5.0)], "secondary"),
    RoadPlan("育新路", [(2.65, -1.0), (2.65, 5.0)], "secondary"),
    RoadPlan("蓝天路", [(3.1, -1.0), (3.1, 5.0)], "secondary"),
    RoadPlan("新发路", [(4.0, -5.0), (4.0, 5.0)]),
    RoadPlan("机场路", [(5.6, -5.0), (5.6, 3.0)]),
    RoadPlan("万福路", [(6.6, -3.2), (6.6, 2.5)], "secondary"),
]
CUT_ROADS = ("建安街", "新发路", "新伟大街", "哈平路", "南通大街", "电碳路")


def make_roads(boundary: Polygon) -> dict[str, tuple[RoadPlan, object]]:
    """Each road clipped to the district (km): name -> (plan, LineString | MultiLineString)."""
    return {r.name: (r, plan_line(r.points).intersection(boundary)) for r in ROADS}


# ---------------------------------------------------------------------------- streets


@dataclass(frozen=True)
class Street:
    id: str
    name: str
    name_en: str
    office_id: str
    communities: tuple[str, ...]


STREETS = [
    Street("PF-S01", "兴建街道", "Xingjian Subdistrict", "PF-JD01",
           ("兴建社区", "新华社区", "兴平社区", "华山社区", "红旗社区", "育新社区", "文化社区",
            "建华社区")),
    Street("PF-S02", "保国街道", "Baoguo Subdistrict", "PF-JD02",
           ("保国社区", "东安社区", "团结社区", "和平社区", "保民社区", "太平社区", "工农社区")),
    Street("PF-S03", "联盟街道", "Lianmeng Subdistrict", "PF-JD03",
           ("联盟社区", "东轻社区", "胜利社区", "星光社区", "民生社区", "建设社区", "阳光社区")),
    Street("PF-S04", "友协街道", "Youxie Subdistrict", "PF-JD04",
           ("友协社区", "友谊社区", "哈飞社区", "长征社区", "航空社区", "蓝天社区", "北苑社区")),
    Street("PF-S05", "新疆街道", "Xinjiang Subdistrict", "PF-JD05",
           ("新疆社区", "新开社区", "天山社区", "乐园社区", "北环社区", "平新社区", "新建社区")),
    Street("PF-S06", "新伟街道", "Xinwei Subdistrict", "PF-JD06",
           ("新伟社区", "伟建社区", "光明社区", "新城社区", "新发社区", "航天社区")),
    Street("PF-S07", "平房镇", "Pingfang Town", "PF-JD07", ()),
]
CORE_STREETS = {("N", "W"): "PF-S05", ("N", "C"): "PF-S01", ("N", "E"): "PF-S04",
                ("S", "W"): "PF-S02", ("S", "C"): "PF-S03", ("S", "E"): "PF-S06"}
TOWN = "PF-S07"

VILLAGES = [  # 平房镇's villages (plan km) and the special areas named by zone
    ("平房村", (-2.2, -3.8)), ("东井村", (2.6, -4.3)), ("新立村", (-6.6, 2.4)),
    ("庆丰村", (-0.2, -4.3)), ("平乐村", (-4.8, -3.6)), ("万福村", (5.6, 2.2)),
    ("红星村", (6.4, -0.6)), ("长青村", (5.2, -2.8)), ("联合村", (-7.4, 0.0)),
]


def street_of_plan(u: float, v: float) -> str:
    if CORE_W < u < CORE_E and v > CORE_S:
        row = "N" if v > ROW else "S"
        col = "W" if u < COL_W else ("C" if u < COL_E else "E")
        return CORE_STREETS[(row, col)]
    return TOWN


def make_streets(boundary: Polygon, roads: dict) -> dict[str, Polygon]:
    """Subdistricts bounded by the district outline and six roads (km)."""
    # whole (unclipped) roads, so that they cross the outline and get noded onto it
    lines = [boundary.exterior] + [plan_line(r.points) for r in ROADS if r.name in CUT_ROADS]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    groups: dict[str, list[Polygon]] = {}
    for face in faces:
        p = face.representative_point()
        if not boundary.contains(p):
            continue
        u, v = world_to_plan(np.array(p.x), np.array(p.y))
        groups.setdefault(street_of_plan(float(u), float(v)), []).append(face)
    streets = {sid: shapely.union_all(parts) for sid, parts in groups.items()}
    for sid, poly in streets.items():
        assert isinstance(poly, Polygon), (sid, poly.geom_type)
    return streets


# ---------------------------------------------------------------------------- where people live


def _box(u, v, u0, u1, v0, v1):
    return (u > u0) & (u < u1) & (v > v0) & (v < v1)


def _airfield(x, y):
    """The 哈飞 airfield south-east of the town: a runway strip and its apron."""
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    a, b = c * (x - 3.2) + s * (y + 3.55), -s * (x - 3.2) + c * (y + 3.55)
    return (np.abs(a) < 1.9) & (np.abs(b) < 0.45)


def population_density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Relative residents per km² at world km points: dense town core, thin plants,
    almost empty airfield and industrial estate, villages dotted over farmland."""
    u, v = world_to_plan(x, y)
    core = (u > CORE_W) & (u < CORE_E) & (v > CORE_S)
    dens = np.where(core, 0.35 + 0.65 * np.exp(-((u - 0.2) ** 2 + (v - 0.4) ** 2) / 9.0), 0.0)
    dens = np.where(core & (v > 2.1), dens * 0.55, dens)  # north of 新疆大街: thinner
    plants = (_box(u, v, 1.4, 4.0, -2.5, -1.0)  # 哈飞 (aircraft) works
              | _box(u, v, -4.0, -2.7, -2.5, -1.7)  # 东安 (engines) works
              | _box(u, v, -1.4, 0.0, -2.5, -1.7))  # 东轻 (light alloys) works
    dens = np.where(plants, dens * 0.06, dens)
    dens = np.where(_box(u, v, -3.1, -1.6, 2.2, 3.1), dens * 0.25, dens)  # 731 site and park
    rural = ~core
    town = np.full_like(x, 0.012)
    for _, (vu, vv) in VILLAGES:
        vx, vy = plan_to_world(np.array(vu), np.array(vv))
        town += 0.5 * np.exp(-((x - vx) ** 2 + (y - vy) ** 2) / (2 * 0.3**2))
    town = np.where(_box(u, v, -7.5, -4.0, -3.6, 0.6), town * 0.15 + 0.02, town)  # 哈南 new town
    dens = np.where(rural, town, dens)
    return np.where(_airfield(x, y), 0.0005, dens)


def zone_name(x: float, y: float) -> str | None:
    u, v = world_to_plan(np.array(x), np.array(y))
    if _airfield(np.array(x), np.array(y)):
        return "哈飞机场片区"
    if _box(u, v, -7.5, -4.0, -3.6, 0.6):
        return "哈南工业新城"
    return None


# ---------------------------------------------------------------------------- grids


def sample_points(poly: Polygon, n: int, weight, rng: np.random.Generator) -> np.ndarray:
    """n points in poly, drawn with probability proportional to weight(x, y)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    out: list[np.ndarray] = []
    have = 0
    top = None
    while have < n:
        x = rng.uniform(minx, maxx, 20000)
        y = rng.uniform(miny, maxy, 20000)
        keep = shapely.contains_xy(poly, x, y)
        x, y = x[keep], y[keep]
        w = weight(x, y)
        top = max(top or 0.0, float(w.max(initial=0.0)))
        accept = rng.uniform(0, top, len(w)) < w
        out.append(np.column_stack([x[accept], y[accept]]))
        have += int(accept.sum())
    return np.concatenate(out)[:n]


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 60) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding: centroidal Voronoi seeds for the sample."""
    centers = [points[rng.integers(len(points))]]
    d2 = np.sum((points - centers[0]) ** 2, axis=1)
    for _ in range(1, k):
        centers.append(points[rng.choice(len(points), p=d2 / d2.sum())])
        d2 = np.minimum(d2, np.sum((points - centers[-1]) ** 2, axis=1))
    c = np.array(centers)
    for _ in range(rounds):
        nearest = np.argmin(((points[:, None, :] - c[None, :, :]) ** 2).sum(-1), axis=1)
        for j in range(k):
            mine = points[nearest == j]
            if len(mine):
                c[j] = mine.mean(axis=0)
    return c


def seeds_per_street(streets: dict[str, Polygon], target: int) -> dict[str, int]:
    """Grid counts: mostly by residents (<= 300 households each), a few by sheer area."""
    lattice = _lattice(streets)
    mass = {sid: float(population_density(*pts.T).sum()) for sid, pts in lattice.items()}
    area = {sid: p.area for sid, p in streets.items()}
    total_mass, total_area = sum(mass.values()), sum(area.values())
    share = {sid: 0.9 * mass[sid] / total_mass + 0.1 * area[sid] / total_area for sid in streets}
    return {sid: max(4, round(target * share[sid])) for sid in sorted(streets)}


def _lattice(streets: dict[str, Polygon], step: float = 0.02) -> dict[str, np.ndarray]:
    out = {}
    for sid, poly in streets.items():
        minx, miny, maxx, maxy = poly.bounds
        xs, ys = np.meshgrid(np.arange(minx, maxx, step) + step / 2,
                             np.arange(miny, maxy, step) + step / 2)
        x, y = xs.ravel(), ys.ravel()
        keep = shapely.contains_xy(poly, x, y)
        out[sid] = np.column_stack([x[keep], y[keep]])
    return out


def make_cells(streets: dict[str, Polygon], rng: np.random.Generator, target: int
               ) -> list[tuple[str, Polygon]]:
    """Community grids: (street id, lon/lat Polygon), exactly tiling the streets."""
    counts = seeds_per_street(streets, target)
    seeds: dict[str, np.ndarray] = {}
    lines = []
    for sid in sorted(streets):
        poly = streets[sid]
        lattice = _lattice({sid: poly})[sid]
        mean = float(population_density(*lattice.T).mean())
        # sample density squared: a centroidal Voronoi cell's area goes as density^-1/2,
        # so squaring makes the residents per cell roughly equal
        def weight(x, y, mean=mean):
            return (population_density(x, y) / mean + 0.12) ** 2
        pts = sample_points(poly, 60 * counts[sid], weight, rng)
        seeds[sid] = kmeans(pts, counts[sid], rng)
        cells = shapely.voronoi_polygons(MultiPoint(seeds[sid]), extend_to=poly.buffer(1.0))
        for cell in shapely.get_parts(cells):
            lines.append(km_to_lonlat(cell.intersection(poly).boundary))
        lines.append(km_to_lonlat(poly.boundary))
    noded = shapely.union_all(lines, grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    street_ll = {sid: km_to_lonlat(p) for sid, p in streets.items()}
    groups: dict[tuple[str, int], list[Polygon]] = {}
    for face in faces:
        p = lonlat_to_km(face.representative_point())
        sid = next((s for s, poly in streets.items() if poly.contains(p)), None)
        if sid is None:
            sid = min(streets, key=lambda s: streets[s].distance(p))
        j = int(np.argmin(((seeds[sid] - [p.x, p.y]) ** 2).sum(1)))
        groups.setdefault((sid, j), []).append(face)
    cells: list[tuple[str, Polygon]] = []
    orphans: list[tuple[str, Polygon]] = []
    for (sid, _), parts in sorted(groups.items()):
        merged = shapely.union_all(parts, grid_size=GRID)
        pieces = sorted(shapely.get_parts(merged), key=lambda g: -g.area)
        cells.append((sid, pieces[0]))
        orphans += [(sid, piece) for piece in pieces[1:]]
    for sid, piece in orphans:  # a cut-off sliver joins the neighbour it shares most edge with
        best = max((i for i, (s, c) in enumerate(cells) if s == sid and c.touches(piece)),
                   key=lambda i: cells[i][1].intersection(piece).length)
        cells[best] = (sid, shapely.union_all([cells[best][1], piece], grid_size=GRID))
    for sid, cell in cells:
        assert isinstance(cell, Polygon) and cell.is_valid, (sid, cell.geom_type)
        assert cell.within(street_ll[sid].buffer(3 * GRID)), sid  # snapping moves < 1 GRID
    return cells


def allocate_households(cells: list[tuple[str, Polygon]], rng: np.random.Generator
                        ) -> tuple[list[int], list[int]]:
    """Households by residents' density (largest remainder to the exact total), then
    capped at 300 with the excess moved to neighbours of the same street; people by
    household size (2.2-3.0, the town's average ~2.5)."""
    kms = [lonlat_to_km(c) for _, c in cells]
    tree = shapely.STRtree(kms)
    minx, miny, maxx, maxy = shapely.total_bounds(kms)
    step = 0.02
    xs, ys = np.meshgrid(np.arange(minx, maxx, step) + step / 2, np.arange(miny, maxy, step) + step / 2)
    x, y = xs.ravel(), ys.ravel()
    inputs, hits = tree.query(shapely.points(x, y), predicate="intersects")
    first = np.full(len(x), -1)
    first[inputs[::-1]] = hits[::-1]
    ok = first >= 0
    mass = np.bincount(first[ok], weights=population_density(x[ok], y[ok]), minlength=len(cells))
    raw = HOUSEHOLDS * mass / mass.sum()
    hh = np.floor(raw).astype(int)
    hh[np.argsort(-(raw - hh))[: HOUSEHOLDS - hh.sum()]] += 1
    cap = MAX_HOUSEHOLDS - rng.integers(0, 12, len(hh))  # grids are drawn a little under the cap
    streets = np.array([s for s, _ in cells])
    for _ in range(200):
        over = hh > cap
        if not over.any():
            break
        for i in np.flatnonzero(over):
            excess = hh[i] - cap[i]
            hh[i] = cap[i]
            room = np.flatnonzero((streets == streets[i]) & (hh < cap))
            near = sorted(room, key=lambda j: kms[i].distance(kms[j]))[:6]
            for j in near:
                give = min(excess, cap[j] - hh[j])
                hh[j] += give
                excess -= give
                if excess == 0:
                    break
            hh[i] += excess  # nothing near had room: try again next round
    assert hh.sum() == HOUSEHOLDS and hh.max() <= MAX_HOUSEHOLDS, (hh.sum(), hh.max())
    size = np.clip(rng.normal(PEOPLE / HOUSEHOLDS, 0.16, len(hh)), 2.2, 3.0)
    people = np.minimum(np.round(hh * size).astype(int), MAX_PEOPLE)
    return hh.tolist(), people.tolist()


# ---------------------------------------------------------------------------- names

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
            "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史")
GIVEN = ("伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰红志建国春海波晶宇鹏飞雪梅"
         "丹欣佳慧颖琳宏亮晨东岩松博凯旭峰玲燕萍琦瑞彤鑫淑凤")


def worker_names(n: int, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        given = "".join(rng.choice(list(GIVEN), size=int(rng.choice([1, 2], p=[0.3, 0.7]))))
        name = str(rng.choice(list(SURNAMES))) + given
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _row_major(points: list[tuple[float, float]], band: float) -> list[int]:
    """Indices ordered north to south in bands, west to east within a band."""
    return sorted(range(len(points)), key=lambda i: (-round(points[i][1] / band), points[i][0]))


def name_communities(cells: list[tuple[str, Polygon]], rng: np.random.Generator) -> list[str]:
    """Each cell's community: urban cells clustered into their street's communities,
    town cells by zone or nearest village."""
    centers = [lonlat_to_km(c.representative_point()) for _, c in cells]
    names = [""] * len(cells)
    for street in STREETS:
        mine = [i for i, (s, _) in enumerate(cells) if s == street.id]
        if not street.communities:
            for i in mine:
                x, y = centers[i].x, centers[i].y
                zone = zone_name(x, y)
                if zone is None:
                    vx, vy = plan_to_world(*np.array([v for _, v in VILLAGES]).T)
                    zone = VILLAGES[int(np.argmin((vx - x) ** 2 + (vy - y) ** 2))][0]
                names[i] = zone
            continue
        pts = np.array([[centers[i].x, centers[i].y] for i in mine])
        k = min(len(street.communities), len(mine))
        hubs = kmeans(pts, k, rng)
        order = _row_major([tuple(h) for h in hubs], band=0.8)
        label = {hub: street.communities[rank] for rank, hub in enumerate(order)}
        for i, p in zip(mine, pts, strict=True):
            names[i] = label[int(np.argmin(((hubs - p) ** 2).sum(1)))]
    return names


# ---------------------------------------------------------------------------- cameras


def make_cameras(roads: dict, boundary: Polygon, rng: np.random.Generator, n: int = 152) -> list[dict]:
    """Camera points at the busiest intersections: main x main first, then main x
    secondary, busier (denser) crossings first; each pole on a corner, looking along a road."""
    plans = {name: plan for name, (plan, _) in roads.items()}
    geoms = {name: g for name, (_, g) in roads.items() if not g.is_empty}
    inner = boundary.buffer(-0.15)
    found: list[tuple[float, float, str, str, Point]] = []
    names = sorted(geoms)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            cross = geoms[a].intersection(geoms[b])
            for p in shapely.get_parts(cross):
                if not isinstance(p, Point) or not inner.contains(p):
                    continue
                rank = (plans[a].kind == "main") + (plans[b].kind == "main")
                busy = float(population_density(np.array([p.x]), np.array([p.y]))[0])
                first, second = sorted((a, b), key=lambda r: (plans[r].kind != "main", r))
                found.append((rank, busy, first, second, p))
    found.sort(key=lambda f: (-f[0], -f[1], f[2], f[3]))
    chosen: list[tuple[float, float, str, str, Point]] = []
    for f in found:
        if all(f[4].distance(c[4]) > 0.12 for c in chosen):
            chosen.append(f)
        if len(chosen) == n:
            break
    assert len(chosen) == n, f"only {len(chosen)} intersections for {n} cameras"
    order = _row_major([(c[4].x, c[4].y) for c in chosen], band=0.45)
    cameras = []
    for number, k in enumerate(order, start=1):
        _, _, first, second, p = chosen[k]
        watched = first if rng.random() < 0.7 else second
        line = geoms[watched]
        if line.geom_type != "LineString":
            line = min(shapely.get_parts(line), key=lambda part: part.distance(p))
        at = line.project(p)
        ahead, behind = line.interpolate(at + 0.05), line.interpolate(max(at - 0.05, 0))
        bearing = math.degrees(math.atan2(ahead.x - behind.x, ahead.y - behind.y))
        if rng.random() < 0.5:
            bearing += 180
        corner = rng.uniform(0, 2 * math.pi)  # the pole stands ~12 m off the centre
        spot = Point(p.x + 0.012 * math.cos(corner), p.y + 0.012 * math.sin(corner))
        ll = km_to_lonlat(spot)
        cameras.append({
            "id": f"PF-C{number:03d}", "name": f"{first}与{second}交口",
            "lat": round(ll.y, 6), "lon": round(ll.x, 6),
            "heading": round(bearing % 360, 1), "road": watched,
        })
    assert len({c["name"] for c in cameras}) == n, "camera names must be unique"
    return cameras


# ---------------------------------------------------------------------------- departments, taxonomy

DEPARTMENTS = [
    ("PF-CGJ", "平房区城市管理局", "City Management Bureau"),
    ("PF-GAJ", "哈尔滨市公安局平房分局", "Public Security Sub-bureau"),
    ("PF-MZJ", "平房区民政局", "Civil Affairs Bureau"),
    ("PF-ZJJ", "平房区住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    ("PF-HJJ", "哈尔滨市生态环境局平房分局", "Ecology and Environment Sub-bureau"),
    ("PF-JTJ", "平房区交通运输局", "Transport Bureau"),
    ("PF-SWJ", "平房区水务局", "Water Affairs Bureau"),
    ("PF-GRB", "平房区供热管理办公室", "Heating Supply Office"),
    ("PF-JCJ", "平房区监察局", "Supervision Bureau"),
]

WINTER = [10, 11, 12, 1, 2, 3, 4]  # Harbin's heating season runs 20 Oct - 20 Apr
SUMMER = [6, 7, 8]
# code, 中文, English, level (1 most urgent), department, time limit (h), keywords, peak months,
# handled by the street office of the grid
TAXONOMY = [
    ("gas_leak", "燃气泄漏", "Gas leak", 1, "PF-ZJJ", 1, ["燃气", "煤气味", "漏气", "燃气泄漏"], [11, 12, 1, 2], False),
    ("heating_outage", "供暖中断", "Heating outage", 1, "PF-GRB", 4, ["停暖", "暖气停了", "供暖中断", "没有暖气"], WINTER, False),
    ("water_main_burst", "供水管道爆裂", "Burst water main", 1, "PF-SWJ", 4, ["爆管", "跑水", "水管爆裂", "冒水"], [12, 1, 2, 3], False),
    ("manhole_missing", "井盖缺失", "Missing manhole cover", 1, "PF-CGJ", 4, ["井盖", "井盖丢失", "窨井", "掉下去"], [], False),
    ("road_collapse", "路面塌陷", "Road subsidence", 1, "PF-ZJJ", 4, ["塌陷", "路面下沉", "大坑", "塌方"], [4, 5, 7, 8], False),
    ("fallen_tree", "树木倒伏", "Fallen tree", 1, "PF-CGJ", 6, ["树倒了", "倒伏", "断枝", "大风刮倒"], [6, 7, 8], False),
    ("heating_cold", "供暖不热", "Heating not warm enough", 2, "PF-GRB", 24, ["暖气不热", "室温低", "供暖", "暖气片", "冷"], WINTER, False),
    ("water_outage", "停水", "No water supply", 2, "PF-SWJ", 12, ["停水", "没水", "水压低", "断水"], [7, 8, 1], False),
    ("sewage_overflow", "污水外溢", "Sewage overflow", 2, "PF-SWJ", 12, ["下水道", "污水", "返水", "堵塞", "反味"], SUMMER, False),
    ("waterlogging", "道路积水", "Flooded road", 2, "PF-SWJ", 12, ["积水", "内涝", "排水不畅", "下雨"], SUMMER, False),
    ("traffic_signal", "信号灯故障", "Traffic light fault", 2, "PF-GAJ", 8, ["红绿灯", "信号灯", "灯不亮", "故障"], [], False),
    ("ice_snow", "冰雪未清", "Ice and snow not cleared", 2, "PF-CGJ", 24, ["积雪", "结冰", "清雪", "路滑", "冰溜子"], [11, 12, 1, 2, 3], False),
    ("elevator_fault", "电梯故障", "Lift breakdown", 2, "PF-ZJJ", 12, ["电梯", "困人", "停运", "电梯坏了"], [], False),
    ("streetlight_out", "路灯不亮", "Street light out", 3, "PF-CGJ", 48, ["路灯", "不亮", "灯坏了", "太黑"], [10, 11, 12, 1, 2], False),
    ("road_damage", "道路破损", "Damaged road", 3, "PF-JTJ", 72, ["坑洼", "破损", "路面", "坑", "翻浆"], [3, 4, 5], False),
    ("illegal_parking", "违章停车", "Illegal parking", 3, "PF-GAJ", 24, ["乱停车", "违停", "消防通道", "堵车库"], [], False),
    ("street_vending", "占道经营", "Street vending on the roadway", 3, "PF-CGJ", 48, ["占道", "摆摊", "小贩", "早市", "流动摊点"], [5, 6, 7, 8, 9], False),
    ("garbage_pileup", "垃圾堆放", "Uncollected garbage", 3, "PF-CGJ", 24, ["垃圾", "堆放", "清运", "满溢", "垃圾箱"], SUMMER, False),
    ("litter", "乱扔垃圾", "Litter on lawns and streets", 3, "PF-CGJ", 24, ["乱扔", "草坪", "纸屑", "白色垃圾", "卫生"], [5, 6, 7, 8, 9], False),
    ("noise", "噪音扰民", "Noise nuisance", 3, "PF-HJJ", 48, ["噪音", "吵", "扰民", "施工", "广场舞"], [5, 6, 7, 8, 9], False),
    ("cooking_fumes", "油烟扰民", "Cooking fumes", 3, "PF-HJJ", 72, ["油烟", "烧烤", "排烟", "饭店", "呛"], SUMMER, False),
    ("open_burning", "露天焚烧", "Open burning", 3, "PF-HJJ", 24, ["焚烧", "烧秸秆", "冒烟", "烧垃圾"], [4, 5, 10, 11], False),
    ("stray_animals", "流浪动物", "Stray animals", 3, "PF-GAJ", 72, ["流浪狗", "流浪猫", "犬只", "咬人", "遛狗"], [5, 6, 7, 8, 9], False),
    ("illegal_dumping", "建筑垃圾倾倒", "Dumped construction waste", 3, "PF-CGJ", 48, ["渣土", "建筑垃圾", "倾倒", "装修垃圾"], [5, 6, 7, 8, 9], False),
    ("illegal_building", "违章建筑", "Unauthorised building", 4, "PF-CGJ", 168, ["违建", "私搭乱建", "违章建筑", "彩钢房"], [5, 6, 7, 8], False),
    ("green_damage", "绿化损毁", "Damaged green space", 4, "PF-CGJ", 120, ["毁绿", "绿地", "种菜", "树木", "草坪"], [5, 6, 7], False),
    ("property_service", "物业服务", "Property management", 4, "PF-ZJJ", 120, ["物业", "物业费", "小区", "维修基金"], [], True),
    ("roof_leak", "房屋漏雨", "Leaking roof in old housing", 4, "PF-ZJJ", 120, ["漏雨", "屋顶", "漏水", "楼道", "老旧小区"], SUMMER, False),
    ("bus_service", "公交服务", "Bus service", 5, "PF-JTJ", 168, ["公交", "班次", "站点", "司机", "线路"], [], False),
    ("small_ads", "乱贴小广告", "Illegal posters and graffiti", 5, "PF-CGJ", 168, ["小广告", "乱贴", "涂鸦", "牛皮癣"], [], False),
    ("neighbor_dispute", "邻里纠纷", "Neighbour dispute", 4, "PF-MZJ", 72, ["邻居", "纠纷", "吵架", "楼上漏水"], [], True),
    ("staff_conduct", "工作作风", "Officials' conduct", 4, "PF-JCJ", 120, ["态度", "推诿", "不作为", "办事难"], [], False),
    ("welfare_enquiry", "民政救助咨询", "Welfare and assistance enquiry", 5, "PF-MZJ", 240, ["低保", "救助", "补贴", "养老", "困难"], [12, 1, 2], True),
]


# ---------------------------------------------------------------------------- assembly


def _coords(poly: Polygon) -> list[list[list[float]]]:
    poly = shapely.orient_polygons(poly)  # GeoJSON: exterior counter-clockwise
    rings = [poly.exterior, *poly.interiors]
    return [[[round(x, 6), round(y, 6)] for x, y in ring.coords] for ring in rings]


def build() -> dict:
    rng = np.random.default_rng(SEED)
    boundary = make_boundary(rng)
    roads = make_roads(boundary)
    streets = make_streets(boundary, roads)
    cells = make_cells(streets, rng, target=424)
    households, people = allocate_households(cells, rng)
    communities = name_communities(cells, rng)

    # order: street, community (in the street's list order), then north-west first
    street_rank = {s.id: k for k, s in enumerate(STREETS)}
    labels = [lonlat_to_km(c.representative_point()) for _, c in cells]

    def community_rank(i: int) -> int:
        street = next(s for s in STREETS if s.id == cells[i][0])
        names = street.communities or tuple(sorted(set(communities)))
        return names.index(communities[i]) if communities[i] in names else 0

    order = sorted(range(len(cells)), key=lambda i: (
        street_rank[cells[i][0]], community_rank(i), -round(labels[i].y / 0.35), labels[i].x))
    workers = worker_names(len(cells), rng)
    grids: list[dict] = []
    per_community: dict[str, int] = {}
    for number, i in enumerate(order, start=1):
        sid, cell = cells[i]
        key = f"{sid}/{communities[i]}"
        per_community[key] = per_community.get(key, 0) + 1
        grids.append({
            "id": f"PF-G{number:04d}", "name": f"{communities[i]}第{per_community[key]}网格",
            "level": "community", "parent_id": sid,
            "households": households[i], "people": people[i],
            "worker": {"id": f"PF-W{number:04d}", "name": workers[number - 1]},
            "polygon": _coords(cell),
        })
    street_grids = []
    for street in STREETS:
        mine = [g for g in grids if g["parent_id"] == street.id]
        shape = shapely.union_all([cells[i][1] for i in order if cells[i][0] == street.id],
                                  grid_size=GRID)
        assert isinstance(shape, Polygon), street.id
        street_grids.append({
            "id": street.id, "name": street.name, "level": "street", "parent_id": "PF-D00",
            "households": sum(g["households"] for g in mine),
            "people": sum(g["people"] for g in mine), "worker": None, "polygon": _coords(shape),
        })
    outline = shapely.union_all([c for _, c in cells], grid_size=GRID)
    assert isinstance(outline, Polygon) and not outline.interiors
    district_grid = {
        "id": "PF-D00", "name": "平房区", "level": "district", "parent_id": None,
        "households": sum(g["households"] for g in street_grids),
        "people": sum(g["people"] for g in street_grids), "worker": None,
        "polygon": _coords(outline),
    }
    for g in [district_grid, *street_grids, *grids]:
        lat, lon = _label(g["polygon"])
        g["centroid"] = [lat, lon]

    road_list = []
    for plan in ROADS:
        geom = roads[plan.name][1]
        for part in shapely.get_parts(geom):
            if part.length > 0.05:
                ll = km_to_lonlat(part)
                road_list.append({"name": plan.name, "kind": plan.kind,
                                  "line": [[round(x, 6), round(y, 6)] for x, y in ll.coords]})
    center = km_to_lonlat(Point(plan_to_world(np.array(0.0), np.array(0.4))))
    departments = [{"id": i, "name_zh": zh, "name_en": en, "street_id": None}
                   for i, zh, en in DEPARTMENTS]
    departments += [
        {"id": s.office_id, "name_zh": s.name + ("人民政府" if s.id == TOWN else "办事处"),
         "name_en": s.name_en + (" Government" if s.id == TOWN else " Office"), "street_id": s.id}
        for s in STREETS
    ]
    types = [
        {"code": code, "name_zh": zh, "name_en": en, "level": level, "department_id": dept,
         "time_limit_hours": float(hours), "keywords": words, "peak_months": months,
         "street_office": local}
        for code, zh, en, level, dept, hours, words, months, local in TAXONOMY
    ]
    return {
        "format_version": 1,
        "id": "pingfang",
        "name_zh": "哈尔滨市平房区",
        "name_en": "Pingfang District, Harbin",
        "code_prefix": "PF",
        "description": (
            "A modelled (not surveyed) reference of Pingfang District: real subdistrict and "
            "road names, plausible geometry, area, population and households; generated by "
            f"streams/districts/make_pingfang.py (seed {SEED})."),
        "center": [round(center.y, 6), round(center.x, 6)],
        "time_zone": "Asia/Shanghai",
        "boundary": _coords(outline),
        "roads": road_list,
        "cameras": make_cameras(roads, boundary, rng),
        "grids": [district_grid, *street_grids, *grids],
        "departments": departments,
        "complaint_types": types,
    }


def _label(rings: list) -> tuple[float, float]:
    from streams.district import label_point
    return label_point([[tuple(p) for p in ring] for ring in rings])


def dumps(data: dict) -> str:
    """One line per item (grid, camera, type...) so that diffs stay readable."""
    out = ["{"]
    keys = list(data)
    for n, key in enumerate(keys):
        value = data[key]
        tail = "," if n < len(keys) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = [json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in value]
            out.append(f' "{key}": [')
            out.append(",\n".join(f"  {item}" for item in items))
            out.append(f" ]{tail}")
        else:
            out.append(f' "{key}": {json.dumps(value, ensure_ascii=False, separators=(",", ":"))}{tail}')
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = dumps(build())
    district = parse_district(text, source="generated Pingfang")
    stats = district_stats(district)
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.out} differs from what the generator makes")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.2f} MB): {json.dumps(stats, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The district: reference data every layer shares (cameras, grids, departments, taxonomy).

Why in `streams/`: video workers need the cameras, analytics the grids and the complaint
taxonomy, the dashboard all of it, and those layers never import each other. The data is a
versioned JSON file (format: docs/DISTRICT_FORMAT.md); the bundled default is the real
Pingfang District (平房区) of Harbin, written by `streams/districts/make_pingfang.py`.

`load_district()` refuses a file that breaks the grid rules (overlaps, gaps, a grid over
300 households or 1,000 people, a camera outside the district, unknown departments, ...)
with a `DistrictError` whose message names the offending grid or camera.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from shapely.geometry import Polygon

BUNDLED_DISTRICT = Path(__file__).resolve().parent / "districts" / "pingfang.json"
FORMAT_VERSION = 1

MAX_HOUSEHOLDS = 300
"""The unified grid rule: at most 300 households and 1,000 people per community grid."""
MAX_PEOPLE = 1000
LEVELS = (1, 2, 3, 4, 5)
"""Complaint levels, 1 = most urgent; a taxonomy must use each of them."""

GAP_TOLERANCE_M2 = 1.0
"""A gap, overlap or stray piece larger than this (square metres) refuses the file."""
GAP_TOLERANCE_SHARE = 1e-6
"""...and so do slivers adding up to more than this share of the district's area."""

LonLat = tuple[float, float]
Ring = list[LonLat]
PolygonRings = Annotated[list[Annotated[Ring, Field(min_length=4)]], Field(min_length=1)]
"""GeoJSON Polygon coordinates: exterior ring first, then holes; rings closed; (lon, lat)."""
Id = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^\S+$")]


class DistrictError(ValueError):
    """A district file refused on load; the message names the offending grid or camera."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Camera(_Model):
    """A camera point at an intersection; `heading` is degrees clockwise from north."""

    id: Id
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    heading: float = Field(ge=0, lt=360)
    road: str


class GridWorker(_Model):
    id: Id
    name: str


class Grid(_Model):
    """One grid of the three-level tree: district -> street (large) -> community (small).

    `centroid` is (lat, lon) of a point inside the grid (its centroid, or a representative
    point when a concave grid's centroid falls outside); computed on load when absent.
    """

    id: Id
    name: str
    level: Literal["district", "street", "community"]
    parent_id: str | None = None
    households: int = Field(ge=0)
    people: int = Field(ge=0)
    worker: GridWorker | None = None
    polygon: PolygonRings
    centroid: tuple[float, float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_centroid(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("centroid") is None and data.get("polygon"):
            # a broken polygon is reported by the district check, naming the grid
            with contextlib.suppress(ValueError, TypeError, IndexError,
                                     shapely.errors.GEOSException):
                data = {**data, "centroid": label_point(data["polygon"])}
        return data


class Department(_Model):
    """A department that handles complaints; a street office names its street grid."""

    id: Id
    name_zh: str
    name_en: str
    street_id: str | None = None


class ComplaintType(_Model):
    """One of the taxonomy's types: who handles it by default, how fast, and when it peaks.

    `street_office` true means the street office of the grid where the complaint happens
    handles it (see `District.department_for`); `department_id` is then the fallback.
    """

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,16}$")]
    name_zh: str
    name_en: str
    level: int = Field(ge=1, le=5)
    department_id: str
    time_limit_hours: float = Field(gt=0)
    keywords: list[str] = Field(default_factory=list)
    peak_months: list[Annotated[int, Field(ge=1, le=12)]] = Field(default_factory=list)
    street_office: bool = False


class Road(_Model):
    """A named road as a polyline of (lon, lat), drawable on a map without tiles."""

    name: str
    line: Annotated[list[LonLat], Field(min_length=2)]
    kind: Literal["main", "secondary"] = "main"


class District(_Model):
    """The whole reference model of one district; build it with `load_district`."""

    format_version: Literal[1] = FORMAT_VERSION
    id: Id
    name_zh: str
    name_en: str
    code_prefix: Annotated[str, Field(pattern=r"^[A-Z]{2,4}$")]
    """Complaint codes are f"{code_prefix}-YYYYMMDD-NNNNNN"."""
    description: str = ""
    center: tuple[float, float]
    """(lat, lon), where a map of the district opens."""
    time_zone: str = "Asia/Shanghai"
    """IANA name of the district's clock: local days for complaint codes, hours of day."""
    boundary: PolygonRings
    roads: list[Road] = Field(default_factory=list)
    cameras: list[Camera]
    grids: list[Grid]
    departments: list[Department]
    complaint_types: list[ComplaintType]

    _index: _Index | None = PrivateAttr(default=None)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    # ------------------------------------------------------------------ lookups by id

    def camera(self, camera_id: str) -> Camera:
        return _lookup(self._idx().cameras, camera_id, "camera", self.id)

    def grid(self, grid_id: str) -> Grid:
        return _lookup(self._idx().grids, grid_id, "grid", self.id)

    def department(self, dept_id: str) -> Department:
        return _lookup(self._idx().departments, dept_id, "department", self.id)

    def complaint_type(self, code: str) -> ComplaintType:
        return _lookup(self._idx().types, code, "complaint type", self.id)

    def community_grids(self) -> list[Grid]:
        return list(self._idx().communities)

    def street_grids(self) -> list[Grid]:
        return [g for g in self.grids if g.level == "street"]

    def district_grid(self) -> Grid:
        return next(g for g in self.grids if g.level == "district")

    def street_of(self, grid_id: str) -> Grid | None:
        """The street grid a grid belongs to (itself for a street; None for the district)."""
        grid = self.grid(grid_id)
        while grid.level == "community" and grid.parent_id is not None:
            grid = self.grid(grid.parent_id)
        return grid if grid.level == "street" else None

    def department_for(self, type_code: str, grid_id: str | None = None) -> Department:
        """Who handles a complaint of this type here: the grid's street office for local
        matters (`street_office` types), else the type's default department."""
        kind = self.complaint_type(type_code)
        if kind.street_office and grid_id is not None:
            street = self.street_of(grid_id)
            office = self._idx().street_offices.get(street.id) if street else None
            if office is not None:
                return office
        return self.department(kind.department_id)

    # ------------------------------------------------------------------ spatial lookups

    def grid_at(self, lat: float, lon: float) -> Grid | None:
        """The community grid containing the point, or None outside the district.

        A point exactly on an edge shared by two grids gets one of them (never both, never
        none); a point exactly on the district's outline may get None."""
        idx = self._idx()
        found = (idx._locator or idx.locator()).find(lon, lat)
        return None if found is None else idx.communities[found]

    def grids_at(self, lats: Any, lons: Any) -> list[Grid | None]:
        """`grid_at` for many points at once (vectorised, for bulk jobs); a point on a
        shared edge gets the grid first in file order."""
        idx = self._idx()
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        found: list[Grid | None] = [None] * len(points)
        inputs, hits = idx.tree.query(points, predicate="intersects")
        for i, hit in zip(inputs[::-1], hits[::-1], strict=True):  # reversed: lowest hit wins
            found[i] = idx.communities[hit]
        return found

    def contains(self, lat: float, lon: float) -> bool:
        return bool(shapely.intersects_xy(self._idx().boundary, lon, lat))

    def random_point(self, grid_id: str, rng: random.Random | None = None) -> tuple[float, float]:
        """A uniformly random (lat, lon) inside a grid, e.g. where a simulated complaint is."""
        rng = rng or random.Random()
        shape = self._idx().shape_of(self.grid(grid_id))
        minx, miny, maxx, maxy = shape.bounds
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.intersects_xy(shape, lon, lat):
                return lat, lon

    # ------------------------------------------------------------------ GeoJSON for maps

    def grids_geojson(self, level: str = "community") -> dict:
        """A FeatureCollection of one level's grids (properties: id, name, level, parent_id,
        households, people, worker, worker_id)."""
        if level not in ("district", "street", "community"):
            raise ValueError(f"level must be district, street or community, not {level!r}")
        features = [
            _feature(
                {"type": "Polygon", "coordinates": _rings(g.polygon)},
                id=g.id, name=g.name, level=g.level, parent_id=g.parent_id,
                households=g.households, people=g.people,
                worker=g.worker.name if g.worker else None,
                worker_id=g.worker.id if g.worker else None,
            )
            for g in self.grids
            if g.level == level
        ]
        return {"type": "FeatureCollection", "features": features}

    def roads_geojson(self) -> dict:
        features = [
            _feature({"type": "LineString", "coordinates": [list(p) for p in r.line]},
                     name=r.name, kind=r.kind)
            for r in self.roads
        ]
        return {"type": "FeatureCollection", "features": features}

    def boundary_geojson(self) -> dict:
        feature = _feature({"type": "Polygon", "coordinates": _rings(self.boundary)},
                           id=self.id, name=self.name_zh, name_en=self.name_en)
        return {"type": "FeatureCollection", "features": [feature]}

    def cameras_geojson(self) -> dict:
        features = [
            _feature({"type": "Point", "coordinates": [c.lon, c.lat]},
                     id=c.id, name=c.name, road=c.road, heading=c.heading)
            for c in self.cameras
        ]
        return {"type": "FeatureCollection", "features": features}

    # ------------------------------------------------------------------ internals

    def _idx(self) -> _Index:
        # read the private slot directly: pydantic's private-attribute lookup costs ~5 us,
        # more than a whole grid_at
        # (two threads racing here both build the same index; one wins, nothing breaks)
        index = self.__pydantic_private__["_index"]
        if index is None:
            index = self._index = _Index.build(self)
        return index

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without the index (shapely trees do not pickle); rebuilt on first use, so
        a district can be handed to worker processes."""
        state = super().__getstate__()
        return {**state, "__pydantic_private__": {"_index": None}}


# ---------------------------------------------------------------------------- indexes


class _Locator:
    """Point -> community grid index without a GEOS call per point (a GEOS call costs ~5 us
    here; this answers in ~5-10x less). The bounding box is cut into buckets; a bucket
    inside one grid answers at once; a bucket on a border ray-casts the point against the
    few edges its candidate grids have in the bucket's row band."""

    __slots__ = ("x0", "y0", "dx", "dy", "nx", "ny", "buckets")

    def __init__(self, polygons: list[Polygon], buckets: int = 12_000) -> None:
        minx, miny, maxx, maxy = shapely.total_bounds(polygons)
        pad = 1e-9 * max(maxx - minx, maxy - miny, 1e-9)
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
        side = math.sqrt((maxx - minx) * (maxy - miny) / buckets)
        self.nx = max(1, math.ceil((maxx - minx) / side))
        self.ny = max(1, math.ceil((maxy - miny) / side))
        self.x0, self.y0 = minx, miny
        self.dx, self.dy = (maxx - minx) / self.nx, (maxy - miny) / self.ny
        cols, rows = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        x1 = self.x0 + cols.ravel() * self.dx
        y1 = self.y0 + rows.ravel() * self.dy
        boxes = shapely.box(x1, y1, x1 + self.dx, y1 + self.dy)
        tree = shapely.STRtree(polygons)
        self.buckets: list[Any] = [None] * len(boxes)
        inside_b, inside_p = tree.query(boxes, predicate="within")
        for b, p in zip(inside_b.tolist()[::-1], inside_p.tolist()[::-1], strict=True):
            self.buckets[b] = p  # reversed: the first grid in file order wins
        bands = self._bands(polygons)
        pair_b, pair_p = tree.query(boxes, predicate="intersects")
        order = np.lexsort((pair_p, pair_b))
        for b, p in zip(pair_b[order].tolist(), pair_p[order].tolist(), strict=True):
            entry = self.buckets[b]
            if entry is None:
                entry = self.buckets[b] = []
            elif type(entry) is int:
                continue
            left = self.x0 + (b % self.nx) * self.dx  # edges wholly left of it never count
            band = bands.get((b // self.nx, p), ())
            entry.append((p, tuple(e for e in band if e[0] >= left or e[2] >= left)))

    def _bands(self, polygons: list[Polygon]) -> dict[tuple[int, int], list[tuple]]:
        """(row, polygon) -> that polygon's non-horizontal edges crossing the row's band."""
        rings, ring_poly = shapely.get_rings(polygons, return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        same = (ring[:-1] == ring[1:]) & (xy[:-1, 1] != xy[1:, 1])
        a, b, owner = xy[:-1][same], xy[1:][same], ring_poly[ring[:-1][same]]
        low = np.floor((np.minimum(a[:, 1], b[:, 1]) - self.y0) / self.dy).astype(int)
        high = np.floor((np.maximum(a[:, 1], b[:, 1]) - self.y0) / self.dy).astype(int)
        low, high = np.clip(low, 0, self.ny - 1), np.clip(high, 0, self.ny - 1)
        bands: dict[tuple[int, int], list[tuple]] = {}
        edges = np.column_stack([a, b]).tolist()
        for edge, poly, r0, r1 in zip(edges, owner.tolist(), low.tolist(), high.tolist(),
                                      strict=True):
            item = tuple(edge)
            for row in range(r0, r1 + 1):
                bands.setdefault((row, poly), []).append(item)
        return bands

    def find(self, x: float, y: float) -> int | None:
        fx, fy = (x - self.x0) / self.dx, (y - self.y0) / self.dy
        if not (0.0 <= fx < self.nx and 0.0 <= fy < self.ny):
            return None
        entry = self.buckets[int(fy) * self.nx + int(fx)]
        if entry is None or type(entry) is int:
            return entry
        for index, edges in entry:
            inside = False
            for x1, y1, x2, y2 in edges:
                if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
            if inside:
                return index
        return None


@dataclass(slots=True)
class _Index:
    cameras: dict[str, Camera]
    grids: dict[str, Grid]
    departments: dict[str, Department]
    types: dict[str, ComplaintType]
    street_offices: dict[str, Department]
    communities: list[Grid]
    polygons: list[Polygon]
    tree: shapely.STRtree
    boundary: Polygon
    shapes: dict[str, Polygon]
    _locator: _Locator | None = None

    @classmethod
    def build(cls, d: District) -> _Index:
        communities = [g for g in d.grids if g.level == "community"]
        polygons = [to_polygon(g.polygon) for g in communities]
        boundary = to_polygon(d.boundary)
        shapely.prepare(boundary)
        return cls(
            cameras={c.id: c for c in d.cameras},
            grids={g.id: g for g in d.grids},
            departments={x.id: x for x in d.departments},
            types={t.code: t for t in d.complaint_types},
            street_offices={x.street_id: x for x in d.departments if x.street_id},
            communities=communities,
            polygons=polygons,
            tree=shapely.STRtree(polygons),
            boundary=boundary,
            shapes={g.id: p for g, p in zip(communities, polygons, strict=True)},
        )

    def locator(self) -> _Locator:
        if self._locator is None:
            self._locator = _Locator(self.polygons)
        return self._locator

    def shape_of(self, grid: Grid) -> Polygon:
        shape = self.shapes.get(grid.id)
        if shape is None:
            shape = self.shapes[grid.id] = to_polygon(grid.polygon)
            shapely.prepare(shape)
        return shape


def _lookup(table: dict[str, Any], key: str, what: str, district_id: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise KeyError(f"no {what} {key!r} in district {district_id}") from None


def _rings(rings: list[Ring]) -> list[list[list[float]]]:
    return [[[x, y] for x, y in ring] for ring in rings]


def _feature(geometry: dict, **properties: Any) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


# ---------------------------------------------------------------------------- geometry


def to_polygon(rings: list[Ring]) -> Polygon:
    """GeoJSON Polygon rings (lon, lat) -> shapely Polygon."""
    return Polygon(rings[0], rings[1:])


def label_point(rings: list[Ring]) -> tuple[float, float]:
    """(lat, lon) of a point inside the polygon: its centroid if inside, else a
    representative point (concave grids)."""
    shape = to_polygon(rings)
    point = shape.centroid
    if not shape.contains(point):
        point = shape.representative_point()
    return round(point.y, 6), round(point.x, 6)


@dataclass(frozen=True, slots=True)
class _Metric:
    """Square degrees -> square metres near the district (equirectangular, ample here)."""

    lat0: float

    @property
    def m2_per_deg2(self) -> float:
        phi = math.radians(self.lat0)
        m_lat = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
        m_lon = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
        return m_lat * m_lon

    def m2(self, area_deg2: float) -> float:
        return area_deg2 * self.m2_per_deg2


def _where(geom: Any) -> str:
    point = geom.representative_point()
    return f"({point.y:.6f}, {point.x:.6f})"


# ---------------------------------------------------------------------------- checks


def check_district(d: District) -> None:
    """Refuse a district that breaks the grid rules, naming every offending item."""
    problems: list[str] = []
    _check_ids(d, problems)
    shapes = _check_shapes(d, problems)
    _check_hierarchy(d, problems)
    _check_limits(d, problems)
    boundary = shapes.get("__boundary__")
    if boundary is not None:
        communities = [g for g in d.grids if g.level == "community" and g.id in shapes]
        _check_tiling(d, boundary, communities, shapes, problems)
        _check_unions(d, boundary, shapes, problems)
        _check_cameras(d, boundary, problems)
        lat, lon = d.center
        if not shapely.intersects_xy(boundary, lon, lat):
            problems.append(f"center ({lat}, {lon}) is outside the district (it is (lat, lon))")
    try:
        ZoneInfo(d.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"time_zone {d.time_zone!r} is not an IANA time zone name")
    _check_taxonomy(d, problems)
    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise DistrictError(f"district {d.id} refused ({len(problems)} problem(s)):\n  - "
                            + "\n  - ".join(shown) + more)


def _check_ids(d: District, problems: list[str]) -> None:
    for what, ids in (("camera", [c.id for c in d.cameras]), ("grid", [g.id for g in d.grids]),
                      ("department", [x.id for x in d.departments]),
                      ("complaint type", [t.code for t in d.complaint_types])):
        for key, count in Counter(ids).items():
            if count > 1:
                problems.append(f"duplicate {what} id {key!r} ({count} times)")


def _check_shapes(d: District, problems: list[str]) -> dict[str, Polygon]:
    """Build every polygon once; report broken ones. Keyed by grid id, plus the boundary."""
    shapes: dict[str, Polygon] = {}
    items: list[tuple[str, str, list[Ring]]] = [("district boundary", "__boundary__", d.boundary)]
    items += [(f"{g.level} grid {g.id} ({g.name})", g.id, g.polygon) for g in d.grids]
    for label, key, rings in items:
        problem = _ring_problem(rings)
        if problem is None:
            try:
                shape = to_polygon(rings)
            except (ValueError, shapely.errors.GEOSException) as exc:
                problem = f"not a polygon: {exc}"
            else:
                if not shape.is_valid:
                    problem = f"invalid polygon: {shapely.is_valid_reason(shape)}"
                elif shape.area <= 0:
                    problem = "polygon has no area"
        if problem is not None:
            problems.append(f"{label}: {problem}")
        else:
            shapely.prepare(shape)
            shapes[key] = shape
    return shapes


def _ring_problem(rings: list[Ring]) -> str | None:
    for ring in rings:
        if tuple(ring[0]) != tuple(ring[-1]):
            return f"ring not closed (first point {ring[0]} != last point {ring[-1]})"
        for lon, lat in ring:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                return f"point ({lon}, {lat}) is not (lon, lat)"
    return None


def _check_hierarchy(d: District, problems: list[str]) -> None:
    by_id = {g.id: g for g in d.grids}
    top = [g for g in d.grids if g.level == "district"]
    if len(top) != 1:
        problems.append(f"need exactly one district-level grid, found {len(top)}")
    expected_parent = {"district": None, "street": "district", "community": "street"}
    for g in d.grids:
        want = expected_parent[g.level]
        parent = by_id.get(g.parent_id) if g.parent_id is not None else None
        if want is None and g.parent_id is not None:
            problems.append(f"district grid {g.id} must have no parent_id")
        elif want is not None and (parent is None or parent.level != want):
            problems.append(f"{g.level} grid {g.id} ({g.name}): parent_id {g.parent_id!r} "
                            f"is not a {want} grid")
    for street in (g for g in d.grids if g.level == "street"):
        if not any(c.parent_id == street.id for c in d.grids if c.level == "community"):
            problems.append(f"street grid {street.id} ({street.name}) has no community grids")
    if not any(g.level == "community" for g in d.grids):
        problems.append("no community grids")


def _check_limits(d: District, problems: list[str]) -> None:
    for g in d.grids:
        if g.level != "community":
            continue
        if g.households > MAX_HOUSEHOLDS:
            problems.append(f"community grid {g.id} ({g.name}) has {g.households} households; "
                            f"the limit is {MAX_HOUSEHOLDS}")
        if g.people > MAX_PEOPLE:
            problems.append(f"community grid {g.id} ({g.name}) has {g.people} people; "
                            f"the limit is {MAX_PEOPLE}")
    children: dict[str, list[Grid]] = {}
    for g in d.grids:
        if g.parent_id is not None:
            children.setdefault(g.parent_id, []).append(g)
    for g in d.grids:
        kids = children.get(g.id)
        if g.level == "community" or not kids:
            continue
        for field in ("households", "people"):
            total = sum(getattr(k, field) for k in kids)
            if getattr(g, field) != total:
                problems.append(f"{g.level} grid {g.id} ({g.name}) has {getattr(g, field)} "
                                f"{field} but its grids add up to {total}")


def _check_tiling(d: District, boundary: Polygon, communities: list[Grid],
                  shapes: dict[str, Polygon], problems: list[str]) -> None:
    """Community grids tile the boundary: no overlaps, no gaps, nothing outside."""
    if not communities:
        return
    metric = _Metric(d.center[0])
    polys = np.array([shapes[g.id] for g in communities], dtype=object)
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if len(left):
        overlaps = shapely.intersection(polys[left], polys[right])
        areas = shapely.area(overlaps) * metric.m2_per_deg2
        for i, j, area, geom in zip(left, right, areas, overlaps, strict=True):
            if area > GAP_TOLERANCE_M2:
                a, b = communities[i], communities[j]
                problems.append(f"community grids {a.id} ({a.name}) and {b.id} ({b.name}) "
                                f"overlap by {area:.0f} m² near {_where(geom)}")
    union = shapely.union_all(polys)
    budget = max(GAP_TOLERANCE_M2, GAP_TOLERANCE_SHARE * metric.m2(boundary.area))
    for what, rest in (("gap", boundary.difference(union)),
                       ("outside the district boundary", union.difference(boundary))):
        pieces = [p for p in getattr(rest, "geoms", [rest]) if not p.is_empty and p.area > 0]
        big = [p for p in pieces if metric.m2(p.area) > GAP_TOLERANCE_M2]
        for piece in sorted(big, key=lambda p: -p.area)[:20]:
            near = tree.query(piece, predicate="intersects")
            names = ", ".join(communities[i].id for i in sorted(near)) or "no grid"
            label = "a gap in the tiling" if what == "gap" else "a piece of grid outside the boundary"
            problems.append(f"{label}: {metric.m2(piece.area):.0f} m² near {_where(piece)}, "
                            f"touching community grids {names}")
        total = metric.m2(sum(p.area for p in pieces))
        if not big and total > budget:
            problems.append(f"community grids leave {total:.0f} m² of slivers {what} "
                            f"(allowed {budget:.0f} m²)")


def _check_unions(d: District, boundary: Polygon, shapes: dict[str, Polygon],
                  problems: list[str]) -> None:
    """Each street grid is the union of its communities; the district grid is the boundary."""
    metric = _Metric(d.center[0])
    for g in d.grids:
        if g.level == "district" and g.id in shapes:
            diff = metric.m2(shapes[g.id].symmetric_difference(boundary).area)
            if diff > GAP_TOLERANCE_M2:
                problems.append(f"district grid {g.id} differs from the boundary by {diff:.0f} m²")
        if g.level != "street" or g.id not in shapes:
            continue
        kids = [shapes[k.id] for k in d.grids if k.parent_id == g.id and k.id in shapes]
        if not kids:
            continue
        diff = metric.m2(shapes[g.id].symmetric_difference(shapely.union_all(kids)).area)
        if diff > max(GAP_TOLERANCE_M2, GAP_TOLERANCE_SHARE * metric.m2(shapes[g.id].area)):
            problems.append(f"street grid {g.id} ({g.name}) is not the union of its community "
                            f"grids (differs by {diff:.0f} m²)")


def _check_cameras(d: District, boundary: Polygon, problems: list[str]) -> None:
    roads = {r.name for r in d.roads}
    for c in d.cameras:
        if roads and c.road not in roads:
            problems.append(f"camera {c.id} ({c.name}) watches road {c.road!r}, which is not "
                            f"among the district's roads")
        if not shapely.intersects_xy(boundary, c.lon, c.lat):
            problems.append(f"camera {c.id} ({c.name}) at ({c.lat}, {c.lon}) is outside the "
                            f"district")


def _check_taxonomy(d: District, problems: list[str]) -> None:
    depts = {x.id for x in d.departments}
    streets = {g.id for g in d.grids if g.level == "street"}
    for x in d.departments:
        if x.street_id is not None and x.street_id not in streets:
            problems.append(f"department {x.id} ({x.name_zh}) serves street {x.street_id!r}, "
                            f"which is not a street grid")
    for t in d.complaint_types:
        if t.department_id not in depts:
            problems.append(f"complaint type {t.code} ({t.name_zh}): department "
                            f"{t.department_id!r} does not exist")
    levels = sorted({t.level for t in d.complaint_types})
    if tuple(levels) != LEVELS:
        problems.append(f"the complaint taxonomy must use exactly the 5 levels {list(LEVELS)}; "
                        f"it uses {levels}")


# ---------------------------------------------------------------------------- loading

_cache: dict[tuple[str, int, int], District] = {}
_cache_lock = threading.Lock()


def load_district(path: Path | str | None = None) -> District:
    """Load, validate and index a district file (None -> the bundled Pingfang).

    Cached per path (and file version), so every caller shares one parsed, indexed model.
    Raises DistrictError with a message naming the offending grid, camera or type.
    """
    file = Path(path).expanduser().resolve() if path is not None else BUNDLED_DISTRICT
    try:
        stat = file.stat()
    except OSError as exc:
        raise DistrictError(f"district file {file}: {exc.strerror or exc}") from exc
    key = (str(file), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    district = parse_district(file.read_bytes(), source=str(file))
    with _cache_lock:
        _cache[key] = district
    return district


def parse_district(data: bytes | str | dict, source: str = "<district>") -> District:
    """Validate raw district data (JSON text or its parsed dict) into an indexed District."""
    if isinstance(data, bytes | str):
        try:
            raw = json.loads(data)
        except json.JSONDecodeError as exc:
            raise DistrictError(f"{source}: not JSON ({exc})") from exc
    else:
        raw = data
    if not isinstance(raw, dict):
        raise DistrictError(f"{source}: a district file holds one JSON object")
    try:
        district = District.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{_describe(raw, err['loc'])}: {err['msg']}" for err in exc.errors()]
        shown = lines[:40]
        raise DistrictError(f"{source} refused ({len(lines)} problem(s)):\n  - "
                            + "\n  - ".join(shown)) from None
    try:
        check_district(district)
    except DistrictError as exc:
        raise DistrictError(f"{source}: {exc}") from None
    district._idx()
    return district


_ITEM_KEYS = {"cameras": ("camera", "id"), "grids": ("grid", "id"), "roads": ("road", "name"),
              "departments": ("department", "id"), "complaint_types": ("complaint type", "code")}


def _describe(raw: dict, loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into words naming the item, e.g. 'grid PF-G0001: households'."""
    if len(loc) >= 2 and loc[0] in _ITEM_KEYS and isinstance(loc[1], int):
        what, key = _ITEM_KEYS[loc[0]]
        items = raw.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        name = item.get(key) if isinstance(item, dict) else None
        label = f"{what} {name}" if name else f"{what} #{loc[1] + 1}"
        rest = ".".join(str(part) for part in loc[2:])
        return f"{label}: {rest}" if rest else label
    return ".".join(str(part) for part in loc) or "district"


def district_stats(d: District) -> dict[str, Any]:
    """Headline figures (for docs, the dashboard and the generator's self-check)."""
    communities = d.community_grids()
    metric = _Metric(d.center[0])
    return {
        "area_km2": round(metric.m2(to_polygon(d.boundary).area) / 1e6, 2),
        "streets": len(d.street_grids()),
        "community_grids": len(communities),
        "households": sum(g.households for g in communities),
        "people": sum(g.people for g in communities),
        "max_households": max((g.households for g in communities), default=0),
        "max_people": max((g.people for g in communities), default=0),
        "cameras": len(d.cameras),
        "roads": len(d.roads),
        "departments": len(d.departments),
        "complaint_types": len(d.complaint_types),
        "levels": sorted({t.level for t in d.complaint_types}),
    }

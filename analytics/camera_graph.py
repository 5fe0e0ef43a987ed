"""Where the cameras are and how far apart by road: the yardstick for "could this be one trip".

Road distances are estimated as the straight line times a road factor (1.3 by default,
the usual detour of a city grid): no routing data ships offline, and the estimate only
has to separate "a car could do this" from "no car could", which the factor leaves wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from shapely import contains_xy
from shapely.geometry import Polygon

from streams.district import Camera, District

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_ROAD_FACTOR = 1.3
SAME_TIME_S = 1.0
"""Two sightings closer in time than this count as "at the same time"."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float


class UnknownCamera(KeyError):
    """A camera id the graph does not know (the sighting guard sets such sightings aside)."""

    def __str__(self) -> str:
        return f"unknown camera {self.args[0]!r}"


class CameraGraph:
    """Camera positions and the road distance between any two of them (precomputed)."""

    def __init__(self, cameras: Iterable[Camera], road_factor: float = DEFAULT_ROAD_FACTOR) -> None:
        if road_factor < 1.0:
            raise ValueError(f"a road factor below 1 ({road_factor}) would beat the straight line")
        self.road_factor = road_factor
        self.positions: dict[str, Position] = {c.id: Position(c.lat, c.lon) for c in cameras}
        self._index = {camera_id: i for i, camera_id in enumerate(self.positions)}
        lat = np.radians([p.lat for p in self.positions.values()])
        lon = np.radians([p.lon for p in self.positions.values()])
        dlat = lat[:, None] - lat[None, :]
        dlon = lon[:, None] - lon[None, :]
        h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
        self._road_m = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * road_factor

    @classmethod
    def from_district(cls, district: District, road_factor: float = DEFAULT_ROAD_FACTOR) -> CameraGraph:
        return cls(district.cameras, road_factor)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self.positions

    def position(self, camera_id: str) -> Position:
        try:
            return self.positions[camera_id]
        except KeyError:
            raise UnknownCamera(camera_id) from None

    def road_m(self, a: str, b: str) -> float:
        """Estimated road distance in metres between two cameras."""
        try:
            return float(self._road_m[self._index[a], self._index[b]])
        except KeyError as exc:
            raise UnknownCamera(exc.args[0]) from None

    def implied_kmh(self, a: str, ts_a: datetime, b: str, ts_b: datetime) -> float:
        """Speed needed to be at camera `a` at `ts_a` and at `b` at `ts_b` (inf when impossible:
        two places at the same time)."""
        metres = self.road_m(a, b)
        if metres == 0.0:
            return 0.0
        seconds = abs((ts_b - ts_a).total_seconds())
        if seconds < SAME_TIME_S:
            return math.inf
        return metres / seconds * 3.6

    def plausible(self, a: str, ts_a: datetime, b: str, ts_b: datetime, max_kmh: float) -> bool:
        """Could one vehicle (or person) be seen at both, at most `max_kmh` on the roads?"""
        return self.implied_kmh(a, ts_a, b, ts_b) <= max_kmh

    def cameras_inside(self, polygon: Sequence[tuple[float, float]] | Polygon) -> list[str]:
        """Cameras inside a drawn area, given as (lon, lat) vertices (GeoJSON order) or a shape."""
        shape = polygon if isinstance(polygon, Polygon) else Polygon(polygon)
        if not shape.is_valid or shape.area == 0:
            raise ValueError("the area must be a simple polygon of at least three distinct points")
        ids = list(self.positions)
        lons = np.array([self.positions[i].lon for i in ids])
        lats = np.array([self.positions[i].lat for i in ids])
        inside = contains_xy(shape, lons, lats)
        return [camera_id for camera_id, hit in zip(ids, inside, strict=True) if hit]

"""Map pieces every page shares: the district's own outline, streets and roads (no internet
needed), a tile layer only when one is configured, and the district's bounds."""

from __future__ import annotations

import dash_leaflet as dl

from dashboard import context


def district_bounds() -> list[list[float]]:
    district = context.district()
    lons = [pt[0] for pt in district.boundary[0]]
    lats = [pt[1] for pt in district.boundary[0]]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def base_layers() -> list:
    """The district drawn from its own GeoJSON (no internet); a tile layer only if configured."""
    district = context.district()
    layers: list = []
    if context.settings().tile_url:
        layers.append(dl.TileLayer(url=context.settings().tile_url, maxZoom=19))
    layers += [
        dl.GeoJSON(data=district.grids_geojson("street"), style={"variable": "cityops.streetStyle"},
                   interactive=False),
        dl.GeoJSON(data=district.roads_geojson(), style={"variable": "cityops.roadStyle"},
                   interactive=False),
    ]
    return layers


def district_map(layers: list, map_id: str, style: dict, **options: object) -> dl.Map:
    """A map fitted to the district. `center` is given too (with no zoom, so the bounds
    still decide the zoom): dash-leaflet 1.1 reads `center` on every move and throws
    without one."""
    bounds = district_bounds()
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    return dl.Map(layers, id=map_id, bounds=bounds, center=center, zoomSnap=0.25, attributionControl=False,
                  style=style, **options)

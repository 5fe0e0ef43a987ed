"""Wall screen: the district map with grids and cameras, KPI tiles and the live complaint flow.

The map's geometry is sent once with the page; each 2-second tick sends only counts,
the newest complaints and a status per grid/camera (the map layers' `hideout`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash
import dash_leaflet as dl
from dash import Input, Output, callback, dcc, html

from dashboard import context

dash.register_page(__name__, path="/", name="指挥大屏 Wall", order=0)

TICK_MS = 2000
CAMERA_FRESH_S = 15
STATE_ZH = {
    "created": "已上报", "accepted": "已受理", "dispatched": "已派单", "handled": "已处置",
    "supervised": "督办中", "rated": "已评价", "closed": "已办结", "redispatched": "二次派单",
}


def _camera_geojson() -> dict:
    district = context.district()
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
             "properties": {"id": c.id, "name": c.name, "tooltip": f"{c.id} {c.name}"}}
            for c in district.cameras
        ],
    }


def _map() -> dl.Map:
    district = context.district()
    settings = context.settings()
    layers: list = []
    tile_url = settings.tile_url
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, maxZoom=19))
    layers += [
        dl.GeoJSON(id="wall-grids", data=district.grids_geojson("community"),
                   style={"variable": "cityops.gridStyle"}, hideout={"status": {}},
                   hoverStyle={"weight": 2, "color": "#ffffff"}),
        dl.GeoJSON(data=district.grids_geojson("street"), style={"variable": "cityops.streetStyle"},
                   interactive=False),
        dl.GeoJSON(data=district.roads_geojson(), style={"variable": "cityops.roadStyle"},
                   interactive=False),
        dl.GeoJSON(id="wall-cameras", data=_camera_geojson(),
                   pointToLayer={"variable": "cityops.cameraPoint"}, hideout={"online": {}}),
    ]
    lons = [pt[0] for pt in district.boundary[0]]
    lats = [pt[1] for pt in district.boundary[0]]
    bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    return dl.Map(layers, bounds=bounds, zoomSnap=0.25, preferCanvas=True,
                  style={"height": "100%", "width": "100%", "borderRadius": "6px"}, id="wall-map")


def _kpi(label: str, value_id: str) -> html.Div:
    return html.Div(className="kpi", children=[html.Div(label, className="label"),
                                                html.Div("–", id=value_id, className="value")])


def layout(**_: object) -> html.Div:
    return html.Div(className="wall", children=[
        html.Div(style={"display": "flex", "flexDirection": "column", "minHeight": 0}, children=[
            html.Div(className="kpis", children=[
                _kpi("今日投诉 Today", "kpi-today"),
                _kpi("办理中 Open", "kpi-open"),
                _kpi("超期 Overdue", "kpi-overdue"),
                _kpi("累计 Total", "kpi-total"),
                _kpi("在线摄像头 Cameras", "kpi-cameras"),
            ]),
            html.Div(_map(), style={"flex": 1, "minHeight": 0}),
        ]),
        html.Div(className="panel", children=[
            html.H2("实时诉求 Live complaints"),
            html.Ul(id="wall-flow", className="flow"),
        ]),
        dcc.Interval(id="wall-tick", interval=TICK_MS),
    ])


def _age(created: datetime, now: datetime) -> str:
    minutes = int((now - created).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // 1440} 天"


@callback(
    Output("kpi-today", "children"), Output("kpi-open", "children"),
    Output("kpi-overdue", "children"), Output("kpi-total", "children"),
    Output("kpi-cameras", "children"), Output("wall-flow", "children"),
    Output("wall-grids", "hideout"), Output("wall-cameras", "hideout"),
    Input("wall-tick", "n_intervals"),
)
def refresh(_n: int | None) -> tuple:
    store = context.store()
    district = context.district()
    now = datetime.now(UTC)
    midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    summary = store.complaint_summary(since=midnight)
    types = {t.code: t for t in district.complaint_types}
    depts = {d.id: d for d in district.departments}
    grids = {g.id: g for g in district.grids}
    items = []
    for c in store.recent_complaints(limit=14):
        ctype = types.get(c.category or "")
        late = c.late_at(now)
        items.append(html.Li([
            html.Span(c.created_at.astimezone().strftime("%H:%M")),
            html.Span([
                html.B(ctype.name_zh if ctype else (c.category or "")), " · ",
                grids[c.grid_id].name if c.grid_id in grids else (c.grid_id or ""), " · ",
                depts[c.department].name_zh if c.department in depts else (c.department or ""),
            ]),
            html.Span([STATE_ZH.get(c.state, c.state), html.Br(), _age(c.created_at, now)],
                      className="state late" if late else "state"),
        ]))
    statuses = store.camera_statuses()
    fresh = now - timedelta(seconds=CAMERA_FRESH_S)
    online = {s.camera_id: bool(s.online and s.ts >= fresh) for s in statuses}
    grid_status = store.grid_status_levels()
    return (
        f"{summary.today:,}", f"{summary.open:,}", f"{summary.overdue:,}", f"{summary.total:,}",
        f"{sum(online.values())}/{len(district.cameras)}", items,
        {"status": grid_status}, {"online": online},
    )

"""Wall screen: what is happening now, where, and what is late, readable across a room.

The map's geometry (424 community grids, roads, 152 cameras) is sent once with the page; each 1.5 s
tick sends only what changed meaning: KPI numbers, the newest complaints and alerts, the
non-normal grids and camera health (the map layers' `hideout`), and the trails of the
last minutes. The ranking changes slowly and has its own 30 s tick. See `bench/
bench_dashboard.py` for the measured payload.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta

import dash
import dash_leaflet as dl
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from dashboard import context, reads
from dashboard.i18n import age, alert_kind, lang_of, number, percent, state, tr, when
from dashboard.maps import base_layers, district_map

dash.register_page(__name__, path="/", name="wall", order=0)
log = logging.getLogger(__name__)

TICK_MS = 1500
"""A new record is on the wall within one tick plus the callback (~40 ms): under 2 s."""
RANKING_TICK_MS = 30_000
TRAIL_MINUTES = 15
ALERT_HOURS = 24
FLOW_ITEMS = 14
RANKING_ROWS = 9


def _camera_geojson() -> dict:
    district = context.district()
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
             "properties": {"id": c.id, "tooltip": f"{c.id} {c.name}"}}
            for c in district.cameras
        ],
    }


def _map() -> dl.Map:
    district = context.district()
    layers = [
        dl.GeoJSON(id="wall-grids", data=district.grids_geojson("community"),
                   style={"variable": "cityops.gridStyle"}, hideout={"status": {}},
                   hoverStyle={"weight": 2, "color": "#ffffff"}),
        *base_layers(),
        dl.GeoJSON(id="wall-trails", data={"type": "FeatureCollection", "features": []},
                   style={"variable": "cityops.trailStyle"}, interactive=False),
        dl.GeoJSON(id="wall-cameras", data=_camera_geojson(),
                   pointToLayer={"variable": "cityops.cameraPoint"}, hideout={"online": {}}),
        dl.GeoJSON(id="wall-alert-points", data={"type": "FeatureCollection", "features": []},
                   pointToLayer={"variable": "cityops.alertPoint"}, interactive=False),
    ]
    return district_map(layers, "wall-map", {"height": "100%", "width": "100%", "borderRadius": "6px"},
                        preferCanvas=True)


def _kpi(label: str, value_id: str, sub: html.Div | None = None) -> html.Div:
    return html.Div(className="kpi", children=[html.Div(label, className="label"),
                                                html.Div("–", id=value_id, className="value"),
                                                *([sub] if sub is not None else [])])


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = lang_of(lang)
    return html.Div(className="wall", children=[
        dcc.Store(id="wall-lang", data=lang),
        html.Div(className="wall-main", children=[
            html.Div(className="kpis", children=[
                _kpi(tr("kpi.today", lang), "kpi-today", html.Div(
                    [tr("kpi.total", lang), " ", html.Span("–", id="kpi-total")], className="sub")),
                _kpi(tr("kpi.overdue", lang), "kpi-overdue"),
                _kpi(tr("kpi.ontime", lang), "kpi-ontime"),
                _kpi(tr("kpi.rating", lang), "kpi-rating"),
                _kpi(tr("kpi.cameras", lang), "kpi-cameras"),
                _kpi(tr("kpi.rate", lang), "kpi-rate"),
            ]),
            html.Div(className="wall-map", children=[
                _map(),
                html.Div(id="wall-detail", className="detail", style={"display": "none"}),
                html.Div(tr("wall.legend", lang), className="legend"),
                html.Div(id="wall-stale", className="stale", style={"display": "none"}),
            ]),
            html.Div(className="ticker", children=[html.Div(id="wall-ticker", className="ticker-run")]),
        ]),
        html.Div(className="wall-side", children=[
            html.Div(className="panel alerts-panel", children=[
                html.H2(tr("wall.alerts", lang)), html.Ul(id="wall-alerts", className="alerts")]),
            html.Div(className="panel flow-panel", children=[
                html.H2(tr("wall.flow", lang)), html.Ul(id="wall-flow", className="flow")]),
            html.Div(className="panel ranking-panel", children=[
                html.H2(tr("wall.ranking", lang)), html.Ol(id="wall-ranking", className="ranking")]),
        ]),
        dcc.Interval(id="wall-tick", interval=TICK_MS),
        dcc.Interval(id="wall-ranking-tick", interval=RANKING_TICK_MS),
    ])


# ------------------------------------------------------------------ the 1.5 s tick


def _flow_items(now: datetime, lang: str) -> list:
    district = context.district()
    types = {ct.code: ct for ct in district.complaint_types}
    depts = {d.id: d for d in district.departments}
    grids = {g.id: g for g in district.grids}
    items = []
    for c in reads.recent_complaints(FLOW_ITEMS):
        ctype = types.get(c.category)
        dept = depts.get(c.department)
        late = c.late_at(now)
        items.append(html.Li(className="late" if late else None, children=[
            html.Span(when(c.created_at, lang, district.timezone, with_date=False), className="time"),
            html.Span([
                html.B((ctype.name_en if lang == "en" else ctype.name_zh) if ctype else c.category),
                html.Br(),
                html.Span(f"{grids[c.grid_id].name if c.grid_id in grids else c.grid_id} · "
                          f"{(dept.name_en if lang == 'en' else dept.name_zh) if dept else c.department}",
                          className="sub"),
            ]),
            html.Span([state(c.state, lang), html.Br(), age((now - c.created_at).total_seconds() / 60, lang)],
                      className="state"),
        ]))
    return items or [html.Li(tr("wall.no_complaints", lang), className="empty")]


def _alert_place(alert: object) -> tuple[float, float] | None:
    district = context.district()
    camera_id = getattr(alert, "camera_id", None)
    grid_id = getattr(alert, "grid_id", None)
    if camera_id:
        try:
            cam = district.camera(camera_id)
            return cam.lat, cam.lon
        except KeyError:
            pass
    if grid_id:
        try:
            centroid = district.grid(grid_id).centroid
            return centroid if centroid else None
        except KeyError:
            pass
    return None


def _alerts(now: datetime, lang: str) -> tuple[list, list, dict]:
    district = context.district()
    found = reads.recent_alerts(now - timedelta(hours=ALERT_HOURS))
    items, ticker, points = [], [], []
    for a in found:
        label = alert_kind(a.kind.value, lang)
        clock = when(a.ts, lang, district.timezone, with_date=False)
        items.append(html.Li(className=f"sev-{a.severity}", children=[
            html.Span(clock, className="time"), html.Span(label, className="kind"), html.Span(a.title)]))
        ticker.append(html.Span(f"【{label}】{clock} {a.title}", className=f"sev-{a.severity}"))
        place = _alert_place(a)
        if place is not None and (now - a.ts) <= timedelta(hours=1):
            points.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [place[1], place[0]]},
                           "properties": {"kind": a.kind.value, "severity": a.severity}})
    if not items:
        items = [html.Li(tr("wall.no_alerts", lang), className="empty")]
        ticker = [html.Span(tr("wall.no_alerts", lang))]
    return items, ticker, {"type": "FeatureCollection", "features": points}


_trail_cache: dict[str, tuple[float, dict]] = {}
TRAIL_REFRESH_S = 5.0
"""Trails move slowly: one read per 5 s serves every wall screen of the process."""


def _trails(now: datetime) -> dict:
    cached = _trail_cache.get("trails")
    if cached is not None and time.monotonic() - cached[0] < TRAIL_REFRESH_S:
        return cached[1]
    district = context.district()
    features = []
    for trail in reads.recent_trails(now - timedelta(minutes=TRAIL_MINUTES)):
        coords = []
        for camera_id in trail.cameras:
            with contextlib.suppress(KeyError):
                cam = district.camera(camera_id)
                coords.append([round(cam.lon, 5), round(cam.lat, 5)])
        if len(coords) >= 2:
            features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                             "properties": {"kind": trail.kind}})
    data = {"type": "FeatureCollection", "features": features}
    _trail_cache["trails"] = (time.monotonic(), data)
    return data


@callback(
    Output("kpi-today", "children"), Output("kpi-total", "children"), Output("kpi-overdue", "children"),
    Output("kpi-ontime", "children"), Output("kpi-rating", "children"),
    Output("kpi-cameras", "children"), Output("kpi-rate", "children"),
    Output("wall-flow", "children"), Output("wall-alerts", "children"), Output("wall-ticker", "children"),
    Output("wall-grids", "hideout"), Output("wall-cameras", "hideout"),
    Output("wall-trails", "data"), Output("wall-alert-points", "data"),
    Output("wall-stale", "style"), Output("wall-stale", "children"),
    Input("wall-tick", "n_intervals"), State("wall-lang", "data"),
)
def refresh(_n: int | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    now = reads.utcnow()
    try:
        online = reads.camera_online(now)
        counts = reads.wall_counts(now, online)
        alert_items, ticker, alert_points = _alerts(now, lang)
        flow = _flow_items(now, lang)
        grids, trails = reads.grid_status(), _trails(now)
    except SQLAlchemyError as exc:  # keep the last picture on screen and say why it is stale
        log.warning("wall: the store cannot be read: %s", exc)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        return (*[no_update] * 14, {"display": "block"}, f"{tr('wall.stale', lang)}: {reason}")
    return (
        number(counts.today), number(counts.total), number(counts.overdue), percent(counts.on_time_rate),
        number(counts.mean_rating, 2), f"{counts.cameras_online}/{counts.cameras_total}",
        number(counts.sightings_per_min),
        flow, alert_items, ticker, {"status": grids}, {"online": online}, trails, alert_points,
        {"display": "none"}, "",
    )


@callback(Output("wall-ranking", "children"), Input("wall-ranking-tick", "n_intervals"),
          State("wall-lang", "data"))
def ranking(_n: int | None, lang: str | None) -> list:
    lang = lang_of(lang)
    depts = {d.id: d for d in context.district().departments}
    rows = []
    for score in reads.department_ranking()[:RANKING_ROWS]:
        dept = depts.get(score.department)
        name = (dept.name_en if lang == "en" else dept.name_zh) if dept else score.department
        rows.append(html.Li([
            html.Span(str(score.rank), className="rank"),
            html.Span(name, className="name"),
            html.Span(f"{score.smoothed_rating:.2f}", className="score"),
            html.Span(percent(score.on_time_rate, 0), className="ontime"),
        ]))
    return rows or [html.Li(tr("wall.none", lang), className="empty")]


# ------------------------------------------------------------------ clicks


def _camera_detail(camera_id: str, lang: str) -> list:
    district = context.district()
    try:
        cam = district.camera(camera_id)
    except KeyError:
        return [html.P(camera_id)]
    status = next((s for s in reads.camera_statuses() if s.camera_id == camera_id), None)
    online = reads.camera_online(reads.utcnow()).get(camera_id)
    health = tr("wall.silent", lang) if online is None else tr("wall.online" if online else "wall.offline", lang)
    hits = reads.camera_sightings(camera_id)
    snap = next((h.snapshot for h in hits if h.snapshot), None)
    return [
        html.H3(f"{tr('wall.camera', lang)} {cam.id} · {cam.name}"),
        html.P([html.Span(health, className=f"health {'ok' if online else 'bad'}"),
                f"  {cam.road}" + (f" · {status.error}" if status and status.error else "")]),
        html.Img(src=f"/media/{snap}", className="snapshot") if snap else html.P(tr("wall.snapshot_none", lang)),
        html.H4(tr("wall.recent", lang)),
        html.Ul(className="hits", children=[
            html.Li(f"{when(h.ts, lang, district.timezone, seconds=True)}  {h.identity}  ({h.confidence:.2f})")
            for h in hits
        ] or [html.Li(tr("wall.none", lang))]),
    ]


def _grid_detail(grid_id: str, lang: str) -> list:
    district = context.district()
    try:
        grid = district.grid(grid_id)
    except KeyError:
        return [html.P(grid_id)]
    types = {ct.code: ct for ct in district.complaint_types}
    now = reads.utcnow()
    open_items = reads.open_complaints_in(grid_id)
    return [
        html.H3(f"{tr('wall.grid', lang)} {grid.name}"),
        html.Table(className="facts", children=[
            html.Tr([html.Th(tr("wall.households", lang)), html.Td(number(grid.households))]),
            html.Tr([html.Th(tr("wall.people", lang)), html.Td(number(grid.people))]),
            html.Tr([html.Th(tr("wall.worker", lang)),
                     html.Td(f"{grid.worker.name} ({grid.worker.id})" if grid.worker else tr("wall.none", lang))]),
        ]),
        html.H4(f"{tr('wall.open', lang)} ({len(open_items)})"),
        html.Ul(className="hits", children=[
            html.Li(f"{c.code} · {types[c.category].name_zh if c.category in types else c.category} · "
                    f"{state(c.state, lang)} · {age((now - c.created_at).total_seconds() / 60, lang)}")
            for c in open_items
        ] or [html.Li(tr("wall.none", lang))]),
    ]


@callback(
    Output("wall-detail", "children"), Output("wall-detail", "style"),
    Input("wall-cameras", "clickData"), Input("wall-grids", "clickData"),
    Input("wall-detail", "n_clicks"), State("wall-lang", "data"),
    prevent_initial_call=True,
)
def detail(camera_click: dict | None, grid_click: dict | None, _close: int | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    hidden = {"display": "none"}
    trigger = ctx.triggered_id
    if trigger == "wall-detail":
        return no_update, hidden
    click = camera_click if trigger == "wall-cameras" else grid_click
    feature_id = ((click or {}).get("properties") or {}).get("id")
    if not feature_id:
        return no_update, hidden
    body = _camera_detail(feature_id, lang) if trigger == "wall-cameras" else _grid_detail(feature_id, lang)
    return [html.Div(f"✕ {tr('wall.close', lang)}", className="close"), *body], {"display": "block"}

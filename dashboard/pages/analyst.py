"""Analyst: where has this plate / this face been, with whom, and is anything wrong.

One search form (plate exact / wildcard / fuzzy, watch-list name, uploaded photo, cameras
and a time window) answered by the same `SearchRequest` as `cityops search` and the HTTP
API; the hits as a table (with snapshots, CSV export) and as a route on the map that a
time slider plays back; co-travel and cloned-plate views with their evidence.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import dash
import dash_leaflet as dl
from dash import (
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dash_table,
    dcc,
    html,
    no_update,
)

from analytics.queries import QueryError, Window
from analytics.search import SearchRequest, parse_time
from dashboard import context, reads
from dashboard.i18n import alert_kind, lang_of, number, tr, when
from dashboard.maps import base_layers, district_map
from streams.records import AlertKind

dash.register_page(__name__, path="/analyst", name="analyst", order=1)

MODES = ("plate", "pattern", "fuzzy", "face", "photo", "camera")
MODE_LABELS = {"plate": "an.exact", "pattern": "an.pattern", "fuzzy": "an.fuzzy", "face": "an.face",
               "photo": "an.photo", "camera": "an.camera"}
PLAY_MS = 800
EMPTY = {"type": "FeatureCollection", "features": []}


def _columns(lang: str) -> list[dict]:
    return [
        {"id": "time", "name": tr("an.col.time", lang)},
        {"id": "camera_id", "name": tr("an.col.camera", lang)},
        {"id": "place", "name": tr("an.col.place", lang)},
        {"id": "identity", "name": tr("an.col.identity", lang)},
        {"id": "kind", "name": tr("an.col.kind", lang)},
        {"id": "confidence", "name": tr("an.col.confidence", lang)},
        {"id": "cost", "name": tr("an.col.cost", lang)},
        {"id": "snapshot", "name": tr("an.col.snapshot", lang), "presentation": "markdown"},
    ]


def _field(label: str, control: Any) -> html.Div:
    return html.Div(className="field", children=[html.Label(label), control])


def layout(lang: str | None = None, plate: str | None = None, **_: object) -> html.Div:
    lang = lang_of(lang)
    district = context.district()
    return html.Div(className="desk", children=[
        dcc.Store(id="an-lang", data=lang),
        dcc.Store(id="an-points", data=[]),
        dcc.Store(id="an-identity", data=None),
        html.Div(className="row no-print", children=[
            _field(tr("an.mode", lang), dcc.RadioItems(
                id="an-mode", value="plate", inline=True, inputStyle={"marginRight": "4px"},
                labelStyle={"marginRight": "14px"},
                options=[{"label": tr(MODE_LABELS[m], lang), "value": m} for m in MODES])),
        ]),
        html.Div(className="row no-print", children=[
            _field(tr("an.query", lang), dcc.Input(id="an-text", value=plate or "", debounce=False,
                                                   placeholder="黑A12345 / 黑A?23* / 张某", style={"width": "200px"})),
            _field(tr("an.cameras", lang), dcc.Dropdown(
                id="an-cameras", multi=True, style={"width": "320px", "color": "#000"},
                options=[{"label": f"{c.id} {c.name}", "value": c.id} for c in district.cameras])),
            _field(tr("an.since", lang), dcc.Input(id="an-since", type="datetime-local", style={"width": "210px"})),
            _field(tr("an.until", lang), dcc.Input(id="an-until", type="datetime-local", style={"width": "210px"})),
            dcc.Upload(id="an-photo", className="upload", children=html.Div(tr("an.upload", lang),
                                                                            id="an-photo-label"),
                       accept="image/*"),
            html.Button(tr("an.search", lang), id="an-search", n_clicks=0, className="btn"),
            html.Button(tr("an.companions", lang), id="an-companions", n_clicks=0, className="btn secondary"),
            html.Button(tr("an.clones", lang), id="an-clones", n_clicks=0, className="btn secondary"),
            html.Button(tr("an.print", lang), id="an-print", n_clicks=0, className="btn secondary"),
        ]),
        html.Div(id="an-summary", className="summary"),
        html.Div(className="cols", children=[
            html.Div(className="card", children=[
                html.H2(tr("an.route", lang)),
                html.Div(id="an-route", className="route"),
                district_map([
                    dl.GeoJSON(data=district.grids_geojson("community"), style={"variable": "cityops.faintGridStyle"},
                               interactive=False),
                    *base_layers(),
                    dl.GeoJSON(id="an-line", data=EMPTY, style={"variable": "cityops.routeStyle"}, interactive=False),
                    dl.GeoJSON(id="an-dots", data=EMPTY, pointToLayer={"variable": "cityops.routePoint"}),
                ], "an-map", {"height": "420px", "borderRadius": "6px"}),
                html.Div(className="row no-print", style={"marginTop": "8px"}, children=[
                    html.Button(tr("an.play", lang), id="an-play", n_clicks=0, className="btn secondary"),
                    html.Div(dcc.Slider(id="an-slider", min=0, max=0, step=1, value=0, marks=None, allow_direct_input=False,
                                        tooltip={"always_visible": False}), style={"flex": 1}),
                ]),
                html.Div(id="an-at", className="summary"),
                dcc.Interval(id="an-play-tick", interval=PLAY_MS, disabled=True),
            ]),
            html.Div(className="card", children=[
                html.H2(tr("an.results", lang)),
                dash_table.DataTable(
                    id="an-table", columns=_columns(lang), data=[], page_size=12, export_format="csv",
                    export_headers="display", markdown_options={"link_target": "_blank"},
                    style_cell={"textAlign": "left", "fontSize": "14px", "padding": "4px 8px"},
                    style_header={"fontWeight": "bold"}),
                html.Div(id="an-evidence"),
            ]),
        ]),
    ])


# ------------------------------------------------------------------ search


def _window(since: str | None, until: str | None) -> Window:
    zone = context.district().timezone
    return Window(parse_time(since or None, zone), parse_time(until or None, zone))


def _photo_encoding(contents: str) -> list[float]:
    import cv2
    import numpy as np

    from video.faces.search_photo import encode_image_face

    data = base64.b64decode(contents.split(",", 1)[-1])
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise QueryError("the upload is not an image")
    try:
        return encode_image_face(image, "photo")
    except ValueError as exc:
        raise QueryError(str(exc)) from exc


def build_request(mode: str, text: str, cameras: list[str] | None, since: str | None, until: str | None,
                  photo: str | None) -> SearchRequest:
    """The form as one search request; QueryError says what is missing."""
    text = (text or "").strip()
    window = {"since": since or None, "until": until or None}
    if mode == "photo":
        if not photo:
            raise QueryError("upload a photo first")
        return SearchRequest(photo=_photo_encoding(photo), **window)
    if mode == "camera":
        if not cameras:
            raise QueryError("choose at least one camera")
        return SearchRequest(camera=list(cameras), **window)
    if not text:
        raise QueryError("type a plate or a name")
    return SearchRequest(**{mode: text}, **window)


def _place(camera_id: str) -> str:
    try:
        return context.district().camera(camera_id).name
    except KeyError:
        return ""


def _table_rows(rows: list[dict], lang: str) -> list[dict]:
    zone = context.district().timezone
    out = []
    for r in rows:
        ts = datetime.fromisoformat(r["ts"])
        snap = r.get("snapshot")
        out.append({
            "time": when(ts, lang, zone, seconds=True), "camera_id": r["camera_id"], "place": _place(r["camera_id"]),
            "identity": r["identity"], "kind": r["kind"], "confidence": f"{r['confidence']:.2f}",
            "cost": f"{r.get('match_cost') or 0:.2f}",
            "snapshot": f"![{r['identity']}](/media/{snap})" if snap else "",
        })
    return out


@callback(
    Output("an-table", "data"), Output("an-summary", "children"), Output("an-route", "children"),
    Output("an-points", "data"), Output("an-identity", "data"),
    Output("an-slider", "max"), Output("an-slider", "value"), Output("an-slider", "marks"),
    Input("an-search", "n_clicks"),
    State("an-mode", "value"), State("an-text", "value"), State("an-cameras", "value"),
    State("an-since", "value"), State("an-until", "value"), State("an-photo", "contents"),
    State("an-lang", "data"),
    prevent_initial_call=True,
)
def run_search(_n: int, mode: str, text: str, cameras: list[str] | None, since: str | None, until: str | None,
               photo: str | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    try:
        rows = reads.search(build_request(mode, text, cameras, since, until, photo))
    except QueryError as exc:
        return [], html.Span(str(exc), className="error"), "", [], None, 0, 0, {}
    rows = sorted(rows, key=lambda r: r["ts"])
    table = _table_rows(rows, lang)
    points = [{"ts": r["ts"], "time": shown["time"], "camera_id": r["camera_id"], "lat": r.get("lat"),
               "lon": r.get("lon"), "identity": r["identity"], "kind": r["kind"]}
              for r, shown in zip(rows, table, strict=True) if r.get("lat") is not None]
    identities = sorted({r["identity"] for r in rows})
    identity = {"identity": identities[0], "kind": rows[0]["kind"]} if len(identities) == 1 else None
    if not rows:
        summary = tr("an.nothing", lang)
    else:
        summary = f"{number(len(rows))} {tr('an.found', lang)} · " + ", ".join(identities[:12]) + \
            (" …" if len(identities) > 12 else "")
    route = " → ".join(p["camera_id"] for p in points) if identity else ""
    zone = context.district().timezone
    marks = {i: when(datetime.fromisoformat(p["ts"]), lang, zone, with_date=False)
             for i, p in enumerate(points)} if len(points) <= 12 else {}
    last = max(0, len(points) - 1)
    return table, summary, route, points, identity, last, last, marks


@callback(
    Output("an-line", "data"), Output("an-dots", "data"), Output("an-at", "children"),
    Input("an-slider", "value"), Input("an-points", "data"), State("an-lang", "data"),
)
def show_route(at: int | None, points: list[dict] | None, lang: str | None) -> tuple:
    """The route up to the slider's moment: a line through the cameras, the last one marked."""
    points = points or []
    if not points:
        return EMPTY, EMPTY, ""
    at = min(max(0, at or 0), len(points) - 1)
    shown = points[:at + 1]
    line = {"type": "FeatureCollection", "features": [] if len(shown) < 2 else [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[p["lon"], p["lat"]] for p in shown]},
         "properties": {}}]}
    dots = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
         "properties": {"last": i == len(shown) - 1,
                        "tooltip": f"{p['identity']} {p['camera_id']} {p['ts'][11:19]}"}}
        for i, p in enumerate(shown)]}
    here = shown[-1]
    zone = context.district().timezone
    text = (f"{at + 1}/{len(points)} · {when(datetime.fromisoformat(here['ts']), lang_of(lang), zone, seconds=True)}"
            f" · {here['camera_id']} {_place(here['camera_id'])} · {here['identity']}")
    return line, dots, text


@callback(Output("an-map", "viewport"), Input("an-points", "data"), prevent_initial_call=True)
def fit_route(points: list[dict] | None) -> dict:
    """Zoom the map to the route (or back to the district when there is none)."""
    if not points:
        from dashboard.maps import district_bounds

        return {"bounds": district_bounds(), "transition": "flyToBounds"}
    lats = [p["lat"] for p in points]
    lons = [p["lon"] for p in points]
    pad = 0.004
    return {"bounds": [[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]],
            "transition": "flyToBounds"}


@callback(
    Output("an-play-tick", "disabled"), Output("an-slider", "value", allow_duplicate=True),
    Input("an-play", "n_clicks"), Input("an-play-tick", "n_intervals"),
    State("an-play-tick", "disabled"), State("an-slider", "value"), State("an-slider", "max"),
    prevent_initial_call=True,
)
def play(_clicks: int, _ticks: int | None, stopped: bool, value: int | None, last: int) -> tuple:
    """Play the route back: from the start on Play, one sighting per tick, stop at the end."""
    if dash.ctx.triggered_id == "an-play":
        return (False, 0) if stopped else (True, no_update)
    nxt = (value or 0) + 1
    if nxt >= last:
        return True, last
    return False, nxt


@callback(
    Output("an-slider", "value", allow_duplicate=True),
    Input("an-table", "active_cell"), State("an-table", "derived_viewport_data"), State("an-points", "data"),
    prevent_initial_call=True,
)
def jump_to_row(cell: dict | None, rows: list[dict] | None, points: list[dict] | None) -> int:
    """Clicking a result moves the map's time slider to that sighting."""
    if not cell or not rows or not points or cell.get("row") is None or cell["row"] >= len(rows):
        return no_update
    row = rows[cell["row"]]
    for i, p in enumerate(points):
        if p["camera_id"] == row["camera_id"] and p["identity"] == row["identity"] and p.get("time") == row["time"]:
            return i
    return no_update


@callback(Output("an-photo-label", "children"), Input("an-photo", "filename"), State("an-lang", "data"),
          prevent_initial_call=True)
def photo_name(filename: str | None, lang: str | None) -> str:
    return filename or tr("an.upload", lang_of(lang))


# ------------------------------------------------------------------ co-travel and cloned plates


def _evidence_table(rows: list[dict], columns: list[tuple[str, str]], table_id: str) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=table_id, data=rows, columns=[{"id": key, "name": name} for key, name in columns],
        page_size=10, export_format="csv", export_headers="display",
        style_cell={"textAlign": "left", "fontSize": "14px", "padding": "4px 8px", "whiteSpace": "normal"})


@callback(
    Output("an-evidence", "children"),
    Input("an-companions", "n_clicks"), Input("an-clones", "n_clicks"),
    State("an-identity", "data"), State("an-text", "value"), State("an-mode", "value"),
    State("an-since", "value"), State("an-until", "value"), State("an-lang", "data"),
    prevent_initial_call=True,
)
def evidence(_c: int, _k: int, identity: dict | None, text: str | None, mode: str, since: str | None,
             until: str | None, lang: str | None) -> list:
    lang = lang_of(lang)
    zone = context.district().timezone
    typed = (text or "").strip() if mode in ("plate", "face") else ""
    who = typed or (identity or {}).get("identity") or ""
    kind = "face" if mode in ("face", "photo") else "plate"
    if not typed and identity:
        kind = identity.get("kind") or kind
    try:
        window = _window(since, until)
    except QueryError as exc:
        return [html.P(str(exc), className="error")]
    if dash.ctx.triggered_id == "an-companions":
        if not who:
            return [html.P(tr("an.nothing", lang), className="error")]
        found = reads.companions(kind, who, window)
        rows = [{"identity": c.identity, "kind": c.kind, "cameras": c.cameras,
                 "evidence": "; ".join(f"{s.camera_id} {when(s.ts_a, lang, zone, with_date=False, seconds=True)}"
                                       f"/{when(s.ts_b, lang, zone, with_date=False, seconds=True)}"
                                       for s in c.shared)}
                for c in found]
        return [html.H2(f"{tr('an.companions', lang)} · {who}"),
                _evidence_table(rows, [("identity", tr("an.col.identity", lang)), ("kind", tr("an.col.kind", lang)),
                                       ("cameras", tr("an.col.cameras", lang)),
                                       ("evidence", tr("an.col.evidence", lang))], "an-companion-table")
                if rows else html.P(tr("an.no_companions", lang))]
    alerts = reads.alerts_about(who or None, AlertKind.CLONED_PLATE, window)
    blocks: list = [html.H2(f"{tr('an.clones', lang)} · {who}" if who else tr("an.clones", lang))]
    if not alerts:
        blocks.append(html.P(tr("an.no_clones", lang)))
    for a in alerts:
        hits = reads.sightings_by_id(list(a.evidence))
        blocks.append(html.P([html.B(f"{alert_kind(a.kind.value, lang)} "), when(a.ts, lang, zone), " · ", a.title]))
        blocks.append(_evidence_table(
            [{"time": when(h.ts, lang, zone, seconds=True), "camera_id": h.camera_id, "place": _place(h.camera_id),
              "identity": h.identity, "confidence": f"{h.confidence:.2f}"} for h in hits],
            [("time", tr("an.col.time", lang)), ("camera_id", tr("an.col.camera", lang)),
             ("place", tr("an.col.place", lang)), ("identity", tr("an.col.identity", lang)),
             ("confidence", tr("an.col.confidence", lang))], f"an-clone-{a.id}"))
    return blocks


clientside_callback(
    "function(n) { if (n) { window.print(); } return ''; }",
    Output("an-print", "title"), Input("an-print", "n_clicks"), prevent_initial_call=True,
)

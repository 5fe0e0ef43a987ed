"""Leader: how the district runs over a chosen period, on one printable page.

Trends (created, closed, mean rating), the department ranking and on-time rates (the
stored governance measures, which are cumulative), the complaint heat map and the worst
grids of the period, and the cameras' state with their offline incidents in the period.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import dash
import dash_leaflet as dl
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, dash_table, dcc, html

from dashboard import context, reads
from dashboard.i18n import day_label, lang_of, number, percent, tr, when
from dashboard.maps import base_layers, district_map

dash.register_page(__name__, path="/leader", name="leader", order=2)

DEFAULT_DAYS = 30
DARK = {"paper_bgcolor": "#0f2338", "plot_bgcolor": "#0f2338", "font": {"color": "#e6edf3", "size": 13},
        "margin": {"l": 50, "r": 20, "t": 10, "b": 40}, "legend": {"orientation": "h", "y": 1.12},
        "xaxis": {"gridcolor": "#1f3b5a", "zerolinecolor": "#1f3b5a"},
        "yaxis": {"gridcolor": "#1f3b5a", "zerolinecolor": "#1f3b5a"}}
TABLE_STYLE = {"style_cell": {"textAlign": "left", "fontSize": "14px", "padding": "3px 8px"},
               "style_header": {"fontWeight": "bold"}}


def _kpi(label: str, value_id: str) -> html.Div:
    return html.Div(className="kpi", children=[html.Div(label, className="label"),
                                                html.Div("–", id=value_id, className="value")])


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = lang_of(lang)
    today = reads.utcnow().astimezone(context.district().timezone).date()
    district = context.district()
    return html.Div(className="desk", children=[
        dcc.Store(id="ld-lang", data=lang),
        html.Div(className="row", children=[
            html.Div(className="field", children=[
                html.Label(tr("ld.period", lang)),
                dcc.DatePickerRange(id="ld-period", start_date=today - timedelta(days=DEFAULT_DAYS - 1),
                                    end_date=today, display_format="YYYY-MM-DD", first_day_of_week=1)]),
            html.Button(tr("an.print", lang), id="ld-print", n_clicks=0, className="btn secondary"),
        ]),
        html.Div(className="kpis", style={"marginTop": "10px"}, children=[
            _kpi(tr("ld.created", lang), "ld-created"), _kpi(tr("ld.closed", lang), "ld-closed"),
            _kpi(tr("ld.rating", lang), "ld-rating"), _kpi(tr("ld.ontime", lang), "ld-ontime"),
        ]),
        html.Div(className="cols", children=[
            html.Div(className="card", children=[
                html.H2(tr("ld.trend", lang)),
                dcc.Graph(id="ld-trend", config={"displayModeBar": False}, style={"height": "300px"})]),
            html.Div(className="card", children=[
                html.H2(tr("ld.heat", lang)),
                district_map([
                    dl.GeoJSON(id="ld-heat", data=district.grids_geojson("community"),
                               style={"variable": "cityops.heatStyle"}, hideout={"counts": {}, "max": 0}),
                    *base_layers(),
                ], "ld-map", {"height": "300px", "borderRadius": "6px"})]),
            html.Div(className="card", children=[
                html.H2(tr("ld.ranking", lang)),
                dash_table.DataTable(id="ld-ranking", data=[], page_size=12, **TABLE_STYLE, columns=[
                    {"id": "rank", "name": tr("ld.col.rank", lang)}, {"id": "dept", "name": tr("ld.col.dept", lang)},
                    {"id": "volume", "name": tr("ld.col.volume", lang)},
                    {"id": "ontime", "name": tr("ld.col.ontime", lang)},
                    {"id": "median", "name": tr("ld.col.median", lang)},
                    {"id": "rating", "name": tr("ld.col.rating", lang)}])]),
            html.Div(className="card", children=[
                html.H2(tr("ld.ontime_chart", lang)),
                dcc.Graph(id="ld-ontime-chart", config={"displayModeBar": False}, style={"height": "330px"})]),
            html.Div(className="card", children=[
                html.H2(tr("ld.worst", lang)),
                dash_table.DataTable(id="ld-worst", data=[], page_size=10, **TABLE_STYLE, columns=[
                    {"id": "grid", "name": tr("ld.col.grid", lang)}, {"id": "count", "name": tr("ld.col.count", lang)},
                    {"id": "open", "name": tr("ld.col.open", lang)},
                    {"id": "overdue", "name": tr("ld.col.overdue", lang)}])]),
            html.Div(className="card", children=[
                html.H2(tr("ld.uptime", lang)),
                html.P(id="ld-cams-summary", className="summary"),
                dash_table.DataTable(id="ld-cams", data=[], page_size=8, **TABLE_STYLE, columns=[
                    {"id": "camera", "name": tr("an.col.camera", lang)},
                    {"id": "place", "name": tr("an.col.place", lang)},
                    {"id": "status", "name": tr("ld.col.status", lang)},
                    {"id": "offline", "name": tr("ld.col.offline", lang)},
                    {"id": "last", "name": tr("ld.col.last", lang)}])]),
        ]),
    ])


def _dates(start: str | None, end: str | None) -> tuple[date, date]:
    today = reads.utcnow().astimezone(context.district().timezone).date()
    first = date.fromisoformat(start[:10]) if start else today - timedelta(days=DEFAULT_DAYS - 1)
    last = date.fromisoformat(end[:10]) if end else today
    return (first, last) if first <= last else (last, first)


def _trend_figure(points: list, lang: str) -> go.Figure:
    x = [day_label(p.start, lang) for p in points]
    fig = go.Figure([
        go.Bar(x=x, y=[p.created for p in points], name=tr("ld.created", lang), marker_color="#48dbfb"),
        go.Bar(x=x, y=[p.closed for p in points], name=tr("ld.closed", lang), marker_color="#2ecc71"),
        go.Scatter(x=x, y=[p.mean_rating for p in points], name=tr("ld.rating", lang), yaxis="y2",
                   mode="lines+markers", line={"color": "#ffdd59"}),
    ])
    fig.update_layout(**DARK, barmode="group",
                      yaxis2={"overlaying": "y", "side": "right", "range": [1, 5], "showgrid": False})
    return fig


def _ontime_figure(scores: list, names: dict[str, str], lang: str) -> go.Figure:
    ordered = sorted((s for s in scores if s.on_time_rate is not None), key=lambda s: s.on_time_rate)
    fig = go.Figure(go.Bar(
        y=[names.get(s.department, s.department) for s in ordered], x=[s.on_time_rate * 100 for s in ordered],
        orientation="h", marker_color=["#c0392b" if s.on_time_rate < 0.8 else "#2ecc71" for s in ordered],
        text=[percent(s.on_time_rate, 0) for s in ordered], textposition="auto"))
    fig.update_layout(**{**DARK, "margin": {"l": 190, "r": 20, "t": 10, "b": 30},
                         "xaxis": {**DARK["xaxis"], "range": [0, 100], "ticksuffix": "%"}})
    return fig


@callback(
    Output("ld-created", "children"), Output("ld-closed", "children"), Output("ld-rating", "children"),
    Output("ld-ontime", "children"), Output("ld-trend", "figure"), Output("ld-heat", "hideout"),
    Output("ld-ranking", "data"), Output("ld-ontime-chart", "figure"), Output("ld-worst", "data"),
    Output("ld-cams", "data"), Output("ld-cams-summary", "children"),
    Input("ld-period", "start_date"), Input("ld-period", "end_date"), State("ld-lang", "data"),
)
def refresh(start: str | None, end: str | None, lang: str | None) -> tuple:
    lang = lang_of(lang)
    district = context.district()
    first, last = _dates(start, end)
    points = reads.trend(first, last)
    created = sum(p.created for p in points)
    closed = sum(p.closed for p in points)
    rated = sum(p.ratings for p in points)
    mean = (sum((p.mean_rating or 0) * p.ratings for p in points) / rated) if rated else None
    scores = reads.department_ranking()
    names = {d.id: (d.name_en if lang == "en" else d.name_zh) for d in district.departments}
    handled = sum(s.handled for s in scores)
    on_time = sum((s.on_time_rate or 0) * s.handled for s in scores) / handled if handled else None
    ranking = [{"rank": s.rank, "dept": names.get(s.department, s.department), "volume": number(s.volume),
                "ontime": percent(s.on_time_rate), "median": number(s.median_handling_hours, 1),
                "rating": f"{s.smoothed_rating:.2f}"} for s in scores]
    heat = reads.heat_map(first, last)
    now_counts = reads.grid_counts_now()
    grids = {g.id: g for g in district.grids}
    worst = [{"grid": grids[g].name if g in grids else g, "count": number(n),
              "open": number(now_counts.get(g, (0, 0))[0]), "overdue": number(now_counts.get(g, (0, 0))[1])}
             for g, n in sorted(heat.items(), key=lambda kv: -kv[1])[:10]]
    zone = district.timezone
    since = datetime.combine(first, time.min, zone)
    until = datetime.combine(last, time.max, zone)
    incidents = reads.offline_incidents(since, until)
    online = reads.camera_online(reads.utcnow())
    statuses = {s.camera_id: s for s in reads.camera_statuses()}
    cams = sorted(district.cameras, key=lambda c: (online.get(c.id) is True, -incidents.get(c.id, 0), c.id))
    cam_rows = [{"camera": c.id, "place": c.name,
                 "status": tr("wall.silent", lang) if c.id not in online else
                 tr("wall.online" if online[c.id] else "wall.offline", lang),
                 "offline": incidents.get(c.id, 0),
                 "last": when(statuses[c.id].ts, lang, zone) if c.id in statuses else "–"} for c in cams]
    summary = tr("ld.cams_summary", lang).format(online=sum(online.values()), total=len(district.cameras),
                                                 incidents=sum(incidents.values()))
    return (number(created), number(closed), number(mean, 2), percent(on_time), _trend_figure(points, lang),
            {"counts": heat, "max": max(heat.values(), default=0)}, ranking, _ontime_figure(scores, names, lang),
            worst, cam_rows, summary)


clientside_callback(
    "function(n) { if (n) { window.print(); } return ''; }",
    Output("ld-print", "title"), Input("ld-print", "n_clicks"), prevent_initial_call=True,
)

"""The Dash command screen: one app, one module per page under `dashboard/pages/`.

The language is a query parameter (`?lang=en`; Chinese by default) that each page's
layout reads; the top bar keeps it across pages and offers the switch. Snapshots are
served from the data folder under `/media/` (only files below `snapshots/` and the face
crops' folder, never the rest of the data folder).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import dash
import flask
from dash import Dash, Input, Output, dcc, html

from dashboard import context
from dashboard.i18n import lang_of, tr
from streams.config import Settings

HERE = Path(__file__).resolve().parent
PAGES = (("/", "nav.wall"), ("/analyst", "nav.analyst"), ("/leader", "nav.leader"), ("/tester", "nav.tester"))
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png"}


def create_app(settings: Settings) -> Dash:
    context.configure(settings)
    from dashboard import reads

    reads.reset()
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title="CityOps 平房区城市运行指挥中心",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    from dashboard import api_complaints, api_search

    api_complaints.register(app.server, settings)
    api_search.register(app.server, settings)
    _register_media(app.server, settings)
    app.layout = html.Div([
        dcc.Location(id="url", refresh=False),
        html.Div(id="topbar", className="topbar", children=_topbar("/", "zh")),
        dash.page_container,
    ])

    @app.callback(Output("topbar", "children"), Input("url", "pathname"), Input("url", "search"))
    def topbar(pathname: str | None, search: str | None) -> list:
        query = parse_qs((search or "").lstrip("?"))
        return _topbar(pathname or "/", lang_of((query.get("lang") or [None])[0]))

    return app


def _topbar(pathname: str, lang: str) -> list:
    suffix = "?lang=en" if lang == "en" else ""
    other = "" if lang == "en" else "?lang=en"
    return [
        html.H1(f"{tr('title', lang)} · CityOps"),
        *[html.A(tr(key, lang), href=path + suffix, className="active" if path == pathname else None)
          for path, key in PAGES],
        html.A(tr("switch", lang), href=pathname + other, className="lang", id="lang-switch",
               style={"marginLeft": "auto"}),
    ]


def _register_media(server: flask.Flask, settings: Settings) -> None:
    """`/media/<path>`: a snapshot or face crop named by a sighting (paths relative to home)."""

    @server.route("/media/<path:relative>")
    def media(relative: str) -> flask.Response:
        home = settings.home.resolve()
        path = (home / relative).resolve()
        allowed = path.suffix.lower() in MEDIA_SUFFIXES and path.is_relative_to(home) and \
            path.relative_to(home).parts[:1] != ("cityops.db",)
        if not allowed or not path.is_file():
            flask.abort(404)
        response = flask.send_file(path, max_age=3600)
        return response

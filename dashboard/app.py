"""The Dash command screen: one app, one module per page under `dashboard/pages/`."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, html

from dashboard import context
from streams.config import Settings

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings) -> Dash:
    context.configure(settings)
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
    app.layout = html.Div([
        html.Div(className="topbar", children=[
            html.H1("平房区城市运行指挥中心 · CityOps"),
            *[html.A(page["name"], href=page["relative_path"]) for page in dash.page_registry.values()],
        ]),
        dash.page_container,
    ])
    return app

"""The Dash command screen: one app, one module per page under `dashboard/pages/`.

The language is a query parameter (`?lang=en`; Chinese by default) that each page's
layout reads; the top bar keeps it across pages and offers the switch. Snapshots are
served from the data folder under `/media/` (only files below `snapshots/` and the face
crops' folder, never the rest of the data folder).

Every request needs a logged-in user (`dashboard/auth.py`) and the role the matrix in
`dashboard/access.py` asks for; a page the role may not open shows a refusal instead of
its layout, and the top bar offers only the pages the role may open.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import dash
import flask
from dash import Dash, Input, Output, dcc, html

from dashboard import access, context, reads
from dashboard.i18n import lang_of, tr
from streams.config import Settings

HERE = Path(__file__).resolve().parent
PAGES = (("/", "nav.wall"), ("/analyst", "nav.analyst"), ("/leader", "nav.leader"), ("/tester", "nav.tester"),
         ("/admin", "nav.admin"))
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png"}


def create_app(settings: Settings) -> Dash:
    context.configure(settings)
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
    from dashboard import api_complaints, api_search, auth

    auth.install(app.server)
    _guard_pages()
    api_complaints.register(app.server, settings)
    api_search.register(app.server, settings)
    _register_media(app.server, settings)
    _register_audit_export(app.server)
    app.layout = html.Div([
        dcc.Location(id="url", refresh=False),
        html.Div(id="topbar", className="topbar", children=[html.H1(f"{tr('title', 'zh')} · CityOps")]),
        dash.page_container,
    ])

    @app.callback(Output("topbar", "children"), Input("url", "pathname"), Input("url", "search"))
    def topbar(pathname: str | None, search: str | None) -> list:
        query = parse_qs((search or "").lstrip("?"))
        return _topbar(pathname or "/", lang_of((query.get("lang") or [None])[0]))

    return app


def _topbar(pathname: str, lang: str) -> list:
    """The pages this user's role may open, the language switch, who is logged in, log out."""
    suffix = "?lang=en" if lang == "en" else ""
    other = "" if lang == "en" else "?lang=en"
    actor = access.current_actor()
    role = actor.role if actor else ""
    return [
        html.H1(f"{tr('title', lang)} · CityOps"),
        *[html.A(tr(key, lang), href=path + suffix, className="active" if path == pathname else None)
          for path, key in PAGES if access.allowed(role, access.PAGES[path])],
        html.A(tr("switch", lang), href=pathname + other, className="lang", id="lang-switch",
               style={"marginLeft": "auto"}),
        html.Span(f"{actor.name} · {tr('role.' + role, lang)}" if actor else "", id="whoami", className="whoami"),
        html.A(tr("nav.logout", lang), href="/logout" + suffix, id="logout", className="lang"),
    ]


def _guard_pages() -> None:
    """Each page's layout shows a refusal to a role the matrix keeps out (checked per request)."""
    for page in dash.page_registry.values():
        layout = page.get("layout")
        if not callable(layout) or getattr(layout, "cityops_guarded", False):
            continue
        needed = access.PAGES.get(page["path"])
        page["layout"] = _guarded(layout, needed)


def _guarded(layout: Callable[..., Any], needed: access.Permission | None) -> Callable[..., Any]:
    @wraps(layout)
    def guarded(**kwargs: Any) -> Any:
        actor = access.current_actor()
        if needed is None or actor is None or not access.allowed(actor.role, needed):
            lang = lang_of(kwargs.get("lang"))
            role = tr("role." + actor.role, lang) if actor else "-"
            return html.Div(className="denied", id="denied", children=[
                html.H2(tr("denied.page", lang).format(role=role)),
                html.A(tr("login.title", lang), href="/login")])
        return layout(**kwargs)

    guarded.cityops_guarded = True  # type: ignore[attr-defined]
    return guarded


def _register_audit_export(server: flask.Flask) -> None:
    """`/admin/audit.csv`: the whole audit log as CSV (the gate lets only admin through)."""

    @server.route("/admin/audit.csv")
    def audit_csv() -> flask.Response:
        import io

        from analytics.audit import AuditLog

        access.require(access.Permission.ADMIN)
        buffer = io.StringIO()
        AuditLog(context.store()).write_csv(buffer)
        stamp = reads.utcnow().strftime("%Y%m%d-%H%M%S")
        return flask.Response(buffer.getvalue().encode("utf-8-sig"), mimetype="text/csv",
                              headers={"Content-Disposition": f"attachment; filename=cityops-audit-{stamp}.csv",
                                       "Cache-Control": "no-store"})


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

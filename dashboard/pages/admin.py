"""The admin page: who may log in (with their roles) and the audit log, with its CSV export.

Read-only on purpose: users are added, given passwords and disabled with `cityops users`
(so no web form can create an admin), and the audit log cannot be edited at all. Only
the admin role reaches this page, its callback and `/admin/audit.csv` (dashboard/access.py).
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from dashboard import context, reads
from dashboard.i18n import lang_of, tr, when

dash.register_page(__name__, path="/admin", name="admin", order=4)

AUDIT_ROWS = 500
TABLE_STYLE = {"style_cell": {"textAlign": "left", "fontSize": "14px", "padding": "3px 8px",
                              "maxWidth": "560px", "overflow": "hidden", "textOverflow": "ellipsis"},
               "style_header": {"fontWeight": "bold"}}


def layout(lang: str | None = None, **_: object) -> html.Div:
    lang = lang_of(lang)
    return html.Div(className="desk", children=[
        dcc.Store(id="adm-lang", data=lang),
        html.Div(className="row", children=[
            html.Div(className="field", children=[
                html.Label(tr("adm.actor", lang)),
                dcc.Input(id="adm-actor", type="text", debounce=True, placeholder="admin")]),
            html.Button(tr("adm.refresh", lang), id="adm-refresh", n_clicks=0, className="btn secondary"),
            html.A(tr("adm.csv", lang), href="/admin/audit.csv", id="adm-csv", className="btn"),
        ]),
        html.P(tr("adm.note", lang), className="summary"),
        html.Div(className="card", children=[
            html.H2(tr("adm.audit", lang)),
            dash_table.DataTable(id="adm-audit", data=[], page_size=15, sort_action="native", **TABLE_STYLE,
                                 columns=[{"id": c, "name": tr(f"adm.col.{c}", lang)} for c in
                                          ("ts", "actor", "role", "channel", "action", "query", "results",
                                           "outcome")])]),
        html.Div(className="card", style={"marginTop": "14px"}, children=[
            html.H2(tr("adm.users", lang)),
            dash_table.DataTable(id="adm-users", data=[], page_size=10, **TABLE_STYLE,
                                 columns=[{"id": c, "name": tr(f"adm.col.{c}", lang)} for c in
                                          ("name", "role", "state", "created")])]),
    ])


@callback(Output("adm-audit", "data"), Output("adm-users", "data"),
          Input("adm-refresh", "n_clicks"), Input("adm-actor", "value"), State("adm-lang", "data"))
def refresh(_n: int | None, actor: str | None, lang: str | None) -> tuple[list[dict], list[dict]]:
    lang = lang_of(lang)
    zone = context.district().timezone
    audit = [{"ts": when(e.ts, lang, zone, seconds=True), "actor": e.actor, "role": e.role, "channel": e.channel,
              "action": e.action, "query": e.query, "results": "" if e.results is None else e.results,
              "outcome": e.outcome} for e in reads.audit_entries((actor or "").strip() or None, AUDIT_ROWS)]
    users = [{"name": u.name, "role": tr(f"role.{u.role.value}", lang) + f" ({u.role.value})",
              "state": tr("adm.disabled" if u.disabled else "adm.enabled", lang),
              "created": when(u.created_at, lang, zone)} for u in reads.users()]
    return audit, users

"""The search API over HTTP (JSON), for the analyst page and other systems.

`GET /api/search?plate=黑A12345&since=2026-05-12T00:00` (query parameters) or
`POST /api/search` with the same names in a JSON body (needed for `photo`, a 128-number
encoding, and `area`, a list of [lon, lat]). Exactly one question per request: plate,
pattern, fuzzy, face, photo, camera (comma-separated ids), area, companions,
trajectories, alerts. Answers `{"question", "count", "results": [...]}`; a request the
store cannot answer gets 400 with `{"error": "..."}` saying what to change.

Only roles with the `search` permission get here (401/403 otherwise, `dashboard/auth.py`),
and every question asked is written to the audit log with the user and the result count.
"""

from __future__ import annotations

import threading
from typing import Any

import flask

from analytics.audit import AuditLog, Channel
from analytics.camera_graph import CameraGraph
from analytics.queries import QueryError, SightingQueries
from analytics.search import SearchRequest, audit_query, execute
from analytics.store import Store
from dashboard import access
from dashboard.access import Permission
from streams.config import Settings


def register(server: flask.Flask, settings: Settings) -> None:
    """Add the search routes to the Dash app's Flask server."""
    blueprint = flask.Blueprint("api_search", __name__)
    state: dict[str, Any] = {}
    lock = threading.Lock()

    def queries() -> tuple[SightingQueries, Any]:
        with lock:
            if "queries" not in state:
                from streams.district import load_district

                district = load_district(settings.district_file)
                store = Store.open(settings.store_url)
                state["queries"] = SightingQueries(store, CameraGraph.from_district(district))
                state["zone"] = district.timezone
                state["audit"] = AuditLog(store)
            return state["queries"], state["zone"]

    @blueprint.route("/api/search", methods=["GET", "POST"])
    def search() -> flask.Response | tuple[flask.Response, int]:
        if flask.request.method == "POST":
            data = flask.request.get_json(silent=True)
            if not isinstance(data, dict):
                return flask.jsonify(error="POST a JSON object, e.g. {\"plate\": \"黑A12345\"}"), 400
        else:
            data = {key: (values if key == "camera" and len(values) > 1 else values[0])
                    for key, values in flask.request.args.lists()}
            if isinstance(data.get("camera"), list):
                data["camera"] = ",".join(data["camera"])
        actor = access.require(Permission.SEARCH)
        try:
            request = SearchRequest.from_mapping(data)
            question = request.question()
            found, zone = queries()
            rows = list(state["audit"].audited(actor, Channel.API, f"search.{question}", audit_query(request),
                                               lambda: execute(found, request, zone)))
        except QueryError as exc:
            return flask.jsonify(error=str(exc)), 400
        response = flask.jsonify(question=question, count=len(rows), results=rows)
        response.headers["Cache-Control"] = "no-store"
        return response

    server.register_blueprint(blueprint)

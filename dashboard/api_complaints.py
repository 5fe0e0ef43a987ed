"""The complaint HTTP JSON API (a Flask blueprint on the Dash app's server), with its OpenAPI spec.

Every write publishes a `ComplaintEvent` on the bus, exactly as the simulator and the
hotline importer do; the store and the governance consumer fold it from there. Reads come
from the store (a complaint and its full ordered trace, plus the events this process has
just published and the store has not ingested yet) and from the governance measures.

Errors are JSON `{"error": "..."}`: 400 bad input (missing text, a location outside the
district, a rating outside 1-5, ...), 404 unknown complaint, 409 a step the complaint's
state does not allow (the message names the code, the state and the step), 413 a photo or
body too large, 503 the store or the bus unreachable. `register(server, settings)` mounts it; the spec is `/api/openapi.json`.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import flask
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import OperationalError

from analytics.lifecycle import Step, Transition, TransitionError, UnknownComplaint
from analytics.measures import prior_mean, rank_departments
from streams.bus import BusUnavailable
from streams.config import Settings
from streams.records import COMPLAINT_CODE_PATTERN, ComplaintSource

EXTENSION = "cityops_complaints"
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_PERIOD_DAYS = 3 * 366
_CODE = re.compile(COMPLAINT_CODE_PATTERN)


# ---------------------------------------------------------------- request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitBody(_Body):
    """A new complaint: text and a place (lat/lon or an address) are required."""

    text: Annotated[str, Field(min_length=1, max_length=4000, description="what is wrong, in the resident's words")]
    category: Annotated[str, Field(max_length=16, description="a type code of the taxonomy; "
                                   "suggested from the text when absent")] | None = None
    level: Annotated[int, Field(ge=1, le=5, description="1 most urgent; the type's level when absent")] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    address: Annotated[str, Field(max_length=200)] | None = None
    photo: Annotated[str, Field(description="base64 JPEG/PNG/WebP (or a data: URL), at most 2 MiB")] | None = None
    reporter: Annotated[str, Field(max_length=64, description="contact phone; stored masked")] | None = None
    source: Literal["app", "hotline", "observer", "grid_worker"] = "app"


class StepBody(_Body):
    actor: Annotated[str, Field(min_length=1, max_length=64)] = "command-center"
    note: Annotated[str, Field(max_length=2000)] = ""


class DispatchBody(StepBody):
    department: Annotated[str, Field(min_length=1, max_length=32)]


class RateBody(StepBody):
    actor: Annotated[str, Field(min_length=1, max_length=64)] = "reporter"
    rating: Annotated[int, Field(ge=1, le=5, description="1 极差 very poor ... 5 很满意 very satisfied")]


STEP_BODIES: dict[Step, type[StepBody]] = {
    Step.ACCEPT: StepBody, Step.DISPATCH: DispatchBody, Step.HANDLE: StepBody,
    Step.SUPERVISE: StepBody, Step.RATE: RateBody, Step.REDISPATCH: DispatchBody, Step.CLOSE: StepBody,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------- services, opened lazily


class Services:
    """The store, bus, district and services one server uses (opened on first request)."""

    def __init__(self, settings: Settings, max_photo_bytes: int) -> None:
        self.settings = settings
        self.max_photo_bytes = max_photo_bytes
        self._lock = threading.Lock()
        self._ready = False

    def ready(self) -> Services:
        with self._lock:
            if not self._ready:
                self._open()
                self._ready = True
        return self

    def _open(self) -> None:
        from analytics.classifier import TypeClassifier
        from analytics.complaint_codes import StoreCodes
        from analytics.intake import Intake
        from analytics.lifecycle import Lifecycle, silence_from_env
        from analytics.measures_store import MeasuresReader
        from analytics.store import Store
        from streams.bus import open_bus
        from streams.district import load_district

        s = self.settings
        self.district = load_district(s.district_file)
        self.store = Store.open(s.store_url)
        self.bus = open_bus(s.bus_url, s.home)
        self.lifecycle = Lifecycle(self.store, self.bus, departments={d.id for d in self.district.departments},
                                   silence=silence_from_env())
        self.classifier = TypeClassifier(self.district.complaint_types)
        codes = StoreCodes(self.store, self.district.code_prefix, self.district.timezone)
        self.intake = Intake(self.district, self.lifecycle, codes, s.home / "photos",
                             classifier=self.classifier, max_photo_bytes=self.max_photo_bytes)
        self.reader = MeasuresReader(self.store)

    def close(self) -> None:
        with self._lock:
            if self._ready:
                self.bus.close()
                self.store.close()
                self._ready = False


def _services() -> Services:
    return flask.current_app.extensions[EXTENSION].ready()


# ---------------------------------------------------------------- helpers


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _json(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _body(model: type[BaseModel]) -> Any:
    limit = flask.current_app.extensions[EXTENSION].max_photo_bytes * 4 // 3 + 64 * 1024
    if (flask.request.content_length or 0) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes (photos at most "
                            f"{flask.current_app.extensions[EXTENSION].max_photo_bytes} bytes)")
    data = flask.request.get_json(silent=True, force=True)
    if data is None:
        data = {} if not flask.request.get_data() else None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, _problems(exc)) from exc


def _problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "missing":
            parts.append(f"{where} is required")
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise ApiError(404, f"no complaint with code {code!r} (codes look like PF-20261121-000123)")
    return code


def _day_arg(name: str, default: date) -> date:
    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be a date like 2026-11-21, got {raw[:40]!r}") from exc


def _period() -> tuple[date, date]:
    today = datetime.now(_services().district.timezone).date()
    end = _day_arg("end", today)
    start = _day_arg("start", max(end, date.min + timedelta(days=29)) - timedelta(days=29))
    if start > end:
        raise ApiError(400, f"start {start} is after end {end}")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ApiError(400, f"a period is at most {MAX_PERIOD_DAYS} days")
    return start, end


# ---------------------------------------------------------------- routes

bp = flask.Blueprint("complaints_api", __name__, url_prefix="/api")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[flask.Response, int]:
    return flask.jsonify(error=exc.message), exc.status


@bp.errorhandler(UnknownComplaint)
def _unknown(exc: UnknownComplaint) -> tuple[flask.Response, int]:
    return flask.jsonify(error=str(exc)), 404


@bp.errorhandler(TransitionError)
def _illegal(exc: TransitionError) -> tuple[flask.Response, int]:
    return flask.jsonify(error=str(exc), code=exc.code, state=exc.phase.value, step=exc.step.value), 409


@bp.errorhandler(BusUnavailable)
@bp.errorhandler(OperationalError)
def _unavailable(exc: Exception) -> tuple[flask.Response, int]:
    flask.current_app.logger.warning("complaints API: %s", exc)
    return flask.jsonify(error=f"the store or the bus is unavailable, try again shortly ({type(exc).__name__})"), 503


@bp.post("/complaints")
def submit() -> tuple[flask.Response, int]:
    from analytics.intake import IntakeError, PhotoTooLarge, Submission, decode_photo

    body: SubmitBody = _body(SubmitBody)
    svc = _services()
    try:
        photo = decode_photo(body.photo, svc.max_photo_bytes) if body.photo else None
        accepted = svc.intake.submit(Submission(
            text=body.text, category=body.category, level=body.level, lat=body.lat, lon=body.lon,
            address=body.address, photo=photo, reporter=body.reporter, source=ComplaintSource(body.source)))
    except PhotoTooLarge as exc:
        raise ApiError(413, str(exc)) from exc
    except IntakeError as exc:
        raise ApiError(400, str(exc)) from exc
    e = accepted.event
    return flask.jsonify(code=e.code, grid_id=e.grid_id, category=e.category, level=e.level,
                         department=e.department, due_at=_json(e.due_at), photo=e.photo,
                         type_suggested=accepted.suggested_type, confidence=accepted.confidence), 201


@bp.get("/complaints/<code>")
def complaint(code: str) -> flask.Response:
    from analytics.lifecycle import phase_of

    svc = _services()
    trace = svc.lifecycle.trace(_code(code))
    from analytics.complaint_fold import fold

    state = fold(trace)
    if state is None:
        raise UnknownComplaint(code)
    return flask.jsonify(complaint={**_json(state), "phase": phase_of(state).value},
                         trace=[e.model_dump(mode="json", exclude_none=True, exclude={"schema_version"})
                                for e in trace])


@bp.post("/complaints/<code>/<step>")
def transition(code: str, step: str) -> flask.Response:
    try:
        kind = Step(step)
    except ValueError:
        kind = None
    if kind is None or kind not in STEP_BODIES:
        raise ApiError(404, f"no step {step!r}: use one of {', '.join(s.value for s in STEP_BODIES)}")
    body = _body(STEP_BODIES[kind])
    svc = _services()
    try:
        event = svc.lifecycle.apply(_code(code), Transition(
            kind, body.actor, body.note, department=getattr(body, "department", None),
            rating=getattr(body, "rating", None)))
    except (TransitionError, UnknownComplaint):
        raise
    except ValueError as exc:  # an unknown department
        raise ApiError(400, str(exc)) from exc
    return flask.jsonify(event=event.model_dump(mode="json", exclude_none=True, exclude={"schema_version"}))


@bp.get("/rankings")
def rankings() -> flask.Response:
    svc = _services()
    names = {d.id: d.name_zh for d in svc.district.departments}
    tallies = svc.reader.tallies()
    prior = svc.reader.prior
    rows = rank_departments(tallies, prior)
    return flask.jsonify(
        prior={"mean": round(prior_mean(tallies, prior), 4), "weight": prior.weight,
               "mean_is": "fixed" if prior.mean is not None else "the district's mean rating",
               "formula": "(weight * mean + sum of ratings) / (weight + ratings)"},
        departments=[{**_json(r), "name": names.get(r.department, r.department)} for r in rows])


@bp.get("/grids/status")
def grid_status() -> flask.Response:
    svc = _services()
    today = datetime.now(svc.district.timezone).date()
    levels = svc.store.grid_status_levels()
    counts: dict[str, list[Any]] = {}
    for row in svc.reader.grid_level_counts(today):
        counts.setdefault(row.grid_id, []).append(
            {"level": row.level, "open": row.open, "overdue": row.overdue,
             "closed_today": row.closed_today, "ratings": row.ratings, "mean_rating": row.mean_rating})
    return flask.jsonify(grids=[
        {"grid_id": g.id, "name": g.name, "status": levels.get(g.id, "normal"), "levels": counts.get(g.id, [])}
        for g in svc.district.community_grids()])


@bp.get("/heatmap")
def heatmap() -> flask.Response:
    start, end = _period()
    return flask.jsonify(start=start.isoformat(), end=end.isoformat(),
                         grids=_services().reader.heat_map(start, end))


@bp.get("/trends")
def trends() -> flask.Response:
    by = flask.request.args.get("by", "day")
    if by not in ("day", "week"):
        raise ApiError(400, f"by must be day or week, got {by[:20]!r}")
    start, end = _period()
    return flask.jsonify(by=by, points=_json(_services().reader.trend(start, end, by)))  # type: ignore[arg-type]


@bp.get("/openapi.json")
def openapi() -> flask.Response:
    return flask.jsonify(openapi_spec())


def register(server: flask.Flask, settings: Settings, *, max_photo_bytes: int = MAX_PHOTO_BYTES) -> None:
    """Mount the API on a Flask server (the Dash app's `app.server`); calling it again on the
    same server only replaces its settings (e.g. a test's photo limit)."""
    previous = server.extensions.get(EXTENSION)
    if previous is not None:
        previous.close()
    server.extensions[EXTENSION] = Services(settings, max_photo_bytes)
    if bp.name not in server.blueprints:
        server.register_blueprint(bp)


# ---------------------------------------------------------------- the spec


def openapi_spec() -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"description": "refused, with the reason", "content": {"application/json": {"schema": {
        "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}
    obj = {"content": {"application/json": {"schema": {"type": "object"}}}}
    code = {"name": "code", "in": "path", "required": True, "description": "complaint code",
            "schema": {"type": "string", "example": "PF-20261121-000123"}}
    period = [{"name": n, "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}
              for n in ("start", "end")]
    paths: dict[str, Any] = {
        "/api/complaints": {"post": {
            "summary": "Submit a complaint", "operationId": "submitComplaint",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref(SubmitBody)}}},
            "responses": {"201": {"description": "created, with its code", **obj}, "400": error, "413": error}}},
        "/api/complaints/{code}": {"get": {
            "summary": "A complaint's state and its full ordered trace", "operationId": "getComplaint",
            "parameters": [code], "responses": {"200": {"description": "the complaint", **obj}, "404": error}}},
        "/api/rankings": {"get": {
            "summary": "Department satisfaction ranking (Bayesian-smoothed mean rating)",
            "operationId": "rankings", "responses": {"200": {"description": "best first", **obj}}}},
        "/api/grids/status": {"get": {
            "summary": "Each grid's status and its open, overdue, closed-today counts by level",
            "operationId": "gridStatus", "responses": {"200": {"description": "per grid", **obj}}}},
        "/api/heatmap": {"get": {
            "summary": "Complaints created per grid over a period (default: the last 30 days)",
            "operationId": "heatmap", "parameters": period,
            "responses": {"200": {"description": "grid id -> count", **obj}, "400": error}}},
        "/api/trends": {"get": {
            "summary": "Created, closed and mean rating by day or ISO week", "operationId": "trends",
            "parameters": [*period, {"name": "by", "in": "query", "required": False,
                                     "schema": {"type": "string", "enum": ["day", "week"]}}],
            "responses": {"200": {"description": "points in time order", **obj}, "400": error}}},
    }
    for step, model in STEP_BODIES.items():
        paths[f"/api/complaints/{{code}}/{step.value}"] = {"post": {
            "summary": f"{step.value.capitalize()} a complaint", "operationId": f"{step.value}Complaint",
            "parameters": [code],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref(model)}}},
            "responses": {"200": {"description": "the event published", **obj}, "400": error,
                          "404": error, "409": error}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "CityOps complaints API", "version": "1",
                 "description": "Submit complaints, move them through their lifecycle, read rankings, "
                                "grid status, heat maps and trends. Log in first: POST /login with "
                                "{\"name\", \"password\"} and send back the cityops_session cookie; "
                                "roles operator, leader and admin may call these (401 without a "
                                "session, 403 for other roles)."},
        "paths": paths,
        "components": {"schemas": schemas},
    }

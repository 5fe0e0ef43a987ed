"""One search request, answered as JSON-ready rows: shared by `cityops search` and the HTTP API.

A request names exactly one question (plate, pattern, fuzzy, face, photo, camera, area,
companions, trajectories or alerts) and optionally a time window; times without a zone
are the district's local time, because that is how an analyst reads a clock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from analytics.alerts import DEFAULT_COTRAVEL_CAMERAS, DEFAULT_COTRAVEL_WITHIN, CoTravelRules
from analytics.audit import Actor, AuditLog, Channel
from analytics.camera_graph import CameraGraph
from analytics.queries import QueryError, SightingQueries, Window
from analytics.store import Store
from streams.config import Settings
from streams.records import AlertKind, SightingKind

QUESTIONS = ("plate", "pattern", "fuzzy", "face", "photo", "camera", "area", "companions",
             "trajectories", "alerts")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    plate: str | None = None
    pattern: str | None = None  # 黑A?23*
    fuzzy: str | None = None
    face: str | None = None  # watch-list name or unknown-person id
    photo: list[float] | None = None  # a 128-number face encoding (video.faces computes it)
    camera: list[str] | None = None
    area: list[tuple[float, float]] | None = None  # (lon, lat) vertices
    companions: str | None = None  # identity whose co-travellers to find
    trajectories: str | None = None  # identity whose trips to list
    alerts: str | None = None  # alert kind (cloned_plate, co_travel, watchlist) or "all"
    kind: str = "plate"  # for companions: the identity's kind
    identity: str | None = None  # for alerts: only this identity's
    since: datetime | str | None = None
    until: datetime | str | None = None
    max_cost: float = 1.0
    min_cameras: int = DEFAULT_COTRAVEL_CAMERAS
    within_s: float = DEFAULT_COTRAVEL_WITHIN.total_seconds()
    limit: int = 1000

    def question(self) -> str:
        asked = [q for q in QUESTIONS if getattr(self, q) not in (None, "", [])]
        if len(asked) != 1:
            raise QueryError(f"ask exactly one of: {', '.join(QUESTIONS)} (got {asked or 'none'})")
        return asked[0]

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> SearchRequest:
        """From query parameters or a JSON body; unknown names are refused, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise QueryError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(data)
        try:
            for name in ("max_cost", "within_s"):
                if name in values:
                    values[name] = float(values[name])
            for name in ("min_cameras", "limit"):
                if name in values:
                    values[name] = int(values[name])
        except (TypeError, ValueError) as exc:
            raise QueryError(f"bad number: {exc}") from exc
        if isinstance(values.get("camera"), str):
            values["camera"] = [c for c in values["camera"].split(",") if c]
        if values.get("area") is not None:
            try:
                values["area"] = [(float(x), float(y)) for x, y in values["area"]]
            except (TypeError, ValueError) as exc:
                raise QueryError("area: a list of [lon, lat] pairs") from exc
        return cls(**values)


def parse_time(value: datetime | str | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise QueryError(f"{value!r} is not a time (use ISO, e.g. 2026-05-12T08:00)") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def execute(queries: SightingQueries, request: SearchRequest, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Answer one request as JSON-ready rows (each with a `type`)."""
    question = request.question()
    window = Window(parse_time(request.since, zone), parse_time(request.until, zone))
    limit = max(1, min(request.limit, 50_000))
    if question == "plate":
        return _rows("sighting", queries.plate(request.plate or "", window, limit))
    if question == "pattern":
        return _rows("sighting", queries.plate_pattern(request.pattern or "", window, limit))
    if question == "fuzzy":
        return _rows("sighting", queries.plate_fuzzy(request.fuzzy or "", window, request.max_cost, limit=limit))
    if question == "face":
        return _rows("sighting", queries.face(request.face or "", window, limit))
    if question == "photo":
        return _rows("sighting", queries.by_photo(request.photo or [], window, limit=min(limit, 1000)))
    if question == "camera":
        return _rows("sighting", queries.at_cameras(request.camera or [], window, limit=limit))
    if question == "area":
        return _rows("sighting", queries.in_area(request.area or [], window, limit=limit))
    if question == "companions":
        try:
            kind = SightingKind(request.kind)
        except ValueError as exc:
            raise QueryError("kind: plate or face") from exc
        rules = CoTravelRules(within=_seconds(request.within_s), min_cameras=max(1, request.min_cameras))
        found = queries.companions(kind, request.companions or "", window, rules)
        return [{"type": "companion", **_jsonable(asdict(c))} for c in found[:limit]]
    if question == "trajectories":
        trips = queries.trajectories(request.trajectories or "", window, limit=min(limit, 5000))
        return [{"type": "trajectory", **tr.model_dump(mode="json")} for tr in trips]
    kind = None
    if request.alerts not in (None, "all"):
        try:
            kind = AlertKind(request.alerts)
        except ValueError as exc:
            raise QueryError(f"alerts: all or one of {', '.join(k.value for k in AlertKind)}") from exc
    found_alerts = queries.alerts(kind, request.identity, window, min(limit, 5000))
    rows = []
    for a in found_alerts:  # the evidence as sightings (time, camera, snapshot), not bare ids
        evidence = queries.sightings(a.evidence) if len(found_alerts) <= 200 else []
        rows.append({"type": "alert", **a.model_dump(mode="json"),
                     "evidence_sightings": [_jsonable(asdict(h)) for h in evidence]})
    return rows


def audit_query(request: SearchRequest) -> dict[str, Any]:
    """What the audit log keeps of a request: the fields that were set."""
    return {f.name: getattr(request, f.name) for f in fields(request)
            if getattr(request, f.name) != f.default}


def cli_actor() -> Actor:
    """Who runs a command: the operating-system user (the CLI has the store's own access)."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(f"cli:{name}", "cli")


def run_search(settings: Settings, request: SearchRequest, out: IO[str] | None = None,
               actor: Actor | None = None) -> int:
    """`cityops search`: one JSON object per line. 0 found, 1 nothing found, 2 bad request.

    Recorded in the audit log as the operating-system user unless `actor` says who.
    """
    from streams.district import load_district

    out = out or sys.stdout
    district = load_district(settings.district_file)
    with Store.open(settings.store_url) as store:
        queries = SightingQueries(store, CameraGraph.from_district(district))
        try:
            question = request.question()
            rows = list(AuditLog(store).audited(
                actor or cli_actor(), Channel.CLI, f"search.{question}", audit_query(request),
                lambda: execute(queries, request, district.timezone)))
        except QueryError as exc:
            print(f"cityops search: {exc}", file=sys.stderr)
            return 2
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    return 0 if rows else 1


def _seconds(value: float) -> Any:
    from datetime import timedelta

    if value <= 0:
        raise QueryError("within_s must be more than 0")
    return timedelta(seconds=value)


def _rows(kind: str, items: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"type": kind, **_jsonable(asdict(item))} for item in items]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    """`python -m analytics.search --plate 黑A12345` (what `cityops search` wraps)."""
    import argparse

    from streams.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m analytics.search",
                                     description="Search sightings; one JSON object per line.")
    parser.add_argument("--home")
    parser.add_argument("--db")
    for name in ("plate", "pattern", "fuzzy", "face", "companions", "trajectories", "alerts",
                 "identity", "since", "until"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--camera", action="append", help="a camera id (repeat for several)")
    parser.add_argument("--area", help="polygon as 'lon,lat;lon,lat;...'")
    parser.add_argument("--photo-encoding", help="a file of 128 numbers (JSON list) from video.faces")
    parser.add_argument("--kind", default="plate")
    parser.add_argument("--max-cost", type=float, default=1.0)
    parser.add_argument("--min-cameras", type=int, default=DEFAULT_COTRAVEL_CAMERAS)
    parser.add_argument("--within-s", type=float, default=DEFAULT_COTRAVEL_WITHIN.total_seconds())
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        area = None
        if args.area:
            area = [(float(x), float(y)) for x, y in (pair.split(",") for pair in args.area.split(";"))]
        photo = None
        if args.photo_encoding:
            from pathlib import Path

            photo = [float(x) for x in json.loads(Path(args.photo_encoding).read_text())]
    except (ValueError, OSError) as exc:
        print(f"cityops search: {exc}", file=sys.stderr)
        return 2
    request = SearchRequest(
        plate=args.plate, pattern=args.pattern, fuzzy=args.fuzzy, face=args.face, photo=photo,
        camera=args.camera, area=area, companions=args.companions, trajectories=args.trajectories,
        alerts=args.alerts, kind=args.kind, identity=args.identity, since=args.since, until=args.until,
        max_cost=args.max_cost, min_cameras=args.min_cameras, within_s=args.within_s, limit=args.limit)
    return run_search(load_settings(home=args.home, db_url=args.db), request)


if __name__ == "__main__":
    sys.exit(main())

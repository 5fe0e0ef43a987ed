"""Everything the pages read, one small function per question.

Callbacks never touch the store directly: they call these. Each function is wrapped by
`_read(permission...)`, the one place that asks "may this user's role ask this?" (the
role matrix is `dashboard/access.py`); the searches also write their audit line here.
A read refused raises `access.PermissionDenied`, which the app answers with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import func, select

from analytics import tables as t
from analytics.accounts import Accounts, User
from analytics.audit import AuditEntry, AuditLog, Channel
from analytics.complaint_fold import ComplaintState
from analytics.measures import DepartmentScore, TrendPoint
from analytics.queries import Companion, SightingHit, SightingQueries, Window
from analytics.search import SearchRequest, audit_query, execute
from dashboard import access, context
from dashboard.access import Permission
from streams.records import Alert, AlertKind, CameraStatus

P = ParamSpec("P")
R = TypeVar("R")

CAMERA_FRESH_S = 15
"""A camera whose last heartbeat is older than this is shown offline."""


def _read(*needed: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Marks a page-facing read that only a role holding one of `needed` may run."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            access.require(*needed)
            return fn(*args, **kwargs)

        wrapper.permissions = needed  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _audited(action: str, query: dict[str, Any], run: Callable[[], list[R]]) -> list[R]:
    """Run a search as the current user and write its audit line (with the result count)."""
    actor = access.current_actor()
    assert actor is not None  # _read let it through
    return list(AuditLog(context.store()).audited(actor, Channel.DASHBOARD, action, query, run))


@cache
def _queries() -> SightingQueries:
    from analytics.camera_graph import CameraGraph

    return SightingQueries(context.store(), CameraGraph.from_district(context.district()))


def reset() -> None:
    """Forget the cached query helper (after `context.configure`, e.g. in tests)."""
    _queries.cache_clear()


# ------------------------------------------------------------------ wall


@dataclass(frozen=True, slots=True)
class WallCounts:
    today: int
    total: int
    open: int
    overdue: int
    on_time_rate: float | None
    mean_rating: float | None
    cameras_online: int
    cameras_total: int
    sightings_per_min: float


@_read(Permission.WALL, Permission.LEADER)
def camera_online(now: datetime) -> dict[str, bool]:
    """Camera id -> online (fresh heartbeat saying so); cameras never heard of are absent."""
    fresh = now - timedelta(seconds=CAMERA_FRESH_S)
    return {s.camera_id: bool(s.online and s.ts >= fresh) for s in context.store().camera_statuses()}


@_read(Permission.WALL, Permission.LEADER)
def camera_statuses() -> list[CameraStatus]:
    return context.store().camera_statuses()


@_read(Permission.WALL)
def wall_counts(now: datetime, online: dict[str, bool]) -> WallCounts:
    store = context.store()
    district = context.district()
    midnight = now.astimezone(district.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    summary = store.complaint_summary(since=midnight, now=now)
    from analytics.measures_store import MeasuresReader

    tallies = MeasuresReader(store).tallies()
    handled = sum(tl.values[1] for tl in tallies)
    on_time = sum(tl.values[2] for tl in tallies)
    rating_sum = sum(tl.values[3] for tl in tallies)
    ratings = sum(tl.values[4] for tl in tallies)
    return WallCounts(
        today=summary.today, total=summary.total, open=summary.open, overdue=summary.overdue,
        on_time_rate=on_time / handled if handled else None,
        mean_rating=rating_sum / ratings if ratings else None,
        cameras_online=sum(online.values()), cameras_total=len(district.cameras),
        sightings_per_min=sightings_since(now - timedelta(minutes=1)),
    )


def sightings_since(since: datetime) -> int:
    """Sightings at any district camera since `since` (the (camera_id, ts) index)."""
    s = t.sightings
    ids = [c.id for c in context.district().cameras]
    query = select(func.count()).select_from(s).where(s.c.camera_id.in_(ids), s.c.ts >= since)
    with context.store().engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@_read(Permission.WALL)
def recent_complaints(limit: int) -> list[ComplaintState]:
    return context.store().recent_complaints(limit=limit)


@_read(Permission.WALL)
def grid_status() -> dict[str, str]:
    """Grids that are not normal (the others are drawn normal): keeps the tick small."""
    return {g: s for g, s in context.store().grid_status_levels().items() if s != "normal"}


@_read(Permission.WALL)
def recent_alerts(since: datetime, limit: int = 12) -> list[Alert]:
    kinds = [k for k in AlertKind if k is not AlertKind.COMPLAINT_NOTICE]
    a = t.alerts
    query = (select(a).where(a.c.ts >= since, a.c.kind.in_([k.value for k in kinds]))
             .order_by(a.c.ts.desc()).limit(limit))
    with context.store().engine.connect() as conn:
        return [Alert(id=r.id, ts=r.ts, kind=AlertKind(r.kind), severity=r.severity, title=r.title,
                      detail=r.detail, identity=r.identity, camera_id=r.camera_id,
                      complaint_code=r.complaint_code, grid_id=r.grid_id, evidence=r.evidence,
                      recipients=r.recipients) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class Trail:
    """One identity's recent path: the cameras it passed, in time order."""

    kind: str
    identity: str
    cameras: list[str]
    last_ts: datetime


@_read(Permission.WALL)
def recent_trails(since: datetime, limit: int = 60) -> list[Trail]:
    """Identities seen at two or more cameras since `since`, most recently seen first.

    Read from the sightings by the (camera_id, ts) index (a few thousand rows for 15 min of
    a district), not from the stored trips, which have no index by end time.
    """
    s = t.sightings
    ids = [c.id for c in context.district().cameras]
    query = (select(s.c.kind, s.c.identity, s.c.camera_id, s.c.ts)
             .where(s.c.camera_id.in_(ids), s.c.ts >= since).order_by(s.c.ts))
    paths: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    with context.store().engine.connect() as conn:
        for kind, identity, camera_id, ts in conn.execute(query):
            path = paths.setdefault((kind, identity), [])
            if not path or path[-1][0] != camera_id:
                path.append((camera_id, ts))
    trails = [Trail(kind, identity, [cam for cam, _ in path], path[-1][1])
              for (kind, identity), path in paths.items() if len(path) >= 2]
    return sorted(trails, key=lambda tr: tr.last_ts, reverse=True)[:limit]


@_read(Permission.WALL, Permission.LEADER)
def department_ranking() -> list[DepartmentScore]:
    from analytics.measures_store import MeasuresReader

    return MeasuresReader(context.store()).ranking()


@_read(Permission.WALL)
def camera_sightings(camera_id: str, limit: int = 8) -> list[SightingHit]:
    """The newest sightings at one camera (newest first)."""
    s = t.sightings
    query = select(s).where(s.c.camera_id == camera_id).order_by(s.c.ts.desc()).limit(limit)
    with context.store().engine.connect() as conn:
        return [_hit(r) for r in conn.execute(query)]


@_read(Permission.WALL)
def open_complaints_in(grid_id: str, limit: int = 8) -> list[ComplaintState]:
    c = t.complaints
    query = (select(c).where(c.c.grid_id == grid_id, c.c.state != "closed")
             .order_by(c.c.created_at.desc()).limit(limit))
    with context.store().engine.connect() as conn:
        return [ComplaintState(**{col.name: getattr(r, col.name) for col in c.columns}) for r in conn.execute(query)]


# ------------------------------------------------------------------ analyst


@_read(Permission.SEARCH)
def search(request: SearchRequest) -> list[dict]:
    """One analyst question (the same request type as `cityops search` and the HTTP API)."""
    return _audited(f"search.{request.question()}", audit_query(request),
                    lambda: execute(_queries(), request, context.district().timezone))


@_read(Permission.SEARCH)
def companions(kind: str, identity: str, window: Window) -> list[Companion]:
    from analytics.alerts import CoTravelRules
    from streams.records import SightingKind

    return _audited("search.companions", {"companions": identity, "kind": kind, **_window(window)},
                    lambda: _queries().companions(SightingKind(kind), identity, window, CoTravelRules()))


@_read(Permission.SEARCH)
def alerts_about(identity: str | None, kind: AlertKind | None, window: Window) -> list[Alert]:
    query = {"alerts": kind.value if kind else "all", "identity": identity, **_window(window)}
    return _audited("search.alerts", query, lambda: _queries().alerts(kind, identity, window, 100))


def _window(window: Window) -> dict[str, Any]:
    return {"since": window.since, "until": window.until}


@_read(Permission.SEARCH)
def sightings_by_id(ids: list[str]) -> list[SightingHit]:
    if not ids:
        return []
    s = t.sightings
    with context.store().engine.connect() as conn:
        rows = conn.execute(select(s).where(s.c.id.in_(ids[:200])).order_by(s.c.ts)).all()
    return [_hit(r) for r in rows]


def _hit(r: Any) -> SightingHit:
    """A stored sighting row as the search results type, placed at its camera."""
    try:
        camera = context.district().camera(r.camera_id)
        lat, lon = camera.lat, camera.lon
    except KeyError:
        lat = lon = None
    return SightingHit(sighting_id=r.id, ts=r.ts, camera_id=r.camera_id, kind=r.kind, identity=r.identity,
                       confidence=r.confidence, snapshot=r.snapshot, plate_color=r.plate_color,
                       face_distance=r.face_distance, lat=lat, lon=lon)


# ------------------------------------------------------------------ leader


@_read(Permission.LEADER)
def trend(start: date, end: date) -> list[TrendPoint]:
    from analytics.measures_store import MeasuresReader

    by = "day" if (end - start).days <= 62 else "week"
    return MeasuresReader(context.store()).trend(start, end, by)  # type: ignore[arg-type]


@_read(Permission.LEADER)
def heat_map(start: date, end: date) -> dict[str, int]:
    from analytics.measures_store import MeasuresReader

    return MeasuresReader(context.store()).heat_map(start, end)


@_read(Permission.LEADER)
def grid_counts_now() -> dict[str, tuple[int, int]]:
    """Grid -> (open, overdue) now."""
    return {g.grid_id: (g.open, g.overdue) for g in context.store().complaint_counts_by_grid()}


@_read(Permission.LEADER)
def offline_incidents(since: datetime, until: datetime) -> dict[str, int]:
    """Camera -> how many times it went offline in the window (its offline alerts)."""
    a = t.alerts
    query = (select(a.c.camera_id, func.count())
             .where(a.c.kind == AlertKind.CAMERA_OFFLINE.value, a.c.ts >= since, a.c.ts <= until)
             .group_by(a.c.camera_id))
    with context.store().engine.connect() as conn:
        return {cam: int(n) for cam, n in conn.execute(query) if cam}


# ------------------------------------------------------------------ admin


@_read(Permission.ADMIN)
def users() -> list[User]:
    return Accounts(context.store()).users()


@_read(Permission.ADMIN)
def audit_entries(actor: str | None = None, limit: int = 500) -> list[AuditEntry]:
    """The newest audit lines (the whole log is the CSV export)."""
    return AuditLog(context.store()).entries(actor=actor or None, limit=limit)


def utcnow() -> datetime:
    return datetime.now(UTC)

"""The analyst's questions, answered from the store: where, when, with whom.

Every search returns `SightingHit`s (time, camera, confidence, snapshot, and how well it
matched), newest last. How each one stays fast at a month of sightings (~50M rows):

- plate exact, face name: the (identity, ts) index: one range read per identity.
- plate wildcard (`黑A?23*`): matched against `identities` (every plate once, ~1M rows),
  then the exact lookup per matching plate.
- plate fuzzy: every known plate is held in memory as a (plates x 8) array of code
  points; a query costs one vectorised comparison (OCR confusions 0/D/Q, 8/B, 1/7, 2/Z, 5/S
  cost 0.5, any other substitution 1), then the exact lookup of the best plates.
- camera or drawn area + time window: the (camera_id, ts) index.
- by photo: brute-force distances to the stored face encodings of the window (numpy),
  linear in the number of face sightings (see docs/BENCHMARKS.md for measured rates).
"""

from __future__ import annotations

import array
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, or_, select

from analytics import tables as t
from analytics.alerts import CoTravelRules, SharedSighting, co_travel_groups
from analytics.camera_graph import CameraGraph
from analytics.store import Store
from streams.plate_grammar import normalize_plate
from streams.records import Alert, AlertKind, Severity, Sighting, SightingKind, Trajectory
from streams.topics import Topic
from streams.watchlist import biometric_retention_days

CONFUSIONS = ("0DQ", "8B", "17", "2Z", "5S")
"""Characters plate readers mistake for one another (cheaper substitutions in fuzzy search)."""
CONFUSION_COST = 0.5
OTHER_COST = 1.0
_CONFUSION_HALVES = round(CONFUSION_COST * 2)
_OTHER_HALVES = round(OTHER_COST * 2)
"""The fuzzy index adds costs as small integers (half units), exactly."""
MAX_PLATE_LEN = 8
FACE_TOLERANCE = 0.6
"""face_recognition's distance threshold: the same person is closer than this."""
FACE_SETTLED = timedelta(hours=1)
"""A day's face sightings are final this long after it ends (then cached in memory)."""
FACE_DAYS_KEPT = 40


@dataclass(frozen=True, slots=True)
class _FaceDay:
    ids: list[str]
    ts: np.ndarray  # epoch seconds
    matrix: np.ndarray  # (n, 128) float32
    squared_norms: np.ndarray  # (n,) float32


class QueryError(ValueError):
    """A search the store cannot answer as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class SightingHit:
    sighting_id: str
    ts: datetime
    camera_id: str
    kind: str
    identity: str
    confidence: float
    snapshot: str | None
    plate_color: str | None = None
    face_distance: float | None = None
    lat: float | None = None
    lon: float | None = None
    match_cost: float = 0.0
    """0 for an exact match; fuzzy plates: the substitution cost; by photo: the distance."""


@dataclass(frozen=True, slots=True)
class PlateMatch:
    plate: str
    cost: float
    sightings: int
    first_ts: datetime
    last_ts: datetime


@dataclass(frozen=True, slots=True)
class Companion:
    """Someone (or some vehicle) seen with the searched identity, and where."""

    kind: str
    identity: str
    cameras: int
    shared: list[SharedSighting]


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise QueryError("times must carry a time zone (e.g. 2026-05-12T08:00:00+08:00)")
        if self.since and self.until and self.until < self.since:
            raise QueryError("the window ends before it starts")


class SightingQueries:
    """Searches over one store; thread-safe (the fuzzy index is shared and refreshed)."""

    def __init__(self, store: Store, graph: CameraGraph | None = None,
                 fuzzy_refresh_s: float = 60.0) -> None:
        self.store = store
        self.graph = graph
        self.fuzzy_refresh_s = fuzzy_refresh_s
        self._plates: _PlateIndex | None = None
        self._plates_lock = threading.Lock()
        self._plates_reloading = False
        self._face_days: dict[datetime, _FaceDay] = {}
        self._faces_lock = threading.Lock()

    # ------------------------------------------------------------ plates

    def plate(self, plate: str, window: Window = Window(), limit: int = 5000) -> list[SightingHit]:
        """Every sighting of one plate, in time order."""
        canonical = normalize_plate(plate)
        if canonical is None:
            raise QueryError(f"{plate!r} is not a plate; use a wildcard (?, *) or fuzzy search")
        return self._hits([canonical], SightingKind.PLATE, window, limit)

    def plate_pattern(self, pattern: str, window: Window = Window(), limit: int = 5000,
                      max_plates: int = 500) -> list[SightingHit]:
        """Plates matching a pattern: `?` one character, `*` any run (e.g. 黑A?23*)."""
        plates = self.plates_like(pattern, max_plates)
        return self._hits(plates, SightingKind.PLATE, window, limit)

    def plates_like(self, pattern: str, max_plates: int = 500) -> list[str]:
        text = _loose(pattern)
        if not text or set(text) <= {"?", "*"}:
            raise QueryError("a wildcard pattern needs at least one known character")
        ids = t.identities
        if self.store.dialect == "sqlite":
            glob = re.sub(r"([\[\]])", r"[\1]", text)
            cond = ids.c.identity.op("GLOB")(glob)
        else:
            like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            cond = ids.c.identity.like(like.replace("?", "_").replace("*", "%"), escape="\\")
        query = (select(ids.c.identity).where(ids.c.kind == SightingKind.PLATE.value, cond)
                 .order_by(ids.c.identity).limit(max_plates))
        with self.store.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def fuzzy_plates(self, text: str, max_cost: float = 1.0, limit: int = 20) -> list[PlateMatch]:
        """Known plates that `text` may be a misread of, cheapest first (exact = 0)."""
        query = _loose(text)
        if not 6 <= len(query) <= MAX_PLATE_LEN:
            raise QueryError(f"{text!r}: a plate has 7 or 8 characters")
        index = self._plate_index()
        return index.nearest(query, max_cost, limit)

    def plate_fuzzy(self, text: str, window: Window = Window(), max_cost: float = 1.0,
                    max_plates: int = 20, limit: int = 5000) -> list[SightingHit]:
        """Sightings of the plates `text` may be a misread of, best plate first, then by time."""
        matches = self.fuzzy_plates(text, max_cost, max_plates)
        cost = {m.plate: m.cost for m in matches}
        hits = self._hits(list(cost), SightingKind.PLATE, window, limit)
        ranked = [_with_cost(h, cost[h.identity]) for h in hits]
        return sorted(ranked, key=lambda h: (h.match_cost, h.ts))

    def _plate_index(self) -> _PlateIndex:
        """The first search loads the index; later a stale one is reloaded in the background
        (11 s at 650k plates) while searches go on with the one held."""
        with self._plates_lock:
            if self._plates is None:
                self._plates = _PlateIndex.load(self.store)
            elif (time.monotonic() - self._plates.loaded_at > self.fuzzy_refresh_s
                  and not self._plates_reloading):
                self._plates_reloading = True
                threading.Thread(target=self._reload_plates, name="plate-index", daemon=True).start()
            return self._plates

    def _reload_plates(self) -> None:
        try:
            fresh = _PlateIndex.load(self.store)
            with self._plates_lock:
                self._plates = fresh
        finally:
            self._plates_reloading = False

    # ------------------------------------------------------------ faces

    def face(self, name: str, window: Window = Window(), limit: int = 5000) -> list[SightingHit]:
        """Every sighting of a named (watch-listed) person or an unknown-person id."""
        if not name.strip():
            raise QueryError("give a name or an unknown-person id")
        return self._hits([name.strip()], SightingKind.FACE, window, limit)

    def by_photo(self, encoding: Sequence[float], window: Window = Window(),
                 tolerance: float = FACE_TOLERANCE, limit: int = 200) -> list[SightingHit]:
        """Face sightings nearest to an encoding (from video.faces), closest first.

        Brute force over the window's stored encodings, linear in their number. Whole days
        that ended over an hour ago are kept in memory as one float32 matrix each (faces
        are kept 30 days at most: biometric retention), so a search pays the database
        only for the last hours; an open window means the retention period.
        """
        probe = np.asarray(encoding, dtype=np.float32)
        if probe.shape != (128,):
            raise QueryError("a face encoding has 128 numbers")
        now = datetime.now(UTC)
        since = window.since or now - timedelta(days=biometric_retention_days())
        until = window.until or now
        ids: list[str] = []
        found: list[np.ndarray] = []
        day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        with self.store.engine.connect() as conn:
            while day <= until:
                faces = self._face_day(conn, day, now)
                if faces.ids:
                    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix-vector product per day
                    squared = faces.squared_norms + float(probe @ probe) - 2.0 * (faces.matrix @ probe)
                    inside = (faces.ts >= since.timestamp()) & (faces.ts <= until.timestamp())
                    near = np.flatnonzero(inside & (squared <= tolerance * tolerance))
                    if len(near):
                        ids += [faces.ids[i] for i in near]
                        found.append(np.sqrt(np.maximum(squared[near], 0.0)))
                day += timedelta(days=1)
            if not ids:
                return []
            distances = np.concatenate(found)
            order = np.argsort(distances, kind="stable")[:limit]
            s = t.sightings
            wanted = [ids[i] for i in order]
            # a face purged since its day was cached (biometric retention) no longer matches
            by_id = {r.id: r for r in conn.execute(select(s).where(s.c.id.in_(wanted), s.c.encoding.is_not(None)))}
        return [_with_cost(self._hit(by_id[ids[i]]), float(distances[i])) for i in order if ids[i] in by_id]

    def _face_day(self, conn: Any, day: datetime, now: datetime) -> _FaceDay:
        settled = day + timedelta(days=1) < now - FACE_SETTLED
        with self._faces_lock:
            cached = self._face_days.get(day)
        if cached is not None:
            return cached
        s = t.sightings
        query = select(s.c.id, s.c.ts, s.c.encoding).where(
            s.c.kind == SightingKind.FACE.value, s.c.encoding.is_not(None),
            s.c.ts >= day, s.c.ts < day + timedelta(days=1))  # the partial index ix_sightings_face_ts
        rows = conn.execute(query).all()
        matrix = (np.frombuffer(b"".join(r.encoding for r in rows), dtype=np.float32).reshape(len(rows), 128)
                  if rows else np.zeros((0, 128), dtype=np.float32))
        faces = _FaceDay(
            ids=[r.id for r in rows],
            ts=np.array([r.ts.timestamp() for r in rows], dtype=np.float64),
            matrix=matrix,
            squared_norms=np.einsum("ij,ij->i", matrix, matrix),
        )
        if settled:
            with self._faces_lock:
                self._face_days[day] = faces
                while len(self._face_days) > FACE_DAYS_KEPT:
                    del self._face_days[min(self._face_days)]
        return faces

    # ------------------------------------------------------------ places

    def at_cameras(self, camera_ids: Iterable[str], window: Window, kind: SightingKind | None = None,
                   limit: int = 5000) -> list[SightingHit]:
        """Everything seen at these cameras in the window, in time order."""
        cameras = sorted(set(camera_ids))
        if not cameras:
            return []
        if window.since is None or window.until is None:
            raise QueryError("a camera search needs a time window (since and until)")
        s = t.sightings
        query = _in_window(select(s).where(s.c.camera_id.in_(cameras)), window)
        if kind is not None:
            query = query.where(s.c.kind == kind.value)
        query = query.order_by(s.c.ts).limit(limit)
        with self.store.engine.connect() as conn:
            return [self._hit(r) for r in conn.execute(query)]

    def in_area(self, polygon: Sequence[tuple[float, float]], window: Window,
                kind: SightingKind | None = None, limit: int = 5000) -> list[SightingHit]:
        """Everything seen by cameras inside a drawn polygon ((lon, lat) vertices) in the window."""
        if self.graph is None:
            raise QueryError("area search needs the district's cameras")
        return self.at_cameras(self.graph.cameras_inside(polygon), window, kind, limit)

    # ------------------------------------------------------------ companions, trips, alerts

    def companions(self, kind: SightingKind, identity: str, window: Window = Window(),
                   rules: CoTravelRules | None = None) -> list[Companion]:
        """Who was seen with this identity (within Δt) at >= k cameras, most cameras first."""
        rules = rules or CoTravelRules()
        own = self._sightings([identity], kind, window, 5000)
        s = t.sightings
        others: dict[str, Sighting] = {}
        with self.store.engine.connect() as conn:
            for start in range(0, len(own), 50):  # 50 index ranges per statement (OR of ranges)
                ranges = [and_(s.c.camera_id == mine.camera_id,
                               s.c.ts.between(mine.ts - rules.within, mine.ts + rules.within))
                          for mine in own[start:start + 50]]
                for r in conn.execute(select(s).where(or_(*ranges))):
                    if r.id not in others:
                        others[r.id] = _sighting(r)
        groups = co_travel_groups(own, list(others.values()), rules)
        found = [Companion(k, i, len(shared), shared) for (k, i), shared in groups.items()]
        return sorted(found, key=lambda c: (-c.cameras, c.identity))

    def trajectories(self, identity: str, window: Window = Window(), kind: SightingKind | None = None,
                     limit: int = 500) -> list[Trajectory]:
        """The stored trips of one identity that overlap the window, in time order."""
        tr = t.trajectories
        query = select(tr).where(tr.c.identity == identity)
        if kind is not None:
            query = query.where(tr.c.kind == kind.value)
        if window.until is not None:
            query = query.where(tr.c.start_ts <= window.until)
        if window.since is not None:
            query = query.where(tr.c.end_ts >= window.since)
        query = query.order_by(tr.c.start_ts).limit(limit)
        with self.store.engine.connect() as conn:
            return [_trajectory(r) for r in conn.execute(query)]

    def sightings(self, ids: Sequence[str]) -> list[SightingHit]:
        """Sightings by id, in time order: an alert's evidence, a trip's points."""
        s = t.sightings
        hits: list[SightingHit] = []
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                hits += [self._hit(r) for r in conn.execute(select(s).where(s.c.id.in_(chunk)))]
        return sorted(hits, key=lambda h: (h.ts, h.sighting_id))

    def recent_trajectories(self, since: datetime, kind: SightingKind | None = None,
                            limit: int = 500) -> list[Trajectory]:
        """Trips still moving at or after `since` (the wall screen's live tracks), newest first."""
        tr = t.trajectories
        query = select(tr).where(tr.c.end_ts >= since)
        if kind is not None:
            query = query.where(tr.c.kind == kind.value)
        query = query.order_by(tr.c.end_ts.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [_trajectory(r) for r in conn.execute(query)]

    def set_aside(self, since: datetime | None = None) -> dict[str, int]:
        """Sightings the guard refused, counted by reason (unknown_camera, future_time, ...)."""
        dl = t.dead_letters
        query = select(dl.c.reason).where(dl.c.topic == Topic.SIGHTINGS.value)
        if since is not None:
            query = query.where(dl.c.ts >= since)
        counts: dict[str, int] = {}
        with self.store.engine.connect() as conn:
            for (reason,) in conn.execute(query):
                code = reason.split(":", 1)[0] if ":" in reason else "malformed"
                code = code if code.isidentifier() else "malformed"
                counts[code] = counts.get(code, 0) + 1
        return counts

    def alerts(self, kind: AlertKind | None = None, identity: str | None = None,
               window: Window = Window(), limit: int = 500) -> list[Alert]:
        """Stored alerts, newest first (cloned plates, co-travel, watch-list hits, ...)."""
        a = t.alerts
        query = select(a)
        if kind is not None:
            query = query.where(a.c.kind == kind.value)
        if identity is not None:
            query = query.where(a.c.identity == identity)
        if window.since is not None:
            query = query.where(a.c.ts >= window.since)
        if window.until is not None:
            query = query.where(a.c.ts <= window.until)
        query = query.order_by(a.c.ts.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [Alert(id=r.id, ts=r.ts, kind=AlertKind(r.kind), severity=Severity(r.severity),
                          title=r.title, detail=r.detail, identity=r.identity, camera_id=r.camera_id,
                          complaint_code=r.complaint_code, grid_id=r.grid_id, evidence=r.evidence,
                          recipients=r.recipients) for r in conn.execute(query)]

    # ------------------------------------------------------------ plumbing

    def _query(self, identities: list[str], kind: SightingKind, window: Window, limit: int) -> Select:
        s = t.sightings
        query = select(s).where(s.c.identity.in_(identities), s.c.kind == kind.value)
        return _in_window(query, window).order_by(s.c.ts).limit(limit)

    def _hits(self, identities: list[str], kind: SightingKind, window: Window, limit: int) -> list[SightingHit]:
        if not identities:
            return []
        with self.store.engine.connect() as conn:
            return [self._hit(r) for r in conn.execute(self._query(identities, kind, window, limit))]

    def _sightings(self, identities: list[str], kind: SightingKind, window: Window, limit: int) -> list[Sighting]:
        with self.store.engine.connect() as conn:
            return [_sighting(r) for r in conn.execute(self._query(identities, kind, window, limit))]

    def _hit(self, r: Any) -> SightingHit:
        lat = lon = None
        if self.graph is not None and r.camera_id in self.graph:
            where = self.graph.position(r.camera_id)
            lat, lon = where.lat, where.lon
        return SightingHit(
            sighting_id=r.id, ts=r.ts, camera_id=r.camera_id, kind=r.kind, identity=r.identity,
            confidence=r.confidence, snapshot=r.snapshot, plate_color=r.plate_color,
            face_distance=r.face_distance, lat=lat, lon=lon,
        )


def _trajectory(r: Any) -> Trajectory:
    return Trajectory(id=r.id, kind=SightingKind(r.kind), identity=r.identity, start=r.start_ts,
                      end=r.end_ts, points=r.points)


def _sighting(r: Any) -> Sighting:
    encoding = None
    if r.encoding is not None:
        encoding = array.array("f", r.encoding).tolist()
    return Sighting(
        id=r.id, camera_id=r.camera_id, ts=r.ts, kind=SightingKind(r.kind), identity=r.identity,
        confidence=r.confidence, bbox=(r.x1, r.y1, r.x2, r.y2), track_id=r.track_id,
        snapshot=r.snapshot, plate_color=r.plate_color, face_distance=r.face_distance,
        encoding=encoding,
    )


def _with_cost(hit: SightingHit, cost: float) -> SightingHit:
    from dataclasses import replace

    return replace(hit, match_cost=cost)


def _in_window(query: Select, window: Window) -> Select:
    s = t.sightings
    conditions = []
    if window.since is not None:
        conditions.append(s.c.ts >= window.since)
    if window.until is not None:
        conditions.append(s.c.ts <= window.until)
    return query.where(and_(*conditions)) if conditions else query


def _loose(text: str) -> str:
    """A typed plate or pattern, compacted: full-width folded, separators gone, upper case."""
    raw = unicodedata.normalize("NFKC", text).strip()
    return re.sub(r"[\s·•.\-_:]+", "", raw).upper()


_CLASS_OF = {ch: i + 1 for i, group in enumerate(CONFUSIONS) for ch in group}


class _PlateIndex:
    """Every known plate as one small symbol per character, for fuzzy search in a few ms.

    Plates are grouped by length and stored position by position (uint8 symbols, 0 for none).
    A search turns the query into one cost table per position (0 same, 1 listed confusion,
    2 other, in half units), adds the tables' entries position by position starting at the
    serial's end (the most varied characters) and drops a plate as soon as it is over
    budget: after two positions ~1 plate in 10 is left, so most of the work is two gathers
    over the plates of the query's length instead of a float pass over all 8 positions.
    The costs and the order (cost, then most seen) are those of the full comparison.
    """

    def __init__(self, plates: list[str], counts: np.ndarray, first: list[datetime],
                 last: list[datetime]) -> None:
        self.plates = plates
        self.counts = counts
        self.first = first
        self.last = last
        self.loaded_at = time.monotonic()
        n = len(plates)
        lengths = np.fromiter((len(p) for p in plates), dtype=np.int16, count=n)
        code_points = np.zeros((n, MAX_PLATE_LEN), dtype=np.uint32)
        if n:
            padded = "".join(p.ljust(MAX_PLATE_LEN, "\0")[:MAX_PLATE_LEN] for p in plates)
            code_points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).reshape(n, MAX_PLATE_LEN)
        # Symbols: the rank of each code point among those in use (0 = padding, when present).
        self._alphabet, symbols = np.unique(code_points, return_inverse=True)
        symbols = symbols.reshape(n, MAX_PLATE_LEN).astype(np.uint8 if len(self._alphabet) <= 256 else np.uint16)
        self._symbol_class = np.array([_CLASS_OF.get(chr(c), 0) for c in self._alphabet], dtype=np.int8)
        self._by_length: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}
        for length in range(1, MAX_PLATE_LEN + 1):
            rows = np.flatnonzero(lengths == length)  # ascending: ties keep the load order
            if len(rows):
                self._by_length[length] = (rows, [np.ascontiguousarray(symbols[rows, j])
                                                  for j in range(length)])

    @classmethod
    def load(cls, store: Store) -> _PlateIndex:
        ids = t.identities
        query = select(ids.c.identity, ids.c.sightings, ids.c.first_ts, ids.c.last_ts).where(
            ids.c.kind == SightingKind.PLATE.value)
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return cls([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.int64),
                   [r[2] for r in rows], [r[3] for r in rows])

    def _cost_table(self, char: str) -> np.ndarray:
        """Half-unit cost of each symbol standing where the query has `char`."""
        table = np.full(len(self._alphabet), _OTHER_HALVES, dtype=np.uint8)
        cls = _CLASS_OF.get(char, 0)
        if cls:
            table[self._symbol_class == cls] = _CONFUSION_HALVES
        at = int(np.searchsorted(self._alphabet, ord(char)))
        if at < len(self._alphabet) and self._alphabet[at] == ord(char):
            table[at] = 0
        return table

    def nearest(self, query: str, max_cost: float, limit: int) -> list[PlateMatch]:
        block = self._by_length.get(len(query))
        if block is None:
            return []
        rows, columns = block
        budget = min(int(max_cost * 2 + 1e-9), 255)
        if budget < 0:
            return []
        keep: np.ndarray | None = None  # positions in the block still within budget
        total = np.zeros(0, dtype=np.uint8)
        for step, j in enumerate(reversed(range(len(query)))):
            table = self._cost_table(query[j])
            if keep is None:
                part = table[columns[j]]
                total = part if step == 0 else total + part
                if step == 1 or len(query) == 1:
                    keep = np.flatnonzero(total <= budget)
                    total = total[keep]
            else:
                total = total + table[columns[j][keep]]
                within = total <= budget
                keep, total = keep[within], total[within]
        if keep is None:
            keep = np.flatnonzero(total <= budget)
            total = total[keep]
        candidates = rows[keep]
        cost = total.astype(np.float64) / 2
        order = np.lexsort((-self.counts[candidates], cost))[:limit]
        return [PlateMatch(self.plates[i], float(cost[k]), int(self.counts[i]), self.first[i], self.last[i])
                for i, k in ((int(candidates[k]), k) for k in order)]


def recent(hours: float) -> Window:
    """A window of the last `hours` (for the CLI and the API's defaults)."""
    from streams.records import utcnow

    now = utcnow()
    return Window(now - timedelta(hours=hours), now)


__all__ = ["Companion", "PlateMatch", "QueryError", "SightingHit", "SightingQueries", "Window",
           "recent"]

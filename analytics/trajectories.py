"""The trajectory builder: each identity's sightings, in time order, cut into trips.

A trip is a chain of sightings of one identity where each next sighting is at most
`gap` after the previous one *and* physically reachable from it (the camera graph's
road distance at no more than `max_kmh`). A sighting no chain can reach starts a chain
of its own: that is how one plate on two cars (a cloned plate) becomes two trips instead
of one zig-zag across town.

State: for every identity seen recently, its recent sightings and the trips written for
them. Sightings are keyed by identity on the bus, so each consumer of the group owns
whole identities; after a restart or a rebalance, or when a sighting arrives late, the
trips it could join are loaded back from the store. Each trip's id is derived from its
first sighting, and every batch rewrites the trips it changed (and deletes the trips that
merged into others) in one transaction, so a replayed batch leaves the same rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, delete, select

from analytics import tables as t
from analytics.alerts import (
    ClonedPlateDetector,
    CoTravelDetector,
    CoTravelRules,
    WatchlistAlerts,
)
from analytics.camera_graph import CameraGraph
from analytics.sighting_guard import SightingGuard
from analytics.store import Store, _sqlite_utc
from streams.bus import Bus
from streams.config import Settings
from streams.consume import ConsumerLoop
from streams.district import District
from streams.records import Alert, Record, Sighting
from streams.topics import Topic
from streams.watchlist import Watchlist

log = logging.getLogger(__name__)

DEFAULT_GAP = timedelta(minutes=30)


class AlertDetector(Protocol):
    def check(self, sightings: Sequence[Sighting]) -> list[Alert]: ...


DEFAULT_MAX_KMH = 150.0


@dataclass(frozen=True, slots=True)
class TripRules:
    gap: timedelta = DEFAULT_GAP
    """Longer than this between two sightings ends a trip."""
    max_kmh: float = DEFAULT_MAX_KMH
    """Faster than this between two cameras cannot be one vehicle (or person)."""
    max_span: timedelta = timedelta(hours=12)
    """A trip longer than this is cut (a taxi on shift is many trips, not one that never ends)."""
    retain: timedelta = timedelta(hours=2)
    """Trips ended longer than this before the newest sighting leave memory (they stay stored)."""


@dataclass(frozen=True, slots=True, order=True)
class Point:
    ts: datetime
    sighting_id: str
    camera_id: str
    iso: str = field(default="", compare=False)
    """`ts` as the trip's JSON spells it (UTC, 'Z'), made once: trips are rewritten often."""

    @classmethod
    def of(cls, ts: datetime, sighting_id: str, camera_id: str) -> Point:
        return cls(ts, sighting_id, camera_id, ts.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def trip_id(kind: str, identity: str, first_sighting_id: str) -> str:
    """A trip's id: the same trip gets the same id in every process and on every replay."""
    return hashlib.sha1(f"{kind}\x1f{identity}\x1f{first_sighting_id}".encode()).hexdigest()[:32]


def split_trips(points: Sequence[Point], graph: CameraGraph, rules: TripRules) -> list[list[Point]]:
    """Chains of time-ordered points; a point joins the most recent chain it can reach."""
    chains: list[list[Point]] = []
    open_chains: list[list[Point]] = []
    for p in sorted(points):
        open_chains = [c for c in open_chains
                       if p.ts - c[-1].ts <= rules.gap and p.ts - c[0].ts <= rules.max_span]
        best: list[Point] | None = None
        for chain in open_chains:
            last = chain[-1]
            if graph.plausible(last.camera_id, last.ts, p.camera_id, p.ts, rules.max_kmh) and (
                    best is None or last.ts > best[-1].ts):
                best = chain
        if best is None:
            best = [p]
            chains.append(best)
            open_chains.append(best)
        else:
            best.append(p)
    return chains


@dataclass(slots=True)
class _IdentityState:
    points: dict[str, Point] = field(default_factory=dict)
    trips: dict[str, tuple[str, ...]] = field(default_factory=dict)  # written: id -> sighting ids
    trip_end: dict[str, datetime] = field(default_factory=dict)
    covered_from: datetime | None = None
    """Every trip of this identity ending at or after this time is in memory (None: none is)."""


@dataclass(slots=True)
class BuilderStats:
    sightings: int = 0
    replayed: int = 0  # sightings already part of a trip
    trips_written: int = 0
    trips_merged: int = 0  # trips deleted because a late sighting joined them to another
    loads: int = 0  # identities whose trips were read back from the store


class TrajectoryBuilder:
    """Turns batches of (already guarded) sightings into stored trajectories."""

    def __init__(self, store: Store, graph: CameraGraph, rules: TripRules | None = None) -> None:
        self.store = store
        self.graph = graph
        self.rules = rules or TripRules()
        self.stats = BuilderStats()
        self._states: dict[tuple[str, str], _IdentityState] = {}
        self._watermark: datetime | None = None
        self._pruned_at: datetime | None = None
        self._lock = threading.Lock()

    @property
    def identities_in_memory(self) -> int:
        return len(self._states)

    def add(self, sightings: Sequence[Sighting]) -> list[str]:
        """Fold a batch in; returns the ids of the trips written (new or grown). One transaction."""
        with self._lock:
            return self._add(sightings)

    def _add(self, sightings: Sequence[Sighting]) -> list[str]:
        by_key: dict[tuple[str, str], list[Point]] = defaultdict(list)
        for s in sightings:
            by_key[(s.kind.value, s.identity)].append(Point.of(s.ts, s.id, s.camera_id))
        self.stats.sightings += len(sightings)
        loads: dict[tuple[str, str], datetime] = {}
        fresh: dict[tuple[str, str], list[Point]] = {}
        for key, points in by_key.items():
            state = self._states.setdefault(key, _IdentityState())
            seen: set[str] = set()
            new = []
            for p in points:
                if p.sighting_id not in state.points and p.sighting_id not in seen:
                    seen.add(p.sighting_id)
                    new.append(p)
            self.stats.replayed += len(points) - len(new)
            fresh[key] = new
            if new:
                since = min(p.ts for p in new) - self.rules.gap
                if state.covered_from is None or since < state.covered_from:
                    loads[key] = since
        try:
            with self.store.transaction() as conn:
                if loads:
                    self._load(conn, loads)
                written: list[dict[str, Any]] = []
                gone: list[str] = []
                counts: list[dict[str, Any]] = []
                for key, new in fresh.items():
                    state = self._states[key]
                    # a sighting already in a trip read back from the store is a replay too
                    kept = [p for p in new if p.sighting_id not in state.points]
                    self.stats.replayed += len(new) - len(kept)
                    new = kept
                    if not new:
                        continue
                    counts.append({"kind": key[0], "identity": key[1], "first_ts": min(p.ts for p in new),
                                   "last_ts": max(p.ts for p in new), "sightings": len(new)})
                    for p in new:
                        state.points[p.sighting_id] = p
                    w, g = self._rebuild(key, state)
                    written += w
                    gone += g
                if gone:
                    conn.execute(delete(t.trajectories).where(t.trajectories.c.id.in_(gone)))
                if written:
                    self._write(conn, written)
                if counts:
                    self._count_identities(conn, counts)
        except BaseException:
            # memory ran ahead of the failed transaction: forget these identities, so the retry
            # reads their trips back from the store instead of taking its sightings for replays
            for key in fresh:
                self._states.pop(key, None)
            raise
        self.stats.trips_written += len(written)
        self.stats.trips_merged += len(gone)
        newest = max((s.ts for s in sightings), default=None)
        if newest is not None and (self._watermark is None or newest > self._watermark):
            self._watermark = newest
            self._prune()
        return [row["id"] for row in written]

    def _rebuild(self, key: tuple[str, str], state: _IdentityState) -> tuple[list[dict[str, Any]], list[str]]:
        kind, identity = key
        chains = split_trips(list(state.points.values()), self.graph, self.rules)
        now: dict[str, list[Point]] = {trip_id(kind, identity, c[0].sighting_id): c for c in chains}
        written = []
        trips: dict[str, tuple[str, ...]] = {}
        for tid, chain in now.items():
            ids = trips[tid] = tuple(p.sighting_id for p in chain)
            if state.trips.get(tid) != ids:
                written.append(self._row(tid, kind, identity, chain))
        gone = [tid for tid in state.trips if tid not in now]
        state.trips = trips
        state.trip_end = {tid: c[-1].ts for tid, c in now.items()}
        return written, gone

    def _row(self, tid: str, kind: str, identity: str, chain: list[Point]) -> dict[str, Any]:
        """The trip as the store's `trajectories` row (points as `TrajectoryPoint` JSON)."""
        points = []
        for p in chain:
            where = self.graph.positions[p.camera_id]
            points.append({"sighting_id": p.sighting_id, "camera_id": p.camera_id,
                           "ts": p.iso, "lat": where.lat, "lon": where.lon})
        return {"id": tid, "kind": kind, "identity": identity, "start_ts": chain[0].ts,
                "end_ts": chain[-1].ts, "point_count": len(chain), "points": points}

    def _write(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Upsert trips by id (the newest version wins), the fast way on each dialect."""
        tr = t.trajectories
        if self.store.dialect == "sqlite":  # the hot path: skip SQLAlchemy's per-row processing
            names = [c.name for c in tr.columns]
            updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "id")
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.executemany(
                    f"INSERT INTO trajectories ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
                    f"ON CONFLICT (id) DO UPDATE SET {updates}",
                    [(r["id"], r["kind"], r["identity"], _sqlite_utc(r["start_ts"]), _sqlite_utc(r["end_ts"]),
                      r["point_count"], json.dumps(r["points"], ensure_ascii=False)) for r in rows])
            finally:
                cursor.close()
            return
        stmt = self.store._insert(tr)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={c.name: stmt.excluded[c.name] for c in tr.columns if c.name != "id"})
        conn.execute(stmt, rows)

    def _load(self, conn: Connection, loads: dict[tuple[str, str], datetime]) -> None:
        """Read back the stored trips that sightings of these identities might join."""
        tr = t.trajectories
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, identity in loads:
            by_kind[kind].append(identity)
        earliest = min(loads.values())
        for kind, identities in by_kind.items():
            for start in range(0, len(identities), 500):
                chunk = identities[start:start + 500]
                query = select(tr.c.id, tr.c.identity, tr.c.end_ts, tr.c.points).where(
                    tr.c.kind == kind, tr.c.identity.in_(chunk), tr.c.end_ts >= earliest)
                for row in conn.execute(query):
                    key = (kind, row.identity)
                    state = self._states[key]
                    if row.end_ts < loads[key] or row.id in state.trips:
                        continue
                    ids = []
                    for raw in row.points:
                        p = Point.of(datetime.fromisoformat(raw["ts"]), raw["sighting_id"], raw["camera_id"])
                        state.points.setdefault(p.sighting_id, p)
                        ids.append(p.sighting_id)
                    state.trips[row.id] = tuple(ids)
                    state.trip_end[row.id] = row.end_ts
        for key, since in loads.items():
            state = self._states[key]
            state.covered_from = since if state.covered_from is None else min(state.covered_from, since)
        self.stats.loads += len(loads)

    def _count_identities(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        ids = t.identities
        if self.store.dialect == "sqlite":
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.executemany(
                    "INSERT INTO identities (kind, identity, first_ts, last_ts, sightings) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (kind, identity) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), "
                    "last_ts = max(last_ts, excluded.last_ts), sightings = sightings + excluded.sightings",
                    [(r["kind"], r["identity"], _sqlite_utc(r["first_ts"]), _sqlite_utc(r["last_ts"]),
                      r["sightings"]) for r in rows])
            finally:
                cursor.close()
            return
        stmt = self.store._insert(ids)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "identity"],
            set_={"first_ts": _least(ids.c.first_ts, stmt.excluded.first_ts, self.store.dialect),
                  "last_ts": _greatest(ids.c.last_ts, stmt.excluded.last_ts, self.store.dialect),
                  "sightings": ids.c.sightings + stmt.excluded.sightings},
        )
        conn.execute(stmt, rows)

    def _prune(self) -> None:
        """Forget trips that ended long before the newest sighting (at most every gap/2)."""
        assert self._watermark is not None
        if self._pruned_at is not None and self._watermark - self._pruned_at < self.rules.gap / 2:
            return
        self._pruned_at = self._watermark
        cutoff = self._watermark - self.rules.retain
        for key in list(self._states):
            state = self._states[key]
            old = [tid for tid, end in state.trip_end.items() if end < cutoff]
            if not old:
                continue
            for tid in old:
                for sid in state.trips.pop(tid, ()):
                    state.points.pop(sid, None)
                del state.trip_end[tid]
            if not state.trips:
                del self._states[key]
            else:
                state.covered_from = cutoff if state.covered_from is None else max(state.covered_from, cutoff)


def _least(a: Any, b: Any, dialect: str) -> Any:
    from sqlalchemy import func

    return func.min(a, b) if dialect == "sqlite" else func.least(a, b)


def _greatest(a: Any, b: Any, dialect: str) -> Any:
    from sqlalchemy import func

    return func.max(a, b) if dialect == "sqlite" else func.greatest(a, b)


# ---------------------------------------------------------------- the consumer process

GROUP = "analytics-trajectories"
COTRAVEL_GROUP = "analytics-cotravel"


class TrajectoryHandler:
    """The trajectory group's handler: guard, alert (watch list, cloned plate), build trips.

    Alerts and dead letters are flushed to the bus before the loop commits the batch, so
    a crash re-raises them (same ids) rather than losing them.
    """

    def __init__(self, bus: Bus, builder: TrajectoryBuilder, guard: SightingGuard,
                 detectors: Sequence[AlertDetector]) -> None:
        self.bus = bus
        self.builder = builder
        self.guard = guard
        self.detectors = list(detectors)
        self.alerts_raised = 0
        self._unsent: list[Alert] = []

    def __call__(self, batch: list[tuple[Topic, Record]]) -> None:
        sightings = [r for _topic, r in batch if isinstance(r, Sighting)]
        good, bad = self.guard.split(sightings)
        for rejection in bad:
            self.bus.publish(rejection.letter(GROUP), Topic.DEAD_LETTER)
        fresh = [a for detector in self.detectors for a in detector.check(good)]
        self.alerts_raised += len(fresh)
        # the detectors now count these sightings as seen: if the bus fails below, the retried
        # batch raises nothing new, so the alerts wait here and go out with the next attempt
        self._unsent += fresh
        for alert in self._unsent:
            self.bus.publish(alert)
        if bad or self._unsent:
            self.bus.flush()
        self._unsent = []
        self.builder.add(good)


class CoTravelHandler:
    """The co-travel group's handler (one member: it must see every identity's sightings)."""

    def __init__(self, bus: Bus, guard: SightingGuard, detector: CoTravelDetector) -> None:
        self.bus = bus
        self.guard = guard
        self.detector = detector
        self.alerts_raised = 0
        self._unsent: list[Alert] = []

    def __call__(self, batch: list[tuple[Topic, Record]]) -> None:
        good, _bad = self.guard.split(r for _topic, r in batch if isinstance(r, Sighting))
        fresh = self.detector.check(good)
        self.alerts_raised += len(fresh)
        self._unsent += fresh  # kept until the bus has them (see TrajectoryHandler)
        for alert in self._unsent:
            self.bus.publish(alert)
        if self._unsent:
            self.bus.flush()
        self._unsent = []


@dataclass(frozen=True, slots=True)
class TrajectorySettings:
    """The knobs of the trajectory and alert consumers (defaults suit a city district)."""

    rules: TripRules = TripRules()
    clone_kmh: float = 150.0
    co_travel: CoTravelRules = CoTravelRules()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrajectorySettings:
        """Overrides from CITYOPS_TRIP_GAP_MIN, CITYOPS_MAX_KMH (plausible trips and cloned
        plates), CITYOPS_COTRAVEL_S and CITYOPS_COTRAVEL_CAMERAS; refused when not numbers."""
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be more than 0, not {raw!r}")
            return value

        default = cls()
        max_kmh = number("CITYOPS_MAX_KMH", default.clone_kmh)
        rules = TripRules(gap=timedelta(minutes=number("CITYOPS_TRIP_GAP_MIN", default.rules.gap.total_seconds() / 60)),
                          max_kmh=max_kmh)
        co = CoTravelRules(
            within=timedelta(seconds=number("CITYOPS_COTRAVEL_S", default.co_travel.within.total_seconds())),
            min_cameras=int(number("CITYOPS_COTRAVEL_CAMERAS", default.co_travel.min_cameras)))
        return cls(rules=rules, clone_kmh=max_kmh, co_travel=co)


def trajectory_loops(bus: Bus, store: Store, district: District, watchlist: Watchlist | None,
                     knobs: TrajectorySettings = TrajectorySettings(),
                     stop: threading.Event | None = None, guard: SightingGuard | None = None,
                     ) -> tuple[ConsumerLoop, TrajectoryHandler, ConsumerLoop, CoTravelHandler]:
    """Both consumer loops with their handlers, not yet running (tests drive them)."""
    from analytics.ingest import TRANSIENT

    graph = CameraGraph.from_district(district)
    guard = guard or SightingGuard(c.id for c in district.cameras)
    detectors: list[AlertDetector] = [ClonedPlateDetector(graph, knobs.clone_kmh)]
    if watchlist is not None:
        detectors.insert(0, WatchlistAlerts(watchlist))
    handler = TrajectoryHandler(bus, TrajectoryBuilder(store, graph, knobs.rules), guard, detectors)
    loop = ConsumerLoop(bus, GROUP, [Topic.SIGHTINGS], handler, stop, max_records=2000,
                        transient=TRANSIENT)
    co_guard = SightingGuard(guard.camera_ids, guard.now, guard.max_future, guard.max_age)
    co_handler = CoTravelHandler(bus, co_guard, CoTravelDetector(knobs.co_travel))
    co_loop = ConsumerLoop(bus, COTRAVEL_GROUP, [Topic.SIGHTINGS], co_handler, stop, max_records=2000)
    return loop, handler, co_loop, co_handler


def run_trajectories(settings: Settings, stop: threading.Event, co_travel: bool = True) -> None:
    """The trajectory consumer process: trips, watch-list and cloned-plate alerts, and (unless
    `co_travel` is False, for extra members of a scaled-out group) the co-travel consumer."""
    from streams.bus import open_bus
    from streams.district import load_district

    district = load_district(settings.district_file)
    store = Store.open(settings.store_url)
    watchlist = Watchlist(settings.home)
    try:
        with open_bus(settings.bus_url, settings.home) as bus:
            knobs = TrajectorySettings.from_env()
            loop, handler, co_loop, co_handler = trajectory_loops(bus, store, district, watchlist, knobs,
                                                                  stop=stop)
            worker = None
            if co_travel:
                worker = threading.Thread(target=co_loop.run, name="co-travel", daemon=True)
                worker.start()
            log.info("trajectories: group %s%s on %s -> %s", GROUP,
                     f" and {COTRAVEL_GROUP}" if co_travel else "", settings.bus_url, store.safe_url)
            loop.run()
            if worker is not None:
                worker.join(timeout=30)
            b = handler.builder.stats
            log.info("trajectories stopped: %d sightings (%d replayed), %d trip writes, %d merged, "
                     "%d alerts (+%d co-travel), set aside %s", b.sightings, b.replayed, b.trips_written,
                     b.trips_merged, handler.alerts_raised, co_handler.alerts_raised,
                     dict(handler.guard.counts))
    finally:
        watchlist.close()
        store.close()

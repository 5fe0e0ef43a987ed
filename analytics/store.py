"""The store: every bus record kept in SQLite (default) or PostgreSQL, written idempotently.

`Store.open(url)` connects and migrates the schema to the newest revision (Alembic, with
a cross-process lock so that several processes may open the same store at once).
`Store.write(records)` stores a batch of bus records in one transaction; each record's
message id makes a replay harmless (INSERT ... ON CONFLICT DO NOTHING), and complaint
state is re-folded from the stored events, so a replayed event is never applied twice.
The read helpers return typed results for the dashboard and the other consumers.
"""

from __future__ import annotations

import argparse
import array
import logging
import sys
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from analytics import tables as t
from analytics.complaint_fold import ComplaintState, fold
from streams.records import (
    Alert,
    CameraStatus,
    ComplaintEvent,
    DeadLetter,
    GridEvent,
    GridEventKind,
    Sighting,
    Trajectory,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x0C17_0A95
"""PostgreSQL advisory lock taken while migrating (any constant unique to this app)."""
SQLITE_BUSY_TIMEOUT_MS = 30_000

Storable = BaseModel
"""What `write` accepts: any bus `Record`, plus `Trajectory` (made by analytics)."""


@dataclass(frozen=True, slots=True)
class ComplaintSummary:
    """The wall screen's complaint tiles."""

    today: int  # created since the given moment
    open: int
    overdue: int  # open and late now
    total: int


@dataclass(frozen=True, slots=True)
class GridComplaintCount:
    grid_id: str
    total: int
    open: int
    overdue: int


class Store:
    """One database. Thread-safe (pooled connections); open one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported store {parsed.render_as_string(hide_password=True)!r}: "
                             "use sqlite:///path or postgresql+psycopg://user@host/db")
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url)
        else:
            if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
        self._insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema to the newest revision."""
        store = cls(url)
        try:
            store.migrate()
        except Exception:
            store.close()
            raise
        return store

    @property
    def safe_url(self) -> str:
        """The URL without its password, for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    def migrate(self, revision: str = "head") -> None:
        """Run Alembic's `upgrade` under a lock, so concurrent opens wait for one another."""
        command = _alembic()
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at BEGIN (no upgrade races)."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------ writes

    def write(self, records: Sequence[Storable]) -> int:
        """Store a batch in one transaction; returns how many records were new.

        Records of an unknown type raise `TypeError` before anything is written.
        """
        groups: dict[type, list[Any]] = defaultdict(list)
        for record in records:
            if type(record) not in _WRITERS:
                raise TypeError(f"the store cannot write {type(record).__name__}")
            groups[type(record)].append(record)
        if not groups:
            return 0
        written = 0
        with self.transaction() as conn:
            for record_type, batch in groups.items():
                written += _WRITERS[record_type](self, conn, batch)
        return written

    def _insert_new(self, conn: Connection, table: Any, rows: list[dict[str, Any]],
                    key: str = "id") -> int:
        """INSERT ... ON CONFLICT DO NOTHING; returns the number of rows actually inserted."""
        if not rows:
            return 0
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=[key])
        if self.dialect == "sqlite":
            driver = conn.connection.driver_connection
            before = driver.total_changes
            conn.execute(stmt, rows)
            return int(driver.total_changes - before)
        inserted = conn.execute(stmt.returning(table.c[key]), rows).all()
        return len(inserted)

    def _upsert_latest(self, conn: Connection, table: Any, rows: list[dict[str, Any]],
                       key: str) -> int:
        """Keep one row per `key`: a newer (or equal) `ts` replaces it, an older one is ignored."""
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            held = latest.get(row[key])
            if held is None or row["ts"] >= held["ts"]:
                latest[row[key]] = row
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key],
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key},
            where=stmt.excluded.ts >= table.c.ts,
        )
        conn.execute(stmt, list(latest.values()))
        return len(latest)

    def _write_sightings(self, conn: Connection, batch: list[Sighting]) -> int:
        on_sqlite = self.dialect == "sqlite"
        rows = [  # in the table's column order (checked by a test)
            (
                s.id, s.camera_id, _sqlite_utc(s.ts) if on_sqlite else s.ts, s.kind.value,
                s.identity, s.confidence, *s.bbox, s.track_id, s.snapshot, s.plate_color,
                s.face_distance,
                None if s.encoding is None else array.array("f", s.encoding).tobytes(),
            )
            for s in batch
        ]
        if on_sqlite:  # the hot path: skip SQLAlchemy's per-row processing
            return _sqlite_insert_new(conn, t.sightings, rows)
        return _postgres_copy_new(conn, t.sightings, rows, SIGHTING_COPY_TYPES)

    def _write_camera_status(self, conn: Connection, batch: list[CameraStatus]) -> int:
        rows = [
            {"camera_id": c.camera_id, "ts": c.ts, "online": c.online, "fps_in": c.fps_in,
             "last_frame_ts": c.last_frame_ts, "error": c.error, "worker": c.worker,
             "message_id": c.id}
            for c in batch
        ]
        return self._upsert_latest(conn, t.camera_status, rows, "camera_id")

    def _write_alerts(self, conn: Connection, batch: list[Alert]) -> int:
        rows = [
            {"id": a.id, "ts": a.ts, "kind": a.kind.value, "severity": a.severity.value,
             "title": a.title, "detail": a.detail, "identity": a.identity,
             "camera_id": a.camera_id, "complaint_code": a.complaint_code, "grid_id": a.grid_id,
             "evidence": list(a.evidence), "recipients": list(a.recipients)}
            for a in batch
        ]
        return self._insert_new(conn, t.alerts, rows)

    def _write_grid_events(self, conn: Connection, batch: list[GridEvent]) -> int:
        positions = [
            {"worker_id": g.worker_id, "grid_id": g.grid_id, "ts": g.ts, "lat": g.lat,
             "lon": g.lon, "message_id": g.id}
            for g in batch if g.kind == GridEventKind.WORKER_POSITION and g.worker_id
        ]
        statuses = [
            {"grid_id": g.grid_id, "ts": g.ts, "status": g.status.value, "message_id": g.id}
            for g in batch if g.kind == GridEventKind.STATUS and g.status is not None
        ]
        written = 0
        if positions:
            written += self._upsert_latest(conn, t.worker_positions, positions, "worker_id")
        if statuses:
            written += self._upsert_latest(conn, t.grid_status, statuses, "grid_id")
        return written

    def _write_dead_letters(self, conn: Connection, batch: list[DeadLetter]) -> int:
        rows = [
            {"id": d.id, "ts": d.ts, "topic": d.topic, "consumer_group": d.consumer_group,
             "reason": d.reason, "payload": d.payload}
            for d in batch
        ]
        return self._insert_new(conn, t.dead_letters, rows)

    def _write_trajectories(self, conn: Connection, batch: list[Trajectory]) -> int:
        """A trip grows as sightings arrive: the newest version of a trajectory id wins."""
        rows = {
            tr.id: {"id": tr.id, "kind": tr.kind.value, "identity": tr.identity,
                    "start_ts": tr.start, "end_ts": tr.end, "point_count": len(tr.points),
                    "points": [p.model_dump(mode="json") for p in tr.points]}
            for tr in batch
        }
        stmt = self._insert(t.trajectories)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c.name: stmt.excluded[c.name] for c in t.trajectories.columns if c.name != "id"},
        )
        conn.execute(stmt, list(rows.values()))
        return len(rows)

    def _write_complaint_events(self, conn: Connection, batch: list[ComplaintEvent]) -> int:
        """Insert the new events, then re-fold every complaint they touch from all its events."""
        codes = sorted({e.code for e in batch})
        if self.dialect == "postgresql":  # two writers on one code must not fold concurrently
            keys = sorted({zlib.crc32(code.encode()) for code in codes})  # in order: no deadlocks
            conn.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                              "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS ordered"),
                         {"keys": keys})
        rows = [
            {"id": e.id, "code": e.code, "ts": e.ts, "type": e.type.value, "actor": e.actor,
             "note": e.note, "text": e.text, "category": e.category, "level": e.level,
             "lat": e.lat, "lon": e.lon, "grid_id": e.grid_id, "due_at": e.due_at,
             "source": e.source.value if e.source else None, "reporter": e.reporter,
             "photo": e.photo, "department": e.department, "rating": e.rating}
            for e in batch
        ]
        inserted = self._insert_new(conn, t.complaint_events, rows)
        if inserted:
            self._refold(conn, codes)
        return inserted

    def _refold(self, conn: Connection, codes: list[str]) -> None:
        ev = t.complaint_events
        by_code: dict[str, list[Any]] = defaultdict(list)
        for chunk in _chunks(codes, 500):
            query = select(ev).where(ev.c.code.in_(chunk)).order_by(ev.c.code, ev.c.ts, ev.c.seq)
            for row in conn.execute(query):
                by_code[row.code].append(row)
        states = [s for s in (fold(rows) for rows in by_code.values()) if s is not None]
        if not states:
            return
        stmt = self._insert(t.complaints)
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={c.name: stmt.excluded[c.name] for c in t.complaints.columns if c.name != "code"},
        )
        conn.execute(stmt, [_state_row(s) for s in states])

    # ------------------------------------------------------------------ reads

    def complaints_count(self, since: datetime | None = None) -> int:
        """Complaints created at or after `since` (all of them when None)."""
        query = select(func.count()).select_from(t.complaints)
        if since is not None:
            query = query.where(t.complaints.c.created_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def complaint_summary(self, since: datetime, now: datetime | None = None) -> ComplaintSummary:
        """Counts for the wall screen: created since `since`, open, overdue now, all time."""
        c = t.complaints
        now = now or datetime.now(UTC)
        is_open = c.c.state != "closed"
        late = is_open & (c.c.overdue | (c.c.handled_at.is_(None) & (c.c.due_at < now)))
        query = select(
            func.count().filter(c.c.created_at >= since),
            func.count().filter(is_open),
            func.count().filter(late),
            func.count(),
        )
        with self.engine.connect() as conn:
            today, opened, overdue, total = conn.execute(query).one()
        return ComplaintSummary(today=today, open=opened, overdue=overdue, total=total)

    def recent_complaints(self, limit: int = 20) -> list[ComplaintState]:
        """The newest complaints first, in their current state."""
        query = select(t.complaints).order_by(t.complaints.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_state_of(row) for row in conn.execute(query)]

    def complaint(self, code: str) -> ComplaintState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.complaints).where(t.complaints.c.code == code)).first()
        return None if row is None else _state_of(row)

    def complaint_trace(self, code: str) -> list[ComplaintEvent]:
        """Every stored event of one complaint, in order (the 'one click' trace)."""
        ev = t.complaint_events
        query = select(ev).where(ev.c.code == code).order_by(ev.c.ts, ev.c.seq)
        with self.engine.connect() as conn:
            return [_event_of(row) for row in conn.execute(query)]

    def codes_of_events(self, event_ids: Sequence[str]) -> dict[str, str]:
        """Event id -> complaint code, for those of `event_ids` already stored (re-imports)."""
        ev = t.complaint_events
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(event_ids), 500):
                found.update(conn.execute(select(ev.c.id, ev.c.code).where(ev.c.id.in_(chunk))).all())
        return found

    def complaint_events(self, since: datetime | None = None, limit: int | None = None
                         ) -> list[ComplaintEvent]:
        """Events in time order (arrival order among equal times), e.g. to rebuild measures."""
        ev = t.complaint_events
        query = select(ev).order_by(ev.c.ts, ev.c.seq)
        if since is not None:
            query = query.where(ev.c.ts >= since)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_event_of(row) for row in conn.execute(query)]

    def complaint_counts_by_grid(self, now: datetime | None = None) -> list[GridComplaintCount]:
        """Per grid with complaints: all, open, and open-and-late as of `now`."""
        c = t.complaints
        now = now or datetime.now(UTC)
        is_open = c.c.state != "closed"
        late = is_open & (c.c.overdue | (c.c.handled_at.is_(None) & (c.c.due_at < now)))
        query = (
            select(c.c.grid_id, func.count(), func.count().filter(is_open), func.count().filter(late))
            .group_by(c.c.grid_id)
            .order_by(c.c.grid_id)
        )
        with self.engine.connect() as conn:
            return [GridComplaintCount(g, n, o, late_n) for g, n, o, late_n in conn.execute(query)]

    def camera_statuses(self) -> list[CameraStatus]:
        """The latest heartbeat of every camera that ever sent one."""
        cs = t.camera_status
        with self.engine.connect() as conn:
            rows = conn.execute(select(cs).order_by(cs.c.camera_id)).all()
        return [
            CameraStatus(id=r.message_id, camera_id=r.camera_id, ts=r.ts, online=r.online,
                         fps_in=r.fps_in, last_frame_ts=r.last_frame_ts, error=r.error,
                         worker=r.worker)
            for r in rows
        ]

    def grid_status_levels(self) -> dict[str, str]:
        """Grid id -> 'normal' | 'attention' | 'alarm', as last published on the grid topic.

        Grids with no published status are absent (the caller shows them as normal).
        """
        with self.engine.connect() as conn:
            return dict(conn.execute(select(t.grid_status.c.grid_id, t.grid_status.c.status)).all())

    def worker_positions(self) -> list[GridEvent]:
        """The latest position of every grid worker."""
        wp = t.worker_positions
        with self.engine.connect() as conn:
            rows = conn.execute(select(wp).order_by(wp.c.worker_id)).all()
        return [
            GridEvent(id=r.message_id, ts=r.ts, grid_id=r.grid_id, kind=GridEventKind.WORKER_POSITION,
                      worker_id=r.worker_id, lat=r.lat, lon=r.lon)
            for r in rows
        ]

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest messages set aside, with their reasons."""
        dl = t.dead_letters
        with self.engine.connect() as conn:
            rows = conn.execute(select(dl).order_by(dl.c.ts.desc()).limit(limit)).all()
        return [DeadLetter(id=r.id, ts=r.ts, topic=r.topic, consumer_group=r.consumer_group,
                           reason=r.reason, payload=r.payload) for r in rows]

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for tests, benches and health checks)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table]))
                       .scalar_one())


_WRITERS: dict[type, Any] = {
    Sighting: Store._write_sightings,
    CameraStatus: Store._write_camera_status,
    Alert: Store._write_alerts,
    ComplaintEvent: Store._write_complaint_events,
    GridEvent: Store._write_grid_events,
    DeadLetter: Store._write_dead_letters,
    Trajectory: Store._write_trajectories,
}


def _sqlite_engine(url: str) -> Engine:
    """SQLite in WAL mode: readers never block the writer, a kill -9 loses nothing committed."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL
        # Checkpoint (and fsync) every ~200 MB of WAL instead of ~4 MB: index pages touched by
        # many batches are written back once per checkpoint (the WAL file is cut back to
        # 256 MB after one). Measured on sighting ingest: 10,000 frames instead of 1,000
        # doubled it; 50,000 with the bigger cache below added ~10% at 10M sightings.
        cursor.execute("PRAGMA wal_autocheckpoint = 50000")
        cursor.execute("PRAGMA journal_size_limit = 268435456")
        # Up to 128 MB of pages per connection (filled only as pages are read): a month's
        # table and indexes have ~80 MB of interior pages at 50M sightings (25x the 3.3 MB
        # counted at 2M), which then stay cached instead of being re-read on every insert.
        cursor.execute("PRAGMA cache_size = -131072")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _sqlite_utc(ts: datetime) -> str:
    """A time as `UtcDateTime` stores it on SQLite (naive UTC text, always with microseconds)."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_insert_new(conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> int:
    """Plain executemany of ready tuples (columns in table order), ignoring known ids."""
    columns = ", ".join(c.name for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    driver = conn.connection.driver_connection
    before = driver.total_changes
    cursor = driver.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table.name} ({columns}) VALUES ({marks}) "
                           "ON CONFLICT DO NOTHING", rows)
    finally:
        cursor.close()
    return int(driver.total_changes - before)


SIGHTING_COPY_TYPES = ("text", "text", "timestamptz", "text", "text", "float8", "int4", "int4",
                       "int4", "int4", "text", "text", "text", "float8", "bytea")
"""PostgreSQL types of the sightings columns, in table order, for binary COPY."""


def _postgres_copy_new(conn: Connection, table: Any, rows: list[tuple[Any, ...]],
                       types: Sequence[str]) -> int:
    """Binary COPY straight into the table, in a savepoint; if an id is already there (a
    replay), back to the savepoint and COPY into a session temp table, then INSERT ...
    SELECT ... ON CONFLICT DO NOTHING. Idempotent by id either way; new batches (nearly
    all of them) skip the temp table's write and read: ~30% less server CPU a sighting.
    Called at most once per transaction for a table (`Store.write` groups by type)."""
    from psycopg.errors import UniqueViolation  # psycopg only where PostgreSQL is used

    columns = ", ".join(c.name for c in table.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute("SAVEPOINT copy_new")  # inside the caller's transaction (begun by this)
        try:
            _copy_rows(cursor, f"COPY {table.name} ({columns}) FROM STDIN (FORMAT BINARY)", rows, types)
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT copy_new")
        else:
            cursor.execute("RELEASE SAVEPOINT copy_new")
            return len(rows)
        staging = f"{table.name}_incoming"
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table.name}) "
                       "ON COMMIT DELETE ROWS")
        _copy_rows(cursor, f"COPY {staging} ({columns}) FROM STDIN (FORMAT BINARY)", rows, types)
        cursor.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {staging} "
                       "ON CONFLICT DO NOTHING")
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {staging}")  # empty for the next batch in this transaction
        return int(inserted)
    finally:
        cursor.close()


def _copy_rows(cursor: Any, statement: str, rows: list[tuple[Any, ...]], types: Sequence[str]) -> None:
    with cursor.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _alembic() -> Any:
    """Alembic's command module, imported on first use with its chatty INFO logging muted."""
    quiet = logging.getLogger("alembic")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    from alembic import command

    return command


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _state_row(s: ComplaintState) -> dict[str, Any]:
    return {c.name: getattr(s, c.name) for c in t.complaints.columns}


def _state_of(row: Any) -> ComplaintState:
    return ComplaintState(**{c.name: getattr(row, c.name) for c in t.complaints.columns})


def _event_of(row: Any) -> ComplaintEvent:
    fields = {name: getattr(row, name) for name in ComplaintEvent.model_fields
              if name != "schema_version" and getattr(row, name, None) is not None}
    return ComplaintEvent.model_validate(fields)


def main(argv: list[str] | None = None) -> int:
    """Developer commands: migrate a store, or write a new revision from `analytics/tables.py`."""
    parser = argparse.ArgumentParser(prog="python -m analytics.store")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("migrate", help="upgrade a store to the newest revision")
    up.add_argument("--url", required=True)
    rev = sub.add_parser("revision", help="autogenerate a revision: tables.py vs a migrated scratch store")
    rev.add_argument("message")
    rev.add_argument("--url", default="sqlite:///var/scratch-migrations.db")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        with Store.open(args.url) as store:
            print(f"{store.safe_url}: at revision {store.revision()}")
        return 0
    with Store.open(args.url) as store, store.engine.connect() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        _alembic().revision(config, message=args.message, autogenerate=True)
        conn.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())

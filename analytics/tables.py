"""The store's schema as SQLAlchemy Core tables: one place both dialects and the migrations read.

The migrations in `analytics/migrations/versions` create exactly these tables; a test
checks that they agree. Times are stored in UTC (`UtcDateTime`) so that range queries
compare the same way on SQLite (text) and PostgreSQL (timestamptz).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both dialects.

    SQLite has no time zones: values are stored as naive UTC text, which sorts and
    compares correctly. PostgreSQL gets `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store needs time zones")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _serial() -> Any:
    """A 64-bit auto-increment key on PostgreSQL that is SQLite's rowid alias there."""
    return BigInteger().with_variant(Integer(), "sqlite")


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("camera_id", String(32), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("identity", String(64), nullable=False),
    Column("confidence", Float(), nullable=False),
    Column("x1", Integer(), nullable=False),
    Column("y1", Integer(), nullable=False),
    Column("x2", Integer(), nullable=False),
    Column("y2", Integer(), nullable=False),
    Column("track_id", String(64), nullable=False, server_default=""),
    Column("snapshot", String(256)),
    Column("plate_color", String(16)),
    Column("face_distance", Float()),
    Column("encoding", LargeBinary()),  # 128 little-endian float32 for faces
    Index(None, "identity", "ts"),
    Index(None, "camera_id", "ts"),
    # search by photo reads face encodings by time; faces are a few % of the rows
    Index("ix_sightings_face_ts", "ts", sqlite_where=text("kind = 'face'"),
          postgresql_where=text("kind = 'face'")),
)

camera_status = Table(
    "camera_status",
    metadata,
    Column("camera_id", String(32), primary_key=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("online", Boolean(), nullable=False),
    Column("fps_in", Float(), nullable=False),
    Column("last_frame_ts", UtcDateTime()),
    Column("error", String(500)),
    Column("worker", String(64), nullable=False, server_default=""),
    Column("message_id", String(64), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("detail", String(2000), nullable=False, server_default=""),
    Column("identity", String(64)),
    Column("camera_id", String(32)),
    Column("complaint_code", String(32)),
    Column("grid_id", String(32)),
    Column("evidence", JSON(), nullable=False),
    Column("recipients", JSON(), nullable=False),
    Index(None, "ts"),
    Index(None, "kind", "ts"),
)

complaint_events = Table(
    "complaint_events",
    metadata,
    Column("seq", _serial(), primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("code", String(32), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("type", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", String(2000), nullable=False, server_default=""),
    Column("text", Text()),
    Column("category", String(16)),
    Column("level", SmallInteger()),
    Column("lat", Float()),
    Column("lon", Float()),
    Column("grid_id", String(32)),
    Column("due_at", UtcDateTime()),
    Column("source", String(16)),
    Column("reporter", String(128)),
    Column("photo", String(256)),
    Column("department", String(32)),
    Column("rating", SmallInteger()),
    Index(None, "code", "ts"),
    Index(None, "ts"),
)

complaints = Table(
    "complaints",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("text", Text(), nullable=False),
    Column("category", String(16), nullable=False),
    Column("level", SmallInteger(), nullable=False),
    Column("lat", Float()),
    Column("lon", Float()),
    Column("grid_id", String(32), nullable=False),
    Column("department", String(32), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("source", String(16)),
    Column("reporter", String(128)),
    Column("photo", String(256)),
    Column("state", String(16), nullable=False),
    Column("accepted_at", UtcDateTime()),
    Column("dispatched_at", UtcDateTime()),
    Column("handled_at", UtcDateTime()),
    Column("supervised_count", Integer(), nullable=False),
    Column("rated_at", UtcDateTime()),
    Column("rating", SmallInteger()),
    Column("closed_at", UtcDateTime()),
    Column("closed_by_silence", Boolean(), nullable=False),
    Column("overdue", Boolean(), nullable=False),
    Column("redispatch_count", Integer(), nullable=False),
    Column("last_event_at", UtcDateTime(), nullable=False),
    Column("event_count", Integer(), nullable=False),
    Index(None, "created_at"),
    Index(None, "grid_id", "state"),
    Index(None, "department", "created_at"),
    Index(None, "state", "due_at"),
)

worker_positions = Table(
    "worker_positions",
    metadata,
    Column("worker_id", String(32), primary_key=True),
    Column("grid_id", String(32), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("lat", Float()),
    Column("lon", Float()),
    Column("message_id", String(64), nullable=False),
)

grid_status = Table(
    "grid_status",
    metadata,
    Column("grid_id", String(32), primary_key=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message_id", String(64), nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("consumer_group", String(128), nullable=False, server_default=""),
    Column("reason", String(2000), nullable=False),
    Column("payload", Text(), nullable=False),
    Index(None, "ts"),
)

trajectories = Table(
    "trajectories",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("identity", String(64), nullable=False),
    Column("start_ts", UtcDateTime(), nullable=False),
    Column("end_ts", UtcDateTime(), nullable=False),
    Column("point_count", Integer(), nullable=False),
    Column("points", JSON(), nullable=False),
    Index(None, "identity", "start_ts"),
    Index(None, "end_ts"),  # the wall screen's "trips of the last minutes"
)

complaint_code_counters = Table(
    "complaint_code_counters",
    metadata,
    Column("prefix", String(8), primary_key=True),
    Column("day", String(8), primary_key=True),  # YYYYMMDD, the district's local date
    Column("last", Integer(), nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("identity", String(64), primary_key=True),
    Column("first_ts", UtcDateTime(), nullable=False),
    Column("last_ts", UtcDateTime(), nullable=False),
    Column("sightings", BigInteger(), nullable=False),
)
"""Every plate and face identity ever seen, once: wildcard and fuzzy plate searches scan
this (~1M rows a month) instead of the sightings (~50M), then look each match up by index."""

# ------------------------------------------------------------ governance measures
# Written by the governance consumer (analytics/governance.py) from its incremental
# measures: absolute values, upserted for the keys each batch changed; read by the API.

governance_departments = Table(
    "governance_departments",
    metadata,
    Column("department", String(32), primary_key=True),
    Column("volume", Integer(), nullable=False),
    Column("handled", Integer(), nullable=False),
    Column("on_time", Integer(), nullable=False),
    Column("rating_sum", Integer(), nullable=False),
    Column("ratings", Integer(), nullable=False),
    Column("histogram", JSON(), nullable=False),  # {bucket: count}, see analytics/measures.py
)

governance_grid_levels = Table(
    "governance_grid_levels",
    metadata,
    Column("grid_id", String(32), primary_key=True),
    Column("level", SmallInteger(), primary_key=True),
    Column("open", Integer(), nullable=False),
    Column("overdue", Integer(), nullable=False),
    Column("rating_sum", Integer(), nullable=False),
    Column("ratings", Integer(), nullable=False),
)

governance_days = Table(
    "governance_days",
    metadata,
    Column("day", String(8), primary_key=True),  # YYYYMMDD, the district's local date
    Column("grid_id", String(32), primary_key=True),
    Column("level", SmallInteger(), primary_key=True),
    Column("created", Integer(), nullable=False),
    Column("closed", Integer(), nullable=False),
    Column("rating_sum", Integer(), nullable=False),
    Column("ratings", Integer(), nullable=False),
)

# ------------------------------------------------------------ security (issue 9)
# Who may log in to the dashboard (analytics/accounts.py) and what they looked at
# (analytics/audit.py). The audit log is append-only: the code has no update or delete
# path, and migration 0006 adds triggers that refuse UPDATE and DELETE in the database.

users = Table(
    "users",
    metadata,
    Column("id", _serial(), primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean(), nullable=False),
    Column("session_version", Integer(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
"""`session_version` goes up with every password change or disable: older sessions end."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _serial(), primary_key=True, autoincrement=True),
    Column("ts", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),  # user name, or cli:<os user>
    Column("role", String(16), nullable=False),
    Column("channel", String(16), nullable=False),  # dashboard | api | cli
    Column("action", String(48), nullable=False),  # search.plate, watchlist.enroll, ...
    Column("query", Text(), nullable=False),  # the question asked, as JSON
    Column("results", Integer(), nullable=True),  # how many results (None: refused or failed)
    Column("outcome", String(16), nullable=False),  # ok | denied | error
    Index(None, "ts"),
    Index(None, "actor", "ts"),
)

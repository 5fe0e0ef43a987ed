"""The record types every layer shares: one per stage of the data flow.

frame -> detection -> sighting -> trajectory (video); complaint event -> complaint
(governance). `Frame` and `Detection` live in memory only; the others travel on the bus as
JSON, each with a unique `id` so that every sink can write idempotently, and a
`schema_version` so that a consumer can refuse what it does not understand.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

BBox = tuple[int, int, int, int]
"""Pixel box (x1, y1, x2, y2) in the frame it came from."""


_id_lock = threading.Lock()
_id_last_ms = 0
_id_counter = 0
_COUNTER_BITS = 42


def new_id() -> str:
    """A message id that sorts by creation time: UUIDv7 (RFC 9562) as 32 hex digits.

    48 bits of Unix milliseconds, then a 42-bit counter (random at each new millisecond,
    +1 within one, so ids made in one process sort in the order they were made), then 32
    random bits. Stores index records by id: time-ordered ids append to that index
    instead of landing on a random page of it. Take no slice of it as an id of its own:
    its head is the clock, shared by every id of the same moment.
    """
    global _id_last_ms, _id_counter
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        if ms > _id_last_ms:
            counter = int.from_bytes(os.urandom(6)) >> (48 - _COUNTER_BITS + 1)  # top bit clear: room to count
        else:  # the same millisecond, or the clock stepped back: keep counting from the last id
            ms, counter = _id_last_ms, _id_counter + 1
            if counter >> _COUNTER_BITS:
                ms, counter = ms + 1, 0
        _id_last_ms, _id_counter = ms, counter
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (counter >> 30) << 64 | 0b10 << 62
             | (counter & 0x3FFF_FFFF) << 32 | int.from_bytes(os.urandom(4)))
    return f"{value:032x}"


def _forget_last_id() -> None:
    """A forked child starts its own count (else it could repeat its parent's next one)."""
    global _id_last_ms
    _id_last_ms = 0


os.register_at_fork(after_in_child=_forget_last_id)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    """Base of every bus message: an id for idempotent sinks and a schema version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SCHEMA: ClassVar[int] = SCHEMA_VERSION
    schema_version: Literal[1] = SCHEMA_VERSION
    id: Annotated[str, Field(min_length=8, max_length=64)] = Field(default_factory=new_id)

    @field_validator("*", mode="after")
    @classmethod
    def _aware_times(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value

    def key(self) -> str | None:
        """Partition key on the bus (ordering holds per key); None means any partition."""
        return None


# ---------------------------------------------------------------- video: in memory


@dataclass(slots=True)
class Frame:
    """One decoded image from a camera or a file (never sent on the bus)."""

    camera_id: str
    index: int
    ts: datetime
    image: Any  # numpy.ndarray, HxWx3 BGR uint8


class SightingKind(StrEnum):
    PLATE = "plate"
    FACE = "face"


@dataclass(slots=True)
class Detection:
    """What a detector found in one frame: a box and what was read in it.

    Plates carry `text` (normalised, e.g. 黑A12345), per-character confidences and a
    colour; faces carry a 128-d `encoding` and, once matched, a `name` and `distance`.
    """

    kind: SightingKind
    bbox: BBox
    score: float
    text: str | None = None
    char_confidences: list[float] = field(default_factory=list)
    color: str | None = None
    encoding: list[float] | None = None
    name: str | None = None
    distance: float | None = None
    frame_index: int = 0
    track_id: int | None = None


# ---------------------------------------------------------------- video: on the bus


class Sighting(Record):
    """One identity seen once by one camera: the output of a whole camera pass."""

    camera_id: Annotated[str, Field(min_length=1, max_length=32)]
    ts: datetime
    kind: SightingKind
    identity: Annotated[str, Field(min_length=1, max_length=64)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    bbox: BBox
    track_id: Annotated[str, Field(max_length=64)] = ""
    snapshot: Annotated[str, Field(max_length=256)] | None = None
    plate_color: Annotated[str, Field(max_length=16)] | None = None
    face_distance: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    encoding: list[float] | None = None

    @field_validator("encoding")
    @classmethod
    def _encoding_size(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) != 128:
            raise ValueError("a face encoding has 128 numbers")
        return value

    def key(self) -> str:
        return f"{self.kind.value}:{self.identity}"


class CameraStatus(Record):
    """Heartbeat of one camera pipeline, sent every few seconds and on every change."""

    camera_id: Annotated[str, Field(min_length=1, max_length=32)]
    ts: datetime
    online: bool
    fps_in: Annotated[float, Field(ge=0.0)] = 0.0
    last_frame_ts: datetime | None = None
    error: Annotated[str, Field(max_length=500)] | None = None
    worker: Annotated[str, Field(max_length=64)] = ""

    def key(self) -> str:
        return self.camera_id


class AlertKind(StrEnum):
    WATCHLIST = "watchlist"
    CLONED_PLATE = "cloned_plate"
    CO_TRAVEL = "co_travel"
    OVERDUE_WARNING = "overdue_warning"
    OVERDUE = "overdue"
    COMPLAINT_NOTICE = "complaint_notice"
    CAMERA_OFFLINE = "camera_offline"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Alert(Record):
    """Something an operator or analyst must see now, with the evidence behind it."""

    ts: datetime
    kind: AlertKind
    severity: Severity = Severity.WARNING
    title: Annotated[str, Field(min_length=1, max_length=200)]
    detail: Annotated[str, Field(max_length=2000)] = ""
    identity: Annotated[str, Field(max_length=64)] | None = None
    camera_id: Annotated[str, Field(max_length=32)] | None = None
    complaint_code: Annotated[str, Field(max_length=32)] | None = None
    grid_id: Annotated[str, Field(max_length=32)] | None = None
    evidence: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)
    recipients: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)

    def key(self) -> str | None:
        return self.identity or self.complaint_code or self.camera_id


# ---------------------------------------------------------------- governance


class ComplaintEventType(StrEnum):
    CREATED = "created"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    SUPERVISED = "supervised"
    RATED = "rated"
    OVERDUE = "overdue"
    REDISPATCHED = "redispatched"
    CLOSED = "closed"


class ComplaintSource(StrEnum):
    APP = "app"
    HOTLINE = "hotline"
    OBSERVER = "observer"
    GRID_WORKER = "grid_worker"
    SIMULATOR = "simulator"


COMPLAINT_CODE_PATTERN = r"^[A-Z]{2,4}-\d{8}-\d{6}$"


class ComplaintEvent(Record):
    """One step in a complaint's life; the complaint's state is the fold of its events."""

    code: Annotated[str, Field(pattern=COMPLAINT_CODE_PATTERN)]
    ts: datetime
    type: ComplaintEventType
    actor: Annotated[str, Field(max_length=64)] = "system"
    note: Annotated[str, Field(max_length=2000)] = ""
    # created
    text: Annotated[str, Field(max_length=4000)] | None = None
    category: Annotated[str, Field(max_length=16)] | None = None
    level: Annotated[int, Field(ge=1, le=5)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    grid_id: Annotated[str, Field(max_length=32)] | None = None
    due_at: datetime | None = None
    source: ComplaintSource | None = None
    reporter: Annotated[str, Field(max_length=128)] | None = None
    photo: Annotated[str, Field(max_length=256)] | None = None
    # created / dispatched / redispatched
    department: Annotated[str, Field(max_length=32)] | None = None
    # rated
    rating: Annotated[int, Field(ge=1, le=5)] | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> ComplaintEvent:
        required: dict[ComplaintEventType, tuple[str, ...]] = {
            ComplaintEventType.CREATED: ("text", "category", "level", "grid_id", "due_at", "department"),
            ComplaintEventType.DISPATCHED: ("department",),
            ComplaintEventType.REDISPATCHED: ("department",),
            ComplaintEventType.RATED: ("rating",),
        }
        missing = [name for name in required.get(self.type, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a '{self.type.value}' event needs {', '.join(missing)}")
        return self

    def key(self) -> str:
        return self.code


class GridEventKind(StrEnum):
    WORKER_POSITION = "worker_position"
    STATUS = "status"


class GridStatusLevel(StrEnum):
    NORMAL = "normal"
    ATTENTION = "attention"
    ALARM = "alarm"


class GridEvent(Record):
    """A grid worker's position, or a change of a grid's status for the wall screen."""

    ts: datetime
    grid_id: Annotated[str, Field(min_length=1, max_length=32)]
    kind: GridEventKind
    worker_id: Annotated[str, Field(max_length=32)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    status: GridStatusLevel | None = None

    def key(self) -> str:
        return self.grid_id


class DeadLetter(Record):
    """A message a consumer could not use, set aside with the reason (never dropped)."""

    ts: datetime = Field(default_factory=utcnow)
    topic: Annotated[str, Field(max_length=128)]
    consumer_group: Annotated[str, Field(max_length=128)] = ""
    reason: Annotated[str, Field(max_length=2000)]
    payload: str  # the original bytes, as UTF-8 text or 'base64:'-prefixed

    def key(self) -> str:
        return self.topic


# ---------------------------------------------------------------- analytics: stored


class TrajectoryPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    sighting_id: str
    camera_id: str
    ts: datetime
    lat: float
    lon: float


class Trajectory(BaseModel):
    """One trip of one identity: its sightings in time order, split from the next by a gap."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: SightingKind
    identity: str
    start: datetime
    end: datetime
    points: list[TrajectoryPoint]

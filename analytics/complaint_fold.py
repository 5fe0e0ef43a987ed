"""A complaint's current state as the fold of its events, in time order.

The store keeps every event and re-folds a complaint from all of its stored events
whenever a new one arrives, so a replayed or out-of-order event can never be applied
twice or in the wrong order. The fold is lenient (it records what happened); refusing
illegal transitions is the lifecycle service's job, before events are published.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from streams.records import ComplaintEventType as T


class EventLike(Protocol):
    """What the fold reads: a `ComplaintEvent` or a stored row with the same columns."""

    code: str
    ts: datetime
    type: str
    text: str | None
    category: str | None
    level: int | None
    lat: float | None
    lon: float | None
    grid_id: str | None
    due_at: datetime | None
    source: str | None
    reporter: str | None
    photo: str | None
    department: str | None
    rating: int | None


@dataclass(slots=True)
class ComplaintState:
    """One complaint now. `state` is the last step reached (see `ComplaintEventType`)."""

    code: str
    created_at: datetime
    text: str
    category: str
    level: int
    grid_id: str
    department: str
    due_at: datetime
    state: str
    last_event_at: datetime
    lat: float | None = None
    lon: float | None = None
    source: str | None = None
    reporter: str | None = None
    photo: str | None = None
    accepted_at: datetime | None = None
    dispatched_at: datetime | None = None
    handled_at: datetime | None = None
    supervised_count: int = 0
    rated_at: datetime | None = None
    rating: int | None = None
    closed_at: datetime | None = None
    closed_by_silence: bool = False
    overdue: bool = False
    """An `overdue` event was seen, or it was handled (or closed unhandled) after `due_at`."""
    redispatch_count: int = 0
    event_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.state != T.CLOSED

    def late_at(self, now: datetime) -> bool:
        """Overdue as of `now`: flagged, or still unhandled past its due time."""
        return self.overdue or (self.handled_at is None and self.is_open and now > self.due_at)


def fold(events: Iterable[EventLike]) -> ComplaintState | None:
    """The state after `events` (sorted here by time, stable); None until `created` is seen."""
    ordered = sorted(events, key=lambda e: e.ts)
    created = next((e for e in ordered if e.type == T.CREATED), None)
    if created is None:
        return None
    assert created.text is not None and created.category is not None
    assert created.level is not None and created.grid_id is not None
    assert created.due_at is not None and created.department is not None
    s = ComplaintState(
        code=created.code, created_at=created.ts, text=created.text, category=created.category,
        level=created.level, grid_id=created.grid_id, department=created.department,
        due_at=created.due_at, state=T.CREATED.value, last_event_at=created.ts,
        lat=created.lat, lon=created.lon, source=created.source, reporter=created.reporter,
        photo=created.photo,
    )
    for e in ordered:
        s.event_count += 1
        s.last_event_at = max(s.last_event_at, e.ts)
        if e is created:
            continue
        kind = T(e.type)
        if kind == T.CREATED:  # a second 'created' for the same code: keep the first
            continue
        if kind == T.ACCEPTED:
            s.accepted_at = s.accepted_at or e.ts
        elif kind in (T.DISPATCHED, T.REDISPATCHED):
            s.department = e.department or s.department
            s.dispatched_at = e.ts
            s.handled_at = None  # a new dispatch restarts the handling
            if kind == T.REDISPATCHED:
                s.redispatch_count += 1
        elif kind == T.HANDLED:
            s.handled_at = e.ts
            if e.ts > s.due_at:
                s.overdue = True
        elif kind == T.SUPERVISED:
            s.supervised_count += 1
        elif kind == T.OVERDUE:
            s.overdue = True
        elif kind == T.RATED:
            s.rating, s.rated_at = e.rating, e.ts
        elif kind == T.CLOSED:
            s.closed_at = e.ts
            s.closed_by_silence = s.rating is None
            if s.handled_at is None and e.ts > s.due_at:
                s.overdue = True
        if kind != T.OVERDUE and s.state != T.CLOSED:
            s.state = kind.value
    return s

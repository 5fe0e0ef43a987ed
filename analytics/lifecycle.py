"""The complaint state machine: which step may follow which, checked before publishing.

accepted -> dispatched -> handled -> (supervised) -> rated -> closed, with:
- a second dispatch (`redispatch`, to another department or back) when the department
  refuses the job before handling it, or when the reporter rates the handling 1-2;
- supervision (督办) by the supervision bureau at any time between dispatch and rating;
- closing only after the reporter's rating, or after `silence` with no rating once the
  complaint was handled, marked as closed by silence;
- `overdue`, a system step, once an unhandled open complaint passes its due time.

The fold (`analytics.complaint_fold`) is lenient and records whatever happened; this module
refuses what must not happen, with an error naming the code, the state and the step. The
`Lifecycle` service checks a step against the complaint's stored events (plus the events
it published itself that the store has not ingested yet, so that two quick steps from one
API process see each other) and publishes the event on the bus; the store and the
governance consumer fold it from there.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from analytics.complaint_fold import ComplaintState, fold
from streams.records import ComplaintEvent
from streams.records import ComplaintEventType as T

DEFAULT_SILENCE = timedelta(hours=72)
"""A handled complaint the reporter never rates closes by silence after this long."""
SILENCE_ENV = "CITYOPS_SILENCE_HOURS"


def silence_from_env() -> timedelta:
    """The silence before closing unrated complaints: CITYOPS_SILENCE_HOURS, default 72."""
    raw = os.environ.get(SILENCE_ENV, "").strip()
    if not raw:
        return DEFAULT_SILENCE
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 365:
        raise ValueError(f"{SILENCE_ENV}={raw!r}: give the hours of silence, e.g. 72")
    return timedelta(hours=hours)


MAX_PENDING_CODES = 10_000
"""Complaints whose just-published events are remembered until the store has them."""
LIFECYCLE_NAMESPACE = uuid.UUID("0d6f3c1a-4f6b-4a55-9d0e-6c1f7b2e9a31")


class Phase(StrEnum):
    """Where a complaint stands for the state machine (finer than the fold's last step:
    'supervised' is not a phase, it happens within dispatched or handled)."""

    CREATED = "created"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    RATED = "rated"
    CLOSED = "closed"


class Step(StrEnum):
    ACCEPT = "accept"
    DISPATCH = "dispatch"
    HANDLE = "handle"
    SUPERVISE = "supervise"
    RATE = "rate"
    REDISPATCH = "redispatch"
    CLOSE = "close"
    OVERDUE = "overdue"


EVENT_OF: dict[Step, T] = {
    Step.ACCEPT: T.ACCEPTED, Step.DISPATCH: T.DISPATCHED, Step.HANDLE: T.HANDLED,
    Step.SUPERVISE: T.SUPERVISED, Step.RATE: T.RATED, Step.REDISPATCH: T.REDISPATCHED,
    Step.CLOSE: T.CLOSED, Step.OVERDUE: T.OVERDUE,
}

ALLOWED: dict[Phase, tuple[Step, ...]] = {
    Phase.CREATED: (Step.ACCEPT, Step.OVERDUE),
    Phase.ACCEPTED: (Step.DISPATCH, Step.OVERDUE),
    Phase.DISPATCHED: (Step.HANDLE, Step.SUPERVISE, Step.REDISPATCH, Step.OVERDUE),
    Phase.HANDLED: (Step.RATE, Step.SUPERVISE, Step.CLOSE),  # close: only by silence
    Phase.RATED: (Step.CLOSE, Step.REDISPATCH),  # redispatch: only after a 1-2 rating
    Phase.CLOSED: (),
}


class TransitionError(ValueError):
    """An illegal step; the message names the complaint, its phase and the step refused."""

    def __init__(self, code: str, phase: Phase | str, step: Step | str, why: str = "") -> None:
        allowed = ", ".join(s.value for s in ALLOWED.get(Phase(phase), ())) or "nothing (it is closed)"
        message = f"complaint {code} is {Phase(phase).value}: cannot {Step(step).value}"
        message += f" ({why})" if why else f" (allowed now: {allowed})"
        super().__init__(message)
        self.code, self.phase, self.step = code, Phase(phase), Step(step)


class UnknownComplaint(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no complaint with code {code}")
        self.code = code


def phase_of(s: ComplaintState) -> Phase:
    if not s.is_open:
        return Phase.CLOSED
    if s.accepted_at is None:
        return Phase.CREATED
    if s.dispatched_at is None:
        return Phase.ACCEPTED
    if s.handled_at is None:
        return Phase.DISPATCHED
    if s.rating is not None and s.rated_at is not None and s.rated_at >= s.handled_at:
        return Phase.RATED
    return Phase.HANDLED


def silence_ends(s: ComplaintState, silence: timedelta) -> datetime | None:
    """When a handled, unrated complaint may be closed by silence (None if not waiting)."""
    return s.handled_at + silence if phase_of(s) is Phase.HANDLED and s.handled_at else None


def check(s: ComplaintState, step: Step, now: datetime, *, rating: int | None = None,
          department: str | None = None, silence: timedelta = DEFAULT_SILENCE) -> None:
    """Raise `TransitionError` unless `step` may happen to `s` at `now`."""
    phase = phase_of(s)
    if step not in ALLOWED[phase]:
        raise TransitionError(s.code, phase, step)
    if step is Step.RATE and (rating is None or not 1 <= rating <= 5):
        raise TransitionError(s.code, phase, step, f"a rating is 1 to 5, got {rating}")
    if step in (Step.DISPATCH, Step.REDISPATCH) and not department:
        raise TransitionError(s.code, phase, step, "name the department to send it to")
    if step is Step.REDISPATCH and phase is Phase.RATED and (s.rating or 5) > 2:
        raise TransitionError(s.code, phase, step, f"a second dispatch after rating needs a "
                              f"rating of 1-2, it was rated {s.rating}")
    if step is Step.CLOSE and phase is Phase.HANDLED:
        ends = silence_ends(s, silence)
        assert ends is not None
        if now < ends:
            raise TransitionError(s.code, phase, step, "not rated yet: it closes after the reporter's "
                                  f"rating, or by silence from {ends:%Y-%m-%d %H:%M} UTC")
    if step is Step.OVERDUE and (s.overdue or now < s.due_at):
        why = "already overdue" if s.overdue else f"due at {s.due_at:%Y-%m-%d %H:%M} UTC"
        raise TransitionError(s.code, phase, step, why)


class EventSource(Protocol):
    """Where a complaint's stored events come from (an `analytics.store.Store`)."""

    def complaint_trace(self, code: str) -> list[ComplaintEvent]: ...


class Publisher(Protocol):
    def publish(self, record: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Transition:
    """What a caller asks for; `actor` is who does it (a department id, a person, 'system')."""

    step: Step
    actor: str = "command-center"
    note: str = ""
    department: str | None = None
    rating: int | None = None


class Lifecycle:
    """Checks steps against a complaint's events and publishes them (thread-safe)."""

    def __init__(self, store: EventSource, bus: Publisher, *, departments: set[str] | None = None,
                 silence: timedelta = DEFAULT_SILENCE,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.bus = bus
        self.departments = departments
        self.silence = silence
        self.clock = clock
        self._pending: dict[str, list[ComplaintEvent]] = {}
        self._lock = threading.RLock()

    def publish(self, event: ComplaintEvent) -> None:
        """Publish an event and remember it until the store has it (read-your-writes)."""
        with self._lock:
            self.bus.publish(event)
            self._pending.setdefault(event.code, []).append(event)
            while len(self._pending) > MAX_PENDING_CODES:  # the store is not ingesting: forget the oldest
                self._pending.pop(next(iter(self._pending)))
        flush = getattr(self.bus, "flush", None)
        if flush is not None:
            flush()

    def trace(self, code: str) -> list[ComplaintEvent]:
        """Every event of the complaint, in order: stored ones plus those still on their way."""
        stored = self.store.complaint_trace(code)
        with self._lock:
            known = {e.id for e in stored}
            pending = [e for e in self._pending.get(code, []) if e.id not in known]
            if pending:
                self._pending[code] = pending
            else:
                self._pending.pop(code, None)
        return sorted([*stored, *pending], key=lambda e: e.ts)

    def state(self, code: str) -> ComplaintState:
        s = fold(self.trace(code))
        if s is None:
            raise UnknownComplaint(code)
        return s

    def apply(self, code: str, t: Transition) -> ComplaintEvent:
        """Check `t` against the complaint now and publish its event; returns the event."""
        if t.department is not None and self.departments is not None and t.department not in self.departments:
            raise ValueError(f"unknown department {t.department!r}")
        with self._lock:
            events = self.trace(code)
            s = fold(events)
            if s is None:
                raise UnknownComplaint(code)
            now = max(self.clock(), s.last_event_at + timedelta(microseconds=1))  # keeps the trace ordered
            check(s, t.step, now, rating=t.rating, department=t.department, silence=self.silence)
            note = t.note
            if t.step is Step.CLOSE and phase_of(s) is Phase.HANDLED:
                note = note or f"closed by silence: no rating within {self.silence.total_seconds() / 3600:g} h"
            event = ComplaintEvent(
                id=uuid.uuid5(LIFECYCLE_NAMESPACE, f"{code}:{len(events)}:{t.step.value}").hex,
                code=code, ts=now, type=EVENT_OF[t.step], actor=t.actor, note=note,
                department=t.department if t.step in (Step.DISPATCH, Step.REDISPATCH) else None,
                rating=t.rating if t.step is Step.RATE else None,
            )
            self.publish(event)
            return event

    # the steps by name, for callers that prefer them
    def accept(self, code: str, actor: str = "command-center", note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.ACCEPT, actor, note))

    def dispatch(self, code: str, department: str, actor: str = "command-center", note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.DISPATCH, actor, note, department=department))

    def handle(self, code: str, actor: str, note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.HANDLE, actor, note))

    def supervise(self, code: str, actor: str, note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.SUPERVISE, actor, note))

    def rate(self, code: str, rating: int, actor: str = "reporter", note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.RATE, actor, note, rating=rating))

    def redispatch(self, code: str, department: str, actor: str = "command-center", note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.REDISPATCH, actor, note, department=department))

    def close(self, code: str, actor: str = "system", note: str = "") -> ComplaintEvent:
        return self.apply(code, Transition(Step.CLOSE, actor, note))

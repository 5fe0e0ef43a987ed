"""Overdue early warning, overdue marking, flat notification and closing by silence.

- When a complaint arrives, its department, the supervision bureau and (for level 1-2, or
  a hot item) the district leaders are notified at once, side by side, not level by level:
  one `Alert(kind=complaint_notice)` with all of them as recipients. "Hot" means the same
  type reported in the same street at least `hot_count` times within `hot_window`.
- Before the due time (at `warn_share` of the time limit) an unhandled complaint raises an
  `overdue_warning` alert to the department and the bureau; at the due time an `overdue`
  complaint event and a critical `overdue` alert (leaders too for level 1-2).
- A handled complaint with no rating for `silence` is closed by silence (a `closed` event).

All ids are derived from the complaint and the step, so a restarted watch that emits the
same thing again produces the same ids, which every sink ignores. Alerts about moments
long past (a history being replayed) are not raised: only the events are.
"""

from __future__ import annotations

import heapq
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from analytics.complaint_book import Change, ComplaintBook
from analytics.complaint_fold import ComplaintState
from analytics.lifecycle import DEFAULT_SILENCE, Phase, Step, TransitionError, check, phase_of
from streams.records import Alert, AlertKind, ComplaintEvent, Record, Severity
from streams.records import ComplaintEventType as T

SLA_NAMESPACE = uuid.UUID("a3c1b7e4-2d55-4f0e-8c61-93f1d0b7a2c4")
LEADERS = "district-leaders"
SUPERVISION = "supervision"


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    warn_share: float = 0.75
    silence: timedelta = DEFAULT_SILENCE
    silence_grace: timedelta = timedelta(minutes=10)
    """Extra wait before closing by silence, so a rating sent at the last minute wins."""
    hot_count: int = 3
    hot_window: timedelta = timedelta(hours=24)
    alert_horizon: timedelta = timedelta(hours=1)
    """Alerts about moments older than this (by the wall clock) are not raised: a replayed
    history produces its events, not a flood of stale alerts."""


def _id(*parts: object) -> str:
    return uuid.uuid5(SLA_NAMESPACE, ":".join(str(p) for p in parts)).hex


class SlaWatch:
    def __init__(self, district: Any, policy: SlaPolicy = SlaPolicy()) -> None:
        self.district = district
        self.policy = policy
        self.supervisor = next((d.id for d in district.departments
                                if "supervision" in d.name_en.lower()), SUPERVISION)
        self._timers: list[tuple[datetime, int, str, str]] = []  # (when, seq, what, code)
        self._seq = 0
        self._done: dict[str, set[str]] = defaultdict(set)
        self._recent: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)

    # ------------------------------------------------------------ recipients

    def recipients(self, s: ComplaintState, hot: bool, overdue: bool = False) -> list[str]:
        people = [s.department, self.supervisor]
        if s.level <= 2 or hot:
            people.append(LEADERS)
        return people if not overdue or s.level <= 2 or hot else people[:2]

    def _is_hot(self, s: ComplaintState) -> bool:
        street = self.district.street_of(s.grid_id) if hasattr(self.district, "street_of") else None
        key = (street.id if street else s.grid_id, s.category)
        seen = self._recent[key]
        seen.append(s.created_at)
        while seen and seen[0] < s.created_at - self.policy.hot_window:
            seen.popleft()
        return len(seen) >= self.policy.hot_count

    # ------------------------------------------------------------ reacting to changes

    def observe(self, change: Change, wall: datetime) -> list[Record]:
        """Arm the timers for a changed complaint; a new one is notified (if recent)."""
        s, before = change.after, change.before
        out: list[Record] = []
        if s is None:
            return out
        if not s.is_open:
            self._done.pop(s.code, None)
            return out
        if before is None:
            hot = self._is_hot(s)
            if s.created_at >= wall - self.policy.alert_horizon:
                who = self.recipients(s, hot)
                kind = self.district.complaint_type(s.category)
                out.append(Alert(
                    id=_id(s.code, "notice"), ts=s.created_at, kind=AlertKind.COMPLAINT_NOTICE,
                    severity=Severity.CRITICAL if s.level == 1 else Severity.WARNING if s.level == 2 or hot
                    else Severity.INFO,
                    title=f"{'热点 ' if hot else ''}{s.level}级 {kind.name_zh}: {s.code}",
                    detail=s.text[:500], complaint_code=s.code, grid_id=s.grid_id, recipients=who))
        if s.handled_at is None and (before is None or before.due_at != s.due_at
                                     or before.handled_at is not None):
            limit = s.due_at - s.created_at
            self._arm(s.created_at + limit * self.policy.warn_share, "warn", s.code)
            self._arm(s.due_at, "due", s.code)
        if phase_of(s) is Phase.HANDLED and s.handled_at and (before is None or before.handled_at != s.handled_at):
            self._arm(s.handled_at + self.policy.silence + self.policy.silence_grace, "silence", s.code)
        return out

    def _arm(self, when: datetime, what: str, code: str) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, what, code))

    # ------------------------------------------------------------ the clock

    def tick(self, now: datetime, book: ComplaintBook, wall: datetime | None = None) -> list[Record]:
        """Everything due by `now` (warnings, overdue, silence closes) as records to publish;
        `wall` is the wall clock (default `now`), which decides whether an alert is stale."""
        wall = wall or now
        out: list[Record] = []
        while self._timers and self._timers[0][0] <= now:
            when, _, what, code = heapq.heappop(self._timers)
            s = book.state(code)
            if s is None or what in self._done[code]:
                continue
            recent = when >= wall - self.policy.alert_horizon
            if what == "warn" and s.handled_at is None and not s.overdue:
                self._done[code].add(what)
                if recent:
                    out.append(self._alert(s, AlertKind.OVERDUE_WARNING, when, Severity.WARNING,
                                           f"即将超期 {s.code}: due {s.due_at:%m-%d %H:%M} UTC",
                                           self.recipients(s, hot=False)[:2]))
            elif what == "due" and s.handled_at is None and when == s.due_at:
                try:
                    check(s, Step.OVERDUE, now)
                except TransitionError:
                    continue
                self._done[code].add(what)
                out.append(ComplaintEvent(id=_id(code, "overdue", s.due_at.isoformat()), code=code,
                                          ts=s.due_at, type=T.OVERDUE, actor="sla",
                                          note="超期: not handled by its due time"))
                if recent:
                    out.append(self._alert(s, AlertKind.OVERDUE, when, Severity.CRITICAL,
                                           f"已超期 {s.code}: {s.department}",
                                           self.recipients(s, hot=False, overdue=True)))
            elif what == "silence" and phase_of(s) is Phase.HANDLED and s.handled_at is not None \
                    and when == s.handled_at + self.policy.silence + self.policy.silence_grace:
                self._done[code].add(what)
                hours = self.policy.silence.total_seconds() / 3600
                out.append(ComplaintEvent(id=_id(code, "silence", s.handled_at.isoformat()), code=code,
                                          ts=s.handled_at + self.policy.silence, type=T.CLOSED,
                                          actor="system", note=f"closed by silence: no rating within {hours:g} h"))
        return out

    def _alert(self, s: ComplaintState, kind: AlertKind, ts: datetime, severity: Severity, title: str,
               recipients: list[str]) -> Alert:
        return Alert(id=_id(s.code, kind.value, s.due_at.isoformat()), ts=ts, kind=kind, severity=severity,
                     title=title, detail=s.text[:500], complaint_code=s.code, grid_id=s.grid_id,
                     recipients=recipients)

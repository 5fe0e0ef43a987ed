"""Each community grid's state for the wall screen: normal, attention or alarm.

The state comes from what the operators must act on in that grid:
- alarm: 3 or more open overdue complaints, an open overdue complaint of level 1-2, or 2 or
  more security alerts (watch list, cloned plate, co-travel) there in the last hour;
- attention: any open overdue complaint, 5 or more open complaints, an open level-1
  complaint, a camera of the grid offline, or one security alert in the last hour;
- normal otherwise.
A `GridEvent(kind=status)` is published only when a grid's state changes (a grid never
published is normal, as the wall assumes).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from analytics.measures import G_OPEN, G_OVERDUE, Measures
from streams.records import (
    Alert,
    AlertKind,
    CameraStatus,
    GridEvent,
    GridEventKind,
    GridStatusLevel,
)

SECURITY_ALERTS = {AlertKind.WATCHLIST, AlertKind.CLONED_PLATE, AlertKind.CO_TRAVEL}


@dataclass(frozen=True, slots=True)
class StatusRules:
    alarm_overdue: int = 3
    attention_open: int = 5
    alarm_alerts: int = 2
    alert_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class GridSituation:
    """What a grid's state was decided from (also what the API shows)."""

    grid_id: str
    status: GridStatusLevel
    open: int
    overdue: int
    urgent_overdue: int
    urgent_open: int
    cameras_offline: int
    recent_alerts: int


class GridStatus:
    def __init__(self, district: Any, measures: Measures, rules: StatusRules = StatusRules(),
                 published: dict[str, str] | None = None) -> None:
        self.district = district
        self.measures = measures
        self.rules = rules
        self.grid_ids = [g.id for g in district.community_grids()]
        self.camera_grid: dict[str, str] = {}
        for camera in district.cameras:
            grid = district.grid_at(camera.lat, camera.lon)
            if grid is not None:
                self.camera_grid[camera.id] = grid.id
        self.offline: set[str] = set()
        self.alerts: dict[str, deque[datetime]] = defaultdict(deque)
        self.published: dict[str, GridStatusLevel] = {
            g: GridStatusLevel(s) for g, s in (published or {}).items()}
        self.dirty: set[str] = set()

    def camera(self, status: CameraStatus) -> None:
        grid = self.camera_grid.get(status.camera_id)
        was = status.camera_id in self.offline
        if status.online:
            self.offline.discard(status.camera_id)
        else:
            self.offline.add(status.camera_id)
        if grid and was != (not status.online):
            self.dirty.add(grid)

    def alert(self, alert: Alert) -> None:
        if alert.kind not in SECURITY_ALERTS:
            return
        grid = alert.grid_id or self.camera_grid.get(alert.camera_id or "")
        if grid:
            self.alerts[grid].append(alert.ts)
            self.dirty.add(grid)

    def complaint_touched(self, grid_id: str) -> None:
        self.dirty.add(grid_id)

    def situation(self, grid_id: str, now: datetime) -> GridSituation:
        r = self.rules
        open_n = overdue = urgent_overdue = urgent_open = 0
        for level in range(1, 6):
            gl = self.measures.grid_levels.get((grid_id, level))
            if gl is None:
                continue
            open_n += int(gl[G_OPEN])
            overdue += int(gl[G_OVERDUE])
            if level <= 2:
                urgent_overdue += int(gl[G_OVERDUE])
            if level == 1:
                urgent_open += int(gl[G_OPEN])
        seen = self.alerts.get(grid_id)
        while seen and seen[0] < now - r.alert_window:
            seen.popleft()
        alerts = len(seen) if seen else 0
        offline = sum(1 for c in self.offline if self.camera_grid.get(c) == grid_id)
        if overdue >= r.alarm_overdue or urgent_overdue or alerts >= r.alarm_alerts:
            status = GridStatusLevel.ALARM
        elif overdue or open_n >= r.attention_open or urgent_open or offline or alerts:
            status = GridStatusLevel.ATTENTION
        else:
            status = GridStatusLevel.NORMAL
        return GridSituation(grid_id, status, open_n, overdue, urgent_overdue, urgent_open, offline, alerts)

    def changes(self, now: datetime, all_grids: bool = False) -> list[GridEvent]:
        """Status events for the grids whose state changed since last published."""
        grids = self.grid_ids if all_grids else sorted(self.dirty | set(self.alerts))
        self.dirty = set()
        out = []
        for grid_id in grids:
            status = self.situation(grid_id, now).status
            if self.published.get(grid_id, GridStatusLevel.NORMAL) != status:
                self.published[grid_id] = status
                out.append(GridEvent(ts=now, grid_id=grid_id, kind=GridEventKind.STATUS, status=status))
        return out

"""A simulated live feed of grid workers' positions (Baohe tracks every grid worker live).

Each community grid's worker walks at `speed_mps` from one random point of the grid to
the next and reports a `GridEvent(kind=worker_position)` every `period_s`. Positions that
would leave the grid (a concave grid) are held at the last point inside.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, datetime
from typing import Any

from streams.records import GridEvent, GridEventKind

M_PER_DEG_LAT = 111_320.0


class WorkerFeed:
    def __init__(self, district: Any, bus: Any, *, seed: int = 11, speed_mps: float = 1.2,
                 period_s: float = 10.0) -> None:
        self.district = district
        self.bus = bus
        self.rng = random.Random(seed)
        self.speed_mps = speed_mps
        self.period_s = period_s
        self.walkers: dict[str, tuple[str, tuple[float, float], tuple[float, float]]] = {}
        for grid in district.community_grids():
            if grid.worker is not None:
                start = district.random_point(grid.id, self.rng)
                self.walkers[grid.worker.id] = (grid.id, start, district.random_point(grid.id, self.rng))

    def step(self, now: datetime, seconds: float) -> list[GridEvent]:
        """Move every worker `seconds` on and return their positions at `now`."""
        out = []
        for worker_id, (grid_id, (lat, lon), target) in self.walkers.items():
            dy = (target[0] - lat) * M_PER_DEG_LAT
            dx = (target[1] - lon) * M_PER_DEG_LAT * math.cos(math.radians(lat))
            dist = math.hypot(dx, dy)
            walk = self.speed_mps * seconds
            if dist <= walk:
                position, target = target, self.district.random_point(grid_id, self.rng)
            else:
                f = walk / dist
                position = (lat + (target[0] - lat) * f, lon + (target[1] - lon) * f)
                found = self.district.grid_at(*position)
                if found is None or found.id != grid_id:
                    position, target = (lat, lon), self.district.random_point(grid_id, self.rng)
            self.walkers[worker_id] = (grid_id, position, target)
            out.append(GridEvent(ts=now, grid_id=grid_id, kind=GridEventKind.WORKER_POSITION,
                                 worker_id=worker_id, lat=round(position[0], 6), lon=round(position[1], 6)))
        return out

    def run(self, stop: threading.Event) -> None:
        """Publish every `period_s` until `stop` is set."""
        while not stop.is_set():
            for event in self.step(datetime.now(UTC), self.period_s):
                self.bus.publish(event)
            self.bus.flush()
            stop.wait(self.period_s)

"""The governance process as the lead starts it (`run_governance(settings, stop)`), next to
the ingest consumer, on two simulated days published on the embedded bus: measures in the
store, grid statuses and SLA records on the bus, a clean stop, and a restart that rebuilds
from the store without counting anything twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analytics import tables as t
from analytics.governance import run_governance
from analytics.ingest import run_ingest
from analytics.measures_store import MeasuresReader
from analytics.simulator import ComplaintSimulator
from analytics.store import Store
from streams.bus import open_bus
from streams.config import Settings, load_settings
from streams.district import load_district


def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


class Processes:
    def __init__(self, settings: Settings, store: Store, bus) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=run_governance, args=(settings, self.stop), daemon=True),
                        threading.Thread(target=run_ingest, args=(bus, store, self.stop), daemon=True)]
        for th in self.threads:
            th.start()

    def halt(self) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(timeout=30)
            assert not th.is_alive()


@pytest.fixture
def world(tmp_path: Path):
    settings = load_settings(home=tmp_path)
    store = Store.open(settings.store_url)
    bus = open_bus(settings.bus_url, settings.home)
    yield settings, store, bus
    bus.close()
    store.close()


def test_run_governance_next_to_ingest_on_two_simulated_days(world) -> None:
    settings, store, bus = world
    created = ComplaintSimulator(load_district(), store, bus).backfill(1)
    bus.flush()
    assert created > 300
    procs = Processes(settings, store, bus)
    try:
        reader = MeasuresReader(store)
        assert _until(lambda: sum(r.volume for r in reader.ranking()) == created), "measures incomplete"
        assert _until(lambda: bool(store.grid_status_levels()))  # statuses went round the bus
        with store.engine.connect() as conn:
            kinds = dict(conn.execute(select(t.alerts.c.kind, func.count()).group_by(t.alerts.c.kind)).all())
        assert kinds.get("complaint_notice", 0) > 0  # the newest complaints were notified
    finally:
        procs.halt()
    first = reader.ranking()

    # restart: the state is rebuilt from the store, the bus replays nothing twice
    procs = Processes(settings, store, bus)
    try:
        time.sleep(3)
    finally:
        procs.halt()
    assert reader.ranking() == first


def test_worker_feed_walks_each_worker_inside_their_grid() -> None:
    import math
    from datetime import UTC, datetime, timedelta

    from analytics.worker_feed import M_PER_DEG_LAT, WorkerFeed
    from streams.records import GridEventKind

    district = load_district()
    feed = WorkerFeed(district, bus=None, seed=5, speed_mps=1.5)
    now = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    before = {e.worker_id: e for e in feed.step(now, 0.0)}
    assert len(before) == len(district.community_grids())  # every grid has its worker
    for k in range(1, 6):
        after = {e.worker_id: e for e in feed.step(now + timedelta(seconds=10 * k), 10.0)}
        for worker, e in after.items():
            assert e.kind == GridEventKind.WORKER_POSITION and e.lat is not None and e.lon is not None
            grid = district.grid_at(e.lat, e.lon)
            assert grid is not None and grid.id == e.grid_id, worker  # never outside their grid
            b = before[worker]
            metres = math.hypot((e.lat - b.lat) * M_PER_DEG_LAT,
                                (e.lon - b.lon) * M_PER_DEG_LAT * math.cos(math.radians(e.lat)))
            assert metres <= 15.0 + 0.5  # 1.5 m/s for 10 s (a new target may be reached early)
        moved = sum(1 for w in after if (after[w].lat, after[w].lon) != (before[w].lat, before[w].lon))
        assert moved > 0.9 * len(after)  # they walk (a few turn at a concave grid's edge)
        before = after

"""The governance consumer: lifecycle watch, SLA, measures and grid status, from the bus.

One `ConsumerLoop` in group `analytics-governance` reads complaints, camera heartbeats and
alerts. Each complaint event is folded into the open complaint's state (`ComplaintBook`);
the change moves the measures, arms the SLA timers and marks the grid for a status check.
After each batch (and every `idle_tick_s` when nothing arrives) the SLA watch and the grid
status publish what is due: notices, warnings, `overdue` and silence-`closed` events,
grid status changes. The measures are written to the store's aggregate tables for the API
at most every `save_every_s`.

Time: while the consumer is catching up on history (its newest event is more than
`catch_up_lag` behind the wall clock), "now" is the newest event time, so a complaint is
never declared overdue just because its `handled` event is still in the queue.

On start the state is rebuilt from the store's events, once, complaint by complaint (a
year of Pingfang, ~200k complaints, in ~90 s on a busy 2-core machine); the bus resumes from
the group's offsets and any event already folded is recognised by its id and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from analytics import tables as t
from analytics.complaint_book import Change, ComplaintBook
from analytics.grid_status import GridStatus, StatusRules
from analytics.lifecycle import silence_from_env
from analytics.measures import Measures, RatingPrior
from analytics.measures_store import save
from analytics.sla import SlaPolicy, SlaWatch
from analytics.store import Store
from streams.bus import Bus, BusUnavailable, open_bus
from streams.config import Settings
from streams.consume import ConsumerLoop
from streams.records import Alert, CameraStatus, ComplaintEvent, Record
from streams.topics import Topic

log = logging.getLogger(__name__)

GROUP = "analytics-governance"
TOPICS = [Topic.COMPLAINTS, Topic.CAMERAS, Topic.ALERTS]
TRANSIENT = (OperationalError, PoolTimeout)


class Governance:
    def __init__(self, district: Any, bus: Any, store: Store | None = None, *,
                 policy: SlaPolicy | None = None, rules: StatusRules | None = None,
                 prior: RatingPrior | None = None, save_every_s: float = 2.0,
                 catch_up_lag: timedelta = timedelta(minutes=5),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.district = district
        self.bus = bus
        self.store = store
        self.clock = clock
        self.catch_up_lag = catch_up_lag
        self.save_every_s = save_every_s
        self.book = ComplaintBook()
        self.measures = Measures(district.timezone, prior or RatingPrior())
        self.sla = SlaWatch(district, policy or SlaPolicy())
        published = store.grid_status_levels() if store is not None else {}
        self.grids = GridStatus(district, self.measures, rules or StatusRules(), published)
        self.newest: datetime | None = None
        self._all_grids = True  # the first tick checks every grid (statuses left from a past run)
        self.published = 0
        self._last_save = 0.0

    # ------------------------------------------------------------ start

    def rebuild(self, chunk: int = 20_000, stop: threading.Event | None = None) -> int:
        """Fold every stored complaint once (no alerts raised); returns complaints loaded.
        Gives up early (saving nothing) when `stop` is set, so a shutdown is never held up."""
        if self.store is None:
            return 0
        ev = t.complaint_events
        query = select(ev).order_by(ev.c.code, ev.c.ts, ev.c.seq)
        loaded = 0
        now = self.clock()
        code: str | None = None
        events: list[Any] = []
        with self.store.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            for row in result:
                if row.code != code:
                    loaded += self._load(code, events, now)
                    code, events = row.code, []
                    if stop is not None and loaded % 1000 == 0 and stop.is_set():
                        log.info("governance: stopped while rebuilding (%d complaints read)", loaded)
                        return loaded
                events.append(row)
            loaded += self._load(code, events, now)
        save(self.store, self.measures, everything=True)
        self._last_save = time.monotonic()
        log.info("governance: rebuilt %d complaints (%d open) from the store", loaded, len(self.book.open))
        return loaded

    def _load(self, code: str | None, events: list[Any], now: datetime) -> int:
        if code is None or not events:
            return 0
        state = self.book.load(code, events)
        if state is None:
            return 0
        self.measures.observe(None, state)
        newest = max(e.ts for e in events)
        self.newest = newest if self.newest is None else max(self.newest, newest)
        if state.is_open:
            self.sla.observe(Change(code, None, state), now)
            self.grids.complaint_touched(state.grid_id)
        return 1

    # ------------------------------------------------------------ the loop's handler

    def handle(self, batch: list[tuple[Topic, Record]]) -> None:
        batch_newest: datetime | None = None
        out: list[Record] = []
        for _topic, record in batch:
            if isinstance(record, ComplaintEvent):
                batch_newest = record.ts if batch_newest is None else max(batch_newest, record.ts)
                self.newest = record.ts if self.newest is None else max(self.newest, record.ts)
                change = self.book.apply(record)
                if change is None:
                    continue
                self.measures.observe(change.before, change.after)
                out += self.sla.observe(change, self.clock())
                if change.after is not None:
                    self.grids.complaint_touched(change.after.grid_id)
            elif isinstance(record, CameraStatus):
                self.grids.camera(record)
            elif isinstance(record, Alert):
                self.grids.alert(record)
        self._publish(out)
        self.tick(batch_newest)

    def now(self, batch_newest: datetime | None = None) -> datetime:
        """The wall clock, or the stream's time while catching up on history."""
        wall = self.clock()
        if batch_newest is not None and batch_newest < wall - self.catch_up_lag:
            return batch_newest
        return wall

    def tick(self, batch_newest: datetime | None = None) -> None:
        """Publish what is due by now; save the measures when it is time."""
        now = self.now(batch_newest)
        self._publish(self.sla.tick(now, self.book, self.clock()))
        self._publish(self.grids.changes(now, all_grids=self._all_grids))
        self._all_grids = False
        if self.store is not None and time.monotonic() - self._last_save >= self.save_every_s:
            self.save()

    def save(self) -> None:
        if self.store is not None:
            save(self.store, self.measures)
            self._last_save = time.monotonic()

    def _publish(self, records: list[Record]) -> None:
        for record in records:
            self.bus.publish(record)
        if records:
            self.published += len(records)
            flush = getattr(self.bus, "flush", None)
            if flush is not None:
                flush()


def governance_loop(gov: Governance, bus: Bus, stop: threading.Event | None = None) -> ConsumerLoop:
    return ConsumerLoop(bus, GROUP, TOPICS, gov.handle, stop, max_records=1000, transient=TRANSIENT)


def run_governance(settings: Settings, stop: threading.Event, *, idle_tick_s: float = 1.0) -> None:
    """The governance process: until `stop` is set (the lead starts it from cityops/processes.py)."""
    from streams.district import load_district

    district = load_district(settings.district_file)
    with Store.open(settings.store_url) as store, open_bus(settings.bus_url, settings.home) as bus:
        gov = Governance(district, bus, store, policy=SlaPolicy(silence=silence_from_env()))
        gov.rebuild(stop=stop)
        if stop.is_set():
            return
        loop = governance_loop(gov, bus, stop)
        log.info("governance: group %s reading %s", GROUP, ", ".join(tp.value for tp in TOPICS))
        pause = 1.0
        try:
            while not stop.is_set():
                try:
                    if loop.run_once(timeout_s=idle_tick_s) == 0:  # idle: time still passes
                        gov.tick()
                    pause = 1.0
                except (BusUnavailable, *TRANSIENT) as exc:
                    log.warning("governance: %s; retrying in %.0f s", exc, pause)
                    loop.close()
                    stop.wait(pause)
                    pause = min(pause * 2, 30.0)
        finally:
            loop.close()
            gov.save()
        log.info("governance stopped: %d records published", gov.published)


def run_worker_feed(settings: Settings, stop: threading.Event, period_s: float = 10.0) -> None:
    """The simulated grid-worker position feed as a process of its own."""
    from analytics.worker_feed import WorkerFeed
    from streams.district import load_district

    with open_bus(settings.bus_url, settings.home) as bus:
        WorkerFeed(load_district(settings.district_file), bus, period_s=period_s).run(stop)

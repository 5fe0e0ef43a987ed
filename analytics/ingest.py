"""The ingest consumer: every topic of the bus into the store, batch by batch.

One `ConsumerLoop` in group `analytics-store` reads all topics (dead letters included)
and hands each polled batch to `Store.write`, one transaction per batch; offsets are
committed only after the write, so a crash redelivers and the store's idempotent writes
absorb the replay. A database that is down or locked pauses the loop (transient); a
record the database refuses is dead-lettered by the loop with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from analytics.sighting_guard import SightingGuard
from analytics.store import Store
from streams.bus import Bus
from streams.consume import ConsumerLoop
from streams.records import Record, Sighting
from streams.topics import Topic

log = logging.getLogger(__name__)

GROUP = "analytics-store"
TRANSIENT = (OperationalError, PoolTimeout)
"""Errors that mean "the database, not the record": retry the batch later."""


@dataclass(slots=True)
class IngestStats:
    batches: int = 0
    records: int = 0
    new: int = 0  # records the store did not hold yet (the rest were replays)
    set_aside: int = 0  # sightings the guard refused (stored as dead letters instead)


class StoreWriter:
    """The loop's handler: writes a batch, counts, and logs progress now and then."""

    def __init__(self, store: Store, log_every_s: float = 30.0,
                 guard: SightingGuard | None = None) -> None:
        self.store = store
        self.guard = guard
        self.stats = IngestStats()
        self.log_every_s = log_every_s
        self._last_log = time.monotonic()

    def __call__(self, batch: list[tuple[Topic, Record]]) -> None:
        records = [record for _topic, record in batch]
        if self.guard is not None:  # bad sightings become dead letters, never stored as truth
            good, bad = self.guard.split(r for r in records if isinstance(r, Sighting))
            records = [r for r in records if not isinstance(r, Sighting)] + good
            records += [rejection.letter(GROUP) for rejection in bad]
            self.stats.set_aside += len(bad)
        new = self.store.write(records)
        self.stats.batches += 1
        self.stats.records += len(batch)
        self.stats.new += new
        if time.monotonic() - self._last_log >= self.log_every_s:
            self._last_log = time.monotonic()
            log.info("ingest: %d records in %d batches, %d new", self.stats.records,
                     self.stats.batches, self.stats.new)


def ingest_loop(bus: Bus, store: Store, stop: threading.Event | None = None,
                max_records: int = 1000, guard: SightingGuard | None = None,
                ) -> tuple[ConsumerLoop, StoreWriter]:
    """The loop and its writer, not yet running (tests drive it with `wait_for`).

    With a `guard` (analytics.sighting_guard.guard_for(district_file)), sightings from
    unknown cameras, with impossible times or non-plates are stored as dead letters.
    """
    writer = StoreWriter(store, guard=guard)
    loop = ConsumerLoop(bus, GROUP, list(Topic), writer, stop, max_records=max_records,
                        transient=TRANSIENT)
    return loop, writer


def run_ingest(bus: Bus, store: Store, stop: threading.Event,
               guard: SightingGuard | None = None) -> IngestStats:
    """Consume every topic into the store until `stop` is set; returns what was written."""
    loop, writer = ingest_loop(bus, store, stop, guard=guard)
    log.info("ingest: group %s reading %s into %s", GROUP, ", ".join(t.value for t in Topic),
             store.safe_url)
    loop.run()
    log.info("ingest stopped: %d records in %d batches, %d new, %d dead-lettered",
             writer.stats.records, writer.stats.batches, writer.stats.new, loop.dead_lettered)
    return writer.stats

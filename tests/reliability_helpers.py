"""Child-process entry points of the fault tests (spawned children import them by module)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bus_helpers import T0, sighting

from streams.bus import open_bus
from streams.records import ComplaintEvent, ComplaintEventType, ComplaintSource, Sighting


def complaint(producer: int, n: int) -> ComplaintEvent:
    """A new complaint (its `created` event); `producer` and `n` make code and id unique."""
    return ComplaintEvent(
        id=f"ev{producer:02d}-{n:09d}",
        code=f"PF-2025{producer:04d}-{n:06d}",
        ts=T0 + timedelta(seconds=n),
        type=ComplaintEventType.CREATED,
        text="楼道灯不亮",
        category="lighting",
        level=2,
        lat=45.6,
        lon=126.7,
        grid_id="G-01-02-03",
        due_at=T0 + timedelta(hours=24),
        source=ComplaintSource.SIMULATOR,
        department="lighting",
    )


def camera_sighting(producer: int, n: int) -> Sighting:
    return sighting(producer * 1_000_000 + n, identity=f"黑A{producer:02d}{n % 997:03d}")


def produce_steadily(bus_url: str, home: str, producer: int, kind: str, per_s: float,
                     seconds: float, report: str) -> None:
    """Publish `per_s` records a second for `seconds` through `open_bus` (so through the
    producer spool on Kafka), flushing twice a second like the real producers; then write
    how many were published and how many went through the spool to `report`."""
    make = camera_sighting if kind == "sighting" else complaint
    bus = open_bus(bus_url, Path(home))
    started = time.monotonic()
    sent = 0
    last_flush = started
    flush_times: list[float] = []
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * per_s)
        while sent < due:
            bus.publish(make(producer, sent))
            sent += 1
        if time.monotonic() - last_flush >= 0.5:
            t = time.monotonic()
            bus.flush()
            flush_times.append(time.monotonic() - t)
            last_flush = time.monotonic()
        time.sleep(0.01)
    t = time.monotonic()
    bus.flush()
    flush_times.append(time.monotonic() - t)
    stats: dict[str, Any] = {
        "sent": sent,
        "spooled": getattr(bus, "spooled", 0),
        "replayed": getattr(bus, "replayed", 0),
        "longest_flush_s": round(max(flush_times), 2),
    }
    bus.close()  # resends the spool if the broker is back; keeps it on disk otherwise
    stats["left_in_spool"] = getattr(bus, "pending", lambda: 0)()
    Path(report).write_text(json.dumps(stats), encoding="utf-8")


def store_batches_until_killed(store_url: str, writer: int, batch_size: int, committed: Any) -> None:
    """Write batches of sightings through `Store.write` (one transaction each) forever;
    `committed.value` is the number of batches whose write returned (the test kills us)."""
    from analytics.store import Store

    store = Store(store_url)
    batch = 0
    while True:
        store.write([camera_sighting(writer, batch * batch_size + n) for n in range(batch_size)])
        batch += 1
        committed.value = batch


def local_writer(folder: str, writer: int, flushed: Any, count: int) -> None:
    """Send `count` sightings (0 = forever) to a LocalBus in flushed batches of 50;
    `flushed.value` says how many are durable (the test may kill us at any moment)."""
    from streams.localbus import LocalBus

    with LocalBus(Path(folder)) as bus:
        n = 0
        while count == 0 or n < count:
            for _ in range(50):
                bus.publish(camera_sighting(writer, n))
                n += 1
            bus.flush()
            flushed.value = n


def spool_then_die(bus_url: str, home: str, ready: Any, go: Any, count: int) -> None:
    """Open the bus, wait for the test to stop the broker, publish `count` complaints
    (they can only go to the spool), then die by SIGKILL without closing anything."""
    import os
    import signal

    bus = open_bus(bus_url, Path(home))
    ready.set()
    go.wait(60)
    for n in range(count):
        bus.publish(complaint(7, n))
    bus.flush()
    os.kill(os.getpid(), signal.SIGKILL)

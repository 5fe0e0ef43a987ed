"""Store write throughput: sightings and complaint events per second, batch by batch.

    python bench/bench_store.py                         # SQLite in a temp folder
    python bench/bench_store.py --url postgresql+psycopg://...   # any store
    python bench/bench_store.py --postgres              # a throwaway local cluster

Records are built before the clock starts (decoding them is the bus's cost, not the
store's); each batch is one `Store.write` call, i.e. one transaction, as the ingest
consumer does it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.store import Store  # noqa: E402
from streams.records import ComplaintEvent, ComplaintEventType, Sighting, SightingKind  # noqa: E402


def sightings(n: int, seed: int = 1) -> list[Sighting]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    letters = "ABCDEFGHJK"
    return [
        Sighting(camera_id=f"PF-C{rng.randrange(152):03d}", ts=start + timedelta(seconds=i * 0.05),
                 kind=SightingKind.PLATE, identity=f"黑{rng.choice(letters)}{rng.randrange(10**5):05d}",
                 confidence=round(rng.uniform(0.6, 1.0), 3), bbox=(10, 20, 110, 50),
                 track_id=str(i), snapshot=f"snapshots/{i}.jpg", plate_color="blue")
        for i in range(n)
    ]


def complaint_events(n_complaints: int) -> list[ComplaintEvent]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[ComplaintEvent] = []
    for i in range(n_complaints):
        code = f"PF-20261101-{i:06d}"
        t0 = start + timedelta(seconds=30 * i)
        events.append(ComplaintEvent(code=code, ts=t0, type=ComplaintEventType.CREATED, text="路灯不亮",
                                     category="C01", level=3, grid_id="G1", department="D1",
                                     due_at=t0 + timedelta(hours=24)))
        for k, kind in enumerate([ComplaintEventType.ACCEPTED, ComplaintEventType.DISPATCHED,
                                  ComplaintEventType.HANDLED, ComplaintEventType.RATED,
                                  ComplaintEventType.CLOSED], start=1):
            events.append(ComplaintEvent(code=code, ts=t0 + timedelta(minutes=10 * k), type=kind,
                                         department="D1" if kind == ComplaintEventType.DISPATCHED else None,
                                         rating=5 if kind == ComplaintEventType.RATED else None))
    events.sort(key=lambda e: e.ts)
    return events


def measure(store: Store, records: list, batch: int) -> str:
    """Records per wall-clock second, and per CPU second of this process (shared machines)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(records), batch):
        store.write(records[i:i + batch])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{len(records) / wall:,.0f}/s wall, {len(records) / cpu:,.0f}/s per CPU-second"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="store URL (default: SQLite in a temporary folder)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    parser.add_argument("--sightings", type=int, default=200_000)
    parser.add_argument("--complaints", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "setup"))
            from throwaway_postgres import ThrowawayPostgres

            server = ThrowawayPostgres().start()
            url = server.create_database("bench")
        try:
            with Store.open(url) as store:
                rows = sightings(args.sightings)
                rate = measure(store, rows, args.batch)
                print(f"{store.dialect}: sightings {rate} ({len(rows):,} in batches of {args.batch})")
                again = measure(store, rows[: args.sightings // 4], args.batch)
                print(f"{store.dialect}: sightings replayed {again} (all duplicates, nothing stored)")
                events = complaint_events(args.complaints)
                rate = measure(store, events, min(args.batch, 500))
                print(f"{store.dialect}: complaint events {rate} ({len(events):,}, folded into "
                      f"{store.count('complaints'):,} complaints)")
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Governance speed: complaint events per second through the measures, and the query time of
the satisfaction ranking, the heat map and the trends over a year of simulated complaints.

    python bench/bench_governance.py                 # a year of Pingfang (~200k complaints)
    python bench/bench_governance.py --days 60       # reduced scale
    python bench/bench_governance.py --rebuild       # also write the events to a store and
                                                     # time the governance start-up rebuild
    python bench/bench_governance.py --bus-events 0  # skip the consumer-from-the-bus stage

The simulator plans the complaints before the clock starts (codes from an in-memory counter,
not the store). Then, in time order, every event goes through what the governance consumer
does per event: the complaint book (dedup + fold) and the measures (and, timed apart, the
SLA watch). Queries are timed in memory and from the store's aggregate tables (SQLite in a
temporary folder, or `--url`), as the API reads them.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.complaint_book import ComplaintBook  # noqa: E402
from analytics.measures import Measures  # noqa: E402
from analytics.measures_store import MeasuresReader, save  # noqa: E402
from analytics.simulator import ComplaintSimulator  # noqa: E402
from analytics.sla import SlaWatch  # noqa: E402
from analytics.store import Store  # noqa: E402
from streams.district import load_district  # noqa: E402


class _Codes:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def allocate(self, created_at: datetime, count: int = 1) -> list[str]:
        day = f"{created_at.astimezone(load_district().timezone):%Y%m%d}"
        start = self.next.get(day, 1)
        self.next[day] = start + count
        return [f"PF-{day}-{n:06d}" for n in range(start, start + count)]


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median wall time in ms over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def bus_consumer(district: Any, events: list[Any]) -> None:
    """The governance consumer end to end: LocalBus poll, JSON decode, handle, commit."""
    from analytics.governance import Governance, governance_loop
    from streams.localbus import LocalBus

    class Nowhere:
        def publish(self, record: object) -> None:
            pass

    with tempfile.TemporaryDirectory() as tmp:
        bus = LocalBus(Path(tmp) / "bus")
        for e in events:
            bus.publish(e)
        bus.flush()
        last = events[-1].ts
        gov = Governance(district, Nowhere(), None, clock=lambda: last + timedelta(days=1))
        loop = governance_loop(gov, bus)
        t0 = time.perf_counter()
        assert loop.wait_for(lambda: loop.handled >= len(events), timeout_s=3600)
        took = time.perf_counter() - t0
        loop.close()
        bus.close()
    print(f"\nwhole consumer from the LocalBus (poll, decode, fold, measures, SLA, grid status, commit): "
          f"{len(events) / took:,.0f} events/s over {len(events):,} events")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--url", default="", help="store URL (default: SQLite in a temp folder)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--bus-events", type=int, default=100_000,
                        help="also time the whole consumer on this many events from a LocalBus (0: skip)")
    args = parser.parse_args()

    district = load_district()
    sim = ComplaintSimulator(district, None, None, codes=_Codes())
    first = date(2025, 11, 22)
    t0 = time.perf_counter()
    lives = [c for k in range(args.days) for c in sim.plan_day(first + timedelta(days=k))]
    events = sorted((e for c in lives for e in c.events), key=lambda e: e.ts)
    print(f"simulated {len(lives):,} complaints, {len(events):,} events over {args.days} days "
          f"in {time.perf_counter() - t0:.1f} s (not timed below)")

    book, measures = ComplaintBook(), Measures(district.timezone)
    t0 = time.perf_counter()
    for e in events:
        change = book.apply(e)
        if change is not None:
            measures.observe(change.before, change.after)
    fold_s = time.perf_counter() - t0
    print(f"book + measures: {len(events) / fold_s:,.0f} events/s ({fold_s:.1f} s for all); "
          f"{len(book.open):,} complaints open at the end, {len(book.closed):,} closed codes kept; "
          f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB "
          "(includes the simulated events held for the bench)")

    book2, sla = ComplaintBook(), SlaWatch(district)
    changes = []
    for e in events[:200_000]:
        change = book2.apply(e)
        if change is not None:
            changes.append(change)
    wall = events[-1].ts + timedelta(days=1)
    t0 = time.perf_counter()
    for change in changes:
        sla.observe(change, wall)
    sla_s = time.perf_counter() - t0
    print(f"SLA watch (arming timers): {len(changes) / sla_s:,.0f} changes/s")

    last = measures.day_of(events[-1].ts)
    year = (last - timedelta(days=args.days), last)
    month = (last - timedelta(days=29), last)
    rows = [
        ("ranking", lambda: measures.ranking()),
        ("heat map, whole period", lambda: measures.heat_map(*year)),
        ("heat map, last 30 days", lambda: measures.heat_map(*month)),
        ("trend by week, whole period", lambda: measures.trend(*year, by="week")),
        ("grid x level counts", lambda: measures.grid_level_counts(last)),
    ]
    print(f"\nin memory ({len(measures.days):,} day x grid x level cells):")
    for name, fn in rows:
        ms, _ = timed(fn)
        print(f"  {name}: {ms:.2f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'gov.db'}"
        with Store.open(url) as store:
            t0 = time.perf_counter()
            written = save(store, measures, everything=True)
            print(f"\nstore ({store.dialect}): wrote {written:,} aggregate rows in {time.perf_counter() - t0:.2f} s")
            reader = MeasuresReader(store)
            checks = [
                ("ranking", reader.ranking, measures.ranking),
                ("heat map, whole period", lambda: reader.heat_map(*year), lambda: measures.heat_map(*year)),
                ("heat map, last 30 days", lambda: reader.heat_map(*month), lambda: measures.heat_map(*month)),
                ("trend by week, whole period", lambda: reader.trend(*year, by="week"),
                 lambda: measures.trend(*year, by="week")),
                ("grid x level counts", lambda: reader.grid_level_counts(last),
                 lambda: measures.grid_level_counts(last)),
            ]
            for name, fn, same in checks:
                ms, result = timed(fn)
                assert result == same(), f"{name}: the store and memory disagree"
                print(f"  {name}: {ms:.1f} ms (same answer as in memory)")
            if args.rebuild:
                from analytics.governance import Governance

                t0 = time.perf_counter()
                for start in range(0, len(events), 5000):
                    store.write(events[start:start + 5000])
                print(f"\nwrote {len(events):,} events to the store in {time.perf_counter() - t0:.1f} s")

                class Nowhere:
                    def publish(self, record: object) -> None:
                        pass

                gov = Governance(district, Nowhere(), store, clock=lambda: datetime.now(UTC))
                t0 = time.perf_counter()
                loaded = gov.rebuild()
                print(f"governance start-up rebuild: {loaded:,} complaints in {time.perf_counter() - t0:.1f} s")
                assert gov.measures.ranking() == measures.ranking()

    if args.bus_events:
        bus_consumer(district, events[:args.bus_events])

    top = measures.ranking()[:3]
    print("\ntop 3: " + ", ".join(f"{r.department} {r.smoothed_rating:.3f} ({r.ratings} ratings)" for r in top))


if __name__ == "__main__":
    main()

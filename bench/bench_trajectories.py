"""Trajectories and searches at a month's scale: ingest rate and query latency.

    python -m bench.bench_trajectories --rows 1000000                  # SQLite, temp folder
    python -m bench.bench_trajectories --rows 50000000 --dir var/bench # keep the month for reruns
    python -m bench.bench_trajectories --rows 50000000 --postgres      # a throwaway cluster
    python -m bench.bench_trajectories --url sqlite:///var/bench/month-50000000.db --reuse
    python -m bench.bench_trajectories --rows 2000000 --random-ids     # ids as before uuid7: random

1. A month of sightings is bulk-loaded (`bench/generate_sightings.py`).
2. Ingest, the real path: `--ingest` new sightings published on an embedded bus, read by
   the ingest consumer (decode, guard, `Store.write`) into the month's store; then the
   same messages by the trajectory consumer (guard, watch-list and cloned-plate checks,
   trips, identities). Rates per wall second and per CPU second of this process plus,
   on a throwaway PostgreSQL, the server's processes (the consumer runs in one thread).
3. Queries, each repeated on different inputs, p50/p95 in ms: one plate's 30 days
   (plates drawn by how often they are seen, so busy plates weigh as in real searches),
   the busiest plate, fuzzy (a misread of a known plate), wildcard, one camera for an
   hour, by photo (one day and the month), companions of a plate (30 days).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.alerts import CoTravelRules  # noqa: E402
from analytics.camera_graph import CameraGraph  # noqa: E402
from analytics.ingest import ingest_loop  # noqa: E402
from analytics.queries import SightingQueries, Window  # noqa: E402
from analytics.sighting_guard import SightingGuard  # noqa: E402
from analytics.store import Store  # noqa: E402
from analytics.trajectories import trajectory_loops  # noqa: E402
from bench.generate_sightings import CONFUSABLE, Month, chunks, load  # noqa: E402
from streams.consume import collect_garbage_less_often  # noqa: E402
from streams.district import load_district  # noqa: E402
from streams.localbus import LocalBus  # noqa: E402
from streams.records import Sighting, SightingKind  # noqa: E402


def timed(fn: Callable[[], object], runs: list[float]) -> object:
    started = time.perf_counter()
    result = fn()
    runs.append((time.perf_counter() - started) * 1000)
    return result


def row(name: str, runs: list[float], note: str = "") -> str:
    p50 = statistics.median(runs)
    p95 = float(np.percentile(runs, 95))
    return f"| {name} | {len(runs)} | {p50:.1f} | {p95:.1f} | {note} |"


def new_sightings(month: Month, n: int, seed: int, random_ids: bool = False) -> list[Sighting]:
    """Fresh sightings after the month's end, of the month's plates. Ids as real traffic
    makes them: `new_id` (time-ordered), or random (uuid4) with `random_ids`."""
    rng = np.random.default_rng(seed)
    who = (len(month.plates) * rng.random(n) ** 1.5).astype(int)
    cams = rng.choice(month.cameras, n)
    start = month.end
    step = month.days * 86_400 / month.rows  # the month's own pace
    return [Sighting(camera_id=str(cams[i]), ts=start + timedelta(seconds=i * step), kind=SightingKind.PLATE,
                     identity=str(month.plates[who[i]]), confidence=0.9, bbox=(10, 20, 110, 50),
                     snapshot=f"snapshots/new/{i}.jpg", plate_color="blue",
                     **({"id": uuid.uuid4().hex} if random_ids else {}))
            for i in range(n)]


SERVER_PID: int | None = None
"""The throwaway PostgreSQL postmaster's pid, when the bench started one."""


def server_cpu_s() -> float:
    """CPU seconds used so far by our PostgreSQL server (postmaster and its children); 0
    without one (SQLite runs inside this process, so its CPU is already counted)."""
    import os

    if SERVER_PID is None:
        return 0.0
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(entry.name) == SERVER_PID or int(fields[1]) == SERVER_PID:  # fields[1]: ppid
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def clock() -> tuple[float, float]:
    """(wall, CPU of this process + our database server's processes)."""
    return time.perf_counter(), time.process_time() + server_cpu_s()


def bench_ingest(store: Store, month: Month, n: int, home: Path, random_ids: bool = False) -> list[str]:
    district = load_district()
    records = new_sightings(month, n, 99, random_ids)
    latest = records[-1].ts
    guard = SightingGuard((c.id for c in district.cameras), now=lambda: latest + timedelta(hours=1))
    lines = []
    default_gc = gc.get_threshold()
    collect_garbage_less_often()  # as `cityops analytics` runs its consumers
    with LocalBus(home / "bus") as bus:
        for r in records:
            bus.publish(r)
        bus.flush()
        del records  # a consumer process holds only the batch it polled
        loop, writer = ingest_loop(bus, store, max_records=2000, guard=guard)
        wall, cpu = clock()
        with loop:
            loop.wait_for(lambda: writer.stats.records >= n, timeout_s=3600)
        wall, cpu = (now - then for now, then in zip(clock(), (wall, cpu), strict=True))
        lines.append(f"| ingest (bus -> guard -> store) | {n:,} | {n / wall:,.0f} | {n / cpu:,.0f} |")
        tl, handler, co_loop, co_handler = trajectory_loops(bus, store, district, None, guard=guard)
        wall, cpu = clock()
        with tl:
            tl.wait_for(lambda: handler.builder.stats.sightings >= n, timeout_s=3600)
        wall, cpu = (now - then for now, then in zip(clock(), (wall, cpu), strict=True))
        lines.append(f"| trajectories + watch list + cloned plate | {n:,} | {n / wall:,.0f} | {n / cpu:,.0f} |")
        wall, cpu = clock()
        with co_loop:
            co_loop.wait_for(lambda: co_loop.handled >= n, timeout_s=3600)
        wall, cpu = (now - then for now, then in zip(clock(), (wall, cpu), strict=True))
        lines.append(f"| co-travel (one member) | {n:,} | {n / wall:,.0f} | {n / cpu:,.0f} |")
    gc.set_threshold(*default_gc)  # the searches below run in the dashboard's process
    return lines


def misread(plate: str, rng: np.random.Generator) -> str:
    """One OCR confusion (2->Z, 0->D, ...) in the serial, or a random substitution."""
    chars = list(plate)
    spots = [i for i in range(2, len(chars)) if chars[i] in CONFUSABLE]
    if spots:
        i = int(rng.choice(spots))
        chars[i] = CONFUSABLE[chars[i]]
    else:
        i = int(rng.integers(2, len(chars)))
        chars[i] = "7" if chars[i] != "7" else "1"
    return "".join(chars)


def bench_queries(store: Store, month: Month, repeat: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    graph = CameraGraph.from_district(load_district())
    queries = SightingQueries(store, graph, fuzzy_refresh_s=1e9)
    month_window = Window(month.start, month.end)
    weights = month.plate_counts / month.plate_counts.sum()
    sample = [str(p) for p in rng.choice(month.plates, repeat, p=weights)]
    lines = []

    runs: list[float] = []
    sizes = [len(timed(lambda p=p: queries.plate(p, month_window), runs)) for p in sample]  # type: ignore[arg-type]
    lines.append(row("plate exact, 30 days", runs, f"median {int(np.median(sizes))} sightings, max {max(sizes)}"))
    busiest = str(month.plates[int(np.argmax(month.plate_counts))])
    runs = []
    for _ in range(max(5, repeat // 10)):
        found = timed(lambda: queries.plate(busiest, month_window, limit=50_000), runs)
    lines.append(row("busiest plate, 30 days", runs, f"{len(found)} sightings"))  # type: ignore[arg-type]

    runs = []
    timed(lambda: queries.fuzzy_plates("黑A12345"), runs)
    load_ms = runs[0]
    runs = []
    hits_first = 0
    for p in sample:
        text = misread(p, rng)
        found = timed(lambda t=text: queries.plate_fuzzy(t, month_window), runs)
        hits_first += bool(found) and found[0].identity == p  # type: ignore[index,union-attr]
    lines.append(row("plate fuzzy (one misread), 30 days", runs,
                     f"right plate first in {hits_first}/{len(sample)}; index load {load_ms:.0f} ms once per minute"))

    runs = []
    for p in sample[: max(5, repeat // 2)]:
        pattern = p[:3] + "?" + p[4:6] + "*"
        timed(lambda pat=pattern: queries.plates_like(pat), runs)
    lines.append(row("wildcard 黑A?12* -> plates", runs, "matched on `identities`"))

    runs = []
    counts = []
    for _ in range(repeat):
        camera = str(rng.choice(month.cameras))
        start = month.start + timedelta(hours=int(rng.integers(0, month.days * 24)))
        counts.append(len(timed(lambda c=camera, s=start: queries.at_cameras([c], Window(s, s + timedelta(hours=1))), runs)))  # type: ignore[arg-type]
    lines.append(row("one camera, one hour", runs, f"median {int(np.median(counts))} sightings"))

    probe_ids = rng.integers(0, month.faces, max(3, repeat // 20))
    for label, window in (("by photo, one day", Window(month.start + timedelta(days=14), month.start + timedelta(days=15))),
                          ("by photo, 30 days", month_window)):
        cold: list[float] = []
        timed(lambda w=window: queries.by_photo(month.face_bases[0], w), cold)  # reads the days once
        runs = []
        for who in probe_ids:
            timed(lambda w=window, e=month.face_bases[who]: queries.by_photo(e, w), runs)
        faces = int(month.face_counts.sum() * (1 if window is month_window else 1 / month.days))
        lines.append(row(label, runs, f"~{faces:,} face sightings compared; first search "
                                      f"{cold[0]:.0f} ms (reads the days into memory)"))

    runs = []
    for p in sample[: max(5, repeat // 10)]:
        timed(lambda p=p: queries.companions(SightingKind.PLATE, p, month_window, CoTravelRules()), runs)
    lines.append(row("companions of a plate, 30 days", runs, "within 6 s at >= 4 cameras"))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", help="store URL (default: SQLite under --dir or a temp folder)")
    parser.add_argument("--dir", type=Path, help="keep the month here (SQLite) for reruns")
    parser.add_argument("--postgres", action="store_true", help="load into a throwaway PostgreSQL cluster")
    parser.add_argument("--reuse", action="store_true", help="the store already holds this month (same --rows/--seed)")
    parser.add_argument("--ingest", type=int, default=50_000, help="sightings for the ingest measure")
    parser.add_argument("--repeat", type=int, default=100, help="queries per kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--random-ids", action="store_true",
                        help="random message ids in the month and the ingest (real traffic before "
                             "time-ordered ids); with --reuse, the month must have been made so too")
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"month-{args.rows}{'-random-ids' if args.random_ids else ''}.db"
        url = args.url or f"sqlite:///{folder / name}"
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "setup"))
            from throwaway_postgres import ThrowawayPostgres

            server = ThrowawayPostgres().start()
            url = server.create_database("bench")
            global SERVER_PID
            SERVER_PID = int((server.data / "postmaster.pid").read_text().split()[0])
        try:
            if args.reuse:
                month, stream = chunks(args.rows, 30, args.seed)
                for _ in stream:  # replays the generator's draws to know the plates and counts
                    pass
            else:
                month = load(url, args.rows, seed=args.seed, random_ids=args.random_ids)
                print(f"loaded {args.rows:,} sightings in {month.seconds:.0f} s "
                      f"(of which indexes and identities {month.extra.get('index_s', 0):.0f} s)")
            with Store.open(url) as store:
                print(f"store: {store.dialect}, {store.count('sightings'):,} sightings, "
                      f"{store.count('identities'):,} identities")
                print("\n| consumer | sightings | per wall s | per CPU s |\n|---|---|---|---|")
                for line in bench_ingest(store, month, args.ingest, folder / "bench-bus", args.random_ids):
                    print(line)
                print("\n| query | runs | p50 ms | p95 ms | note |\n|---|---|---|---|---|")
                for line in bench_queries(store, month, args.repeat, args.seed + 7):
                    print(line)
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

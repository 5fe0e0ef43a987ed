"""Fuzzy plate search alone, at the 50M month's number of distinct plates, without the month.

    python -m bench.bench_fuzzy                  # 650,000 plates (a 50M-sighting month)
    python -m bench.bench_fuzzy --plates 125000  # a 10M month

The cost of `SightingQueries.fuzzy_plates` is the in-memory plate index, which scales with
distinct plates, not sightings: this builds it from the generator's plate population and
times `nearest` on one-misread queries (as `bench_trajectories` makes them), in CPU ms so
that a machine shared with other work still gives comparable figures. The exact lookup of
the matched plates' sightings that `plate_fuzzy` adds is measured by `bench_trajectories`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.queries import _PlateIndex  # noqa: E402
from bench.bench_trajectories import misread  # noqa: E402
from bench.generate_sightings import plate_population  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plates", type=int, default=650_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    plates = [str(p) for p in plate_population(args.plates, rng)]
    counts = (1 + 1000 * rng.random(args.plates) ** 3).astype(np.int64)
    now = datetime.now(UTC)
    started = time.process_time()
    index = _PlateIndex(plates, counts, [now] * len(plates), [now] * len(plates))
    build_s = time.process_time() - started
    runs: list[float] = []
    first = 0
    for i in rng.integers(0, len(plates), args.repeat):
        truth = plates[int(i)]
        query = misread(truth, rng)
        started = time.process_time()
        found = index.nearest(query, 1.0, 20)
        runs.append((time.process_time() - started) * 1000)
        first += bool(found) and found[0].plate == truth
    print(f"{len(plates):,} plates: index built in {build_s:.2f} CPU s; nearest over {len(runs)} misreads: "
          f"p50 {np.median(runs):.1f} / p95 {np.percentile(runs, 95):.1f} CPU ms; "
          f"right plate first {first}/{len(runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

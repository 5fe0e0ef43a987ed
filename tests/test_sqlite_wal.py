"""Many processes opening the same fresh data folder at once must all start.

Found in a parallel replay on a new --home: one camera process died with "database is
locked" while switching the watch list file to WAL mode, because another was creating the
schema at that moment.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.synchronize
from pathlib import Path

from streams.watchlist import Watchlist

STARTERS = 16


def _open_together(index: int, home: str, barrier: mp.synchronize.Barrier, errors: mp.Queue) -> None:
    barrier.wait()
    try:
        with Watchlist(Path(home)) as watchlist:
            watchlist.people()
            watchlist.add_plate(f"京A{10000 + index}", "start-up race test", "tester")
    except Exception as exc:  # reported to the test, which names it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_watchlist_together_all_start(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    for attempt in range(3):  # three fresh folders: the race is timing-dependent
        home = tmp_path / f"home{attempt}"
        barrier = ctx.Barrier(STARTERS)
        errors = ctx.Queue()
        procs = [ctx.Process(target=_open_together, args=(i, str(home), barrier, errors))
                 for i in range(STARTERS)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert found == [], f"processes failed to open a fresh watch list: {found}"
        assert all(proc.exitcode == 0 for proc in procs)

"""The long-running processes, each one function: what `cityops <command>` runs.

Each stops cleanly on SIGTERM or Ctrl-C (finishing its batch and committing), so the
demo supervisor can stop the whole system without losing or duplicating messages.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from streams.bus import Bus, open_bus
from streams.config import Settings
from streams.consume import collect_garbage_less_often

log = logging.getLogger(__name__)

COMPACT_EVERY_S = 3600


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM/SIGINT so loops finish their batch instead of dying mid-write."""
    stop = threading.Event()

    def _handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


ANALYTICS_ROLES = ("ingest", "governance", "trajectories", "worker-feed")


def run_analytics(settings: Settings, roles: tuple[str, ...] = ANALYTICS_ROLES) -> int:
    """Run analytics consumers, each in its own thread and consumer group.

    One process with every role suits one machine; at city scale run one role per
    process (`--role`) and scale each by adding processes (Kafka partitions).
    """
    stop = stop_on_signals()
    collect_garbage_less_often()
    import analytics.ingest  # noqa: F401 - imported here, before the threads (see _run_role)
    import analytics.sighting_guard  # noqa: F401
    import analytics.store  # noqa: F401
    import streams.district  # noqa: F401

    targets = {
        "ingest": _run_ingest_role,
        "governance": _run_role("analytics.governance", "run_governance"),
        "trajectories": _run_role("analytics.trajectories", "run_trajectories"),
        "worker-feed": _run_role("analytics.governance", "run_worker_feed"),
    }
    threads = []
    for role in roles:
        thread = threading.Thread(target=_guarded, args=(role, targets[role], settings, stop),
                                  name=role, daemon=True)
        thread.start()
        threads.append(thread)
    while any(t.is_alive() for t in threads) and not stop.is_set():
        stop.wait(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    failed = [t.name for t in threads if t.is_alive()]
    return 1 if failed or getattr(stop, "failed", False) else 0


def _guarded(role: str, target: Callable[[Settings, threading.Event], None], settings: Settings,
             stop: threading.Event) -> None:
    """A role that dies stops the process, so the supervisor restarts it whole and visibly."""
    try:
        target(settings, stop)
    except Exception:
        log.exception("analytics role %s failed: stopping the process", role)
        stop.failed = True  # type: ignore[attr-defined]
        stop.set()


def _run_role(module: str, function: str) -> Callable[[Settings, threading.Event], None]:
    """Import in the calling (main) thread: imports racing in threads can deadlock."""
    import importlib

    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def _run_ingest_role(settings: Settings, stop: threading.Event) -> None:
    from analytics.ingest import run_ingest
    from analytics.sighting_guard import SightingGuard
    from analytics.store import Store
    from streams.district import load_district

    district = load_district(settings.district_file)
    guard = SightingGuard(camera.id for camera in district.cameras)
    with Store.open(settings.store_url) as store, open_bus(settings.bus_url, settings.home) as bus:
        log.info("ingest: bus %s -> store %s", settings.bus_url, store.safe_url)
        threading.Thread(target=_compact_hourly, args=(bus, stop), daemon=True).start()
        threading.Thread(target=_purge_biometrics, args=(store, settings.home, stop),
                         name="biometric-purge", daemon=True).start()
        run_ingest(bus, store, stop, guard=guard)


def _purge_biometrics(store: object, home: Path, stop: threading.Event) -> None:
    """Face encodings and crops older than the retention: at start, then hourly."""
    from cityops.retention import purge_on_schedule

    purge_on_schedule(store, home, stop)  # type: ignore[arg-type]


def _compact_hourly(bus: Bus, stop: threading.Event) -> None:
    """Keep the embedded bus's disk bounded: drop what every group has read, after a day.

    Kafka does this itself (retention.ms); a week is the hard limit even for a group that
    never comes back.
    """
    from streams.localbus import LocalBus

    if not isinstance(bus, LocalBus):
        return
    while not stop.wait(COMPACT_EVERY_S):
        try:
            removed = bus.compact(keep_hours=24, max_keep_hours=168)
            log.info("bus compaction removed %s", {str(t): n for t, n in removed.items() if n})
        except Exception:  # compaction must never stop ingestion
            log.exception("bus compaction failed")


def run_simulator(settings: Settings, *, speed: float, backfill_days: int, live: bool,
                  seed: int, hotline_csv: Path | None, per_second: float | None = None) -> int:
    from analytics.store import Store
    from streams.district import load_district

    stop = stop_on_signals()
    district = load_district(settings.district_file)
    store = Store.open(settings.store_url)
    with open_bus(settings.bus_url, settings.home) as bus:
        if hotline_csv is not None:
            from analytics.hotline_csv import import_hotline_csv

            report = import_hotline_csv(hotline_csv, bus, store, district)
            bus.flush()
            log.info("hotline import: %s", report)
            return 0 if report.imported > 0 or report.rejected == 0 else 1
        from analytics.simulator import ComplaintSimulator

        sim = ComplaintSimulator(district, store, bus, seed=seed)
        if backfill_days > 0:
            count = sim.backfill(backfill_days)
            bus.flush()
            log.info("backfill: %d complaints over %d days", count, backfill_days)
        if live:
            if per_second:
                from datetime import UTC, datetime

                speed = sim.speed_for(per_second, datetime.now(UTC))
                log.info("%.1f complaints a second: speed %.0f", per_second, speed)
            sim.run_live(speed=speed, stop=stop)
        bus.flush()
    store.close()
    return 0


def run_dashboard(settings: Settings, host: str, port: int) -> int:
    from dashboard.app import create_app

    app = create_app(settings)
    log.info("dashboard on http://%s:%d", host, port)
    app.run(host=host, port=port, debug=False)
    return 0

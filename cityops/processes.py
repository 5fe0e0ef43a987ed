"""The long-running processes, each one function: what `cityops <command>` runs.

Each stops cleanly on SIGTERM or Ctrl-C (finishing its batch and committing), so the
demo supervisor can stop the whole system without losing or duplicating messages.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from streams.bus import Bus, open_bus
from streams.config import Settings

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


def run_analytics(settings: Settings) -> int:
    from analytics.ingest import run_ingest
    from analytics.store import Store

    stop = stop_on_signals()
    store = Store.open(settings.store_url)
    with open_bus(settings.bus_url, settings.home) as bus:
        log.info("analytics: bus %s -> store %s", settings.bus_url, store.safe_url)
        threading.Thread(target=_compact_hourly, args=(bus, stop), daemon=True).start()
        run_ingest(bus, store, stop)
    store.close()
    return 0


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
                  seed: int, hotline_csv: Path | None) -> int:
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

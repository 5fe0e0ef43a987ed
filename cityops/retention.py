"""The biometric retention job: one cutoff for every place face data lives.

- the store: face sightings' encodings and crops (`analytics.biometric_purge`);
- the data folder's face side: crops no sighting names any more, and unknown people's
  cluster centres (`video.faces.privacy.purge_biometrics`).

`cityops watchlist purge` runs it once; the analytics process runs it at start and then
every `PURGE_EVERY_S`, so nothing outlives the retention by more than an hour.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analytics.biometric_purge import purge_face_sightings
from analytics.store import Store
from streams.watchlist import biometric_cutoff

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: datetime
    face_sightings: int
    sighting_crops: int
    other_crops: int
    unknown_people: int

    def summary(self) -> str:
        return (f"purged biometric data older than {self.cutoff.isoformat(timespec='seconds')}: "
                f"{self.face_sightings} face sighting(s) lost encoding and crop "
                f"({self.sighting_crops} crop file(s)), {self.other_crops} other face crop(s), "
                f"{self.unknown_people} unknown person(s)")


def purge_biometrics_everywhere(store: Store, home: Path, older_than_days: int | None = None,
                                now: datetime | None = None) -> RetentionReport:
    """Everything biometric older than the retention (or `older_than_days`), at once."""
    from video.faces.privacy import purge_biometrics

    now = now or datetime.now(UTC)
    cutoff = biometric_cutoff(older_than_days, now)
    in_store = purge_face_sightings(store, home, cutoff)
    on_disk = purge_biometrics(home, older_than_days, now)
    return RetentionReport(cutoff=cutoff, face_sightings=in_store.sightings, sighting_crops=in_store.crops_removed,
                           other_crops=on_disk.crops_removed, unknown_people=on_disk.unknown_people_removed)


def purge_on_schedule(store: Store, home: Path, stop: threading.Event, every_s: float = PURGE_EVERY_S) -> None:
    """Run the retention job now and then every `every_s` until `stop`; a failure is
    logged and retried next time (it must never stop ingestion)."""
    while True:
        try:
            report = purge_biometrics_everywhere(store, home)
            log.info("%s", report.summary())
        except Exception:
            log.exception("biometric purge failed (retried in %.0f s)", every_s)
        if stop.wait(every_s):
            return

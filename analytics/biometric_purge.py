"""The store's face biometrics go after the retention period; the sightings stay.

A face sighting is evidence an analyst needs later (who, where, when), but its encoding
(what search by photo matches) and its crop (the file its `snapshot` names, under the
data folder) are biometric data, kept only `biometric_retention_days()` (default 30,
`CITYOPS_BIOMETRIC_RETENTION_DAYS`). This drops both from face sightings older than the
cutoff and keeps the row: time, camera, identity, distance, box. Plate sightings are not
biometric and are never touched.

Rows are cleared in committed batches before their files are deleted: a crash in between
leaves an unreferenced crop (the face code's own purge deletes those by age), never a
sighting pointing at a file that is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select, update

from analytics import tables as t
from analytics.store import Store
from streams.records import SightingKind

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True, slots=True)
class FacePurge:
    cutoff: datetime
    sightings: int
    """Face sightings that lost their encoding and/or crop."""
    crops_removed: int
    """Crop files deleted (a crop already gone is not counted)."""


def purge_face_sightings(store: Store, home: Path | None, cutoff: datetime) -> FacePurge:
    """Clear encodings and snapshots of face sightings seen before `cutoff`, delete their
    crop files under `home` (None: leave files alone), and say how many."""
    s = t.sightings
    cleared = removed = 0
    while True:
        with store.transaction() as conn:
            rows = conn.execute(
                select(s.c.id, s.c.snapshot)
                .where(s.c.kind == SightingKind.FACE.value, s.c.ts < cutoff,
                       or_(s.c.encoding.is_not(None), s.c.snapshot.is_not(None)))
                .limit(BATCH)
            ).all()
            if not rows:
                break
            conn.execute(update(s).where(s.c.id.in_([r.id for r in rows])).values(encoding=None, snapshot=None))
        cleared += len(rows)
        if home is not None:
            removed += sum(_remove_crop(home, r.snapshot) for r in rows if r.snapshot)
    if cleared:
        log.info("biometric purge: %d face sighting(s) before %s lost encoding and crop, %d crop file(s) deleted",
                 cleared, cutoff.isoformat(timespec="seconds"), removed)
    return FacePurge(cutoff=cutoff, sightings=cleared, crops_removed=removed)


def _remove_crop(home: Path, snapshot: str) -> bool:
    """Delete the crop a sighting named, only if it lies inside the data folder."""
    root = Path(home).resolve()
    path = (root / snapshot).resolve()
    if not path.is_relative_to(root):
        log.warning("biometric purge: snapshot %r is outside the data folder: not deleted", snapshot)
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True

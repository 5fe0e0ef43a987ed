"""Face crops and encodings are biometric data: where they are kept, and when they go.

Everything the face code stores lives under `<home>/faces/`:
- `crops/YYYY-MM-DD/<id>.jpg`: the best view of each face track (a sighting's snapshot),
  purged after the retention period (`streams.watchlist.biometric_retention_days()`,
  default 30 days, env `CITYOPS_BIOMETRIC_RETENTION_DAYS`);
- `unknown_people.db`: the centres of unknown people, purged when not seen for as long;
- `watchlist/<person>/<id>.jpg`: enrolment photos' crops, kept while the person is on the
  watch list (a deliberate, logged decision) and deleted with `remove_enrolled`.
The store's copy (face sightings' encodings and the crops they name) is purged by
`analytics.biometric_purge` with the same `biometric_cutoff()`; `cityops.retention` runs
both (`cityops watchlist purge`, and hourly in the analytics process).
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from streams.records import BBox
from streams.watchlist import Watchlist, biometric_cutoff
from video.faces.matcher import purge_unknown_people

FACES_DIR = "faces"
CROPS_DIR = "crops"
ENROLLED_DIR = "watchlist"


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cutoff: datetime
    crops_removed: int
    unknown_people_removed: int


def _crop(image_bgr: np.ndarray, bbox: BBox, margin: float = 0.25) -> np.ndarray:
    height, width = image_bgr.shape[:2]
    x1, y1, x2, y2 = bbox
    mx, my = round((x2 - x1) * margin), round((y2 - y1) * margin)
    return image_bgr[max(0, y1 - my) : min(height, y2 + my), max(0, x1 - mx) : min(width, x2 + mx)]


def save_face_crop(home: Path, image_bgr: np.ndarray, bbox: BBox, when: datetime | None = None) -> Path:
    """Store a sighting's face crop under the day it was seen; returns its path."""
    day = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    folder = Path(home) / FACES_DIR / CROPS_DIR / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.jpg"
    if not cv2.imwrite(str(path), _crop(image_bgr, bbox)):
        raise OSError(f"could not write the face crop {path}")
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^\w\-]+", "_", name, flags=re.UNICODE).strip("_") or "person"


def save_enrolled_crop(home: Path, name: str, image_bgr: np.ndarray, bbox: BBox) -> Path:
    """Keep the enrolment face so an analyst can see whom the watch list holds."""
    folder = Path(home) / FACES_DIR / ENROLLED_DIR / _slug(name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.jpg"
    if not cv2.imwrite(str(path), _crop(image_bgr, bbox)):
        raise OSError(f"could not write the enrolment crop {path}")
    return path


def remove_enrolled(home: Path, name: str, removed_by: str) -> int:
    """Take a person off the watch list and delete their enrolment crops; returns files removed."""
    with Watchlist(home) as watchlist:
        crops = watchlist.remove_person(name, removed_by)
    removed = 0
    for crop in crops:
        path = Path(crop)
        if path.is_file():
            path.unlink()
            removed += 1
    folder = Path(home) / FACES_DIR / ENROLLED_DIR / _slug(name)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed


def purge_biometrics(home: Path, older_than_days: int | None = None, now: datetime | None = None) -> PurgeReport:
    """Delete sighting face crops and unknown people older than the retention period.

    `older_than_days=None` uses the configured retention (default 30 days). Enrolment
    crops of watch-listed people are not touched: they go when the person is removed.
    """
    cutoff = biometric_cutoff(older_than_days, now)
    crops_root = Path(home) / FACES_DIR / CROPS_DIR
    removed = 0
    if crops_root.is_dir():
        cutoff_ts = cutoff.timestamp()
        for day in sorted(p for p in crops_root.iterdir() if p.is_dir()):
            for path in day.iterdir():
                if path.is_file() and path.stat().st_mtime < cutoff_ts:
                    path.unlink()
                    removed += 1
            if not any(day.iterdir()):
                shutil.rmtree(day)
    unknown = purge_unknown_people(Path(home), cutoff)
    return PurgeReport(cutoff=cutoff, crops_removed=removed, unknown_people_removed=unknown)

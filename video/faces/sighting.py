"""Turn one finished face track into the `Sighting` the bus carries.

Kept here so that every producer (the video workers, `cityops faces` later) fills the
face fields the same way: identity = watch-listed name or unknown-person id,
`face_distance` = the distance behind that identity, `encoding` = the track's best view
(biometric: the store purges it after `biometric_retention_days()`).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from streams.records import BBox, Sighting, SightingKind
from video.faces.matcher import FaceIdentity


def face_sighting(
    camera_id: str,
    ts: datetime,
    bbox: BBox,
    who: FaceIdentity,
    encoding: np.ndarray,
    track_id: str = "",
    snapshot: str | None = None,
) -> Sighting:
    """One face track as a sighting; confidence is 1 - distance (0.36 apart -> 0.64)."""
    return Sighting(
        camera_id=camera_id,
        ts=ts,
        kind=SightingKind.FACE,
        identity=who.identity,
        confidence=float(np.clip(1.0 - who.distance, 0.0, 1.0)),
        bbox=bbox,
        track_id=track_id,
        snapshot=snapshot,
        face_distance=float(min(who.distance, 2.0)),
        encoding=[float(v) for v in np.asarray(encoding, dtype=np.float64).reshape(-1)],
    )

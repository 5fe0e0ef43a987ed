"""Who is this face: a watch-listed person, or a stable id for someone not on the list.

A wrong name on a watch-list alert sends officers after the wrong person, so naming is
stricter than face_recognition's usual tolerance of 0.6: a face gets a watch-listed name
only when its nearest enrolled face is within `ACCEPT_DISTANCE` *and* clearly nearer than
any other person's (`MARGIN`). Measured here (docs/ACCURACY.md): the same person 0.33-0.47
apart across photos, different people 0.58 and more (0.58 = two strangers, one in
sunglasses), so 0.50 names every test face and no stranger.

Faces that are not named still get an identity, so that unknown people get trajectories
too: online clustering (each face joins the nearest cluster centre within
`CLUSTER_DISTANCE`, else starts a new one) gives ids like `unknown:3f9a0c12`, kept in
`<home>/faces/unknown_people.db` so they survive restarts and are shared by the workers of
one data folder. Cluster centres are biometric data: `purge_unknown_before` drops the
ones not seen since a cut-off.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from streams.sqlite_wal import use_wal
from streams.watchlist import ENCODING_SIZE, EncodingTable, Watchlist

DEFAULT_TOLERANCE = 0.6
"""face_recognition's usual same-person distance; above it a face is never a candidate."""

ACCEPT_DISTANCE = 0.50
"""At most this far from an enrolled face to be given that person's name."""

MARGIN = 0.05
"""The named person must be this much nearer than the next-nearest enrolled person."""

CLUSTER_DISTANCE = 0.50
"""An unknown face joins the nearest unknown person within this distance of its centre."""

CENTRE_WEIGHT_CAP = 50
"""A centre moves by at least 1/50 of the gap for each new face, so it can follow a person
whose look drifts (lighting, season) instead of freezing after thousands of sightings."""

UNKNOWN_PREFIX = "unknown:"
UNKNOWN_FILE = Path("faces") / "unknown_people.db"


@dataclass(frozen=True, slots=True)
class FaceIdentity:
    """The answer for one face (one face track, in video)."""

    identity: str  # a watch-listed name, or "unknown:xxxxxxxx"
    watchlisted: bool
    distance: float  # to the named person's nearest enrolled face, or to the cluster centre
    candidate: str | None = None  # nearest watch-listed name when within tolerance but not accepted
    candidate_distance: float | None = None

    @property
    def unknown_id(self) -> str | None:
        return None if self.watchlisted else self.identity


_SCHEMA = """
CREATE TABLE IF NOT EXISTS unknown_people (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    centre BLOB NOT NULL,
    faces INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
"""


class FaceMatcher:
    """Matches encodings against one data folder's watch list and unknown people."""

    def __init__(
        self,
        watchlist: Watchlist,
        home: Path,
        tolerance: float = DEFAULT_TOLERANCE,
        accept: float = ACCEPT_DISTANCE,
        cluster_distance: float = CLUSTER_DISTANCE,
    ) -> None:
        if not 0.0 < tolerance <= 2.0:
            raise ValueError(f"tolerance must be in (0, 2], not {tolerance}")
        self.watchlist = watchlist
        self.tolerance = tolerance
        self.accept = min(accept, tolerance)
        self.cluster_distance = cluster_distance
        self.home = Path(home)
        self._table: EncodingTable | None = None
        path = Path(home) / UNKNOWN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        use_wal(self._db)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        self._ids: list[str] = []
        self._centres = np.zeros((0, ENCODING_SIZE))
        self._seen_seq = 0
        self._load_new_clusters()

    def close(self) -> None:
        self._db.close()

    def identify(self, encoding: np.ndarray, seen_at: datetime | None = None) -> FaceIdentity:
        """Name the face if it is clearly a watch-listed person, else its unknown-person id."""
        vector = np.asarray(encoding, dtype=np.float64).reshape(-1)
        if vector.size != ENCODING_SIZE or not np.all(np.isfinite(vector)):
            raise ValueError(f"a face encoding has {ENCODING_SIZE} finite numbers, got {vector.size}")
        candidate, candidate_distance, runner_up = self._nearest_person(vector)
        if (
            candidate is not None
            and candidate_distance <= self.accept
            and runner_up - candidate_distance >= MARGIN
        ):
            return FaceIdentity(candidate, True, round(candidate_distance, 4))
        near = candidate if candidate is not None and candidate_distance <= self.tolerance else None
        unknown_id, distance = self._cluster(vector, seen_at or datetime.now(UTC))
        return FaceIdentity(
            unknown_id,
            False,
            round(distance, 4),
            candidate=near,
            candidate_distance=round(candidate_distance, 4) if near else None,
        )

    def unknown_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM unknown_people").fetchone()[0])

    def purge_unknown_before(self, cutoff: datetime) -> int:
        """Forget unknown people last seen before `cutoff` (their centres are biometric)."""
        removed = purge_unknown_people(self.home, cutoff)
        self._ids, self._centres, self._seen_seq = [], np.zeros((0, ENCODING_SIZE)), 0
        self._load_new_clusters()
        return removed

    # ---------------------------------------------------------------- watch list

    def _nearest_person(self, vector: np.ndarray) -> tuple[str | None, float, float]:
        """(nearest name, its distance, distance of the nearest *other* person)."""
        revision = self.watchlist.revision()
        if self._table is None or self._table.revision != revision:
            self._table = self.watchlist.encodings()
        table = self._table
        if not table.names:
            return None, float("inf"), float("inf")
        distances = np.linalg.norm(table.matrix - vector, axis=1)
        best_by_name: dict[str, float] = {}
        for name, distance in zip(table.names, distances.tolist(), strict=True):
            if distance < best_by_name.get(name, float("inf")):
                best_by_name[name] = distance
        ranked = sorted(best_by_name.items(), key=lambda item: item[1])
        runner_up = ranked[1][1] if len(ranked) > 1 else float("inf")
        return ranked[0][0], ranked[0][1], runner_up

    # ---------------------------------------------------------------- unknown people

    def _load_new_clusters(self) -> None:
        rows = self._db.execute(
            "SELECT seq, id, centre FROM unknown_people WHERE seq > ? ORDER BY seq", (self._seen_seq,)
        ).fetchall()
        if not rows:
            return
        self._ids.extend(row[1] for row in rows)
        new = np.stack([np.frombuffer(row[2], dtype=np.float64) for row in rows])
        self._centres = np.vstack([self._centres, new])
        self._seen_seq = rows[-1][0]

    def _cluster(self, vector: np.ndarray, seen_at: datetime) -> tuple[str, float]:
        """Join the nearest unknown person within reach, or start a new one (atomically,
        so two workers seeing a new face at once do not give it two ids)."""
        seen = seen_at.astimezone(UTC).isoformat()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._load_new_clusters()
            while len(self._ids):
                distances = np.linalg.norm(self._centres - vector, axis=1)
                index = int(np.argmin(distances))
                if distances[index] > self.cluster_distance:
                    break
                unknown_id = self._ids[index]
                if self._update_centre(index, unknown_id, vector, seen):
                    self._db.execute("COMMIT")
                    return unknown_id, float(distances[index])
                # purged meanwhile (retention): forget it here too and look again
                del self._ids[index]
                self._centres = np.delete(self._centres, index, axis=0)
            unknown_id = UNKNOWN_PREFIX + uuid.uuid4().hex[:8]
            self._db.execute(
                "INSERT INTO unknown_people (id, centre, faces, first_seen, last_seen) VALUES (?, ?, 1, ?, ?)",
                (unknown_id, vector.tobytes(), seen, seen),
            )
            self._load_new_clusters()
            self._db.execute("COMMIT")
            return unknown_id, 0.0
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _update_centre(self, index: int, unknown_id: str, vector: np.ndarray, seen: str) -> bool:
        """Move the centre towards the new face; False when the cluster no longer exists."""
        row = self._db.execute(
            "SELECT centre, faces FROM unknown_people WHERE id = ?", (unknown_id,)
        ).fetchone()
        if row is None:
            return False
        centre = np.frombuffer(row[0], dtype=np.float64)
        faces = int(row[1])
        weight = 1.0 / min(faces + 1, CENTRE_WEIGHT_CAP)
        centre = centre + (vector - centre) * weight
        self._centres[index] = centre
        self._db.execute(
            "UPDATE unknown_people SET centre = ?, faces = ?, last_seen = max(last_seen, ?) WHERE id = ?",
            (centre.tobytes(), faces + 1, seen, unknown_id),
        )
        return True


def purge_unknown_people(home: Path, cutoff: datetime) -> int:
    """Forget the unknown people of a data folder last seen before `cutoff`; running
    matchers notice on their next face and stop using the forgotten ids."""
    path = Path(home) / UNKNOWN_FILE
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=30000")
        db.executescript(_SCHEMA)
        return int(
            db.execute(
                "DELETE FROM unknown_people WHERE last_seen < ?", (cutoff.astimezone(UTC).isoformat(),)
            ).rowcount
        )
    finally:
        db.close()

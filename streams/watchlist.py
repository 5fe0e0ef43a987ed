"""The watch list: people (by face) and plates that analysts want to be told about.

Shared reference data, so it lives in `streams/`: the video workers read the face
encodings to match against, analytics reads the reasons to write alerts, the dashboard
edits it. One SQLite file under the data folder (`<home>/watchlist.db`, WAL, so readers in
other processes never block the editor). Every change is kept in `changes` with who and
when, because adding someone to a watch list is a decision that must be accountable.

Encodings and crops are biometric data: `biometric_retention_days()` is the one retention
setting the face code and the store's purge job share.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from streams.sqlite_wal import use_wal

WATCHLIST_FILE = "watchlist.db"
ENCODING_SIZE = 128

DEFAULT_BIOMETRIC_RETENTION_DAYS = 30
RETENTION_ENV = "CITYOPS_BIOMETRIC_RETENTION_DAYS"


def biometric_retention_days() -> int:
    """Days to keep face crops and encodings of sightings (env override, default 30)."""
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_BIOMETRIC_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError as exc:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days, not {raw!r}") from exc
    if days < 0:
        raise ValueError(f"{RETENTION_ENV} must be 0 or more, not {days}")
    return days


def biometric_cutoff(older_than_days: int | None = None, now: datetime | None = None) -> datetime:
    """The instant before which biometric data must be gone (for every purge job)."""
    days = biometric_retention_days() if older_than_days is None else older_than_days
    return (now or datetime.now(UTC)) - timedelta(days=days)


class WatchlistError(ValueError):
    """A change the watch list refuses (unknown person, empty name, bad encoding, ...)."""


@dataclass(frozen=True, slots=True)
class WatchFace:
    id: int
    encoding: np.ndarray  # 128 float64
    crop_path: str | None
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class WatchPerson:
    name: str
    reason: str
    added_by: str
    added_at: datetime
    faces: tuple[WatchFace, ...]


@dataclass(frozen=True, slots=True)
class WatchPlate:
    plate: str
    reason: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the watch list's history."""

    id: int
    ts: datetime
    actor: str
    action: str  # add_person, add_face, update_reason, remove_person, add_plate, ...
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class EncodingTable:
    """Every enrolled encoding as one matrix, for fast matching: row i belongs to names[i]."""

    names: tuple[str, ...]
    matrix: np.ndarray  # shape (n, 128)
    revision: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL DEFAULT '',
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    encoding BLOB NOT NULL,
    crop_path TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
CREATE TABLE IF NOT EXISTS plates (
    plate TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""

_PLATE_SPACES = re.compile(r"[\s\-·.]+")


def normalise_plate(plate: str) -> str:
    """Plates compare without spaces, dots or dashes, in upper case (黑A·12345 == 黑A12345)."""
    return _PLATE_SPACES.sub("", plate).upper()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _clean(label: str, value: str, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise WatchlistError(f"{label} must not be empty")
    if len(value) > max_len:
        raise WatchlistError(f"{label} is longer than {max_len} characters")
    return value


def _encoding_blob(encoding: Sequence[float] | np.ndarray) -> bytes:
    array = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if array.size != ENCODING_SIZE or not np.all(np.isfinite(array)):
        raise WatchlistError(f"a face encoding has {ENCODING_SIZE} finite numbers, got {array.size}")
    return array.tobytes()


class Watchlist:
    """The watch list of one data folder. Cheap to open; safe to use from many processes."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / WATCHLIST_FILE
        self.home.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        use_wal(self._db)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Watchlist:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _log(self, actor: str, action: str, subject: str, detail: dict[str, object] | None = None) -> None:
        self._db.execute(
            "INSERT INTO changes (ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), actor, action, subject, json.dumps(detail or {}, ensure_ascii=False)),
        )

    # ------------------------------------------------------------------ people

    def add_person(self, name: str, reason: str, added_by: str) -> WatchPerson:
        """Put a person on the list (no face yet); refuses a name that is already there."""
        name = _clean("name", name, 64)
        added_by = _clean("added_by", added_by, 64)
        with self._write() as db:
            if db.execute("SELECT 1 FROM people WHERE name = ?", (name,)).fetchone():
                raise WatchlistError(f"{name!r} is already on the watch list")
            db.execute(
                "INSERT INTO people (name, reason, added_by, added_at) VALUES (?, ?, ?, ?)",
                (name, reason.strip(), added_by, _now()),
            )
            self._log(added_by, "add_person", name, {"reason": reason.strip()})
        person = self.person(name)
        assert person is not None
        return person

    def enroll(
        self,
        name: str,
        encodings: Sequence[np.ndarray],
        added_by: str,
        reason: str = "",
        crop_paths: Sequence[str | None] | None = None,
    ) -> WatchPerson:
        """Add faces to a person, creating the person if new; all or nothing."""
        name = _clean("name", name, 64)
        added_by = _clean("added_by", added_by, 64)
        if not encodings:
            raise WatchlistError("enrolling needs at least one face encoding")
        crops = list(crop_paths) if crop_paths is not None else [None] * len(encodings)
        if len(crops) != len(encodings):
            raise WatchlistError("one crop path (or None) per encoding")
        blobs = [_encoding_blob(encoding) for encoding in encodings]
        now = _now()
        with self._write() as db:
            row = db.execute("SELECT id, reason FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO people (name, reason, added_by, added_at) VALUES (?, ?, ?, ?)",
                    (name, reason.strip(), added_by, now),
                )
                person_id = cursor.lastrowid
                self._log(added_by, "add_person", name, {"reason": reason.strip()})
            else:
                person_id = row[0]
                if reason.strip() and reason.strip() != row[1]:
                    db.execute("UPDATE people SET reason = ? WHERE id = ?", (reason.strip(), person_id))
                    self._log(added_by, "update_reason", name, {"from": row[1], "to": reason.strip()})
            for blob, crop in zip(blobs, crops, strict=True):
                cursor = db.execute(
                    "INSERT INTO faces (person_id, encoding, crop_path, added_by, added_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (person_id, blob, crop, added_by, now),
                )
                self._log(added_by, "add_face", name, {"face_id": cursor.lastrowid, "crop_path": crop})
        person = self.person(name)
        assert person is not None
        return person

    def set_reason(self, name: str, reason: str, changed_by: str) -> None:
        changed_by = _clean("changed_by", changed_by, 64)
        with self._write() as db:
            row = db.execute("SELECT reason FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise WatchlistError(f"{name!r} is not on the watch list")
            db.execute("UPDATE people SET reason = ? WHERE name = ?", (reason.strip(), name))
            self._log(changed_by, "update_reason", name, {"from": row[0], "to": reason.strip()})

    def remove_person(self, name: str, removed_by: str) -> list[str]:
        """Take a person off the list with all their encodings; returns their crop paths
        so the caller can delete the files (the list does not own the folder layout)."""
        removed_by = _clean("removed_by", removed_by, 64)
        with self._write() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise WatchlistError(f"{name!r} is not on the watch list")
            crops = [
                crop
                for (crop,) in db.execute("SELECT crop_path FROM faces WHERE person_id = ?", (row[0],))
                if crop
            ]
            count = db.execute("SELECT count(*) FROM faces WHERE person_id = ?", (row[0],)).fetchone()[0]
            db.execute("DELETE FROM faces WHERE person_id = ?", (row[0],))
            db.execute("DELETE FROM people WHERE id = ?", (row[0],))
            self._log(removed_by, "remove_person", name, {"faces": count})
        return crops

    def person(self, name: str) -> WatchPerson | None:
        row = self._db.execute(
            "SELECT id, name, reason, added_by, added_at FROM people WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else self._person(row)

    def people(self) -> list[WatchPerson]:
        rows = self._db.execute(
            "SELECT id, name, reason, added_by, added_at FROM people ORDER BY name"
        ).fetchall()
        return [self._person(row) for row in rows]

    def _person(self, row: tuple) -> WatchPerson:
        person_id, name, reason, added_by, added_at = row
        faces = tuple(
            WatchFace(
                id=face_id,
                encoding=np.frombuffer(blob, dtype=np.float64).copy(),
                crop_path=crop,
                added_by=by,
                added_at=_time(at),
            )
            for face_id, blob, crop, by, at in self._db.execute(
                "SELECT id, encoding, crop_path, added_by, added_at FROM faces"
                " WHERE person_id = ? ORDER BY id",
                (person_id,),
            )
        )
        return WatchPerson(name=name, reason=reason, added_by=added_by, added_at=_time(added_at), faces=faces)

    def encodings(self) -> EncodingTable:
        """All enrolled encodings as a matrix (what the matcher compares a face with)."""
        revision = self.revision()
        rows = self._db.execute(
            "SELECT people.name, faces.encoding FROM faces JOIN people ON people.id = faces.person_id"
            " ORDER BY faces.id"
        ).fetchall()
        names = tuple(name for name, _ in rows)
        if rows:
            matrix = np.stack([np.frombuffer(blob, dtype=np.float64) for _, blob in rows])
        else:
            matrix = np.zeros((0, ENCODING_SIZE))
        return EncodingTable(names=names, matrix=matrix, revision=revision)

    # ------------------------------------------------------------------ plates

    def add_plate(self, plate: str, reason: str, added_by: str) -> WatchPlate:
        plate = normalise_plate(_clean("plate", plate, 16))
        added_by = _clean("added_by", added_by, 64)
        with self._write() as db:
            if db.execute("SELECT 1 FROM plates WHERE plate = ?", (plate,)).fetchone():
                raise WatchlistError(f"plate {plate} is already on the watch list")
            db.execute(
                "INSERT INTO plates (plate, reason, added_by, added_at) VALUES (?, ?, ?, ?)",
                (plate, reason.strip(), added_by, _now()),
            )
            self._log(added_by, "add_plate", plate, {"reason": reason.strip()})
        found = self.plate(plate)
        assert found is not None
        return found

    def remove_plate(self, plate: str, removed_by: str) -> None:
        plate = normalise_plate(plate)
        removed_by = _clean("removed_by", removed_by, 64)
        with self._write() as db:
            if db.execute("DELETE FROM plates WHERE plate = ?", (plate,)).rowcount == 0:
                raise WatchlistError(f"plate {plate} is not on the watch list")
            self._log(removed_by, "remove_plate", plate)

    def plate(self, plate: str) -> WatchPlate | None:
        row = self._db.execute(
            "SELECT plate, reason, added_by, added_at FROM plates WHERE plate = ?",
            (normalise_plate(plate),),
        ).fetchone()
        return None if row is None else WatchPlate(row[0], row[1], row[2], _time(row[3]))

    def plates(self) -> list[WatchPlate]:
        rows = self._db.execute("SELECT plate, reason, added_by, added_at FROM plates ORDER BY plate")
        return [WatchPlate(p, r, by, _time(at)) for p, r, by, at in rows]

    # ------------------------------------------------------------------ shared

    def reason_for(self, kind: str, identity: str) -> str | None:
        """Why an identity is watched (for an alert's text), or None when it is not.

        `kind` is a `SightingKind` value: 'face' looks up a person, 'plate' a plate.
        """
        if kind == "face":
            person = self._db.execute("SELECT reason FROM people WHERE name = ?", (identity,)).fetchone()
            return None if person is None else person[0]
        if kind == "plate":
            found = self.plate(identity)
            return None if found is None else found.reason
        raise WatchlistError(f"unknown kind {kind!r}: use 'face' or 'plate'")

    def history(self, subject: str | None = None, limit: int = 1000) -> list[Change]:
        """Newest first: who changed what and when."""
        query = "SELECT id, ts, actor, action, subject, detail FROM changes"
        args: tuple = ()
        if subject is not None:
            query += " WHERE subject = ?"
            args = (subject,)
        rows = self._db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [Change(i, _time(ts), actor, action, subj, detail) for i, ts, actor, action, subj, detail in rows]

    def revision(self) -> int:
        """Grows with every change: readers reload their copy when it moves."""
        row = self._db.execute("SELECT max(id) FROM changes").fetchone()
        return int(row[0] or 0)

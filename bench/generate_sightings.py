"""A month of sightings at the district's 152 cameras, bulk-loaded into a store for benchmarks.

    python -m bench.generate_sightings --url sqlite:///var/bench/month.db --rows 50000000
    python -m bench.generate_sightings --url postgresql+psycopg://... --rows 50000000

What it looks like (deterministic from --seed): `rows` sightings spread over `days` days
with a day/night profile (quiet 01-05h, peaks at 08h and 18h), cameras of unequal
traffic (a gamma spread: a few busy crossings), plates drawn from a population of
rows/80 vehicles with a skewed popularity (a taxi passes thousands of times a month, most
cars a few dozen), and a share of face sightings (unknown-person ids, each with a stable
128-d encoding plus noise). The `identities` table is filled as the trajectory consumer
would fill it.

Message ids are made as `streams.records.new_id` makes them in real traffic: time-ordered
(UUIDv7 of the sighting's own millisecond, then random bits), so new ids append to the id
index; `--random-ids` makes them random (uuid4-like) as real traffic made them before, to
measure what the id order costs the ingest.

This is a loader, not the ingest path: rows go in by `executemany` (SQLite) or `COPY`
(PostgreSQL) with the secondary indexes dropped and rebuilt after, so a 50M-row month
loads in minutes. The real ingest path (bus -> consumer -> `Store.write`) is measured by
`bench/bench_trajectories.py` on top of this data.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.store import Store  # noqa: E402
from streams.district import load_district  # noqa: E402
from streams.plate_grammar import LETTERS  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
HOURLY = np.array([2, 1, 1, 1, 1, 2, 5, 9, 12, 9, 7, 7, 8, 7, 7, 8, 9, 11, 12, 9, 7, 6, 4, 3], dtype=float)
SECONDARY_INDEXES = {
    "ix_sightings_identity_ts": "sightings (identity, ts)",
    "ix_sightings_camera_id_ts": "sightings (camera_id, ts)",
    "ix_sightings_face_ts": "sightings (ts) WHERE kind = 'face'",
}
IDENTITIES_FROM_SIGHTINGS = (
    "INSERT INTO identities (kind, identity, first_ts, last_ts, sightings) "
    "SELECT CASE WHEN identity LIKE 'u-%' THEN 'face' ELSE 'plate' END, identity, min(ts), max(ts), "
    "count(*) FROM sightings GROUP BY identity")
"""Generated face ids start with 'u-' and plates never do, so the (identity, ts) index alone
answers it (no sort of the whole table by kind)."""
CONFUSABLE = {"0": "D", "D": "0", "Q": "0", "8": "B", "B": "8", "1": "7", "7": "1", "2": "Z",
              "Z": "2", "5": "S", "S": "5"}
"""One OCR misread per confusable character (the benches search with such misreads)."""
COLUMNS = ("id, camera_id, ts, kind, identity, confidence, x1, y1, x2, y2, track_id, snapshot, "
           "plate_color, face_distance, encoding")


@dataclass(slots=True)
class Month:
    """What was generated: enough to pick realistic queries afterwards."""

    rows: int
    days: int
    plates: np.ndarray  # the vehicle population's plate strings
    plate_counts: np.ndarray  # sightings per plate
    faces: int
    face_bases: np.ndarray  # (faces, 128) float32: each person's encoding
    face_counts: np.ndarray
    cameras: list[str]
    start: datetime = START
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


def plate_population(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct 黑-province plates (mostly 黑A, Harbin), canonical, unique."""
    letters = np.array(list(LETTERS))
    alnum = np.array(list("0123456789" * 3 + LETTERS))  # digits more often than letters
    city = rng.choice(np.array(list("AAAAAAAABCDEFGHJKLMNP")), size=n * 2)
    tails = rng.choice(alnum, size=(n * 2, 5))
    plates = np.char.add(np.char.add("黑", city), np.array(["".join(t) for t in tails]))
    unique = np.unique(plates)
    rng.shuffle(unique)
    if len(unique) < n:
        raise RuntimeError("plate population too small; raise the alphabet")
    del letters
    return unique[:n]


def chunks(rows: int, days: int, seed: int, faces_share: float = 0.02, chunk_rows: int = 500_000
           ) -> tuple[Month, Iterator[dict[str, np.ndarray]]]:
    """The month's description and an iterator of column chunks in time order."""
    rng = np.random.default_rng(seed)
    district = load_district()
    cameras = [c.id for c in district.cameras]
    camera_weight = rng.gamma(1.5, 1.0, len(cameras))
    camera_weight /= camera_weight.sum()
    n_plates = max(1000, rows // 80)
    plates = plate_population(n_plates, rng)
    n_faces = max(100, int(rows * faces_share) // 40)
    face_bases = rng.normal(0, 0.09, (n_faces, 128)).astype(np.float32)
    month = Month(rows, days, plates, np.zeros(n_plates, dtype=np.int64), n_faces, face_bases,
                  np.zeros(n_faces, dtype=np.int64), cameras)
    hour_weight = HOURLY / HOURLY.sum()

    def generate() -> Iterator[dict[str, np.ndarray]]:
        made = 0
        per_day = rows // days
        for day in range(days):
            todo = per_day if day < days - 1 else rows - made
            for start in range(0, todo, chunk_rows):
                n = min(chunk_rows, todo - start)
                hours = rng.choice(24, size=n, p=hour_weight)
                micros = (day * 86_400 + hours * 3600) * 1_000_000 + rng.integers(0, 3_600_000_000, n)
                micros.sort()
                is_face = rng.random(n) < faces_share
                who = np.where(is_face, (n_faces * rng.random(n) ** 1.5).astype(np.int64),
                               (n_plates * rng.random(n) ** 1.5).astype(np.int64))
                np.add.at(month.plate_counts, who[~is_face], 1)
                np.add.at(month.face_counts, who[is_face], 1)
                yield {
                    "seq": np.arange(made, made + n), "camera": rng.choice(len(cameras), n, p=camera_weight),
                    "micros": micros, "is_face": is_face, "who": who,
                    "confidence": np.round(rng.uniform(0.6, 1.0, n), 3),
                }
                made += n
    return month, generate()


def _identity(month: Month, chunk: dict[str, np.ndarray]) -> np.ndarray:
    face_names = np.char.add("u-", chunk["who"].astype("U7"))
    return np.where(chunk["is_face"], face_names, month.plates[np.minimum(chunk["who"], len(month.plates) - 1)])


def _times(month: Month, micros: np.ndarray) -> np.ndarray:
    base = np.datetime64(month.start.replace(tzinfo=None), "us")
    return np.char.replace(np.datetime_as_string(base + micros.astype("timedelta64[us]"), unit="us"), "T", " ")


def _encodings(month: Month, chunk: dict[str, np.ndarray], rng: np.random.Generator) -> dict[int, bytes]:
    rows = np.flatnonzero(chunk["is_face"])
    noisy = month.face_bases[chunk["who"][rows]] + rng.normal(0, 0.015, (len(rows), 128)).astype(np.float32)
    return {int(i): noisy[k].astype(np.float32).tobytes() for k, i in enumerate(rows)}


def load(url: str, rows: int, days: int = 30, seed: int = 1, faces_share: float = 0.02,
         progress: bool = True, random_ids: bool = False) -> Month:
    """Generate and bulk-load; the store is created (migrated) if new. Returns the month."""
    with Store.open(url) as store:
        dialect = store.dialect
    month, stream = chunks(rows, days, seed, faces_share)
    started = time.perf_counter()
    if dialect == "sqlite":
        _load_sqlite(url, month, stream, seed, progress, random_ids)
    else:
        _load_postgres(url, month, stream, seed, progress, random_ids)
    month.seconds = time.perf_counter() - started
    return month


def message_ids(month: Month, micros: np.ndarray, rng: np.random.Generator, random_ids: bool) -> np.ndarray:
    """32 hex digits per sighting: UUIDv7 of its millisecond (48 bits, version 7, 74 random
    bits and the variant, as `new_id` lays them out), or 128 random bits."""
    n = len(micros)
    words = np.empty((n, 2), dtype=">u8")
    words[:] = rng.integers(0, 2**63, (n, 2), dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, (n, 2), dtype=np.uint64)
    if not random_ids:
        ms = (int(month.start.timestamp() * 1000) + micros // 1000).astype(np.uint64)
        words[:, 0] = (ms << np.uint64(16)) | np.uint64(0x7000) | (words[:, 0] & np.uint64(0xFFF))
        words[:, 1] = np.uint64(0x8000_0000_0000_0000) | (words[:, 1] & np.uint64(0x3FFF_FFFF_FFFF_FFFF))
    return np.frombuffer(words.tobytes().hex().encode("ascii"), dtype="S32").astype("U32")


def _rows(month: Month, chunk: dict[str, np.ndarray], rng: np.random.Generator, pg: bool,
          id_rng: np.random.Generator, random_ids: bool) -> Iterator[tuple]:
    ids = message_ids(month, chunk["micros"], id_rng, random_ids)
    cams = np.array(month.cameras)[chunk["camera"]]
    times = _times(month, chunk["micros"])
    if pg:
        times = np.char.add(times, "+00")
    identity = _identity(month, chunk)
    encodings = _encodings(month, chunk, rng)
    is_face = chunk["is_face"].tolist()
    snapshot = np.char.add(np.char.add("snapshots/", cams), np.char.add("/", np.char.add(ids, ".jpg")))
    for i, (sid, cam, ts, who, conf, snap, face) in enumerate(zip(
            ids.tolist(), cams.tolist(), times.tolist(), identity.tolist(), chunk["confidence"].tolist(),
            snapshot.tolist(), is_face, strict=True)):
        if face:
            yield (sid, cam, ts, "face", who, conf, 10, 20, 110, 50, "", snap, None, 0.45, encodings[i])
        else:
            yield (sid, cam, ts, "plate", who, conf, 10, 20, 110, 50, "", snap, "blue", None, None)


def _load_sqlite(url: str, month: Month, stream: Iterator[dict[str, np.ndarray]], seed: int, progress: bool,
                 random_ids: bool) -> None:
    path = url.removeprefix("sqlite:///")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")  # a bulk load into a scratch file: no journal,
    db.execute("PRAGMA synchronous = OFF")   # WAL again at the end for the benches
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("PRAGMA cache_size = -1000000")
    for name in SECONDARY_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")
    rng = np.random.default_rng(seed + 1)
    id_rng = np.random.default_rng(seed + 2)
    marks = ", ".join("?" * 15)
    done = 0
    for chunk in stream:
        db.execute("BEGIN")
        db.executemany(f"INSERT INTO sightings ({COLUMNS}) VALUES ({marks})", _rows(month, chunk, rng, False, id_rng, random_ids))
        db.execute("COMMIT")
        done += len(chunk["seq"])
        _progress(progress, done, month.rows)
    indexed = time.perf_counter()
    for name, target in SECONDARY_INDEXES.items():
        db.execute(f"CREATE INDEX {name} ON {target}")
    _fill_identities_sqlite(db, month)
    db.execute("PRAGMA analysis_limit = 2000")  # sampled statistics: seconds, not minutes, at 50M
    db.execute("ANALYZE")
    month.extra["index_s"] = time.perf_counter() - indexed
    db.execute("PRAGMA locking_mode = NORMAL")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()


def _fill_identities_sqlite(db: sqlite3.Connection, month: Month) -> None:
    db.execute("BEGIN")
    db.execute("DELETE FROM identities")
    db.execute(IDENTITIES_FROM_SIGHTINGS)
    db.execute("COMMIT")


def _load_postgres(url: str, month: Month, stream: Iterator[dict[str, np.ndarray]], seed: int, progress: bool,
                   random_ids: bool) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    rng = np.random.default_rng(seed + 1)
    id_rng = np.random.default_rng(seed + 2)
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute("SET synchronous_commit = off")
        db.execute("SET maintenance_work_mem = '1GB'")
        for name in SECONDARY_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {name}")
        done = 0
        for chunk in stream:
            buffer = io.StringIO()
            for r in _rows(month, chunk, rng, True, id_rng, random_ids):
                fields = ["\\N" if v is None else ("\\\\x" + v.hex()) if isinstance(v, bytes) else str(v) for v in r]
                buffer.write("\t".join(fields))
                buffer.write("\n")
            with db.cursor() as cur, cur.copy(f"COPY sightings ({COLUMNS}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            done += len(chunk["seq"])
            _progress(progress, done, month.rows)
        indexed = time.perf_counter()
        for name, target in SECONDARY_INDEXES.items():
            db.execute(f"CREATE INDEX {name} ON {target}")
        db.execute("DELETE FROM identities")
        db.execute(IDENTITIES_FROM_SIGHTINGS)
        db.execute("VACUUM ANALYZE sightings")
        db.execute("ANALYZE identities")
        month.extra["index_s"] = time.perf_counter() - indexed


def _progress(on: bool, done: int, total: int) -> None:
    if on:
        print(f"\r  loaded {done:,} / {total:,}", end="", file=sys.stderr, flush=True)
        if done >= total:
            print(file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="store URL (created and migrated when new)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faces", type=float, default=0.02, help="share of face sightings")
    parser.add_argument("--random-ids", action="store_true",
                        help="random message ids (as before time-ordered ids), not time-ordered")
    args = parser.parse_args()
    month = load(args.url, args.rows, args.days, args.seed, args.faces, random_ids=args.random_ids)
    print(f"{args.rows:,} sightings over {args.days} days at {len(month.cameras)} cameras "
          f"({len(month.plates):,} plates, {month.faces:,} people) in {month.seconds:.0f} s "
          f"(indexes and identities {month.extra.get('index_s', 0):.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

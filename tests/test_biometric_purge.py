"""Biometric retention on a real store: old face sightings lose encoding and crop, keep
their row; new ones and plates are untouched; search by photo stops finding the purged;
the CLI runs it and the analytics process runs it on a schedule."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from analytics.queries import SightingQueries, Window
from analytics.store import Store
from cityops.cli import app
from cityops.retention import purge_on_schedule
from streams.records import Sighting, SightingKind
from video.faces.privacy import save_face_crop
from video.faces.search_photo import encode_image_face

FACES = Path(__file__).resolve().parents[1] / "sample_media" / "faces"


@pytest.fixture(scope="module")
def photo() -> tuple:
    """Grace Hopper's photo (matplotlib's sample, shipped in sample_media/faces) and her encoding."""
    image = cv2.imread(str(FACES / "grace_hopper.jpg"))
    return image, encode_image_face(image)


def _face(home: Path, photo: tuple, ts: datetime, camera: str) -> Sighting:
    image, encoding = photo
    crop = save_face_crop(home, image, (180, 139, 366, 325), ts)
    os.utime(crop, (ts.timestamp(), ts.timestamp()))  # written when it was seen
    return Sighting(camera_id=camera, ts=ts, kind=SightingKind.FACE, identity="grace_hopper",
                    confidence=0.9, bbox=(180, 139, 366, 325), face_distance=0.1, encoding=encoding,
                    snapshot=str(crop.relative_to(home)))


def _plate(home: Path, ts: datetime) -> Sighting:
    path = home / "snapshots" / "PF-C002" / f"{ts:%Y-%m-%d}" / "car.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"jpeg")
    return Sighting(camera_id="PF-C002", ts=ts, kind=SightingKind.PLATE, identity="黑A12345",
                    confidence=0.95, bbox=(1, 2, 3, 4), snapshot=str(path.relative_to(home)))


def _rows(store: Store) -> dict[str, Sighting]:
    from sqlalchemy import select

    from analytics import tables as t

    with store.engine.connect() as conn:
        return {r.id: r for r in conn.execute(select(t.sightings))}


def test_purge_drops_old_face_biometrics_and_keeps_the_rest(tmp_path: Path, store_url: str, photo: tuple,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    now = datetime.now(UTC)
    store = Store.open(store_url)
    old_face = _face(home, photo, now - timedelta(days=40), "PF-C001")
    new_face = _face(home, photo, now - timedelta(days=2), "PF-C003")
    old_plate = _plate(home, now - timedelta(days=40))
    store.write([old_face, new_face, old_plate])
    queries = SightingQueries(store)  # one long-lived instance, as the dashboard holds
    window = Window(since=now - timedelta(days=60))
    assert {h.sighting_id for h in queries.by_photo(photo[1], window)} == {old_face.id, new_face.id}

    monkeypatch.setenv("CITYOPS_DB", store_url)
    monkeypatch.delenv("CITYOPS_BIOMETRIC_RETENTION_DAYS", raising=False)  # the default: 30 days
    result = CliRunner().invoke(app, ["watchlist", "purge", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "1 face sighting(s) lost encoding and crop (1 crop file(s))" in result.output

    rows = _rows(store)
    old, new, plate = rows[old_face.id], rows[new_face.id], rows[old_plate.id]
    # the old sighting stays as history, without its biometric payload or crop file
    assert (old.camera_id, old.identity, old.ts) == ("PF-C001", "grace_hopper", old_face.ts)
    assert old.encoding is None and old.snapshot is None
    assert not (home / old_face.snapshot).exists()
    # the recent face and the plate keep everything
    assert new.encoding is not None and new.snapshot == new_face.snapshot and (home / new_face.snapshot).is_file()
    assert plate.snapshot == old_plate.snapshot and (home / old_plate.snapshot).is_file()
    # search by photo: the purged face is gone even from the instance that had cached its day
    assert [h.sighting_id for h in queries.by_photo(photo[1], window)] == [new_face.id]
    assert [h.sighting_id for h in SightingQueries(store).by_photo(photo[1], window)] == [new_face.id]
    # run again: nothing left to purge
    again = CliRunner().invoke(app, ["watchlist", "purge", "--home", str(home)])
    assert "0 face sighting(s)" in again.output
    store.close()


def test_the_analytics_schedule_purges_at_start_and_again_later(tmp_path: Path, photo: tuple,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    now = datetime.now(UTC)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    first = _face(home, photo, now - timedelta(days=31), "PF-C001")
    store.write([first])
    stop = threading.Event()
    caplog.set_level(logging.INFO)
    job = threading.Thread(target=purge_on_schedule, args=(store, home, stop), kwargs={"every_s": 0.3})
    job.start()
    try:
        def purged(sighting: Sighting) -> bool:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if _rows(store)[sighting.id].encoding is None:
                    return True
                time.sleep(0.05)
            return False

        assert purged(first)
        later = _face(home, photo, now - timedelta(days=45), "PF-C002")  # arrives late from a backlog
        store.write([later])
        assert purged(later)
        assert not (home / later.snapshot).exists()
    finally:
        stop.set()
        job.join(5)
        store.close()
    assert not job.is_alive()
    assert "1 face sighting(s) lost encoding and crop" in caplog.text

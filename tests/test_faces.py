"""Faces on real photos: detection counts, same/different distances, naming without a
wrong name, enrolment refusals, video tracks, unknown-person ids, and the biometric purge.

Real inputs: faces that ship inside PyPI packages (tests/data/faces/, SOURCES.md there;
skimage's astronaut) and, when ../shared is there, the development set of two actors.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from streams.config import REPO_ROOT
from streams.watchlist import Watchlist
from video.faces.cli import run_enroll, run_faces, run_purge
from video.faces.detect import detect_faces, encode_faces, face_quality, iou
from video.faces.evaluate import (
    DEV_SET,
    SAMPLE_FACES,
    SAMPLES,
    SampleFace,
    evaluate_dev_set,
    load_samples,
    sample_faces,
    views,
)
from video.faces.matcher import ACCEPT_DISTANCE, UNKNOWN_PREFIX, FaceMatcher
from video.faces.privacy import purge_biometrics, remove_enrolled, save_face_crop
from video.faces.track import IouFaceTracker, best_face, make_candidate


@pytest.fixture(scope="module")
def samples() -> dict[str, np.ndarray]:
    images = load_samples()
    if "astronaut" not in images:
        pytest.skip("scikit-image is not installed (it is in requirements-test.txt)")
    return images


@pytest.fixture(scope="module")
def faces(samples: dict[str, np.ndarray]) -> list[SampleFace]:
    return sample_faces(samples)


# ---------------------------------------------------------------- detection


def test_detection_counts_on_package_faces(samples: dict[str, np.ndarray], faces: list[SampleFace]) -> None:
    found = {name: sum(1 for f in faces if f.image == name) for name in samples}
    assert found == SAMPLE_FACES


def test_small_faces_are_searched_only_where_asked(samples: dict[str, np.ndarray]) -> None:
    bus = samples["bus"]  # two ~49 px faces: too small for the first, downscaled pass
    assert detect_faces(bus, upsample_small=False) == []
    assert detect_faces(bus, regions=[]) == []  # no region: no small-face pass
    left_person = (60, 380, 230, 700)
    only_left = detect_faces(bus, regions=[left_person])
    assert len(only_left) == 1 and only_left[0][0] < 230
    assert len(detect_faces(bus)) == 2


def test_boxes_are_in_original_pixels_whatever_the_working_size(samples: dict[str, np.ndarray]) -> None:
    image = samples["grace_hopper"]
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    (box,) = detect_faces(image)
    (big_box,) = detect_faces(big, upsample_small=False)  # found on a frame shrunk 3.75x
    assert iou(tuple(round(v / 3) for v in big_box), box) > 0.7


def test_detection_refuses_what_is_not_a_bgr_image() -> None:
    with pytest.raises(ValueError, match="BGR uint8"):
        detect_faces(np.zeros((10, 10), np.uint8))


# ---------------------------------------------------------------- distances and names


def test_same_face_is_near_and_different_people_are_far(
    samples: dict[str, np.ndarray], faces: list[SampleFace]
) -> None:
    same = {
        (face.label, view): float(np.linalg.norm(encode_faces(image, [box])[0] - face.encoding))
        for face in faces
        for view, image, box in views(samples[face.image], face.bbox)
    }
    # flips, darker light, recompression and a smaller size keep a face well within reach
    assert max(d for (_, view), d in same.items() if view != "blurred") < 0.45
    assert max(same.values()) < ACCEPT_DISTANCE
    matrix = np.stack([f.encoding for f in faces])
    distances = np.linalg.norm(matrix[:, None] - matrix[None], axis=2)
    different = distances[np.triu_indices(len(faces), 1)]
    assert len(different) == 55
    assert different.min() > ACCEPT_DISTANCE + 0.05
    assert np.median(different) > 0.7


def test_no_face_gets_a_wrong_name(tmp_path: Path, samples: dict[str, np.ndarray], faces: list[SampleFace]) -> None:
    """Eleven people on the list; a flipped, darker view of each is named right, every time."""
    with Watchlist(tmp_path) as watchlist:
        for face in faces:
            watchlist.enroll(face.label, [face.encoding], "test")
        matcher = FaceMatcher(watchlist, tmp_path)
        for face in faces:
            image = samples[face.image]
            flipped = np.ascontiguousarray(image[:, ::-1] * 0.7).astype(np.uint8)
            width = image.shape[1]
            x1, y1, x2, y2 = face.bbox
            who = matcher.identify(encode_faces(flipped, [(width - x2, y1, width - x1, y2)])[0])
            assert (who.identity, who.watchlisted) == (face.label, True)
        matcher.close()


def test_strangers_get_unknown_ids_not_names(tmp_path: Path, faces: list[SampleFace]) -> None:
    enrolled, strangers = faces[:3], faces[3:]
    with Watchlist(tmp_path) as watchlist:
        for face in enrolled:
            watchlist.enroll(face.label, [face.encoding], "test")
        matcher = FaceMatcher(watchlist, tmp_path)
        ids = [matcher.identify(face.encoding) for face in strangers]
        matcher.close()
    assert not any(who.watchlisted for who in ids)
    assert all(who.identity.startswith(UNKNOWN_PREFIX) for who in ids)
    assert len({who.identity for who in ids}) == len(strangers)


@pytest.mark.skipif(not DEV_SET.is_dir(), reason=f"development set not here ({DEV_SET}): ../shared is absent")
def test_development_set_every_test_face_named_right(tmp_path: Path) -> None:
    results = evaluate_dev_set(DEV_SET, tmp_path)
    assert [(r.photo, r.expected, r.got) for r in results] == [
        ("test_johnsnow_test1.jpg", "kit_harington", "kit_harington"),
        ("test_kit_with_rose.jpg", "rose_leslie", "rose_leslie"),
        ("test_kit_with_rose.jpg", "kit_harington", "kit_harington"),
    ]
    assert all(r.distance <= ACCEPT_DISTANCE for r in results)


# ---------------------------------------------------------------- matcher rules


def _at(base: np.ndarray, distance: float, seed: int) -> np.ndarray:
    direction = np.random.default_rng(seed).normal(size=128)
    return base + direction / np.linalg.norm(direction) * distance


def test_naming_is_stricter_than_tolerance_and_needs_a_clear_winner(tmp_path: Path) -> None:
    a = _at(np.zeros(128), 0.8, 1)
    b = _at(a, 0.9, 2)
    with Watchlist(tmp_path) as watchlist:
        watchlist.enroll("a", [a], "test")
        watchlist.enroll("b", [b], "test")
        matcher = FaceMatcher(watchlist, tmp_path)
        named = matcher.identify(_at(a, 0.45, 3))
        assert (named.identity, named.watchlisted, named.distance) == ("a", True, 0.45)
        near_miss = matcher.identify(_at(a, 0.55, 4))
        assert not near_miss.watchlisted and near_miss.candidate == "a"
        assert near_miss.candidate_distance == pytest.approx(0.55)
        # a face between two listed people is named neither
        c = _at(a, 0.44, 5)
        watchlist.enroll("c", [c], "test")
        between = matcher.identify((a + c) / 2)
        assert not between.watchlisted
        matcher.close()


def test_unknown_ids_are_stable_across_restarts_and_processes(tmp_path: Path) -> None:
    person = _at(np.zeros(128), 0.8, 10)
    other = _at(person, 0.9, 11)
    with Watchlist(tmp_path) as watchlist:
        first = FaceMatcher(watchlist, tmp_path)
        one = first.identify(person)
        assert first.identify(_at(person, 0.3, 12)).identity == one.identity
        assert first.identify(other).identity != one.identity
        first.close()
        restarted = FaceMatcher(watchlist, tmp_path)
        assert restarted.identify(_at(person, 0.25, 13)).identity == one.identity
        assert restarted.unknown_count() == 2
        restarted.close()
    code = (
        "import sys, numpy as np; from pathlib import Path;"
        "from streams.watchlist import Watchlist; from video.faces.matcher import FaceMatcher;"
        f"v = np.frombuffer(bytes.fromhex('{_at(person, 0.2, 14).tobytes().hex()}'));"
        f"m = FaceMatcher(Watchlist(Path(r'{tmp_path}')), Path(r'{tmp_path}'));"
        "print(m.identify(v).identity)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert other_process.stdout.strip() == one.identity


# ---------------------------------------------------------------- quality and tracks


def test_quality_prefers_larger_sharper_faces(samples: dict[str, np.ndarray]) -> None:
    image = samples["grace_hopper"]
    (box,) = detect_faces(image)
    sharp = face_quality(image, box)
    blurred = face_quality(cv2.GaussianBlur(image, (0, 0), 3), box)
    small = cv2.resize(image, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    smaller = face_quality(small, tuple(round(v * 0.4) for v in box))
    assert 0.0 < smaller < blurred < sharp <= 1.0


def test_best_face_and_iou_tracks(samples: dict[str, np.ndarray]) -> None:
    image = samples["t1"]
    tracker = IouFaceTracker(max_missed=1)
    ended = []
    for frame in range(4):  # one face drifting right, growing better each frame
        box = (100 + 10 * frame, 100, 200 + 10 * frame, 200)
        ended += tracker.update(frame, [make_candidate(image, frame, box, 0.2 + 0.1 * frame)])
    ended += tracker.update(4, [make_candidate(image, 4, (600, 100, 700, 200), 0.6)])  # someone else
    ended += tracker.update(5, [])
    ended += tracker.finish()
    assert [(t.first_frame, t.last_frame, t.views) for t in ended] == [(0, 3, 4), (4, 4, 1)]
    assert ended[0].best.frame_index == 3 and ended[0].best.crop.size > 0
    assert best_face([ended[1].best, ended[0].best]).frame_index == 4
    with pytest.raises(ValueError):
        best_face([])


# ---------------------------------------------------------------- the two commands


def _write(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def test_enroll_refuses_photos_with_no_face_or_several_and_stores_nothing(
    tmp_path: Path, samples: dict[str, np.ndarray]
) -> None:
    home = tmp_path / "home"
    blank = _write(tmp_path / "wall.jpg", np.full((300, 300, 3), 128, np.uint8))
    group = SAMPLES / "t1.jpg"
    err = io.StringIO()
    assert run_enroll("someone", [blank, group, tmp_path / "missing.jpg"], home, "op", err=err) == 1
    message = err.getvalue()
    assert f"{blank}: no face found" in message
    assert f"{group}: 6 faces found" in message
    assert "missing.jpg: no such file" in message
    assert "nothing stored for someone" in message
    with Watchlist(home) as watchlist:
        assert watchlist.people() == []


def test_enroll_refuses_a_photo_of_someone_else(tmp_path: Path, samples: dict[str, np.ndarray]) -> None:
    hopper = SAMPLES / "grace_hopper.jpg"
    stranger = _write(tmp_path / "astronaut.jpg", samples["astronaut"])
    err = io.StringIO()
    assert run_enroll("grace", [hopper, stranger], tmp_path / "home", "op", err=err) == 1
    assert "look like different people" in err.getvalue()


def test_enroll_then_faces_on_images(tmp_path: Path, samples: dict[str, np.ndarray]) -> None:
    home = tmp_path / "home"
    out = io.StringIO()
    assert run_enroll("grace", [SAMPLES / "grace_hopper.jpg"], home, "analyst.li", "test", out=out) == 0
    assert "enrolled grace" in out.getvalue()
    with Watchlist(home) as watchlist:
        person = watchlist.person("grace")
        assert person is not None and person.added_by == "analyst.li"
        assert Path(person.faces[0].crop_path or "").is_file()
    flipped = _write(tmp_path / "grace_flipped.png", np.ascontiguousarray(samples["grace_hopper"][:, ::-1]))
    lines = io.StringIO()
    assert run_faces([flipped, SAMPLES / "bus.jpg"], home, out=lines) == 0
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(r["source"], r["name"]) for r in records] == [
        (str(flipped), "grace"),
        (str(SAMPLES / "bus.jpg"), None),
        (str(SAMPLES / "bus.jpg"), None),
    ]
    assert records[0]["unknown_id"] is None and records[0]["distance"] < 0.3
    assert all(r["unknown_id"].startswith(UNKNOWN_PREFIX) for r in records[1:])
    assert all({"source", "frame", "name", "unknown_id", "distance", "bbox"} <= r.keys() for r in records)
    # the same strangers keep their ids on the next run
    again = io.StringIO()
    run_faces([SAMPLES / "bus.jpg"], home, out=again)
    assert [json.loads(line)["unknown_id"] for line in again.getvalue().splitlines()] == [
        r["unknown_id"] for r in records[1:]
    ]
    assert remove_enrolled(home, "grace", "analyst.li") == 1


def test_faces_reports_unreadable_inputs_and_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    lines, err = io.StringIO(), io.StringIO()
    code = run_faces([broken, tmp_path / "gone.mp4", SAMPLES / "grace_hopper.jpg"], tmp_path, out=lines, err=err)
    assert code == 1
    assert f"{broken}: cannot read this file as an image" in err.getvalue()
    assert "gone.mp4: no such file" in err.getvalue()
    assert len(lines.getvalue().splitlines()) == 1


def _paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int) -> None:
    h, w = face.shape[:2]
    canvas[y : y + h, x : x + w] = face


def test_faces_on_video_gives_one_line_per_face_track(tmp_path: Path, samples: dict[str, np.ndarray]) -> None:
    """A watch-listed face crosses the view, then a stranger: two tracks, one named."""
    home = tmp_path / "home"
    assert run_enroll("grace", [SAMPLES / "grace_hopper.jpg"], home, "op", out=io.StringIO()) == 0
    hopper = cv2.resize(np.ascontiguousarray(samples["grace_hopper"][60:440, 90:450][:, ::-1]), (180, 190))
    t1 = samples["t1"]
    stranger = cv2.resize(t1[300:520, 680:890], (180, 190))
    path = tmp_path / "pass.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 360))
    rng = np.random.default_rng(0)
    background = rng.integers(90, 140, size=(360, 640, 3), dtype=np.uint8)
    for frame in range(36):
        canvas = background.copy()
        if frame < 15:
            _paste(canvas, hopper, 20 + 15 * frame, 80)
        elif frame >= 20:
            _paste(canvas, stranger, 420 - 20 * (frame - 20), 120)
        writer.write(canvas)
    writer.release()
    lines = io.StringIO()
    assert run_faces([path], home, out=lines) == 0
    tracks = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(t["name"], t["unknown_id"] is None) for t in tracks] == [("grace", True), (None, False)]
    assert tracks[0]["first_frame"] == 0 and 10 <= tracks[0]["last_frame"] <= 14
    assert tracks[0]["first_frame"] <= tracks[0]["frame"] <= tracks[0]["last_frame"]
    assert tracks[1]["first_frame"] >= 20


# ---------------------------------------------------------------- privacy and start-up


def test_purge_removes_old_crops_and_unknown_people_only(tmp_path: Path, samples: dict[str, np.ndarray]) -> None:
    image = samples["grace_hopper"]
    now = datetime.now(UTC)
    old_crop = save_face_crop(tmp_path, image, (161, 137, 377, 353), now - timedelta(days=40))
    os.utime(old_crop, (old_crop.stat().st_atime, (now - timedelta(days=40)).timestamp()))
    new_crop = save_face_crop(tmp_path, image, (161, 137, 377, 353), now)
    with Watchlist(tmp_path) as watchlist:
        matcher = FaceMatcher(watchlist, tmp_path)
        gone = matcher.identify(_at(np.zeros(128), 0.8, 20), seen_at=now - timedelta(days=31))
        kept = matcher.identify(_at(np.zeros(128), 0.8, 21), seen_at=now - timedelta(days=2))
        report = purge_biometrics(tmp_path)  # default retention: 30 days
        assert (report.crops_removed, report.unknown_people_removed) == (1, 1)
        assert not old_crop.exists() and not old_crop.parent.exists() and new_crop.exists()
        # the running matcher no longer gives the purged id; the kept one stays
        assert matcher.identify(_at(np.zeros(128), 0.8, 20)).identity != gone.identity
        assert matcher.identify(_at(np.zeros(128), 0.8, 21)).identity == kept.identity
        matcher.close()
    out = io.StringIO()
    assert run_purge(tmp_path, older_than_days=0, out=out) == 0
    assert "1 face crop(s)" in out.getvalue() and not new_crop.exists()


def test_broken_install_is_a_clear_error_not_a_silent_exit() -> None:
    """With setuptools >= 82 (no pkg_resources) `import face_recognition` quits with status 0."""
    hide = "import sys; sys.modules['pkg_resources'] = None; "
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    bare = subprocess.run(
        [sys.executable, "-c", hide + "import face_recognition; print('not reached')"],
        capture_output=True, text=True, env=env,
    )
    assert bare.returncode == 0 and "not reached" not in bare.stdout  # the trap itself
    guarded = subprocess.run(
        [sys.executable, "-c", hide + "from video.faces.engine import face_api; face_api()"],
        capture_output=True, text=True, env=env,
    )
    assert guarded.returncode == 1
    assert "FaceEngineError" in guarded.stderr and "setuptools<82" in guarded.stderr


def test_a_face_track_becomes_a_sighting_keyed_by_identity(tmp_path: Path, faces: list[SampleFace]) -> None:
    from streams.records import Sighting, SightingKind
    from video.faces.sighting import face_sighting

    face = faces[0]
    with Watchlist(tmp_path) as watchlist:
        watchlist.enroll("grace", [face.encoding], "op", "test")
        matcher = FaceMatcher(watchlist, tmp_path)
        who = matcher.identify(face.encoding)
        matcher.close()
    sighting = face_sighting("cam-001", datetime.now(UTC), face.bbox, who, face.encoding, track_id="7")
    assert sighting.kind is SightingKind.FACE and sighting.identity == "grace"
    assert sighting.key() == "face:grace" and sighting.confidence == 1.0
    again = Sighting.model_validate_json(sighting.model_dump_json())
    assert again.encoding is not None and np.allclose(again.encoding, face.encoding)

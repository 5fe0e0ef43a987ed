"""The sample media: a plausible story on the district's real cameras, deterministic clips
with truth that matches their pixels."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import cv2
import pytest

from sample_media import generate
from sample_media.scenario import CLIP_S, haversine_m, plan
from streams.district import load_district
from tests.video_helpers import need_ffmpeg
from video.plates.grammar import normalize_plate

SEED = generate.DEFAULT_SEED


@pytest.fixture(scope="module")
def district():
    return load_district()


@pytest.fixture(scope="module")
def story(district):
    return plan(SEED, {c.id: (c.lat, c.lon) for c in district.cameras})


def _positions(district) -> dict[str, tuple[float, float]]:
    return {c.id: (c.lat, c.lon) for c in district.cameras}


def test_clips_are_the_first_six_cameras_plus_night_and_rain(story, district) -> None:
    day = next(s for s in story.scenarios if s.name == "day")
    assert sorted(c.camera_id for c in day.clips) == [c.id for c in district.cameras[:6]]
    assert all(c.file == f"{c.camera_id}.mp4" for c in day.clips)  # the demo maps file -> camera
    conditions = {c.condition for s in story.scenarios for c in s.clips}
    assert conditions == {"day", "night", "rain"}
    assert all(c.duration_s >= 30 for s in story.scenarios for c in s.clips)


def test_vehicles_and_people_move_between_cameras_at_plausible_speeds(story, district) -> None:
    positions = _positions(district)
    for scenario in story.scenarios:
        seen: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for clip in scenario.clips:
            for a in clip.appearances:
                seen[a.object_id].append((clip.offset_s + a.start, clip.camera_id))
        multi = 0
        for obj, stops in seen.items():
            stops.sort()
            for (t1, c1), (t2, c2) in zip(stops, stops[1:], strict=False):
                assert c1 != c2, f"{obj} passes {c1} twice"
                kmh = haversine_m(*positions[c1], *positions[c2]) / (t2 - t1) * 3.6
                assert 15 <= kmh <= 80, f"{obj} {c1}->{c2} at {kmh:.0f} km/h"
                multi += 1
        if scenario.name == "day":
            assert multi >= 20  # plenty of multi-camera trajectories


def test_the_story_has_one_cloned_plate_and_a_co_travel_pair(story, district) -> None:
    positions = _positions(district)
    [clone] = story.cloned_plates
    first, second = (story.vehicles[v] for v in clone["vehicles"])
    assert first.plate == second.plate and first.style != second.style
    day = next(s for s in story.scenarios if s.name == "day")
    where = {(c.camera_id, a.object_id): c.offset_s + a.start for c in day.clips for a in c.appearances}
    t_first = where[("PF-C006", first.id)]
    t_second = where[("PF-C001", second.id)]
    implied = haversine_m(*positions["PF-C006"], *positions["PF-C001"]) / max(abs(t_first - t_second), 0.1) * 3.6
    assert implied > 150 * 5  # 4.7 km apart within seconds: impossible for one car
    [pair] = story.co_travel
    a, b = pair["vehicles"]
    together = [c for c in pair["cameras"] if abs(where[(c, a)] - where[(c, b)]) <= 5.0]
    assert len(together) >= 3
    # nobody else is "together" by chance: within 6 s at four cameras is the planted pair only
    times: dict[str, dict[str, float]] = defaultdict(dict)
    for clip in day.clips:
        for appearance in clip.appearances:
            if appearance.kind == "plate":
                times[appearance.object_id][clip.camera_id] = clip.offset_s + appearance.start
    together_by_chance = []
    objects = sorted(times)
    for i, x in enumerate(objects):
        for y in objects[i + 1:]:
            shared = [c for c in times[x] if c in times[y] and abs(times[x][c] - times[y][c]) <= 6.0]
            if len(shared) >= 4 and {x, y} != {a, b}:
                together_by_chance.append((x, y, shared))
    assert together_by_chance == []
    plates = [v.plate for v in story.vehicles.values()]
    assert all(normalize_plate(p) == p for p in plates)
    assert len(set(plates)) == len(plates) - 1  # unique, except the clone


def test_people_with_real_faces_and_two_who_cross_cameras(story) -> None:
    day = next(s for s in story.scenarios if s.name == "day")
    cameras: dict[str, set[str]] = defaultdict(set)
    for clip in day.clips:
        for a in clip.appearances:
            if a.kind == "face":
                cameras[a.object_id].add(clip.camera_id)
    assert sorted(p for p, c in cameras.items() if len(c) == 2) == ["eileen_collins", "grace_hopper"]
    for person in story.people.values():
        assert (generate.DEFAULT_OUT / "faces" / person.image).is_file()


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_ffmpeg()
    out = tmp_path_factory.mktemp("media")
    generate.generate(out, SEED, workers=1, only={"PF-C002.mp4"}, clip_s=8.0)
    return out


def test_a_clip_is_720p_h264_with_truth_that_matches_it(short_clip: Path) -> None:
    video = short_clip / "PF-C002.mp4"
    truth = json.loads((short_clip / "PF-C002.json").read_text(encoding="utf-8"))
    cap = cv2.VideoCapture(str(video))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1280, 720)
    assert cap.get(cv2.CAP_PROP_FPS) == generate.FPS
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == truth["frames"] == 8 * generate.FPS
    cap.release()
    assert truth["camera_id"] == "PF-C002" and truth["condition"] == "day"
    kinds = {p["kind"] for p in truth["passes"]}
    assert kinds == {"plate", "face"}
    for p in truth["passes"]:
        assert 0 <= p["first_frame"] <= p["last_frame"] < truth["frames"]
        if p["kind"] == "plate":
            assert normalize_plate(p["identity"]) == p["identity"]
            assert 80 <= p["max_px"] <= 250
        else:
            assert p["max_px"] >= 100
    index = json.loads((short_clip / "truth.json").read_text(encoding="utf-8"))
    assert index["partial"] is True and not generate.is_complete(short_clip, SEED)


def test_generation_is_deterministic(story) -> None:
    """Same seed, same pixels (the encoder is deterministic too: one clip is enough to
    check the truth file; here every frame's drawing is compared)."""
    day = next(s for s in story.scenarios if s.name == "day")
    clip = day.clips[1]
    index = 1
    again = plan(SEED, _positions(load_district()))
    clip_again = next(s for s in again.scenarios if s.name == "day").clips[1]
    first = generate.ClipRenderer(story, clip, SEED, index)
    second = generate.ClipRenderer(again, clip_again, SEED, index)
    for n in (0, 150, 400):
        assert (first.frame(n) == second.frame(n)).all()


def test_the_committed_generator_made_the_media_in_the_repo_if_any() -> None:
    index_path = generate.DEFAULT_OUT / "truth.json"
    if not generate.is_complete(generate.DEFAULT_OUT, SEED):
        pytest.skip("sample media not generated here (python -m sample_media.generate)")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    assert len(index["videos"]) >= 8
    assert sum(v["plates"] for v in index["videos"]) >= 60
    assert sum(v["faces"] for v in index["videos"]) >= 12
    for video in index["videos"]:
        truth = json.loads((generate.DEFAULT_OUT / video["truth"]).read_text(encoding="utf-8"))
        assert truth["frames"] / truth["fps"] >= 30 and truth["frames"] / truth["fps"] == CLIP_S
    [clone] = index["cloned_plates"]
    assert clone["conflict"]["implied_kmh"] > 150


def test_replay_scores_a_clip_against_its_truth(short_clip: Path, tmp_path: Path) -> None:
    """`cityops replay X.mp4 --score` end to end (faces; plates are scored the same way)."""
    import io

    from streams.config import Settings
    from streams.localbus import LocalBus
    from tests.video_helpers import sightings_of
    from video.replay import run_replay

    settings = Settings(home=tmp_path / "home")
    report = tmp_path / "report.json"
    out = io.StringIO()
    code = run_replay([short_clip / "PF-C002.mp4"], settings, score=True, report=report, plates=False, out=out)
    assert code == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    faces = document["score"]["overall"]["faces"]
    assert faces["truth"] >= 1 and faces["recall"] == 1.0 and faces["precision"] == 1.0
    assert "overall" in out.getvalue() and "PF-C002.mp4" in out.getvalue()
    with LocalBus(settings.home / "bus") as bus:
        published = sightings_of(bus)
    assert len(published) == faces["sightings"] and all(s.camera_id == "PF-C002" for s in published)
    assert run_replay([tmp_path / "missing.mp4"], settings, out=out) == 2

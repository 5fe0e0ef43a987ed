"""Trajectory builder: trips split right, idempotent on replay, late and cross-restart sightings,
cloned cars kept apart; and the consumer process end to end on the embedded bus."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.camera_graph import CameraGraph, haversine_m
from analytics.sighting_guard import SightingGuard
from analytics.store import Store
from analytics.trajectories import (
    TrajectoryBuilder,
    TripRules,
    run_trajectories,
    trajectory_loops,
)
from streams.codec import decode
from streams.config import Settings
from streams.district import load_district
from streams.localbus import LocalBus
from streams.records import AlertKind, Sighting, SightingKind
from streams.topics import Topic
from streams.watchlist import Watchlist

T0 = datetime(2026, 5, 12, 0, 0, tzinfo=UTC)
DISTRICT = load_district()
GRAPH = CameraGraph.from_district(DISTRICT)
# 北环路 eastbound, ~900 m road between neighbours; C001 is 6 km from C006
EAST = ["PF-C002", "PF-C003", "PF-C004", "PF-C006"]


def seen(camera: str, seconds: float, identity: str = "黑A12345", sid: str | None = None,
         kind: SightingKind = SightingKind.PLATE) -> Sighting:
    sid = sid or hashlib.sha1(f"{identity}-{camera}-{seconds}".encode()).hexdigest()
    return Sighting(id=sid, camera_id=camera,
                    ts=T0 + timedelta(seconds=seconds), kind=kind, identity=identity, confidence=0.9,
                    bbox=(0, 0, 10, 10), snapshot=f"snapshots/{camera}/{seconds:.0f}.jpg")


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store.open(store_url)
    yield s
    s.close()


def trips(store: Store, identity: str = "黑A12345") -> list[list[str]]:
    from analytics.queries import SightingQueries

    return [[p.camera_id for p in tr.points] for tr in SightingQueries(store).trajectories(identity)]


def test_camera_graph_distances_are_the_straight_line_times_the_road_factor() -> None:
    a, b = DISTRICT.camera("PF-C002"), DISTRICT.camera("PF-C003")
    straight = haversine_m(a.lat, a.lon, b.lat, b.lon)
    assert GRAPH.road_m("PF-C002", "PF-C003") == pytest.approx(straight * 1.3, rel=1e-6)
    assert GRAPH.implied_kmh("PF-C002", T0, "PF-C003", T0 + timedelta(seconds=60)) == pytest.approx(
        straight * 1.3 / 60 * 3.6, rel=1e-6)
    assert GRAPH.implied_kmh("PF-C002", T0, "PF-C003", T0) == float("inf")  # two places at once


def test_a_gap_longer_than_the_rule_splits_trips_and_a_shorter_one_does_not(store: Store) -> None:
    builder = TrajectoryBuilder(store, GRAPH, TripRules(gap=timedelta(minutes=30)))
    # morning: C002 -> C003 -> C004 a minute apart; 29 min later C006 (same trip)
    # afternoon (31 min after that): C006 -> C004 (second trip)
    builder.add([seen("PF-C002", 0), seen("PF-C003", 60), seen("PF-C004", 120)])
    builder.add([seen("PF-C006", 120 + 29 * 60)])
    builder.add([seen("PF-C006", 120 + 60 * 60), seen("PF-C004", 120 + 61 * 60)])
    assert trips(store) == [["PF-C002", "PF-C003", "PF-C004", "PF-C006"], ["PF-C006", "PF-C004"]]


def test_replaying_a_batch_changes_nothing(store: Store) -> None:
    batch = [seen(c, 60 * i) for i, c in enumerate(EAST)]
    TrajectoryBuilder(store, GRAPH).add(batch)
    before = trips(store)
    builder = TrajectoryBuilder(store, GRAPH)  # a restarted process: replays from the last commit
    assert builder.add(batch) == []
    assert builder.stats.replayed == len(batch)
    assert trips(store) == before and store.count("trajectories") == 1


def test_a_late_sighting_joins_its_trip_and_a_bridging_one_merges_two(store: Store) -> None:
    builder = TrajectoryBuilder(store, GRAPH, TripRules(gap=timedelta(minutes=10)))
    builder.add([seen("PF-C002", 0), seen("PF-C003", 60)])
    builder.add([seen("PF-C004", 60 + 15 * 60), seen("PF-C006", 60 + 16 * 60)])  # 15 min later: a new trip
    assert len(trips(store)) == 2
    builder.add([seen("PF-C003", 60 + 8 * 60)])  # arrives late and bridges the two
    assert trips(store) == [["PF-C002", "PF-C003", "PF-C003", "PF-C004", "PF-C006"]]
    assert builder.stats.trips_merged == 1


def test_a_trip_continues_across_a_restart(store: Store) -> None:
    TrajectoryBuilder(store, GRAPH).add([seen("PF-C002", 0), seen("PF-C003", 60)])
    TrajectoryBuilder(store, GRAPH).add([seen("PF-C004", 120)])  # fresh memory: reads the trip back
    assert trips(store) == [["PF-C002", "PF-C003", "PF-C004"]]


def test_one_plate_on_two_cars_makes_two_plausible_trips(store: Store) -> None:
    builder = TrajectoryBuilder(store, GRAPH)
    genuine = [seen(c, 60 * i) for i, c in enumerate(EAST)]
    # the clone is on 建安街 (C005 -> C001) during the same minutes: 6 km away from C006
    clone = [seen("PF-C005", 100), seen("PF-C001", 185)]
    builder.add(sorted(genuine + clone, key=lambda s: s.ts))
    assert sorted(trips(store)) == sorted([EAST, ["PF-C005", "PF-C001"]])


def test_identities_are_counted_once_per_sighting(store: Store) -> None:
    builder = TrajectoryBuilder(store, GRAPH)
    batch = [seen("PF-C002", 0), seen("PF-C003", 60), seen("PF-C002", 5, identity="黑B77777")]
    builder.add(batch)
    builder.add(batch)
    with store.engine.connect() as conn:
        from sqlalchemy import text

        rows = dict(conn.execute(text("SELECT identity, sightings FROM identities")).all())
    assert rows == {"黑A12345": 2, "黑B77777": 1}


def test_the_consumer_sets_bad_input_aside_alerts_and_builds_trips(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    with LocalBus(tmp_path / "bus") as bus, Watchlist(tmp_path) as watchlist:
        watchlist.add_plate("黑A12345", "stolen car", added_by="analyst-li")
        now = datetime.now(UTC)
        good = [seen(c, 60 * i) for i, c in enumerate(EAST)]
        good = [s.model_copy(update={"ts": now - timedelta(minutes=10) + (s.ts - T0)}) for s in good]
        bad = seen("PF-X999", 0).model_copy(update={"ts": now})
        for s in [*good, bad]:
            bus.publish(s)
        bus.flush()
        loop, handler, co_loop, _ = trajectory_loops(bus, store, DISTRICT, watchlist)
        with loop:
            assert loop.wait_for(lambda: handler.builder.stats.sightings == 4, timeout_s=30)
        assert trips(store) == [EAST]
        assert handler.guard.counts == {"unknown_camera": 1}
        messages = []
        with bus.consumer("test-reader", [Topic.ALERTS, Topic.DEAD_LETTER]) as reader:
            while batch := reader.poll(1.0):
                messages += batch
        topics = sorted(m.topic.value for m in messages)
        assert topics == [Topic.ALERTS.value] * 4 + [Topic.DEAD_LETTER.value]
        co_loop.close()
    store.close()


def test_run_trajectories_stops_when_asked(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path).ensure()
    stop = threading.Event()
    worker = threading.Thread(target=run_trajectories, args=(settings, stop))
    worker.start()
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert AlertKind.CLONED_PLATE  # the process module imports the alert kinds it raises


# ---------------------------------------------------------------- the sample media's story


SAMPLE_TRUTH = Path(__file__).resolve().parent.parent / "sample_media" / "truth.json"


def sample_truth() -> dict:
    """sample_media/truth.json when generated; else the same story from the scenario plan
    (every appearance counted as seen, at its start): trajectories, co-travel, clones."""
    import json

    if SAMPLE_TRUTH.is_file():
        return json.loads(SAMPLE_TRUTH.read_text(encoding="utf-8"))
    from sample_media.generate import DEFAULT_SEED
    from sample_media.scenario import plan

    story = plan(DEFAULT_SEED, {c.id: (c.lat, c.lon) for c in DISTRICT.cameras})
    trajectories = []
    for sc in story.scenarios:
        start = datetime.fromisoformat(sc.start)
        by_object: dict[str, list[dict]] = {}
        for clip in sc.clips:
            for a in clip.appearances:
                when = start + timedelta(seconds=clip.offset_s + a.start)
                by_object.setdefault(a.object_id, []).append(
                    {"camera_id": clip.camera_id, "first_time": when.isoformat()})
        for obj, points in sorted(by_object.items()):
            points.sort(key=lambda q: q["first_time"])
            is_person = obj in story.people
            trajectories.append({"scenario": sc.name, "kind": "face" if is_person else "plate",
                                 "identity": obj if is_person else story.vehicles[obj].plate,
                                 "object": obj, "points": points})
    return {"trajectories": trajectories, "co_travel": story.co_travel,
            "cloned_plates": [{"plate": c["plate"]} for c in story.cloned_plates]}


def test_the_sample_story_every_trajectory_recovered_and_the_planted_alerts_raised(tmp_path: Path) -> None:
    truth = sample_truth()
    sightings = []
    for tr in truth["trajectories"]:
        for i, p in enumerate(tr["points"]):
            sightings.append(Sighting(
                id=hashlib.sha1(f"{tr['scenario']}{tr['object']}{i}".encode()).hexdigest(),
                camera_id=p["camera_id"], ts=datetime.fromisoformat(p["first_time"]),
                kind=SightingKind(tr["kind"]), identity=tr["identity"], confidence=0.9, bbox=(0, 0, 1, 1)))
    sightings.sort(key=lambda s: s.ts)
    latest = sightings[-1].ts
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    with LocalBus(tmp_path / "bus") as bus:
        for s in sightings:
            bus.publish(s)
        bus.flush()
        guard = SightingGuard((c.id for c in DISTRICT.cameras), now=lambda: latest + timedelta(hours=1))
        loop, handler, co_loop, co_handler = trajectory_loops(bus, store, DISTRICT, None, guard=guard)
        with loop, co_loop:
            assert loop.wait_for(lambda: handler.builder.stats.sightings == len(sightings), timeout_s=60)
            assert co_loop.wait_for(lambda: co_loop.handled == len(sightings), timeout_s=60)
        alerts = []
        with bus.consumer("test-alerts", [Topic.ALERTS]) as reader:
            while batch := reader.poll(1.0, 1000):
                alerts += [decode(Topic.ALERTS, m.value) for m in batch]
    recovered = {}
    from analytics.queries import SightingQueries

    queries = SightingQueries(store)
    for tr in truth["trajectories"]:
        cameras = [p["camera_id"] for p in tr["points"]]
        stored = [[p.camera_id for p in trip.points] for trip in queries.trajectories(tr["identity"])]
        recovered[(tr["scenario"], tr["object"])] = cameras in stored
    missed = [key for key, ok in recovered.items() if not ok]
    assert not missed, f"{len(missed)} of {len(recovered)} true trajectories not recovered: {missed[:5]}"
    cloned = {a.identity for a in alerts if a.kind == AlertKind.CLONED_PLATE}
    assert cloned == {c["plate"] for c in truth["cloned_plates"]}
    pairs = {tuple(sorted(a.title.split(" travel together")[0].split(" and "))) for a in alerts
             if a.kind == AlertKind.CO_TRAVEL}
    assert pairs == {tuple(sorted(c["identities"])) for c in truth["co_travel"]}
    store.close()


def test_the_knobs_come_from_the_environment_and_bad_values_are_refused() -> None:
    from analytics.trajectories import TrajectorySettings

    knobs = TrajectorySettings.from_env({"CITYOPS_TRIP_GAP_MIN": "10", "CITYOPS_MAX_KMH": "120",
                                         "CITYOPS_COTRAVEL_S": "3", "CITYOPS_COTRAVEL_CAMERAS": "5"})
    assert knobs.rules.gap == timedelta(minutes=10) and knobs.rules.max_kmh == 120 == knobs.clone_kmh
    assert knobs.co_travel.within == timedelta(seconds=3) and knobs.co_travel.min_cameras == 5
    assert TrajectorySettings.from_env({}) == TrajectorySettings()
    with pytest.raises(ValueError, match="CITYOPS_MAX_KMH must be a number"):
        TrajectorySettings.from_env({"CITYOPS_MAX_KMH": "fast"})


def test_a_batch_whose_transaction_fails_is_built_in_full_on_retry(store: Store) -> None:
    from sqlalchemy.exc import OperationalError

    builder = TrajectoryBuilder(store, GRAPH)
    builder.add([seen("PF-C002", 0)])
    real = builder._count_identities

    def locked(*_args: object) -> None:  # the database refuses the write mid-transaction
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    builder._count_identities = locked  # type: ignore[method-assign]
    batch = [seen("PF-C003", 60), seen("PF-C004", 120)]
    with pytest.raises(OperationalError):
        builder.add(batch)
    builder._count_identities = real  # type: ignore[method-assign]
    builder.add(batch)  # the consumer loop retries the uncommitted batch
    assert trips(store) == [["PF-C002", "PF-C003", "PF-C004"]]


def test_alerts_raised_while_the_bus_is_down_go_out_on_the_retry(tmp_path: Path) -> None:
    from analytics.trajectories import TrajectoryHandler
    from streams.bus import BusUnavailable

    class FlakyBus(LocalBus):
        down = True

        def flush(self, timeout_s: float = 30.0) -> None:
            if self.down:
                raise BusUnavailable("broker unreachable")
            super().flush(timeout_s)

    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    with FlakyBus(tmp_path / "bus") as bus:
        from analytics.alerts import ClonedPlateDetector

        guard = SightingGuard((c.id for c in DISTRICT.cameras), now=lambda: T0 + timedelta(hours=1))
        handler = TrajectoryHandler(bus, TrajectoryBuilder(store, GRAPH), guard, [ClonedPlateDetector(GRAPH)])
        batch = [(Topic.SIGHTINGS, s) for s in (seen("PF-C002", 0), seen("PF-C001", 5))]
        with pytest.raises(BusUnavailable):
            handler(batch)
        bus.down = False
        handler(batch)  # the loop's retry: the detector has seen these, the alert was kept
        alerts = []
        with bus.consumer("test", [Topic.ALERTS]) as reader:
            while got := reader.poll(1.0):
                alerts += got
        assert len({decode(Topic.ALERTS, m.value).id for m in alerts}) == 1
    store.close()

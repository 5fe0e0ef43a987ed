"""The complaint simulator on the real Pingfang district: rhythm, season, places, lives, seed;
and end to end through the embedded bus and the ingest consumer into the store."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.complaint_codes import DEFAULT_TIMEZONE as CST
from analytics.ingest import ingest_loop
from analytics.simulator import ComplaintSimulator, SimulatedComplaint, SimulationProfile
from analytics.store import Store
from streams.district import District, load_district
from streams.localbus import LocalBus
from streams.records import ComplaintEvent
from streams.records import ComplaintEventType as T

WINTER_WEEK = [date(2026, 1, 12) + timedelta(days=k) for k in range(7)]
SUMMER_WEEK = [date(2026, 7, 13) + timedelta(days=k) for k in range(7)]


class Collector:
    """A bus stand-in that only keeps what is published, in order."""

    def __init__(self) -> None:
        self.events: list[ComplaintEvent] = []

    def publish(self, record: ComplaintEvent) -> None:
        self.events.append(record)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    with Store.open(f"sqlite:///{tmp_path_factory.mktemp('sim') / 'codes.db'}") as s:
        yield s


def simulator(district: District, store: Store, seed: int = 7, **profile: float) -> ComplaintSimulator:
    return ComplaintSimulator(district, store, Collector(), seed=seed,
                              profile=SimulationProfile(**profile) if profile else None)


@pytest.fixture(scope="module")
def winter(district: District, store: Store) -> list[SimulatedComplaint]:
    sim = simulator(district, store)
    return [c for day in WINTER_WEEK for c in sim.plan_day(day)]


@pytest.fixture(scope="module")
def summer(district: District, store: Store) -> list[SimulatedComplaint]:
    sim = simulator(district, store)
    return [c for day in SUMMER_WEEK for c in sim.plan_day(day)]


def created(c: SimulatedComplaint) -> ComplaintEvent:
    assert c.events[0].type == T.CREATED
    return c.events[0]


def test_a_week_has_quiet_nights_and_morning_and_evening_peaks(winter: list[SimulatedComplaint]) -> None:
    assert 3000 < len(winter) < 4500  # ~550 a day, a little less at the weekend
    by_hour = Counter(c.created_at.astimezone(CST).hour for c in winter)
    night = statistics.mean(by_hour[h] for h in (1, 2, 3, 4))
    morning = statistics.mean(by_hour[h] for h in (8, 9, 10))
    evening = statistics.mean(by_hour[h] for h in (18, 19, 20))
    afternoon = statistics.mean(by_hour[h] for h in (13, 14))
    assert night < 0.15 * morning and night < 0.15 * evening
    assert afternoon < morning and afternoon < evening


def test_winter_brings_heating_failures_and_summer_litter_and_noise(
    winter: list[SimulatedComplaint], summer: list[SimulatedComplaint]
) -> None:
    def share(complaints: list[SimulatedComplaint], codes: set[str]) -> float:
        return sum(c.category in codes for c in complaints) / len(complaints)

    heating = {"heating_cold", "heating_outage"}
    litter_noise = {"litter", "noise", "garbage_pileup"}
    assert share(winter, heating) > 0.12 > 0.04 > share(summer, heating)
    assert share(summer, litter_noise) > 2 * share(winter, litter_noise)
    top_winter = Counter(c.category for c in winter).most_common(1)[0][0]
    assert top_winter == "heating_cold"


def test_every_complaint_lies_inside_its_grid_with_the_taxonomys_department_and_due_time(
    district: District, winter: list[SimulatedComplaint]
) -> None:
    for c in winter:
        e = created(c)
        assert e.lat is not None and e.lon is not None and e.due_at is not None
        grid = district.grid_at(e.lat, e.lon)
        assert grid is not None and grid.id == e.grid_id == c.grid_id, c.code
        kind = district.complaint_type(c.category)
        assert e.department == district.department_for(kind.code, e.grid_id).id
        assert e.level == kind.level
        assert e.due_at - e.ts == timedelta(hours=kind.time_limit_hours)


def test_grids_with_more_people_get_more_complaints(district: District, winter, summer) -> None:
    counts = Counter(c.grid_id for c in winter + summer)
    grids = sorted(district.community_grids(), key=lambda g: g.people)
    small, large = grids[: len(grids) // 4], grids[-len(grids) // 4:]
    assert statistics.mean(counts[g.id] for g in large) > 1.5 * statistics.mean(counts[g.id] for g in small)


def test_lives_are_complete_ordered_and_realistic(winter: list[SimulatedComplaint]) -> None:
    silence = timedelta(hours=SimulationProfile().silence_hours)
    for c in winter:
        kinds = [e.type for e in c.events]
        assert kinds[0] == T.CREATED and kinds[1] == T.ACCEPTED and kinds[-1] == T.CLOSED, c.code
        assert [e.ts for e in c.events] == sorted(e.ts for e in c.events)
        assert len({e.id for e in c.events}) == len(c.events)
        assert timedelta(0) < c.events[1].ts - c.created_at < timedelta(hours=3)
        if T.RATED not in kinds:  # closed by silence, long after the handling
            handled = max(e.ts for e in c.events if e.type == T.HANDLED)
            assert c.events[-1].ts - handled == silence
    n = len(winter)
    have = Counter(k for c in winter for k in {e.type for e in c.events})
    assert 0.03 < have[T.REDISPATCHED] / n < 0.2
    assert 0.03 < have[T.SUPERVISED] / n < 0.3
    assert 0.04 < 1 - have[T.RATED] / n < 0.14  # never rated
    late = sum(max(e.ts for e in c.events if e.type == T.HANDLED) > created(c).due_at for c in winter)
    assert 0.03 < late / n < 0.3


def test_ratings_fall_when_handling_is_slow(winter: list[SimulatedComplaint],
                                            summer: list[SimulatedComplaint]) -> None:
    on_time: list[int] = []
    late: list[int] = []
    for c in winter + summer:
        first_handled = next(e for e in c.events if e.type == T.HANDLED)
        first_rating = next((e.rating for e in c.events if e.type == T.RATED), None)
        if first_rating is not None:
            (late if first_handled.ts > created(c).due_at else on_time).append(first_rating)
    assert len(late) > 100
    assert statistics.mean(late) < statistics.mean(on_time) - 0.7
    assert set(on_time) == {1, 2, 3, 4, 5}


def test_departments_differ_so_that_rankings_mean_something(winter, summer) -> None:
    ratings: dict[str, list[int]] = {}
    for c in winter + summer:
        for e in c.events:
            if e.type == T.RATED and e.rating is not None:
                ratings.setdefault(created(c).department or "", []).append(e.rating)
    means = [statistics.mean(r) for r in ratings.values() if len(r) >= 50]
    assert len(means) >= 5 and max(means) - min(means) > 0.3


def test_the_same_seed_gives_the_same_stream_and_another_seed_does_not(
    district: District, tmp_path: Path
) -> None:
    def plan(seed: int, name: str) -> list[dict]:
        with Store.open(f"sqlite:///{tmp_path / name}") as s:
            sim = ComplaintSimulator(district, s, None, seed=seed)
            return [e.model_dump() for c in sim.plan_day(date(2026, 3, 2)) for e in c.events]

    first, again, other = plan(7, "a.db"), plan(7, "b.db"), plan(8, "c.db")
    assert first == again
    assert first != other


def test_backfill_publishes_history_that_the_ingest_consumer_stores_once(
    district: District, tmp_path: Path
) -> None:
    now = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)  # 14:30 in Harbin
    with Store.open(f"sqlite:///{tmp_path / 'cityops.db'}") as store, \
            LocalBus(tmp_path / "bus") as bus:
        sim = ComplaintSimulator(district, store, bus, seed=3,
                                 profile=SimulationProfile(complaints_per_day=120))
        count = sim.backfill(2, now=now)
        bus.flush()
        assert 200 < count < 500
        loop, writer = ingest_loop(bus, store)
        with loop:
            assert loop.wait_for(lambda: store.complaints_count() == count, timeout_s=60)
        assert store.complaints_count(since=now - timedelta(hours=2)) < count
        events = store.count("complaint_events")
        assert writer.stats.new == events
        states = Counter(c.state for c in store.recent_complaints(limit=count))
        assert states["closed"] > count / 2 and sum(states.values()) == count
        assert all(e.ts < now for e in store.complaint_events(since=now - timedelta(days=1)))

        # Running the same backfill again republishes the same events: nothing new is stored.
        assert sim.backfill(2, now=now) == count
        bus.flush()
        loop, writer = ingest_loop(bus, store)
        with loop:
            assert loop.wait_for(lambda: writer.stats.records >= events, timeout_s=60)
        assert writer.stats.new == 0
        assert store.complaints_count() == count and store.count("complaint_events") == events


def test_live_mode_starts_at_once_in_real_time_with_compressed_lives(
    district: District, store: Store
) -> None:
    bus = Collector()
    sim = ComplaintSimulator(district, store, bus, seed=5)
    stop = threading.Event()
    started = datetime.now(UTC)
    worker = threading.Thread(target=sim.run_live, kwargs={"speed": 20_000, "stop": stop})
    worker.start()
    time.sleep(2.5)
    stop.set()
    worker.join(timeout=5)
    finished = datetime.now(UTC)
    assert not worker.is_alive()
    assert bus.events and bus.events[0].type == T.CREATED
    assert bus.events[0].ts - started < timedelta(seconds=1)
    assert all(started - timedelta(seconds=1) <= e.ts <= finished for e in bus.events)
    assert {T.CREATED, T.ACCEPTED, T.DISPATCHED, T.HANDLED} <= {e.type for e in bus.events}
    first = bus.events[0]
    assert first.due_at is not None
    limit = district.complaint_type(first.category or "").time_limit_hours * 3600 / 20_000
    assert (first.due_at - first.ts).total_seconds() == pytest.approx(limit, abs=1e-3)

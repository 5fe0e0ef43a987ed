"""Governance measures: the satisfaction ranking with known ratings (order and smoothed
scores as computed by hand), on-time rate and median handling time, second dispatch and
second rating, grid and level counts, heat map and trends; incremental equals from
scratch; the stored measures read back the same; the grid status rules."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.complaint_book import ComplaintBook
from analytics.complaint_fold import fold
from analytics.governance import Governance
from analytics.grid_status import GridStatus
from analytics.measures import Measures, RatingPrior, bucket_middle, bucket_of
from analytics.measures_store import MeasuresReader, save
from analytics.simulator import ComplaintSimulator
from analytics.store import Store
from streams.district import District, load_district
from streams.records import Alert, AlertKind, CameraStatus, ComplaintEvent, GridStatusLevel
from streams.records import ComplaintEventType as T

DAY = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Harbin


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


class Maker:
    """Writes complaint lives as events, numbered per day like real codes."""

    def __init__(self, district: District) -> None:
        self.district = district
        self.n = 0
        self.events: list[ComplaintEvent] = []

    def life(self, department: str, rating: int | None, *, at: datetime = DAY, handled_after: timedelta | None =
             timedelta(hours=1), category: str = "litter", grid: int = 0, close: bool = True) -> str:
        self.n += 1
        code = f"PF-{at:%Y%m%d}-{self.n:06d}"
        kind = self.district.complaint_type(category)
        g = self.district.community_grids()[grid]
        due = at + timedelta(hours=kind.time_limit_hours)
        ev = [ComplaintEvent(code=code, ts=at, type=T.CREATED, text=kind.name_zh, category=category,
                             level=kind.level, grid_id=g.id, due_at=due, department=department),
              ComplaintEvent(code=code, ts=at + timedelta(minutes=5), type=T.ACCEPTED),
              ComplaintEvent(code=code, ts=at + timedelta(minutes=10), type=T.DISPATCHED, department=department)]
        if handled_after is not None:
            done = at + handled_after
            ev.append(ComplaintEvent(code=code, ts=done, type=T.HANDLED, actor=department))
            if rating is not None:
                ev.append(ComplaintEvent(code=code, ts=done + timedelta(minutes=15), type=T.RATED, rating=rating))
            if close and rating is not None:
                ev.append(ComplaintEvent(code=code, ts=done + timedelta(minutes=16), type=T.CLOSED))
        self.events += ev
        return code


def feed(events: list[ComplaintEvent], measures: Measures | None = None) -> tuple[ComplaintBook, Measures]:
    book, m = ComplaintBook(), measures or Measures()
    for e in events:
        change = book.apply(e)
        if change is not None:
            m.observe(change.before, change.after)
    return book, m


def known_ratings(district: District) -> list[ComplaintEvent]:
    make = Maker(district)
    for _ in range(200):
        make.life("PF-CGJ", 5)
    for _ in range(100):
        make.life("PF-CGJ", 3)
    for _ in range(3):
        make.life("PF-GAJ", 5)
    for _ in range(25):
        make.life("PF-SWJ", 4)
    for _ in range(25):
        make.life("PF-SWJ", 2)
    return make.events


def test_ranking_with_known_ratings_matches_the_hand_computation(district: District) -> None:
    # A (PF-CGJ): 200 x 5 + 100 x 3 = 1300 over 300; B (PF-GAJ): 3 x 5; C (PF-SWJ): 25 x 4 + 25 x 2.
    # district mean m = (1300 + 15 + 150) / 353 = 1465 / 353 = 4.150142, weight w = 20:
    #   A = (20 m + 1300) / 320 = 4.321884   B = (20 m + 15) / 23 = 4.260993   C = (20 m + 150) / 70 = 3.328612
    _, m = feed(known_ratings(district))
    ranking = m.ranking()
    assert [r.department for r in ranking] == ["PF-CGJ", "PF-GAJ", "PF-SWJ"]
    assert [r.smoothed_rating for r in ranking] == pytest.approx([4.3219, 4.2610, 3.3286], abs=1e-4)
    assert [r.mean_rating for r in ranking] == pytest.approx([4.3333, 5.0, 3.0], abs=1e-4)
    assert [r.ratings for r in ranking] == [300, 3, 50]
    assert [r.rank for r in ranking] == [1, 2, 3]
    # three fives do not top three hundred mostly-fives; without smoothing they would
    assert max(ranking, key=lambda r: r.mean_rating or 0).department == "PF-GAJ"


def test_ranking_with_a_fixed_prior(district: District) -> None:
    # m = 3, w = 20: A = (60 + 1300) / 320 = 4.25, B = (60 + 15) / 23 = 3.260870, C = (60 + 150) / 70 = 3.0
    _, m = feed(known_ratings(district), Measures(prior=RatingPrior(mean=3.0, weight=20)))
    assert [(r.department, r.smoothed_rating) for r in m.ranking()] == [
        ("PF-CGJ", 4.25), ("PF-GAJ", pytest.approx(3.2609, abs=1e-4)), ("PF-SWJ", 3.0)]


def test_volume_on_time_rate_and_median_handling_time(district: District) -> None:
    make = Maker(district)
    for minutes in (30, 60, 90, 120, 600):  # litter: 24 h limit, all on time
        make.life("PF-CGJ", 4, handled_after=timedelta(minutes=minutes))
    make.life("PF-CGJ", 2, handled_after=timedelta(hours=30))  # late
    make.life("PF-CGJ", None, handled_after=None)  # not handled yet
    _, m = feed(make.events)
    (row,) = m.ranking()
    assert row.volume == 7 and row.handled == 6
    assert row.on_time_rate == pytest.approx(5 / 6, abs=1e-4)
    exact_median_h = 105 / 60  # between 90 and 120 minutes
    assert row.median_handling_hours == pytest.approx(bucket_middle(bucket_of(90)) / 60, abs=0.01)
    assert abs(row.median_handling_hours - exact_median_h) / exact_median_h < 0.2
    assert abs(bucket_middle(bucket_of(1000)) - 1000) / 1000 < 0.045  # the histogram's precision


def test_second_dispatch_moves_the_complaint_and_the_second_rating_replaces_the_first(district: District) -> None:
    make = Maker(district)
    code = make.life("PF-JTJ", 2, close=False)
    t0 = make.events[-1].ts
    make.events += [
        ComplaintEvent(code=code, ts=t0 + timedelta(minutes=5), type=T.REDISPATCHED, department="PF-CGJ"),
        ComplaintEvent(code=code, ts=t0 + timedelta(hours=2), type=T.HANDLED, actor="PF-CGJ"),
        ComplaintEvent(code=code, ts=t0 + timedelta(hours=3), type=T.RATED, rating=5),
        ComplaintEvent(code=code, ts=t0 + timedelta(hours=3, minutes=1), type=T.CLOSED),
    ]
    _, m = feed(make.events)
    by = {r.department: r for r in m.ranking()}
    assert set(by) == {"PF-CGJ"}  # PF-JTJ handed it over: no volume, no rating left there
    assert by["PF-CGJ"].volume == 1 and by["PF-CGJ"].ratings == 1 and by["PF-CGJ"].mean_rating == 5.0


def test_replays_and_late_duplicates_are_not_counted_twice(district: District) -> None:
    events = known_ratings(district)
    _, once = feed(events)
    shuffled = events + random.Random(3).sample(events, 500)
    _, twice = feed(shuffled)
    assert once.ranking() == twice.ranking() and once.days == twice.days


def test_grid_level_counts_heat_map_and_trends(district: District) -> None:
    make = Maker(district)
    day2 = DAY + timedelta(days=1)
    make.life("PF-CGJ", 4, grid=1)  # closed on day 1
    make.life("PF-CGJ", 2, grid=1, at=day2)  # closed on day 2
    make.life("PF-CGJ", None, grid=1, at=day2, handled_after=None)  # open
    make.life("PF-GRB", None, grid=2, at=day2, category="heating_cold", handled_after=None)  # open, level 2
    make.events.append(ComplaintEvent(code=make.events[-1].code, ts=day2 + timedelta(hours=24), type=T.OVERDUE))
    _, m = feed(make.events)
    g1, g2 = (district.community_grids()[i].id for i in (1, 2))
    today = m.day_of(day2)
    counts = {(c.grid_id, c.level): c for c in m.grid_level_counts(today)}
    assert (counts[(g1, 3)].open, counts[(g1, 3)].overdue, counts[(g1, 3)].closed_today) == (1, 0, 1)
    assert counts[(g1, 3)].ratings == 2 and counts[(g1, 3)].mean_rating == 3.0
    assert (counts[(g2, 2)].open, counts[(g2, 2)].overdue) == (1, 1)
    assert m.heat_map(m.day_of(DAY), today) == {g1: 3, g2: 1}
    assert m.heat_map(today, today) == {g1: 2, g2: 1}
    days = m.trend(m.day_of(DAY), today)
    assert [(p.start, p.created, p.closed, p.ratings) for p in days] == [
        (m.day_of(DAY), 1, 1, 1), (today, 3, 1, 1)]
    (week,) = m.trend(m.day_of(DAY), today, by="week")  # 2026-11-20 and 21: one ISO week
    assert week.start == date(2026, 11, 16) and week.created == 4 and week.mean_rating == 3.0


def test_incremental_measures_equal_a_fold_from_scratch_on_a_simulated_week(district: District) -> None:
    class Codes:
        def allocate(self, created_at: datetime, count: int = 1) -> list[str]:
            return [f"PF-{created_at:%Y%m%d}-{i:06d}" for i in range(1, count + 1)]

    sim = ComplaintSimulator(district, None, None, codes=Codes())
    lives = [c for k in range(7) for c in sim.plan_day(date(2026, 1, 12) + timedelta(days=k))]
    events = sorted((e for c in lives for e in c.events), key=lambda e: e.ts)
    _, incremental = feed(events)
    scratch = Measures()
    for c in lives:
        scratch.observe(None, fold(c.events))
    assert incremental.ranking() == scratch.ranking()
    assert {k: v for k, v in incremental.days.items() if any(v)} == {k: v for k, v in scratch.days.items() if any(v)}
    assert {k: v for k, v in incremental.grid_levels.items() if any(v)} == \
        {k: v for k, v in scratch.grid_levels.items() if any(v)}


def test_stored_measures_read_back_the_same(district: District, store_url: str) -> None:
    make = Maker(district)
    for i in range(40):
        make.life(["PF-CGJ", "PF-GAJ", "PF-SWJ"][i % 3], 1 + i % 5, grid=i % 7, at=DAY + timedelta(days=i % 9))
    _, m = feed(make.events)
    with Store.open(store_url) as store:
        assert save(store, m) > 0
        reader = MeasuresReader(store)
        start, end = m.day_of(DAY), m.day_of(DAY + timedelta(days=8))
        assert reader.ranking() == m.ranking()
        assert reader.heat_map(start, end) == m.heat_map(start, end)
        assert reader.trend(start, end, "week") == m.trend(start, end, "week")
        assert reader.grid_level_counts(end) == m.grid_level_counts(end)
        save(store, m, everything=True)  # rewriting everything is harmless
        assert reader.ranking() == m.ranking()


def test_governance_rebuilds_the_same_measures_from_the_store(district: District, store_url: str) -> None:
    events = known_ratings(district)
    _, live = feed(events)
    with Store.open(store_url) as store:
        store.write(events)
        gov = Governance(district, _Nowhere(), store, clock=lambda: DAY + timedelta(days=1))
        assert gov.rebuild() == 353
        assert gov.measures.ranking() == live.ranking()
        assert MeasuresReader(store).ranking() == live.ranking()
        gov.handle([("cityops.complaints", e) for e in events[:50]])  # replayed by the bus: skipped
        assert gov.measures.ranking() == live.ranking()


class _Nowhere:
    def publish(self, record: object) -> None:
        pass


def test_grid_status_rules(district: District) -> None:
    make = Maker(district)
    grid = district.community_grids()[5]
    m = Measures()
    status = GridStatus(district, m)
    now = DAY + timedelta(days=2)
    assert status.situation(grid.id, now).status == GridStatusLevel.NORMAL
    for _ in range(5):
        make.life("PF-CGJ", None, grid=5, handled_after=None)
    feed(make.events, m)
    assert status.situation(grid.id, now).status == GridStatusLevel.ATTENTION  # 5 open
    code = make.life("PF-CGJ", None, grid=5, handled_after=None, category="manhole_missing")
    make.events.append(ComplaintEvent(code=code, ts=DAY + timedelta(hours=4), type=T.OVERDUE))
    feed(make.events, m := Measures())
    status = GridStatus(district, m)
    situation = status.situation(grid.id, now)
    assert situation.status == GridStatusLevel.ALARM and situation.urgent_overdue == 1
    events = status.changes(now, all_grids=True)
    assert [(e.grid_id, e.status) for e in events] == [(grid.id, GridStatusLevel.ALARM)]
    assert status.changes(now, all_grids=True) == []  # published on change only

    quiet = district.community_grids()[200]
    camera = next(c for c in district.cameras if status.camera_grid.get(c.id))
    cam_grid = status.camera_grid[camera.id]
    status.camera(CameraStatus(camera_id=camera.id, ts=now, online=False))
    assert status.situation(cam_grid, now).status == GridStatusLevel.ATTENTION
    for _ in range(2):
        status.alert(Alert(ts=now, kind=AlertKind.CLONED_PLATE, title="套牌", grid_id=quiet.id))
    assert status.situation(quiet.id, now).status == GridStatusLevel.ALARM
    assert status.situation(quiet.id, now + timedelta(hours=2)).status == GridStatusLevel.NORMAL

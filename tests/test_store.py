"""The store on SQLite and PostgreSQL: migrations, idempotent writes, complaint folding, reads."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from analytics import tables
from analytics.complaint_codes import StoreCodes
from analytics.store import Store
from streams.records import (
    Alert,
    AlertKind,
    CameraStatus,
    ComplaintEvent,
    ComplaintEventType,
    DeadLetter,
    GridEvent,
    GridEventKind,
    GridStatusLevel,
    Sighting,
    SightingKind,
    Trajectory,
    TrajectoryPoint,
)

T0 = datetime(2026, 11, 21, 6, 9, tzinfo=UTC)  # 14:09 in Harbin
REPO = Path(__file__).resolve().parent.parent


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def lifecycle(code: str = "PF-20261121-000001", limit_minutes: float = 240) -> list[ComplaintEvent]:
    """Pingfang's real case, to the minute: reported 14:09, accepted 14:15, on site 14:25,
    handled 14:33, rated 5 stars 14:48 (closed after the rating)."""
    E = ComplaintEventType
    return [
        ComplaintEvent(code=code, ts=at(0), type=E.CREATED, text="草坪上有垃圾", category="litter",
                       level=3, lat=45.6, lon=126.6, grid_id="PF-G0001", due_at=at(limit_minutes),
                       department="PF-CGJ", reporter="138****1234"),
        ComplaintEvent(code=code, ts=at(6), type=E.ACCEPTED, actor="command-center"),
        ComplaintEvent(code=code, ts=at(8), type=E.DISPATCHED, department="PF-CGJ"),
        ComplaintEvent(code=code, ts=at(24), type=E.HANDLED, actor="PF-CGJ"),
        ComplaintEvent(code=code, ts=at(39), type=E.RATED, rating=5, actor="reporter"),
        ComplaintEvent(code=code, ts=at(40), type=E.CLOSED),
    ]


def sighting(i: int, identity: str = "黑A12345", camera: str = "PF-C001", **extra: object) -> Sighting:
    return Sighting(camera_id=camera, ts=at(i), kind=SightingKind.PLATE, identity=identity,
                    confidence=0.9, bbox=(1, 2, 30, 40), **extra)


@pytest.fixture
def store(store_url: str):
    with Store.open(store_url) as s:
        yield s


# ---------------------------------------------------------------- schema


def test_open_creates_the_schema_and_reopening_is_a_no_op(store: Store) -> None:
    from alembic.script import ScriptDirectory

    from analytics.store import _alembic_config

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert store.revision() == head
    again = Store.open(store.url)
    assert again.revision() == head
    again.close()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == [], f"analytics/tables.py and the migrations disagree: {diff}"


def _open_in_child(url: str) -> str | None:
    with Store.open(url) as s:
        return s.revision()


def test_several_processes_can_open_a_new_store_at_once(store_url: str) -> None:
    from alembic.script import ScriptDirectory

    from analytics.store import _alembic_config

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        assert pool.map(_open_in_child, [store_url] * 4) == [head] * 4


def test_sqlite_store_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'cityops.db'}") as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_url_of_another_database_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unsupported store"):
        Store("mysql://root:secret@db/cityops")


# ---------------------------------------------------------------- idempotent writes


def test_the_same_sightings_twice_are_stored_once(store: Store) -> None:
    batch = [sighting(i, identity=f"黑A1234{i % 3}") for i in range(50)]
    assert store.write(batch) == 50
    assert store.write(batch) == 0
    extra = sighting(99)
    assert store.write(batch[:10] + [extra, extra]) == 1
    assert store.count("sightings") == 51


def test_a_sighting_keeps_every_field(store: Store) -> None:
    face = Sighting(camera_id="PF-C007", ts=at(3), kind=SightingKind.FACE, identity="person:7",
                    confidence=0.71, bbox=(5, 6, 70, 80), track_id="t-9", snapshot="snapshots/a.jpg",
                    face_distance=0.41, encoding=[i / 128 for i in range(128)])
    store.write([face])
    with store.engine.connect() as conn:
        row = conn.execute(tables.sightings.select()).one()
    assert (row.camera_id, row.ts, row.kind, row.identity) == ("PF-C007", at(3), "face", "person:7")
    assert (row.x1, row.y1, row.x2, row.y2, row.track_id, row.snapshot) == (5, 6, 70, 80, "t-9", "snapshots/a.jpg")
    assert row.face_distance == pytest.approx(0.41)
    assert len(row.encoding) == 128 * 4


def test_a_redelivered_bus_batch_stores_nothing_twice(store: Store, tmp_path: Path) -> None:
    """After a crash the bus hands the consumer its last batches again, mixed with new
    messages (and a copy inside one batch): each sighting is stored once, fields intact."""
    from analytics.ingest import ingest_loop
    from streams.localbus import LocalBus

    first = [sighting(i % 600, identity=f"黑A{10000 + i % 97}") for i in range(3000)]
    later = [sighting(i % 600, camera="PF-C002", identity=f"黑B{10000 + i}") for i in range(500)]
    with LocalBus(tmp_path / "bus") as bus:
        for record in first:
            bus.publish(record)
        bus.flush()
        loop, writer = ingest_loop(bus, store, max_records=1000)
        with loop:
            assert loop.wait_for(lambda: writer.stats.records == 3000, timeout_s=60)
        for record in [*first[1500:], *later, later[0], *first[:100]]:  # the replay, then new ones
            bus.publish(record)
        bus.flush()
        with loop:
            assert loop.wait_for(lambda: writer.stats.records == 3000 + 1500 + 501 + 100, timeout_s=60)
    assert store.count("sightings") == 3500
    assert writer.stats.new == 3500
    with store.engine.connect() as conn:
        rows = conn.execute(tables.sightings.select().where(tables.sightings.c.camera_id == "PF-C002")).all()
    assert sorted(r.identity for r in rows) == sorted(s.identity for s in later)
    assert {(r.ts, r.x2, r.track_id) for r in rows} == {(s.ts, s.bbox[2], s.track_id) for s in later}


@pytest.mark.postgres
def test_a_batch_the_database_refuses_leaves_none_of_its_sightings(postgres_url: str) -> None:
    """Sightings and a record PostgreSQL refuses, in one write: nothing is kept (the
    sightings' COPY must not commit on its own)."""
    too_long = Trajectory(id="t" * 100, kind=SightingKind.PLATE, identity="黑A12345",
                          start=at(0), end=at(1), points=[])
    with Store.open(postgres_url) as store:
        with pytest.raises(Exception, match="too long"):
            store.write([sighting(i) for i in range(20)] + [too_long])
        assert store.count("sightings") == 0
        assert store.write([sighting(i) for i in range(20)]) == 20


def test_a_replayed_complaint_event_is_folded_once(store: Store) -> None:
    events = lifecycle()
    redispatch = ComplaintEvent(code=events[0].code, ts=at(20), type=ComplaintEventType.REDISPATCHED,
                                department="PF-ZJJ")
    assert store.write(events[:3] + [redispatch]) == 4
    assert store.write([redispatch, redispatch]) == 0
    assert store.write(events + [redispatch]) == 3
    state = store.complaint(events[0].code)
    assert state is not None
    assert state.redispatch_count == 1
    assert state.event_count == 7
    assert len(store.complaint_trace(events[0].code)) == 7


def test_a_batch_with_duplicates_inside_it_stores_each_once(store: Store) -> None:
    events = lifecycle()
    assert store.write(events + events) == len(events)
    assert store.count("complaint_events") == len(events)


def test_an_unknown_record_type_writes_nothing(store: Store) -> None:
    with pytest.raises(TypeError, match="cannot write"):
        store.write([sighting(1), "not a record"])  # type: ignore[list-item]
    assert store.count("sightings") == 0


# ---------------------------------------------------------------- complaint state


def test_the_pingfang_case_folds_to_a_closed_five_star_complaint(store: Store) -> None:
    events = lifecycle()
    store.write(events)
    c = store.complaint(events[0].code)
    assert c is not None
    assert (c.state, c.rating, c.closed_by_silence, c.overdue) == ("closed", 5, False, False)
    assert (c.created_at, c.accepted_at, c.handled_at, c.rated_at, c.closed_at) == (at(0), at(6), at(24), at(39), at(40))
    assert (c.category, c.level, c.grid_id, c.department, c.due_at) == ("litter", 3, "PF-G0001", "PF-CGJ", at(240))
    assert [e.type for e in store.complaint_trace(c.code)] == [e.type for e in events]


def test_events_arriving_out_of_order_fold_to_the_same_state(store: Store, store_url: str) -> None:
    events = lifecycle(code="PF-20261121-000002")
    for e in reversed(events):  # one event per batch, newest first: no 'created' until the end
        store.write([e])
        if e.type != ComplaintEventType.CREATED:
            assert store.complaint(e.code) is None
    c = store.complaint(events[0].code)
    assert c is not None and (c.state, c.rating, c.event_count) == ("closed", 5, 6)


def test_late_handling_marks_the_complaint_overdue(store: Store) -> None:
    events = lifecycle(limit_minutes=20)  # handled at minute 24: four minutes late
    store.write(events[:4])
    c = store.complaint(events[0].code)
    assert c is not None and c.state == "handled" and c.overdue


def test_a_complaint_never_rated_is_closed_by_silence(store: Store) -> None:
    events = lifecycle()
    silence = ComplaintEvent(code=events[0].code, ts=at(24 + 72 * 60), type=ComplaintEventType.CLOSED,
                             note="72 小时未评价，默认办结")
    store.write(events[:4] + [silence])
    c = store.complaint(events[0].code)
    assert c is not None and c.state == "closed" and c.closed_by_silence and c.rating is None


def test_a_second_dispatch_reopens_and_keeps_the_history(store: Store) -> None:
    E = ComplaintEventType
    code = "PF-20261121-000003"
    events = lifecycle(code)[:4] + [
        ComplaintEvent(code=code, ts=at(30), type=E.RATED, rating=1),
        ComplaintEvent(code=code, ts=at(45), type=E.REDISPATCHED, department="PF-CGJ", note="二次派单"),
    ]
    store.write(events)
    c = store.complaint(code)
    assert c is not None
    assert (c.state, c.redispatch_count, c.handled_at, c.rating) == ("redispatched", 1, None, 1)
    store.write([ComplaintEvent(code=code, ts=at(90), type=E.HANDLED),
                 ComplaintEvent(code=code, ts=at(100), type=E.RATED, rating=4)])
    c = store.complaint(code)
    assert c is not None and (c.state, c.rating, c.handled_at) == ("rated", 4, at(90))
    assert len(store.complaint_trace(code)) == 8


def _write_alternate_events(args: tuple[str, int, float]) -> None:
    url, parity, start_at = args
    with Store.open(url) as s:
        time.sleep(max(0.0, start_at - time.time()))  # both processes race from the same moment
        for n in range(1, 41):
            for e in lifecycle(code=f"PF-20261121-{n:06d}")[parity::2]:
                s.write([e])


def test_two_writers_sharing_complaints_fold_every_event(store: Store) -> None:
    # Event ids are random per call, so each process writes its own half of every life.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        start_at = time.time() + 3
        pool.map(_write_alternate_events, [(store.url, 0, start_at), (store.url, 1, start_at)])
    states = store.recent_complaints(limit=100)
    assert len(states) == 40
    assert all((c.state, c.event_count, c.rating) == ("closed", 6, 5) for c in states)


# ---------------------------------------------------------------- latest-only tables


def test_camera_status_keeps_only_the_latest_heartbeat_per_camera(store: Store) -> None:
    store.write([CameraStatus(camera_id="PF-C001", ts=at(1), online=True, fps_in=12.5),
                 CameraStatus(camera_id="PF-C002", ts=at(1), online=True)])
    store.write([CameraStatus(camera_id="PF-C001", ts=at(2), online=False, error="no frames for 10 s")])
    store.write([CameraStatus(camera_id="PF-C001", ts=at(0), online=True)])  # late, older: ignored
    statuses = {s.camera_id: s for s in store.camera_statuses()}
    assert set(statuses) == {"PF-C001", "PF-C002"}
    assert (statuses["PF-C001"].online, statuses["PF-C001"].ts) == (False, at(2))
    assert statuses["PF-C001"].error == "no frames for 10 s"
    assert store.count("camera_status") == 2


def test_grid_events_keep_each_workers_latest_position_and_each_grids_status(store: Store) -> None:
    W, S = GridEventKind.WORKER_POSITION, GridEventKind.STATUS
    store.write([
        GridEvent(ts=at(1), grid_id="PF-G0001", kind=W, worker_id="PF-W0001", lat=45.61, lon=126.61),
        GridEvent(ts=at(2), grid_id="PF-G0001", kind=W, worker_id="PF-W0001", lat=45.62, lon=126.62),
        GridEvent(ts=at(1), grid_id="PF-G0002", kind=W, worker_id="PF-W0002", lat=45.63, lon=126.63),
        GridEvent(ts=at(1), grid_id="PF-G0002", kind=S, status=GridStatusLevel.ALARM),
        GridEvent(ts=at(3), grid_id="PF-G0002", kind=S, status=GridStatusLevel.ATTENTION),
    ])
    positions = {p.worker_id: p for p in store.worker_positions()}
    assert (positions["PF-W0001"].lat, positions["PF-W0001"].ts) == (45.62, at(2))
    assert len(positions) == 2
    assert store.grid_status_levels() == {"PF-G0002": "attention"}


def test_alerts_dead_letters_and_trajectories_are_kept(store: Store) -> None:
    alert = Alert(ts=at(5), kind=AlertKind.CLONED_PLATE, title="黑A12345 at two cameras 9 km apart in 2 min",
                  identity="黑A12345", evidence=["s1", "s2"], recipients=["police"])
    letter = DeadLetter(topic="cityops.sightings", consumer_group="analytics-store",
                        reason="not JSON: Expecting value", payload="{oops")
    trip = Trajectory(id="tr-1", kind=SightingKind.PLATE, identity="黑A12345", start=at(0), end=at(9), points=[
        TrajectoryPoint(sighting_id="s1", camera_id="PF-C001", ts=at(0), lat=45.6, lon=126.6)])
    assert store.write([alert, letter, trip]) == 3
    assert store.write([alert, letter]) == 0
    assert [d.reason for d in store.dead_letters()] == ["not JSON: Expecting value"]
    with store.engine.connect() as conn:
        row = conn.execute(tables.alerts.select()).one()
    assert (row.kind, row.evidence, row.recipients) == ("cloned_plate", ["s1", "s2"], ["police"])
    longer = trip.model_copy(update={"end": at(20), "points": trip.points * 2})
    store.write([longer])  # a trip grows: the newest version replaces it
    with store.engine.connect() as conn:
        assert conn.execute(tables.trajectories.select()).one().point_count == 2


# ---------------------------------------------------------------- reads for the wall screen


def test_wall_screen_reads(store: Store) -> None:
    E = ComplaintEventType
    events = []
    for n in range(1, 6):
        code = f"PF-20261121-{n:06d}"
        events.append(ComplaintEvent(code=code, ts=at(n * 10), type=E.CREATED, text=f"问题 {n}",
                                     category="noise", level=3, grid_id=f"PF-G000{1 + n % 2}",
                                     due_at=at(n * 10 + 60), department="PF-HJJ"))
    events.append(ComplaintEvent(code="PF-20261121-000001", ts=at(30), type=E.HANDLED))
    events.append(ComplaintEvent(code="PF-20261121-000001", ts=at(31), type=E.CLOSED))
    store.write(events)
    assert store.complaints_count() == 5
    assert store.complaints_count(since=at(30)) == 3
    assert [c.code[-1] for c in store.recent_complaints(limit=3)] == ["5", "4", "3"]
    now = at(95)  # complaints 2 and 3 are past due (80, 90) and unhandled; 1 is closed
    summary = store.complaint_summary(since=at(20), now=now)
    assert (summary.today, summary.open, summary.overdue, summary.total) == (4, 4, 2, 5)
    by_grid = {g.grid_id: g for g in store.complaint_counts_by_grid(now=now)}
    assert (by_grid["PF-G0001"].total, by_grid["PF-G0001"].open, by_grid["PF-G0001"].overdue) == (2, 2, 1)
    assert (by_grid["PF-G0002"].total, by_grid["PF-G0002"].open, by_grid["PF-G0002"].overdue) == (3, 2, 1)


# ---------------------------------------------------------------- complaint codes


def _allocate_in_child(args: tuple[str, int]) -> list[str]:
    url, rounds = args
    with Store.open(url) as s:
        codes = StoreCodes(s, "PF")
        return [c for _ in range(rounds) for c in codes.allocate(T0, 2)]


def test_complaint_codes_are_unique_across_processes(store: Store) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        got = [c for part in pool.map(_allocate_in_child, [(store.url, 20)] * 3) for c in part]
    assert len(got) == len(set(got)) == 120
    assert sorted(got) == [f"PF-20261121-{n:06d}" for n in range(1, 121)]


def test_codes_follow_the_local_day_in_harbin(store: Store) -> None:
    codes = StoreCodes(store, "PF")
    late_evening_utc = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)  # 01:30 on the 22nd in Harbin
    assert codes.allocate(late_evening_utc) == ["PF-20261122-000001"]
    assert codes.allocate(T0, 3) == ["PF-20261121-000001", "PF-20261121-000002", "PF-20261121-000003"]
    with pytest.raises(ValueError, match="capital letters"):
        StoreCodes(store, "pf1")


# ---------------------------------------------------------------- crash safety (SQLite)

WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from analytics.store import Store
    from streams.records import Sighting
    store = Store.open(sys.argv[1])
    t0 = datetime(2026, 11, 21, tzinfo=UTC)
    for b in range(100000):
        store.write([Sighting(camera_id="PF-C001", ts=t0 + timedelta(seconds=b), kind="plate",
                              identity=f"黑A{b:05d}", confidence=0.9, bbox=(0, 0, 1, 1))
                     for _ in range(200)])
        print(b + 1, flush=True)
""")


def test_sqlite_store_survives_kill_9_during_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    Store.open(url).close()
    child = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout is not None
    committed = 0
    deadline = time.monotonic() + 60
    while committed < 15 and time.monotonic() < deadline:
        committed = int(child.stdout.readline() or committed)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert committed >= 15
    conn = sqlite3.connect(tmp_path / "crash.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    conn.close()
    assert stored % 200 == 0 and stored >= committed * 200  # whole batches, none lost
    with Store.open(url) as s:
        assert s.count("sightings") == stored


# ---------------------------------------------------------------- the ingest consumer


def test_ingest_stores_every_topic_and_sets_malformed_messages_aside(store: Store, tmp_path: Path) -> None:
    from analytics.ingest import ingest_loop
    from streams.localbus import LocalBus
    from streams.topics import Topic

    first = sighting(1)
    with LocalBus(tmp_path / "bus") as bus:
        for record in [first, sighting(2), *lifecycle(),
                       CameraStatus(camera_id="PF-C001", ts=at(1), online=True),
                       GridEvent(ts=at(1), grid_id="PF-G0001", kind=GridEventKind.STATUS,
                                 status=GridStatusLevel.ALARM),
                       Alert(ts=at(2), kind=AlertKind.WATCHLIST, title="watch-list plate seen")]:
            bus.publish(record)
        bus.send(Topic.SIGHTINGS, b"{not json", key="x")
        bus.send(Topic.COMPLAINTS, b'{"schema_version": 1, "code": "nope"}')
        bus.publish(first)  # a replay: stored once
        bus.flush()
        loop, writer = ingest_loop(bus, store)
        with loop:
            assert loop.wait_for(lambda: store.count("dead_letters") == 2 and store.count("alerts") == 1,
                                 timeout_s=30)
        assert store.count("sightings") == 2
        assert store.complaint(lifecycle()[0].code) is not None
        assert [s.camera_id for s in store.camera_statuses()] == ["PF-C001"]
        assert store.grid_status_levels() == {"PF-G0001": "alarm"}
        reasons = sorted(d.reason for d in store.dead_letters())
        assert reasons[0].startswith("invalid ComplaintEvent") and reasons[1].startswith("not JSON")
        assert writer.stats.new == writer.stats.records - 1  # all but the replayed sighting

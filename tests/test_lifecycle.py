"""The complaint state machine on the real district, store and embedded bus: legal paths,
every illegal step refused with a clear message, closing only after rating or silence,
second dispatch keeping the history, complete ordered traces; and the SLA watch (notices
to department, bureau and leaders, warnings, overdue, silence) through the governance
consumer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.complaint_codes import StoreCodes
from analytics.complaint_fold import fold
from analytics.governance import Governance
from analytics.ingest import ingest_loop
from analytics.intake import Intake, Submission
from analytics.lifecycle import ALLOWED, Lifecycle, Phase, Step, TransitionError, UnknownComplaint
from analytics.sla import LEADERS
from analytics.store import Store
from streams.district import District, load_district
from streams.localbus import LocalBus
from streams.records import Alert, AlertKind, ComplaintEvent
from streams.records import ComplaintEventType as T


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


class World:
    def __init__(self, district: District, tmp: Path) -> None:
        self.district = district
        self.clock = Clock(datetime(2026, 11, 21, 6, 9, tzinfo=UTC))  # 14:09 in Harbin
        self.store = Store.open(f"sqlite:///{tmp / 'store.db'}")
        self.bus = LocalBus(tmp / "bus")
        self.life = Lifecycle(self.store, self.bus, departments={d.id for d in district.departments},
                              clock=self.clock)
        self.intake = Intake(district, self.life, StoreCodes(self.store, district.code_prefix),
                             tmp / "photos", clock=self.clock)
        self.ingest, _ = ingest_loop(self.bus, self.store)
        self.grid = district.community_grids()[10]

    def new(self, text: str = "草坪上有人乱扔垃圾", category: str | None = "litter") -> str:
        lat, lon = self.grid.centroid or (0, 0)
        return self.intake.submit(Submission(text=text, category=category, lat=lat, lon=lon)).event.code

    def to_phase(self, phase: Phase, rating: int = 4) -> str:
        code = self.new()
        steps = {
            Phase.CREATED: [],
            Phase.ACCEPTED: [Step.ACCEPT],
            Phase.DISPATCHED: [Step.ACCEPT, Step.DISPATCH],
            Phase.HANDLED: [Step.ACCEPT, Step.DISPATCH, Step.HANDLE],
            Phase.RATED: [Step.ACCEPT, Step.DISPATCH, Step.HANDLE, Step.RATE],
            Phase.CLOSED: [Step.ACCEPT, Step.DISPATCH, Step.HANDLE, Step.RATE, Step.CLOSE],
        }[phase]
        for step in steps:
            self.clock.advance(minutes=5)
            self.do(code, step, rating=rating)
        return code

    def do(self, code: str, step: Step, rating: int = 4, department: str = "PF-CGJ") -> ComplaintEvent:
        if step is Step.RATE:
            return self.life.rate(code, rating)
        if step in (Step.DISPATCH, Step.REDISPATCH):
            return getattr(self.life, step.value)(code, department)
        return getattr(self.life, step.value)(code, actor="PF-CGJ") if step in (Step.HANDLE, Step.SUPERVISE) \
            else getattr(self.life, step.value)(code)

    def ingest_all(self) -> None:
        total = self.bus_count()
        assert self.ingest.wait_for(lambda: self.ingest.handled >= total, timeout_s=20)

    def bus_count(self) -> int:
        # everything published so far on the complaints topic
        import sqlite3

        with sqlite3.connect(self.bus.folder / "cityops.complaints.db") as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])

    def close(self) -> None:
        self.ingest.close()
        self.bus.close()
        self.store.close()


@pytest.fixture
def world(district: District, tmp_path: Path):
    w = World(district, tmp_path)
    yield w
    w.close()


def test_the_harbin_case_to_the_minute_is_a_complete_ordered_trace(world: World) -> None:
    # 14:09 reported -> 14:15 accepted -> 14:25 on site -> 14:33 handled -> 14:48 rated 5
    code = world.new("草坪上有人乱扔垃圾，纸屑到处都是", category=None)
    for minutes, step in ((6, Step.ACCEPT), (10, Step.DISPATCH), (8, Step.HANDLE), (15, Step.RATE), (1, Step.CLOSE)):
        world.clock.advance(minutes=minutes)
        world.do(code, step, rating=5)
    trace = world.life.trace(code)
    assert [e.type for e in trace] == [T.CREATED, T.ACCEPTED, T.DISPATCHED, T.HANDLED, T.RATED, T.CLOSED]
    assert [e.ts for e in trace] == sorted(e.ts for e in trace)
    assert all(e.actor for e in trace)
    world.ingest_all()
    stored = world.store.complaint_trace(code)
    assert [e.id for e in stored] == [e.id for e in trace]  # what the store folds is the same trace
    state = world.store.complaint(code)
    assert state is not None and state.state == "closed" and state.rating == 5
    assert not state.closed_by_silence and state.category == "litter"
    assert (state.handled_at - state.created_at) == timedelta(minutes=24)


@pytest.mark.parametrize("phase", list(Phase))
def test_every_illegal_step_is_refused_naming_code_state_and_step(world: World, phase: Phase) -> None:
    code = world.to_phase(phase)
    before = world.life.trace(code)
    world.clock.advance(minutes=1)
    for step in Step:
        if step in ALLOWED[phase] or step is Step.OVERDUE:
            continue
        with pytest.raises(TransitionError) as err:
            world.do(code, step)
        message = str(err.value)
        assert code in message and phase.value in message and f"cannot {step.value}" in message
    assert world.life.trace(code) == before  # nothing was published


def test_a_complaint_cannot_close_before_its_rating_except_by_silence(world: World) -> None:
    code = world.to_phase(Phase.HANDLED)
    with pytest.raises(TransitionError, match="not rated yet"):
        world.life.close(code)
    world.clock.advance(hours=71)
    with pytest.raises(TransitionError, match="by silence from"):
        world.life.close(code)
    world.clock.advance(hours=1, minutes=1)
    event = world.life.close(code, actor="system")
    assert "silence" in event.note
    state = world.life.state(code)
    assert state.state == "closed" and state.closed_by_silence and state.rating is None


def test_ratings_outside_1_to_5_unknown_departments_and_codes_are_refused(world: World) -> None:
    code = world.to_phase(Phase.HANDLED)
    for bad in (0, 6, -1):
        with pytest.raises(TransitionError, match="a rating is 1 to 5"):
            world.life.rate(code, bad)
    with pytest.raises(ValueError, match="unknown department"):
        world.life.redispatch(world.to_phase(Phase.DISPATCHED), "PF-NOPE")
    with pytest.raises(UnknownComplaint, match="PF-20261121-999999"):
        world.life.accept("PF-20261121-999999")


def test_second_dispatch_keeps_the_whole_history(world: World) -> None:
    code = world.to_phase(Phase.DISPATCHED)
    world.clock.advance(minutes=30)
    world.life.redispatch(code, "PF-JTJ", actor="PF-CGJ", note="非本部门职责")  # refused: sent elsewhere
    world.clock.advance(hours=2)
    world.life.handle(code, actor="PF-JTJ")
    world.clock.advance(minutes=20)
    world.life.rate(code, 2)
    rated_3 = world.to_phase(Phase.RATED, rating=3)
    with pytest.raises(TransitionError, match="needs a rating of 1-2"):
        world.life.redispatch(rated_3, "PF-CGJ")
    world.clock.advance(minutes=10)
    world.life.redispatch(code, "PF-CGJ", note="评价不满意，二次派单")  # second dispatch, back
    world.clock.advance(hours=3)
    world.life.handle(code, actor="PF-CGJ")
    world.clock.advance(minutes=30)
    world.life.rate(code, 4)
    world.clock.advance(minutes=1)
    world.life.close(code)
    trace = world.life.trace(code)
    assert [e.type for e in trace] == [T.CREATED, T.ACCEPTED, T.DISPATCHED, T.REDISPATCHED, T.HANDLED,
                                       T.RATED, T.REDISPATCHED, T.HANDLED, T.RATED, T.CLOSED]
    assert [e.department for e in trace if e.type in (T.DISPATCHED, T.REDISPATCHED)] == \
        ["PF-CGJ", "PF-JTJ", "PF-CGJ"]
    assert [e.rating for e in trace if e.type == T.RATED] == [2, 4]
    world.ingest_all()
    state = world.store.complaint(code)
    assert state is not None and state.redispatch_count == 2 and state.rating == 4
    assert state.department == "PF-CGJ" and state.state == "closed"
    assert len(world.store.complaint_trace(code)) == 10


# ---------------------------------------------------------------- SLA through the consumer


class Collector:
    def __init__(self) -> None:
        self.records: list = []

    def publish(self, record) -> None:
        self.records.append(record)


def _created(district: District, code: str, category: str, at: datetime) -> ComplaintEvent:
    kind = district.complaint_type(category)
    grid = district.community_grids()[3]
    return ComplaintEvent(code=code, ts=at, type=T.CREATED, text=kind.name_zh, category=category,
                          level=kind.level, grid_id=grid.id, lat=grid.centroid[0], lon=grid.centroid[1],
                          due_at=at + timedelta(hours=kind.time_limit_hours),
                          department=district.department_for(category, grid.id).id)


def test_sla_notifies_flat_warns_marks_overdue_and_closes_by_silence(district: District) -> None:
    clock = Clock(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
    out = Collector()
    gov = Governance(district, out, clock=clock)
    gas = _created(district, "PF-20261121-000001", "gas_leak", clock.now)  # level 1, 1 h limit
    litter = _created(district, "PF-20261121-000002", "litter", clock.now)  # level 3, 24 h
    gov.handle([("cityops.complaints", gas), ("cityops.complaints", litter)])
    notices = {a.complaint_code: a for a in out.records if isinstance(a, Alert)}
    assert notices[gas.code].kind == AlertKind.COMPLAINT_NOTICE
    assert notices[gas.code].recipients == ["PF-ZJJ", "PF-JCJ", LEADERS]  # all at once, leaders too
    assert notices[litter.code].recipients == ["PF-CGJ", "PF-JCJ"]
    out.records.clear()

    clock.advance(minutes=46)  # 75% of the gas leak's hour: an early warning, not yet overdue
    gov.tick()
    assert [(r.kind, r.complaint_code) for r in out.records] == [(AlertKind.OVERDUE_WARNING, gas.code)]
    out.records.clear()
    clock.advance(minutes=15)
    gov.tick()
    overdue = [r for r in out.records if isinstance(r, ComplaintEvent)]
    alerts = [r for r in out.records if isinstance(r, Alert)]
    assert [(e.type, e.code, e.ts) for e in overdue] == [(T.OVERDUE, gas.code, gas.due_at)]
    assert alerts[0].kind == AlertKind.OVERDUE and LEADERS in alerts[0].recipients
    gov.handle([("cityops.complaints", overdue[0])])  # the overdue event comes back on the bus
    assert gov.measures.grid_levels[(gas.grid_id, 1)][1] == 1  # one open overdue complaint
    out.records.clear()
    gov.tick()
    assert out.records == []  # nothing is raised twice

    # the litter complaint is handled and never rated: closed by silence after 72 h
    steps = [ComplaintEvent(code=litter.code, ts=clock.now, type=T.ACCEPTED),
             ComplaintEvent(code=litter.code, ts=clock.now, type=T.DISPATCHED, department="PF-CGJ"),
             ComplaintEvent(code=litter.code, ts=clock.now + timedelta(minutes=1), type=T.HANDLED)]
    gov.handle([("cityops.complaints", e) for e in steps])
    clock.advance(hours=72)
    gov.tick()
    assert not [r for r in out.records if isinstance(r, ComplaintEvent)]  # the grace: not yet
    clock.advance(minutes=15)
    gov.tick()
    closes = [r for r in out.records if isinstance(r, ComplaintEvent) and r.type == T.CLOSED]
    assert len(closes) == 1 and "silence" in closes[0].note
    state = fold([litter, *steps, closes[0]])
    assert state is not None and state.closed_by_silence


def test_catching_up_on_history_does_not_declare_handled_complaints_overdue(district: District) -> None:
    """Replaying last month: the stream's time, not the wall clock, decides what is late."""
    clock = Clock(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
    out = Collector()
    gov = Governance(district, out, clock=clock)
    then = clock.now - timedelta(days=30)
    gas = _created(district, "PF-20261022-000001", "gas_leak", then)
    gov.handle([("cityops.complaints", gas)])
    handled = [ComplaintEvent(code=gas.code, ts=then + timedelta(minutes=5), type=T.ACCEPTED),
               ComplaintEvent(code=gas.code, ts=then + timedelta(minutes=9), type=T.DISPATCHED,
                              department="PF-ZJJ"),
               ComplaintEvent(code=gas.code, ts=then + timedelta(minutes=40), type=T.HANDLED)]
    gov.handle([("cityops.complaints", e) for e in handled])
    assert not [r for r in out.records if isinstance(r, ComplaintEvent | Alert)]

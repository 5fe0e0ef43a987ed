"""A realistic stream of residents' complaints for a district, published on the bus.

What makes it realistic (every figure is a `SimulationProfile` field):
- arrivals follow the hour of day (quiet nights, morning and evening peaks) and the
  weekday, as a Poisson process: about 550 a day, ~200k a year, for Pingfang;
- the type mix follows the season: each type weighs `peak_factor` times more in its
  `peak_months` (heating failures in a Harbin winter, litter and noise in summer);
- a complaint lies at a uniformly random point of a community grid chosen in
  proportion to its people; department and due time come from the taxonomy;
- each department has its own pace and manner (fixed by the seed), so rankings differ;
- its life: accepted within minutes (slower at night), dispatched, sometimes sent to the
  wrong department and redispatched, handled in a lognormal share of the time limit
  (some late, and late ones supervised), rated 1-5 lower when handling was slow, a
  second dispatch after some 1-2 ratings, and a few never rated, closed by silence.

Two modes. `backfill(days)`: history at full speed with past timestamps, day by day,
each day from its own seed, so re-running it republishes the same events (same ids;
the store ignores them). `run_live(speed)`: real time, with arrivals `speed` times
denser and every duration `speed` times shorter (due times too, so late ones appear).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from analytics.complaint_codes import DEFAULT_TIMEZONE, CodeAllocator, StoreCodes
from streams.records import ComplaintEvent, ComplaintSource
from streams.records import ComplaintEventType as T

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("5b0c1c1e-6f0e-4d7e-9a4e-2f1d3c0c0a11")

HOURLY = (0.25, 0.15, 0.10, 0.10, 0.12, 0.25, 0.60, 1.10, 1.70, 1.90, 1.70, 1.40,
          1.10, 1.10, 1.30, 1.30, 1.40, 1.60, 1.80, 1.90, 1.60, 1.10, 0.70, 0.40)
"""Relative arrivals by local hour: night trough, 9:00 and 19:00 peaks (normalised on use)."""

LEVEL_WEIGHT = {1: 0.15, 2: 0.6, 3: 1.0, 4: 0.7, 5: 0.5}
"""Relative frequency of a type by its level (1 = most urgent = rarest)."""

SOURCES = ((ComplaintSource.APP, 0.5), (ComplaintSource.HOTLINE, 0.25),
           (ComplaintSource.OBSERVER, 0.17), (ComplaintSource.GRID_WORKER, 0.08))

TEMPLATES = (
    "{place}{kw}，{name}，希望尽快处理。",
    "{place}附近{kw}好几天了，{name}问题一直没人管。",
    "反映{place}{name}：{kw}，影响居民生活。",
    "{place}有{kw}的情况，请相关部门来看看。",
    "{name}：{place}{kw}，麻烦尽快派人处理，谢谢！",
)


class Publisher(Protocol):
    """Where events go: a `streams.bus.Bus`, or anything with `publish(record)`."""

    def publish(self, record: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class SimulationProfile:
    complaints_per_day: float = 550.0
    hourly: tuple[float, ...] = HOURLY
    weekend_factor: float = 0.85
    peak_factor: float = 4.0
    accept_minutes: float = 5.0  # median, daytime; three times longer at night
    dispatch_minutes: float = 8.0  # median after acceptance
    handling_share: float = 0.35  # median handling time as a share of the time limit
    handling_spread: float = 0.55  # lognormal sigma of that share
    wrong_department_share: float = 0.06  # dispatched wrong first, then redispatched
    spot_check_share: float = 0.05  # on-time complaints the supervision bureau checks anyway
    rating_minutes: float = 40.0  # median delay from handled to the reporter's rating
    unrated_share: float = 0.08  # never rated: closed by silence
    silence_hours: float = 72.0
    second_dispatch_share: float = 0.5  # of ratings 1-2, sent back for a second handling
    type_boost: tuple[tuple[str, float], ...] = (
        ("heating_cold", 3.0), ("heating_outage", 2.0), ("litter", 1.5), ("noise", 1.5),
        ("garbage_pileup", 1.3),
    )
    """Types more common than their level says (Harbin's 12345 hotline: heating first in winter)."""


@dataclass(frozen=True, slots=True)
class DepartmentManner:
    """How one department works: handling pace (x the profile's share) and rating bias."""

    pace: float
    rating_bias: float


@dataclass(slots=True)
class SimulatedComplaint:
    """One complaint's whole life as planned; `events` are in time order."""

    code: str
    created_at: datetime
    category: str
    grid_id: str
    events: list[ComplaintEvent] = field(default_factory=list)


class ComplaintSimulator:
    """Plans complaints for a district and publishes their events on `bus`."""

    def __init__(
        self,
        district: Any,
        store: Any | None,
        bus: Publisher | None,
        *,
        seed: int = 7,
        codes: CodeAllocator | None = None,
        profile: SimulationProfile | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.district = district
        self.bus = bus
        self.seed = seed
        self.profile = profile or SimulationProfile()
        self.tz = tz or getattr(district, "timezone", None) or DEFAULT_TIMEZONE
        if codes is None:
            if store is None:
                raise ValueError("the simulator needs a store (or a code allocator) for complaint codes")
            codes = StoreCodes(store, district.code_prefix, self.tz)
        self.codes = codes
        self.grids = list(district.community_grids())
        if not self.grids:
            raise ValueError(f"district {district.id!r} has no community grids to place complaints in")
        self._grid_odds = list(itertools.accumulate(max(g.people, 1) for g in self.grids))
        self.types = list(district.complaint_types)
        departments = list(district.departments)
        self.supervisor = next((d.id for d in departments if "supervision" in d.name_en.lower()),
                               "supervision")
        self.handling_departments = [d.id for d in departments if d.id != self.supervisor]
        self.manners = {d.id: self._manner(d.id) for d in departments}
        total = sum(self.profile.hourly)
        self.hourly = [h * 24 / total for h in self.profile.hourly]
        self._type_odds = {m: list(itertools.accumulate(self.type_weights(m))) for m in range(1, 13)}

    # ------------------------------------------------------------------ planning

    def _manner(self, dept_id: str) -> DepartmentManner:
        rng = random.Random(f"{self.seed}:department:{dept_id}")
        return DepartmentManner(pace=rng.uniform(0.55, 1.7), rating_bias=rng.uniform(-0.45, 0.3))

    def rate_per_hour(self, at: datetime) -> float:
        """Expected arrivals per hour at this moment (hour of day and weekday)."""
        local = at.astimezone(self.tz)
        weekend = self.profile.weekend_factor if local.weekday() >= 5 else 1.0
        return self.profile.complaints_per_day / 24 * self.hourly[local.hour] * weekend

    def speed_for(self, per_second: float, at: datetime) -> float:
        """The live speed that creates about `per_second` complaints a real second at `at`
        (load tests ask for a rate, not a speed; the hour of day still shapes it after)."""
        return per_second * 3600 / max(self.rate_per_hour(at), 1e-9)

    def type_weights(self, month: int) -> list[float]:
        """Relative odds of each type in a month: level, season peak, known boosts."""
        boost = dict(self.profile.type_boost)
        return [LEVEL_WEIGHT.get(t.level, 0.5) * boost.get(t.code, 1.0)
                * (self.profile.peak_factor if month in t.peak_months else 1.0)
                for t in self.types]

    def arrivals(self, start: datetime, end: datetime, rng: random.Random, density: float = 1.0
                 ) -> list[datetime]:
        """Poisson arrivals in [start, end), hour by hour, `density` times the real rate."""
        times: list[datetime] = []
        hour_start = start
        while hour_start < end:
            local = hour_start.astimezone(self.tz)
            hour_end = min(end, hour_start + timedelta(minutes=60 - local.minute, seconds=-local.second,
                                                       microseconds=-local.microsecond))
            rate_per_s = self.rate_per_hour(hour_start) * density / 3600
            t = hour_start + timedelta(seconds=rng.expovariate(rate_per_s)) if rate_per_s > 0 else end
            while t < hour_end:
                times.append(t)
                t += timedelta(seconds=rng.expovariate(rate_per_s))
            hour_start = hour_end
        return times

    def plan_day(self, day: date) -> list[SimulatedComplaint]:
        """One local day of complaints with their whole lives (same day and seed -> same plan)."""
        rng = random.Random(f"{self.seed}:day:{day.isoformat()}")
        start = datetime(day.year, day.month, day.day, tzinfo=self.tz).astimezone(UTC)
        end = (datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(days=1)).astimezone(UTC)
        times = self.arrivals(start, end, rng)
        codes = self.codes.allocate(start, len(times)) if times else []
        return [
            self.plan_complaint(code, at, rng, scale=1.0, id_key=f"sim:{self.seed}:{day.isoformat()}:{i}")
            for i, (code, at) in enumerate(zip(codes, times, strict=True))
        ]

    def plan_complaint(self, code: str, created_at: datetime, rng: random.Random, *,
                       scale: float = 1.0, id_key: str | None = None) -> SimulatedComplaint:
        """A complaint created at `created_at` and its lifecycle; durations x `scale`."""
        p = self.profile
        local = created_at.astimezone(self.tz)
        kind = rng.choices(self.types, cum_weights=self._type_odds[local.month])[0]
        grid = rng.choices(self.grids, cum_weights=self._grid_odds)[0]
        lat, lon = self.district.random_point(grid.id, rng)
        department = _department_for(self.district, kind, grid.id)
        limit = timedelta(hours=kind.time_limit_hours * scale)
        due_at = created_at + limit
        source = rng.choices([s for s, _ in SOURCES], weights=[w for _, w in SOURCES])[0]
        keyword = rng.choice(kind.keywords) if kind.keywords else kind.name_zh
        text = rng.choice(TEMPLATES).format(place=grid.name, kw=keyword, name=kind.name_zh)
        sim = SimulatedComplaint(code=code, created_at=created_at, category=kind.code, grid_id=grid.id)
        key = id_key or code

        def minutes(median: float, sigma: float = 0.6) -> timedelta:
            return timedelta(minutes=median * math.exp(rng.gauss(0, sigma)) * scale)

        def add(ts: datetime, kind_: T, actor: str, **fields: Any) -> None:
            sim.events.append(ComplaintEvent(
                id=uuid.uuid5(EVENT_NAMESPACE, f"{key}:{len(sim.events)}").hex,
                code=code, ts=ts, type=kind_, actor=actor, **fields))

        add(created_at, T.CREATED, source.value, text=text, category=kind.code, level=kind.level,
            lat=round(lat, 6), lon=round(lon, 6), grid_id=grid.id, due_at=due_at, source=source,
            reporter=_masked_phone(rng), department=department)
        night = local.hour >= 22 or local.hour < 7
        t = created_at + minutes(p.accept_minutes * (3 if night else 1))
        add(t, T.ACCEPTED, "command-center")
        t += minutes(p.dispatch_minutes)
        if rng.random() < p.wrong_department_share and len(self.handling_departments) > 1:
            wrong = rng.choice([d for d in self.handling_departments if d != department])
            add(t, T.DISPATCHED, "command-center", department=wrong)
            t += minutes(90, 0.5)
            add(t, T.REDISPATCHED, wrong, department=department, note="非本部门职责，退回重新派单")
        else:
            add(t, T.DISPATCHED, "command-center", department=department)
        manner = self.manners.get(department, DepartmentManner(1.0, 0.0))
        share = p.handling_share * manner.pace * math.exp(rng.gauss(0, p.handling_spread))
        handled = max(t + minutes(5, 0.3), created_at + limit * share)
        if handled > due_at:  # the supervision bureau chases it between due time and handling
            add(due_at + (handled - due_at) / 2, T.SUPERVISED, self.supervisor, note="超期督办")
        elif rng.random() < p.spot_check_share:
            add(t + (handled - t) / 2, T.SUPERVISED, self.supervisor, note="抽查督办")
        add(handled, T.HANDLED, department, note="已处置")
        self._rate_and_close(sim, add, rng, handled, (handled - created_at) / limit, manner, minutes,
                             scale, limit, department, second=False)
        sim.events.sort(key=lambda e: e.ts)
        return sim

    def _rate_and_close(self, sim: SimulatedComplaint, add: Callable[..., None], rng: random.Random,
                        handled: datetime, share: float, manner: DepartmentManner,
                        minutes: Callable[..., timedelta], scale: float, limit: timedelta,
                        department: str, second: bool) -> None:
        p = self.profile
        if rng.random() < p.unrated_share:
            closed = handled + timedelta(hours=p.silence_hours * scale)
            add(closed, T.CLOSED, "system", note=f"{p.silence_hours:g} 小时未评价，默认办结")
            return
        rating = _rating(share, manner.rating_bias + (0.8 if second else 0.0), rng)
        rated = handled + minutes(p.rating_minutes, 0.8)
        add(rated, T.RATED, "reporter", rating=rating, note=RATING_ZH[rating])
        if rating <= 2 and not second and rng.random() < p.second_dispatch_share:
            again = rated + minutes(15)
            add(again, T.REDISPATCHED, "command-center", department=department, note="评价不满意，二次派单")
            handled2 = again + limit * 0.3 * math.exp(rng.gauss(0, 0.4))
            add(handled2, T.HANDLED, department, note="二次处置")
            self._rate_and_close(sim, add, rng, handled2, share, manner, minutes, scale, limit,
                                 department, second=True)
            return
        add(rated + minutes(1, 0.2), T.CLOSED, "system", note="已评价，办结")

    # ------------------------------------------------------------------ publishing

    def backfill(self, days: int, now: datetime | None = None) -> int:
        """Publish `days` local days of history up to `now`; returns complaints created.

        Events are published in time order; those still in the future at `now` are not
        (those complaints stay open, as real ones would).
        """
        now = now or datetime.now(UTC)
        today = now.astimezone(self.tz).date()
        pending: list[tuple[datetime, int, ComplaintEvent]] = []
        counter = 0
        created = 0
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            for sim in self.plan_day(day):
                if sim.created_at >= now:
                    continue
                created += 1
                for e in sim.events:
                    if e.ts < now:
                        counter += 1
                        heapq.heappush(pending, (e.ts, counter, e))
            day_end = (datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(days=1)).astimezone(UTC)
            self._publish_until(pending, min(day_end, now))
            log.info("backfill: %s done, %d complaints so far", day, created)
        self._publish_until(pending, now + timedelta(seconds=1))
        return created

    def _publish_until(self, pending: list[tuple[datetime, int, ComplaintEvent]], until: datetime) -> None:
        assert self.bus is not None, "no bus to publish on"
        while pending and pending[0][0] < until:
            self.bus.publish(heapq.heappop(pending)[2])

    def live_plan(self, start: datetime, speed: float) -> Iterator[SimulatedComplaint]:
        """Endless complaints from `start`, arrivals `speed` x denser, lives `speed` x shorter."""
        rng = random.Random(f"{self.seed}:live:{start.isoformat()}")
        t = start
        while True:
            window_end = t + timedelta(minutes=1)
            for at in self.arrivals(t, window_end, rng, density=speed):
                code = self.codes.allocate(at)[0]
                yield self.plan_complaint(code, at, rng, scale=1 / speed)
            t = window_end

    def run_live(self, speed: float = 60.0, stop: threading.Event | None = None,
                 max_complaints: int | None = None, clock: Callable[[], datetime] | None = None) -> int:
        """Publish in real time until `stop` is set (or `max_complaints` have been created and
        all their events published); returns complaints created."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        assert self.bus is not None, "no bus to publish on"
        stop = stop or threading.Event()
        clock = clock or (lambda: datetime.now(UTC))
        start = clock()
        plan = self.live_plan(start, speed)
        first = next(plan)  # the first complaint comes at once, so a demo shows flow at start
        first_shift = start - first.created_at
        upcoming: SimulatedComplaint | None = _shifted(first, first_shift)
        pending: list[tuple[datetime, int, ComplaintEvent]] = []
        counter = 0
        created = 0
        log.info("live simulation at %gx (about %.1f complaints a minute now)",
                 speed, self.rate_per_hour(start) * speed / 60)
        while not stop.is_set():
            now = clock()
            while upcoming is not None and upcoming.created_at <= now:
                for e in upcoming.events:
                    counter += 1
                    heapq.heappush(pending, (e.ts, counter, e))
                created += 1
                upcoming = None if max_complaints is not None and created >= max_complaints else next(plan)
            while pending and pending[0][0] <= now:
                self.bus.publish(heapq.heappop(pending)[2])
            if upcoming is None and not pending:
                break
            wake = min([x for x in (upcoming.created_at if upcoming else None,
                                    pending[0][0] if pending else None) if x is not None])
            stop.wait(min(max((wake - now).total_seconds(), 0.0), 1.0))
        return created


RATING_ZH = {1: "极差", 2: "不满意", 3: "一般", 4: "满意", 5: "很满意"}


def _rating(share: float, bias: float, rng: random.Random) -> int:
    """1-5 from how much of the time limit handling took: fast ~4.5, at the limit ~3.7, late lower."""
    mean = 4.75 - 1.0 * min(share, 1.0) - 1.6 * max(0.0, share - 1.0) + bias
    return max(1, min(5, round(mean + rng.gauss(0, 0.7))))


def _department_for(district: Any, kind: Any, grid_id: str) -> str:
    finder = getattr(district, "department_for", None)
    return finder(kind.code, grid_id).id if finder else kind.department_id


def _masked_phone(rng: random.Random) -> str:
    prefix = rng.choice(("130", "133", "135", "138", "139", "150", "158", "177", "186", "189"))
    return f"{prefix}****{rng.randrange(10_000):04d}"


def _shifted(sim: SimulatedComplaint, by: timedelta) -> SimulatedComplaint:
    """The same complaint moved in time (used to start the live flow at once)."""
    events = [e.model_copy(update={"ts": e.ts + by, **({"due_at": e.due_at + by} if e.due_at else {})})
              for e in sim.events]
    return SimulatedComplaint(sim.code, sim.created_at + by, sim.category, sim.grid_id, events)


def summarise(complaints: Sequence[SimulatedComplaint]) -> dict[str, int]:
    """Event counts by type (for logs and quick looks)."""
    counts: dict[str, int] = {}
    for sim in complaints:
        for e in sim.events:
            counts[e.type.value] = counts.get(e.type.value, 0) + 1
    return counts

"""A store with a known story, for the page tests, the screenshots and the dashboard bench.

Everything is written through `Store.write` (the same path the analytics consumers use)
and the governance measures through `measures_store.save`, so the pages read what they
would read in production. The story analysts search for:

- plate 黑A12345 passes PF-C001 -> PF-C005 -> PF-C009 -> PF-C014, 08:00-08:09 local time
  today, its snapshots on disk, one stored trajectory; 黑A1234S (an OCR look-alike) once;
- 黑B77777 rides 3 s behind it at all four cameras (co-travel);
- 黑C88888 is seen at two far cameras 2 minutes apart (a cloned-plate alert with evidence);
- the watch-listed person zhang_mou passes PF-C022 12 minutes ago (a watch-list alert).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.camera_graph import CameraGraph
from analytics.complaint_fold import fold
from analytics.measures import Measures
from analytics.measures_store import save
from analytics.store import Store
from analytics.trajectories import TrajectoryBuilder
from streams.config import Settings
from streams.district import District, load_district
from streams.records import (
    Alert,
    AlertKind,
    CameraStatus,
    ComplaintEvent,
    ComplaintEventType,
    ComplaintSource,
    GridEvent,
    GridEventKind,
    GridStatusLevel,
    Severity,
    Sighting,
    SightingKind,
)

ROUTE = ("PF-C001", "PF-C005", "PF-C009", "PF-C014")
PLATE = "黑A12345"
COMPANION = "黑B77777"
CLONE = "黑C88888"
WATCHED = "zhang_mou"
T = ComplaintEventType


@dataclass(frozen=True, slots=True)
class Seeded:
    route_start: datetime
    complaints: int
    open_complaints: int
    sightings: int


def _snapshot(home: Path, camera_id: str, sighting_id: str, text: str, ts: datetime) -> str:
    import cv2
    import numpy as np

    folder = home / "snapshots" / camera_id / ts.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    image = np.full((90, 160, 3), (60, 45, 30), np.uint8)
    cv2.rectangle(image, (30, 40), (130, 70), (200, 120, 40), -1)
    cv2.putText(image, text, (36, 62), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    path = folder / f"{sighting_id}.jpg"
    cv2.imwrite(str(path), image)
    return str(path.relative_to(home))


def _sighting(district: District, camera_id: str, ts: datetime, identity: str, home: Path | None = None,
              kind: SightingKind = SightingKind.PLATE, confidence: float = 0.93) -> Sighting:
    s = Sighting(camera_id=camera_id, ts=ts, kind=kind, identity=identity, confidence=confidence,
                 bbox=(400, 300, 560, 350), plate_color="blue" if kind is SightingKind.PLATE else None)
    if home is not None:
        ascii_text = identity[1:] if not identity.isascii() else identity
        s = s.model_copy(update={"snapshot": _snapshot(home, camera_id, s.id, ascii_text, ts)})
    return s


def _complaints(district: District, now: datetime, rng: random.Random, total: int, open_count: int
                ) -> list[ComplaintEvent]:
    """`total` complaints over 30 days; the newest `open_count` still open, the rest closed."""
    prefix = district.code_prefix
    grids = district.community_grids()
    types = district.complaint_types
    events: list[ComplaintEvent] = []
    for i in range(total):
        # the open ones are the newest: spread over the last 3 days; the rest over 30 days
        if i < open_count:
            created = now - timedelta(minutes=3 + rng.random() * 3 * 24 * 60 * (i / max(open_count, 1)))
        else:
            created = now - timedelta(days=3 + rng.random() * 27)
        ctype = rng.choice(types)
        grid = rng.choice(grids)
        dept = district.department_for(ctype.code, grid.id)
        local = created.astimezone(district.timezone)
        code = f"{prefix}-{local:%Y%m%d}-{i:06d}"
        lat, lon = district.random_point(grid.id, rng)
        events.append(ComplaintEvent(
            code=code, ts=created, type=T.CREATED, text=ctype.name_zh, category=ctype.code, level=ctype.level,
            lat=lat, lon=lon, grid_id=grid.id, due_at=created + timedelta(hours=ctype.time_limit_hours),
            source=ComplaintSource.SIMULATOR, department=dept.id))
        events.append(ComplaintEvent(code=code, ts=created + timedelta(minutes=4), type=T.ACCEPTED))
        events.append(ComplaintEvent(code=code, ts=created + timedelta(minutes=6), type=T.DISPATCHED,
                                     department=dept.id))
        if i >= open_count:
            handled = created + timedelta(hours=rng.uniform(0.3, ctype.time_limit_hours * 1.3))
            events.append(ComplaintEvent(code=code, ts=handled, type=T.HANDLED, actor=dept.id))
            rating = min(5, max(1, round(rng.gauss(4.2 if zlib.crc32(dept.id.encode()) % 3 else 3.4, 0.8))))
            events.append(ComplaintEvent(code=code, ts=handled + timedelta(minutes=30), type=T.RATED,
                                         rating=rating))
            events.append(ComplaintEvent(code=code, ts=handled + timedelta(minutes=31), type=T.CLOSED))
    return events


def seed(settings: Settings, *, complaints: int = 400, open_complaints: int = 120, extra_sightings: int = 600,
         seed_value: int = 8) -> Seeded:
    """Fill the store at `settings` with the story above plus background traffic, as of now."""
    settings.ensure()
    rng = random.Random(seed_value)
    district = load_district(settings.district_file)
    now = datetime.now(UTC)
    local_today = now.astimezone(district.timezone).replace(hour=8, minute=0, second=0, microsecond=0)
    route_start = local_today.astimezone(UTC)
    if route_start > now - timedelta(minutes=20):  # before 08:20 local: use yesterday's morning
        route_start -= timedelta(days=1)
    home = settings.home
    route = [_sighting(district, cam, route_start + timedelta(minutes=3 * i), PLATE, home)
             for i, cam in enumerate(ROUTE)]
    companion = [_sighting(district, cam, route_start + timedelta(minutes=3 * i, seconds=3), COMPANION, home)
                 for i, cam in enumerate(ROUTE)]
    lookalike = [_sighting(district, "PF-C020", route_start + timedelta(hours=2), "黑A1234S", home, confidence=0.7)]
    watched = [_sighting(district, "PF-C022", now - timedelta(minutes=12), WATCHED, kind=SightingKind.FACE,
                         confidence=0.88)]
    clone = [_sighting(district, "PF-C003", now - timedelta(minutes=40), CLONE, home),
             _sighting(district, "PF-C140", now - timedelta(minutes=38), CLONE, home)]
    cams = [c.id for c in district.cameras]
    quiet = [c for c in cams if c not in ROUTE]  # background traffic never muddles the story
    background: list[Sighting] = []
    live: list[list[Sighting]] = []
    for i in range(extra_sightings):
        plate = f"黑{'ABCDEFG'[i % 7]}{10000 + rng.randrange(89999):05d}"
        ts = now - timedelta(seconds=rng.random() * 6 * 3600)
        background.append(_sighting(district, rng.choice(quiet), ts, plate))
    for j in range(25):  # vehicles moving right now: the wall's trails
        start = now - timedelta(minutes=rng.uniform(1, 12))
        first = rng.choice(district.cameras)
        near = sorted(district.cameras, key=lambda c: (c.lat - first.lat) ** 2 + (c.lon - first.lon) ** 2)
        trip = [_sighting(district, near[2 * k].id, start + timedelta(seconds=70 * k), f"黑L{j:05d}")
                for k in range(rng.randint(2, 4)) if start + timedelta(seconds=70 * k) <= now]
        if len(trip) >= 2:
            live.append(trip)
    sightings = route + companion + lookalike + watched + clone + background + [s for trip in live for s in trip]
    statuses = [CameraStatus(camera_id=c, ts=now, online=i % 37 != 5, fps_in=12.5 if i % 37 != 5 else 0.0,
                             error=None if i % 37 != 5 else "connection refused")
                for i, c in enumerate(cams)]
    community = district.community_grids()
    grid_events = [GridEvent(ts=now, grid_id=g.id, kind=GridEventKind.STATUS,
                             status=GridStatusLevel.ALARM if i % 29 == 3 else
                             GridStatusLevel.ATTENTION if i % 11 == 2 else GridStatusLevel.NORMAL)
                   for i, g in enumerate(community)]
    alerts = [
        Alert(ts=now - timedelta(minutes=38), kind=AlertKind.CLONED_PLATE, severity=Severity.CRITICAL,
              title=f"疑似套牌 {CLONE}: PF-C003 与 PF-C140 两分钟内相距过远", identity=CLONE, camera_id="PF-C140",
              evidence=[s.id for s in clone]),
        Alert(ts=now - timedelta(minutes=12), kind=AlertKind.WATCHLIST, severity=Severity.CRITICAL,
              title="布控人员 张某 出现在 PF-C022", identity=WATCHED, camera_id="PF-C022",
              evidence=[watched[0].id]),
        Alert(ts=now - timedelta(minutes=25), kind=AlertKind.CO_TRAVEL, severity=Severity.WARNING,
              title=f"{COMPANION} 与 {PLATE} 同行 4 个点位", identity=PLATE, camera_id=ROUTE[2],
              evidence=[s.id for s in route + companion]),
        Alert(ts=now - timedelta(minutes=5), kind=AlertKind.OVERDUE, severity=Severity.WARNING,
              title="诉求超期未处置: 路灯不亮", grid_id=community[3].id),
        Alert(ts=now - timedelta(hours=30), kind=AlertKind.CAMERA_OFFLINE, severity=Severity.WARNING,
              title="摄像头离线 PF-C006", camera_id="PF-C006"),
    ]
    events = _complaints(district, now, rng, complaints, open_complaints)
    store = Store.open(settings.store_url)
    try:
        store.write(sightings)
        # trips and the plate index (`identities`) as the trajectory consumer makes them
        TrajectoryBuilder(store, CameraGraph.from_district(district)).add(sightings)
        store.write(statuses)
        store.write(grid_events)
        store.write(alerts)
        for k in range(0, len(events), 5000):
            store.write(events[k:k + 5000])
        measures = Measures(district.timezone)
        by_code: dict[str, list[ComplaintEvent]] = {}
        for e in events:
            by_code.setdefault(e.code, []).append(e)
        for evs in by_code.values():
            measures.observe(None, fold(evs))
        save(store, measures, everything=True)
    finally:
        store.close()
    return Seeded(route_start=route_start, complaints=complaints, open_complaints=open_complaints,
                  sightings=len(sightings))

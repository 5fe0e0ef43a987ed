"""Alerts raised from the sightings stream as soon as the evidence arrives.

- watch-list hit: a watched person or plate passes a camera (with why and who listed it);
- cloned plate: one plate at two cameras faster than any car drives between them (or at
  the same time in two places);
- co-travel (伴随): two identities at the same camera within `within` of each other, at
  `min_cameras` or more different cameras within `window`.

Each detector is fed sightings in batches and returns new `Alert`s; alert ids are derived
from the evidence, so a replayed batch re-raises the same ids and the store keeps one.
Watch-list and cloned-plate detection only need one identity's sightings, so they run in
the trajectory group (scaled out by partition); co-travel compares different identities
and must see every sighting, so it runs in a group of its own with one member.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.camera_graph import CameraGraph
from streams.records import Alert, AlertKind, Severity, Sighting, SightingKind
from streams.watchlist import Watchlist

DEFAULT_CLONE_KMH = 150.0
DEFAULT_COTRAVEL_WITHIN = timedelta(seconds=6)
"""A sighting is stamped at its pass's best frame, anywhere in a 4-7 s pass: a car 2-3 s
behind another can be stamped 6 s apart (the sample media's planted pair is, at PF-C004)."""
DEFAULT_COTRAVEL_CAMERAS = 4
"""Cars of one traffic-light platoon pass three crossings within seconds of each other all
the time; four different cameras is where "together" stops being chance on one road (the
sample story's convoys show it: at 3 cameras and 6 s, five unplanted pairs qualify)."""
DEFAULT_COTRAVEL_WINDOW = timedelta(hours=1)


def alert_id(kind: AlertKind, *parts: str) -> str:
    return f"{kind.value[:8]}-" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:40]


# ---------------------------------------------------------------- watch list


@dataclass(frozen=True, slots=True)
class Listing:
    reason: str
    added_by: str


class WatchlistAlerts:
    """One alert per sighting of a watched person or plate; the list is re-read when it changes."""

    def __init__(self, watchlist: Watchlist, recheck_s: float = 2.0) -> None:
        self.watchlist = watchlist
        self.recheck_s = recheck_s
        self._revision: int | None = None
        self._checked = 0.0
        self._listed: dict[tuple[str, str], Listing] = {}

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < self.recheck_s and self._revision is not None:
            return
        self._checked = time.monotonic()
        revision = self.watchlist.revision()
        if revision == self._revision:
            return
        listed = {("face", p.name): Listing(p.reason, p.added_by) for p in self.watchlist.people()}
        listed |= {("plate", p.plate): Listing(p.reason, p.added_by) for p in self.watchlist.plates()}
        self._listed, self._revision = listed, revision

    def check(self, sightings: Iterable[Sighting]) -> list[Alert]:
        self._refresh()
        alerts = []
        for s in sightings:
            listing = self._listed.get((s.kind.value, s.identity))
            if listing is None:
                continue
            what = "person" if s.kind == SightingKind.FACE else "plate"
            alerts.append(Alert(
                id=alert_id(AlertKind.WATCHLIST, s.id), ts=s.ts, kind=AlertKind.WATCHLIST,
                severity=Severity.CRITICAL,
                title=f"watch-list {what} {s.identity} at {s.camera_id}"[:200],
                detail=(f"reason: {listing.reason or '(none given)'}; listed by {listing.added_by}; "
                        f"confidence {s.confidence:.2f}"
                        + (f"; face distance {s.face_distance:.2f}" if s.face_distance is not None else "")
                        + (f"; snapshot {s.snapshot}" if s.snapshot else ""))[:2000],
                identity=s.identity, camera_id=s.camera_id, evidence=[s.id],
            ))
        return alerts


# ---------------------------------------------------------------- cloned plate


@dataclass(frozen=True, slots=True)
class _Seen:
    ts: datetime
    camera_id: str
    sighting_id: str
    confidence: float = 1.0


class ClonedPlateDetector:
    """Flags a plate seen at two cameras faster apart than `max_kmh` allows.

    Keeps each plate's sightings of the last `window`; one alert per plate per `cooldown`
    (a cloned pair keeps conflicting as both cars drive on; the first alert says it all).
    """

    def __init__(self, graph: CameraGraph, max_kmh: float = DEFAULT_CLONE_KMH,
                 window: timedelta = timedelta(hours=2), cooldown: timedelta = timedelta(hours=1)) -> None:
        self.graph = graph
        self.max_kmh = max_kmh
        self.window = window
        self.cooldown = cooldown
        self._recent: dict[str, deque[_Seen]] = {}
        self._ids: set[str] = set()  # the sighting ids in `_recent`
        self._alerted: dict[str, datetime] = {}
        self._watermark: datetime | None = None
        self._pruned_at: datetime | None = None

    def check(self, sightings: Iterable[Sighting]) -> list[Alert]:
        alerts = []
        for s in sorted((s for s in sightings if s.kind == SightingKind.PLATE), key=lambda s: s.ts):
            alert = self._one(s)
            if alert is not None:
                alerts.append(alert)
            if self._watermark is None or s.ts > self._watermark:
                self._watermark = s.ts
        self._prune()
        return alerts

    def _one(self, s: Sighting) -> Alert | None:
        recent = self._recent.setdefault(s.identity, deque())
        if s.id in self._ids:
            return None  # a replay
        worst: tuple[float, _Seen] | None = None
        for r in recent:
            if r.camera_id == s.camera_id or abs(r.ts - s.ts) > self.window:
                continue
            kmh = self.graph.implied_kmh(r.camera_id, r.ts, s.camera_id, s.ts)
            if kmh > self.max_kmh and (worst is None or kmh > worst[0]):
                worst = (kmh, r)
        recent.append(_Seen(s.ts, s.camera_id, s.id, s.confidence))
        self._ids.add(s.id)
        if worst is None:
            return None
        last = self._alerted.get(s.identity)
        if last is not None and abs(s.ts - last) < self.cooldown:
            return None
        self._alerted[s.identity] = s.ts
        kmh, r = worst
        first, second = sorted([(r.ts, r.camera_id, r.sighting_id, r.confidence),
                                (s.ts, s.camera_id, s.id, s.confidence)])
        metres = self.graph.road_m(r.camera_id, s.camera_id)
        seconds = abs((s.ts - r.ts).total_seconds())
        speed = "at the same time" if kmh == float("inf") else f"{kmh:.0f} km/h needed"
        return Alert(
            id=alert_id(AlertKind.CLONED_PLATE, first[2], second[2]), ts=s.ts,
            kind=AlertKind.CLONED_PLATE, severity=Severity.CRITICAL,
            title=f"cloned plate? {s.identity} at {first[1]} and {second[1]}"[:200],
            detail=(f"{s.identity} seen at {first[1]} {first[0].isoformat()} and at {second[1]} "
                    f"{second[0].isoformat()}: about {metres / 1000:.1f} km by road in {seconds:.0f} s "
                    f"({speed}, limit {self.max_kmh:.0f} km/h); read with confidence "
                    f"{first[3]:.2f} and {second[3]:.2f} (a misread of another plate looks the same: "
                    f"check both snapshots)"),
            identity=s.identity, camera_id=s.camera_id, evidence=[first[2], second[2]],
        )

    def _prune(self) -> None:
        if self._watermark is None:
            return
        if self._pruned_at is not None and self._watermark - self._pruned_at < self.window / 4:
            return
        self._pruned_at = self._watermark
        cutoff = self._watermark - self.window
        for plate in list(self._recent):
            recent = self._recent[plate]
            while recent and recent[0].ts < cutoff:
                self._ids.discard(recent.popleft().sighting_id)
            if not recent:
                del self._recent[plate]
        for plate, at in list(self._alerted.items()):
            if at < self._watermark - self.cooldown:
                del self._alerted[plate]


# ---------------------------------------------------------------- co-travel


@dataclass(frozen=True, slots=True)
class SharedSighting:
    """One piece of co-travel evidence: both identities at one camera, close in time."""

    camera_id: str
    ts_a: datetime
    sighting_a: str
    ts_b: datetime
    sighting_b: str


@dataclass(frozen=True, slots=True)
class CoTravelRules:
    within: timedelta = DEFAULT_COTRAVEL_WITHIN
    min_cameras: int = DEFAULT_COTRAVEL_CAMERAS
    window: timedelta = DEFAULT_COTRAVEL_WINDOW


def co_travel_groups(own: Sequence[Sighting], others: Iterable[Sighting], rules: CoTravelRules
                     ) -> dict[tuple[str, str], list[SharedSighting]]:
    """For one identity's sightings `own`, the identities met (kind, identity) at >= k cameras.

    `others` are sightings at the same cameras around the same times (any identity);
    each camera counts once per companion (its closest meeting), within `rules.window`
    of the first shared sighting.
    """
    if not own:
        return {}
    me = (own[0].kind.value, own[0].identity)
    by_camera: dict[str, list[Sighting]] = defaultdict(list)
    for s in own:
        by_camera[s.camera_id].append(s)
    meetings: dict[tuple[str, str], list[SharedSighting]] = defaultdict(list)
    for o in others:
        key = (o.kind.value, o.identity)
        if key == me:
            continue
        for s in by_camera.get(o.camera_id, ()):
            if abs(o.ts - s.ts) <= rules.within:
                meetings[key].append(SharedSighting(o.camera_id, s.ts, s.id, o.ts, o.id))
    found = {}
    for key, shared in meetings.items():
        best = _best_window(shared, rules)
        if len(best) >= rules.min_cameras:
            found[key] = best
    return found


def _best_window(shared: list[SharedSighting], rules: CoTravelRules) -> list[SharedSighting]:
    """The largest set of distinct cameras met within one `window` (one meeting per camera)."""
    shared = sorted(shared, key=lambda m: m.ts_a)
    best: list[SharedSighting] = []
    for i, first in enumerate(shared):
        cameras: dict[str, SharedSighting] = {}
        for m in shared[i:]:
            if m.ts_a - first.ts_a > rules.window:
                break
            held = cameras.get(m.camera_id)
            if held is None or abs(m.ts_a - m.ts_b) < abs(held.ts_a - held.ts_b):
                cameras[m.camera_id] = m
        if len(cameras) > len(best):
            best = sorted(cameras.values(), key=lambda m: m.ts_a)
    return best


class CoTravelDetector:
    """Streams co-travel: per camera the sightings of the last `within`, per pair the cameras shared.

    An alert is raised once per pair per `window`, when the pair reaches `min_cameras`
    different cameras; its evidence is every shared sighting (both identities' ids).
    """

    def __init__(self, rules: CoTravelRules | None = None) -> None:
        self.rules = rules or CoTravelRules()
        self._at_camera: dict[str, deque[Sighting]] = defaultdict(deque)
        self._pairs: dict[tuple[tuple[str, str], tuple[str, str]], dict[str, SharedSighting]] = {}
        self._pair_first: dict[tuple[tuple[str, str], tuple[str, str]], datetime] = {}
        self._alerted: dict[tuple[tuple[str, str], tuple[str, str]], datetime] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[tuple[datetime, str]] = deque()
        self._watermark: datetime | None = None

    def check(self, sightings: Iterable[Sighting]) -> list[Alert]:
        alerts = []
        for s in sorted(sightings, key=lambda s: s.ts):
            if s.id in self._seen:
                continue
            self._seen.add(s.id)
            self._seen_order.append((s.ts, s.id))
            alerts += self._one(s)
            if self._watermark is None or s.ts > self._watermark:
                self._watermark = s.ts
        self._prune()
        return alerts

    def _one(self, s: Sighting) -> list[Alert]:
        me = (s.kind.value, s.identity)
        here = self._at_camera[s.camera_id]
        alerts = []
        for o in here:
            other = (o.kind.value, o.identity)
            if other == me or abs(o.ts - s.ts) > self.rules.within:
                continue
            a, b = sorted([(me, s), (other, o)], key=lambda x: x[0])
            pair = (a[0], b[0])
            meeting = SharedSighting(s.camera_id, a[1].ts, a[1].id, b[1].ts, b[1].id)
            first = self._pair_first.get(pair)
            if first is None or s.ts - first > self.rules.window:
                self._pairs[pair] = {}
                self._pair_first[pair] = s.ts
            cameras = self._pairs[pair]
            cameras.setdefault(s.camera_id, meeting)
            alerted = self._alerted.get(pair)
            if len(cameras) >= self.rules.min_cameras and (
                    alerted is None or s.ts - alerted > self.rules.window):
                self._alerted[pair] = s.ts
                alerts.append(self._alert(pair, list(cameras.values()), s.ts))
        here.append(s)
        return alerts

    def _alert(self, pair: tuple[tuple[str, str], tuple[str, str]], shared: list[SharedSighting],
               ts: datetime) -> Alert:
        (_, a), (_, b) = pair
        evidence = [sid for m in shared for sid in (m.sighting_a, m.sighting_b)][:100]
        cameras = ", ".join(m.camera_id for m in shared)
        return Alert(
            id=alert_id(AlertKind.CO_TRAVEL, *sorted(evidence)), ts=ts, kind=AlertKind.CO_TRAVEL,
            severity=Severity.WARNING, title=f"{a} and {b} travel together ({len(shared)} cameras)"[:200],
            detail=(f"{a} and {b} were seen within {self.rules.within.total_seconds():.0f} s of each "
                    f"other at {len(shared)} cameras: {cameras}")[:2000],
            identity=a, camera_id=shared[-1].camera_id, evidence=evidence,
        )

    def _prune(self) -> None:
        if self._watermark is None:
            return
        recent = self._watermark - max(self.rules.within * 4, timedelta(minutes=1))
        for camera_id in list(self._at_camera):
            here = self._at_camera[camera_id]
            while here and here[0].ts < recent:
                here.popleft()
            if not here:
                del self._at_camera[camera_id]
        old = self._watermark - self.rules.window
        for pair, first in list(self._pair_first.items()):
            if first < old:
                del self._pair_first[pair]
                self._pairs.pop(pair, None)
        for pair, at in list(self._alerted.items()):
            if at < old:
                del self._alerted[pair]
        while self._seen_order and self._seen_order[0][0] < old:
            self._seen.discard(self._seen_order.popleft()[1])

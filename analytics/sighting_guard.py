"""Sightings that cannot be true are set aside before anything counts them as truth.

A camera id the district does not have, a time in the future or years back (a camera
with a dead clock battery), or a plate string no plate grammar allows: each becomes a
`DeadLetter` naming the reason, and is counted by reason. The letter's id is derived
from the sighting's id, so the ingest consumer and the trajectory consumer, which both
guard, set one bad sighting aside once, and a replay changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from streams.plate_grammar import normalize_plate
from streams.records import DeadLetter, Sighting, SightingKind, utcnow
from streams.topics import Topic

MAX_FUTURE = timedelta(minutes=5)
"""Camera clocks drift; more than this ahead of ours is a broken clock, not drift."""
PLATE_MEMORY = 1_000_000
"""Plate strings whose verdict is remembered (about a month of a district's plates)."""
MAX_AGE = timedelta(days=366)
"""Older than this is a clock reset to its factory date, not a late upload."""


class Reason:
    """The reasons, as short codes (for counts) that open every letter's text."""

    UNKNOWN_CAMERA = "unknown_camera"
    FUTURE = "future_time"
    TOO_OLD = "too_old"
    NOT_A_PLATE = "not_a_plate"
    NOT_CANONICAL = "plate_not_canonical"


@dataclass(frozen=True, slots=True)
class Rejection:
    sighting: Sighting
    code: str
    reason: str

    def letter(self, group: str = "") -> DeadLetter:
        """The dead letter for this sighting: same id every time for the same sighting."""
        digest = hashlib.sha1(self.sighting.id.encode("utf-8")).hexdigest()
        return DeadLetter(
            id=f"guard-{digest}", ts=utcnow(), topic=Topic.SIGHTINGS.value,
            consumer_group=group, reason=f"{self.code}: {self.reason}",
            payload=self.sighting.model_dump_json(),
        )


class SightingGuard:
    """Checks sightings against the district's cameras, the clock and the plate grammar."""

    def __init__(self, camera_ids: Iterable[str], now: Callable[[], datetime] = utcnow,
                 max_future: timedelta = MAX_FUTURE, max_age: timedelta = MAX_AGE) -> None:
        self.camera_ids = frozenset(camera_ids)
        self.now = now
        self.max_future = max_future
        self.max_age = max_age
        self._plates: dict[str, tuple[str, str] | None] = {}
        self.counts: Counter[str] = Counter()
        """Rejections so far, by reason code."""
        self.passed = 0

    def reason(self, s: Sighting, now: datetime | None = None) -> tuple[str, str] | None:
        """(code, explanation) when the sighting must be set aside, else None."""
        if s.camera_id not in self.camera_ids:
            return Reason.UNKNOWN_CAMERA, f"camera {s.camera_id!r} is not one of the district's {len(self.camera_ids)} cameras"
        now = now or self.now()
        if s.ts > now + self.max_future:
            return Reason.FUTURE, f"time {s.ts.isoformat()} is {s.ts - now} ahead of the clock"
        if s.ts < now - self.max_age:
            return Reason.TOO_OLD, f"time {s.ts.isoformat()} is more than {self.max_age.days} days back"
        if s.kind == SightingKind.PLATE:
            return self._plate_verdict(s.identity)
        return None

    def _plate_verdict(self, identity: str) -> tuple[str, str] | None:
        """The grammar check, remembered per plate string (plates repeat all day)."""
        if identity in self._plates:
            return self._plates[identity]
        canonical = normalize_plate(identity)
        verdict: tuple[str, str] | None = None
        if canonical is None:
            verdict = Reason.NOT_A_PLATE, f"{identity!r} is not a plate"
        elif canonical != identity:
            verdict = Reason.NOT_CANONICAL, f"{identity!r} should read {canonical!r}"
        if len(self._plates) >= PLATE_MEMORY:
            self._plates.clear()
        self._plates[identity] = verdict
        return verdict

    def split(self, sightings: Iterable[Sighting]) -> tuple[list[Sighting], list[Rejection]]:
        """The sightings that may count as truth, and those set aside with their reasons."""
        now = self.now()
        good: list[Sighting] = []
        bad: list[Rejection] = []
        for s in sightings:
            verdict = self.reason(s, now)
            if verdict is None:
                good.append(s)
            else:
                self.counts[verdict[0]] += 1
                bad.append(Rejection(s, *verdict))
        self.passed += len(good)
        return good, bad


def guard_for(district_file: Path | None = None) -> SightingGuard:
    """A guard for the configured district (the bundled Pingfang one by default)."""
    from streams.district import load_district

    district = load_district(district_file)
    return SightingGuard(c.id for c in district.cameras)

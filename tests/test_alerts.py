"""Alerts from hand-built sighting sequences: watch list, cloned plate, co-travel (伴随)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.alerts import (
    ClonedPlateDetector,
    CoTravelDetector,
    CoTravelRules,
    WatchlistAlerts,
    co_travel_groups,
)
from analytics.camera_graph import CameraGraph
from streams.district import load_district
from streams.records import AlertKind, Severity, Sighting, SightingKind
from streams.watchlist import Watchlist

T0 = datetime(2026, 5, 12, 0, 0, tzinfo=UTC)
GRAPH = CameraGraph.from_district(load_district())
EAST = ["PF-C002", "PF-C003", "PF-C004", "PF-C006"]  # ~900 m apart by road


def seen(camera: str, seconds: float, identity: str = "黑A12345",
         kind: SightingKind = SightingKind.PLATE) -> Sighting:
    return Sighting(id=hashlib.sha1(f"{identity}{camera}{seconds}".encode()).hexdigest(),
                    camera_id=camera, ts=T0 + timedelta(seconds=seconds), kind=kind,
                    identity=identity, confidence=0.9, bbox=(0, 0, 10, 10))


# ---------------------------------------------------------------- watch list


def test_a_watch_listed_plate_and_person_raise_alerts_with_reason_and_who_listed_them(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        watchlist.add_plate("黑A12345", "reported stolen", added_by="analyst-li")
        watchlist.add_person("zhang_san", "wanted for fraud", added_by="officer-wang")
        alerts = WatchlistAlerts(watchlist).check([
            seen("PF-C002", 0), seen("PF-C003", 0, identity="黑B00001"),
            seen("PF-C004", 5, identity="zhang_san", kind=SightingKind.FACE),
        ])
    assert [(a.kind, a.identity, a.camera_id) for a in alerts] == [
        (AlertKind.WATCHLIST, "黑A12345", "PF-C002"), (AlertKind.WATCHLIST, "zhang_san", "PF-C004")]
    assert "reported stolen" in alerts[0].detail and "analyst-li" in alerts[0].detail
    assert "wanted for fraud" in alerts[1].detail and "officer-wang" in alerts[1].detail
    assert all(a.severity == Severity.CRITICAL and len(a.evidence) == 1 for a in alerts)


def test_a_plate_added_to_the_watch_list_alerts_from_the_next_sighting_on(tmp_path: Path) -> None:
    with Watchlist(tmp_path) as watchlist:
        alerts = WatchlistAlerts(watchlist, recheck_s=0.0)
        assert alerts.check([seen("PF-C002", 0)]) == []
        watchlist.add_plate("黑A12345", "hit and run", added_by="analyst-li")
        assert len(alerts.check([seen("PF-C003", 60)])) == 1


# ---------------------------------------------------------------- cloned plate


def test_a_cloned_plate_is_flagged_and_a_plausible_pair_is_not() -> None:
    detector = ClonedPlateDetector(GRAPH, max_kmh=150)
    # genuine car: C002 -> C003 in 60 s (~900 m: 54 km/h) -> no alert
    assert detector.check([seen("PF-C002", 0), seen("PF-C003", 60)]) == []
    # the same plate at C001 five seconds later: ~5.5 km in 5 s
    alerts = detector.check([seen("PF-C001", 65)])
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == AlertKind.CLONED_PLATE and alert.identity == "黑A12345"
    assert "PF-C001" in alert.title and "km/h" in alert.detail
    assert len(alert.evidence) == 2


def test_the_same_plate_at_the_same_time_in_two_places_is_flagged() -> None:
    alerts = ClonedPlateDetector(GRAPH).check([seen("PF-C002", 0), seen("PF-C003", 0)])
    assert len(alerts) == 1 and "same time" in alerts[0].detail


def test_the_speed_limit_is_configurable() -> None:
    # ~900 m in 30 s is ~109 km/h: too fast for an 80 km/h limit, fine for 150
    pair = [seen("PF-C002", 0), seen("PF-C003", 30)]
    assert ClonedPlateDetector(GRAPH, max_kmh=150).check(pair) == []
    assert len(ClonedPlateDetector(GRAPH, max_kmh=80).check(pair)) == 1


def test_a_replayed_conflict_raises_no_second_alert_and_ids_are_stable() -> None:
    batch = [seen("PF-C002", 0), seen("PF-C001", 5)]
    first = ClonedPlateDetector(GRAPH).check(batch)
    detector = ClonedPlateDetector(GRAPH)
    again = detector.check(batch)
    assert [a.id for a in first] == [a.id for a in again]
    assert detector.check(batch) == []


# ---------------------------------------------------------------- co-travel


def pair_at(cameras: list[str], lag_s: float = 2.5) -> list[Sighting]:
    out = []
    for i, camera in enumerate(cameras):
        out += [seen(camera, 60 * i, "黑A11111"), seen(camera, 60 * i + lag_s, "黑A22222")]
    return out


@pytest.mark.parametrize("k", [2, 3, 4])
def test_co_travel_is_found_at_k_cameras_and_not_at_k_minus_1(k: int) -> None:
    rules = CoTravelRules(within=timedelta(seconds=5), min_cameras=k)
    # someone else passes each camera 40 s later: not together
    stranger = [seen(c, 60 * i + 40, "黑A99999") for i, c in enumerate(EAST)]
    assert CoTravelDetector(rules).check(pair_at(EAST[:k - 1]) + stranger) == []
    alerts = CoTravelDetector(rules).check(pair_at(EAST[:k]) + stranger)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == AlertKind.CO_TRAVEL and {"黑A11111", "黑A22222"} <= set(alert.title.split())
    assert len(alert.evidence) == 2 * k  # both sightings at each shared camera


def test_co_travel_needs_different_cameras_not_repeated_meetings_at_one() -> None:
    same_camera = [s for i in range(5) for s in
                   (seen("PF-C002", 600 * i, "黑A11111"), seen("PF-C002", 600 * i + 1, "黑A22222"))]
    assert CoTravelDetector(CoTravelRules(min_cameras=2)).check(same_camera) == []


def test_co_travel_is_raised_once_per_pair_and_replays_add_nothing() -> None:
    detector = CoTravelDetector(CoTravelRules(min_cameras=3))
    assert len(detector.check(pair_at(EAST))) == 1
    assert detector.check(pair_at(EAST)) == []


def test_co_travel_groups_for_one_identity_carry_the_shared_sightings() -> None:
    sightings = pair_at(EAST[:3])
    own = [s for s in sightings if s.identity == "黑A11111"]
    groups = co_travel_groups(own, sightings, CoTravelRules(min_cameras=3))
    assert list(groups) == [("plate", "黑A22222")]
    shared = groups[("plate", "黑A22222")]
    assert [m.camera_id for m in shared] == EAST[:3]
    assert all(abs((m.ts_b - m.ts_a).total_seconds()) == 2.5 for m in shared)

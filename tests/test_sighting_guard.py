"""Bad sightings are set aside with a reason, counted, and never stored as truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.ingest import ingest_loop
from analytics.queries import SightingQueries, Window
from analytics.sighting_guard import SightingGuard, guard_for
from analytics.store import Store
from streams.localbus import LocalBus
from streams.records import Sighting, SightingKind

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def sighting(camera: str = "PF-C001", ts: datetime = NOW - timedelta(minutes=1),
             identity: str = "黑A12345", kind: SightingKind = SightingKind.PLATE) -> Sighting:
    return Sighting(camera_id=camera, ts=ts, kind=kind, identity=identity, confidence=0.8,
                    bbox=(1, 2, 3, 4))


@pytest.fixture
def guard() -> SightingGuard:
    real = guard_for()
    return SightingGuard(real.camera_ids, now=lambda: NOW)


BAD = {
    "unknown_camera": sighting(camera="PF-C999"),
    "future_time": sighting(ts=NOW + timedelta(hours=2)),
    "too_old": sighting(ts=datetime(2000, 1, 1, tzinfo=UTC)),
    "not_a_plate": sighting(identity="HELLO"),
    "plate_not_canonical": sighting(identity="黑a·12345"),
}


def test_each_kind_of_bad_input_is_set_aside_with_its_reason_and_counted(guard: SightingGuard) -> None:
    good_plate = sighting()
    good_face = sighting(identity="unknown-17", kind=SightingKind.FACE)  # faces are not plates
    drifting = sighting(ts=NOW + timedelta(minutes=2))  # a camera clock a little ahead is fine
    good, bad = guard.split([good_plate, *BAD.values(), good_face, drifting])
    assert good == [good_plate, good_face, drifting]
    assert [r.code for r in bad] == list(BAD)
    assert dict(guard.counts) == dict.fromkeys(BAD, 1)
    reasons = {r.code: r.reason for r in bad}
    assert "PF-C999" in reasons["unknown_camera"] and "ahead" in reasons["future_time"]
    assert "'HELLO' is not a plate" in reasons["not_a_plate"]
    assert "黑A12345" in reasons["plate_not_canonical"]


def test_a_set_aside_sighting_gets_one_dead_letter_whoever_guards_it(guard: SightingGuard) -> None:
    _good, bad = guard.split([BAD["not_a_plate"]])
    _good, again = guard.split([BAD["not_a_plate"]])
    letter = bad[0].letter("analytics-store")
    assert letter.id == again[0].letter("analytics-trajectories").id
    assert letter.reason.startswith("not_a_plate:")
    assert Sighting.model_validate_json(letter.payload) == BAD["not_a_plate"]


def test_ingest_with_the_guard_stores_bad_sightings_only_as_dead_letters(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    now = datetime.now(UTC)
    good = sighting(ts=now - timedelta(minutes=1))
    bad = [sighting(camera="PF-C999", ts=now), sighting(identity="NOTAPLATE", ts=now),
           sighting(ts=now + timedelta(days=1)), sighting(ts=now - timedelta(days=3 * 365))]
    with LocalBus(tmp_path / "bus") as bus:
        for s in [good, *bad, bad[0]]:  # the last one is a replay
            bus.publish(s)
        bus.flush()
        loop, writer = ingest_loop(bus, store, guard=guard_for())
        with loop:
            assert loop.wait_for(lambda: store.count("dead_letters") == 4, timeout_s=30)
    assert store.count("sightings") == 1
    assert writer.stats.set_aside == 5
    reasons = sorted(d.reason.split(":")[0] for d in store.dead_letters())
    assert reasons == ["future_time", "not_a_plate", "too_old", "unknown_camera"]
    assert SightingQueries(store).set_aside() == {"future_time": 1, "not_a_plate": 1, "too_old": 1,
                                                  "unknown_camera": 1}
    found = SightingQueries(store).plate("黑A12345", Window(now - timedelta(days=4000), now + timedelta(days=2)))
    assert [h.sighting_id for h in found] == [good.id]
    store.close()

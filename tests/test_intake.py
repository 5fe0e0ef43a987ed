"""Complaint intake on the real Pingfang district: grids by point-in-polygon, types suggested
by the classifier, departments and due times from the taxonomy, photos under the data
folder with a size limit, refusals with clear messages; and the classifier's accuracy on
hand-written and simulator texts."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.classifier import HAND_WRITTEN, PARAPHRASED, TypeClassifier, accuracy
from analytics.complaint_codes import StoreCodes
from analytics.intake import Intake, IntakeError, PhotoTooLarge, Submission, decode_photo
from analytics.lifecycle import Lifecycle
from analytics.simulator import ComplaintSimulator
from analytics.store import Store
from streams.district import District, load_district
from streams.localbus import LocalBus
from streams.records import COMPLAINT_CODE_PATTERN, ComplaintEvent
from streams.records import ComplaintEventType as T

NOW = datetime(2026, 11, 21, 6, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


@pytest.fixture
def intake(district: District, tmp_path: Path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    bus = LocalBus(tmp_path / "bus")
    life = Lifecycle(store, bus, clock=lambda: NOW)
    yield Intake(district, life, StoreCodes(store, district.code_prefix), tmp_path / "photos",
                 max_photo_bytes=50_000, clock=lambda: NOW)
    bus.close()
    store.close()


def _jpeg(side: int = 64, noise: bool = False) -> bytes:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (side, side, 3), dtype=np.uint8) if noise else np.full((side, side, 3), 90, np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def test_a_point_gets_its_grid_the_type_its_department_and_due_time(intake: Intake, district: District) -> None:
    grid = district.community_grids()[42]
    lat, lon = district.random_point(grid.id)
    got = intake.submit(Submission(text="单元电梯坏了，有人被困", category="elevator_fault", lat=lat, lon=lon,
                                   reporter="13812345678"))
    e = got.event
    assert e.type == T.CREATED and e.grid_id == grid.id
    assert re.fullmatch(COMPLAINT_CODE_PATTERN, e.code) and e.code == "PF-20261121-000001"
    kind = district.complaint_type("elevator_fault")
    assert e.level == kind.level == 2 and e.department == kind.department_id
    assert e.due_at == NOW + timedelta(hours=kind.time_limit_hours)
    assert e.reporter == "138****5678" and not got.suggested_type
    # it is on the bus, as any source's complaints are
    published = intake.lifecycle.trace(e.code)
    assert [x.id for x in published] == [e.id]


def test_type_and_level_are_suggested_from_free_text_when_not_given(intake: Intake, district: District) -> None:
    lat, lon = district.community_grids()[7].centroid
    got = intake.submit(Submission(text="楼道里一股煤气味，好像漏气了", lat=lat, lon=lon))
    assert got.suggested_type and got.event.category == "gas_leak" and got.event.level == 1
    assert "suggested from the text" in got.event.note
    given = intake.submit(Submission(text="楼道里一股煤气味", category="gas_leak", level=2, lat=lat, lon=lon))
    assert given.event.level == 2 and not given.suggested_type  # an operator's level wins


def test_local_matters_go_to_the_grids_street_office(intake: Intake, district: District) -> None:
    grid = district.community_grids()[100]
    got = intake.submit(Submission(text="物业不管事", category="property_service",
                                   lat=grid.centroid[0], lon=grid.centroid[1]))
    street = district.street_of(grid.id)
    office = next(d for d in district.departments if d.street_id == street.id)
    assert got.event.department == office.id


def test_an_address_is_placed_by_the_districts_names(intake: Intake, district: District) -> None:
    grid = district.community_grids()[20]
    got = intake.submit(Submission(text="路灯不亮", address=f"平房区{grid.name}3号楼"))
    assert got.event.grid_id == grid.id and "address" in got.event.note


@pytest.mark.parametrize(("sub", "message"), [
    (Submission(text="", lat=45.6, lon=126.6), "text is required"),
    (Submission(text="   ", lat=45.6, lon=126.6), "text is required"),
    (Submission(text="路灯不亮", lat=39.9, lon=116.4), "outside Pingfang"),
    (Submission(text="路灯不亮", lat=45.6), "both lat and lon"),
    (Submission(text="路灯不亮"), "a location is required"),
    (Submission(text="路灯不亮", address="北京市朝阳区"), "names no grid"),
    (Submission(text="你好你好你好", address="x"), "names no grid"),
    (Submission(text="路灯不亮", level=9, lat=0, lon=0), "level must be 1"),
])
def test_bad_submissions_are_refused_with_a_clear_message(intake: Intake, sub: Submission, message: str) -> None:
    with pytest.raises(IntakeError, match=message):
        intake.submit(sub)


def test_unknown_types_and_unclassifiable_text_are_refused(intake: Intake, district: District) -> None:
    lat, lon = district.community_grids()[0].centroid
    with pytest.raises(IntakeError, match="unknown complaint type 'ufo'"):
        intake.submit(Submission(text="路灯不亮", category="ufo", lat=lat, lon=lon))
    with pytest.raises(IntakeError, match="choose a type"):
        intake.submit(Submission(text="你好，请问一下", lat=lat, lon=lon))


def test_a_photo_is_saved_under_the_data_folder_and_oversize_is_refused(intake: Intake, district: District) -> None:
    lat, lon = district.community_grids()[0].centroid
    photo = _jpeg()
    got = intake.submit(Submission(text="垃圾满溢", category="garbage_pileup", lat=lat, lon=lon, photo=photo))
    assert got.event.photo == f"photos/{got.event.code}.jpg"
    assert (intake.photos / f"{got.event.code}.jpg").read_bytes() == photo
    big = _jpeg(400, noise=True)
    assert len(big) > intake.max_photo_bytes
    with pytest.raises(PhotoTooLarge, match="larger than the limit"):
        intake.submit(Submission(text="垃圾满溢", category="garbage_pileup", lat=lat, lon=lon, photo=big))
    with pytest.raises(IntakeError, match="JPEG, PNG or WebP"):
        intake.submit(Submission(text="垃圾满溢", category="garbage_pileup", lat=lat, lon=lon, photo=b"MZ\x90\x00exe"))
    assert sorted(p.name for p in intake.photos.iterdir()) == [f"{got.event.code}.jpg"]  # nothing else kept
    with pytest.raises(PhotoTooLarge):
        decode_photo("A" * 200_000, max_bytes=50_000)
    with pytest.raises(IntakeError, match="base64"):
        decode_photo("not base64!!")
    for bad in ("data:", "data:image/png", "data:image/png,AAAA"):
        with pytest.raises(IntakeError, match="data URL"):
            decode_photo(bad)
    assert decode_photo("data:image/jpeg;base64," + base64.b64encode(photo).decode()) == photo


def test_codes_are_unique_and_consecutive(intake: Intake, district: District) -> None:
    lat, lon = district.community_grids()[0].centroid
    codes = [intake.submit(Submission(text="噪音扰民", category="noise", lat=lat, lon=lon)).event.code
             for _ in range(20)]
    assert codes == [f"PF-20261121-{n:06d}" for n in range(1, 21)]


# ---------------------------------------------------------------- the classifier


def test_classifier_accuracy_on_hand_written_texts(district: District) -> None:
    clf = TypeClassifier(district.complaint_types)
    share, misses = accuracy(clf, HAND_WRITTEN)
    assert share >= 0.95, misses
    assert {want for _, want in HAND_WRITTEN} == {t.code for t in district.complaint_types}  # every type


def test_classifier_accuracy_on_simulator_texts(district: District) -> None:
    class Codes:
        def allocate(self, created_at: datetime, count: int = 1) -> list[str]:
            return [f"PF-{created_at:%Y%m%d}-{i:06d}" for i in range(1, count + 1)]

    sim = ComplaintSimulator(district, None, None, codes=Codes())
    texts = [(c.events[0].text or "", c.category) for k in (0, 90, 180, 270)
             for c in sim.plan_day(date(2026, 1, 5) + timedelta(days=k))]
    share, misses = accuracy(TypeClassifier(district.complaint_types), texts)
    assert len(texts) > 1500 and share >= 0.98, misses[:10]


def test_classifier_on_paraphrases_is_weak_and_mostly_says_so(district: District) -> None:
    """Words outside the taxonomy: the limit of a keyword classifier, measured (7 of 30 right,
    17 unclassified, 6 wrong when written); this guards against it getting worse."""
    clf = TypeClassifier(district.complaint_types)
    share, misses = accuracy(clf, PARAPHRASED)
    wrong = [m for m in misses if m[2] is not None]
    assert share >= 0.2 and len(wrong) <= 6, (share, wrong)


def test_classifier_says_nothing_rather_than_guess(district: District) -> None:
    clf = TypeClassifier(district.complaint_types)
    for text in ("你好", "请问一下今天几点下班", "", "!!!", "12345"):
        assert clf(text) is None, text
    found = clf.suggest("井盖丢失，有人掉下去")
    assert found is not None and found.code == "manhole_missing" and found.level == 1
    assert 0 < found.confidence <= 1


def test_created_event_round_trips_the_bus_codec(intake: Intake, district: District) -> None:
    from streams.codec import decode, encode

    lat, lon = district.community_grids()[0].centroid
    e = intake.submit(Submission(text="暖气不热", lat=lat, lon=lon, photo=_jpeg())).event
    assert decode("cityops.complaints", encode(e)) == e
    assert isinstance(e, ComplaintEvent) and len(encode(e)) < 10_000  # the photo travels by reference

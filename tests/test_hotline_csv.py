"""Hotline CSV import on the real Pingfang district: good files, bad rows, re-imports, encodings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.hotline_csv import KeywordClassifier, import_hotline_csv, mask_phone
from analytics.ingest import ingest_loop
from analytics.store import Store
from streams.district import District, load_district
from streams.localbus import LocalBus
from streams.records import ComplaintEvent, ComplaintEventType

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)

GOOD = """\
ticket_id,received_at,text,address,lat,lon,category,reporter_phone,source
HL-001,2026-11-20 14:09,草坪上有人乱扔垃圾，纸屑很多,平房区兴建社区第3网格,,,,13812345678,12345
HL-002,2026-11-20 15:30,家里暖气不热，室温只有12度,友协大街与建安街交口附近,,,,139****0001,hotline
HL-003,2026-11-20 21:05,"楼上装修噪音扰民
晚上九点还在施工",,45.60,126.64,noise,,app
HL-004,2026/11/20 22:10,路灯不亮，太黑了,新华社区12号楼,,,,,
"""

BAD = """\
ticket_id,received_at,text,address,lat,lon,category,reporter_phone,source
B-01,2026-11-20 08:00,井盖丢失了，很危险,兴建社区第1网格,,,,,
B-02,2026-13-01 08:00,时间不对,兴建社区第1网格,,,,,
B-03,2026-11-20 08:05,,兴建社区第1网格,,,,,
B-04,2026-11-20 08:10,路灯不亮,,45.1,127.9,,,
B-05,2026-11-20 08:15,路灯不亮,北京市朝阳区,,,,,
B-06,2026-11-20 08:20,有点事,兴建社区第1网格,,,,,
B-07,2026-11-20 08:25,路灯不亮,兴建社区第1网格,,,flying_saucer,,
B-08,2026-11-20 08:30,路灯不亮,兴建社区第1网格,,,,,fax
B-01,2026-11-20 08:35,重复的工单,兴建社区第1网格,,,streetlight_out,,
B-10,2030-01-01 08:00,未来的时间,兴建社区第1网格,,,streetlight_out,,
B-11,2026-11-20 08:40,路灯不亮,友协大街,,,,,
B-12,2026-11-20 08:45,暖气不热,兴建社区第2网格,,,,,,,extra
B-13,2026-11-20 08:50,"暖气
不热",兴建社区第2网格,,,,,
"""


class Collector:
    def __init__(self) -> None:
        self.events: list[ComplaintEvent] = []

    def publish(self, record: ComplaintEvent) -> None:
        self.events.append(record)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'cityops.db'}") as s:
        yield s


def write(tmp_path: Path, text: str, name: str = "calls.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def created(events: list[ComplaintEvent]) -> list[ComplaintEvent]:
    return [e for e in events if e.type == ComplaintEventType.CREATED]


def test_a_good_file_becomes_accepted_complaints_in_the_store(district: District, store: Store,
                                                              tmp_path: Path) -> None:
    with LocalBus(tmp_path / "bus") as bus:
        report = import_hotline_csv(write(tmp_path, GOOD), bus, store, district, now=NOW)
        assert (report.imported, report.rejected, report.already) == (4, 0, 0)
        loop, _writer = ingest_loop(bus, store)
        with loop:
            assert loop.wait_for(lambda: store.complaints_count() == 4, timeout_s=30)
    complaints = {c.code: c for c in store.recent_complaints(10)}
    assert sorted(complaints) == sorted(report.codes)
    assert all(code.startswith("PF-20261120-") for code in report.codes)
    by_text = {c.text[:4]: c for c in complaints.values()}
    litter, heating, noise, light = by_text["草坪上有"], by_text["家里暖气"], by_text["楼上装修"], by_text["路灯不亮"]
    assert (litter.category, litter.grid_id, litter.reporter) == ("litter", "PF-G0003", "138****5678")
    assert heating.category == "heating_cold" and heating.department == "PF-GRB"
    assert noise.category == "noise" and noise.source == "app" and "\n" in noise.text
    assert light.category == "streetlight_out" and district.grid(light.grid_id).name.startswith("新华社区")
    assert litter.created_at == datetime(2026, 11, 20, 6, 9, tzinfo=UTC)  # 14:09 in Harbin
    assert litter.due_at == datetime(2026, 11, 21, 6, 9, tzinfo=UTC)  # litter: 24 h
    assert all(c.state == "accepted" and c.accepted_at == c.created_at for c in complaints.values())
    trace = store.complaint_trace(heating.code)
    assert "crossing of 友协大街 and 建安街" in trace[0].note and "ticket HL-002" in trace[0].note
    for c in complaints.values():
        grid = district.grid_at(c.lat, c.lon)
        assert grid is not None and grid.id == c.grid_id


def test_bad_rows_are_named_and_skipped_and_the_good_ones_imported(district: District, store: Store,
                                                                    tmp_path: Path) -> None:
    bus = Collector()
    report = import_hotline_csv(write(tmp_path, BAD), bus, store, district, now=NOW)
    reasons = {b.line: b.reason for b in report.bad}
    assert report.imported == 2  # B-01 and the two-line B-13
    assert {e.text for e in created(bus.events)} == {"井盖丢失了，很危险", "暖气\n不热"}
    assert "not a time" in reasons[3]
    assert "text is empty" in reasons[4]
    assert "outside" in reasons[5]
    assert "names no grid" in reasons[6]
    assert "matches no complaint type" in reasons[7]
    assert "unknown category 'flying_saucer'" in reasons[8]
    assert "unknown source 'fax'" in reasons[9]
    assert "duplicate of line 2" in reasons[10]
    assert "in the future" in reasons[11]
    assert "names only the road 友协大街" in reasons[12]
    assert "fields but the header has" in reasons[13]
    assert sorted(reasons) == list(range(3, 14))
    assert "line 3:" in str(report) and "rejected 11" in str(report)


def test_importing_the_same_file_again_adds_nothing(district: District, store: Store,
                                                    tmp_path: Path) -> None:
    bus = Collector()
    path = write(tmp_path, GOOD)
    first = import_hotline_csv(path, bus, store, district, now=NOW)
    store.write(bus.events)
    again = import_hotline_csv(path, bus, store, district, now=NOW)
    assert (again.imported, again.already, again.rejected) == (0, 4, 0)
    assert store.complaints_count() == first.imported == 4


def test_a_gb18030_export_with_chinese_headers_reads(district: District, store: Store,
                                                     tmp_path: Path) -> None:
    text = "工单号,来电时间,诉求内容,地址,来电号码\nG-1,2026年11月20日 09:30,暖气片不热，家里很冷,新疆街道,13900001111\n"
    bus = Collector()
    report = import_hotline_csv(write(tmp_path, text, encoding="gb18030"), bus, store, district, now=NOW)
    assert (report.imported, report.rejected) == (1, 0)
    event = created(bus.events)[0]
    assert event.category == "heating_cold" and event.reporter == "139****1111"
    assert event.ts == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


def test_a_header_without_the_needed_columns_is_reported_at_line_1(district: District, store: Store,
                                                                  tmp_path: Path) -> None:
    report = import_hotline_csv(write(tmp_path, "when,what\n2026-11-20,路灯不亮\n"), Collector(),
                                store, district, now=NOW)
    assert report.imported == 0
    assert report.bad[0].line == 1 and "received_at, text" in report.bad[0].reason


def test_keyword_classifier_and_phone_masking(district: District) -> None:
    classify = KeywordClassifier(district.complaint_types)
    assert classify("小区门口井盖丢失，差点掉下去") == "manhole_missing"
    assert classify("楼下烧烤油烟太大，呛得不行") == "cooking_fumes"
    assert classify("今天天气不错") is None
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("0451-86661234") == "045*****1234"
    assert mask_phone("138****5678") == "138****5678"
    assert mask_phone("") is None

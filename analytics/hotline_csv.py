"""Import hotline records (12345 and other lines) from a CSV file as complaints on the bus.

Each good row becomes a `created` and an `accepted` ComplaintEvent with a new complaint
code, a grid (from lat/lon, or from the address: a grid, a crossing, a community or a
street named in it), a type (given, or suggested from the text by the taxonomy's
keywords), the type's department and due time. A bad row is reported with its line
number and the reason, and skipped; it never stops the import. Re-importing a file adds
nothing: event ids derive from the ticket id (or the row's content), and rows already in
the store are counted as such. Columns and examples: docs/HOTLINE_CSV.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString
from tqdm import tqdm

from analytics.complaint_codes import DEFAULT_TIMEZONE, CodeAllocator, StoreCodes
from analytics.simulator import Publisher
from analytics.store import Store
from streams.records import ComplaintEvent, ComplaintEventType, ComplaintSource

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("0f6a4d0e-7f5e-4b43-8f0e-6c2b9b1a7c55")
CHUNK = 500
"""Rows validated before their codes are allocated (one transaction per day per chunk)."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)

COLUMNS: dict[str, tuple[str, ...]] = {
    "received_at": ("received_at", "received", "time", "来电时间", "受理时间", "时间"),
    "text": ("text", "content", "description", "诉求内容", "内容", "问题描述"),
    "address": ("address", "地址", "事发地址", "地点"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "category": ("category", "type", "类别", "类型", "问题类型"),
    "reporter_phone": ("reporter_phone", "phone", "reporter", "电话", "来电号码", "联系电话"),
    "source": ("source", "channel", "来源", "渠道"),
    "ticket_id": ("ticket_id", "ticket", "id", "工单号", "工单编号"),
    "accepted_at": ("accepted_at", "accepted", "受理确认时间"),
}
"""Our column -> the header names accepted for it (case and spaces ignored)."""

SOURCES: dict[str, ComplaintSource] = {
    "": ComplaintSource.HOTLINE, "hotline": ComplaintSource.HOTLINE, "12345": ComplaintSource.HOTLINE,
    "热线": ComplaintSource.HOTLINE, "电话": ComplaintSource.HOTLINE,
    "app": ComplaintSource.APP, "随手拍": ComplaintSource.APP, "微信": ComplaintSource.APP,
    "observer": ComplaintSource.OBSERVER, "观察员": ComplaintSource.OBSERVER,
    "百姓观察员": ComplaintSource.OBSERVER,
    "grid_worker": ComplaintSource.GRID_WORKER, "网格员": ComplaintSource.GRID_WORKER,
}


class BadRow(ValueError):
    """A row that cannot become a complaint; the message says why."""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    already: int = 0  # rows whose complaint the store already holds (re-import)
    bad: list[RejectedRow] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.bad)

    def __str__(self) -> str:
        head = f"imported {self.imported}, already imported {self.already}, rejected {self.rejected}"
        if not self.bad:
            return head
        shown = "; ".join(str(b) for b in self.bad[:20])
        more = f"; and {self.rejected - 20} more" if self.rejected > 20 else ""
        return f"{head} ({shown}{more})"


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    grid_id: str
    how: str  # how the location was found, kept in the event's note


@dataclass(slots=True)
class _Row:
    line: int
    key: str
    received_at: datetime
    accepted_at: datetime
    text: str
    category: Any  # ComplaintType
    place: Place
    department: str
    source: ComplaintSource
    reporter: str | None
    ticket_id: str


def import_hotline_csv(
    path: Path | str,
    bus: Publisher,
    store: Store,
    district: Any,
    *,
    codes: CodeAllocator | None = None,
    classify: Callable[[str], str | None] | None = None,
    tz: tzinfo | None = None,
    progress: bool | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Publish the file's good rows as complaints; returns counts and the bad lines.

    `classify(text) -> type code | None` suggests a type when the row has none (default:
    the taxonomy's keywords). Naive times are in `tz` (default China Standard Time).
    """
    tz = tz or getattr(district, "timezone", None) or DEFAULT_TIMEZONE
    codes = codes or StoreCodes(store, district.code_prefix, tz)
    parser = _RowParser(district, tz, classify or KeywordClassifier(district.complaint_types),
                        now or datetime.now(UTC))
    report = ImportReport()
    text, encoding = _read_text(Path(path))
    lines = text.count("\n") + 1
    log.info("hotline import: %s (%s, about %d lines)", path, encoding, lines)
    rows: list[_Row] = []
    show = progress if progress is not None else lines > 2000
    for line, record in tqdm(_records(text), total=lines, unit="row", disable=not show,
                             desc="hotline import"):
        try:
            rows.append(parser.parse(line, record))
        except _Skip:
            continue
        except BadRow as exc:
            report.bad.append(RejectedRow(line, str(exc)))
        if len(rows) >= CHUNK:
            _publish(rows, bus, store, codes, report)
            rows = []
    if parser.missing_header:
        report.bad.insert(0, RejectedRow(1, parser.missing_header))
    _publish(rows, bus, store, codes, report)
    flush = getattr(bus, "flush", None)
    if flush is not None:
        flush()
    for bad in report.bad[:50]:
        log.warning("hotline import: %s", bad)
    log.info("hotline import: %s", report)
    return report


def _publish(rows: list[_Row], bus: Publisher, store: Store, codes: CodeAllocator,
             report: ImportReport) -> None:
    if not rows:
        return
    ids = {r.key: _event_id(r.key, ComplaintEventType.CREATED) for r in rows}
    known = store.codes_of_events(list(ids.values()))
    fresh = [r for r in rows if ids[r.key] not in known]
    report.already += len(rows) - len(fresh)
    by_day: dict[Any, list[_Row]] = {}
    for r in fresh:
        by_day.setdefault(r.received_at.astimezone(getattr(codes, "tz", DEFAULT_TIMEZONE)).date(), []).append(r)
    for day_rows in by_day.values():
        day_codes = codes.allocate(day_rows[0].received_at, len(day_rows))
        for row, code in zip(day_rows, day_codes, strict=True):
            for event in _events(row, code):
                bus.publish(event)
            report.imported += 1
            report.codes.append(code)


def _events(r: _Row, code: str) -> list[ComplaintEvent]:
    kind = r.category
    note = "; ".join(x for x in (f"ticket {r.ticket_id}" if r.ticket_id else "", r.place.how) if x)
    created = ComplaintEvent(
        id=_event_id(r.key, ComplaintEventType.CREATED), code=code, ts=r.received_at,
        type=ComplaintEventType.CREATED, actor=r.source.value, note=note[:2000], text=r.text,
        category=kind.code, level=kind.level, lat=r.place.lat, lon=r.place.lon,
        grid_id=r.place.grid_id, due_at=r.received_at + timedelta(hours=kind.time_limit_hours),
        source=r.source, reporter=r.reporter, department=r.department,
    )
    accepted = ComplaintEvent(
        id=_event_id(r.key, ComplaintEventType.ACCEPTED), code=code, ts=r.accepted_at,
        type=ComplaintEventType.ACCEPTED, actor="hotline", note="accepted on the hotline",
    )
    return [created, accepted]


def _event_id(key: str, kind: ComplaintEventType) -> str:
    return uuid.uuid5(EVENT_NAMESPACE, f"{key}:{kind.value}").hex


# ---------------------------------------------------------------------- reading the file


def _read_text(path: Path) -> tuple[str, str]:
    """The file as text: UTF-8 (with or without BOM), else GB18030 (Excel exports in China)."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace"), "utf-8 (undecodable bytes replaced)"


def _records(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line of the record, its fields by our column names); the header comes first as None."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, {"__error__": f"unreadable header: {exc}"}
        return
    names = _map_header(header)
    yield 1, {"__header__": "|".join(n or "" for n in names)}
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, {"__error__": f"unreadable CSV: {exc}"}
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            yield start, {"__error__": f"{len(values)} fields but the header has {len(names)}"}
            continue
        yield start, {name: value.strip() for name, value in zip(names, values, strict=False) if name}


def _map_header(header: list[str]) -> list[str | None]:
    lookup = {alias.lower().replace(" ", ""): ours for ours, aliases in COLUMNS.items() for alias in aliases}
    return [lookup.get(h.strip().lower().replace(" ", "").lstrip("\ufeff")) for h in header]


# ---------------------------------------------------------------------- one row


class _RowParser:
    def __init__(self, district: Any, tz: tzinfo, classify: Callable[[str], str | None], now: datetime) -> None:
        self.district = district
        self.tz = tz
        self.classify = classify
        self.now = now
        self.locator = AddressLocator(district)
        self.types = {t.code: t for t in district.complaint_types}
        self.type_names = {n: t for t in district.complaint_types for n in (t.name_zh, t.name_en.lower())}
        self.seen: dict[str, int] = {}
        self.missing_header = ""

    def parse(self, line: int, record: dict[str, str]) -> _Row:
        if "__error__" in record:
            raise BadRow(record["__error__"])
        if "__header__" in record:
            present = set(record["__header__"].split("|"))
            missing = [c for c in ("received_at", "text") if c not in present]
            if missing or not ({"address"} & present or {"lat", "lon"} <= present):
                need = missing + ([] if {"address"} & present or {"lat", "lon"} <= present
                                  else ["address or lat and lon"])
                self.missing_header = (f"the header lacks {', '.join(need)}: every row will be rejected "
                                       "(see docs/HOTLINE_CSV.md)")
            raise _Skip
        received = self._time(record.get("received_at", ""), "received_at")
        accepted = self._time(record["accepted_at"], "accepted_at") if record.get("accepted_at") else received
        if accepted < received:
            raise BadRow(f"accepted_at {accepted:%Y-%m-%d %H:%M} is before received_at")
        text = record.get("text", "")
        if not text:
            raise BadRow("text is empty")
        if len(text) > 4000:
            raise BadRow(f"text has {len(text)} characters (at most 4000)")
        place = self._place(record)
        category = self._category(record.get("category", ""), text)
        source_name = record.get("source", "").lower()
        if source_name not in SOURCES:
            raise BadRow(f"unknown source {record.get('source')!r} (use hotline, app, observer or grid_worker)")
        ticket = record.get("ticket_id", "")[:64]
        reporter = mask_phone(record.get("reporter_phone", ""))
        key = f"ticket:{ticket}" if ticket else "row:" + hashlib.sha256(
            "|".join((received.isoformat(), text, reporter or "", f"{place.lat:.6f},{place.lon:.6f}")).encode()
        ).hexdigest()
        if key in self.seen:
            what = f"ticket_id {ticket!r}" if ticket else "the same time, text, phone and place"
            raise BadRow(f"duplicate of line {self.seen[key]} ({what})")
        self.seen[key] = line
        finder = getattr(self.district, "department_for", None)
        department = finder(category.code, place.grid_id).id if finder else category.department_id
        return _Row(line=line, key=key, received_at=received, accepted_at=accepted, text=text,
                    category=category, place=place, department=department,
                    source=SOURCES[source_name], reporter=reporter, ticket_id=ticket)

    def _time(self, value: str, column: str) -> datetime:
        if not value:
            raise BadRow(f"{column} is empty")
        cleaned = re.sub(r"[年月/.]", "-", value.strip()).replace("日", " ").strip()
        cleaned = re.sub(r"\s+", " ", cleaned)
        try:
            ts = datetime.fromisoformat(cleaned)
        except ValueError as exc:
            raise BadRow(f"{column} {value!r} is not a time (e.g. 2026-11-21 14:09)") from exc
        ts = ts.replace(tzinfo=self.tz) if ts.tzinfo is None else ts
        if ts < EARLIEST or ts > self.now + FUTURE_SLACK:
            raise BadRow(f"{column} {value!r} is {'in the future' if ts > self.now else 'before 2000'}")
        return ts.astimezone(UTC)

    def _place(self, record: dict[str, str]) -> Place:
        lat_s, lon_s = record.get("lat", ""), record.get("lon", "")
        if lat_s or lon_s:
            try:
                lat, lon = round(float(lat_s), 6), round(float(lon_s), 6)
            except ValueError as exc:
                raise BadRow(f"lat/lon {lat_s!r}, {lon_s!r} are not numbers") from exc
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise BadRow(f"lat/lon {lat}, {lon} are not a place on Earth (swapped?)")
            grid = self.district.grid_at(lat, lon)
            if grid is None:
                raise BadRow(f"lat/lon {lat}, {lon} is outside {self.district.name_en}")
            return Place(lat, lon, grid.id, "")
        address = record.get("address", "")
        if not address:
            raise BadRow("no location: give lat and lon, or an address")
        return self.locator.locate(address)

    def _category(self, given: str, text: str) -> Any:
        if given:
            kind = self.types.get(given) or self.type_names.get(given) or self.type_names.get(given.lower())
            if kind is None:
                raise BadRow(f"unknown category {given!r} (a type code such as "
                             f"{next(iter(self.types))!r}, or its Chinese or English name)")
            return kind
        suggested = self.classify(text)
        if suggested is None or suggested not in self.types:
            raise BadRow("no category, and the text matches no complaint type's keywords")
        return self.types[suggested]


class _Skip(BadRow):
    """The header row: not a complaint, not an error."""


def mask_phone(value: str) -> str | None:
    """Keep a phone number's first 3 and last 4 digits (138****5678); masked input stays."""
    value = value.strip()
    if not value:
        return None
    if "*" in value:
        return value[:128]
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits) or None
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


class KeywordClassifier:
    """Suggests a type from the text: the type whose keywords cover most of it wins
    (longer keywords count more; ties go to the more urgent level)."""

    def __init__(self, complaint_types: list[Any]) -> None:
        self.types = list(complaint_types)

    def __call__(self, text: str) -> str | None:
        text = re.sub(r"\s+", "", text)  # a keyword broken over two lines still counts
        best: tuple[int, int, int] | None = None
        best_code: str | None = None
        for order, kind in enumerate(self.types):
            score = sum(len(k) for k in kind.keywords if k and k in text)
            score += 2 * len(kind.name_zh) if kind.name_zh and kind.name_zh in text else 0
            if score == 0:
                continue
            rank = (score, -kind.level, -order)
            if best is None or rank > best:
                best, best_code = rank, kind.code
        return best_code


class AddressLocator:
    """Finds a place from a Chinese address with no geocoder: the most specific thing of
    the district it names (a grid, a crossing of two roads, a community, a street)."""

    def __init__(self, district: Any) -> None:
        self.district = district
        self.grids = sorted(district.community_grids(), key=lambda g: -len(g.name))
        self.communities: dict[str, list[Any]] = {}
        for g in district.community_grids():
            community = re.sub(r"第\d+网格$", "", g.name)
            if community != g.name:
                self.communities.setdefault(community, []).append(g)
        self.streets = sorted(district.street_grids(), key=lambda g: -len(g.name)) \
            if hasattr(district, "street_grids") else []
        lines: dict[str, list[LineString]] = {}
        for road in getattr(district, "roads", []):
            lines.setdefault(road.name, []).append(LineString(road.line))
        self.roads = {name: MultiLineString(parts) for name, parts in lines.items()}

    def locate(self, address: str) -> Place:
        for g in self.grids:
            if g.name in address:
                return self._at(g.centroid, f"location from address: grid {g.name} (centre)")
        named = [r for r in sorted(self.roads, key=len, reverse=True) if r in address]
        named = [r for r in named if not any(r != o and r in o for o in named)]  # 友协大街 not 友协
        crossings = [(x, y) for i, x in enumerate(named) for y in named[i + 1:]]
        for x, y in crossings:
            crossing = self._crossing(x, y)
            if crossing is not None:
                return self._at(crossing, f"location from address: crossing of {x} and {y}")
        for community in sorted(self.communities, key=len, reverse=True):
            if community in address:
                return self._area(self.communities[community], f"community {community}")
        for s in self.streets:
            if s.name in address:
                return self._at(s.centroid, f"location from address: street {s.name} (centre)")
        if crossings:
            raise BadRow(f"address {address!r}: {' and '.join(named)} do not cross in the district; "
                         "add the community, or lat/lon")
        if named:
            raise BadRow(f"address {address!r} names only the road {named[0]}: add the crossing road, "
                         "the community, or lat/lon")
        raise BadRow(f"address {address!r} names no grid, community, street or crossing of "
                     f"{self.district.name_en}: give lat/lon")

    def _crossing(self, a: str, b: str) -> tuple[float, float] | None:
        meet = self.roads[a].intersection(self.roads[b])
        if meet.is_empty:
            return None
        point = shapely.get_parts(meet)[0].representative_point()
        return point.y, point.x

    def _area(self, grids: list[Any], what: str) -> Place:
        lat = round(sum(g.centroid[0] for g in grids) / len(grids), 6)
        lon = round(sum(g.centroid[1] for g in grids) / len(grids), 6)
        grid = self.district.grid_at(lat, lon)
        if grid is None or grid not in grids:  # a crescent-shaped community: use its first grid
            return self._at(grids[0].centroid, f"location from address: {what} (a grid of it)")
        return Place(lat, lon, grid.id, f"location from address: {what} (centre)")

    def _at(self, latlon: tuple[float, float] | None, how: str) -> Place:
        if latlon is None:
            raise BadRow(f"{how}: that place has no centre in the district file")
        lat, lon = round(latlon[0], 6), round(latlon[1], 6)  # as stored: the grid must match it
        grid = self.district.grid_at(lat, lon)
        if grid is None:
            raise BadRow(f"{how}: falls outside the district")
        return Place(lat, lon, grid.id, how)

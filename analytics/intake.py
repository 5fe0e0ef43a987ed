"""Submitting a complaint: validate it, give it a code, a grid, a type, a department, a due time.

The grid comes from the point (point-in-polygon; a point outside the district is refused)
or from an address the district's names can place (`AddressLocator`); the type from the
caller or, when only free text is given, from the classifier (the suggestion is marked in
the note); department and due time from the taxonomy. A photo is checked (JPEG, PNG or
WebP, at most `max_photo_bytes`) and saved under the data folder as `photos/<code>.<ext>`
before the `created` event is published, so the event never points to a missing file.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics.classifier import TypeClassifier
from analytics.complaint_codes import CodeAllocator
from analytics.hotline_csv import AddressLocator, BadRow, mask_phone
from analytics.lifecycle import Lifecycle
from streams.records import ComplaintEvent, ComplaintEventType, ComplaintSource

MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 4000
PHOTO_KINDS = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))


class IntakeError(ValueError):
    """A submission refused; the message says what to fix."""


class PhotoTooLarge(IntakeError):
    pass


@dataclass(frozen=True, slots=True)
class Submission:
    """What a resident (or an operator for them) sends."""

    text: str
    category: str | None = None
    level: int | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    photo: bytes | None = None
    reporter: str | None = None
    source: ComplaintSource = ComplaintSource.APP


@dataclass(frozen=True, slots=True)
class Accepted:
    """The created event and how the intake filled it in."""

    event: ComplaintEvent
    suggested_type: bool
    confidence: float | None


def decode_photo(data: str, max_bytes: int = MAX_PHOTO_BYTES) -> bytes:
    """Base64 (optionally a `data:image/...;base64,` URL) -> bytes, refusing oversize early."""
    if data.startswith("data:"):
        head, comma, payload = data.partition(",")
        if not comma or ";base64" not in head:
            raise IntakeError("a photo data URL must look like data:image/jpeg;base64,...")
    else:
        payload = data
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise PhotoTooLarge(f"photo is larger than {max_bytes // 1024} KiB")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntakeError(f"photo is not valid base64: {exc}") from exc


class Intake:
    """Turns submissions into `created` events published through the lifecycle service."""

    def __init__(self, district: Any, lifecycle: Lifecycle, codes: CodeAllocator, photos: Path, *,
                 classifier: TypeClassifier | None = None, max_photo_bytes: int = MAX_PHOTO_BYTES,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.district = district
        self.lifecycle = lifecycle
        self.codes = codes
        self.photos = photos
        self.classifier = classifier or TypeClassifier(district.complaint_types)
        self.max_photo_bytes = max_photo_bytes
        self.clock = clock
        self._addresses: AddressLocator | None = None

    def submit(self, sub: Submission) -> Accepted:
        text = " ".join((sub.text or "").split())
        if not text:
            raise IntakeError("text is required: describe the problem")
        if len(text) > MAX_TEXT_CHARS:
            raise IntakeError(f"text is longer than {MAX_TEXT_CHARS} characters")
        if sub.level is not None and not 1 <= sub.level <= 5:
            raise IntakeError(f"level must be 1 (most urgent) to 5, got {sub.level}")
        lat, lon, grid_id, where = self._place(sub)
        kind, suggested, confidence = self._type(sub.category, text)
        photo_ext = self._check_photo(sub.photo)
        now = self.clock()
        code = self.codes.allocate(now)[0]
        photo_ref = self._save_photo(code, sub.photo, photo_ext) if sub.photo else None
        department = self.district.department_for(kind.code, grid_id).id
        notes = [where] if where else []
        if suggested:
            notes.append(f"type suggested from the text ({confidence:.0%} confident)")
        event = ComplaintEvent(
            code=code, ts=now, type=ComplaintEventType.CREATED, actor=sub.source.value,
            note="; ".join(notes), text=text, category=kind.code, level=sub.level or kind.level,
            lat=lat, lon=lon, grid_id=grid_id, due_at=now + timedelta(hours=kind.time_limit_hours),
            source=sub.source, reporter=mask_phone(sub.reporter) if sub.reporter else None,
            photo=photo_ref, department=department,
        )
        self.lifecycle.publish(event)
        return Accepted(event, suggested, confidence)

    def _place(self, sub: Submission) -> tuple[float, float, str, str]:
        if sub.lat is not None and sub.lon is not None:
            lat, lon = round(sub.lat, 6), round(sub.lon, 6)
            grid = self.district.grid_at(lat, lon)
            if grid is None:
                raise IntakeError(f"location ({lat}, {lon}) is outside {self.district.name_en} "
                                  f"({self.district.name_zh})")
            return lat, lon, grid.id, ""
        if (sub.lat is None) != (sub.lon is None):
            raise IntakeError("give both lat and lon, or an address")
        if sub.address and sub.address.strip():
            if self._addresses is None:
                self._addresses = AddressLocator(self.district)
            try:
                place = self._addresses.locate(sub.address.strip())
            except BadRow as exc:
                raise IntakeError(str(exc)) from exc
            return place.lat, place.lon, place.grid_id, place.how
        raise IntakeError("a location is required: lat and lon, or an address in the district")

    def _type(self, category: str | None, text: str) -> tuple[Any, bool, float | None]:
        if category:
            try:
                return self.district.complaint_type(category), False, None
            except (KeyError, LookupError, ValueError) as exc:
                raise IntakeError(f"unknown complaint type {category!r}") from exc
        found = self.classifier.suggest(text)
        if found is None:
            raise IntakeError("the text names no known kind of problem: choose a type (category)")
        return self.district.complaint_type(found.code), True, found.confidence

    def _check_photo(self, photo: bytes | None) -> str | None:
        if photo is None:
            return None
        if len(photo) > self.max_photo_bytes:
            raise PhotoTooLarge(f"photo of {len(photo)} bytes is larger than the limit of "
                                f"{self.max_photo_bytes} bytes")
        for magic, ext in PHOTO_KINDS:
            if photo.startswith(magic):
                return ext
        if photo[:4] == b"RIFF" and photo[8:12] == b"WEBP":
            return "webp"
        raise IntakeError("photo must be a JPEG, PNG or WebP image")

    def _save_photo(self, code: str, photo: bytes, ext: str | None) -> str:
        self.photos.mkdir(parents=True, exist_ok=True)
        name = f"{code}.{ext}"
        tmp = self.photos / f".{name}.part"
        tmp.write_bytes(photo)
        os.replace(tmp, self.photos / name)  # never a half-written photo under its final name
        return f"photos/{name}"

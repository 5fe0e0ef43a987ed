"""JSON on the wire: encode a record, decode bytes back into the topic's record type.

Decoding never raises anything but `BadMessage`, whose reason goes to the dead-letter
topic, so one malformed message cannot crash a consumer.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from pydantic import ValidationError

from streams.records import SCHEMA_VERSION, DeadLetter, Record
from streams.topics import RECORD_TYPES, Topic

MAX_MESSAGE_BYTES = 1_000_000
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""A JSON escape of a UTF-16 surrogate: fine in a pair (an emoji), fatal alone (found by
fuzzing: a lone one passes validation, then no sink can encode the text as UTF-8)."""
OUR_PREFIX = b'{"schema_version":%d,' % SCHEMA_VERSION
"""How `encode` starts every message (pydantic writes fields in order, the version first)."""


class BadMessage(ValueError):
    """A message that cannot become its topic's record; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(record: Record) -> bytes:
    return record.model_dump_json().encode("utf-8")


def decode(topic: Topic | str, payload: bytes | None) -> Record:
    try:
        record_type = RECORD_TYPES[Topic(topic)]
    except ValueError as exc:
        raise BadMessage(f"unknown topic {topic!r}") from exc
    if payload is None or len(payload) == 0:
        raise BadMessage("empty message")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    if payload.startswith(OUR_PREFIX):
        # Fast path for what `encode` wrote: pydantic parses and validates the bytes in
        # one pass (2x faster than json.loads + model_validate, the ingest's biggest cost).
        # Anything it refuses takes the slow path below, which names the reason.
        try:
            return record_type.model_validate_json(payload)
        except (ValidationError, ValueError, RecursionError, OverflowError):
            pass
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"not UTF-8: {exc}") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadMessage(f"expected a JSON object, got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise BadMessage("text with a lone UTF-16 surrogate: not encodable as UTF-8")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BadMessage(f"unknown schema_version {version!r} (this build reads {SCHEMA_VERSION})")
    try:
        return record_type.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(record)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise BadMessage(f"invalid {record_type.__name__}: {problems}") from exc
    except (RecursionError, OverflowError) as exc:  # pathological nesting or numbers
        raise BadMessage(f"invalid {record_type.__name__}: {exc}") from exc


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def dead_letter(topic: Topic | str, payload: bytes | None, reason: str, group: str = "") -> DeadLetter:
    raw = payload or b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "base64:" + base64.b64encode(raw).decode("ascii")
    return DeadLetter(topic=str(topic)[:128], consumer_group=group[:128], reason=reason[:2000], payload=text)

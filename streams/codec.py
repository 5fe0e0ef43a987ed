"""JSON on the wire: encode a record, decode bytes back into the topic's record type.

Decoding never raises anything but `BadMessage`, whose reason goes to the dead-letter
topic, so one malformed message cannot crash a consumer.
"""

from __future__ import annotations

import base64
import json

from pydantic import ValidationError

from streams.records import SCHEMA_VERSION, DeadLetter, Record
from streams.topics import RECORD_TYPES, Topic

MAX_MESSAGE_BYTES = 1_000_000


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


def dead_letter(topic: Topic | str, payload: bytes | None, reason: str, group: str = "") -> DeadLetter:
    raw = payload or b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "base64:" + base64.b64encode(raw).decode("ascii")
    return DeadLetter(topic=str(topic)[:128], consumer_group=group[:128], reason=reason[:2000], payload=text)

"""Cheap fuzzed bus messages: wrong types, huge fields, bad UTF-8, missing keys, unknown
schema versions, wrong JSON shapes, pathological nesting, lone surrogates, NaN.

Each topic's valid record is encoded once; every fuzzed message is a small change of it,
so 10,000 of them take well under a second to make.
"""

from __future__ import annotations

import json
import random
from typing import Any

from bus_helpers import one_of_each

from streams.codec import encode
from streams.topics import TOPIC_OF, Topic

COMPACT = (",", ":")
"""Records are written as `encode` writes them, so the codec's fast path meets them too."""
DEEP = b"[" * 3000 + b"]" * 3000  # past the JSON parser's recursion limit, 6 kB
HUGE = b'{"schema_version": 1, "note": "' + b"x" * 1_050_000 + b'"}'  # over the codec's 1 MB
WRONG_VALUES: list[Any] = [None, -1, 0, 1e308, -1e308, "", [], {}, "x" * 5000, True, [1, [2, [3]]],
                           {"nested": {"deeper": None}}, "9999-99-99T99:99:99", 2**70, "\u0000"]


def templates() -> dict[Topic, dict[str, Any]]:
    """One valid record per topic, as a JSON object."""
    return {TOPIC_OF[type(r)]: json.loads(encode(r)) for r in one_of_each()}


def fuzz(rng: random.Random, topic: Topic, template: dict[str, Any]) -> bytes:
    """One message for `topic`: mostly broken, a valid one now and then."""
    record = dict(template)
    record["id"] = f"fz{rng.randrange(10**12):012d}"
    choice = rng.randrange(14)
    if choice == 0:
        return json.dumps(record, ensure_ascii=False, separators=COMPACT).encode()  # valid
    if choice == 1:
        return rng.randbytes(rng.randrange(0, 300))
    if choice == 2:  # missing keys
        for key in rng.sample(sorted(record), rng.randrange(1, 4)):
            record.pop(key)
    elif choice == 3:  # wrong types and huge fields
        for key in rng.sample(sorted(record), rng.randrange(1, 3)):
            record[key] = rng.choice(WRONG_VALUES)
    elif choice == 4:  # unknown schema versions
        record["schema_version"] = rng.choice([0, 2, 99, "1", None, 1.5, -1, [1]])
    elif choice == 5:
        record[rng.choice(["unexpected", "", "schema_version2", "x" * 300])] = "field"
    elif choice == 6:
        return DEEP
    elif choice == 7:  # bad UTF-8 inside otherwise good JSON text
        text = json.dumps(record, ensure_ascii=False, separators=COMPACT).encode()
        cut = rng.randrange(1, len(text))
        return text[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]) + text[cut:]
    elif choice == 8:  # wrong JSON shapes
        return json.dumps(rng.choice([[], "text", 42, None, [record], {"record": record}, 1.5])).encode()
    elif choice == 9:  # a lone surrogate or control characters in a text field
        key = rng.choice([k for k, v in record.items() if isinstance(v, str) and k != "schema_version"] or ["id"])
        record[key] = rng.choice(["\ud800", "a\udfffb", "\x00\x01\x1b[31m", "暖" * 3000])
        return json.dumps(record, separators=COMPACT).encode()  # ASCII escapes keep the surrogate in the JSON
    elif choice == 10:
        return rng.choice([b"NaN", b'{"schema_version": NaN}', b'{"schema_version": 1, "ts": Infinity}'])
    elif choice == 11:  # truncated
        text = json.dumps(record, separators=COMPACT).encode()
        return text[: rng.randrange(0, len(text))]
    elif choice == 12 and rng.random() < 0.02:
        return HUGE
    else:  # duplicate keys: the last one wins in Python, maybe not elsewhere
        text = json.dumps(record, separators=COMPACT).encode()
        return text[:-1] + b', "id": ' + json.dumps(rng.choice(WRONG_VALUES)).encode() + b"}"
    return json.dumps(record, ensure_ascii=False, separators=COMPACT).encode()


def fuzzed_messages(count: int, seed: int, topics: list[Topic]) -> list[tuple[Topic, bytes]]:
    rng = random.Random(seed)
    shapes = templates()
    out = []
    for _ in range(count):
        topic = rng.choice(topics)
        out.append((topic, fuzz(rng, topic, shapes[topic])))
    return out

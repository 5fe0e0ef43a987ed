"""Message ids: unique, and sorted by when they were made (stores append them to the id
index instead of writing a random page of it)."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from datetime import UTC, datetime

from streams.records import Sighting, SightingKind, new_id


def _sighting() -> Sighting:
    return Sighting(camera_id="PF-C001", ts=datetime.now(UTC), kind=SightingKind.PLATE,
                    identity="黑A12345", confidence=0.9, bbox=(1, 2, 30, 40))


def test_ids_sort_in_the_order_they_were_made() -> None:
    made = []
    for _ in range(20):
        made += [new_id() for _ in range(500)]  # many within one millisecond
        time.sleep(0.002)
    made += [_sighting().id for _ in range(100)]  # a record's default id is one of them
    assert sorted(made) == made
    assert len(set(made)) == len(made)


def test_an_id_is_a_uuid7_carrying_the_millisecond_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    assert len(made.hex) == 32


def _ids(n: int) -> list[str]:
    return [new_id() for _ in range(n)]


def test_ids_made_at_once_by_threads_and_forked_processes_are_unique() -> None:
    found: list[list[str]] = []
    threads = [threading.Thread(target=lambda: found.append(_ids(20_000))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with multiprocessing.get_context("fork").Pool(4) as pool:
        found += pool.map(_ids, [20_000] * 4)
    every = [i for ids in found for i in ids]
    assert len(set(every)) == len(every) == 160_000
    assert all(ids == sorted(ids) for ids in found)  # each maker's own ids stay in order

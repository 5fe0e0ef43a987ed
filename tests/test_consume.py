"""The consumer loop: bad input is set aside with a reason, never crashes, nothing is lost."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable

import pytest
from bus_helpers import BusSpec, drain, idle, one_of_each, sighting
from fuzz_messages import fuzzed_messages

from streams.bus import Bus
from streams.codec import decode, encode
from streams.consume import MAX_LETTER_PAYLOAD, ConsumerLoop
from streams.records import DeadLetter, Record
from streams.topics import TOPIC_OF, Topic

SOURCE_TOPICS = [t for t in Topic if t is not Topic.DEAD_LETTER]


def valid(topic: Topic, n: int) -> Record:
    """A valid record for `topic` whose id encodes `n` (to check order and identity)."""
    template = next(r for r in one_of_each() if TOPIC_OF[type(r)] is topic)
    return template.model_copy(update={"id": f"{topic.name.lower()}-{n:06d}"})


def malformed(topic: Topic) -> list[tuple[bytes, str]]:
    """Bad payloads for `topic`, each with a piece of the reason it must be set aside with."""
    good = json.loads(encode(valid(topic, 0)))
    missing = {"schema_version": 1, "id": "abcdefgh1234"}
    return [
        (b'{"schema_version": 1, "id": "abc', "not JSON"),
        (b"\xff\xfe\x00\x81 not text", "not UTF-8"),
        (json.dumps({**good, "schema_version": 99}).encode(), "unknown schema_version 99"),
        (json.dumps(missing).encode(), "invalid"),
        (b'{"blob": "' + b"x" * 1_100_000 + b'"}', "exceeds"),
        (b"", "empty message"),
    ]


class Recorder:
    """A handler that remembers what it got, and can be told to fail."""

    def __init__(self, fail_on: Callable[[Record], bool] = lambda r: False) -> None:
        self.seen: list[tuple[Topic, Record]] = []
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self, batch: list[tuple[Topic, Record]]) -> None:
        self.calls += 1
        bad = [r for _, r in batch if self.fail_on(r)]
        if bad:
            raise ValueError(f"cannot store {bad[0].id}")
        self.seen.extend(batch)


def read_letters(bus: Bus, want: int, join_s: float) -> list[DeadLetter]:
    with bus.consumer("letter-reader", [Topic.DEAD_LETTER]) as consumer:
        messages = drain(consumer, want, join_s) + idle(consumer, 0.3)
    letters = [decode(Topic.DEAD_LETTER, m.value) for m in messages]
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    return letters  # type: ignore[return-value]


def test_malformed_messages_on_every_topic_are_set_aside(
    make_bus: Callable[[], Bus], bus_spec: BusSpec
) -> None:
    bus = make_bus()
    expected_reasons: dict[tuple[str, int], str] = {}
    sent_good: dict[Topic, list[str]] = {t: [] for t in SOURCE_TOPICS}
    n = 0
    for topic in SOURCE_TOPICS:
        for payload, reason in malformed(topic):
            good = valid(topic, n)
            bus.publish(good)
            sent_good[topic].append(good.id)
            bus.send(topic, payload, key="k")
            expected_reasons[(topic.value, len(payload))] = reason
            n += 1
    bus.flush()

    handler = Recorder()
    loop = ConsumerLoop(bus, "fussy", SOURCE_TOPICS, handler)
    total = n * 2
    assert loop.wait_for(lambda: loop.consumed >= total, timeout_s=bus_spec.join_s + 10)
    loop.close()

    assert (loop.consumed, loop.handled, loop.dead_lettered) == (total, n, n)
    for topic in SOURCE_TOPICS:  # good records arrive whole, in order, between the bad ones
        assert [r.id for t, r in handler.seen if t is topic] == sent_good[topic]

    letters = read_letters(bus, n, bus_spec.join_s)
    assert len(letters) == n
    for letter in letters:
        assert letter.consumer_group == "fussy"
        size = _original_size(letter)
        assert expected_reasons[(letter.topic, size)] in letter.reason

    # and the group committed: a new loop of the same group finds nothing left
    with ConsumerLoop(make_bus(), "fussy", SOURCE_TOPICS, Recorder()) as again:
        assert again.run_once(timeout_s=1.0) + again.run_once(timeout_s=1.0) == 0


def _original_size(letter: DeadLetter) -> int:
    """The size of the payload the letter came from (cut payloads say it in the reason)."""
    if "payload cut to its first" in letter.reason:
        return int(letter.reason.split(" of ")[1].split(" bytes")[0])
    if letter.payload.startswith("base64:"):
        return len(base64.b64decode(letter.payload.removeprefix("base64:")))
    return len(letter.payload.encode("utf-8"))


def test_a_huge_message_leaves_a_readable_letter(tmp_path) -> None:
    spec = BusSpec("local", str(tmp_path / "bus"), "")
    with spec.open() as bus:
        bus.send(Topic.GRID, b'{"note": "' + "暖".encode() * 500_000 + b'"}')
        loop = ConsumerLoop(bus, "g", [Topic.GRID], Recorder())
        assert loop.run_once(timeout_s=2) == 1
        loop.close()
        (letter,) = read_letters(bus, 1, 2.0)
    assert "exceeds" in letter.reason and "sha256" in letter.reason
    assert len(letter.payload.encode("utf-8")) <= MAX_LETTER_PAYLOAD


@pytest.fixture
def local_bus(tmp_path) -> Bus:
    bus = BusSpec("local", str(tmp_path / "bus"), "").open()
    yield bus
    bus.close()


def test_bad_messages_on_the_dead_letter_topic_do_not_loop(local_bus: Bus) -> None:
    local_bus.send(Topic.DEAD_LETTER, b"garbage")
    local_bus.publish(DeadLetter(topic="cityops.grid", reason="not JSON", payload="{"))
    handler = Recorder()
    with ConsumerLoop(local_bus, "auditor", [Topic.DEAD_LETTER], handler) as loop:
        assert loop.run_once(timeout_s=2) == 2
        assert loop.run_once(timeout_s=0.3) == 0  # nothing was re-published
    assert (loop.handled, loop.dead_lettered) == (1, 1)


def test_a_record_the_handler_rejects_is_set_aside_alone(local_bus: Bus) -> None:
    records = [sighting(n, identity="黑A00000" if n != 4 else "黑Z99999") for n in range(10)]
    for record in records:
        local_bus.publish(record)
    handler = Recorder(fail_on=lambda r: getattr(r, "identity", "") == "黑Z99999")
    with ConsumerLoop(local_bus, "store", [Topic.SIGHTINGS], handler) as loop:
        assert loop.run_once(timeout_s=2) == 10
    assert [r.id for _, r in handler.seen] == [r.id for r in records if r.identity != "黑Z99999"]
    assert (loop.consumed, loop.handled, loop.dead_lettered) == (10, 9, 1)
    (letter,) = read_letters(local_bus, 1, 2.0)
    assert letter.reason == f"handler failed: ValueError: cannot store {records[4].id}"
    assert decode(Topic.SIGHTINGS, letter.payload.encode()) == records[4]
    with ConsumerLoop(local_bus, "store", [Topic.SIGHTINGS], Recorder()) as again:
        assert again.run_once(timeout_s=0.3) == 0  # committed after handling


def test_nothing_is_committed_before_it_is_handled(local_bus: Bus) -> None:
    for n in range(5):
        local_bus.publish(sighting(n))

    def crash(batch: list[tuple[Topic, Record]]) -> None:
        raise KeyboardInterrupt  # the process dies in the middle of handling

    with ConsumerLoop(local_bus, "store", [Topic.SIGHTINGS], crash) as loop, pytest.raises(KeyboardInterrupt):
        loop.run_once(timeout_s=2)
    handler = Recorder()
    with ConsumerLoop(local_bus, "store", [Topic.SIGHTINGS], handler) as loop:
        assert loop.run_once(timeout_s=2) == 5
    assert [r.id for _, r in handler.seen] == [sighting(n).id for n in range(5)]


def test_transient_errors_retry_the_batch_instead_of_dead_lettering(local_bus: Bus) -> None:
    for n in range(3):
        local_bus.publish(sighting(n))
    outages = iter([True, True, False])
    seen: list[str] = []

    def store(batch: list[tuple[Topic, Record]]) -> None:
        if next(outages):
            raise ConnectionError("database is down")
        seen.extend(r.id for _, r in batch)

    loop = ConsumerLoop(
        local_bus, "store", [Topic.SIGHTINGS], store, transient=(ConnectionError,), retry_pause_s=0.05
    )
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        for _ in range(100):
            if seen:
                break
            threading.Event().wait(0.05)
    finally:
        loop.stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert seen == [sighting(n).id for n in range(3)]
    assert loop.dead_lettered == 0


def test_run_stops_when_asked_and_hands_the_topic_over(local_bus: Bus) -> None:
    for n in range(50):
        local_bus.publish(sighting(n))
    handler = Recorder()
    stop = threading.Event()
    loop = ConsumerLoop(local_bus, "live", [Topic.SIGHTINGS], handler, stop=stop, max_records=20)
    thread = threading.Thread(target=loop.run)
    thread.start()
    for _ in range(100):
        if loop.handled >= 50:
            break
        threading.Event().wait(0.05)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and loop.handled == 50
    local_bus.publish(sighting(50))
    with ConsumerLoop(local_bus, "live", [Topic.SIGHTINGS], handler) as next_member:
        assert next_member.run_once(timeout_s=1) == 1  # the lease was released at once


FUZZED = 10_000


def test_fuzzed_input_never_crashes_the_loop(local_bus: Bus) -> None:
    """10,000 fuzzed messages (tests/fuzz_messages.py) over every source topic: the loop
    never fails, counts each message once, and sets every bad one aside with a reason."""
    messages = fuzzed_messages(FUZZED, seed=20250115, topics=SOURCE_TOPICS)
    keys = [None, "k", "暖气"]
    for i, (topic, payload) in enumerate(messages):
        local_bus.send(topic, payload, key=keys[i % 3])
    local_bus.flush()
    sent = len(messages)
    handler = Recorder()
    with ConsumerLoop(local_bus, "fuzz", SOURCE_TOPICS, handler, max_records=2000) as loop:
        assert loop.wait_for(lambda: loop.consumed >= sent, timeout_s=60)
    assert loop.consumed == sent == loop.handled + loop.dead_lettered
    assert loop.dead_lettered > sent * 0.8
    assert len(handler.seen) == loop.handled  # what was handled decoded into valid records
    letters = read_letters(local_bus, loop.dead_lettered, 5.0)
    assert len(letters) == loop.dead_lettered
    assert all(letter.reason for letter in letters)


"""One contract, two buses: what every producer and consumer in CityOps relies on.

Each test runs on LocalBus (files under tmp_path) and on a real Tansu broker (Kafka
protocol, `-m kafka`). A few tests at the end are specific to one implementation.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bus_helpers import (
    BusSpec,
    consume_and_commit,
    drain,
    hold_lease_and_die,
    idle,
    one_of_each,
    produce,
    sighting,
    write_until_killed,
)

from streams.bus import Bus, BusUnavailable, open_bus
from streams.codec import decode
from streams.kafkabus import KafkaBus
from streams.localbus import LocalBus
from streams.tansu import TansuBroker, answers_metadata, free_port
from streams.topics import TOPIC_OF, Topic

ALL_TOPICS = list(Topic)
spawn = multiprocessing.get_context("spawn")


def ids(messages: list) -> list[str]:
    return [json.loads(m.value)["id"] for m in messages]


# ---------------------------------------------------------------- the contract


def test_each_record_type_round_trips(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    records = one_of_each()
    bus = make_bus()
    for record in records:
        bus.publish(record)
    bus.flush()
    with bus.consumer("roundtrip", ALL_TOPICS) as consumer:
        got = drain(consumer, len(records), bus_spec.join_s)
    assert len(got) == len(records)
    back = {m.topic: decode(m.topic, m.value) for m in got}
    for record in records:
        topic = TOPIC_OF[type(record)]
        assert back[topic] == record
        assert next(m.key for m in got if m.topic is topic) == record.key()


def test_order_is_kept_per_key(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    plates = ["黑A10001", "黑A10002", "黑B20003", "黑L30004", "吉A40005"]
    bus = make_bus()
    for n in range(500):
        bus.publish(sighting(n, identity=plates[n % len(plates)]))
    bus.flush()
    with bus.consumer("order", [Topic.SIGHTINGS]) as consumer:
        got = drain(consumer, 500, bus_spec.join_s)
    assert len(got) == 500
    per_key: dict[str, list[int]] = defaultdict(list)
    for message in got:
        per_key[message.key].append(int(json.loads(message.value)["id"][1:]))
    assert len(per_key) == len(plates)
    for sequence in per_key.values():
        assert sequence == sorted(sequence)


def test_two_groups_each_get_everything(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    bus = make_bus()
    for n in range(200):
        bus.publish(sighting(n, identity=f"黑A{n % 9:05d}"))
    bus.flush()
    expected = {f"s{n:012d}" for n in range(200)}

    def read_all(group: str) -> list:
        with bus.consumer(group, [Topic.SIGHTINGS]) as consumer:
            return drain(consumer, 200, bus_spec.join_s)

    with ThreadPoolExecutor(2) as pool:  # both groups join at the same time
        got_a, got_b = pool.map(read_all, ["trajectories", "alerts"])
    assert sorted(ids(got_a)) == sorted(expected)
    assert sorted(ids(got_b)) == sorted(expected)


def test_committed_offsets_survive_reopening(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    bus = make_bus()
    for n in range(30):
        bus.publish(sighting(n, identity=f"黑A{n % 4:05d}"))
    bus.flush()
    with bus.consumer("resume", [Topic.SIGHTINGS]) as consumer:
        first = drain(consumer, 12, bus_spec.join_s, max_records=4)
        consumer.commit()
    assert len(first) == 12
    for n in range(30, 40):
        bus.publish(sighting(n, identity=f"黑A{n % 4:05d}"))
    bus.flush()
    with make_bus().consumer("resume", [Topic.SIGHTINGS]) as consumer:
        rest = drain(consumer, 28, bus_spec.join_s)
        rest += idle(consumer, 0.5)
    assert sorted(ids(first) + ids(rest)) == [f"s{n:012d}" for n in range(40)]


def test_uncommitted_messages_are_delivered_again(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    bus = make_bus()
    for n in range(50):
        bus.publish(sighting(n, identity=f"黑A{n % 5:05d}"))
    bus.flush()
    with bus.consumer("crashy", [Topic.SIGHTINGS]) as consumer:
        first = drain(consumer, 50, bus_spec.join_s)
        # no commit: as if the process died while handling
    with bus.consumer("crashy", [Topic.SIGHTINGS]) as consumer:
        again = drain(consumer, 50, bus_spec.join_s)
    assert len(first) == 50
    assert sorted(ids(again)) == sorted(ids(first))


def test_producers_in_many_processes_lose_nothing(make_bus: Callable[[], Bus], bus_spec: BusSpec) -> None:
    producers, each = 4, 400
    with spawn.Pool(producers) as pool:
        sent = pool.starmap(produce, [(bus_spec, p, each) for p in range(producers)])
    assert sum(sent) == producers * each
    with make_bus().consumer("count", [Topic.SIGHTINGS]) as consumer:
        got = drain(consumer, producers * each, bus_spec.join_s + 10)
        got += idle(consumer, 0.5)
    expected = {f"s{p * 1_000_000 + i:012d}" for p in range(producers) for i in range(each)}
    assert len(got) == len(expected)
    assert set(ids(got)) == expected
    # and each producer's messages of one key kept their order
    per_key: dict[str, list[str]] = defaultdict(list)
    for message in got:
        per_key[message.key].append(json.loads(message.value)["id"])
    assert all(seq == sorted(seq) for seq in per_key.values())


# ---------------------------------------------------------------- LocalBus only


@pytest.fixture
def local(tmp_path: Path) -> BusSpec:
    return BusSpec("local", str(tmp_path / "bus"), "")


def test_local_offsets_survive_a_new_process(local: BusSpec) -> None:
    with local.open() as bus:
        for n in range(100):
            bus.publish(sighting(n))
    with spawn.Pool(1) as pool:
        first = pool.apply(consume_and_commit, (local, "proc", [Topic.SIGHTINGS.value], 60))
    assert first == [f"s{n:012d}" for n in range(60)]
    with local.open() as bus, bus.consumer("proc", [Topic.SIGHTINGS]) as consumer:
        rest = drain(consumer, 40, 2.0) + idle(consumer, 0.3)
    assert ids(rest) == [f"s{n:012d}" for n in range(60, 100)]


def test_local_send_without_flush_is_delivered_and_durable(local: BusSpec) -> None:
    writer = local.open()
    writer.publish(sighting(1))
    with local.open() as other, other.consumer("live", [Topic.SIGHTINGS]) as consumer:
        assert ids(drain(consumer, 1, 2.0)) == ["s000000000001"]  # the flusher wrote it
    writer.publish(sighting(2))
    writer.close()  # close writes what is buffered
    with LocalBus(Path(local.where)) as reopened, reopened.consumer("late", [Topic.SIGHTINGS]) as consumer:
        assert ids(drain(consumer, 2, 2.0)) == ["s000000000001", "s000000000002"]


def test_local_second_member_waits_then_takes_over(local: BusSpec) -> None:
    with local.open() as bus:
        for n in range(10):
            bus.publish(sighting(n))
        first = bus.consumer("one", [Topic.SIGHTINGS])
        assert len(first.poll(1.0)) == 10
        second = bus.consumer("one", [Topic.SIGHTINGS])
        assert second.poll(0.3) == []  # the topic is the first member's
        first.close()  # uncommitted: the second member gets all ten again
        assert len(drain(second, 10, 2.0)) == 10
        second.close()


def test_local_crashed_member_is_taken_over_and_fenced(local: BusSpec) -> None:
    with local.open() as bus:
        for n in range(20):
            bus.publish(sighting(n))
    process = spawn.Process(target=hold_lease_and_die, args=(local, "g", Topic.SIGHTINGS.value, 1.0))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    with LocalBus(Path(local.where), lease_s=0.5) as bus:
        survivor = bus.consumer("g", [Topic.SIGHTINGS])
        started = time.monotonic()
        got = drain(survivor, 20, 5.0)
        assert len(got) == 20 and time.monotonic() - started < 3.0
        # a stalled member whose lease ran out must not commit over the new owner
        stalled = bus.consumer("h", [Topic.SIGHTINGS])
        assert len(stalled.poll(1.0)) == 20
        time.sleep(0.6)
        owner = bus.consumer("h", [Topic.SIGHTINGS])
        assert len(drain(owner, 20, 2.0)) == 20
        stalled.commit()  # refused: nothing committed
        assert bus.backlog("h")[Topic.SIGHTINGS] == 20
        owner.commit()
        assert bus.backlog("h")[Topic.SIGHTINGS] == 0
        for consumer in (survivor, stalled, owner):
            consumer.close()


def test_local_writer_killed_mid_write_loses_nothing_flushed(local: BusSpec) -> None:
    flushed = spawn.Value("q", 0)
    writer = spawn.Process(target=write_until_killed, args=(local, flushed))
    writer.start()
    deadline = time.monotonic() + 30
    while flushed.value < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(writer.pid, signal.SIGKILL)  # possibly inside a write transaction
    writer.join(10)
    durable = flushed.value
    assert durable >= 3000
    with local.open() as bus:
        bus.publish(sighting(10**9))  # the files are writable again at once
        bus.flush()
        with bus.consumer("after-crash", [Topic.SIGHTINGS]) as consumer:
            got = ids(drain(consumer, 10**6, 3.0, max_records=5000))
    written = [int(i[1:]) for i in got[:-1]]
    assert got[-1] == f"s{10**9:012d}"
    assert written == list(range(len(written)))  # a prefix: no holes, no duplicates
    assert len(written) >= durable


def test_local_compact_keeps_what_a_group_still_needs(local: BusSpec) -> None:
    with local.open() as bus:
        assert isinstance(bus, LocalBus)
        for n in range(100):
            bus.publish(sighting(n))
        bus.flush()
        with bus.consumer("fast", [Topic.SIGHTINGS]) as fast:
            drain(fast, 100, 2.0)
            fast.commit()
        with bus.consumer("slow", [Topic.SIGHTINGS]) as slow:
            drain(slow, 30, 2.0, max_records=30)
            slow.commit()
        assert bus.compact(keep_hours=1)[Topic.SIGHTINGS] == 0  # all too young
        assert bus.compact(keep_hours=0)[Topic.SIGHTINGS] == 30  # what both groups passed
        with bus.consumer("slow", [Topic.SIGHTINGS]) as slow:
            assert ids(drain(slow, 70, 2.0)) == [f"s{n:012d}" for n in range(30, 100)]
            slow.commit()
        assert bus.compact(keep_hours=0)[Topic.SIGHTINGS] == 70
        # offsets are never reused after the topic was emptied: new messages still arrive
        bus.publish(sighting(500))
        bus.flush()
        with bus.consumer("fast", [Topic.SIGHTINGS]) as fast:
            assert ids(drain(fast, 1, 2.0)) == ["s000000000500"]


def test_open_bus_picks_local_under_home(tmp_path: Path) -> None:
    with open_bus("local", tmp_path) as bus:
        bus.publish(sighting(1))
    assert (tmp_path / "bus" / f"{Topic.SIGHTINGS.value}.db").exists()


# ---------------------------------------------------------------- Kafka / Tansu only


def test_kafka_bus_without_a_broker_says_how_to_fix_it() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match=rf"no Kafka broker at 127\.0\.0\.1:{port}.*--bus local"):
        KafkaBus(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5


@pytest.mark.kafka
def test_tansu_stops_without_orphans_and_starts_again(tmp_path: Path) -> None:
    broker = TansuBroker(log_file=tmp_path / "tansu.log")
    with broker:
        pid = broker.pid
        assert broker.url == f"kafka://127.0.0.1:{broker.port}"
        broker.stop()
        assert not answers_metadata("127.0.0.1", broker.port)
        assert pid is not None and not Path(f"/proc/{pid}").exists()
        broker.start()  # same port, so clients reconnect to the same address
        assert answers_metadata("127.0.0.1", broker.port)
        with KafkaBus(broker.bootstrap) as bus:
            bus.publish(sighting(1))
            bus.flush()
            broker.stop()
            broker.start()  # an empty broker: no topics, no producer ids
            bus.publish(sighting(2))
            bus.flush()  # resent on a new producer after recreating the topics
            with bus.consumer("after-restart", [Topic.SIGHTINGS]) as consumer:
                assert ids(drain(consumer, 1, 20.0) + idle(consumer, 0.3)) == ["s000000000002"]
    assert not answers_metadata("127.0.0.1", broker.port)
    assert "listening on" in (tmp_path / "tansu.log").read_text()

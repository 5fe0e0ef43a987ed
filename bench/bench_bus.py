"""Bus throughput with Sighting-sized messages: LocalBus, and Kafka through the bundled Tansu.

    python bench/bench_bus.py [--count 100000] [--tansu-count 30000] [--no-tansu]

Prints messages per second for: send+flush (one producer), poll+commit (raw messages,
one consumer) and the full consumer loop (poll, decode to `Sighting`, hand to a no-op
handler, commit), which is what analytics ingest pays before its own work.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.bus import Bus
from streams.codec import encode
from streams.consume import ConsumerLoop
from streams.records import Sighting, SightingKind
from streams.topics import Topic

T0 = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)


def payloads(count: int) -> list[tuple[bytes, str]]:
    out = []
    for n in range(count):
        record = Sighting(
            camera_id=f"C{n % 152:03d}",
            ts=T0 + timedelta(milliseconds=n),
            kind=SightingKind.PLATE,
            identity=f"黑A{n % 5000:05d}",
            confidence=0.93,
            bbox=(412, 280, 530, 318),
            track_id=f"C{n % 152:03d}-{n}",
            snapshot=f"snapshots/C{n % 152:03d}/2025-01-15/{n:08d}.jpg",
            plate_color="blue",
        )
        out.append((encode(record), record.key()))
    return out


def measure(name: str, bus: Bus, data: list[tuple[bytes, str]], join_s: float) -> None:
    count = len(data)
    gc.collect()
    started = time.perf_counter()
    for value, key in data:
        bus.send(Topic.SIGHTINGS, value, key)
    bus.flush()
    send_rate = count / (time.perf_counter() - started)

    with bus.consumer("bench-raw", [Topic.SIGHTINGS]) as consumer:
        got = len(consumer.poll(join_s, 1))  # join the group outside the clock
        started = time.perf_counter()
        while got < count:
            batch = consumer.poll(5.0, 2000)
            if not batch:
                break
            got += len(batch)
            consumer.commit()
        poll_rate = got / (time.perf_counter() - started)

    loop = ConsumerLoop(bus, "bench-loop", [Topic.SIGHTINGS], lambda batch: None, max_records=2000)
    loop.run_once(timeout_s=join_s)
    started, cpu_started = time.perf_counter(), time.process_time()
    while loop.consumed < count and loop.run_once(timeout_s=5.0):
        pass
    done = loop.consumed - 1
    loop_rate = done / (time.perf_counter() - started)
    loop_cpu_rate = done / max(time.process_time() - cpu_started, 1e-9)
    loop.close()
    print(
        f"{name:6s} {count:>7,d} msgs of {len(data[0][0])} B: send+flush {send_rate:>8,.0f}/s  "
        f"poll+commit {poll_rate:>8,.0f}/s  loop (decode+commit) {loop_rate:>8,.0f}/s "
        f"= {loop_cpu_rate:,.0f}/s per CPU second of the consumer"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--tansu-count", type=int, default=30_000)
    parser.add_argument("--no-tansu", action="store_true")
    args = parser.parse_args()

    from streams.localbus import LocalBus

    with tempfile.TemporaryDirectory() as folder:
        with LocalBus(Path(folder)) as bus:
            measure("local", bus, payloads(args.count), join_s=2.0)
        if not args.no_tansu:
            from streams.kafkabus import KafkaBus
            from streams.tansu import TansuBroker

            with TansuBroker(log_file=Path(folder) / "tansu.log") as broker, KafkaBus(broker.bootstrap) as bus:
                measure("tansu", bus, payloads(args.tansu_count), join_s=20.0)


if __name__ == "__main__":
    main()

"""Bus test helpers that child processes can import (spawned children cannot unpickle
functions that live in conftest or in a test module's fixtures)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.bus import Bus, Consumer, Message
from streams.records import (
    Alert,
    AlertKind,
    CameraStatus,
    ComplaintEvent,
    ComplaintEventType,
    ComplaintSource,
    DeadLetter,
    GridEvent,
    GridEventKind,
    GridStatusLevel,
    Record,
    Sighting,
    SightingKind,
)

T0 = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BusSpec:
    """Enough to open the same bus again, in this process or another."""

    kind: str  # "local" or "tansu"
    where: str  # LocalBus folder, or Kafka bootstrap host:port
    namespace: str

    def open(self) -> Bus:
        if self.kind == "local":
            from streams.localbus import LocalBus

            return LocalBus(Path(self.where), namespace=self.namespace)
        from streams.kafkabus import KafkaBus

        return KafkaBus(self.where, namespace=self.namespace)

    @property
    def join_s(self) -> float:
        """How long a new consumer may need before its first message (Kafka groups join)."""
        return 2.0 if self.kind == "local" else 20.0


def sighting(n: int, identity: str = "黑A12345", camera: str = "C001", track: str = "") -> Sighting:
    """A Sighting of realistic size; `n` makes it unique and orders it in time."""
    return Sighting(
        id=f"s{n:012d}",
        camera_id=camera,
        ts=T0 + timedelta(seconds=n),
        kind=SightingKind.PLATE,
        identity=identity,
        confidence=0.93,
        bbox=(412, 280, 530, 318),
        track_id=track or f"{camera}-{n}",
        snapshot=f"snapshots/{camera}/2025-01-15/{n:08d}.jpg",
        plate_color="blue",
    )


def one_of_each() -> list[Record]:
    """One valid record for every topic, with realistic content."""
    return [
        sighting(1),
        CameraStatus(camera_id="C017", ts=T0, online=True, fps_in=12.5, last_frame_ts=T0, worker="w1"),
        Alert(
            ts=T0,
            kind=AlertKind.CLONED_PLATE,
            title="黑A12345 at two cameras 9 km apart within 3 minutes",
            identity="plate:黑A12345",
            camera_id="C001",
            evidence=["s000000000001", "s000000000002"],
            recipients=["police"],
        ),
        ComplaintEvent(
            code="PF-20250115-000042",
            ts=T0,
            type=ComplaintEventType.CREATED,
            text="暖气不热，室内只有12度",
            category="heating",
            level=3,
            lat=45.6,
            lon=126.7,
            grid_id="G-01-02-03",
            due_at=T0 + timedelta(hours=24),
            source=ComplaintSource.APP,
            department="heating",
        ),
        GridEvent(ts=T0, grid_id="G-01-02-03", kind=GridEventKind.STATUS, status=GridStatusLevel.ALARM),
        DeadLetter(topic="cityops.sightings", reason="not JSON", payload="{oops"),
    ]


def drain(
    consumer: Consumer, want: int, timeout_s: float, max_records: int = 500, commit: bool = False
) -> list[Message]:
    """Poll until `want` messages came (or the time is up); commit each batch if asked."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        batch = consumer.poll(0.2, min(max_records, want - len(got)))
        got.extend(batch)
        if batch and commit:
            consumer.commit()
    return got


def idle(consumer: Consumer, quiet_s: float) -> list[Message]:
    """What a consumer still receives over `quiet_s` (used to prove nothing more comes)."""
    got: list[Message] = []
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        got.extend(consumer.poll(0.2))
    return got


# ------------------------------------------------------------ child-process entry points


def produce(spec: BusSpec, producer: int, count: int) -> int:
    """One producer process: `count` sightings with ids unique to this producer."""
    with spec.open() as bus:
        for i in range(count):
            record = sighting(producer * 1_000_000 + i, identity=f"黑A{producer:02d}{i % 7:03d}")
            bus.publish(record)
        bus.flush()
    return count


def consume_and_commit(spec: BusSpec, group: str, topics: list[str], count: int) -> list[str]:
    """One consumer process: read `count` messages, commit them, close; returns their ids."""
    import json

    from streams.topics import Topic

    with spec.open() as bus, bus.consumer(group, [Topic(t) for t in topics]) as consumer:
        got = drain(consumer, count, timeout_s=spec.join_s + 10, max_records=count)
        consumer.commit()
    return [json.loads(m.value)["id"] for m in got]


def hold_lease_and_die(spec: BusSpec, group: str, topic: str, lease_s: float) -> None:
    """Take a topic's lease, read without committing, then die without closing (a crash)."""
    import os

    from streams.localbus import LocalBus
    from streams.topics import Topic

    bus = LocalBus(Path(spec.where), namespace=spec.namespace, lease_s=lease_s)
    consumer = bus.consumer(group, [Topic(topic)])
    consumer.poll(1.0)
    os._exit(0)


def write_until_killed(spec: BusSpec, flushed: Any) -> None:
    """Send sightings in flushed batches forever, reporting how many are durable."""
    with spec.open() as bus:
        n = 0
        while True:
            for _ in range(50):
                bus.publish(sighting(n))
                n += 1
            bus.flush()
            flushed.value = n

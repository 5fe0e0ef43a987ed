"""The bus interface: publish records to topics, consume them in groups, at least once.

Two implementations share it: `LocalBus` (the embedded default, files under the data
folder, works across processes) and `KafkaBus` (kafka-python against any Kafka-protocol
broker). `open_bus` picks one from a URL: `local` or `kafka://host:port[,host:port]`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

from streams.records import Record
from streams.topics import TOPIC_OF, Topic


@dataclass(frozen=True, slots=True)
class Message:
    """One message as read from the bus, before decoding (decoding may fail)."""

    topic: Topic
    partition: int
    offset: int
    key: str | None
    value: bytes


class Consumer(abc.ABC):
    """Reads topics as one member of a consumer group; `commit` marks what was handled."""

    @abc.abstractmethod
    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Message]:
        """Next messages after this member's position (empty when none arrived in time)."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Commit the position past every message returned by `poll` so far."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(abc.ABC):
    """Where records travel between processes."""

    url: str

    @abc.abstractmethod
    def send(self, topic: Topic, value: bytes, key: str | None = None) -> None:
        """Send raw bytes (the codec's output, or anything, for tests of bad input)."""

    def publish(self, record: Record, topic: Topic | None = None) -> None:
        """Send a record to its topic, keyed for ordering (sightings by identity, ...)."""
        from streams.codec import encode

        self.send(topic or TOPIC_OF[type(record)], encode(record), record.key())

    @abc.abstractmethod
    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until everything sent so far is acknowledged by the bus."""

    @abc.abstractmethod
    def consumer(self, group: str, topics: list[Topic]) -> Consumer:
        """A member of `group` reading `topics` from the group's committed positions."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BusUnavailable(RuntimeError):
    """The bus cannot be reached; the message says which and how to fix it."""


def open_bus(url: str, home: Path) -> Bus:
    """`local` -> LocalBus under `home`; `kafka://h:p[,h:p]` -> KafkaBus with a disk spool
    under `home` for outages."""
    if url in ("", "local") or url.startswith("local:"):
        from streams.localbus import LocalBus

        return LocalBus(home / "bus")
    if url.startswith("kafka://"):
        from streams.kafkabus import KafkaBus
        from streams.spool import SpoolingBus

        # producers keep what the broker cannot take on disk (streams/spool.py)
        return SpoolingBus(KafkaBus(url.removeprefix("kafka://")), home / "spool")
    raise ValueError(f"unknown bus {url!r}: use 'local' or 'kafka://host:port'")

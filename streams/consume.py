"""The consumer loop every analytics consumer runs: poll, decode, handle, commit.

A malformed message goes to the dead-letter topic with its reason and the loop goes on;
a record the handler rejects is retried alone, then dead-lettered with the exception.
Offsets are committed only after the whole batch is handled or set aside (and the
dead letters are flushed), so a crash at any point redelivers rather than loses.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from streams.bus import Bus, BusUnavailable, Consumer, Message
from streams.codec import BadMessage, dead_letter, decode
from streams.records import Record
from streams.topics import Topic

log = logging.getLogger(__name__)

MAX_LETTER_PAYLOAD = 100_000
"""A dead letter keeps at most this much of the original payload (plus its size and
hash), so the letter itself stays under the codec's size limit even after base64 or JSON
escaping and can be read back like any other record."""

MAX_RETRY_PAUSE_S = 5.0
"""Longest wait between tries while the bus or the database is down: a try costs a refused
TCP connect or one query, and a restarted broker is read again within seconds (with 30 s
the store caught up 26 s after a broker restart instead of 9 s)."""

YOUNG_COLLECTION_EVERY = 20_000
"""Net new container objects between young garbage collections in a consumer process."""

Handler = Callable[[list[tuple[Topic, Record]]], None]


def collect_garbage_less_often() -> None:
    """For a process of consumers: a young collection every 20,000 net new objects, not 700.

    A polled batch (2,000 records, ~10,000 objects) outlived several young collections at
    the default, so it was promoted, and every few batches a full collection walked the
    whole heap: ~10% of the ingest's CPU (2M month, 50,000 sightings). Now a batch is
    freed by reference counting before any collection; cycles are still collected, once
    20,000 objects have piled up.
    """
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


class ConsumerLoop:
    """Feeds decoded records of `topics` to `handle`, as one member of `group`.

    `transient` lists exception types that mean "try again later" (a database that is
    down), not "this record is bad": the batch is then not committed, so it comes back,
    instead of being dead-lettered.
    """

    def __init__(
        self,
        bus: Bus,
        group: str,
        topics: Sequence[Topic],
        handle: Handler,
        stop: threading.Event | None = None,
        poll_timeout_s: float = 0.5,
        max_records: int = 500,
        transient: tuple[type[BaseException], ...] = (),
        retry_pause_s: float = 1.0,
    ) -> None:
        self.bus = bus
        self.group = group
        self.topics = [Topic(t) for t in topics]
        self.handle = handle
        self.stop = stop or threading.Event()
        self.poll_timeout_s = poll_timeout_s
        self.max_records = max_records
        self.transient = transient
        self.retry_pause_s = retry_pause_s
        self.consumed = 0
        self.handled = 0
        self.dead_lettered = 0
        self._consumer: Consumer | None = None

    # ------------------------------------------------------------ running

    def run(self) -> None:
        """Until `stop` is set. Bus outages and transient handler errors pause and retry."""
        pause = self.retry_pause_s
        try:
            while not self.stop.is_set():
                try:
                    self.run_once()
                    pause = self.retry_pause_s
                except (BusUnavailable, *self.transient) as exc:
                    log.warning("consumer %s: %s; retrying in %.0f s", self.group, exc, pause)
                    self._drop_consumer()
                    self.stop.wait(pause)
                    pause = min(pause * 2, MAX_RETRY_PAUSE_S)
        finally:
            self.close()

    def run_once(self, timeout_s: float | None = None) -> int:
        """Poll one batch, handle it, commit it; returns how many messages it held."""
        consumer = self._open()
        messages = consumer.poll(
            self.poll_timeout_s if timeout_s is None else timeout_s, self.max_records
        )
        if not messages:
            return 0
        self.consumed += len(messages)
        good: list[tuple[Topic, Record]] = []
        letters = 0
        for message in messages:
            try:
                good.append((message.topic, decode(message.topic, message.value)))
            except BadMessage as exc:
                self._set_aside(message, exc.reason)
                letters += 1
        letters += self._handle(good)
        if letters:
            self.bus.flush()  # the dead letters are safe before the originals are committed
        consumer.commit()
        return len(messages)

    def _handle(self, batch: list[tuple[Topic, Record]]) -> int:
        """Handle the batch; on failure, record by record. Returns records set aside."""
        if not batch:
            return 0
        try:
            self.handle(batch)
        except self.transient:
            raise
        except Exception as exc:
            log.warning(
                "consumer %s: a batch of %d failed (%s); retrying one by one",
                self.group, len(batch), exc,
            )
        else:
            self.handled += len(batch)
            return 0
        letters = 0
        for topic, record in batch:
            try:
                self.handle([(topic, record)])
            except self.transient:
                raise
            except Exception as exc:
                reason = f"handler failed: {type(exc).__name__}: {exc}"
                self._set_aside_record(topic, record, reason)
                letters += 1
            else:
                self.handled += 1
        return letters

    # ------------------------------------------------------------ dead letters

    def _set_aside(self, message: Message, reason: str) -> None:
        log.warning(
            "consumer %s: dead-lettered %s offset %d: %s",
            self.group, message.topic.value, message.offset, reason[:300],
        )
        self._publish_letter(message.topic, message.value, reason)

    def _set_aside_record(self, topic: Topic, record: Record, reason: str) -> None:
        log.warning("consumer %s: dead-lettered %s record %s: %s", self.group, topic.value, record.id, reason[:300])
        try:
            payload = record.model_dump_json().encode("utf-8")
        except ValueError as exc:  # a record that cannot even be serialised is still set aside
            payload = repr(record).encode("utf-8", "backslashreplace")
            reason = f"{reason} (and not serialisable: {exc})"
        self._publish_letter(topic, payload, reason)

    def _publish_letter(self, topic: Topic, payload: bytes, reason: str) -> None:
        self.dead_lettered += 1
        if topic is Topic.DEAD_LETTER:
            # Already set aside once; publishing it again could loop forever.
            return
        if len(payload) > MAX_LETTER_PAYLOAD:
            digest = hashlib.sha256(payload).hexdigest()
            reason = f"{reason[:1500]} [payload cut to its first {MAX_LETTER_PAYLOAD} of {len(payload)} bytes, sha256 {digest}]"
            payload = payload[:MAX_LETTER_PAYLOAD]
        self.bus.publish(dead_letter(topic, payload, reason, self.group), Topic.DEAD_LETTER)

    # ------------------------------------------------------------ lifecycle

    def _open(self) -> Consumer:
        if self._consumer is None:
            self._consumer = self.bus.consumer(self.group, self.topics)
        return self._consumer

    def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as exc:  # closing a consumer of a dead broker may fail too
                log.debug("closing consumer %s: %s", self.group, exc)

    def close(self) -> None:
        self._drop_consumer()

    def __enter__(self) -> ConsumerLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Run batches until `condition()` holds (tests and one-shot tools); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() >= deadline:
                return False
            self.run_once(timeout_s=min(0.5, max(deadline - time.monotonic(), 0.01)))
        return True

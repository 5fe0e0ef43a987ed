"""The bus on Kafka (or any Kafka-protocol broker, e.g. the bundled Tansu), via kafka-python.

Topics are created on first use with `streams.topics.PARTITIONS`. The producer waits for
all replicas (acks='all') and is idempotent, so retries neither lose nor reorder messages
of one key; sightings are keyed by identity, so one identity's history stays on one
partition and one consumer. Consumers commit by hand after handling (at least once).

Tansu quirks measured here: consumers join fast only with a 6 s session and 2 s heartbeat;
its end offsets ('latest') are wrong, so a new group always starts at 'earliest' and
thereafter follows its committed offsets.

A message the broker never acknowledged is kept (see `take_undelivered`) so that a caller
can spool it to disk and resend it: nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError

from streams.bus import Bus, BusUnavailable, Consumer, Message
from streams.topics import PARTITIONS, Topic

log = logging.getLogger(__name__)

CLIENT_ID = "cityops"
JOIN_WAIT_S = 15.0
"""Longest a `poll` waits for its group to (re)join before returning empty."""
RECONNECT_BACKOFF_MAX_MS = 2000
"""kafka-python backs off reconnecting up to 30 s by default: after a 30 s broker outage the
store then caught up 17 s after the producers; at 2 s a restarted broker is read again at once."""
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Above the codec's limit, so an oversized message reaches the dead-letter topic with a
reason instead of failing in the producer."""


class _OneLineNetworkErrors(logging.Filter):
    """Log kafka-python's socket errors as one line instead of a traceback.

    kafka-python logs a lost connection with `log.exception` (a full traceback), then
    closes it and reconnects by itself: a broker restart, or a socket closed under a
    client that is shutting down, is an expected event for an operator, not a crash. The
    message and the exception's type and text are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("kafka.net.transport").addFilter(_OneLineNetworkErrors())


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A message the broker did not acknowledge, with the error, ready to be resent."""

    topic: Topic
    key: str | None
    value: bytes
    error: str


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad Kafka address {part!r}: expected host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def _reachable(bootstrap: str, timeout_s: float) -> bool:
    """A plain TCP connect first: fails in milliseconds where the client would wait 30 s."""
    for host, port in _hosts(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def _force_close(producer: KafkaProducer) -> None:
    """Close a producer whose broker is gone without waiting for its retries: its pending
    sends fail at once (so a `flush` blocked on them returns). kafka-python has no public
    call for that; `close(0)` first waits for a flush and raises."""
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        sender.force_close()
    try:
        producer.close(timeout=1)
    except Exception as exc:  # a producer being thrown away; nothing it holds is lost
        log.debug("closing an abandoned producer: %s", exc)


def _unavailable(bootstrap: str, detail: str = "") -> BusUnavailable:
    extra = f" ({detail})" if detail else ""
    return BusUnavailable(f"no Kafka broker at {bootstrap}{extra}: start one or use --bus local")


class KafkaBus(Bus):
    """kafka-python producer and consumers against `bootstrap` ('host:port[,host:port]')."""

    def __init__(
        self,
        bootstrap: str,
        namespace: str = "",
        connect_timeout_s: float = 5.0,
        max_block_s: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.url = f"kafka://{bootstrap}"
        self.connect_timeout_s = connect_timeout_s
        self.max_block_s = max_block_s
        self._by_name = {self.topic_name(t): t for t in Topic}
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._undelivered: list[Undelivered] = []
        self._in_flight: dict[int, Undelivered] = {}
        self._sent = 0
        self.ensure_topics()

    def topic_name(self, topic: Topic) -> str:
        return f"{self.namespace}{Topic(topic).value}"

    def ensure_topics(self) -> None:
        """Create the topics this broker lacks (also after a broker lost its memory)."""
        if not _reachable(self.bootstrap, self.connect_timeout_s):
            raise _unavailable(self.bootstrap)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id=CLIENT_ID,
                bootstrap_timeout_ms=int(self.connect_timeout_s * 1000),
            )
        except KafkaError as exc:
            raise _unavailable(self.bootstrap, str(exc)) from exc
        try:
            existing = set(admin.list_topics())
            missing = [
                NewTopic(self.topic_name(t), PARTITIONS[t], 1)
                for t in Topic
                if self.topic_name(t) not in existing
            ]
            for new_topic in missing:  # one by one: a race with another process is fine
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([new_topic])
        except KafkaError as exc:
            raise _unavailable(self.bootstrap, f"cannot create topics: {exc}") from exc
        finally:
            admin.close()

    # ------------------------------------------------------------ producing

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self.bootstrap,
                        client_id=CLIENT_ID,
                        acks="all",
                        enable_idempotence=True,
                        retries=2**31 - 1,
                        delivery_timeout_ms=120_000,
                        linger_ms=5,
                        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                        batch_size=256 * 1024,
                        max_request_size=MAX_MESSAGE_BYTES,
                        max_block_ms=int(self.max_block_s * 1000),
                        bootstrap_timeout_ms=int(self.connect_timeout_s * 1000),
                    )
                except KafkaError as exc:
                    raise _unavailable(self.bootstrap, str(exc)) from exc
            return self._producer

    def send(self, topic: Topic, value: bytes, key: str | None = None) -> None:
        topic = Topic(topic)
        producer = self._get_producer()
        try:
            future = producer.send(
                self.topic_name(topic),
                value=bytes(value),
                key=key.encode("utf-8") if key is not None else None,
            )
        except KafkaError as exc:
            raise _unavailable(self.bootstrap, f"cannot send to {topic.value}: {exc}") from exc
        with self._lock:
            self._sent += 1
            number = self._sent
            self._in_flight[number] = Undelivered(topic, key, bytes(value), "not acknowledged yet")
        future.add_callback(self._acknowledged, number)
        future.add_errback(self._failed, number)

    def _acknowledged(self, number: int, _metadata: object) -> None:
        with self._lock:
            self._in_flight.pop(number, None)

    def _failed(self, number: int, exc: BaseException) -> None:
        with self._lock:
            item = self._in_flight.pop(number, None)
            if item is None:  # already handed over by `abandon_in_flight`
                return
            first = not self._undelivered
            self._undelivered.append(Undelivered(item.topic, item.key, item.value, str(exc)))
        if first:  # once per outage, not once per message
            log.warning("messages to %s not acknowledged (kept for a resend): %s", item.topic.value, exc)

    def in_flight(self) -> int:
        """Messages sent and not yet acknowledged nor failed."""
        with self._lock:
            return len(self._in_flight)

    def reachable(self) -> bool:
        """A plain TCP connect to the brokers (milliseconds on a refused port)."""
        return _reachable(self.bootstrap, self.connect_timeout_s)

    def abandon_in_flight(self) -> int:
        """The broker is gone: count every unacknowledged message as undelivered now, and
        drop the producer (its retries would block a `flush` for up to the delivery
        timeout). Returns how many were moved; a late answer for them is ignored."""
        with self._lock:
            moved = list(self._in_flight.values())
            self._in_flight.clear()
            self._undelivered.extend(moved)
            producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=_force_close, args=(producer,), daemon=True).start()
        return len(moved)

    def reconnect(self) -> None:
        """A new producer, and the topics again: what a restarted in-memory broker needs."""
        self._restart_producer()
        self.ensure_topics()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every acknowledgement; resend once what failed; raise if still failing.

        The one resend uses a fresh producer and recreates missing topics, which is what
        a restarted in-memory broker (Tansu) needs: it forgot the topics and the
        idempotent producer's id. Resent messages come after those sent meanwhile.
        """
        if self._producer is None and not self._undelivered:
            return
        self._wait(timeout_s)
        failed = self.take_undelivered()
        if failed:
            log.warning("resending %d unacknowledged messages on a new producer", len(failed))
            self._restart_producer()
            resent = 0
            try:
                self.ensure_topics()
                for item in failed:
                    self.send(item.topic, item.value, item.key)
                    resent += 1
            except BusUnavailable:
                with self._lock:
                    self._undelivered[:0] = failed[resent:]
                raise
            self._wait(timeout_s)
        with self._lock:
            still = len(self._undelivered)
        if still:
            raise _unavailable(
                self.bootstrap,
                f"{still} messages not acknowledged; take_undelivered() returns them for a resend",
            )

    def _wait(self, timeout_s: float) -> None:
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise _unavailable(self.bootstrap, f"flush timed out: {exc}") from exc

    def _restart_producer(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except KafkaError as exc:
                log.warning("closing the old producer: %s", exc)

    def take_undelivered(self) -> list[Undelivered]:
        """Hand over (and forget) the messages the broker did not acknowledge."""
        with self._lock:
            taken, self._undelivered = self._undelivered, []
        return taken

    # ------------------------------------------------------------ consuming

    def consumer(self, group: str, topics: list[Topic]) -> KafkaBusConsumer:
        if not group:
            raise ValueError("a consumer needs a group name")
        return KafkaBusConsumer(self, group, [Topic(t) for t in topics])

    def topic_of(self, name: str) -> Topic:
        return self._by_name[name]

    def close(self) -> None:
        """Deliver what was sent, then let go; raises BusUnavailable if some was not
        acknowledged (after `take_undelivered()` has what failed, for a resend)."""
        try:
            self.flush()
        finally:
            with self._lock:
                producer, self._producer = self._producer, None
            if producer is not None:
                try:
                    producer.close(timeout=5)
                except KafkaError as exc:
                    log.warning("closing the producer: %s", exc)


class KafkaBusConsumer(Consumer):
    """A kafka-python consumer in `group`; offsets are committed only by `commit()`."""

    def __init__(self, bus: KafkaBus, group: str, topics: list[Topic]) -> None:
        self.bus = bus
        self.group = group
        if not _reachable(bus.bootstrap, bus.connect_timeout_s):
            raise _unavailable(bus.bootstrap)
        try:
            self._consumer = KafkaConsumer(
                *[bus.topic_name(t) for t in topics],
                bootstrap_servers=bus.bootstrap,
                client_id=CLIENT_ID,
                group_id=f"{bus.namespace}{group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                session_timeout_ms=6000,
                heartbeat_interval_ms=2000,
                max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
                fetch_max_bytes=4 * MAX_MESSAGE_BYTES,
                bootstrap_timeout_ms=int(bus.connect_timeout_s * 1000),
            )
        except KafkaError as exc:
            raise _unavailable(bus.bootstrap, str(exc)) from exc

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Message]:
        try:
            self._join_if_needed()
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as exc:
            raise _unavailable(self.bus.bootstrap, f"poll failed: {exc}") from exc
        messages: list[Message] = []
        for partition, records in batches.items():
            topic = self.bus.topic_of(partition.topic)
            for record in records:
                key = record.key.decode("utf-8", "replace") if record.key is not None else None
                value = record.value if record.value is not None else b""
                messages.append(Message(topic, partition.partition, record.offset, key, value))
        return messages

    def _join_if_needed(self) -> None:
        """Wait for a group (re)join in one call, up to `JOIN_WAIT_S`.

        kafka-python 3.0.12 drops a JoinGroup/SyncGroup answer that arrives while no
        `poll` is waiting for it (its join task is then restarted from scratch), and a
        broker that delays joins (Tansu, Kafka's initial rebalance delay: 3 s) makes
        that likely with short polls, so two groups polled in turn could rejoin forever.
        Waiting for the join inside one call avoids it; once joined, polls are short.
        """
        coordinator = getattr(self._consumer, "_coordinator", None)
        need_rejoin = getattr(coordinator, "need_rejoin", None)
        if coordinator is None or need_rejoin is None or not need_rejoin():
            return
        coordinator.poll(timeout_ms=int(JOIN_WAIT_S * 1000))

    def commit(self) -> None:
        """Commit past what `poll` returned; after a rebalance nothing is committed and the
        new owner of those partitions gets the messages again (at least once)."""
        try:
            self._consumer.commit()
        except CommitFailedError as exc:
            log.warning("group %s: commit refused after a rebalance; will be redelivered: %s", self.group, exc)
        except KafkaError as exc:
            raise _unavailable(self.bus.bootstrap, f"commit failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._consumer.close(autocommit=False)
        except KafkaError as exc:  # leaving the group of a dead broker; nothing to lose
            log.debug("closing consumer of group %s: %s", self.group, exc)

"""The embedded bus: one SQLite file per topic, shared by every process on this machine.

Why SQLite: it is in the standard library, it is safe across processes (file locks), and
its write-ahead log lets readers go on while a writer appends. Each topic file holds

- `messages(offset INTEGER PRIMARY KEY AUTOINCREMENT, key, value, ts)`: append-only.
  Writers are serialised by SQLite, so offsets become visible strictly in order (a reader
  never sees offset n+1 before n). AUTOINCREMENT keeps offsets from being reused after
  `compact` has deleted the tail of a topic, which would silently skip new messages.
- `offsets(grp, last_offset)`: the last offset each consumer group has committed.
- `leases(grp, member, expires)`: one active member per (group, topic). A member renews
  its lease whenever it polls or commits; a second member waits; a crashed member's lease
  expires after `lease_s` and another member takes over from the committed offset. A
  member that lost its lease cannot commit (fencing), so its batch is redelivered.

Durability: `synchronous=FULL`, i.e. the WAL is fsynced at each commit. Producers batch
(`send` buffers, a background thread writes every `linger_s`, `flush` writes now), so
one fsync covers thousands of messages and FULL costs little, while `flush()` returning
means the messages survive a power cut, not only a process crash (NORMAL would only
promise the latter): at least what Kafka's acks=all promises.

Delivery is at least once: a consumer's position moves on `poll`, the group's offset only
on `commit`; whatever was polled but not committed is delivered again to the next member.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streams.bus import Bus, BusUnavailable, Consumer, Message
from streams.sqlite_wal import use_wal
from streams.topics import Topic

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write lock before giving up."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT,
    value BLOB NOT NULL,
    ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (grp TEXT PRIMARY KEY, last_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (grp TEXT PRIMARY KEY, member TEXT NOT NULL, expires REAL NOT NULL);
"""


def topic_file(folder: Path, topic: Topic, namespace: str = "") -> Path:
    return folder / f"{namespace}{topic.value}.db"


def connect(path: Path) -> sqlite3.Connection:
    """Open (and on first use create) one topic file, in WAL mode with FULL sync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # Before any table exists, so deleted pages can be handed back by `compact`.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = use_wal(conn, BUSY_TIMEOUT_S)
        if mode != "wal":
            raise BusUnavailable(f"local bus file {path} cannot use WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        with _transaction(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
    except sqlite3.Error as exc:
        raise BusUnavailable(f"local bus file {path} cannot be opened: {exc}") from exc
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front (no deadlock on lock upgrade)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_open_buses: weakref.WeakSet[LocalBus] = weakref.WeakSet()


@atexit.register
def _flush_open_buses() -> None:
    """A process that exits without `close()` still writes what it sent."""
    for bus in list(_open_buses):
        try:
            bus.close()
        except Exception as exc:
            log.error("local bus under %s: %d messages not written at exit: %s", bus.folder, bus._buffered, exc)


class LocalBus(Bus):
    """Topics as SQLite files under `folder`; any number of processes may open it at once."""

    def __init__(
        self,
        folder: Path,
        namespace: str = "",
        linger_s: float = 0.05,
        max_buffered: int = 5000,
        lease_s: float = 10.0,
    ) -> None:
        self.folder = Path(folder)
        self.namespace = namespace
        self.url = "local"
        self.linger_s = linger_s
        self.max_buffered = max_buffered
        self.lease_s = lease_s
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._connections: dict[Topic, sqlite3.Connection] = {}
        self._buffer: dict[Topic, list[tuple[str | None, bytes, float]]] = {}
        self._buffered = 0
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        _open_buses.add(self)

    # ------------------------------------------------------------ producing

    def path(self, topic: Topic) -> Path:
        return topic_file(self.folder, topic, self.namespace)

    def send(self, topic: Topic, value: bytes, key: str | None = None) -> None:
        if self._closed:
            raise BusUnavailable("the local bus is closed")
        self._after_fork()
        topic = Topic(topic)
        with self._buffer_lock:
            self._buffer.setdefault(topic, []).append((key, bytes(value), time.time()))
            self._buffered += 1
            full = self._buffered >= self.max_buffered
        if full:
            self.flush()  # back-pressure: the producer pays for its own writes
        else:
            self._ensure_flusher()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Write everything sent so far, durably; on failure nothing is dropped (re-queued)."""
        self._write_pending(raise_errors=True)

    def _write_pending(self, raise_errors: bool) -> None:
        with self._write_lock:
            with self._buffer_lock:
                pending, self._buffer, self._buffered = self._buffer, {}, 0
            written: list[Topic] = []
            try:
                for topic, rows in pending.items():
                    conn = self._connection(topic)
                    with _transaction(conn):
                        conn.executemany(
                            "INSERT INTO messages (key, value, ts) VALUES (?, ?, ?)", rows
                        )
                    written.append(topic)
            except BaseException as exc:
                self._requeue({t: r for t, r in pending.items() if t not in written})
                if not isinstance(exc, sqlite3.Error | BusUnavailable):
                    raise
                message = f"local bus under {self.folder} cannot write: {exc}"
                if raise_errors:
                    raise BusUnavailable(message) from exc
                log.warning("%s (will retry)", message)

    def _requeue(self, pending: dict[Topic, list[tuple[str | None, bytes, float]]]) -> None:
        with self._buffer_lock:
            for topic, rows in pending.items():
                self._buffer[topic] = rows + self._buffer.get(topic, [])
                self._buffered += len(rows)

    def _ensure_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_periodically, name="localbus-flusher", daemon=True
            )
            self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._closed:
            self._wake.wait(self.linger_s)
            if self._buffered:
                try:
                    self._write_pending(raise_errors=False)
                except Exception:  # keep flushing; the messages were re-queued or written
                    log.exception("local bus flusher failed; retrying")

    def _connection(self, topic: Topic) -> sqlite3.Connection:
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._connections[topic] = connect(self.path(topic))
        return conn

    def _after_fork(self) -> None:
        """A forked child must not share its parent's SQLite handles or flusher thread."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._connections = {}
            self._flusher = None
            self._buffer_lock = threading.Lock()
            self._write_lock = threading.Lock()

    # ------------------------------------------------------------ consuming

    def consumer(self, group: str, topics: list[Topic]) -> LocalConsumer:
        if not group:
            raise ValueError("a consumer needs a group name")
        return LocalConsumer(self, group, [Topic(t) for t in topics])

    def backlog(self, group: str) -> dict[Topic, int]:
        """Messages per topic that `group` has not committed yet (how far behind it is)."""
        behind: dict[Topic, int] = {}
        for topic in Topic:
            if not self.path(topic).exists():
                continue
            with self._write_lock:  # the flusher thread shares this connection
                conn = self._connection(topic)
                last = _committed(conn, group)
                behind[topic] = conn.execute(
                    "SELECT count(*) FROM messages WHERE offset > ?", (last,)
                ).fetchone()[0]
        return behind

    # ------------------------------------------------------------ retention

    def compact(self, keep_hours: float, max_keep_hours: float | None = None) -> dict[Topic, int]:
        """Delete what every group has committed past and is older than `keep_hours`.

        A topic nobody has ever consumed keeps everything, unless `max_keep_hours` is
        given: messages older than that go regardless of groups (Kafka's retention.ms),
        so a forgotten group cannot fill the disk. Returns the messages deleted per topic.
        """
        now = time.time()
        deleted: dict[Topic, int] = {}
        for topic in Topic:
            if not self.path(topic).exists():
                continue
            with self._write_lock:  # the flusher thread shares this connection
                deleted[topic] = self._compact_topic(topic, now, keep_hours, max_keep_hours)
        return deleted

    def _compact_topic(
        self, topic: Topic, now: float, keep_hours: float, max_keep_hours: float | None
    ) -> int:
        conn = self._connection(topic)
        with _transaction(conn):
            floor = conn.execute("SELECT min(last_offset) FROM offsets").fetchone()[0]
            count = conn.execute(
                "DELETE FROM messages WHERE offset <= ? AND ts < ?",
                (floor or 0, now - keep_hours * 3600),
            ).rowcount
            if max_keep_hours is not None:
                count += conn.execute(
                    "DELETE FROM messages WHERE ts < ?", (now - max_keep_hours * 3600,)
                ).rowcount
        conn.execute("PRAGMA incremental_vacuum")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def close(self) -> None:
        """Write what is buffered, then let go. If the write fails, BusUnavailable is raised
        and the bus stays open with its buffer, so nothing is dropped; retry or report."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        with self._write_lock:
            for conn in self._connections.values():
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections = {}
        _open_buses.discard(self)


def _committed(conn: sqlite3.Connection, group: str) -> int:
    row = conn.execute("SELECT last_offset FROM offsets WHERE grp = ?", (group,)).fetchone()
    return int(row[0]) if row else 0


@dataclass(slots=True)
class _TopicState:
    """What one member knows about one topic: its connection, lease and read position."""

    topic: Topic
    conn: sqlite3.Connection
    held: bool = False
    lease_until: float = 0.0
    position: int = 0  # last offset handed out by poll
    committed: int = 0  # last offset committed by this member
    waiting_logged: bool = field(default=False)


class LocalConsumer(Consumer):
    """One member of a group; reads each topic only while it holds that topic's lease."""

    def __init__(self, bus: LocalBus, group: str, topics: list[Topic]) -> None:
        self.bus = bus
        self.group = group
        self.member = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._states = [_TopicState(t, connect(bus.path(t))) for t in topics]
        self._next = 0
        self._closed = False

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Message]:
        if self._closed:
            raise BusUnavailable("this consumer is closed")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        pause = 0.005
        while True:
            try:
                batch = self._read(max_records)
            except sqlite3.Error as exc:
                raise BusUnavailable(f"local bus under {self.bus.folder} cannot be read: {exc}") from exc
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 0.1)

    def _read(self, max_records: int) -> list[Message]:
        batch: list[Message] = []
        count = len(self._states)
        for i in range(count):  # round robin, so one busy topic cannot starve the others
            state = self._states[(self._next + i) % count]
            if len(batch) >= max_records:
                break
            if not self._hold(state):
                continue
            rows = state.conn.execute(
                "SELECT offset, key, value FROM messages WHERE offset > ? ORDER BY offset LIMIT ?",
                (state.position, max_records - len(batch)),
            ).fetchall()
            for offset, key, value in rows:
                batch.append(Message(state.topic, 0, offset, key, value))
            if rows:
                state.position = rows[-1][0]
        self._next = (self._next + 1) % count
        return batch

    def _hold(self, state: _TopicState) -> bool:
        """Keep or take this topic's lease; False while another live member holds it."""
        now = time.time()
        if state.held and state.lease_until - now > self.bus.lease_s * 2 / 3:
            return True
        row = state.conn.execute(
            "SELECT member, expires FROM leases WHERE grp = ?", (self.group,)
        ).fetchone()
        if row and row[0] != self.member and row[1] > now:
            if state.held:
                log.warning("group %s lost topic %s to member %s", self.group, state.topic, row[0])
            state.held = False
            if not state.waiting_logged:
                log.info("group %s: topic %s is read by member %s; waiting", self.group, state.topic, row[0])
                state.waiting_logged = True
            return False
        with _transaction(state.conn):
            row = state.conn.execute(
                "SELECT member, expires FROM leases WHERE grp = ?", (self.group,)
            ).fetchone()
            if row and row[0] != self.member and row[1] > now:
                state.held = False
                return False
            state.conn.execute(
                "INSERT OR REPLACE INTO leases (grp, member, expires) VALUES (?, ?, ?)",
                (self.group, self.member, now + self.bus.lease_s),
            )
            if not state.held or not row or row[0] != self.member:
                state.position = state.committed = _committed(state.conn, self.group)
        state.held = True
        state.waiting_logged = False
        state.lease_until = now + self.bus.lease_s
        return True

    def commit(self) -> None:
        """Commit each held topic past what `poll` returned; a lost lease commits nothing."""
        try:
            self._commit()
        except sqlite3.Error as exc:
            raise BusUnavailable(f"local bus under {self.bus.folder} cannot commit: {exc}") from exc

    def _commit(self) -> None:
        for state in self._states:
            if not state.held or state.position == state.committed:
                continue
            now = time.time()
            with _transaction(state.conn):
                row = state.conn.execute(
                    "SELECT member FROM leases WHERE grp = ?", (self.group,)
                ).fetchone()
                if not row or row[0] != self.member:
                    state.held = False
                    log.warning(
                        "group %s: lease on %s was taken over; offsets up to %d will be redelivered",
                        self.group, state.topic, state.position,
                    )
                    continue
                state.conn.execute(
                    "INSERT INTO offsets (grp, last_offset) VALUES (?, ?) "
                    "ON CONFLICT(grp) DO UPDATE SET last_offset = excluded.last_offset",
                    (self.group, state.position),
                )
                state.conn.execute(
                    "UPDATE leases SET expires = ? WHERE grp = ?", (now + self.bus.lease_s, self.group)
                )
            state.committed = state.position
            state.lease_until = now + self.bus.lease_s

    def close(self) -> None:
        """Give the leases back (so another member takes over at once); no implicit commit."""
        if self._closed:
            return
        self._closed = True
        for state in self._states:
            with contextlib.suppress(sqlite3.Error):
                if state.held:
                    with _transaction(state.conn):
                        state.conn.execute(
                            "DELETE FROM leases WHERE grp = ? AND member = ?", (self.group, self.member)
                        )
                state.conn.close()

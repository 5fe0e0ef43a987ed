"""Producers keep what the broker cannot take on local disk, and resend it when it is back.

`SpoolingBus` wraps a `KafkaBus` (`open_bus` does it for every producer: video workers,
complaint simulator and intake, governance, trajectories). While the broker answers,
messages go straight to it. When it stops answering (a send or flush fails, or the TCP
check of the watcher thread is refused while messages are in flight), every message not
acknowledged, and every later one, is appended to this process's spool file; a `flush`
then returns once they are on disk (fsync'd), so callers go on producing through an
outage. The watcher resends the spool in order as soon as the broker accepts connections
again (on a new producer, topics recreated: a restarted in-memory broker knows neither),
deletes what was acknowledged, and only then sends directly again, so one process's
messages keep their order.

A spool is one SQLite file (WAL, synchronous=FULL) under `<home>/spool/`, named by the
process, locked with `flock` while it lives. A process that dies with messages spooled
leaves its file behind; any producer of the same home adopts such an unlocked file and
resends it. Resent messages may repeat a message the broker had taken but not yet
acknowledged: delivery is at least once, and the store writes idempotently by message id.

A broker that kept nothing (Tansu keeps topics in memory only) has also lost what it had
acknowledged but no consumer had read yet. So each producer keeps, in memory, what it
sent in the last `REPLAY_WINDOW_S` and resends that too after an outage, before its
spool: a durable broker (Kafka) then holds those messages twice, which the idempotent
store absorbs; an emptied one gets them back. Consumers further behind than the window
when an in-memory broker stops lose the difference: that is the limit of memory storage.

The spool is bounded (`CITYOPS_SPOOL_MAX_MB`, default 1024): beyond it `send` raises
`BusUnavailable` with a clear log line instead of filling the disk.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from streams.bus import Bus, BusUnavailable, Consumer
from streams.kafkabus import KafkaBus
from streams.sqlite_wal import use_wal
from streams.topics import Topic

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = int(float(os.environ.get("CITYOPS_SPOOL_MAX_MB", "1024")) * 1024 * 1024)
CHECK_EVERY_S = 0.5
RESEND_BATCH = 1000
REPLAY_WINDOW_S = float(os.environ.get("CITYOPS_REPLAY_WINDOW_S", "60"))
REPLAY_MAX = 20_000
"""At most this many recent messages kept for a replay (memory bound)."""
WRITE_AT = 1000
"""Messages held in memory before they are written to the spool without waiting for a flush."""


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    topic: Topic
    key: str | None
    value: bytes


class SpoolFull(BusUnavailable):
    """The spool reached its disk limit; the message was not taken."""


class DiskSpool:
    """One append-only SQLite file of messages waiting for the broker, locked by its owner."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, lock: IO[bytes] | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock_file = lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        use_wal(self._conn)
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS spooled (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "topic TEXT NOT NULL, key TEXT, value BLOB NOT NULL)"
        )
        self.count, self.bytes = self._conn.execute(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM spooled"
        ).fetchone()
        self._guard = threading.Lock()

    @classmethod
    def create(cls, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DiskSpool:
        """A new spool file for this process, locked before it exists (never adopted)."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        lock = open(folder / f"{name}.lock", "wb")  # noqa: SIM115 - held for the spool's life
        fcntl.flock(lock, fcntl.LOCK_EX)
        return cls(folder / f"{name}.db", max_bytes, lock)

    @classmethod
    def orphans(cls, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[DiskSpool]:
        """Spools left by processes that died (their lock is free); now locked by us."""
        found = []
        for lock_path in sorted(folder.glob("*.lock")):
            try:
                lock = open(lock_path, "r+b")  # noqa: SIM115
            except OSError:
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            db = lock_path.with_suffix(".db")
            if not db.exists() or not lock_path.exists():  # removed by its last adopter
                lock.close()
                continue
            found.append(cls(db, max_bytes, lock))
        return found

    def append(self, items: list[tuple[Topic, str | None, bytes]]) -> None:
        """Write durably (one fsync); raises SpoolFull, taking nothing, beyond the limit."""
        if not items:
            return
        size = sum(len(v) for _, _, v in items)
        with self._guard:
            if self.bytes + size > self.max_bytes:
                raise SpoolFull(
                    f"producer spool {self.path} is full ({self.bytes} of {self.max_bytes} bytes, "
                    f"CITYOPS_SPOOL_MAX_MB): {len(items)} messages refused"
                )
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO spooled (topic, key, value) VALUES (?, ?, ?)",
                    [(str(t.value), k, v) for t, k, v in items],
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self.count += len(items)
            self.bytes += size

    def peek(self, limit: int) -> list[Spooled]:
        with self._guard:
            rows = self._conn.execute(
                "SELECT seq, topic, key, value FROM spooled ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [Spooled(seq, Topic(topic), key, bytes(value)) for seq, topic, key, value in rows]

    def remove_through(self, seq: int) -> None:
        """Forget everything up to `seq` (the broker acknowledged it)."""
        with self._guard:
            self._conn.execute("DELETE FROM spooled WHERE seq <= ?", (seq,))
            self.count, self.bytes = self._conn.execute(
                "SELECT count(*), coalesce(sum(length(value)), 0) FROM spooled"
            ).fetchone()

    def close(self, delete_if_empty: bool = True) -> None:
        with self._guard:
            empty = self.count == 0
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        if empty and delete_if_empty:
            for suffix in (".db", ".db-wal", ".db-shm", ".lock"):
                with contextlib.suppress(OSError):
                    self.path.with_suffix(suffix).unlink()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock


_open_buses: weakref.WeakSet[SpoolingBus] = weakref.WeakSet()


@atexit.register
def _spool_at_exit() -> None:
    """A process that exits without `close()` still keeps what the broker did not take."""
    for bus in list(_open_buses):
        try:
            bus.close()
        except Exception as exc:
            log.error("producer spool %s: %s", bus.folder, exc)


class SpoolingBus(Bus):
    """A KafkaBus whose producer falls back to a disk spool while the broker is away."""

    def __init__(self, inner: KafkaBus, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        self.inner = inner
        self.url = inner.url
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.check_every_s = check_every_s
        self.spooled = 0  # messages written to the spool in this process's life
        self.resent = 0  # spooled messages acknowledged after a resend
        self._spool: DiskSpool | None = None
        self._pending: list[tuple[Topic, str | None, bytes]] = []
        self._recent: deque[tuple[float, tuple[Topic, str | None, bytes]]] = deque(maxlen=REPLAY_MAX)
        self.replayed = 0  # recent messages resent after an outage
        self._down = False
        self._lock = threading.RLock()
        self._drain_lock = threading.Lock()
        self._closed = threading.Event()
        self._full_logged = False
        self._watcher = threading.Thread(target=self._watch, name="spool-watcher", daemon=True)
        self._watcher.start()
        _open_buses.add(self)

    # ------------------------------------------------------------ producing

    def _spooling(self) -> bool:
        return self._down or bool(self._pending) or (self._spool is not None and self._spool.count > 0)

    def send(self, topic: Topic, value: bytes, key: str | None = None) -> None:
        if self._closed.is_set():
            raise BusUnavailable("this bus is closed")
        item = (Topic(topic), key, bytes(value))
        with self._lock:
            spooling = self._spooling()
            if spooling:
                self._pending.append(item)
        if not spooling:
            try:
                self.inner.send(*_args(item))
                self._remember(item)
                return
            except BusUnavailable as exc:
                self._went_down(exc)
                with self._lock:
                    self._pending.append(item)
        if len(self._pending) >= WRITE_AT:
            self._write_pending()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Return once everything sent is acknowledged by the broker or safe in the spool."""
        if not self._spooling():
            try:
                self.inner.flush(timeout_s)
                return
            except BusUnavailable as exc:
                self._went_down(exc)
        self._write_pending()
        if not self._down:
            with contextlib.suppress(BusUnavailable):
                self._drain(timeout_s)

    def _remember(self, item: tuple[Topic, str | None, bytes]) -> None:
        now = time.monotonic()
        recent = self._recent
        recent.append((now, item))
        while recent and recent[0][0] < now - REPLAY_WINDOW_S:
            recent.popleft()

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self.inner.abandon_in_flight()
            self._pending[:0] = [(u.topic, u.key, u.value) for u in self.inner.take_undelivered()]
        if first:
            log.warning("bus %s unreachable (%s): spooling to %s until it is back", self.url, exc, self.folder)

    def _write_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            if self._spool is None:
                self._spool = DiskSpool.create(self.folder, self.max_bytes)
            try:
                self._spool.append(pending)
            except SpoolFull as exc:
                if not self._full_logged:
                    log.error("%s; new messages are refused until the broker is back", exc)
                    self._full_logged = True
                self._pending[:0] = pending[: max(0, WRITE_AT - len(self._pending))]
                raise
            self.spooled += len(pending)

    # ------------------------------------------------------------ resending

    def _watch(self) -> None:
        orphan_check = 0.0
        while not self._closed.wait(self.check_every_s):
            try:
                orphan_check -= self.check_every_s
                look_for_orphans = orphan_check <= 0
                if look_for_orphans:
                    orphan_check = 10.0
                if self._spooling() or look_for_orphans:
                    self._resend_if_reachable(look_for_orphans)
                elif self.inner.in_flight() and not self.inner.reachable():
                    self._went_down(BusUnavailable("connection refused"))
            except SpoolFull:
                pass  # logged once by _write_pending
            except Exception:  # the watcher must outlive any one failure
                log.exception("producer spool watcher")

    def _resend_if_reachable(self, orphans: bool) -> None:
        if not self.inner.reachable():
            if not self._down and self.inner.in_flight():
                self._went_down(BusUnavailable("connection refused"))
            self._write_pending()
            return
        try:
            if self._spooling():
                self._drain(10.0)
            if orphans and self.folder.exists():
                self._adopt_orphans()
        except BusUnavailable as exc:
            log.info("bus %s not ready for the resend yet: %s", self.url, exc)

    def _drain(self, timeout_s: float) -> None:
        """Resend the spool in order; back to direct sends once it and memory are empty."""
        with self._drain_lock:
            if self._down:
                self.inner.reconnect()
                self._replay_recent(timeout_s)
            while True:
                self._write_pending()
                with self._lock:
                    if self._spool is None or self._spool.count == 0:
                        if not self._pending:
                            if self._down:
                                log.info("bus %s is back: %d spooled messages resent", self.url, self.resent)
                            self._down = False
                            self._full_logged = False
                            return
                        continue
                    spool = self._spool
                self._resend(spool, timeout_s)

    def _replay_recent(self, timeout_s: float) -> None:
        """Resend what went out just before the outage (an in-memory broker lost it)."""
        with self._lock:
            recent = [item for _, item in self._recent]
        if not recent:
            return
        try:
            for item in recent:
                self.inner.send(*_args(item))
            self.inner.flush(timeout_s)
        except BusUnavailable:
            with self._lock:
                self.inner.abandon_in_flight()
                self.inner.take_undelivered()  # still in `_recent`; replayed next time
            raise
        with self._lock:
            for _ in range(min(len(recent), len(self._recent))):
                self._recent.popleft()
        self.replayed += len(recent)
        log.info("bus %s: resent the %d messages of the last %.0f s before the outage",
                 self.url, len(recent), REPLAY_WINDOW_S)

    def _resend(self, spool: DiskSpool, timeout_s: float) -> None:
        rows = spool.peek(RESEND_BATCH)
        try:
            for row in rows:
                self.inner.send(row.topic, row.value, row.key)
            self.inner.flush(timeout_s)
        except BusUnavailable:
            with self._lock:
                self._down = True
                self.inner.abandon_in_flight()
                self.inner.take_undelivered()  # copies of spooled rows: the spool still has them
            raise
        spool.remove_through(rows[-1].seq)
        self.resent += len(rows)

    def _adopt_orphans(self) -> None:
        with self._drain_lock:
            for orphan in DiskSpool.orphans(self.folder, self.max_bytes):
                if self._spool is not None and orphan.path == self._spool.path:
                    orphan.close(delete_if_empty=False)
                    continue
                log.info("resending %d messages spooled by a process that ended: %s", orphan.count, orphan.path)
                try:
                    while orphan.count:
                        self._resend(orphan, 10.0)
                finally:
                    orphan.close()

    # ------------------------------------------------------------ the rest

    def pending(self) -> int:
        """Messages waiting for the broker (in memory and in this process's spool)."""
        with self._lock:
            return len(self._pending) + (self._spool.count if self._spool is not None else 0)

    def consumer(self, group: str, topics: list[Topic]) -> Consumer:
        return self.inner.consumer(group, topics)

    def close(self) -> None:
        """Deliver what can be delivered; what cannot stays in the spool for the next process."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._watcher is not threading.current_thread():
            self._watcher.join(timeout=15)
        try:
            self.flush(timeout_s=10.0)
            if not self._spooling():
                self.inner.close()
        except BusUnavailable as exc:
            self._went_down(exc)
        try:
            self._write_pending()
        finally:
            with self._lock:
                if self._spool is not None:
                    if self._spool.count:
                        log.warning("%d messages stay spooled in %s for the next producer",
                                    self._spool.count, self._spool.path)
                    self._spool.close()
            _open_buses.discard(self)


def _args(item: tuple[Topic, str | None, bytes]) -> tuple[Topic, bytes, str | None]:
    topic, key, value = item
    return topic, value, key

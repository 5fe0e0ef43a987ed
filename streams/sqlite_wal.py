"""Switch a SQLite connection to WAL mode even while other processes open the same new file.

Changing the journal mode needs the file to itself. While another connection holds the
write lock of a file still in rollback-journal mode (a process creating the tables of a
fresh file), SQLite answers "database is locked" at once, without waiting out the busy
timeout (waiting with a read lock held could deadlock): several camera workers starting on
a new data folder hit this. So the switch is retried until a deadline.
"""

from __future__ import annotations

import random
import sqlite3
import time

WAL_DEADLINE_S = 30.0


def use_wal(conn: sqlite3.Connection, deadline_s: float = WAL_DEADLINE_S) -> str:
    """Set journal_mode=WAL, retrying while the file is locked; returns the mode SQLite reports."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= give_up:
                raise
            time.sleep(random.uniform(0.01, 0.05))

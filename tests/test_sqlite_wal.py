"""A process opening a data file that another is writing right now must start, not die.

Found in a parallel replay on a new --home: one camera process died with "database is
locked" while switching the fresh watch list file to WAL mode. SQLite answers that at once,
without waiting out the busy timeout, when this connection needs the file to itself while
another holds its write lock (waiting could deadlock), which is what a second process meets
while the first is still creating the file's tables.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from streams.sqlite_wal import use_wal
from streams.watchlist import WATCHLIST_FILE, Watchlist


def _writer_holding_the_lock(path: Path, seconds: float) -> sqlite3.Connection:
    """Another connection mid-write on a file still in rollback-journal mode."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE IF NOT EXISTS being_created (a)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO being_created VALUES (1)")
    threading.Timer(seconds, lambda: other.execute("COMMIT")).start()
    return other


def test_switching_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    other = _writer_holding_the_lock(path, 0.3)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    assert use_wal(conn) == "wal"
    conn.close()
    other.close()


def test_a_watch_list_opens_while_another_process_writes_its_new_file(tmp_path: Path) -> None:
    other = _writer_holding_the_lock(tmp_path / WATCHLIST_FILE, 0.3)
    with Watchlist(tmp_path) as watchlist:
        watchlist.add_plate("京A10001", "opened during another's write", "tester")
        assert watchlist.plate("京A10001") is not None
    other.close()

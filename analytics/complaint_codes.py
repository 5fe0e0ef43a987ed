"""Readable, unique complaint codes: `PF-20261121-000123` (district prefix, local day, number).

Numbers come from a per-day counter row in the store, bumped in one atomic statement
(INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so any number of processes on SQLite
or PostgreSQL never hand out the same code. A block of codes costs one transaction.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite

from analytics import tables as t
from analytics.store import Store

MAX_PER_DAY = 999_999
DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")  # China Standard Time, Harbin's clock


class CodeAllocator(Protocol):
    """Hands out new complaint codes for a creation time (store-backed or, in tests, not)."""

    def allocate(self, created_at: datetime, count: int = 1) -> list[str]: ...


class CodesExhausted(RuntimeError):
    """More than MAX_PER_DAY complaints in one day for one prefix."""


def format_code(prefix: str, day: date, number: int) -> str:
    return f"{prefix}-{day:%Y%m%d}-{number:06d}"


def _check_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[A-Z]{2,4}", prefix):
        raise ValueError(f"complaint code prefix {prefix!r} must be 2-4 capital letters (e.g. PF)")
    return prefix


class StoreCodes:
    """Complaint codes numbered per local day from the store's counters."""

    def __init__(self, store: Store, prefix: str, tz: tzinfo = DEFAULT_TIMEZONE) -> None:
        self.store = store
        self.prefix = _check_prefix(prefix)
        self.tz = tz

    def allocate(self, created_at: datetime, count: int = 1) -> list[str]:
        """`count` new consecutive codes for the local day of `created_at`."""
        if count < 1:
            return []
        day = created_at.astimezone(self.tz).date()
        last = self._bump(day, count)
        if last > MAX_PER_DAY:
            raise CodesExhausted(f"more than {MAX_PER_DAY:,} complaint codes on {day} for {self.prefix}")
        return [format_code(self.prefix, day, n) for n in range(last - count + 1, last + 1)]

    def _bump(self, day: date, count: int) -> int:
        table = t.complaint_code_counters
        insert = sqlite.insert if self.store.dialect == "sqlite" else postgresql.insert
        stmt = insert(table).values(prefix=self.prefix, day=f"{day:%Y%m%d}", last=count)
        stmt = stmt.on_conflict_do_update(
            index_elements=["prefix", "day"],
            set_={"last": table.c.last + count},
        ).returning(table.c.last)
        with self.store.transaction() as conn:
            return int(conn.execute(stmt).scalar_one())

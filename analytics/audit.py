"""The audit log: who searched for whom, and who changed the watch list, with how many results.

Append-only by construction: this module only inserts and reads (there is no update or
delete path in the code), and migration 0006 makes the database itself refuse UPDATE and
DELETE on the table. Every search of sightings, faces, plates and trajectories (dashboard,
HTTP API, `cityops search`) and every watch-list change goes through `record` or `audited`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any, TypeVar

from sqlalchemy import insert, select

from analytics import tables as t
from analytics.store import Store

T = TypeVar("T")
MAX_QUERY_CHARS = 4000


class Channel(StrEnum):
    DASHBOARD = "dashboard"
    API = "api"
    CLI = "cli"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"  # the role may not ask this
    ERROR = "error"  # asked, but the question could not be answered (bad request, store down)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: a dashboard user with a role, or `cli:<os user>` with role `cli`."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts: datetime
    actor: str
    role: str
    channel: str
    action: str
    query: str
    results: int | None
    outcome: str


COLUMNS = tuple(f.name for f in fields(AuditEntry))


def describe(query: Mapping[str, Any] | str) -> str:
    """The question as compact JSON (a face encoding shortened: it is 128 numbers, not a name)."""
    if isinstance(query, str):
        text = query
    else:
        shown = {k: ("<face encoding>" if k == "photo" and v else v) for k, v in query.items()
                 if v not in (None, "", [])}
        text = json.dumps(shown, ensure_ascii=False, default=str, sort_keys=True)
    return text[:MAX_QUERY_CHARS]


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, actor: Actor, channel: Channel | str, action: str, query: Mapping[str, Any] | str,
               results: int | None, outcome: Outcome | str = Outcome.OK) -> None:
        row = {"ts": datetime.now(UTC), "actor": actor.name[:64], "role": actor.role[:16],
               "channel": str(channel), "action": action[:48], "query": describe(query),
               "results": results, "outcome": str(outcome)}
        with self.store.transaction() as conn:
            conn.execute(insert(t.audit_log).values(**row))

    def audited(self, actor: Actor, channel: Channel | str, action: str, query: Mapping[str, Any] | str,
                run: Callable[[], Sequence[T]]) -> Sequence[T]:
        """Run a search and record it with its result count; a failed search is recorded too."""
        try:
            found = run()
        except Exception:
            self.record(actor, channel, action, query, None, Outcome.ERROR)
            raise
        self.record(actor, channel, action, query, len(found))
        return found

    def entries(self, since: datetime | None = None, until: datetime | None = None, actor: str | None = None,
                limit: int | None = 1000) -> list[AuditEntry]:
        """Newest first."""
        a = t.audit_log
        query = select(a).order_by(a.c.id.desc())
        if since is not None:
            query = query.where(a.c.ts >= since)
        if until is not None:
            query = query.where(a.c.ts <= until)
        if actor:
            query = query.where(a.c.actor == actor)
        if limit is not None:
            query = query.limit(limit)
        with self.store.engine.connect() as conn:
            return [AuditEntry(**{name: getattr(r, name) for name in COLUMNS}) for r in conn.execute(query)]

    def write_csv(self, out: IO[str], since: datetime | None = None, until: datetime | None = None,
                  actor: str | None = None) -> int:
        """The whole log (or a window of it) as CSV, oldest first; returns the rows written."""
        entries = list(reversed(self.entries(since, until, actor, limit=None)))
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for entry in entries:
            row = {k: _cell(v) for k, v in asdict(entry).items()}
            row["ts"] = entry.ts.isoformat()
            writer.writerow(row)
        return len(entries)


def _cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value

"""The governance consumer's working memory: every open complaint, folded event by event.

`apply(event)` returns the complaint's state before and after the event, which is all the
measures, the SLA watch and the grid status need. A replayed event (same id) or any event
of a complaint already closed is ignored, so at-least-once delivery never counts twice.
Closed complaints leave memory (only their code is kept, to recognise replays); events
that arrive before their complaint's `created` wait, a bounded number, for it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from analytics.complaint_fold import ComplaintState, EventLike, fold

MAX_ORPHANS = 50_000


@dataclass(slots=True)
class _Open:
    events: list[Any] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    state: ComplaintState | None = None


@dataclass(frozen=True, slots=True)
class Change:
    code: str
    before: ComplaintState | None
    after: ComplaintState | None


class ComplaintBook:
    def __init__(self) -> None:
        self.open: dict[str, _Open] = {}
        self.closed: set[str] = set()
        self._orphans: OrderedDict[str, _Open] = OrderedDict()
        self.ignored = 0

    def apply(self, event: EventLike | Any) -> Change | None:
        """Fold one event in; None when it changes nothing (replay, closed, or no `created` yet)."""
        code = event.code
        if code in self.closed:
            self.ignored += 1
            return None
        entry = self.open.get(code)
        if entry is None:
            entry = self._orphans.get(code) or _Open()
        if event.id in entry.ids:
            self.ignored += 1
            return None
        entry.ids.add(event.id)
        entry.events.append(event)
        if len(entry.events) > 1 and entry.events[-2].ts > event.ts:
            entry.events.sort(key=lambda e: e.ts)
        after = fold(entry.events)
        if after is None:  # still waiting for its 'created'
            self._orphans[code] = entry
            self._orphans.move_to_end(code)
            while len(self._orphans) > MAX_ORPHANS:
                self._orphans.popitem(last=False)
            return None
        self._orphans.pop(code, None)
        before = entry.state
        entry.state = after
        if after.is_open:
            self.open[code] = entry
        else:
            self.open.pop(code, None)
            self.closed.add(code)
        return Change(code, before, after)

    def load(self, code: str, events: list[Any]) -> ComplaintState | None:
        """Take in all of a complaint's events at once (rebuilding from the store)."""
        entry = _Open(events=sorted(events, key=lambda e: e.ts), ids={e.id for e in events})
        entry.state = fold(entry.events)
        if entry.state is None:
            return None
        if entry.state.is_open:
            self.open[code] = entry
        else:
            self.closed.add(code)
        return entry.state

    def state(self, code: str) -> ComplaintState | None:
        entry = self.open.get(code)
        return entry.state if entry else None

    def open_states(self) -> list[ComplaintState]:
        return [e.state for e in self.open.values() if e.state is not None]

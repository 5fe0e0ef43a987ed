"""What one camera emitted lately, kept on disk, so a restarted pipeline neither repeats
nor loses a pass.

A pipeline that crashes while a car is still in view comes back seconds later and sees
the car again: without memory it would emit a second sighting of the same pass. With
this journal it knows the plate was emitted moments ago and only extends that pass.
Each sighting is written here *before* it is published and marked done after the bus
acknowledged it; a sighting still pending at start-up is published again with the same
id, which every sink already deduplicates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from streams.records import Sighting

log = logging.getLogger(__name__)

SAME_PASS_S = 10.0
"""Two passes of one identity at one camera closer than this are one pass (a crash and
restart, or a tracker that lost the object for a moment). Real returns take minutes."""
KEEP_S = 120.0


@dataclass(slots=True)
class _Entry:
    kind: str
    identity: str
    last_seen: datetime
    sighting: str | None = None  # JSON of a sighting not yet acknowledged by the bus


class PassJournal:
    def __init__(self, path: Path | None, same_pass_s: float = SAME_PASS_S) -> None:
        self.path = path
        self.same_pass_s = same_pass_s
        self._entries: dict[tuple[str, str], _Entry] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for row in data.get("entries", []):
                entry = _Entry(row["kind"], row["identity"], datetime.fromisoformat(row["last_seen"]),
                               row.get("sighting"))
                self._entries[(entry.kind, entry.identity)] = entry
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("pass journal %s unreadable (%s): starting empty", path, exc)
            self._entries = {}

    def same_pass(self, kind: str, identity: str, first_seen: datetime, last_seen: datetime,
                  alike: Callable[[str, str], bool] | None = None) -> bool:
        """True when this pass continues one already emitted; then its end moves on.

        `alike` also matches identities that are not equal but close (a plate read one
        character short while it entered the view, then whole)."""
        window = timedelta(seconds=self.same_pass_s)
        entry = self._entries.get((kind, identity))
        if entry is None and alike is not None:  # a near match must follow it, not overlap it
            entry = next((e for e in self._entries.values() if e.kind == kind and alike(e.identity, identity)
                          and e.last_seen < first_seen <= e.last_seen + window), None)
        if entry is None or first_seen - entry.last_seen > window:
            return False
        if last_seen > entry.last_seen:
            entry.last_seen = last_seen
            self._save()
        return True

    def begin(self, sighting: Sighting, last_seen: datetime) -> None:
        """Record a sighting about to be published (pending until `done`)."""
        key = (sighting.kind.value, sighting.identity)
        self._entries[key] = _Entry(key[0], key[1], last_seen, sighting.model_dump_json())
        self._prune(last_seen)
        self._save()

    def done(self, sightings: list[Sighting]) -> None:
        for sighting in sightings:
            entry = self._entries.get((sighting.kind.value, sighting.identity))
            if entry is not None and entry.sighting is not None:
                entry.sighting = None
        self._save()

    def pending(self) -> list[Sighting]:
        """Sightings written before a crash and maybe never published: publish them again."""
        out = []
        for entry in self._entries.values():
            if entry.sighting:
                with contextlib.suppress(ValueError):
                    out.append(Sighting.model_validate_json(entry.sighting))
        return out

    def _prune(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=KEEP_S)
        self._entries = {k: e for k, e in self._entries.items()
                         if e.last_seen >= horizon or e.sighting is not None}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"entries": [
            {"kind": e.kind, "identity": e.identity, "last_seen": e.last_seen.isoformat(),
             "sighting": e.sighting} for e in self._entries.values()
        ]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

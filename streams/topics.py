"""Topic names and which record type travels on each (one type per topic)."""

from __future__ import annotations

from enum import StrEnum

from streams.records import (
    Alert,
    CameraStatus,
    ComplaintEvent,
    DeadLetter,
    GridEvent,
    Record,
    Sighting,
)


class Topic(StrEnum):
    SIGHTINGS = "cityops.sightings"
    COMPLAINTS = "cityops.complaints"
    GRID = "cityops.grid"
    CAMERAS = "cityops.cameras"
    ALERTS = "cityops.alerts"
    DEAD_LETTER = "cityops.deadletter"


RECORD_TYPES: dict[Topic, type[Record]] = {
    Topic.SIGHTINGS: Sighting,
    Topic.COMPLAINTS: ComplaintEvent,
    Topic.GRID: GridEvent,
    Topic.CAMERAS: CameraStatus,
    Topic.ALERTS: Alert,
    Topic.DEAD_LETTER: DeadLetter,
}

TOPIC_OF: dict[type[Record], Topic] = {cls: topic for topic, cls in RECORD_TYPES.items()}

PARTITIONS: dict[Topic, int] = {
    Topic.SIGHTINGS: 8,
    Topic.COMPLAINTS: 4,
    Topic.GRID: 2,
    Topic.CAMERAS: 2,
    Topic.ALERTS: 2,
    Topic.DEAD_LETTER: 1,
}
"""Partitions per topic on Kafka: sightings scale out by identity, the rest are light."""

"""What every page reads from: the settings, the district and the store, opened once per process."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from streams.config import Settings, load_settings

if TYPE_CHECKING:
    from analytics.store import Store
    from streams.district import District

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings
    store.cache_clear()
    district.cache_clear()


def settings() -> Settings:
    return _settings or load_settings()


@cache
def store() -> Store:
    from analytics.store import Store

    return Store.open(settings().store_url)


@cache
def district() -> District:
    from streams.district import load_district

    return load_district(settings().district_file)

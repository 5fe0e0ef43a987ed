"""Where the state lives and which bus and store to use, from flags and the environment.

All state (store, LocalBus files, snapshots, enrolled faces, logs) lives under one data
folder: `var/` by default, moved with `CITYOPS_HOME` or `--home`. Two folders never share
state, so tests and evaluations can run side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    bus_url: str = "local"
    db_url: str = ""
    district_file: Path | None = None
    tile_url: str = ""  # map base layer; empty: the district's own GeoJSON only (no internet)

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'cityops.db'}"

    @property
    def snapshots(self) -> Path:
        return self.home / "snapshots"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def ensure(self) -> Settings:
        for folder in (self.home, self.snapshots, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def load_settings(
    home: str | Path | None = None,
    bus_url: str | None = None,
    db_url: str | None = None,
    district_file: str | Path | None = None,
) -> Settings:
    """Flags win over the environment (CITYOPS_HOME, _BUS, _DB, _DISTRICT, _TILE_URL)."""
    home_path = Path(home or os.environ.get("CITYOPS_HOME") or REPO_ROOT / "var").resolve()
    district = district_file or os.environ.get("CITYOPS_DISTRICT")
    return Settings(
        home=home_path,
        bus_url=bus_url or os.environ.get("CITYOPS_BUS", "local"),
        db_url=db_url or os.environ.get("CITYOPS_DB", ""),
        district_file=Path(district) if district else None,
        tile_url=os.environ.get("CITYOPS_TILE_URL", ""),
    )

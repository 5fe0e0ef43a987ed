"""Shared fixtures. Each section belongs to one area; add yours as a separate section."""

from __future__ import annotations

# ============================================================== PostgreSQL (store) ====
# A throwaway cluster (tests/setup/throwaway_postgres.py) started once per session on
# 127.0.0.1 in a temporary folder, one fresh database per test, stopped at the end.
# `store_url` runs a test on SQLite and on PostgreSQL.
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "setup"))
from throwaway_postgres import PostgresUnavailable, ThrowawayPostgres  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    if os.environ.get("CITYOPS_SKIP_POSTGRES"):
        pytest.skip("CITYOPS_SKIP_POSTGRES is set")
    try:
        server = ThrowawayPostgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be had here: {exc}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: ThrowawayPostgres) -> Iterator[str]:
    """A new empty database on the session's cluster, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


# ========================================================== end PostgreSQL (store) ====

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


# ======================================================================= Bus (streams) ====
# `tansu_broker`: one real Tansu broker (Kafka protocol) on 127.0.0.1 for the session,
# started only when a test asks for it and stopped at the end. `bus_spec` runs a test on
# LocalBus (a folder under tmp_path) and on Tansu (a namespace of its own per test);
# `make_bus` opens buses of that spec and closes them after the test.
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402

from bus_helpers import BusSpec  # noqa: E402

from streams.bus import Bus  # noqa: E402
from streams.tansu import TansuBroker  # noqa: E402


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    log_file = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with TansuBroker(log_file=log_file) as broker:
        yield broker


@pytest.fixture(params=["local", pytest.param("tansu", marks=pytest.mark.kafka)])
def bus_spec(request: pytest.FixtureRequest, tmp_path: Path) -> BusSpec:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    if request.param == "local":
        return BusSpec("local", str(tmp_path / "bus"), namespace)
    broker: TansuBroker = request.getfixturevalue("tansu_broker")
    return BusSpec("tansu", broker.bootstrap, namespace)


@pytest.fixture
def make_bus(bus_spec: BusSpec) -> Iterator[Callable[[], Bus]]:
    opened: list[Bus] = []

    def make() -> Bus:
        bus = bus_spec.open()
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        bus.close()


# =================================================================== end Bus (streams) ====


# ======================================================== Browser (dashboard pages) ====
# dash.testing's `dash_duo` drives Debian's /usr/bin/chromium through /usr/bin/chromedriver
# (tests/setup/ensure_browser.sh), always headless at 1920x1080 (the wall screen's size).


@pytest.hookimpl(optionalhook=True)  # the hook exists only with dash[testing] installed
def pytest_setup_options():  # dash.testing hook: the Chrome options of dash_duo
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1920,1080", "--hide-scrollbars", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"):
        options.add_argument(arg)
    return options


# ==================================================== end Browser (dashboard pages) ====


# ------------------------------------------------------------------ sample clips

TWO_CLIPS = ("PF-C002.mp4", "PF-C003.mp4")
"""Two sample-media cameras a watch-listed face and several cars cross (tests that need
real clips but not all ten)."""


@pytest.fixture(scope="session")
def two_sample_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """PF-C002 and PF-C003 from sample_media/ when generated, else rendered once for the
    session (~75 s; `make test` does not generate the full sample media)."""
    import os

    media = Path(__file__).resolve().parents[1] / "sample_media"
    if all((media / c).is_file() and (media / c).with_suffix(".json").is_file() for c in TWO_CLIPS):
        return [media / c for c in TWO_CLIPS]
    from sample_media import generate

    out = tmp_path_factory.mktemp("media")
    try:
        generate.generate(out, generate.DEFAULT_SEED, workers=min(2, os.cpu_count() or 1),
                          only=set(TWO_CLIPS))
    except SystemExit as exc:  # the generator's own message: ffmpeg missing, ...
        pytest.skip(f"the sample media cannot be generated here: {exc}")
    return [out / c for c in TWO_CLIPS]

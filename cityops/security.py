"""The security commands' work: users from the command line, demo accounts, audit export.

Whoever runs these has the store's own credentials, so they need no dashboard login; each
change they make is still written to the audit log as `cli:<os user>`. There is no
default password anywhere: an admin is made with `cityops users add NAME --role admin`,
and `cityops demo` makes one account per role with generated passwords, printed once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

from analytics.accounts import AccountError, Accounts, Role, generate_password
from analytics.audit import Actor, AuditLog, Channel, Outcome
from analytics.search import cli_actor
from analytics.store import Store
from streams.config import Settings

DEMO_CREDENTIALS_FILE = "demo_credentials.txt"


def add_user(settings: Settings, name: str, role: str, password: str | None, out: IO[str] | None = None) -> str:
    """Add a user; with no password, one is generated and printed once. Returns the password."""
    out = out or sys.stdout
    generated = password is None
    password = password or generate_password()
    with Store.open(settings.store_url) as store:
        user = Accounts(store).add(name, role, password)
        AuditLog(store).record(cli_actor(), Channel.CLI, "users.add", {"name": name, "role": user.role.value}, 1)
    print(f"added {user.name} ({user.role.value})", file=out)
    if generated:
        print(f"password (shown once): {password}", file=out)
    return password


def list_users(settings: Settings, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    with Store.open(settings.store_url) as store:
        users = Accounts(store).users()
    for user in users:
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.name}\t{user.role.value}\t{state}\t{user.created_at.isoformat(timespec='seconds')}", file=out)
    return len(users)


def set_password(settings: Settings, name: str, password: str | None, out: IO[str] | None = None) -> str:
    out = out or sys.stdout
    generated = password is None
    password = password or generate_password()
    with Store.open(settings.store_url) as store:
        Accounts(store).set_password(name, password)
        AuditLog(store).record(cli_actor(), Channel.CLI, "users.set_password", {"name": name}, 1)
    print(f"new password set for {name}; their open sessions have ended", file=out)
    if generated:
        print(f"password (shown once): {password}", file=out)
    return password


def disable_user(settings: Settings, name: str, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    with Store.open(settings.store_url) as store:
        Accounts(store).disable(name)
        AuditLog(store).record(cli_actor(), Channel.CLI, "users.disable", {"name": name}, 1)
    print(f"disabled {name}; their open sessions have ended", file=out)


def ensure_demo_users(settings: Settings, out: IO[str] | None = None) -> dict[str, str] | None:
    """One account per role with a generated password, unless the store has users already.

    The passwords are printed once and kept in `<home>/demo_credentials.txt` (mode 0600)
    so that a tester can find them; None when users existed (nothing made or printed).
    """
    out = out or sys.stdout
    with Store.open(settings.store_url) as store:
        accounts = Accounts(store)
        if accounts.users():
            return None
        made = {f"demo-{role.value}": generate_password() for role in Role}
        for (name, password), role in zip(made.items(), Role, strict=True):
            accounts.add(name, role, password)
        AuditLog(store).record(cli_actor(), Channel.CLI, "users.demo", {"names": sorted(made)}, len(made))
    lines = [f"{name}\t{password}" for name, password in made.items()]
    path = settings.home / DEMO_CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# cityops demo accounts (generated; change with cityops users set-password)\n")
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    print("CityOps demo accounts (passwords shown once; also in " f"{path}):", file=out)
    for line in lines:
        print(f"  {line}", file=out)
    out.flush()
    return made


def export_audit(settings: Settings, path: Path, since: datetime | None = None,
                 until: datetime | None = None) -> int:
    """The audit log as CSV into `path` (the export itself is audited); returns the rows."""
    with Store.open(settings.store_url) as store:
        log = AuditLog(store)
        with path.open("w", encoding="utf-8", newline="") as f:
            rows = log.write_csv(f, since, until)
        log.record(cli_actor(), Channel.CLI, "audit.export", {"out": str(path), "since": since, "until": until},
                   rows)
    return rows


def audited_watchlist_change(settings: Settings, action: str, query: dict[str, object],
                             change: Callable[[], int], actor: Actor | None = None) -> int:
    """Run a watch-list change (enroll, purge, plate list) and record it; `change` returns an exit code."""
    code = change()
    with Store.open(settings.store_url) as store:
        AuditLog(store).record(actor or cli_actor(), Channel.CLI, f"watchlist.{action}", query,
                               1 if code == 0 else 0, Outcome.OK if code == 0 else Outcome.ERROR)
    return code


class _CountingLines:
    """Passes text through to `out`, counting the lines (one per result for the JSON-lines commands)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


def audited_face_scan(settings: Settings, sources: list[Path], run: Callable[[IO[str]], int]) -> int:
    """`cityops faces`: matching faces in media against the watch list is a face search: audited."""
    out = _CountingLines(sys.stdout)
    try:
        code = run(out)  # type: ignore[arg-type]
    finally:
        with Store.open(settings.store_url) as store:
            AuditLog(store).record(cli_actor(), Channel.CLI, "search.faces_in_media",
                                   {"sources": [p.name for p in sources]}, out.lines)
    return code


__all__ = ["AccountError", "add_user", "audited_face_scan", "audited_watchlist_change", "disable_user", "ensure_demo_users",
           "export_audit", "list_users", "set_password"]

"""Who may log in: user accounts in the store, each with one role and a hashed password.

Passwords are hashed with werkzeug.security's scrypt (memory-hard, salted, maintained by
the Pallets project and already installed with Flask), so no password, and nothing from
which one is cheap to guess, is ever stored. `cityops users ...` and `cityops demo`
create accounts; the dashboard only verifies them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from analytics import tables as t
from analytics.store import Store

MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
HASH_METHOD = "scrypt"
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8), method=HASH_METHOD)
"""Checked against when the name is unknown, so a wrong name costs as long as a wrong password."""


class Role(StrEnum):
    OPERATOR = "operator"
    ANALYST = "analyst"
    LEADER = "leader"
    TESTER = "tester"
    ADMIN = "admin"


class AccountError(ValueError):
    """A request the accounts cannot honour (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    session_version: int
    created_at: datetime


def generate_password() -> str:
    """16 URL-safe characters (96 bits), for `cityops demo` and `users add` without one."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise AccountError(f"unknown role {value!r}: one of {', '.join(r.value for r in Role)}") from exc


class Accounts:
    """The users table; one per process is enough (it holds no state but the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, role: Role | str, password: str) -> User:
        if not NAME_PATTERN.fullmatch(name):
            raise AccountError("a user name is 1-64 letters, digits or _ . @ -")
        role = _role(role)
        _check_password(password)
        row = {"name": name, "role": role.value, "password_hash": generate_password_hash(password, method=HASH_METHOD),
               "disabled": False, "session_version": 0, "created_at": datetime.now(UTC)}
        try:
            with self.store.transaction() as conn:
                conn.execute(insert(t.users).values(**row))
        except IntegrityError as exc:
            raise AccountError(f"user {name} already exists") from exc
        user = self.user(name)
        assert user is not None
        return user

    def set_password(self, name: str, password: str) -> None:
        """A new password ends every session the user had."""
        _check_password(password)
        self._change(name, password_hash=generate_password_hash(password, method=HASH_METHOD), disabled=False)

    def disable(self, name: str) -> None:
        """The user can no longer log in, and their open sessions end at the next request."""
        self._change(name, disabled=True)

    def _change(self, name: str, **values: object) -> None:
        u = t.users
        with self.store.transaction() as conn:
            done = conn.execute(update(u).where(u.c.name == name)
                                .values(session_version=u.c.session_version + 1, **values)).rowcount
        if not done:
            raise AccountError(f"no user {name}")

    def verify(self, name: str, password: str) -> User | None:
        """The user if the name and password match an enabled account, else None."""
        u = t.users
        with self.store.engine.connect() as conn:
            row = conn.execute(select(u).where(u.c.name == name)).first()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row.password_hash, password) or row.disabled:
            return None
        return _user(row)

    def user(self, name: str) -> User | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return _user(row) if row is not None else None

    def by_id(self, user_id: int) -> User | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row is not None else None

    def users(self) -> list[User]:
        with self.store.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(t.users).order_by(t.users.c.name))]


def _user(row: object) -> User:
    return User(id=row.id, name=row.name, role=Role(row.role), disabled=bool(row.disabled),  # type: ignore[attr-defined]
                session_version=row.session_version, created_at=row.created_at)  # type: ignore[attr-defined]

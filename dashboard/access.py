"""The role matrix, written once: which role may use which page, read, API route and callback.

Enforced on the server, never by hiding a button: `dashboard/auth.py` checks every HTTP
request (API routes, snapshots, Dash callbacks by the component ids they update, page
layouts), and `dashboard/reads.py` checks each read again before it touches the store.
Anything not named here is refused (a new callback or route must be added to the matrix).

| permission | what it opens | operator | analyst | leader | tester | admin |
|---|---|---|---|---|---|---|
| wall       | wall page (`/`): complaints, alerts, grid state, trails, camera detail | x | x | x |   | x |
| complaints | `/api/complaints...`, `/api/rankings`, `/api/grids/status`, `/api/heatmap`, `/api/trends`, `/api/openapi.json` | x |   | x |   | x |
| media      | `/media/...` snapshots and face crops (the wall's camera detail shows them) | x | x | x |   | x |
| search     | analyst page (`/analyst`), `/api/search`: plate, face, photo, camera, area, companions, trajectories, alerts | | x | |   | x |
| leader     | leader page (`/leader`): trends, rankings, heat map, camera availability |   |   | x |   | x |
| tester     | tester page (`/tester`): replay a video through the recognisers |   |   |   | x | x |
| admin      | admin page (`/admin`): users, audit log, `/admin/audit.csv` |   |   |   |   | x |
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from analytics.accounts import Role
from analytics.audit import Actor


class Permission(StrEnum):
    WALL = "wall"
    COMPLAINTS = "complaints"
    MEDIA = "media"
    SEARCH = "search"
    LEADER = "leader"
    TESTER = "tester"
    ADMIN = "admin"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({P.WALL, P.COMPLAINTS, P.MEDIA}),
    Role.ANALYST: frozenset({P.WALL, P.SEARCH, P.MEDIA}),
    Role.LEADER: frozenset({P.WALL, P.LEADER, P.COMPLAINTS, P.MEDIA}),
    Role.TESTER: frozenset({P.TESTER}),
    Role.ADMIN: frozenset(Permission),
}

PAGES: dict[str, Permission] = {
    "/": P.WALL, "/analyst": P.SEARCH, "/leader": P.LEADER, "/tester": P.TESTER, "/admin": P.ADMIN,
}
"""Each Dash page's path and the permission its layout (and its callbacks) need."""

ROUTES: tuple[tuple[str, Permission], ...] = (
    ("/api/search", P.SEARCH),
    ("/api/", P.COMPLAINTS),
    ("/media/", P.MEDIA),
    ("/admin/", P.ADMIN),
)
"""Flask routes by path prefix (first match wins); other paths are the Dash app itself."""

CALLBACK_PREFIXES: tuple[tuple[str, Permission | None], ...] = (
    ("kpi-", P.WALL), ("wall-", P.WALL),
    ("an-", P.SEARCH),
    ("ld-", P.LEADER),
    ("ts-", P.TESTER),
    ("adm-", P.ADMIN),
    ("topbar", None), ("_pages_", None),  # any logged-in user: navigation and Dash's page router
)
"""Dash callbacks by the ids of the components they update; None: any logged-in user."""


class PermissionDenied(Exception):
    """The current user's role may not do this (answered 403)."""

    def __init__(self, actor: Actor | None, needed: Iterable[Permission] | str) -> None:
        self.actor = actor
        self.needed = needed if isinstance(needed, str) else "/".join(p.value for p in needed)
        who = f"{actor.name} ({actor.role})" if actor else "nobody logged in"
        super().__init__(f"{who} may not use {self.needed}")


def permissions(role: str) -> frozenset[Permission]:
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def allowed(role: str, *needed: Permission) -> bool:
    """True if the role holds any of the permissions."""
    return bool(permissions(role) & set(needed))


def route_permission(path: str) -> Permission | None:
    return next((perm for prefix, perm in ROUTES if path.startswith(prefix)), None)


def callback_permissions(output_ids: Iterable[str]) -> set[Permission | None] | None:
    """What updating these components needs; None when one of them is in no page (refused)."""
    needed: set[Permission | None] = set()
    for component in output_ids:
        match = next((perm for prefix, perm in CALLBACK_PREFIXES if component.startswith(prefix)), "unknown")
        if match == "unknown":
            return None
        needed.add(match)  # type: ignore[arg-type]
    return needed


def home_page(role: str) -> str:
    """Where a user lands after logging in: the first page the role may open."""
    return next((path for path, perm in PAGES.items() if allowed(role, perm)), "/")


# ------------------------------------------------------------------ who is asking

_acting: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("cityops_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Run page code outside an HTTP request as this user (tests, scripts); the checks still apply."""
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def current_actor() -> Actor | None:
    """The logged-in user of this request, else the one set by `acting_as`, else None."""
    import flask

    if flask.has_request_context():
        from flask_login import current_user

        if current_user.is_authenticated:
            return Actor(current_user.name, current_user.role)
        return None
    return _acting.get()


def require(*needed: Permission) -> Actor:
    """The current actor, if their role holds one of `needed`; else PermissionDenied."""
    actor = current_actor()
    if actor is None or not allowed(actor.role, *needed):
        raise PermissionDenied(actor, needed)
    return actor

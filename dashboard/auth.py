"""Login for every page, API route, snapshot and Dash callback; the role matrix checked per request.

flask-login keeps the user in Flask's signed session cookie (HttpOnly, SameSite=Lax,
Secure when `CITYOPS_HTTPS=1`); the key comes from `CITYOPS_SECRET_KEY` or is generated
once into `<home>/secret_key` (mode 0600), never from the code. The cookie holds the
user's id and session version, so a password change or `cityops users disable` ends
every session of that user at its next request.

Five wrong passwords for one name from one address in 5 minutes: that pair waits (429,
`dashboard/login_throttle.py`). `gate` runs before every request: not logged in -> 401 JSON for API, media and Dash
endpoints, a redirect to `/login` for pages; logged in without the permission the
matrix (`dashboard/access.py`) asks for -> 403 JSON, recorded in the audit log.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from html import escape
from pathlib import Path
from urllib.parse import urlencode

import flask
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from analytics.accounts import Accounts, User
from analytics.audit import Actor, AuditLog, Channel, Outcome
from dashboard import access, context
from dashboard.access import PermissionDenied
from dashboard.i18n import lang_of, tr
from dashboard.login_throttle import LoginThrottle

log = logging.getLogger(__name__)

SECRET_FILE = "secret_key"
THROTTLE = "cityops_login_throttle"
SESSION_HOURS = 12
OPEN_PATHS = frozenset({"/login", "/logout", "/_favicon.ico"})
OPEN_PREFIXES = ("/assets/",)
"""Reachable without logging in: the login form, logging out, the stylesheet the form uses."""
API_PREFIXES = ("/api/", "/media/", "/admin/", "/_dash-")
"""Answered with 401/403 JSON rather than a redirect: machines and Dash's renderer call these."""


class SessionUser(UserMixin):
    """The logged-in user as flask-login sees it."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.name = user.name
        self.role = user.role.value

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"


def secret_key(home: Path) -> str:
    """`CITYOPS_SECRET_KEY`, else the key kept in the data folder (made on first use, 0600)."""
    from_env = os.environ.get("CITYOPS_SECRET_KEY", "").strip()
    if from_env:
        return from_env
    path = home / SECRET_FILE
    if not path.exists():  # written whole, then linked into place: a racing process reads all or nothing
        draft = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


def https() -> bool:
    return os.environ.get("CITYOPS_HTTPS", "").strip().lower() in ("1", "true", "yes")


def install(server: flask.Flask) -> None:
    """Add login, logout, the per-request gate and the 401/403 answers to the app's server."""
    settings = context.settings()
    server.secret_key = secret_key(settings.home)
    server.config.update(
        SESSION_COOKIE_NAME="cityops_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https(), REMEMBER_COOKIE_SECURE=https(), REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    server.extensions[THROTTLE] = LoginThrottle()
    manager = LoginManager()
    manager.init_app(server)

    @manager.user_loader
    def load_user(session_id: str) -> SessionUser | None:
        try:
            user_id, version = (int(part) for part in session_id.split(":"))
        except ValueError:
            return None
        user = Accounts(context.store()).by_id(user_id)
        if user is None or user.disabled or user.session_version != version:
            return None
        return SessionUser(user)

    server.before_request(gate)
    server.register_error_handler(PermissionDenied, _forbidden)
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])


def gate() -> flask.Response | tuple[flask.Response, int] | None:
    """Refuse the request unless the user is logged in and the matrix lets their role do it."""
    path = flask.request.path
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    if not current_user.is_authenticated:
        if path.startswith(API_PREFIXES):
            return flask.jsonify(error="log in first (POST /login with name and password)"), 401
        query = urlencode({"next": flask.request.full_path.rstrip("?")})
        return flask.redirect(f"/login?{query}")
    needed = access.route_permission(path)
    if needed is not None:
        access.require(needed)
    elif path == "/_dash-update-component":
        _check_callback()
    return None


def _check_callback() -> None:
    body = flask.request.get_json(silent=True)
    outputs = body.get("outputs") if isinstance(body, dict) else None
    items = outputs if isinstance(outputs, list) else [outputs]
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    if not ids or not all(isinstance(i, str) for i in ids):
        raise PermissionDenied(access.current_actor(), "this callback")
    needed = access.callback_permissions(ids)
    if needed is None:
        raise PermissionDenied(access.current_actor(), f"callback {','.join(ids)}")
    for permission in needed - {None}:
        access.require(permission)  # type: ignore[arg-type]


def _forbidden(exc: PermissionDenied) -> tuple[flask.Response, int]:
    actor = exc.actor
    if actor is not None:
        try:
            AuditLog(context.store()).record(actor, _channel(), "denied", {"path": flask.request.path,
                                             "needs": exc.needed}, None, Outcome.DENIED)
        except Exception:  # the refusal stands even if the store cannot be written
            log.exception("could not record a refusal in the audit log")
        return flask.jsonify(error=f"your role ({actor.role}) may not use {exc.needed}"), 403
    return flask.jsonify(error="log in first (POST /login with name and password)"), 401


def _channel() -> Channel:
    return Channel.API if flask.request.path.startswith("/api/") else Channel.DASHBOARD


# ------------------------------------------------------------------ login and logout


def login() -> flask.Response | tuple[flask.Response | str, int] | str:
    """GET: the form. POST (form or JSON `{"name", "password"}`): a session cookie, or 401."""
    request = flask.request
    lang = lang_of(request.values.get("lang"))
    if request.method == "GET":
        return _login_page(lang, request.args.get("next", ""), error=None)
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) or hasattr(data, "get") else {}
    name, password = str(data.get("name") or ""), str(data.get("password") or "")
    throttle: LoginThrottle = flask.current_app.extensions[THROTTLE]
    address = request.remote_addr or "-"
    wait_s = throttle.wait_s(name, address)
    if wait_s > 0:  # refused before the password is even checked
        AuditLog(context.store()).record(Actor(name[:64] or "-", "-"), _channel(), "login",
                                         {"name": name[:64], "throttled": True}, None, Outcome.DENIED)
        seconds = int(wait_s) + 1
        answer = (flask.jsonify(error=tr("login.throttled", "en").format(s=seconds)) if request.is_json  # as the API
                  else flask.make_response(_login_page(lang, str(data.get("next") or ""),
                                                       error=tr("login.throttled", lang).format(s=seconds))))
        answer.status_code = 429
        answer.headers["Retry-After"] = str(seconds)
        return answer
    user = Accounts(context.store()).verify(name, password) if name and password else None
    AuditLog(context.store()).record(Actor(name[:64] or "-", user.role.value if user else "-"), _channel(),
                                     "login", {"name": name[:64]}, None, Outcome.OK if user else Outcome.DENIED)
    if user is None:
        throttle.failed(name, address)
        if request.is_json:
            return flask.jsonify(error="wrong user name or password"), 401
        return _login_page(lang, str(data.get("next") or ""), error=tr("login.wrong", lang)), 401
    throttle.succeeded(name, address)
    flask.session.permanent = True
    login_user(SessionUser(user))
    if request.is_json:
        return flask.jsonify(name=user.name, role=user.role.value)
    return flask.redirect(_safe_next(str(data.get("next") or ""), user.role.value))


def logout() -> flask.Response:
    lang = lang_of(flask.request.values.get("lang"))
    logout_user()
    flask.session.clear()
    return flask.redirect("/login" + ("?lang=en" if lang == "en" else ""))


def _safe_next(target: str, role: str) -> str:
    """Only a path on this site, and only one the role may open; else the role's first page."""
    page = target.split("?", 1)[0]
    if not target.startswith("/") or target.startswith("//") or "\\" in target or page in ("/login", "/logout"):
        return access.home_page(role)
    needed = access.PAGES.get(page)
    if needed is not None and not access.allowed(role, needed):
        return access.home_page(role)
    return target


def _login_page(lang: str, next_path: str, *, error: str | None) -> str:
    other = "zh" if lang == "en" else "en"
    switch = "?" + urlencode({"lang": other, **({"next": next_path} if next_path else {})})
    message = f'<p class="login-error" id="login-error">{escape(error)}</p>' if error else ""
    if not Accounts(context.store()).users():  # a fresh deployment: say how to make the first admin
        message += f'<p class="login-error" id="login-no-users">{escape(tr("login.no_users", lang))}</p>'

    return f"""<!DOCTYPE html>
<html lang="{'en' if lang == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<title>{escape(tr("login.title", lang))} · CityOps</title>
<link rel="stylesheet" href="/assets/cityops.css"></head>
<body class="login-body"><div class="topbar"><h1>{escape(tr("title", lang))} · CityOps</h1>
<a class="lang" id="lang-switch" style="margin-left:auto" href="/login{escape(switch)}">{escape(tr("switch", lang))}</a></div>
<form class="login" id="login-form" method="post" action="/login">
<h2>{escape(tr("login.title", lang))}</h2>{message}
<label>{escape(tr("login.name", lang))}<input id="login-name" name="name" autocomplete="username" required autofocus></label>
<label>{escape(tr("login.password", lang))}<input id="login-password" name="password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{escape(next_path)}"><input type="hidden" name="lang" value="{lang}">
<button id="login-submit" type="submit">{escape(tr("login.submit", lang))}</button>
<p class="login-note">{escape(tr("login.note", lang))}</p>
</form></body></html>"""

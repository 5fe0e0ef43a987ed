"""Issue 9, security: login for everything, the role matrix enforced on the server, the audit log.

All on the real Dash app and its Flask server over a seeded SQLite store (tests/page_seed.py),
logging in through the real `/login` route; the CLI through its real commands; the audit
table's refusal of UPDATE/DELETE on SQLite and PostgreSQL; the login and admin pages in
headless Chromium (screenshots to $CITYOPS_SCREENSHOTS when set).
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from analytics.accounts import Accounts, Role
from analytics.audit import Actor, AuditLog
from analytics.store import Store
from dashboard.access import PAGES, ROLE_PERMISSIONS, Permission, PermissionDenied, acting_as
from streams.config import Settings, load_settings
from tests.auth_helpers import PASSWORDS, add_role_users, browser_login, login, user_name
from tests.page_seed import PLATE, ROUTE, WATCHED, seed

pytestmark = pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning")
ROOT = Path(__file__).resolve().parent.parent
ZONE_TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(home=tmp_path_factory.mktemp("secure-home"))
    seed(settings)
    add_role_users(settings)
    return settings


@pytest.fixture(scope="module")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from dashboard.app import create_app

    return create_app(settings)


def _client(app: Any, role: Role | None = None) -> Any:
    client = app.server.test_client()
    if role is not None:
        login(client, role)
    return client


def _audit(settings: Settings, actor: str | None = None) -> list:
    with Store.open(settings.store_url) as store:
        return AuditLog(store).entries(actor=actor, limit=50)


def _snapshot(settings: Settings) -> str:
    return str(next((settings.home / "snapshots").rglob("*.jpg")).relative_to(settings.home))


# ------------------------------------------------------------------ Dash callbacks, as the browser posts them


_DEPENDENCIES: dict[int, list[dict]] = {}


def _callback_body(app: Any, output_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The JSON the Dash renderer posts to `/_dash-update-component` for the callback updating `output_id`."""
    if id(app) not in _DEPENDENCIES:
        _DEPENDENCIES[id(app)] = _client(app, Role.ADMIN).get("/_dash-dependencies").get_json()
    deps = _DEPENDENCIES[id(app)]
    dep = next(d for d in deps if re.search(rf"(^|\.\.){re.escape(output_id)}\.", d["output"]))
    parts = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]

    def filled(items: list[dict]) -> list[dict]:
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]

    inputs = filled(dep["inputs"])
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
            "state": filled(dep["state"]), "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs[:1]]}


def _search_callback(app: Any) -> dict[str, Any]:
    return _callback_body(app, "an-table", {"an-search.n_clicks": 1, "an-mode.value": "plate",
                                            "an-text.value": PLATE, "an-lang.data": "zh"})


CALLBACKS: dict[str, tuple[str, dict[str, Any], Permission | None]] = {
    "analyst search": ("an-table", {"an-search.n_clicks": 1, "an-mode.value": "plate", "an-text.value": PLATE,
                                    "an-lang.data": "zh"}, Permission.SEARCH),
    "wall tick": ("kpi-today", {"wall-tick.n_intervals": 1, "wall-lang.data": "zh"}, Permission.WALL),
    "wall ranking": ("wall-ranking", {"wall-ranking-tick.n_intervals": 1, "wall-lang.data": "zh"}, Permission.WALL),
    "leader figures": ("ld-created", {"ld-period.start_date": str(ZONE_TODAY - timedelta(days=6)),
                                      "ld-period.end_date": str(ZONE_TODAY), "ld-lang.data": "zh"},
                       Permission.LEADER),
    "tester poll": ("ts-frame", {"ts-poll.n_intervals": 1, "ts-lang.data": "zh"}, Permission.TESTER),
    "admin audit": ("adm-audit", {"adm-refresh.n_clicks": 1, "adm-lang.data": "zh"}, Permission.ADMIN),
    "top bar": ("topbar", {"url.pathname": "/", "url.search": ""}, None),
}


# ------------------------------------------------------------------ not logged in


def test_nothing_is_served_without_logging_in(app: Any, settings: Settings) -> None:
    client = _client(app)
    for page in ("/", "/analyst", "/leader", "/tester", "/admin", "/analyst?lang=en"):
        answer = client.get(page)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next="), page
    for path in ("/api/search?plate=x", "/api/rankings", "/api/openapi.json", f"/media/{_snapshot(settings)}",
                 "/admin/audit.csv", "/_dash-layout", "/_dash-dependencies"):
        answer = client.get(path)
        assert answer.status_code == 401 and "log in" in answer.get_json()["error"], path
    answer = client.post("/_dash-update-component", json=_search_callback(app))
    assert answer.status_code == 401 and "A12345" not in answer.get_data(as_text=True)
    assert client.post("/api/complaints", json={"text": "路灯不亮"}).status_code == 401
    assert client.get("/login-but-not-quite").status_code == 302  # only the exact open paths are open
    # every route the server has, whatever its method: refused (only the login form and its CSS are open)
    for rule in app.server.url_map.iter_rules():
        if rule.rule.startswith(("/login", "/logout", "/assets/", "/_favicon.ico")):
            continue
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            answer = client.open(path, method=method)
            assert answer.status_code in (302, 401), (method, rule.rule, answer.status_code)


def test_the_login_page_speaks_both_languages(app: Any) -> None:
    client = _client(app)
    zh = client.get("/login").get_data(as_text=True)
    assert 'id="login-form"' in zh and "用户登录" in zh and 'type="password"' in zh
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in en and "Password" in en
    assert "login-no-users" not in en


def test_a_fresh_deployment_says_how_to_make_the_first_admin(tmp_path: Path) -> None:
    from dashboard import auth, context

    fresh = load_settings(home=tmp_path / "fresh").ensure()
    previous = context.settings()
    context.configure(fresh)
    try:
        server = flask.Flask("fresh")
        auth.install(server)
        page = server.test_client().get("/login?lang=en").get_data(as_text=True)
    finally:
        context.configure(previous)
    assert "No users yet: run cityops users add NAME --role admin" in page


def test_a_wrong_password_is_refused_with_a_clear_message(app: Any, settings: Settings) -> None:
    client = _client(app)
    answer = client.post("/login", data={"name": user_name(Role.OPERATOR), "password": "not-the-password"})
    assert answer.status_code == 401 and "用户名或密码错误" in answer.get_data(as_text=True)
    answer = client.post("/login", data={"name": "nobody-at-all", "password": "not-the-password", "lang": "en"})
    assert answer.status_code == 401 and "Wrong user name or password" in answer.get_data(as_text=True)
    answer = client.post("/login", json={"name": user_name(Role.ADMIN), "password": PASSWORDS[Role.OPERATOR]})
    assert answer.status_code == 401 and answer.get_json()["error"] == "wrong user name or password"
    assert client.get("/api/rankings").status_code == 401  # still not logged in
    refused = [e for e in _audit(settings, user_name(Role.OPERATOR)) if e.action == "login"]
    assert refused and refused[0].outcome == "denied"


def test_five_wrong_passwords_make_that_name_wait(app: Any, settings: Settings) -> None:
    with Store.open(settings.store_url) as store:
        Accounts(store).add("guessed-at", Role.ANALYST, "the-real-password")
    client = _client(app)
    for _ in range(5):
        assert client.post("/login", json={"name": "guessed-at", "password": "a-guess-123"}).status_code == 401
    waiting = client.post("/login", json={"name": "guessed-at", "password": "the-real-password"})
    assert waiting.status_code == 429 and 0 < int(waiting.headers["Retry-After"]) <= 300
    assert "try again" in waiting.get_json()["error"]
    form = client.post("/login", data={"name": "GUESSED-AT", "password": "x"})  # names are not case-tricks
    assert form.status_code == 429 and "请" in form.get_data(as_text=True)
    assert '"throttled": true' in _audit(settings, "guessed-at")[0].query
    assert client.post("/login", json={"name": user_name(Role.ANALYST),
                                       "password": PASSWORDS[Role.ANALYST]}).status_code == 200  # others unaffected


def test_the_throttle_forgets_after_its_window_and_on_success() -> None:
    from dashboard.login_throttle import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.failed("li", "10.0.0.1")
    assert throttle.wait_s("li", "10.0.0.1") == pytest.approx(60)
    assert throttle.wait_s("li", "10.0.0.2") == 0 and throttle.wait_s("wang", "10.0.0.1") == 0
    now[0] += 61
    assert throttle.wait_s("li", "10.0.0.1") == 0
    throttle.failed("li", "10.0.0.1")
    throttle.succeeded("li", "10.0.0.1")
    throttle.failed("li", "10.0.0.1")
    throttle.failed("li", "10.0.0.1")
    assert throttle.wait_s("li", "10.0.0.1") == 0  # a success starts the count again


def test_login_sends_each_role_only_to_a_page_of_this_site_it_may_open(app: Any) -> None:
    def landing(role: Role, next_path: str) -> str:
        answer = _client(app).post("/login", data={"name": user_name(role), "password": PASSWORDS[role],
                                                   "next": next_path})
        assert answer.status_code == 302
        return answer.headers["Location"]

    assert landing(Role.ANALYST, "/analyst?lang=en") == "/analyst?lang=en"
    assert landing(Role.OPERATOR, "/analyst") == "/"  # not a page an operator may open
    assert landing(Role.TESTER, "") == "/tester"  # the role's first page
    assert landing(Role.ADMIN, "/admin") == "/admin"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"):
        assert landing(Role.LEADER, elsewhere) == "/", elsewhere


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_over_https(
        app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import auth

    cookie = login(_client(app), Role.OPERATOR).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    key_file = settings.home / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_text().strip()) == 64
    monkeypatch.setenv("CITYOPS_HTTPS", "1")
    server = flask.Flask("behind-https")
    auth.install(server)
    answer = server.test_client().post("/login", base_url="https://localhost",
                                       json={"name": user_name(Role.OPERATOR), "password": PASSWORDS[Role.OPERATOR]})
    assert answer.status_code == 200 and "; Secure" in answer.headers["Set-Cookie"]


def test_logout_a_new_password_and_disable_end_sessions(app: Any, settings: Settings) -> None:
    client = _client(app, Role.OPERATOR)
    assert client.get("/api/rankings").status_code == 200
    client.get("/logout")
    assert client.get("/api/rankings").status_code == 401
    with Store.open(settings.store_url) as store:
        Accounts(store).add("shift-b", Role.OPERATOR, "first-password-1")
    client = app.server.test_client()
    assert client.post("/login", json={"name": "shift-b", "password": "first-password-1"}).status_code == 200
    assert client.get("/api/rankings").status_code == 200
    with Store.open(settings.store_url) as store:
        Accounts(store).set_password("shift-b", "second-password-2")
    assert client.get("/api/rankings").status_code == 401  # the old session ended
    assert client.post("/login", json={"name": "shift-b", "password": "first-password-1"}).status_code == 401
    assert client.post("/login", json={"name": "shift-b", "password": "second-password-2"}).status_code == 200
    with Store.open(settings.store_url) as store:
        Accounts(store).disable("shift-b")
    assert client.get("/api/rankings").status_code == 401
    assert client.post("/login", json={"name": "shift-b", "password": "second-password-2"}).status_code == 401


# ------------------------------------------------------------------ the role matrix


def _requests(app: Any, settings: Settings) -> dict[str, tuple[Permission | None, Any]]:
    """What each probe needs, and how to ask it with a client."""
    probes: dict[str, tuple[Permission | None, Any]] = {
        "GET /api/search": (Permission.SEARCH, lambda c: c.get("/api/search", query_string={"plate": PLATE})),
        "POST /api/search": (Permission.SEARCH, lambda c: c.post("/api/search", json={"trajectories": PLATE})),
        "GET /api/rankings": (Permission.COMPLAINTS, lambda c: c.get("/api/rankings")),
        "GET /api/openapi.json": (Permission.COMPLAINTS, lambda c: c.get("/api/openapi.json")),
        "GET /media/snapshot": (Permission.MEDIA, lambda c: c.get(f"/media/{_snapshot(settings)}")),
        "GET /admin/audit.csv": (Permission.ADMIN, lambda c: c.get("/admin/audit.csv")),
    }
    for name, (output_id, values, needed) in CALLBACKS.items():
        body = _callback_body(app, output_id, values)
        probes[f"callback {name}"] = (needed, lambda c, body=body: c.post("/_dash-update-component", json=body))
    return probes


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_reaches_what_the_matrix_allows_and_nothing_else(app: Any, settings: Settings, role: Role) -> None:
    client = _client(app, role)
    allowed = ROLE_PERMISSIONS[role]
    for name, (needed, ask) in _requests(app, settings).items():
        answer = ask(client)
        if needed is None or needed in allowed:
            assert answer.status_code in (200, 204), (role, name, answer.status_code, answer.get_data()[:300])
        else:
            assert answer.status_code == 403, (role, name, answer.status_code)
            assert role.value in answer.get_json()["error"]
    # the pages: the layout of a page the role may not open is a refusal, not the page
    router = _callback_body(app, "_pages_content", {"_pages_location.pathname": "/", "_pages_location.search": ""})
    for path, needed in PAGES.items():
        router["inputs"][0]["value"] = path
        page = client.post("/_dash-update-component", json=router).get_data(as_text=True)
        assert ('"id":"denied"' in page.replace(" ", "")) is (needed not in allowed), (role, path)
    # the top bar offers exactly the pages the role may open
    bar = client.post("/_dash-update-component", json=_callback_body(app, "topbar", CALLBACKS["top bar"][1]))
    links = {c["props"]["href"] for c in bar.get_json()["response"]["topbar"]["children"]
             if c["type"] == "A" and c["props"].get("id") not in ("lang-switch", "logout")}
    assert links == {path for path, needed in PAGES.items() if needed in allowed}, (role, links)


def test_an_operator_posting_the_trajectory_search_callback_gets_403_and_nothing(app: Any,
                                                                                  settings: Settings) -> None:
    """The issue's example: not by hiding the button, but on the server."""
    client = _client(app, Role.OPERATOR)
    before = _audit(settings)[0].id
    for question in ({"an-mode.value": "plate", "an-text.value": PLATE}, {"an-mode.value": "face",
                                                                           "an-text.value": WATCHED}):
        body = _callback_body(app, "an-table", {"an-search.n_clicks": 1, "an-lang.data": "zh", **question})
        answer = client.post("/_dash-update-component", json=body)
        text_back = answer.get_data(as_text=True)
        assert answer.status_code == 403 and "A12345" not in text_back and "PF-C" not in text_back
    rows = [e for e in _audit(settings) if e.id > before and e.action != "login"]
    assert [(e.actor, e.action, e.outcome) for e in rows] == [(user_name(Role.OPERATOR), "denied", "denied")] * 2
    # and if the gate were bypassed, the read itself refuses before touching the store
    from analytics.search import SearchRequest
    from dashboard import reads

    with acting_as(Actor(user_name(Role.OPERATOR), "operator")), pytest.raises(PermissionDenied):
        reads.search(SearchRequest(trajectories=PLATE))
    with acting_as(Actor(user_name(Role.ANALYST), "analyst")):
        assert len(reads.search(SearchRequest(plate=PLATE))) == len(ROUTE)
    with pytest.raises(PermissionDenied):  # no user at all
        reads.recent_complaints(5)


def test_every_callback_of_the_app_is_in_the_matrix(app: Any) -> None:
    """A callback added later without a place in the matrix is refused; this names it first."""
    from dashboard.access import callback_permissions

    for key in app.callback_map:
        ids = [part.rsplit(".", 1)[0] for part in key.strip(".").split("...")]
        assert callback_permissions(ids) is not None, key


# ------------------------------------------------------------------ the audit log


def test_searches_are_audited_with_user_channel_and_result_count(app: Any, settings: Settings) -> None:
    client = _client(app, Role.ANALYST)
    got = client.get("/api/search", query_string={"plate": PLATE}).get_json()
    assert got["count"] == len(ROUTE)
    (api,) = _audit(settings)[:1]
    assert (api.actor, api.role, api.channel, api.action, api.results, api.outcome) == (
        user_name(Role.ANALYST), "analyst", "api", "search.plate", len(ROUTE), "ok")
    assert PLATE in api.query
    trips = client.post("/api/search", json={"trajectories": PLATE}).get_json()
    face = client.get("/api/search", query_string={"face": WATCHED}).get_json()
    rows = _audit(settings)[:2]
    assert [(e.action, e.results) for e in rows] == [("search.face", face["count"]),
                                                     ("search.trajectories", trips["count"])]
    assert face["count"] == 1 and trips["count"] >= 1
    # the analyst page's search callback, as the browser posts it
    answer = client.post("/_dash-update-component", json=_search_callback(app))
    assert answer.status_code == 200 and len(answer.get_json()["response"]["an-table"]["data"]) == len(ROUTE)
    (dash_row,) = _audit(settings)[:1]
    assert (dash_row.actor, dash_row.channel, dash_row.action, dash_row.results) == (
        user_name(Role.ANALYST), "dashboard", "search.plate", len(ROUTE))
    # a bad question is recorded as such
    assert client.get("/api/search", query_string={"plate": "nope"}).status_code == 400
    assert _audit(settings)[0].outcome == "error"


def _cityops(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cityops.cli", *args, "--home", str(settings.home)], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_cli_searches_and_watchlist_changes_are_audited(settings: Settings) -> None:
    import getpass

    done = _cityops(settings, "search", "--plate", PLATE)
    assert done.returncode == 0 and done.stdout.count("\n") == len(ROUTE), done.stderr
    (row,) = _audit(settings)[:1]
    assert (row.actor, row.role, row.channel, row.action, row.results) == (
        f"cli:{getpass.getuser()}", "cli", "cli", "search.plate", len(ROUTE))
    assert _cityops(settings, "watchlist", "add-plate", "黑C88888", "--reason", "套牌嫌疑").returncode == 0
    assert _cityops(settings, "watchlist", "remove-plate", "黑C88888").returncode == 0
    assert _cityops(settings, "watchlist", "remove-plate", "黑C88888").returncode == 1  # not on the list now
    photo = ROOT / "tests" / "data" / "faces" / "grace_hopper.jpg"
    enrolled = _cityops(settings, "enroll", "grace_hopper", str(photo), "--reason", "test")
    rows = _audit(settings)[:4]
    assert [(e.action, e.results, e.outcome) for e in rows] == [
        ("watchlist.enroll", 1 if enrolled.returncode == 0 else 0, "ok" if enrolled.returncode == 0 else "error"),
        ("watchlist.remove_plate", 0, "error"), ("watchlist.remove_plate", 1, "ok"), ("watchlist.add_plate", 1, "ok")]
    assert "黑C88888" in rows[3].query and "套牌嫌疑" in rows[3].query
    # naming the faces in a photo against the watch list is a face search too
    scanned = _cityops(settings, "faces", str(photo))
    (scan,) = _audit(settings)[:1]
    assert (scan.action, scan.results) == ("search.faces_in_media", scanned.stdout.count("\n"))
    assert "grace_hopper.jpg" in scan.query


def test_the_audit_table_refuses_update_and_delete(store_url: str) -> None:
    with Store.open(store_url) as store:
        log = AuditLog(store)
        log.record(Actor("someone", "analyst"), "api", "search.plate", {"plate": PLATE}, 4)
        for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text(statement))
        if store.dialect == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text("TRUNCATE audit_log"))
        (kept,) = log.entries()
        assert (kept.actor, kept.results) == ("someone", 4)
    assert not [name for name in dir(AuditLog) if re.search(r"update|delete|remove|clear|purge", name)]


def test_no_code_updates_or_deletes_audit_lines() -> None:
    """Append-only in the code too: nothing outside the migration names the table in an UPDATE/DELETE."""
    pattern = re.compile(r"(update|delete)\(\s*t\.audit_log|(UPDATE|DELETE FROM)\s+audit_log", re.IGNORECASE)
    offenders = [str(path) for folder in ("analytics", "dashboard", "cityops", "streams", "video")
                 for path in (ROOT / folder).rglob("*.py")
                 if "migrations" not in path.parts and pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_admin_exports_the_audit_log_as_csv_and_so_does_the_cli(app: Any, settings: Settings,
                                                                 tmp_path: Path) -> None:
    _client(app, Role.ANALYST).get("/api/search", query_string={"plate": PLATE})
    answer = _client(app, Role.ADMIN).get("/admin/audit.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert {"ts", "actor", "role", "channel", "action", "query", "results", "outcome"} <= set(rows[0])
    assert any(r["actor"] == user_name(Role.ANALYST) and r["action"] == "search.plate" for r in rows)
    out = tmp_path / "audit.csv"
    done = _cityops(settings, "audit", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(exported) >= len(rows) and exported[0]["id"] == "1"  # oldest first, the whole log
    assert _audit(settings)[0].action == "audit.export"


# ------------------------------------------------------------------ the CLI's accounts


def test_cli_adds_lists_sets_passwords_and_disables_users(app: Any, settings: Settings) -> None:
    from cityops.cli import app as cli

    runner = CliRunner()
    home = ["--home", str(settings.home)]
    done = runner.invoke(cli, ["users", "add", "wang", "--role", "analyst", "--password-stdin", *home],
                         input="wang-password-1\n")
    assert done.exit_code == 0 and "added wang (analyst)" in done.output
    client = app.server.test_client()
    assert client.post("/login", json={"name": "wang", "password": "wang-password-1"}).get_json()["role"] == "analyst"
    done = runner.invoke(cli, ["users", "add", "li", "--role", "leader", "--generate", *home])
    generated = done.output.split("password (shown once): ")[1].split()[0]
    assert done.exit_code == 0 and len(generated) >= 16
    assert app.server.test_client().post("/login", json={"name": "li", "password": generated}).status_code == 200
    listed = runner.invoke(cli, ["users", "list", *home]).output
    assert re.search(r"^wang\tanalyst\tenabled\t", listed, re.M) and re.search(r"^li\tleader\tenabled\t", listed, re.M)
    done = runner.invoke(cli, ["users", "set-password", "wang", "--password-stdin", *home], input="wang-password-2\n")
    assert done.exit_code == 0
    assert client.get("/api/search", query_string={"plate": PLATE}).status_code == 401  # session ended
    assert client.post("/login", json={"name": "wang", "password": "wang-password-1"}).status_code == 401
    assert client.post("/login", json={"name": "wang", "password": "wang-password-2"}).status_code == 200
    assert runner.invoke(cli, ["users", "disable", "wang", *home]).exit_code == 0
    assert re.search(r"^wang\tanalyst\tdisabled\t", runner.invoke(cli, ["users", "list", *home]).output, re.M)
    assert client.post("/login", json={"name": "wang", "password": "wang-password-2"}).status_code == 401
    # refusals say why
    bad = runner.invoke(cli, ["users", "add", "zhao", "--role", "boss", "--generate", *home])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    short = runner.invoke(cli, ["users", "add", "zhao", "--role", "admin", "--password-stdin", *home], input="short\n")
    assert short.exit_code == 2 and "at least 10" in short.output
    again = runner.invoke(cli, ["users", "add", "li", "--role", "admin", "--generate", *home])
    assert again.exit_code == 2 and "already exists" in again.output
    no_tty = runner.invoke(cli, ["users", "add", "zhao", "--role", "admin", *home], input="")
    assert no_tty.exit_code == 2 and "--password-stdin" in no_tty.output
    changes = [(e.action, e.actor.startswith("cli:")) for e in _audit(settings) if e.action.startswith("users.")]
    assert changes[:4] == [("users.disable", True), ("users.set_password", True), ("users.add", True),
                           ("users.add", True)]


def test_cli_prompts_for_the_password_twice_at_a_terminal(app: Any, settings: Settings) -> None:
    """The interactive path, on a real pseudo-terminal: typed twice, not echoed."""
    import pty
    import select
    import time

    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cityops.cli", "users", "add", "zhou", "--role", "leader",
                             "--home", str(settings.home)], cwd=ROOT, stdin=child, stdout=child, stderr=child,
                            close_fds=True)
    os.close(child)
    seen = b""

    def read_until(marker: bytes, timeout_s: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout_s
        while marker not in seen and time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                try:
                    seen += os.read(main, 1024)
                except OSError:
                    break
        assert marker in seen, seen

    try:
        read_until(b"Password: ")
        os.write(main, b"zhou-password-1\n")
        read_until(b"Repeat for confirmation: ")
        os.write(main, b"zhou-password-1\n")
        read_until(b"added zhou (leader)")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert b"zhou-password-1" not in seen  # never echoed
    answer = app.server.test_client().post("/login", json={"name": "zhou", "password": "zhou-password-1"})
    assert answer.status_code == 200 and answer.get_json()["role"] == "leader"


def test_demo_accounts_are_generated_printed_once_and_kept_0600(tmp_path: Path) -> None:
    from cityops.security import ensure_demo_users

    fresh = load_settings(home=tmp_path / "demo-home").ensure()
    out = io.StringIO()
    made = ensure_demo_users(fresh, out)
    assert made is not None and set(made) == {f"demo-{role.value}" for role in Role}
    printed = out.getvalue()
    file = fresh.home / "demo_credentials.txt"
    assert file.stat().st_mode & 0o777 == 0o600
    with Store.open(fresh.store_url) as store:
        for name, password in made.items():
            assert f"{name}\t{password}" in printed and f"{name}\t{password}" in file.read_text()
            user = Accounts(store).verify(name, password)
            assert user is not None and user.role.value == name.removeprefix("demo-")
    assert len(set(made.values())) == len(made)  # each generated on its own
    again = io.StringIO()
    assert ensure_demo_users(fresh, again) is None and again.getvalue() == ""  # users exist: nothing new
    # no default password in a deployed config: each one is a required variable, ${NAME:?why}
    for config in (ROOT / "deploy" / "compose.yaml", ROOT / "Dockerfile"):
        for value in re.findall(r"(?im)^\s*(?:ENV\s+)?\w*(?:password|secret)\w*\s*[:=]\s*(\S+)",
                                config.read_text()):
            assert value.startswith("${") and ":?" in value, (config, value)
        assert not re.search(r"(?i)--password\b|demo-admin", config.read_text()), config


# ------------------------------------------------------------------ in a browser


def _needs_browser() -> None:
    if not (Path("/usr/bin/chromium").is_file() and Path("/usr/bin/chromedriver").is_file()):
        pytest.skip("Chromium missing: run bash tests/setup/ensure_browser.sh")


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CITYOPS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.browser
def test_login_form_refusal_and_the_admin_audit_page_in_a_browser(dash_duo, app, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket
    import time

    _needs_browser()
    _client(app, Role.ANALYST).get("/api/search", query_string={"plate": PLATE})  # something to see
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dash_duo.start_server(app, navigate=False, port=port)
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    base = dash_duo.server.url.rstrip("/")
    # a page asked for without a session lands on the login form; a wrong password says so
    dash_duo.driver.get(f"{base}/analyst")
    dash_duo.wait_for_element("#login-form", timeout=20)
    dash_duo.find_element("#login-name").send_keys(user_name(Role.OPERATOR))
    dash_duo.find_element("#login-password").send_keys("wrong-password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#login-error", "用户名或密码错误", timeout=10)
    dash_duo.driver.save_screenshot(str(_shots(tmp_path) / "login.png"))
    refused = dash_duo.get_logs() or []  # the 401 of that wrong password, as the console reports it
    assert all("/login" in e["message"] and "401" in e["message"] for e in refused), refused
    # an operator who opens the analyst page sees a refusal, and no analyst link
    browser_login(dash_duo, Role.OPERATOR, "/analyst")
    dash_duo.wait_for_contains_text("#denied", "无权访问", timeout=20)
    assert not dash_duo.find_elements("#an-text")
    dash_duo.wait_for_contains_text("#topbar", user_name(Role.OPERATOR), timeout=10)
    assert "研判分析" not in dash_duo.find_element("#topbar").text
    dash_duo.driver.get(f"{base}/logout")
    dash_duo.wait_for_element("#login-form", timeout=10)
    # a wall screen whose account is disabled goes back to the login form by itself
    with Store.open(settings.store_url) as store:
        Accounts(store).add("night-shift", Role.OPERATOR, "night-shift-password")
    dash_duo.find_element("#login-name").send_keys("night-shift")
    dash_duo.find_element("#login-password").send_keys("night-shift-password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#kpi-today", timeout=20)
    with Store.open(settings.store_url) as store:
        Accounts(store).disable("night-shift")
    dash_duo.wait_for_element("#login-form", timeout=15)  # the next tick got 401
    dash_duo.get_logs()  # that 401, as the console reports it
    # the admin sees the audit log, newest first, with the analyst's search
    browser_login(dash_duo, Role.ADMIN, "/admin")
    dash_duo.wait_for_contains_text("#adm-audit", "search.plate", timeout=20)
    dash_duo.wait_for_contains_text("#adm-users", user_name(Role.TESTER), timeout=10)
    assert user_name(Role.ANALYST) in dash_duo.find_element("#adm-audit").text
    time.sleep(0.5)
    dash_duo.driver.save_screenshot(str(_shots(tmp_path) / "admin_audit.png"))
    errors = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert errors == [], [e["message"] for e in errors]

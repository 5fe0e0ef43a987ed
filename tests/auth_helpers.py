"""Logging in, for tests: one account per role in the test's store, and the real login route.

`add_role_users(settings)` creates `test-<role>` for every role (password `PASSWORDS[role]`);
`login(client, role)` posts to `/login` like an API client does; `browser_login(dash_duo,
role)` fills the real login form in Chromium. Nothing is bypassed: the tests go through
the same gate as a person.
"""

from __future__ import annotations

from typing import Any

from analytics.accounts import Accounts, Role
from analytics.store import Store
from streams.config import Settings

PASSWORDS = {role: f"test-password-{role.value}" for role in Role}


def user_name(role: Role | str) -> str:
    return f"test-{Role(role).value}"


def add_role_users(settings: Settings) -> None:
    """`test-operator`, `test-analyst`, ... (skipped when they exist already)."""
    with Store.open(settings.store_url) as store:
        accounts = Accounts(store)
        for role in Role:
            if accounts.user(user_name(role)) is None:
                accounts.add(user_name(role), role, PASSWORDS[role])


def login(client: Any, role: Role | str) -> Any:
    """Log a Flask test client in as the test user of `role` (raises if refused)."""
    role = Role(role)
    response = client.post("/login", json={"name": user_name(role), "password": PASSWORDS[role]})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def browser_login(dash_duo: Any, role: Role | str, path: str = "/", timeout: float = 20) -> None:
    """Log in through the login form in the browser, then open `path` and wait for Dash."""
    role = Role(role)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(f"{base}/login")
    dash_duo.wait_for_element("#login-name", timeout=timeout).send_keys(user_name(role))
    dash_duo.find_element("#login-password").send_keys(PASSWORDS[role])
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#react-entry-point", timeout=timeout)
    dash_duo.wait_for_page(url=f"{base}{path}", timeout=timeout)

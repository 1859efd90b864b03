"""Login hardening: redirects after login, user-name probing by timing, the lockout
table, proxies, and revoking sessions."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from collector.web import auth
from tests.conftest import ADMIN_PASSWORD
from tests.security.test_access import login_post

# --- open redirect -----------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/%09/evil.example/phish",      # tab stripped by browsers: //evil.example
    "/%0a/evil.example/x",          # newline: also a header-injection attempt
    "/%0d%0aSet-Cookie:%20x=1",
    "/%20/evil.example",
    "/%7f/evil.example",
    "/%5c/evil.example",            # backslash
    "%09//evil.example",
    "/%E2%80%8B/evil.example",     # zero-width space
    "///evil.example",
])
def test_login_never_redirects_off_site_after_normalisation(app: Flask, target: str) -> None:
    response = login_post(app.test_client(), ADMIN_PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/dashboard", "http://localhost/dashboard")


def test_login_keeps_a_same_site_next(app: Flask) -> None:
    response = login_post(app.test_client(), ADMIN_PASSWORD,
                          next_url="/dashboard/flow%3Fsite%3Dtest%26depth%3D3")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/flow?site=test&depth=3")


# --- user names cannot be told apart by timing ------------------------------------------


def test_unknown_and_known_user_names_cost_the_same_hash_check(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = auth.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        calls.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    assert login_post(app.test_client(), "wrong password", address="10.0.0.7").status_code == 401
    known = list(calls)
    calls.clear()
    assert login_post(app.test_client(), "wrong password", address="10.0.0.8",
                      username="nobody-here").status_code == 401
    unknown = list(calls)
    assert len(known) == len(unknown) == 1
    assert known == unknown  # the same hashing method, so the same cost


# --- the failure table cannot be flushed; proxies ----------------------------------------


def test_flooding_the_failure_table_evicts_the_oldest_not_a_lockout(app: Flask) -> None:
    throttle = app.extensions["collector.login_throttle"]
    for i in range(auth.MAX_TRACKED - 5):
        throttle.fail((f"junk-{i}", "198.51.100.1"))
    for _ in range(auth.MAX_FAILURES):
        assert login_post(app.test_client(), "wrong password").status_code == 401
    for i in range(50):  # past the ceiling: the oldest junk goes, not the lockout
        throttle.fail((f"more-{i}", "198.51.100.1"))
    assert login_post(app.test_client(), ADMIN_PASSWORD).status_code == 429
    assert throttle.locked(("more-0", "198.51.100.1")) is False
    assert len(throttle) <= auth.MAX_TRACKED


def _lock_out(client: Any, headers: dict[str, str], remote: str) -> None:
    for _ in range(auth.MAX_FAILURES):
        client.get("/login", headers=headers, environ_overrides={"REMOTE_ADDR": remote})
        with client.session_transaction() as sess:
            token = sess["csrf"]
        client.post("/login", data={"username": "admin", "password": "wrong password",
                                    "csrf_token": token},
                    headers=headers, environ_overrides={"REMOTE_ADDR": remote})


def _login_from(app: Flask, headers: dict[str, str], remote: str) -> int:
    client = app.test_client()
    client.get("/login", headers=headers, environ_overrides={"REMOTE_ADDR": remote})
    with client.session_transaction() as sess:
        token = sess["csrf"]
    return client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                       "csrf_token": token},
                       headers=headers, environ_overrides={"REMOTE_ADDR": remote}).status_code


@pytest.mark.parametrize("setting", ["1", "10.1.1.1", "10.1.1.0/24, 10.2.2.2"])
def test_a_trusted_proxy_passes_on_the_client_address(make_app: Any, sqlite_url: str,
                                                      setting: str) -> None:
    """Behind the proxy each client has its own lockout: one guesser locks only itself."""
    app = make_app(sqlite_url, TRUSTED_PROXIES=setting)
    _lock_out(app.test_client(), {"X-Forwarded-For": "203.0.113.5"}, "10.1.1.1")
    assert _login_from(app, {"X-Forwarded-For": "203.0.113.5"}, "10.1.1.1") == 429
    assert _login_from(app, {"X-Forwarded-For": "203.0.113.6"}, "10.1.1.1") == 302


@pytest.mark.parametrize("settings", [{}, {"TRUSTED_PROXIES": "10.9.9.9"}])
def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy(
        make_app: Any, sqlite_url: str, settings: dict[str, str]) -> None:
    app = make_app(sqlite_url, **settings)
    _lock_out(app.test_client(), {"X-Forwarded-For": "203.0.113.5"}, "10.1.1.1")
    # A spoofed header from an untrusted peer neither hides the guesser...
    assert _login_from(app, {"X-Forwarded-For": "203.0.113.77"}, "10.1.1.1") == 429
    # ...nor lets it lock out someone else's address.
    assert _login_from(app, {}, "203.0.113.5") == 302


@pytest.mark.parametrize("raw", ["-1", "two", "10.0.0.300", "1, x"])
def test_a_bad_trusted_proxies_setting_is_refused(raw: str) -> None:
    from collector.config import ConfigError, from_environ

    with pytest.raises(ConfigError, match="COLLECTOR_TRUSTED_PROXIES"):
        from_environ({"COLLECTOR_TRUSTED_PROXIES": raw})

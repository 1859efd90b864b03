"""Login hardening: redirects after login, user-name probing by timing, the lockout
table, proxies, and revoking sessions."""

from __future__ import annotations

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

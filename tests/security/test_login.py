"""Login hardening: redirects after login, user-name probing by timing, the lockout
table, proxies, and revoking sessions."""

from __future__ import annotations

import pytest
from flask import Flask

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

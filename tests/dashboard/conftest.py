"""Dashboard fixtures: ingest through the real pipeline, a logged-in client, WS helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.ingest.pipeline import IngestResult, get_pipeline
from collector.storage.sites import get_directory
from tests.conftest import ADMIN_PASSWORD

T0 = 1_763_000_000_000  # a fixed client time (ms) so hand-made sets are reproducible


def ingest(app: Flask, events: Iterable[dict[str, Any] | bytes]) -> IngestResult:
    """Store events through the same pipeline every door uses (one batch)."""
    with app.app_context():
        site = get_directory().authenticate(app.config["TEST_SITE"].key)
        assert site is not None
        raw = [e if isinstance(e, bytes) else msgspec.json.encode(e) for e in events]
        return get_pipeline().ingest_events(site, raw, transport="test")


@pytest.fixture
def store(any_app: Flask) -> Callable[..., IngestResult]:
    """``store(events)`` on the app under test (SQLite and PostgreSQL)."""
    return lambda events: ingest(any_app, events)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: FlaskClient) -> str:
    """Log in as the fixture admin; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client.get("/dashboard/flow").get_data(as_text=True))


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client)
    return client


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return f"session={cookie.value}"

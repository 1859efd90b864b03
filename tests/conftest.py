"""Fixtures: apps on SQLite and on the real PostgreSQL, real servers on loopback.

Every run gets its own PostgreSQL database (created here, dropped at the end). In CI
(``CI=true``) a missing PostgreSQL or browser is a failure, never a skip.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from werkzeug.security import generate_password_hash
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from collector.app import create_app, shutdown
from collector.storage.engine import get_engine, session, upgrade
from collector.storage.models import User
from collector.storage.sites import create_site

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("COLLECTOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_PASSWORD = "correct horse battery"
ORIGIN = "https://lessons.example.org"


@functools.cache
def admin_password_hash() -> str:
    """Hashing costs ~0.1 s by design (scrypt); do it once per run, not per test app."""
    return generate_password_hash(ADMIN_PASSWORD)


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: CI must run every check."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _pg_admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL} unavailable: {exc}")
        raise


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test run only."""
    admin = _pg_admin()
    name = f"collector_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def reset_pg(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/collector.sqlite3"


@pytest.fixture
def pg_url(pg_database: str) -> str:
    reset_pg(pg_database)
    return pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Storage tests run on both databases."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(autouse=True)
def _instance_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    for name in list(os.environ):
        if name.startswith("COLLECTOR_") and name not in ("COLLECTOR_INSTANCE_PATH",
                                                           "COLLECTOR_TEST_PG"):
            monkeypatch.delenv(name)


class SiteFixture:
    def __init__(self, key: str, name: str) -> None:
        self.key = key
        self.name = name


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def factory(url: str, **config: Any) -> Flask:
        settings = {"DATABASE_URL": url, "SECRET_KEY": "test-secret", "TESTING": True,
                    "RATE_LIMIT": 0, **config}
        app = create_app(settings)
        upgrade(get_engine(app))
        with session(app) as s:
            site = create_site(s, "test", [ORIGIN])
            s.add(User(username="admin", password_hash=admin_password_hash()))
            s.commit()
            app.config["TEST_SITE"] = SiteFixture(site.write_key, site.name)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        shutdown(app)


@pytest.fixture
def app(make_app: Callable[..., Flask], sqlite_url: str) -> Flask:
    return make_app(sqlite_url)


@pytest.fixture
def any_app(make_app: Callable[..., Flask], database_url: str) -> Flask:
    """The app on SQLite and on PostgreSQL."""
    return make_app(database_url)


@pytest.fixture
def site_key(app: Flask) -> str:
    return str(app.config["TEST_SITE"].key)


class _OneRequestPerConnection(WSGIRequestHandler):
    # After a WebSocket ends, werkzeug would keep the TCP connection alive waiting for a
    # next HTTP request, so the client never sees the close complete (gunicorn, which
    # `collector serve` uses, closes it). Serve one request per connection, still HTTP/1.1.
    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()


class LiveServer:
    """The app on a real loopback socket (threaded WSGI server) for transport tests."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_OneRequestPerConnection)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def key(self) -> str:
        return str(self.app.config["TEST_SITE"].key)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def any_live_server(any_app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(any_app).start()
    yield server
    server.stop()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian chromium through Playwright, one per run (one sync Playwright per thread)."""
    path = shutil.which("chromium")
    if path is None:
        unavailable("Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def dashboard_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A Chromium page logged in as admin on ``live_server``, on /dashboard."""
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    yield page
    context.close()


@pytest.fixture
def cli_apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Flask]]:
    """Apps the ``collector`` command builds, disposed afterwards (no connection left
    open). The CLI looks ``create_app`` up at call time, so it is wrapped here."""
    import collector.app  # the module whose attribute is wrapped

    apps: list[Flask] = []
    real = collector.app.create_app

    def recording(*args: Any, **kwargs: Any) -> Flask:
        apps.append(real(*args, **kwargs))
        return apps[-1]

    monkeypatch.setattr(collector.app, "create_app", recording)
    yield apps
    for app in apps:
        get_engine(app).dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str,
            cli_apps: list[Flask]) -> list[Flask]:
    """``collector`` commands on the test database; the apps they build are disposed."""
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("COLLECTOR_SECRET_KEY", "cli-test")
    return cli_apps


def log_in(client: Any, password: str = ADMIN_PASSWORD) -> None:
    """Log in as admin through the real form (CSRF token from the session)."""
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    response = client.post("/login", data={"username": "admin", "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.data


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition",
              interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last value: {value!r})")
        time.sleep(interval)

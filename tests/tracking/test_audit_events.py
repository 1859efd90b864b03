"""The collector's own audit events, recorded through the tracking API."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from collector.app import create_app
from collector.cli.bootstrap import bootstrap
from collector.cli.main import main
from collector.storage.engine import get_engine, upgrade
from collector.tracking import audit
from tests.tracking.conftest import log_in, registrations, stored_events


def test_login_is_audited(any_app: Flask) -> None:
    client = any_app.test_client()
    log_in(client)
    [ev] = stored_events(any_app, audit.USER_LOGGED_IN)
    assert ev["site"] == "collector" and ev["actor_id"] == "admin"
    assert ev["payload"]["edata"]["data"] == {"username": "admin", "address": "127.0.0.1"}
    assert ev["payload"]["edata"]["version"] == 1 and ev["warnings"] == []
    assert registrations(any_app, audit.USER_LOGGED_IN)[1]["source"] == "python"


def test_failed_login_is_not_audited(app: Flask) -> None:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    response = client.post("/login", data={"username": "admin", "password": "wrong-password",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert stored_events(app, audit.USER_LOGGED_IN) == []


def test_cli_site_add_is_audited(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        main, ["site", "add", "lessons", "--origin", "https://a.example.org"])
    assert result.exit_code == 0, result.output
    [ev] = stored_events(app, audit.SITE_CREATED)
    assert ev["payload"]["edata"]["data"] == {
        "site": "lessons", "origins": ["https://a.example.org"], "via": "cli"}


def test_internal_site_name_is_reserved(app: Flask) -> None:
    result = app.test_cli_runner().invoke(main, ["site", "add", "collector"])
    assert result.exit_code != 0 and "reserved" in result.output


def test_bootstrap_is_audited(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3",
                      "SECRET_KEY": "test", "TESTING": True})
    try:
        upgrade(get_engine(app))
        lines = bootstrap(app, "http://127.0.0.1:5000")
        assert any("Created site 'default'" in line for line in lines)
        [ev] = stored_events(app, audit.SITE_CREATED)
        assert ev["payload"]["edata"]["data"] == {"site": "default", "origins": [],
                                                  "via": "bootstrap"}
    finally:
        get_engine(app).dispose()


def test_export_downloaded_is_one_call(app: Flask) -> None:
    audit.export_downloaded(app, user="admin", kind="xapi", fmt="ndjson", course="algebra")
    [ev] = stored_events(app, audit.EXPORT_DOWNLOADED)
    assert ev["warnings"] == [] and ev["actor_id"] == "admin"
    assert ev["payload"]["edata"]["data"]["filters"] == {
        "since": None, "until": None, "course": "algebra"}


def test_audit_never_raises(app: Flask, caplog: pytest.LogCaptureFixture,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args: object) -> None:
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(app.extensions["collector.tracker"], "register", unavailable)
    audit.user_logged_in(app, "admin", None)  # logged, not raised
    assert any("could not record collector.user.logged_in" in r.getMessage()
               for r in caplog.records)


def test_export_download_is_audited(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/export/xapi?format=ndjson&course=algebra")
    assert response.status_code == 200
    response.close()
    [ev] = stored_events(app, audit.EXPORT_DOWNLOADED)
    assert ev["actor_id"] == "admin"
    assert ev["payload"]["edata"]["data"]["kind"] == "xapi"
    assert ev["payload"]["edata"]["data"]["format"] == "ndjson"
    assert ev["payload"]["edata"]["data"]["filters"]["course"] == "algebra"

"""Sessions can be revoked: a copy of the cookie stops working after logout, after the
user's password changes and after the user is deleted (pages, JSON and /v1/live)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from collector.cli.main import main
from tests.conftest import ADMIN_PASSWORD, LiveServer, log_in


def stolen_copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second browser holding the same session cookie (what a thief would have)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def logged_out(client: FlaskClient) -> bool:
    page = client.get("/dashboard")
    data = client.get("/dashboard/data/overview", headers={"Accept": "application/json"})
    export = client.get("/export/xapi")
    return (page.status_code == 302 and "/login" in page.headers["Location"]
            and data.status_code == 401 and export.status_code in (302, 401))


def cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str, input: str | None = None
        ) -> str:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_logout_revokes_every_copy_of_the_cookie(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    thief = stolen_copy(app, client)
    assert thief.get("/dashboard").status_code == 200
    client.get("/dashboard")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert logged_out(thief)
    assert logged_out(client)
    # Logging in again works, with a fresh session.
    log_in(client)
    assert client.get("/dashboard").status_code == 200
    assert logged_out(thief)


@pytest.mark.parametrize("change", ["password", "delete"])
def test_a_new_password_or_deletion_revokes_sessions(
        app: Flask, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/dashboard").status_code == 200
    if change == "password":
        out = cli(app, monkeypatch, "user", "password", "admin", "--password-stdin",
                  input="a brand new password\n")
        assert "sessions are ended" in out
    else:
        cli(app, monkeypatch, "user", "delete", "admin")
    assert logged_out(client)
    if change == "password":
        log_in(client, "a brand new password")
        assert client.get("/dashboard").status_code == 200


def test_a_user_deleted_and_created_again_does_not_inherit_sessions(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.test_client()
    log_in(client)
    cli(app, monkeypatch, "user", "delete", "admin")
    cli(app, monkeypatch, "user", "add", "admin", "--password-stdin", input=ADMIN_PASSWORD + "\n")
    assert logged_out(client)


def test_a_revoked_session_opens_no_live_socket(live_server: LiveServer) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    app = live_server.app
    client = app.test_client()
    log_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    headers: dict[str, Any] = {"Cookie": f"session={cookie.value}",
                               "Origin": live_server.url}
    with connect(f"{live_server.ws_url}/v1/live", additional_headers=headers,
                 open_timeout=10) as ws:
        assert '"hello"' in str(ws.recv(timeout=10))
    client.get("/dashboard")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    client.post("/logout", data={"csrf_token": token})
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live_server.ws_url}/v1/live", additional_headers=headers, open_timeout=10)
    assert refused.value.response.status_code == 401


def test_cli_user_password_and_delete_refuse_unknown_users(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", app.config["DATABASE_URL"])
    for args in (["user", "password", "nobody", "--password-stdin"], ["user", "delete", "nobody"]):
        result = CliRunner().invoke(main, args, input="long enough password\n")
        assert result.exit_code != 0 and "no user named 'nobody'" in result.output
    result = CliRunner().invoke(main, ["user", "password", "admin", "--password-stdin"],
                                input="short\n")
    assert result.exit_code != 0 and "at least 8 characters" in result.output




def test_an_open_live_socket_ends_with_its_session(live_server: LiveServer) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    app = live_server.app
    client = app.test_client()
    log_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    headers = {"Cookie": f"session={cookie.value}", "Origin": live_server.url}
    with connect(f"{live_server.ws_url}/v1/live", additional_headers=headers,
                 open_timeout=10) as ws:
        assert '"hello"' in str(ws.recv(timeout=10))
        client.get("/dashboard")
        with client.session_transaction() as sess:
            token = sess["csrf"]
        client.post("/logout", data={"csrf_token": token})
        with pytest.raises(ConnectionClosed):
            while True:  # no event frames arrive here: the socket closes within ~5 s
                ws.recv(timeout=15)

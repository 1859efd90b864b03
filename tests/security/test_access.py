"""Who may do what: login throttling, session cookie, CSRF on every form and POST,
write keys that cannot read, open redirects, per-site isolation of exports."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.storage.engine import session
from collector.storage.sites import create_site
from collector.web import auth
from tests.conftest import ADMIN_PASSWORD, ORIGIN, log_in
from tests.factories import lesson_event
from tests.security.hostile import fetch, page_requests, routes

INGEST = {"/v1/telemetry", "/data/v3/telemetry", "/v1/beacon"}


def login_post(client: FlaskClient, password: str, address: str = "10.0.0.1",
               username: str = "admin", next_url: str | None = None) -> Any:
    client.get("/login", environ_overrides={"REMOTE_ADDR": address})
    with client.session_transaction() as sess:
        token = sess.get("csrf", "")
    url = "/login" + (f"?next={next_url}" if next_url is not None else "")
    return client.post(url, data={"username": username, "password": password,
                                  "csrf_token": token},
                       environ_overrides={"REMOTE_ADDR": address})


# --- login throttling ------------------------------------------------------------------


def test_login_locks_after_repeated_failures_then_unlocks(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    client = app.test_client()
    for _ in range(auth.MAX_FAILURES):
        assert login_post(client, "wrong password").status_code == 401
    # Locked: even the right password is refused, without checking it.
    locked = login_post(client, ADMIN_PASSWORD)
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.data
    # Another address and another user name are not locked out by this attacker.
    assert login_post(app.test_client(), ADMIN_PASSWORD, address="10.0.0.2").status_code == 302
    assert login_post(app.test_client(), "x" * 9, username="someone").status_code == 401
    clock[0] += auth.LOCKOUT_SECONDS + 1
    assert login_post(client, ADMIN_PASSWORD).status_code == 302


def test_successful_login_clears_earlier_failures(app: Flask) -> None:
    client = app.test_client()
    for _ in range(auth.MAX_FAILURES - 1):
        login_post(client, "wrong password")
    assert login_post(client, ADMIN_PASSWORD).status_code == 302
    for _ in range(auth.MAX_FAILURES - 1):
        assert login_post(app.test_client(), "wrong password").status_code == 401


# --- session cookie ----------------------------------------------------------------------


@pytest.mark.parametrize(("public_url", "secure"), [(None, False),
                                                    ("https://collector.example.org", True)])
def test_session_cookie_flags(make_app: Any, sqlite_url: str, public_url: str | None,
                              secure: bool) -> None:
    app = make_app(sqlite_url, PUBLIC_URL=public_url)
    response = login_post(app.test_client(), ADMIN_PASSWORD)
    assert response.status_code == 302
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert re.search(r"SameSite=Lax", cookie)
    assert ("secure" in flags) is secure


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)", "\\\\evil"])
def test_login_never_redirects_off_site(app: Flask, target: str) -> None:
    response = login_post(app.test_client(), ADMIN_PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/dashboard", "http://localhost/dashboard")


# --- CSRF --------------------------------------------------------------------------------


def post_routes(app: Flask) -> list[str]:
    return sorted({r.path("x") for r in routes(app)
                   if "POST" in r.methods and not r.websocket and r.rule not in INGEST})


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    targets = post_routes(app)
    assert "/logout" in targets and "/login" in targets
    for path in targets:
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data=data)
            assert response.status_code in (400, 403), (path, data, response.status_code)
    # Still logged in: the refused logout did not log out.
    assert client.get("/dashboard").status_code == 200


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (values.get("method") or "get").lower(),
                               "action": values.get("action"), "csrf": False})
        elif tag == "input" and self.forms and values.get("name") == "csrf_token" and \
                values.get("value"):
            self.forms[-1]["csrf"] = True


def test_every_rendered_post_form_carries_a_csrf_token(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    seen = 0
    for url in page_requests(app, "x"):
        response = fetch(client, url)
        if response.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(response.text)
        for form in parser.forms:
            if form["method"] == "post":
                seen += 1
                assert form["csrf"], (url, form)
    assert seen >= 2  # the login form and the logout button at least


# --- write keys cannot read --------------------------------------------------------------


def test_a_write_key_opens_no_read_route(app: Flask) -> None:
    key = app.config["TEST_SITE"].key
    client = app.test_client()
    protected = [r for r in routes(app) if "GET" in r.methods and not r.public
                 and not r.websocket]
    assert any(r.rule == "/export/xapi" for r in protected)
    for route in protected:
        path = route.path("x")
        for headers, query in (({"Authorization": f"Bearer {key}"}, ""),
                               ({}, f"?key={key}"),
                               ({"Authorization": f"Bearer {key}",
                                 "Accept": "application/json"}, f"?key={key}")):
            response = client.get(path + query, headers=headers)
            assert response.status_code in (302, 401, 404), (path, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]


def test_a_write_key_opens_no_websocket_but_ingest(live_server: Any) -> None:
    """WebSocket routes other than /v1/ws (e.g. the dashboards' /v1/live) need a login."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    others = [r for r in routes(live_server.app) if r.websocket and r.rule != "/v1/ws"]
    for route in others:
        url = f"{live_server.ws_url}{route.path('x')}?key={live_server.key}"
        try:
            with connect(url, open_timeout=10, additional_headers={"Origin": ORIGIN}) as ws:
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=10)
        except InvalidStatus as exc:
            assert exc.response.status_code in (302, 401, 403)


# --- per-site isolation of exports -------------------------------------------------------


def two_sites(app: Flask) -> tuple[str, str]:
    """Site 'test' gets course 'alpha-only', site 'other' course 'beta-only'."""
    with session(app) as s:
        other = create_site(s, "other", [ORIGIN])
        s.commit()
        other_key = other.write_key
    client = app.test_client()
    for key, course in ((app.config["TEST_SITE"].key, "alpha-only"), (other_key, "beta-only")):
        events = [lesson_event(eid, course=course, lesson=f"{course}-lesson")
                  for eid in ("IMPRESSION", "ASSESS", "INTERACT")]
        response = client.post("/v1/telemetry", data=json.dumps({"events": events}),
                               headers={"Authorization": f"Bearer {key}"})
        assert response.get_json()["result"]["accepted"] == 3
    return "alpha-only", "beta-only"


@pytest.mark.parametrize("kind", ["xapi", "caliper"])
def test_exports_filtered_by_site_hold_only_that_site(any_app: Flask, kind: str) -> None:
    own, foreign = two_sites(any_app)
    client = any_app.test_client()
    log_in(client)
    for fmt in ("json", "ndjson"):
        scoped = client.get(f"/export/{kind}?site=test&format={fmt}").get_data(as_text=True)
        assert own in scoped and foreign not in scoped
        scoped = client.get(f"/export/{kind}?site=other&format={fmt}").get_data(as_text=True)
        assert foreign in scoped and own not in scoped
    both = client.get(f"/export/{kind}").get_data(as_text=True)
    assert own in both and foreign in both
    unknown = client.get(f"/export/{kind}?site=nope")
    assert unknown.status_code == 400 and unknown.get_json() == {
        "error": "site: no site named 'nope'"}


def test_cli_export_filtered_by_site(app: Flask, sqlite_url: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from collector.cli.main import main

    own, foreign = two_sites(app)
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", sqlite_url)
    out = CliRunner().invoke(main, ["export", "v3", "--site", "other"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert foreign in out.stdout and own not in out.stdout


def test_dashboard_data_filtered_by_site_hold_only_that_site(any_app: Flask) -> None:
    """Every site-scoped dashboard query keeps the other site's data out."""
    own, foreign = two_sites(any_app)
    client = any_app.test_client()
    log_in(client)
    funnel = "step=IMPRESSION&step=ASSESS"
    for site, mine, theirs in (("test", own, foreign), ("other", foreign, own)):
        for path in ("overview", "sessions", "rejected", "flow", f"funnel?{funnel}"):
            sep = "&" if "?" in path else "?"
            body = fetch(client, f"/dashboard/data/{path}{sep}site={site}").text
            assert theirs not in body, (site, path)
        sessions = json.loads(fetch(client, f"/dashboard/data/sessions?site={site}").text)
        assert [row[3] for row in sessions["tables"]["sessions"]] == [mine]
        detail = fetch(client, f"/dashboard/data/sessions/sid-1?site={site}").text
        assert mine in detail and theirs not in detail
        funnel_data = json.loads(fetch(client, f"/dashboard/data/funnel?{funnel}&site={site}").text)
        assert funnel_data["stats"]["funnel-units"] == "1"
        flow = json.loads(fetch(client, f"/dashboard/data/flow?site={site}").text)
        assert flow["stats"]["flow-sessions"] == "1"
    everything = json.loads(fetch(client, f"/dashboard/data/funnel?{funnel}").text)
    assert everything["stats"]["funnel-units"] == "2"

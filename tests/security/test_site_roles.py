"""Users scoped to sites: a viewer or editor of site "test" sees nothing of site "other"
on any dashboard page, data URL, CSV, export, catalog or live frame; viewers change
nothing; editors change their own site only; administrators keep everything."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from collector.cli.main import main
from collector.storage.engine import session
from collector.storage.models import PathRule, SavedFunnel
from collector.storage.sites import create_site
from collector.storage.users import create_user
from tests.conftest import ADMIN_PASSWORD, ORIGIN, LiveServer, log_in
from tests.factories import event, lesson_event
from tests.security.hostile import routes

PASSWORD = "a long enough password"
# Values that only ever appear in stored data, never in a URL the crawl sends.
OWN = ("alpha-learner-secret", "alpha-page-secret")
FOREIGN = ("beta-learner-secret", "beta-page-secret", "beta-registration-secret",
           "beta-lesson-secret")
EXTRA_QUERY = [("step", "IMPRESSION"), ("step", "ASSESS"), ("level", "1"), ("format", "json")]


def site_events(course: str, actor: str, page: str, lesson: str) -> list[dict[str, Any]]:
    return [
        lesson_event("IMPRESSION", course=course, lesson=lesson, actor=actor,
                     edata={"type": "view", "pageid": page, "uri": f"/{page}"}),
        lesson_event("ASSESS", course=course, lesson=lesson, actor=actor),
        lesson_event("START", course=course, lesson=lesson, actor=actor,
                     edata={"type": "lesson"}),
        event("START", actor=actor, edata={"type": "course"},
              cdata=[{"type": "Course", "id": course}], obj={"id": course, "type": "Course"}),
        lesson_event("INTERACT", course=course, lesson=lesson, actor=actor,
                     edata={"type": "CLICK", "id": page, "pageid": page}),
        event("ERROR", actor=actor, edata={"err": page, "errtype": "x", "stacktrace": page}),
    ]


def send(app: Flask, key: str, events: list[dict[str, Any]]) -> None:
    response = app.test_client().post("/v1/telemetry", data=json.dumps({"events": events}),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.data


def populate(app: Flask) -> str:
    """Sites "test" (alpha) and "other" (beta) with events, a registration, a path rule
    and a saved funnel each; users viewer/editor of "test". Returns other's write key."""
    with session(app) as s:
        other = create_site(s, "other", [ORIGIN])
        s.flush()
        create_user(s, "viewer", PASSWORD, role="viewer", sites=["test"])
        create_user(s, "editor", PASSWORD, role="editor", sites=["test"])
        s.add(PathRule(site_id=other.id, pattern="/beta-rule", label="beta-page-secret",
                       created_by="admin", created_at=1))
        s.add(SavedFunnel(name="beta-lesson-secret funnel", query="site=other&step=START"
                          "&step=END", created_by="admin", created_at=1))
        s.commit()
        other_key = other.write_key
    send(app, app.config["TEST_SITE"].key,
         site_events("alpha-only", *OWN, "alpha-lesson"))
    send(app, other_key, site_events("beta-only", "beta-learner-secret", "beta-page-secret",
                                     "beta-lesson-secret"))
    send(app, other_key, [event("EXDATA", edata={"type": "collector.register", "data": {
        "name": "org.beta.secret", "description": "beta-registration-secret",
        "fields": {"f": "beta-registration-secret"}}}),
        event("EXDATA", actor="beta-learner-secret",
              edata={"type": "org.beta.secret", "data": {"f": 1}})])
    return other_key


def login_as(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.data
    return client


def crawl(app: Flask, client: FlaskClient) -> dict[str, str]:
    """Every GET page and data URL (redirects followed), with and without site=other."""
    seen: dict[str, str] = {}
    for route in routes(app):
        if "GET" not in route.methods or route.websocket or route.rule.startswith(
                ("/static", "/login", "/demo", "/openapi", "/tracker.js", "/health")):
            continue
        for value in ("beta-only", "sid-1", "alpha-only"):
            path = route.path(value)
            for query in (EXTRA_QUERY, [("site", "other"), *EXTRA_QUERY],
                          [("course", "beta-only"), *EXTRA_QUERY]):
                url = f"{path}?{urlencode(query)}"
                with client.get(url, follow_redirects=True) as response:
                    body = response.get_data(as_text=True)
                assert response.status_code < 500, (url, response.status_code)
                seen[url] = body
    return seen


def test_a_viewer_sees_nothing_of_another_site_anywhere(any_app: Flask) -> None:
    populate(any_app)
    viewer = crawl(any_app, login_as(any_app, "viewer"))
    leaks = [(url, marker) for url, body in viewer.items() for marker in FOREIGN
             if marker in body]
    assert leaks == []
    assert any(OWN[0] in body for body in viewer.values())  # the viewer sees its own site
    # The same crawl as an administrator finds the other site's data: the check works.
    admin = crawl(any_app, login_as(any_app, "admin", ADMIN_PASSWORD))
    for marker in FOREIGN:
        assert any(marker in body for body in admin.values()), marker


def test_viewer_pages_list_only_their_sites_and_refuse_others(app: Flask) -> None:
    populate(app)
    client = login_as(app, "viewer")
    page = client.get("/dashboard/sessions")
    assert page.status_code == 302 and "site=test" in page.headers["Location"]
    for url in ("/dashboard/data/sessions?site=other", "/export/xapi?site=other",
                "/v1/catalog?site=other", "/dashboard/courses?site=other"):
        response = client.get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert "no site named" in response.get_data(as_text=True)
    html = client.get("/dashboard/flow?site=test").get_data(as_text=True)
    assert 'value="other"' not in html and ">other<" not in html
    exported = client.get("/export/xapi", follow_redirects=True).get_data(as_text=True)
    assert OWN[0] in exported and "beta-learner-secret" not in exported


def _post(client: FlaskClient, url: str, data: dict[str, str]) -> int:
    client.get("/dashboard/flow?site=test")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    return client.post(url, data={**data, "csrf_token": token}).status_code


def _rules(app: Flask) -> list[tuple[str, str]]:
    with session(app) as s:
        return sorted((r.pattern, r.label) for r in s.query(PathRule))


def test_viewers_change_nothing_editors_only_their_site(app: Flask) -> None:
    populate(app)
    with session(app) as s:
        beta_rule = s.query(PathRule).one().id
        beta_funnel = s.query(SavedFunnel).one().id
    viewer, editor = login_as(app, "viewer"), login_as(app, "editor")
    rule = {"site": "test", "pattern": "/lesson/[0-9]+", "label": "/lesson/:id"}
    funnel = {"name": "alpha funnel", "query": "site=test&step=START&step=END"}
    assert _post(viewer, "/dashboard/flow/rules", rule) == 403
    assert _post(viewer, "/dashboard/funnel/save", funnel) == 403
    assert _rules(app) == [("/beta-rule", "beta-page-secret")]
    assert _post(editor, "/dashboard/flow/rules", rule) == 302
    assert _post(editor, "/dashboard/funnel/save", funnel) == 302
    assert ("/lesson/[0-9]+", "/lesson/:id") in _rules(app)
    # Another site's rules and funnels are out of reach of both.
    for client in (viewer, editor):
        assert _post(client, f"/dashboard/flow/rules/{beta_rule}/delete", {}) == 403
        assert _post(client, f"/dashboard/funnel/saved/{beta_funnel}/delete", {}) == 403
        assert _post(client, "/dashboard/flow/rules", {**rule, "site": "other"}) == 302
        assert _post(client, "/dashboard/funnel/save",
                     {"name": "x", "query": "site=other&step=START&step=END"}) == 403
        assert _post(client, "/dashboard/funnel/save",
                     {"name": "x", "query": "step=START&step=END"}) == 403  # every site
    assert len(_rules(app)) == 2
    with session(app) as s:
        assert s.query(SavedFunnel).count() == 2
    with session(app) as s:
        own_rule = next(r.id for r in s.query(PathRule) if r.pattern == "/lesson/[0-9]+")
    assert _post(viewer, f"/dashboard/flow/rules/{own_rule}/delete", {}) == 403
    assert _post(editor, f"/dashboard/flow/rules/{own_rule}/delete", {}) == 302
    assert len(_rules(app)) == 1


def test_live_frames_carry_only_the_viewers_sites(any_live_server: LiveServer) -> None:
    """In one process (SQLite) and across processes (PostgreSQL NOTIFY)."""
    from websockets.sync.client import connect

    live_server = any_live_server
    app = live_server.app
    other_key = populate(app)
    client = login_as(app, "viewer")
    cookie = client.get_cookie("session")
    assert cookie is not None
    headers = {"Cookie": f"session={cookie.value}", "Origin": live_server.url}
    with connect(f"{live_server.ws_url}/v1/live", additional_headers=headers,
                 open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        send(app, other_key, [event("IMPRESSION", actor="beta-learner-secret",
                                    edata={"type": "view", "pageid": "p", "uri": "/p"})
                              for _ in range(30)])
        send(app, live_server.key, [event("IMPRESSION", actor="alpha-learner-secret",
                                          edata={"type": "view", "pageid": "p", "uri": "/p"})])
        frames: list[str] = []
        deadline = time.monotonic() + 15
        while not any("alpha-learner-secret" in f for f in frames):
            assert time.monotonic() < deadline, frames
            frames.append(str(ws.recv(timeout=15)))
    assert not any("beta" in f or '"other"' in f for f in frames), frames
    counts = [json.loads(f)["count"] for f in frames if json.loads(f)["type"] == "events"]
    assert sum(counts) == 1


def cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str, input: str | None = None,
        ok: bool = True) -> str:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, list(args), input=input)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_cli_user_roles(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with session(app) as s:
        create_site(s, "other", [ORIGIN])
        s.commit()
    out = cli(app, monkeypatch, "user", "add", "vic", "--site", "test", "--site", "other",
              "--role", "viewer", "--password-stdin", input=PASSWORD + "\n")
    assert "user 'vic' created (viewer: test, other)" in out
    cli(app, monkeypatch, "user", "add", "ed", "--site", "other", "--role", "editor",
        "--password-stdin", input=PASSWORD + "\n")
    cli(app, monkeypatch, "user", "add", "root", "--password-stdin", input=PASSWORD + "\n")
    listed = cli(app, monkeypatch, "user", "list").splitlines()
    assert listed == ["admin\tadmin", "ed\teditor: other", "root\tadmin",
                      "vic\tviewer: other, test"]
    for args, message in ((["--site", "nope", "--role", "viewer"], "no site named 'nope'"),
                          (["--role", "viewer"], "needs at least one --site"),
                          (["--site", "test", "--role", "admin"], "an admin has every site"),
                          (["--site", "test", "--role", "owner"], "Invalid value")):
        out = cli(app, monkeypatch, "user", "add", "x", *args, "--password-stdin",
                  input=PASSWORD + "\n", ok=False)
        assert message in out, (args, out)
    cli(app, monkeypatch, "user", "delete", "vic")
    assert "vic" not in cli(app, monkeypatch, "user", "list")


def test_existing_users_stay_administrators(app: Flask) -> None:
    """The fixture's user is made as every user before roles existed: still an admin."""
    populate(app)
    client = app.test_client()
    log_in(client)
    body = client.get("/dashboard/data/sessions").get_data(as_text=True)
    assert OWN[0] in body and "beta-learner-secret" in body

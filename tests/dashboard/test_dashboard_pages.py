"""Dashboard pages: login, CSRF, escaping, saved rules and funnels, CSV, bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from collector.storage.engine import get_engine
from collector.storage.models import PathRule, SavedFunnel
from tests.dashboard.conftest import T0, csrf_of, ingest, log_in
from tests.factories import course_start, lesson_event

XSS = "<script>window.__xss=1</script>"


def dashboard_urls(app: Flask) -> list[tuple[str, str]]:
    """Every dashboard route (GET and POST), with sample arguments."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/dashboard") or rule.endpoint == "dashboard.plotly_js":
            continue
        url = re.sub(r"<int:\w+>", "1", re.sub(r"<(path:)?\w+>", "s1", rule.rule))
        out += [(method, url) for method in sorted(rule.methods or ()) if method in ("GET",
                                                                                   "POST")]
    return out


def test_every_dashboard_route_refuses_anonymous_users(app: Flask) -> None:
    client = app.test_client()
    urls = dashboard_urls(app)
    assert len(urls) >= 18  # the pages, their data twins, forms, CSV
    for method, url in urls:
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)
        json = client.open(url, method=method, headers={"Accept": "application/json"})
        assert json.status_code == 401, (method, url)


def test_pages_render_for_a_logged_in_user(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [course_start(sid="s1"), lesson_event("IMPRESSION", sid="s1")])
    for url in ("/dashboard", "/dashboard/flow", "/dashboard/funnel?step=START&step=IMPRESSION",
                "/dashboard/sessions", "/dashboard/sessions/s1", "/dashboard/rejected"):
        response = admin.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert 'href="/dashboard/catalog"' in html
        assert "/dashboard/plotly.min.js" in html
        # Every asset comes from the collector itself: no off-site script, style or font.
        # (Matching "cdn" in the page would also hit the random CSRF token now and then.)
        assets = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]*)"', html)
        assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert 'href="/export/xapi"' in admin.get("/dashboard").get_data(as_text=True)


def test_plotly_js_is_served_by_the_collector(app: Flask) -> None:
    response = app.test_client().get("/dashboard/plotly.min.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert b"plotly" in response.get_data()[:2000].lower()
    response.close()


def test_overview_counts(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [course_start(sid="s1"), course_start(sid="s1"),
                 lesson_event("IMPRESSION", sid="s1"), {"eid": "IMPRESSION"}])
    data = admin.get("/dashboard/data/overview?site=test").get_json()
    assert data["stats"] == {"stat-events": "3", "stat-sessions": "1", "stat-active": "1",
                             "stat-starts": "1", "stat-ends": "0", "stat-rejected": "1"}
    # All sites: the admin's login is an audit event of the collector's own site.
    everything = admin.get("/dashboard/data/overview").get_json()
    assert everything["stats"]["stat-events"] == "4"
    assert data["tables"]["top-pages"] == [["/home", "1"]]
    assert [row[6] for row in data["tables"]["tail"]].count("duplicate start") == 1


def test_event_fields_are_escaped_in_pages_and_figures(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [lesson_event("IMPRESSION", sid="s1", actor=XSS, ets=T0,
                              edata={"type": "view", "pageid": XSS, "uri": XSS}),
                 lesson_event("IMPRESSION", sid="s1", actor=XSS, ets=T0 + 1,
                              edata={"type": "view", "pageid": "b", "uri": "/b"})])
    for url in ("/dashboard", "/dashboard/flow", "/dashboard/sessions", "/dashboard/sessions/s1"):
        html = admin.get(url).get_data(as_text=True)
        assert "<script>window.__xss" not in html, url
    flow = admin.get("/dashboard/data/flow").get_json()
    labels = flow["figures"]["chart-flow"]["data"][0]["node"]["label"]
    assert any(label.startswith("&lt;script&gt;window.__xss=1&lt;/script&gt;")
               for label in labels)


def test_bad_parameters_say_what_is_wrong(admin: FlaskClient) -> None:
    page = admin.get("/dashboard/flow?depth=99")
    assert page.status_code == 400
    assert "depth: between 2 and 10" in page.get_data(as_text=True)
    data = admin.get("/dashboard/data/funnel?step=START&step=IMPRESSION+colour%3Dred")
    assert data.status_code == 400
    assert "step 2: 'colour=red' is not prop=value" in data.get_json()["error"]
    assert admin.get("/dashboard/data/flow?site=nope").get_json()["error"] == (
        "site: no site named 'nope'")
    assert "since" in admin.get("/dashboard/data/flow?since=yesterday").get_json()["error"]


def count(app: Flask, model: Any) -> int:
    with get_engine(app).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_forms_need_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    token = log_in(client)
    rule = {"site": "test", "pattern": r"/lesson/\d+", "label": "/lesson/:id"}
    assert client.post("/dashboard/flow/rules", data=rule).status_code == 400
    assert client.post("/dashboard/flow/rules",
                       data={**rule, "csrf_token": "forged"}).status_code == 400
    save = {"name": "f", "query": "step=START&step=END"}
    assert client.post("/dashboard/funnel/save", data=save).status_code == 400
    assert count(app, PathRule) == 0 and count(app, SavedFunnel) == 0
    assert client.post("/dashboard/flow/rules",
                       data={**rule, "csrf_token": token}).status_code == 302
    assert count(app, PathRule) == 1
    assert client.post("/dashboard/flow/rules/1/delete").status_code == 400
    assert count(app, PathRule) == 1


def test_saving_and_deleting_path_rules(app: Flask) -> None:
    client = app.test_client()
    token = log_in(client)
    response = client.post("/dashboard/flow/rules", data={
        "site": "test", "pattern": r"/lesson/(\d+", "label": "x", "csrf_token": token,
        "next": "/dashboard/flow?depth=3"}, follow_redirects=True)
    assert "Rule not saved: pattern" in response.get_data(as_text=True)
    assert "missing )" in response.get_data(as_text=True)
    response = client.post("/dashboard/flow/rules", data={
        "site": "test", "pattern": "a" * 201, "label": "x", "csrf_token": token})
    assert count(app, PathRule) == 0
    response = client.post("/dashboard/flow/rules", data={
        "site": "test", "pattern": r"/lesson/\d+", "label": "/lesson/:id",
        "csrf_token": token, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/dashboard/flow"
    html = client.get("/dashboard/flow").get_data(as_text=True)
    assert "/lesson/:id" in html
    client.post("/dashboard/flow/rules/1/delete", data={"csrf_token": csrf_of(html)})
    assert count(app, PathRule) == 0


def test_saved_funnels_are_shareable(app: Flask) -> None:
    client = app.test_client()
    token = log_in(client)
    query = "step=START+edata.type%3Dcourse&step=IMPRESSION&mode=strict&window=2&window_unit=hours"
    response = client.post("/dashboard/funnel/save", data={
        "name": "Start to view", "query": query, "csrf_token": token})
    assert response.status_code == 302
    with get_engine(app).connect() as conn:
        funnel_id = conn.execute(select(SavedFunnel.id)).scalar_one()
    page = client.get("/dashboard/funnel").get_data(as_text=True)
    assert "Start to view" in page
    shared = client.get(f"/dashboard/funnel/saved/{funnel_id}")
    assert shared.status_code == 302
    target = client.get(shared.headers["Location"]).get_data(as_text=True)
    assert 'value="START edata.type=course"' in target
    assert '<option value="strict" selected>' in target
    bad = client.post("/dashboard/funnel/save", data={
        "name": "one step", "query": "step=START", "csrf_token": token}, follow_redirects=True)
    assert "Funnel not saved: steps: between 2 and 10" in bad.get_data(as_text=True)
    assert client.get("/dashboard/funnel/saved/999").status_code == 404


def test_drop_off_csv(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [lesson_event("IMPRESSION", sid="s1", actor="=HYPERLINK(1)", ets=T0),
                 lesson_event("IMPRESSION", sid="s2", actor="bob", ets=T0),
                 lesson_event("INTERACT", sid="s2", actor="bob", ets=T0 + 1)])
    query = "step=IMPRESSION&step=INTERACT&by=learner"
    steps = admin.get("/dashboard/data/funnel?" + query).get_json()["tables"]["funnel-steps"]
    assert steps[0][2] == "2" and steps[1][2] == "1"
    assert steps[0][7]["text"] == "1 dropped (CSV)"
    response = admin.get(steps[0][7]["href"])
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "site,learner,reached_step,reached_at_utc"
    assert lines[1].startswith("test,'=HYPERLINK(1),1,")
    assert admin.get("/dashboard/funnel/dropoff.csv?" + query + "&level=2").status_code == 400


@pytest.mark.parametrize("path", ["/dashboard/data/sessions", "/dashboard/data/sessions?dups=1"])
def test_session_explorer_lists_and_flags_duplicates(app: Flask, admin: FlaskClient,
                                                     path: str) -> None:
    ingest(app, [course_start(sid="s1", ets=T0), course_start(sid="s1", ets=T0 + 5)])
    (row,) = admin.get(path).get_json()["tables"]["sessions"]
    assert row[0]["text"] == "s1" and row[8] == "1"
    timeline = admin.get(row[0]["href"].replace("/dashboard/sessions/",
                                                "/dashboard/data/sessions/")).get_json()
    flags = [r[4] for r in timeline["tables"]["timeline"]]
    assert flags[0] == "" and flags[1]["text"].startswith("duplicate course start")
    assert '"eid": "START"' in timeline["tables"]["timeline"][0][5]["text"]


def test_rejected_page_groups_reasons(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [{"eid": "IMPRESSION", "mid": "bad-1"}, {"eid": "NOPE"}])
    data = admin.get("/dashboard/data/rejected").get_json()
    reasons = {row[0]["text"]: row[1] for row in data["tables"]["reasons"]}
    assert reasons["actor: required"] == "2"
    assert [n for r, n in reasons.items() if r.startswith("eid: unknown event type")] == ["1"]
    assert len(data["tables"]["raw"]) == 2
    only = admin.get("/dashboard/data/rejected?reason=unknown+event+type").get_json()
    assert [r[4] for r in only["tables"]["raw"]] == [""]  # NOPE had no mid


def test_funnel_page_lists_who_dropped(app: Flask, admin: FlaskClient) -> None:
    ingest(app, [lesson_event("IMPRESSION", sid="s1", actor="ann", ets=T0),
                 lesson_event("IMPRESSION", sid="s2", actor="bob", ets=T0),
                 lesson_event("INTERACT", sid="s2", actor="bob", ets=T0 + 1)])
    by_session = admin.get("/dashboard/data/funnel?step=IMPRESSION&step=INTERACT").get_json()
    (row,) = by_session["tables"]["funnel-dropped"]
    assert row[0] == "1" and row[2] == {"text": "s1", "href": "/dashboard/sessions/s1?site=test"}
    by_learner = admin.get("/dashboard/data/funnel?step=IMPRESSION&step=INTERACT&by=learner")
    (row,) = by_learner.get_json()["tables"]["funnel-dropped"]
    assert row[2]["text"] == "ann" and "actor=ann" in row[2]["href"]

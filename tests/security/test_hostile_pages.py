"""Event payloads are attacker-controlled: every page, fed hostile stored events and
hostile URLs, escapes them; no page fails; SQL text never carries input (bound
parameters only). The crawl covers every GET route of ``app.url_map``, so pages added
later (the dashboards) are checked without new code."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sa_event
from sqlalchemy import select

from collector.storage.engine import get_engine
from collector.storage.models import PathRule, SavedFunnel
from tests.conftest import log_in
from tests.security.hostile import (
    SQL_PROBE,
    XSS,
    fetch,
    hostile_events,
    page_requests,
    unescaped,
)


def ingest(client: FlaskClient, key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/telemetry", data=json.dumps({"events": events}),
                           headers={"Authorization": f"Bearer {key}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 200, response.data
    return dict(response.get_json()["result"])


@pytest.fixture
def hostile_app(any_app: Flask) -> Flask:
    client = any_app.test_client()
    result = ingest(client, any_app.config["TEST_SITE"].key, hostile_events(XSS))
    assert result["accepted"] >= 9 and result["rejected"], result
    # The same events again, so duplicate receipts and warnings exist too.
    ingest(client, any_app.config["TEST_SITE"].key, hostile_events(XSS))
    return any_app


def test_every_page_escapes_hostile_events_and_urls(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    log_in(client)
    checked = 0
    for url in page_requests(hostile_app, XSS):
        response = fetch(client, url)
        assert response.status_code < 500, (url, response.status_code)
        body = response.text
        if response.mimetype == "text/html":
            assert not unescaped(body), (url, unescaped(body)[:3])
            checked += 1
        elif "javascript" not in response.mimetype:
            # JSON and downloads are never sniffed into HTML by a browser.
            assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert checked >= 8  # the crawl reached the pages (dashboard, catalog, demo, login...)


def test_the_probe_would_be_caught() -> None:
    """The checks above can fail: raw payload in markup is reported, escaped is not."""
    from markupsafe import escape

    assert unescaped(f"<p>{XSS}</p>")
    assert unescaped('<a href="javascript:xssprobe(3)">')
    assert not unescaped(f"<p>{escape(XSS)}</p><a title=\"{escape(XSS)}\" href=\"/ok\">")
    # Escaping does not defuse a javascript: URL: only not linking attacker URLs does.
    assert unescaped(f"<a href=\"{escape('javascript:xssprobe(3)')}\">")


def test_sql_text_never_carries_input(hostile_app: Flask) -> None:
    """Statements are recorded at the driver: input must only travel as parameters."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine(hostile_app)
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        client = hostile_app.test_client()
        ingest(client, hostile_app.config["TEST_SITE"].key, hostile_events(SQL_PROBE))
        log_in(client)
        for url in page_requests(hostile_app, SQL_PROBE):
            assert fetch(client, url).status_code < 500, url
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    assert len(statements) > 20
    leaked = [s for s in statements if "sqlprobe" in s]
    assert not leaked, leaked[:3]


def test_sql_text_never_carries_posted_input(hostile_app: Flask) -> None:
    """The dashboard's forms (saved funnels, path rules) store input as parameters only."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    client = hostile_app.test_client()
    log_in(client)
    assert fetch(client, "/dashboard/funnel").status_code == 200  # the form's CSRF token
    with client.session_transaction() as sess:
        token = sess["csrf"]
    engine = get_engine(hostile_app)
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        funnel_query = urlencode([("step", "IMPRESSION"), ("step", "EXDATA"),
                                  ("site", "test")])
        saved = client.post("/dashboard/funnel/save", data={
            "csrf_token": token, "name": SQL_PROBE, "query": funnel_query})
        rule = client.post("/dashboard/flow/rules", data={
            "csrf_token": token, "site": "test", "pattern": "^/x/" + re.escape(SQL_PROBE),
            "label": SQL_PROBE})
        assert saved.status_code == 302 and rule.status_code == 302
        for url in ("/dashboard/funnel", "/dashboard/flow"):
            assert fetch(client, url).status_code == 200
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as conn:  # the probe reached the database, as data
        assert conn.execute(select(SavedFunnel.name)).scalars().all() == [SQL_PROBE]
        assert conn.execute(select(PathRule.label)).scalars().all() == [SQL_PROBE]
    leaked = [s for s in statements if "sqlprobe" in s]
    assert not leaked, leaked[:3]

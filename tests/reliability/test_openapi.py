"""``/openapi.json`` is the truth about the HTTP API: routes match, schemathesis agrees.

Schemathesis generates requests from the document (valid and invalid ones) against the
app in process and checks: no 5xx, every status documented, every body in the
documented shape and media type. CI-sized: a bounded number of examples per operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.web.openapi import INGEST_PATHS, document
from tests.conftest import ADMIN_PASSWORD

# Routes that are not part of the HTTP API document, each with the reason.
NOT_IN_API: dict[tuple[str, str], str] = {
    ("/", "GET"): "redirect to the dashboard page",
    ("/dashboard", "GET"): "HTML page",
    ("/dashboard/catalog", "GET"): "HTML page (JSON twin: /v1/catalog)",
    ("/demo", "GET"): "HTML demo course",
    ("/demo/{slug}", "GET"): "HTML demo lesson",
    ("/login", "GET"): "HTML login form (POST /login is documented)",
    ("/logout", "POST"): "HTML form post from the page header",
    ("/static/{filename}", "GET"): "static files",
    ("/v1/ws", "GET"): "WebSocket (OpenAPI cannot describe frames; README documents it)",
    ("/v1/live", "GET"): "WebSocket of the dashboard pages (session cookie), not an API",
    ("/dashboard/flow", "GET"): "HTML page",
    ("/dashboard/funnel", "GET"): "HTML page",
    ("/dashboard/funnel/saved/{funnel_id}", "GET"): "HTML page (a saved funnel)",
    ("/dashboard/sessions", "GET"): "HTML page",
    ("/dashboard/sessions/{sid}", "GET"): "HTML page",
    ("/dashboard/rejected", "GET"): "HTML page",
    ("/dashboard/warnings", "GET"): "HTML page",
    ("/dashboard/funnel/dropoff.csv", "GET"): "CSV download linked from the funnel page",
    ("/dashboard/plotly.min.js", "GET"): "the Plotly library, served for the pages",
    ("/dashboard/flow/rules", "POST"): "HTML form post (CSRF token)",
    ("/dashboard/flow/rules/{rule_id}/delete", "POST"): "HTML form post (CSRF token)",
    ("/dashboard/funnel/save", "POST"): "HTML form post (CSRF token)",
    ("/dashboard/funnel/saved/{funnel_id}/delete", "POST"): "HTML form post (CSRF token)",
    ("/dashboard/data/overview", "GET"): "data of the overview page's live refresh",
    ("/dashboard/data/flow", "GET"): "data of the flow page's live refresh",
    ("/dashboard/data/flow/node", "GET"): "sessions behind a clicked flow node",
    ("/dashboard/data/funnel", "GET"): "data of the funnel page's live refresh",
    ("/dashboard/data/sessions", "GET"): "data of the session list's live refresh",
    ("/dashboard/data/sessions/{sid}", "GET"): "data of one session's timeline",
    ("/dashboard/data/rejected", "GET"): "data of the rejected page's live refresh",
    ("/dashboard/data/warnings", "GET"): "data of the warnings page's live refresh",
    ("/dashboard/courses", "GET"): "HTML page",
    ("/dashboard/course/{course}", "GET"): "HTML page",
    ("/dashboard/data/courses", "GET"): "data of the course list's live refresh",
    ("/dashboard/data/course/{course}", "GET"): "data of one course page's live refresh",
    ("/dashboard/courses.csv", "GET"): "CSV download linked from the course list",
    ("/dashboard/csv/course/{table}/{course}", "GET"): "CSV downloads of the course page",
}


def routes(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, METHOD) of every registered route, automatic HEAD/OPTIONS aside."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        methods = set(rule.methods or ()) - {"HEAD"}
        if getattr(rule, "provide_automatic_options", False):
            methods.discard("OPTIONS")
        found |= {(path, m) for m in methods}
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document()["paths"].items()
            for method in item}


def test_document_matches_the_registered_routes(app: Flask) -> None:
    registered = routes(app)
    undocumented = registered - documented() - set(NOT_IN_API)
    assert not undocumented, f"routes neither in /openapi.json nor in NOT_IN_API: {undocumented}"
    missing = documented() - registered
    assert not missing, f"/openapi.json documents routes the app does not have: {missing}"
    stale = set(NOT_IN_API) - registered
    assert not stale, f"NOT_IN_API lists routes that no longer exist: {stale}"


def test_document_is_served_and_valid_openapi_3_1(app: Flask) -> None:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == document()
    assert response.get_json()["openapi"] == "3.1.0"
    # Loading validates the document against the OpenAPI 3.1 meta-schema.
    schema = schemathesis.openapi.from_dict(document())
    assert {op.ok().label for op in schema.get_all_operations()} >= {
        "POST /v1/telemetry", "GET /export/xapi", "GET /health", "GET /v1/catalog"}


class ApiClient:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.key = str(app.config["TEST_SITE"].key)
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["csrf"] = "t"
        client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                    "csrf_token": "t"})
        cookie = client.get_cookie("session")
        assert cookie is not None
        self.session_cookie = cookie.value


@pytest.fixture
def api(make_app: Callable[..., Flask], sqlite_url: str) -> ApiClient:
    return ApiClient(make_app(sqlite_url))


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
OPERATIONS = sorted(documented())


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_api_answers_as_documented(api: ApiClient, path: str, method: str) -> None:
    operation = schemathesis.openapi.from_wsgi("/openapi.json", api.app)[path][method]
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if path in INGEST_PATHS and method == "POST":
        headers["Authorization"] = f"Bearer {api.key}"
    elif operation.definition.raw.get("security"):
        cookies["session"] = api.session_cookie

    # Valid requests and requests that break the document (wrong types, missing fields).
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: Any) -> None:
        response = case.call(headers=headers, cookies=cookies)
        case.validate_response(response, checks=CHECKS)

    answers_as_documented()

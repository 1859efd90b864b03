"""Every numeric query parameter of the dashboards is range-checked: a huge, negative or
exotic number is a clear 400 naming the parameter, never a 5xx from the database."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.conftest import log_in
from tests.factories import lesson_event
from tests.security.hostile import fetch, routes

NUMERIC = ("depth", "top", "min_link", "window", "days", "before", "node_step", "level")
OUT_OF_RANGE = ("99999999999999999999999999", "-99999999999999999999999999", "1e400",
                "\u0663\u0663")  # Arabic-Indic digits: int() reads them, nobody means them
STEPS = [("step", "IMPRESSION"), ("step", "ASSESS")]


def _seed(app: Flask) -> None:
    key = app.config["TEST_SITE"].key
    events = [lesson_event(eid) for eid in ("IMPRESSION", "ASSESS", "INTERACT")]
    response = app.test_client().post("/v1/telemetry", data=json.dumps({"events": events}),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.get_json()["result"]["accepted"] == 3


def test_huge_before_on_sessions_is_a_clear_400(any_app: Flask) -> None:
    _seed(any_app)
    client = any_app.test_client()
    log_in(client)
    for path in ("/dashboard/data/sessions", "/dashboard/sessions"):
        response = fetch(client, f"{path}?before=99999999999999999999999999")
        assert response.status_code == 400, (path, response.status_code)
        assert "before" in response.text


def test_every_numeric_parameter_is_range_checked(any_app: Flask) -> None:
    _seed(any_app)
    client = any_app.test_client()
    log_in(client)
    pages = [r.path("sid-1") for r in routes(any_app)
             if "GET" in r.methods and not r.websocket and r.rule.startswith("/dashboard")
             and "plotly" not in r.rule]
    assert "/dashboard/data/sessions" in pages and "/dashboard/funnel/dropoff.csv" in pages
    for path in pages:
        for name in NUMERIC:
            for value in OUT_OF_RANGE:
                url = f"{path}?{urlencode([*STEPS, (name, value)])}"
                response = fetch(client, url)
                assert response.status_code < 500, (url, response.status_code)
    # Each one is refused by name where it is read.
    for path, name in (("/dashboard/data/sessions", "before"), ("/dashboard/data/flow", "depth"),
                       ("/dashboard/data/flow", "top"), ("/dashboard/data/flow", "min_link"),
                       ("/dashboard/data/funnel", "window"), ("/dashboard/data/rejected", "days"),
                       ("/dashboard/data/flow/node", "node_step"),
                       ("/dashboard/funnel/dropoff.csv", "level")):
        for value in OUT_OF_RANGE:
            response = fetch(client, f"{path}?{urlencode([*STEPS, (name, value)])}")
            assert response.status_code == 400, (path, name, value, response.status_code)
            assert name in response.text, (path, name, response.text[:200])


@pytest.mark.parametrize(("name", "value"), [("depth", "5"), ("top", "8"), ("min_link", "1"),
                                             ("window", "3"), ("days", "30"),
                                             ("before", "1893456000000")])
def test_ordinary_values_still_work(app: Flask, name: str, value: str) -> None:
    _seed(app)
    client = app.test_client()
    log_in(client)
    for path in ("/dashboard/data/sessions", "/dashboard/data/flow", "/dashboard/data/funnel",
                 "/dashboard/data/rejected"):
        response = fetch(client, f"{path}?{urlencode([*STEPS, (name, value)])}")
        assert response.status_code == 200, (path, name, response.text[:200])

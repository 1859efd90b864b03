"""Stored events with warnings, grouped by warning and site, with examples, live."""

from __future__ import annotations

from typing import Any

import msgspec
from flask import Flask
from flask.testing import FlaskClient

from collector.analytics.event_warnings import warning_groups
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine, session
from collector.storage.sites import create_site, get_directory
from tests.dashboard.conftest import ingest
from tests.factories import event

COURSE = [{"type": "Course", "id": "algebra"}]


def add_site(app: Flask, name: str) -> str:
    with session(app) as s:
        site = create_site(s, name, ["https://other.example"])
        s.commit()
        return site.write_key


def ingest_with_key(app: Flask, key: str, events: list[dict[str, Any]]) -> None:
    with app.app_context():
        site = get_directory().authenticate(key)
        assert site is not None
        get_pipeline().ingest_events(site, [msgspec.json.encode(e) for e in events],
                                     transport="test")


def groups(data: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(site, warning) -> events, from the page's table rows."""
    out = {}
    for row in data["tables"]["warnings"]:
        warning = row[1]["text"] if isinstance(row[1], dict) else row[1]
        out[(row[0], warning)] = int(row[2])
    return out


def test_warnings_are_grouped_per_site_with_examples(app: Flask, admin: FlaskClient) -> None:
    other = add_site(app, "other")
    ingest(app, [event("ASSESS", cdata=COURSE, mid=f"a{i}") for i in range(3)]
           + [event("START", edata={"type": "course"}, mid="s1"), event("IMPRESSION")])
    ingest_with_key(app, other, [event("ASSESS", cdata=COURSE, mid="o1"),
                                 event("IMPRESSION", ets=1_763_000_000, mid="o2")])
    response = admin.get("/dashboard/warnings")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/dashboard/data/warnings" in html and "/dashboard/plotly.min.js" in html
    found = groups(admin.get("/dashboard/data/warnings").get_json())
    assisted = "ASSESS in a course without a lesson (context.cdata {type: 'Lesson', id})"
    assert found[("test", assisted)] == 3 and found[("other", assisted)] == 1
    assert found.get(("test", "START of type course without a course id (object {type: "
                  "'Course', id} or context.cdata {type: 'Course', id})")) == 1, found
    assert found[("other", "ets: N looks like seconds, not milliseconds")] == 1
    assert not any(site == "test" and "ets:" in w for site, w in found)
    only = admin.get("/dashboard/data/warnings?site=other").get_json()
    assert {site for site, _ in groups(only)} == {"other"}
    # Each group shows its latest example: mid and the payload as received.
    example = next(r for r in only["tables"]["warnings"] if "ASSESS" in str(r[1]))
    assert example[3] == "o1" and '"mid":"o1"' in example[4]["text"]


def test_rejected_page_links_to_the_warnings_page(app: Flask, admin: FlaskClient) -> None:
    assert 'href="/dashboard/warnings"' in admin.get("/dashboard/rejected").get_data(
        as_text=True)


def test_warning_pages_escape_what_clients_sent(app: Flask, admin: FlaskClient) -> None:
    hostile = "<script>alert(1)</script>"
    ingest(app, [event("ASSESS", cdata=[{"type": "Course", "id": hostile}], mid=hostile)])
    html = admin.get("/dashboard/warnings").get_data(as_text=True)
    assert hostile not in html
    data = admin.get("/dashboard/data/warnings").get_json()
    assert data["tables"]["warnings"][0][3] == hostile  # drawn with textContent


def test_warning_pages_need_a_login(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/dashboard/warnings").status_code == 302
    assert client.get("/dashboard/data/warnings",
                      headers={"Accept": "application/json"}).status_code == 401


def test_warning_counts_on_both_databases(any_app: Flask) -> None:
    for batch in range(2):  # two commits: the second adds to the first's counters
        ingest(any_app, [event("ASSESS", cdata=COURSE, mid=f"b{batch}-{i}") for i in range(2)])
    with get_engine(any_app).connect() as conn:
        [group] = warning_groups(conn, None, 0)
    assert (group.site, group.events, group.example_mid) == ("test", 4, "b1-1")
    assert group.warning.startswith("ASSESS in a course without a lesson")
    assert group.example is not None and '"mid":"b1-1"' in group.example

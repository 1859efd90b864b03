"""The catalog: GET /v1/catalog, /dashboard/catalog and ``collector catalog export``."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from flask import Flask
from flask.testing import FlaskClient

from collector import tracking
from collector.cli.main import main
from collector.core.events.schema import EID_DESCRIPTIONS, EIDS
from collector.ingest.pipeline import get_pipeline
from collector.storage.sites import get_directory
from tests.factories import event
from tests.tracking.conftest import log_in

VIDEO_V1 = {"video_id": "The video.", "position": "Seconds into the video."}
VIDEO_V2 = {**VIDEO_V1, "speed": "Playback speed."}


def ingest(app: Flask, events: list[dict[str, Any]]) -> None:
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    get_pipeline(app).ingest_events(site, [msgspec.json.encode(e) for e in events],
                                    transport="http")


def populate(app: Flask) -> None:
    with app.app_context():
        tracking.register("org.video.paused", "A learner paused a video.", VIDEO_V1)
        tracking.register("org.video.paused", "Paused, with speed.", VIDEO_V2, version=2)
        tracking.emit("org.video.paused", {"video_id": "v1", "position": 1, "speed": 1})
        tracking.emit("org.video.paused", {"video_id": "v1"})  # warns: missing fields
    ingest(app, [event("IMPRESSION"), event("IMPRESSION"), event("INTERACT"),
                 event("EXDATA", edata={"type": "lessonkit.hint.shown", "data": {"q": 1}})])


def by_name(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in catalog["events"]}


def test_catalog_json_needs_login(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/v1/catalog").status_code == 401
    page = client.get("/dashboard/catalog")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_catalog_json_matches_what_was_registered_and_seen(any_app: Flask) -> None:
    populate(any_app)
    client = any_app.test_client()
    log_in(client)
    response = client.get("/v1/catalog")
    assert response.status_code == 200
    entries = by_name(response.get_json())

    assert [e["name"] for e in response.get_json()["events"][:17]] == list(EIDS)
    for eid in EIDS:
        assert entries[eid]["kind"] == "v3"
        assert entries[eid]["description"] == EID_DESCRIPTIONS[eid]
    assert entries["IMPRESSION"]["count"] == 2 and entries["INTERACT"]["count"] == 1
    assert entries["SEARCH"]["count"] == 0 and entries["SEARCH"]["first_seen"] is None

    video = entries["org.video.paused"]
    assert video["kind"] == "custom" and video["registered"] is True
    assert video["description"] == "Paused, with speed."
    assert [(v["version"], v["schema_id"], v["fields"], v["description"])
            for v in video["versions"]] == [
        (1, "org.video.paused/v1", VIDEO_V1, "A learner paused a video."),
        (2, "org.video.paused/v2", VIDEO_V2, "Paused, with speed.")]
    assert video["fields"] == VIDEO_V2
    assert video["count"] == 2
    assert video["first_seen"] <= video["last_seen"] and video["last_seen"].endswith("Z")
    assert video["warnings"]["events"] == 1
    assert video["warnings"]["latest"] == [
        "registry: org.video.paused/v2: registered field(s) missing: position, speed"]
    assert video["example"]["edata"]["type"] == "org.video.paused"

    seen_only = entries["lessonkit.hint.shown"]
    assert seen_only["registered"] is False and seen_only["versions"] == []
    assert seen_only["count"] == 1 and seen_only["warnings"]["events"] == 1

    # The login above is the collector's own audit event, registered through the API.
    login = entries["collector.user.logged_in"]
    assert login["registered"] is True and login["count"] == 1
    assert set(login["fields"]) == {"username", "address"}


def test_catalog_page_lists_names_and_escapes(app: Flask, admin_client: FlaskClient) -> None:
    with app.app_context():
        tracking.register("org.xss.attempt", "<script>alert(1)</script>",
                          {"<b>field</b>": "<img src=x onerror=alert(2)>"})
        tracking.emit("org.xss.attempt", {"<b>field</b>": "</pre><script>alert(3)</script>"})
    page = admin_client.get("/dashboard/catalog")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="event-org.xss.attempt"' in html and 'id="event-ASSESS"' in html
    assert EID_DESCRIPTIONS["ASSESS"] in html
    assert "org.xss.attempt/v1" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>field</b>" not in html and "</pre><script>" not in html
    assert 'href="/dashboard/catalog"' in html  # linked from the navigation


def test_cli_catalog_export(app: Flask) -> None:
    populate(app)
    result = app.test_cli_runner().invoke(main, ["catalog", "export"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    entries = by_name(data)
    for entry in data["events"]:
        assert set(entry) == {"name", "site", "kind", "description", "versions", "count"}
    assert entries["START"] == {"name": "START", "site": None, "kind": "v3",
                                "description": EID_DESCRIPTIONS["START"], "versions": [],
                                "count": 0}
    video = entries["org.video.paused"]
    assert (video["kind"], video["count"]) == ("custom", 2)
    assert [v["version"] for v in video["versions"]] == [1, 2]
    assert video["versions"][0]["fields"] == VIDEO_V1


def test_counts_are_exact_under_concurrent_batches_and_resends(any_app: Flask) -> None:
    """Eight threads ingest overlapping batches; duplicates are not counted twice."""
    import threading

    batches = [[event("INTERACT", mid=f"i-{b}-{i}") for i in range(50)] for b in range(8)]
    threads = [threading.Thread(target=ingest, args=(any_app, batch + batches[0]))
               for batch in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    client = any_app.test_client()
    log_in(client)
    entries = by_name(client.get("/v1/catalog").get_json())
    assert entries["INTERACT"]["count"] == 8 * 50

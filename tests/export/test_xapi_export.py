"""GET /export/xapi and /export/caliper, and ``collector export``: streamed, filtered, valid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from collector.bench.synthetic import synthetic_events
from collector.cli.main import main
from tests.conftest import log_in
from tests.factories import course_start, event, lesson_event
from tests.forward.helpers import ingest
from tests.mapping.test_xapi_mapping import lesson_calls
from tests.mapping.validators import assert_valid_caliper, assert_valid_xapi


def login(client: FlaskClient) -> FlaskClient:
    log_in(client)
    return client


def demo_traffic() -> list[dict[str, Any]]:
    """Every lesson call, a reloaded course start, unmapped events, and lesson traffic."""
    events = lesson_calls()
    events += [course_start("algebra", ets=events[0]["ets"] + 5),  # a reload: duplicate
               lesson_event("HEARTBEAT", edata={}),
               event("INTERACT", edata={"type": "CLICK", "id": "menu"})]
    events += list(synthetic_events(600, seed=3))
    return events


@pytest.fixture
def filled_app(any_app: Flask) -> Flask:
    result = ingest(any_app, demo_traffic())
    assert result["rejected"] == 0 and result["accepted"] == len(demo_traffic())
    return any_app


def expected_statements(events: list[dict[str, Any]]) -> int:
    # Mapped: everything but the HEARTBEAT, the INTERACT outside a lesson and the
    # reloaded course start (the synthetic traffic maps entirely).
    return len(events) - 3


def test_export_needs_login(app: Flask) -> None:
    response = app.test_client().get("/export/xapi")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_json_export_is_one_valid_array_of_canonical_statements(filled_app: Flask) -> None:
    response = login(filled_app.test_client()).get("/export/xapi?format=json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert re.fullmatch(r'attachment; filename="collector-xapi-\d{4}-\d{2}-\d{2}\.json"',
                        response.headers["Content-Disposition"])
    statements = json.loads(response.get_data())
    assert len(statements) == expected_statements(demo_traffic())
    assert len({s["id"] for s in statements}) == len(statements)
    starts = [s for s in statements if s["verb"]["id"].endswith("/initialized")
              and s["object"]["id"] == "urn:collector:course:algebra"
              and s["actor"]["account"]["name"] == "learner-1"]
    assert len(starts) == 1  # the reload in the same session is not exported
    assert_valid_xapi(statements)


def test_ndjson_export_and_filters(filled_app: Flask) -> None:
    client = login(filled_app.test_client())
    all_lines = client.get("/export/xapi?format=ndjson").get_data().splitlines()
    assert len(all_lines) == expected_statements(demo_traffic())
    response = client.get("/export/xapi?format=ndjson&course=geometry")
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"].endswith('.ndjson"')
    geometry = [json.loads(line) for line in response.get_data().splitlines()]
    assert geometry and len(geometry) < len(all_lines)
    for st in geometry:
        activities = [st["object"]["id"]] + [
            a["id"] for a in st["context"].get("contextActivities", {}).get("grouping", [])
            + st["context"].get("contextActivities", {}).get("parent", [])]
        assert "urn:collector:course:geometry" in activities or st["verb"]["id"].endswith(
            "viewed")
    stamps = sorted(json.loads(line)["timestamp"] for line in all_lines)
    middle = stamps[len(stamps) // 2]
    later = client.get(f"/export/xapi?format=ndjson&since={middle}").get_data().splitlines()
    earlier = client.get(f"/export/xapi?format=ndjson&until={middle}").get_data().splitlines()
    assert len(later) + len(earlier) == len(all_lines)
    assert all(json.loads(line)["timestamp"] >= middle for line in later)
    assert client.get("/export/xapi?site=test").get_json()  # the test site: everything
    assert client.get("/export/xapi?course=none-such").get_json() == []


@pytest.mark.parametrize(("query", "message"), [
    ("format=xml", "format"), ("since=yesterday", "since"), ("until=2026-13-45", "until"),
    ("site=nope", "no site named"),
])
def test_bad_parameters_are_400_with_the_reason(app: Flask, query: str, message: str) -> None:
    response = login(app.test_client()).get("/export/xapi?" + query)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_caliper_export_envelopes_are_valid(filled_app: Flask) -> None:
    response = login(filled_app.test_client()).get("/export/caliper?format=ndjson")
    envelopes = [json.loads(line) for line in response.get_data().splitlines()]
    assert envelopes and all(len(e["data"]) <= 101 for e in envelopes)
    for envelope in envelopes:
        assert_valid_caliper(envelope)
    ids = [ev["id"] for e in envelopes for ev in e["data"]]
    assert len(ids) == len(set(ids))


def test_cli_export_writes_the_same_statements(
        filled_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        cli_apps: list[Flask]) -> None:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", filled_app.config["DATABASE_URL"])
    web = json.loads(login(filled_app.test_client()).get("/export/xapi").get_data())
    runner = CliRunner()
    out = tmp_path / "statements.json"
    done = runner.invoke(main, ["export", "xapi", "--format", "json", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text()) == web
    assert f"{len(web)} statements exported" in done.output
    assert "events without a mapping" in done.output  # counted on stderr
    lines = tmp_path / "statements.ndjson"
    done = runner.invoke(main, ["export", "xapi", "--format", "ndjson", "--course", "algebra",
                                "--out", str(lines)])
    assert done.exit_code == 0, done.output
    assert 0 < len(lines.read_text().splitlines()) < len(web)
    done = runner.invoke(main, ["export", "caliper", "--format", "ndjson", "--out",
                                str(tmp_path / "caliper.ndjson")])
    assert done.exit_code == 0, done.output
    bad = runner.invoke(main, ["export", "xapi", "--since", "soon"])
    assert bad.exit_code != 0 and "--since" in bad.output


def test_export_memory_is_paged(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are read in keyset pages: more events than a page still come out complete."""
    import collector.outbound.export as export

    monkeypatch.setattr(export, "PAGE", 50)
    events = list(synthetic_events(400, seed=11))
    ingest(app, events)
    statements = json.loads(login(app.test_client()).get("/export/xapi").get_data())
    assert len(statements) == 400


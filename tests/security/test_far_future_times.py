"""Stored times no datetime can hold (rows kept before ingest refused them) render safely.

New events with an ``ets`` after 2100 are refused at ingest; rows already stored with
``ets = 10**18`` must not make a dashboard page answer 400 or a CSV 500.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from collector.cli.main import main
from collector.core.events import validate
from collector.storage.engine import get_engine
from collector.storage.models import Event, Site
from tests.dashboard.conftest import ingest, log_in
from tests.factories import course_start, event

FAR = 10**18  # year ~31.7 million
LESSON = [{"type": "Course", "id": "algebra"}, {"type": "Lesson", "id": "l1"}]


@pytest.fixture
def far_future(app: Flask, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    # Stored as an older collector would have stored them: through the whole pipeline
    # (events and dashboard tables), before the ingest bound existed.
    with monkeypatch.context() as m:
        m.setattr(validate, "MAX_ETS", 2**63)
        events = [event("IMPRESSION", sid="far", ets=FAR),
                  event("INTERACT", sid="far", ets=FAR + 1000),
                  event("IMPRESSION", sid="far-drop", ets=FAR),  # drops after step 1
                  event("IMPRESSION", sid="near"),
                  course_start("algebra", sid="far-course", ets=FAR),
                  event("START", sid="far-course", ets=FAR + 1, cdata=LESSON,
                        edata={"type": "lesson"}, obj={"id": "l1", "type": "Lesson"}),
                  event("ASSESS", sid="far-course", ets=FAR + 2, cdata=LESSON)]
        assert ingest(app, events).accepted == 7
    with get_engine(app).begin() as conn:  # and one row written directly
        site_id = conn.execute(select(Site.id)).scalars().first()
        conn.execute(insert(Event).values(
            mid="direct-far", site_id=site_id, eid="IMPRESSION", name="IMPRESSION",
            ets=FAR, received_at=FAR, sid="far-direct", chain_id="far-direct",
            actor_id="learner-9", payload="{}"))
    client = app.test_client()
    log_in(client)
    return client


URLS = [
    "/dashboard",
    "/dashboard/data/overview",
    "/dashboard/flow",
    "/dashboard/data/flow",
    "/dashboard/sessions",
    "/dashboard/data/sessions",
    "/dashboard/sessions/far",
    "/dashboard/data/sessions/far",
    "/dashboard/sessions/far-direct",
    "/dashboard/data/sessions/far-direct",
    "/dashboard/funnel?step=IMPRESSION&step=INTERACT",
    "/dashboard/data/funnel?step=IMPRESSION&step=INTERACT",
    "/dashboard/funnel/dropoff.csv?step=IMPRESSION&step=INTERACT&level=1",
    "/dashboard/funnel?step=IMPRESSION&step=INTERACT&mode=unordered",
    "/dashboard/data/funnel?step=IMPRESSION&step=INTERACT&by=learner",
    "/dashboard/rejected",
    "/dashboard/data/rejected",
    "/dashboard/courses",
    "/dashboard/data/courses",
    "/dashboard/courses.csv",
    "/dashboard/course/algebra",
    "/dashboard/data/course/algebra",
    "/dashboard/csv/course/lessons/algebra",
    "/dashboard/csv/course/items/algebra",
    "/dashboard/csv/course/learners/algebra",
]


@pytest.mark.parametrize("url", URLS)
def test_far_future_rows_render(far_future: FlaskClient, url: str) -> None:
    response = far_future.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])


def test_far_future_rows_in_reports(far_future: FlaskClient, sqlite_url: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", sqlite_url)
    for report in ("learners", "course", "items"):
        done = CliRunner().invoke(main, ["report", report, "--course", "algebra", "--json"])
        assert done.exit_code == 0, (report, done.output[-300:], done.exception)
        json.loads(done.output.strip().splitlines()[-1])

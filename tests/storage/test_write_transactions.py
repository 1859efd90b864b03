"""SQLite write paths that read first, run while the ingest writer commits.

In WAL mode a deferred transaction reads from a snapshot; when it then writes after
another connection committed, SQLite refuses at once with SQLITE_BUSY_SNAPSHOT
("database is locked") and the busy timeout does not help. Every write path must take
the write lock when it begins instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import msgspec
import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from collector.ingest.pipeline import get_pipeline
from collector.outbound.outbox import backfill
from collector.storage.engine import get_engine
from collector.storage.models import EVENTS, OUTBOX, PathRule, SavedFunnel, Site
from collector.storage.sites import get_directory
from collector.tracking.backend import INTERNAL_SITE, internal_site
from collector.tracking.tracker import register
from tests.conftest import log_in, wait_for
from tests.factories import course_start, lesson_event

ROUNDS = 120


def _stored(app: Flask) -> int:
    with get_engine(app).connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(EVENTS)) or 0)


@pytest.fixture
def ingest_committing(app: Flask) -> Iterator[None]:
    """The ingest writer committing small batches back to back until the test ends."""
    stop = threading.Event()
    failures: list[BaseException] = []
    with app.app_context():
        site = get_directory().authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)

    def run() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                sid = f"s-{n}"
                events = [course_start(f"course-{n}", sid=sid), lesson_event("ASSESS", sid=sid),
                          lesson_event("END", sid=sid, edata={"type": "lesson"})]
                pipeline.ingest_events(site, [msgspec.json.encode(e) for e in events],
                                       transport="test")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    thread = threading.Thread(target=run, name="test-ingest", daemon=True)
    thread.start()
    wait_for(lambda: _stored(app) >= 30, what="ingest commits")
    yield
    stop.set()
    thread.join(30)
    assert not failures, failures


@pytest.mark.usefixtures("ingest_committing")
def test_registrations_while_ingest_commits(app: Flask) -> None:
    with app.app_context():
        for i in range(ROUNDS):
            register(f"test.concurrent{i}", "registered while ingest commits", ["field"])


@pytest.mark.usefixtures("ingest_committing")
def test_path_rules_and_funnels_while_ingest_commits(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    client.get("/dashboard/flow")  # a page with a form: the session's CSRF token
    with client.session_transaction() as sess:
        token = sess["csrf"]
    engine = get_engine(app)
    for i in range(ROUNDS):
        response = client.post("/dashboard/flow/rules", data={
            "csrf_token": token, "site": "test", "pattern": rf"/lesson/{i}\d*",
            "label": "/lesson/:id"})
        assert response.status_code == 302
        with engine.begin() as conn:  # stay under the per-site rule limit
            conn.execute(delete(PathRule))
        response = client.post("/dashboard/funnel/save", data={
            "csrf_token": token, "name": f"funnel {i}",
            "query": "step=START&step=END"})
        assert response.status_code == 302
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SavedFunnel)) == ROUNDS


@pytest.mark.usefixtures("ingest_committing")
def test_internal_site_created_while_ingest_commits(app: Flask) -> None:
    engine = get_engine(app)
    for _ in range(ROUNDS):
        with engine.begin() as conn:
            conn.execute(delete(Site).where(Site.name == INTERNAL_SITE))
        assert internal_site(app).name == INTERNAL_SITE


@pytest.mark.usefixtures("ingest_committing")
def test_outbox_backfill_while_ingest_commits(app: Flask) -> None:
    engine = get_engine(app)
    for _ in range(ROUNDS // 4):
        backfill(engine, "xapi")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OUTBOX))

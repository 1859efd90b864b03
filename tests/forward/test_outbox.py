"""The outbox is filled in the ingest transaction, only with events that can map."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from flask import Flask
from sqlalchemy import Engine, create_engine, inspect

from collector.analytics.stats import collect_stats
from collector.storage.engine import alembic_config, get_engine
from tests.factories import course_start, event, lesson_event
from tests.forward.helpers import ingest, outbox_rows


def test_nothing_is_queued_without_forwarding(any_app: Flask) -> None:
    ingest(any_app, [course_start(), lesson_event("ASSESS")])
    assert outbox_rows(any_app) == 0


def test_mappable_events_are_queued_per_target(make_app: Callable[..., Flask],
                                               database_url: str) -> None:
    app = make_app(database_url, LRS_URL="http://127.0.0.1:9/xAPI",
                   CALIPER_URL="http://127.0.0.1:9/caliper")
    events = [
        course_start("algebra"),
        course_start("algebra"),  # same session: a duplicate, never queued
        lesson_event("START", edata={"type": "lesson"}),
        lesson_event("ASSESS"),
        lesson_event("INTERACT"),
        event("INTERACT"),  # outside a lesson: no xAPI
        lesson_event("IMPRESSION"),
        lesson_event("HEARTBEAT", edata={}),
        event("START", edata={"type": "session"}),  # Caliper only
    ]
    result = ingest(app, events)
    assert result["accepted"] == len(events)
    assert outbox_rows(app, "xapi") == 5  # course start, lesson start, assess, interact, page
    assert outbox_rows(app, "caliper") == 5  # course, lesson, assess, page, session
    again = ingest(app, events[:3])  # resent: duplicates by mid, not queued twice
    assert again["duplicates"] == 3 and outbox_rows(app, "xapi") == 5
    stats = collect_stats(get_engine(app))
    assert stats["xapi_pending"] == 5 and stats["caliper_pending"] == 5
    assert stats["xapi_sent"] == 0 and stats["events"] == len(events)


def _migrate(engine: Engine, url: str, action: Callable[..., None], revision: str) -> None:
    cfg = alembic_config(url)
    with engine.begin() as conn:  # on our connection: alembic's own engine is never disposed
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_migration_0002_up_and_down(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        _migrate(engine, database_url, command.upgrade, "head")
        assert {"outbox", "forward_state"} <= set(inspect(engine).get_table_names())
        _migrate(engine, database_url, command.downgrade, "0001")
        tables = set(inspect(engine).get_table_names())
        assert "outbox" not in tables and "forward_state" not in tables and "events" in tables
        _migrate(engine, database_url, command.upgrade, "head")
        assert "outbox" in set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

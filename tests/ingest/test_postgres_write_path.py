"""The PostgreSQL write path: rows COPY-ed into a per-connection staging table, then moved
with one INSERT ... ON CONFLICT DO NOTHING. A rollback can undo the staging table's
creation; the next transaction on that connection must create it again."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from flask import Flask
from sqlalchemy import Connection, func, select

from collector.ingest.persist import PG_EVENTS_STAGE, BatchOutcome, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine
from collector.storage.models import Event
from collector.storage.sites import get_directory
from tests.factories import event
from tests.ingest.test_pipeline_phases import post_events


def test_a_rolled_back_first_transaction_does_not_lose_the_staging_table(
        make_app: Callable[..., Flask], pg_url: str) -> None:
    app = make_app(pg_url)
    engine = get_engine(app)
    engine.dispose()  # fresh connections: the first group creates the staging table
    failures = [1, 1]  # the writer tries a batch that failed on its own a second time

    def fail_once(conn: Connection, batches: Sequence[PreparedBatch],
                  outcomes: Sequence[BatchOutcome]) -> None:
        if failures:
            failures.pop()
            raise RuntimeError("the first transaction rolls back")

    get_pipeline(app).in_transaction(fail_once)
    first = [event() for _ in range(3)]
    status, body = post_events(app, first)  # both transactions roll back: quarantined
    assert status == 200, body
    assert body["result"]["accepted"] == 0
    second = [event("INTERACT") for _ in range(5)]
    status, body = post_events(app, second)  # same connection: the table is made again
    assert status == 200, body
    assert (body["result"]["accepted"], body["result"]["duplicates"]) == (5, 0)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 5


def test_duplicates_within_and_across_groups_on_the_copy_path(
        make_app: Callable[..., Flask], pg_url: str) -> None:
    app = make_app(pg_url)
    auth = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert auth is not None
    events = [event() for _ in range(50)]
    pipeline = get_pipeline(app)
    # Two batches sharing events, submitted together: one group, each event once.
    pending = [pipeline.submit_events(auth, [_raw(e) for e in events[:30]], transport="ws"),
               pipeline.submit_events(auth, [_raw(e) for e in events[20:]], transport="ws")]
    results = [p.result() for p in pending]
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 10
    assert PG_EVENTS_STAGE.name == "events_stage"
    with get_engine(app).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 50


def _raw(ev: dict[str, object]) -> bytes:
    return json.dumps(ev).encode()

"""The whole ingest pipeline under arbitrary batches, on SQLite and PostgreSQL.

Every event of a batch is accounted for (stored, duplicate or rejected with reasons),
what is acked is in the database, and a batch whose transaction fails leaves nothing
behind: never half a batch.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from collector.core.events.envelope import EnvelopeError
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import StorageUnavailable, get_engine
from collector.storage.models import Event
from collector.storage.models import RejectedEvent as RejectedRow
from collector.storage.sites import get_directory
from tests.conftest import IN_CI
from tests.factories import event
from tests.reliability.hostile_json import encode, json_values, mutated_events

PIPELINE = settings(max_examples=40, deadline=None, database=None, derandomize=IN_CI,
                    suppress_health_check=list(HealthCheck))


def counts(app: Flask) -> tuple[int, int]:
    with get_engine(app).connect() as conn:
        return (conn.execute(select(func.count()).select_from(Event)).scalar_one(),
                conn.execute(select(func.count()).select_from(RejectedRow)).scalar_one())


def stored_mids(app: Flask, mids: Sequence[str]) -> set[str]:
    if not mids:
        return set()
    with get_engine(app).connect() as conn:
        return set(conn.execute(select(Event.mid).where(Event.mid.in_(list(mids)))).scalars())


frames = st.fixed_dictionaries(
    {"events": st.lists(mutated_events() | json_values, max_size=8)},
    optional={"id": json_values})


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_any_batch_is_fully_accounted_for(make_app: Any, request: pytest.FixtureRequest,
                                          database: str) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "pg_url")
    app: Flask = make_app(url)
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)

    @PIPELINE
    @given(frames | json_values | st.binary(max_size=100))
    def accounted(body: Any) -> None:
        raw = body if isinstance(body, bytes) else encode(body)
        events_before, rejected_before = counts(app)
        try:
            result = pipeline.ingest_body(site, raw, transport="http")
        except EnvelopeError as exc:
            assert str(exc)
            assert counts(app)[0] == events_before  # nothing stored, the body quarantined
            return
        sent = len(body["events"]) if isinstance(body, dict) else None
        total = result.accepted + result.duplicates + len(result.rejected)
        if sent is not None:
            assert total == sent
        assert all(r["errors"] for r in result.rejected)
        events_after, rejected_after = counts(app)
        assert events_after - events_before == result.accepted
        assert rejected_after - rejected_before == len(result.rejected)

    accounted()


class PoisonHook:
    """A persist hook failing the transaction of groups that hold a poisoned batch."""

    def __init__(self) -> None:
        self.poisoned: set[str] = set()  # batch markers (the first event's mid)
        self.outage = False

    def __call__(self, conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> None:
        if self.outage:
            raise OperationalError("INSERT", {}, Exception("database went away"))
        for batch in batches:
            if batch.valid and batch.valid[0].mid in self.poisoned:
                raise DBAPIError("INSERT", {}, Exception("poisoned batch"))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_failed_transactions_never_store_half_a_batch(
        make_app: Any, request: pytest.FixtureRequest, database: str) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "pg_url")
    app: Flask = make_app(url)
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)
    hook = PoisonHook()
    pipeline.writer.hooks.append(hook)

    @PIPELINE
    @given(plan=st.lists(st.tuples(st.integers(1, 30), st.booleans()), min_size=1, max_size=6),
           outage=st.booleans())
    def all_or_nothing(plan: list[tuple[int, bool]], outage: bool) -> None:
        hook.outage = outage
        pending = []
        batches = []
        for size, poisoned in plan:
            evs = [event(mid=f"m-{uuid.uuid4()}") for _ in range(size)]
            if poisoned:
                hook.poisoned.add(evs[0]["mid"])
            raw = [json.dumps(e).encode() for e in evs]
            # Submitted back to back so that the writer groups them in one transaction.
            pending.append(pipeline.submit_events(site, raw, transport="ws"))
            batches.append(([e["mid"] for e in evs], poisoned))
        for item, (mids, poisoned) in zip(pending, batches, strict=True):
            try:
                result = item.result()
            except StorageUnavailable:
                assert stored_mids(app, mids) == set(), "a failed batch left rows behind"
                assert outage
                continue
            assert not outage
            if poisoned:  # the store refused its data: quarantined, acked, not retried
                assert result.accepted == 0 and len(result.rejected) == len(mids)
                assert stored_mids(app, mids) == set()
                continue
            assert result.accepted == len(mids)
            assert stored_mids(app, mids) == set(mids)

    all_or_nothing()

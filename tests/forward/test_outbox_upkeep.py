"""Outbox upkeep: the claim query is indexed, refused rows can be purged, backfill pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from flask import Flask
from sqlalchemy import Engine, create_engine, event, inspect, select, update

from collector.cli.forward import forward
from collector.outbound import outbox
from collector.storage.engine import get_engine
from collector.storage.models import OutboxEntry, now_ms
from tests.factories import lesson_event
from tests.forward.conftest import Receiver
from tests.forward.helpers import ingest, outbox_rows
from tests.forward.test_outbox import _migrate

DAY_MS = 86_400_000


def forwarding_app(make_app: Callable[..., Flask], url: str, receiver: Receiver) -> Flask:
    return make_app(url, LRS_URL=receiver.url + "/xAPI", LRS_AUTH="collector:pw")


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement ``engine`` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any,
               executemany: bool) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_claim_query_reads_an_index(make_app: Callable[..., Flask], database_url: str,
                                        receiver: Receiver) -> None:
    app = forwarding_app(make_app, database_url, receiver)
    ingest(app, [lesson_event("ASSESS") for _ in range(20)])
    engine = get_engine(app)
    with statements(engine) as seen:
        assert outbox.claim(engine, "xapi", "me", 5, 60_000)
    due = [(sql, params) for sql, params in seen
           if sql.lstrip().startswith("SELECT outbox.id") and "JOIN" not in sql]
    assert len(due) == 1, seen
    sql, params = due[0]
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql, params))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params))
    assert "ix_outbox_target_failed_id" in plan, plan


def refuse(app: Flask, count: int, age_days: int) -> list[int]:
    """Mark ``count`` queued rows refused for good, queued ``age_days`` ago."""
    engine = get_engine(app)
    rows = outbox.claim(engine, "xapi", "tester", count, 60_000)
    for row in rows:
        outbox.fail(engine, "xapi", "tester", row, "HTTP 400: test says no")
    with engine.begin() as conn:
        conn.execute(update(OutboxEntry).where(OutboxEntry.id.in_([r.id for r in rows]))
                     .values(created_at=now_ms() - age_days * DAY_MS))
    return [r.id for r in rows]


def forward_cli(app: Flask, *args: str) -> dict[str, Any]:
    """``collector forward xapi --json ARGS`` on ``app`` (its database and receiver)."""
    result = app.test_cli_runner().invoke(forward, ["xapi", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def refused_ids(app: Flask) -> set[int]:
    with get_engine(app).connect() as conn:
        return set(conn.scalars(select(OutboxEntry.id).where(OutboxEntry.failed.is_(True))))


def test_refused_rows_are_purged_on_request(make_app: Callable[..., Flask], database_url: str,
                                            receiver: Receiver) -> None:
    app = forwarding_app(make_app, database_url, receiver)
    ingest(app, [lesson_event("ASSESS") for _ in range(10)])
    old = refuse(app, 3, age_days=40)
    recent = refuse(app, 2, age_days=1)
    assert refused_ids(app) == set(old + recent)

    summary = forward_cli(app, "--purge-refused", "--older-than", "30")
    assert summary["purged"] == 3 and summary["sent"] == 5
    assert refused_ids(app) == set(recent)

    summary = forward_cli(app, "--purge-refused")
    assert summary["purged"] == 2 and refused_ids(app) == set()
    assert outbox_rows(app) == 0


def test_backfill_reads_events_in_bounded_pages(make_app: Callable[..., Flask],
                                                database_url: str, receiver: Receiver) -> None:
    app = forwarding_app(make_app, database_url, receiver)
    events = [lesson_event("ASSESS") for _ in range(23)] + [
        lesson_event("HEARTBEAT", edata={}) for _ in range(5)]  # never queued
    ingest(app, events)
    engine = get_engine(app)
    queued_at_ingest = refuse(app, 4, age_days=0)  # still in the outbox: not queued again
    with engine.begin() as conn:
        conn.execute(OutboxEntry.__table__.delete().where(  # type: ignore[attr-defined]
            OutboxEntry.failed.is_(False)))  # as if sent: backfill queues these again

    with statements(engine) as seen:
        queued = outbox.backfill(engine, "xapi", page=5)
    assert queued == 23 - len(queued_at_ingest)
    assert outbox_rows(app, "xapi") == 23
    reads = [(sql, params) for sql, params in seen
             if sql.lstrip().startswith("SELECT") and "FROM events" in sql and "LIMIT" in sql]
    assert len(reads) >= 23 // 5, "one read per page of at most 5 events"
    with engine.connect() as conn:
        mids = list(conn.scalars(select(OutboxEntry.mid)))
    assert len(mids) == len(set(mids)), "an event queued twice"

    assert outbox.backfill(engine, "xapi", page=5) == 0  # everything is queued already


def test_migration_adds_and_drops_the_claim_index(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        _migrate(engine, database_url, command.upgrade, "head")
        names = {ix["name"] for ix in inspect(engine).get_indexes("outbox")}
        assert "ix_outbox_target_failed_id" in names
        _migrate(engine, database_url, command.downgrade, "0006_warnings")
        names = {ix["name"] for ix in inspect(engine).get_indexes("outbox")}
        assert "ix_outbox_target_failed_id" not in names
        _migrate(engine, database_url, command.upgrade, "head")
    finally:
        engine.dispose()

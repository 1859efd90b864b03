"""On PostgreSQL, pruning runs beside ingest: ingest keeps acking while batches of old
events go, and the tables agree with the events left once both are done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from collector.lifecycle.prune import Pruning, prune_events
from collector.storage.engine import get_engine
from collector.storage.models import (
    DASH_MINUTES,
    DASH_SESSIONS,
    EVENTS,
    LEARN_ATTEMPTS,
    LEARN_COURSES,
    LEARN_ITEMS,
    LEARN_PROGRESS,
)
from tests.analytics.conftest import T0, answer
from tests.factories import event
from tests.lifecycle.test_erase_prune import send

pytestmark = pytest.mark.postgres
LEARNERS = 40


def batch(n: int, ets: int) -> list[dict[str, Any]]:
    """25 events of one learner of course c: views, clicks and answers."""
    actor = f"learner-{n % LEARNERS}"
    out: list[dict[str, Any]] = []
    for k in range(25):
        if k % 5 == 4:
            out.append(answer("c", "l1", f"q{k}", actor, ets + k, score=k % 2))
        else:
            out.append(event("IMPRESSION" if k % 2 else "INTERACT", sid=f"s-{actor}",
                             actor=actor, ets=ets + k,
                             cdata=[{"type": "Course", "id": "c"}]))
    return out


def test_prune_beside_ingest(make_app: Callable[..., Flask], pg_url: str) -> None:
    app = make_app(pg_url)
    key = app.config["TEST_SITE"].key
    send(app, key, [batch(n, T0 + n * 100) for n in range(240)])  # 6,000 old events
    engine = get_engine(app)
    with engine.connect() as conn:
        old = conn.scalar(select(func.count()).select_from(EVENTS))
    assert old == 6000

    result: list[Pruning] = []
    pruner = threading.Thread(target=lambda: result.append(
        prune_events(engine, T0 + 10**9, batch=250)))
    now = int(time.time() * 1000)
    latencies: list[float] = []
    pruner.start()
    n = 0
    while pruner.is_alive() or n < 40:  # ingest all along the prune, 40 batches at least
        started = time.monotonic()
        send(app, key, [batch(n, now + n * 100)])
        latencies.append(time.monotonic() - started)
        n += 1
        assert n < 5000, "prune never finished"
    pruner.join(60)

    assert result and result[0].removed.events == old
    assert max(latencies) < 2.0, f"ingest waited {max(latencies):.2f} s for a prune batch"
    with engine.connect() as conn:
        def count(stmt: Any) -> int:
            return int(conn.scalar(stmt) or 0)

        events = count(select(func.count()).select_from(EVENTS))
        assert events == 25 * n
        assert count(select(func.sum(DASH_MINUTES.c.events))) == events
        assert count(select(func.sum(DASH_SESSIONS.c.events))) == events
        assert count(select(func.sum(LEARN_PROGRESS.c.events))) == events
        assert count(select(func.sum(LEARN_COURSES.c.learners))) == count(
            select(func.count()).select_from(LEARN_PROGRESS))
        assert count(select(func.sum(LEARN_ITEMS.c.learners))) == count(
            select(func.count()).select_from(LEARN_ATTEMPTS))
        assert count(select(func.min(LEARN_PROGRESS.c.first_ets))) >= now

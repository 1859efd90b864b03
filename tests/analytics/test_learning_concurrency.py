"""Two collector apps (two writers) storing answers of the same learners at once on one
PostgreSQL: the per-item totals kept at ingest still equal what the stored first
attempts say. (Writers of one site in one minute also queue on the dashboard's minute
row; the learner lock covers the rest.)"""

from __future__ import annotations

import random
import statistics
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import select

from collector.analytics.items import item_analysis
from collector.app import create_app, shutdown
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine
from collector.storage.models import LEARN_ATTEMPTS
from collector.storage.sites import get_directory
from tests.analytics.conftest import T0, answer

pytestmark = pytest.mark.postgres


def sender(app: Flask) -> Callable[[list[dict[str, Any]]], None]:
    def send(events: list[dict[str, Any]]) -> None:
        with app.app_context():
            site = get_directory().authenticate(app.config["TEST_SITE"].key)
            assert site is not None
            result = get_pipeline().ingest_events(
                site, [msgspec.json.encode(e) for e in events], transport="test")
            assert not result.rejected, result.rejected
    return send


def test_two_writers_on_the_same_learners_keep_the_totals_true(
        make_app: Callable[..., Flask], pg_url: str) -> None:
    first = make_app(pg_url)
    second = create_app({"DATABASE_URL": pg_url, "SECRET_KEY": "test-secret",
                         "TESTING": True, "RATE_LIMIT": 0})
    second.config["TEST_SITE"] = first.config["TEST_SITE"]
    try:
        rng = random.Random(5)
        events = [answer("c", "l1", f"q{k}", f"learner-{n}", T0 + rng.randrange(10**6),
                         score=rng.randrange(3), maxscore=2, response=rng.choice("abc"))
                  for n in range(12) for k in range(5) for _ in range(3)]
        rng.shuffle(events)
        batches = [events[i:i + 6] for i in range(0, len(events), 6)]
        senders = [sender(first), sender(second)]
        errors: list[BaseException] = []

        def run(part: list[list[dict[str, Any]]], send: Callable[..., None]) -> None:
            try:
                for batch in part:
                    send(batch)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(batches[i::2], senders[i]))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        with get_engine(first).connect() as conn:
            rows = conn.execute(select(LEARN_ATTEMPTS.c.item_id, LEARN_ATTEMPTS.c.actor_id,
                                       LEARN_ATTEMPTS.c.score, LEARN_ATTEMPTS.c.attempts)
                                .where(LEARN_ATTEMPTS.c.course_id == "c")).all()
            items = {i.id: i for i in item_analysis(conn, 1, "c")}
    finally:
        shutdown(second)
    assert sum(r[3] for r in rows) == len(events)
    totals: dict[str, float] = {}
    for _item, actor, score, _n in rows:
        totals[actor] = totals.get(actor, 0.0) + score / 2
    for item, stats in items.items():
        mine = [r for r in rows if r[0] == item]
        xs = [r[2] / 2 for r in mine]
        ys = [totals[r[1]] - r[2] / 2 for r in mine]
        assert stats.learners == len(mine) == 12
        assert stats.attempts == sum(r[3] for r in mine) == 36
        assert stats.facility == pytest.approx(statistics.mean(xs))
        assert stats.discrimination == pytest.approx(statistics.correlation(xs, ys))

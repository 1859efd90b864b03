""""Any order" funnels cost time linear in a unit's events: a learner with 4 sessions of
5,000 events each once took 18.7 s per query (every window start walked its window)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from flask import Flask

from collector.analytics import funnel as funnel_module
from collector.analytics.funnel import FunnelResult, FunnelSpec, _any_order, _Hits, parse_step
from collector.analytics.keys import KeyCatalog
from collector.analytics.scope import Scope
from collector.storage.engine import get_engine
from tests.dashboard.conftest import T0, ingest
from tests.factories import lesson_event

DAY = 86_400_000


def reference_any_order(hits: _Hits, k: int, window: int) -> list[tuple[int, ...] | None]:
    """The plain definition: from every start, walk the whole window."""
    best: list[int] = []
    for i in range(len(hits.ets)):
        done: set[int] = set()
        times: list[int] = []
        for m in range(i, len(hits.ets)):
            if hits.ets[m] - hits.ets[i] > window:
                break
            for s in reversed(hits.steps[m]):
                if s not in done:
                    done.add(s)
                    times.append(hits.ets[m])
                    break
            if len(done) == k:
                break
        if len(times) > len(best):
            best = times
    return [tuple(best[:j + 1]) if j < len(best) else None for j in range(k)]


@pytest.mark.parametrize("seed", range(300))
def test_any_order_agrees_with_the_plain_definition(seed: int) -> None:
    rng = random.Random(seed)
    k = rng.randint(2, 5)
    n = rng.randint(0, 40)
    ets = sorted(rng.randint(0, 50) for _ in range(n))
    steps = [tuple(sorted(rng.sample(range(k), rng.choice([1, 1, 1, 2, k])), reverse=True))
             for _ in range(n)]
    hits = _Hits(ets, list(range(n)), 1, steps)
    window = rng.choice([0, 3, 10, 100])
    assert _any_order(hits, k, window) == reference_any_order(hits, k, window)


def _learner(course: str, sessions: int, per_session: int) -> list[list[dict[str, Any]]]:
    """One learner, ``sessions`` sessions two days apart of views and clicks a second
    apart, and one ASSESS at the very end: every earlier start is worse than the best
    while some later event still matches a step, the shape that walked every window."""
    batches = []
    for n in range(sessions):
        batch = []
        sid = f"{course}-{n}"
        for i in range(per_session):
            t = T0 + n * 2 * DAY + i * 1000
            if i % 2:
                batch.append(lesson_event("INTERACT", course=course, sid=sid, ets=t, edata={
                    "type": "CLICK", "id": f"b{i % 7}", "pageid": "p"}))
            else:
                batch.append(lesson_event("IMPRESSION", course=course, sid=sid, ets=t, edata={
                    "type": "view", "pageid": f"p{i % 5}", "uri": f"/p{i % 5}"}))
        batches.append(batch)
    batches[-1].append(lesson_event("ASSESS", course=course, sid=f"{course}-{sessions - 1}",
                                    ets=T0 + (sessions - 1) * 2 * DAY + per_session * 1000))
    return batches


def _timed(app: Flask, steps: list[str], course: str) -> tuple[float, FunnelResult]:
    spec = FunnelSpec(steps=tuple(parse_step(s) for s in steps), mode="unordered",
                      unit="learner", scope=Scope(course=course))
    with get_engine(app).connect() as conn:
        keys = KeyCatalog().load(conn)
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            result = funnel_module.run_funnel(conn, keys, spec)
            best = min(best, time.perf_counter() - started)
    return best, result


@pytest.mark.parametrize("steps", [["IMPRESSION", "INTERACT", "ASSESS"],
                                   ["IMPRESSION | INTERACT", "INTERACT", "ASSESS"]])
def test_any_order_funnel_is_linear_in_a_learners_events(app: Flask, steps: list[str]
                                                          ) -> None:
    for course, per_session in (("small", 500), ("big", 5_000)):
        for batch in _learner(course, 4, per_session):
            assert ingest(app, batch).accepted == len(batch)
    small, small_result = _timed(app, steps, "small")
    big, big_result = _timed(app, steps, "big")
    assert [s.count for s in big_result.steps] == [1, 1, 1]
    assert [s.count for s in small_result.steps] == [1, 1, 1]
    # Ten times the events: about ten times the time when linear, a hundred when
    # quadratic (18.7 s here before). Generous for a shared machine.
    assert big < 30 * small + 0.5, (big, small)

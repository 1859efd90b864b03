"""``collector bench dashboard``: funnel, flow and course report times over 1,000,000
events.

Loads generated traffic into a fresh database the way ingest does (validate each event,
then ``persist_group`` with the dashboard's and the learning analytics' persist hooks,
5,000 events per transaction): one course of 10,000 learners, 20 lessons and 40 quiz
items (``course_traffic.py``, one learner per 100 events asked for), then lesson
traffic (``synthetic.py``) up to the total. Times a 4-step ordered funnel, a depth-5
session flow, and the course page's progress, item analysis and learner table: once
cold, then ``--repeat`` warm runs whose median is reported.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, func, insert, select

from collector.analytics.courses import course_progress
from collector.analytics.derived import DerivedTables
from collector.analytics.flow import FlowSpec, session_flow
from collector.analytics.funnel import FunnelSpec, parse_step, run_funnel
from collector.analytics.items import item_analysis
from collector.analytics.keys import KeyCatalog
from collector.analytics.learners import learner_table
from collector.analytics.learning_tables import LearningTables
from collector.bench.course_traffic import COURSE, course_events
from collector.bench.synthetic import synthetic_events
from collector.config import normalize_database_url
from collector.core.events.validate import ValidEvent, validate_event
from collector.ingest.persist import PersistHook, PreparedBatch, SessionChains, persist_group
from collector.storage.engine import make_engine, upgrade, write_transaction
from collector.storage.models import DashSession, Event, Site, now_ms

GROUP = 5000
FUNNEL_STEPS = ("START edata.type=course", "IMPRESSION pageid=intro",
                "IMPRESSION pageid=quiz", "ASSESS")


def _progress(done: int, total: int, started: float, what: str) -> None:
    rate = done / max(1e-9, time.perf_counter() - started)
    sys.stderr.write(f"\r{what}: {done:,}/{total:,} events ({rate:,.0f}/s)   ")
    sys.stderr.flush()


def load_events(engine: Engine, site_id: int, events: int, session_length: int) -> float:
    """Validate and store ``events`` generated events with the dashboard hook; seconds."""

    chains = SessionChains()
    hooks: list[PersistHook] = [DerivedTables(), LearningTables()]
    started = time.perf_counter()
    pending: list[ValidEvent] = []
    done = 0

    def flush() -> None:
        received = now_ms()
        batch = PreparedBatch(site_id, "bench", received, list(pending))
        with write_transaction(engine) as conn:  # as the ingest writer begins
            _, learned = persist_group(conn, [batch], chains, hooks)
        chains.learn(learned)
        pending.clear()

    encode = msgspec.json.encode
    learners = course_learners(events)

    def generated() -> Iterator[dict[str, Any]]:
        produced = 0
        for ev in course_events(learners):
            if produced == events:
                return
            produced += 1
            yield ev
        if produced < events:
            yield from synthetic_events(events - produced, session_length=session_length)

    for i, ev in enumerate(generated()):
        checked = validate_event(encode(ev), i, now_ms())
        if not isinstance(checked, ValidEvent):
            raise RuntimeError(f"generated event {i} was rejected: {checked.errors}")
        pending.append(checked)
        if len(pending) == GROUP:
            flush()
            done += GROUP
            if done % 50_000 == 0:
                _progress(done, events, started, "loading")
    if pending:
        done += len(pending)
        flush()
    _progress(done, events, started, "loading")
    sys.stderr.write("\n")
    return time.perf_counter() - started


def course_learners(events: int) -> int:
    """Learners of the benchmark course: one per 100 events, 10,000 in 1,000,000."""
    return max(10, events // 100)


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(cold seconds, median warm seconds)."""
    t0 = time.perf_counter()
    run()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm)


def run_dashboard_bench(*, database_url: str | None = None, events: int = 1_000_000,
                        session_length: int = 30, repeat: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="collector-bench-dash-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'dashboard.sqlite3'}"
        return _run(url, events, session_length, repeat)


def _run(url: str, events: int, session_length: int, repeat: int) -> dict[str, Any]:

    engine = make_engine(normalize_database_url(url))
    try:
        upgrade(engine)
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(Event)).scalar_one():
                raise RuntimeError("bench dashboard needs an empty database (it has events)")
            conn.execute(insert(Site).values(name="bench", write_key="bench-dashboard",
                                             origins="[]", created_at=0))
            site_id = conn.execute(select(Site.id).where(Site.name == "bench")).scalar_one()
        sys.stderr.write(f"generating, validating and storing {events:,} events "
                         f"({engine.dialect.name})...\n")
        load_s = load_events(engine, site_id, events, session_length)
        catalog = KeyCatalog()
        funnel = FunnelSpec(steps=tuple(parse_step(s) for s in FUNNEL_STEPS))
        flow = FlowSpec(depth=5, top=8)
        results: dict[str, Any] = {}

        def run_funnel_query() -> None:
            with engine.connect() as conn:
                results["funnel"] = run_funnel(conn, catalog.load(conn), funnel)

        def run_flow_query() -> None:
            with engine.connect() as conn:
                results["flow"] = session_flow(conn, catalog.load(conn), {}, flow)

        def run_course_query() -> None:
            with engine.connect() as conn:
                results["course"] = course_progress(conn, site_id, COURSE)

        def run_items_query() -> None:
            with engine.connect() as conn:
                results["items"] = item_analysis(conn, site_id, COURSE)

        def run_learners_query() -> None:
            with engine.connect() as conn:
                results["learners"] = learner_table(conn, site_id, COURSE, now_ms=now_ms())

        sys.stderr.write("timing the funnel, the flow and the course reports...\n")
        funnel_cold, funnel_s = _timed(run_funnel_query, repeat)
        flow_cold, flow_s = _timed(run_flow_query, repeat)
        course_cold, course_s = _timed(run_course_query, repeat)
        items_cold, items_s = _timed(run_items_query, repeat)
        learners_cold, learners_s = _timed(run_learners_query, repeat)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Event)).scalar_one()
            sessions = conn.execute(select(func.count()).select_from(DashSession)
                                    .where(DashSession.session_id != "")).scalar_one()
        return {
            "database": engine.dialect.name,
            "events": int(stored),
            "sessions": int(sessions),
            "load_s": round(load_s, 1),
            "funnel_s": round(funnel_s, 3),
            "flow_s": round(flow_s, 3),
            "funnel_cold_s": round(funnel_cold, 3),
            "flow_cold_s": round(flow_cold, 3),
            "funnel_counts": [s.count for s in results["funnel"].steps],
            "flow_paths": results["flow"].sessions,
            "course_s": round(course_s, 3),
            "items_s": round(items_s, 3),
            "learners_s": round(learners_s, 3),
            "course_cold_s": round(course_cold, 3),
            "items_cold_s": round(items_cold, 3),
            "learners_cold_s": round(learners_cold, 3),
            "course_learners": results["course"].learners,
            "course_lessons": len(results["course"].lessons),
            "course_items": len(results["items"]),
        }
    finally:
        engine.dispose()

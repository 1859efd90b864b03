"""The persist hook keeps the dashboard tables in step with what ingest stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import select

from collector.analytics import timeline
from collector.analytics.derived import DerivedTables
from collector.core.events.validate import ValidEvent, validate_event
from collector.ingest.persist import PreparedBatch, SessionChains, persist_group
from collector.storage.engine import get_engine
from collector.storage.models import DashKey, DashKeyHour, DashMinute, DashRejectReason, DashSession
from tests.dashboard.conftest import T0
from tests.factories import course_start, event, lesson_event


def rows(app: Flask, table: Any) -> list[Any]:
    with get_engine(app).connect() as conn:
        return list(conn.execute(select(table)))


def test_minute_counts(any_app: Flask, store: Callable[..., Any]) -> None:
    store([course_start(sid="s1"), course_start(sid="s1"),   # second one is a duplicate
           event("END", sid="s1", edata={"type": "course"},
                 cdata=[{"type": "Course", "id": "algebra"}]),
           event("IMPRESSION"), {"eid": "BOGUS"}, {"eid": "IMPRESSION"}])
    (minute,) = rows(any_app, DashMinute)
    assert (minute.events, minute.course_starts, minute.course_ends, minute.rejected) == (
        4, 1, 1, 2)


def test_session_rows_count_and_flag(any_app: Flask, store: Callable[..., Any]) -> None:
    store([course_start(sid="s1", ets=T0 + 5000), course_start(sid="s1", ets=T0 + 6000),
           lesson_event("IMPRESSION", sid="s1", ets=T0 + 7000)])
    store([lesson_event("IMPRESSION", sid="s1", ets=T0 + 1000)])  # older, arrives later
    (row,) = rows(any_app, DashSession)
    assert row.session_id == "s1" and row.actor_id == "learner-1"
    assert (row.events, row.dup_starts) == (4, 1)
    assert (row.first_ets, row.last_ets) == (T0 + 1000, T0 + 7000)
    assert row.course_id == "algebra" and row.env == "lesson"
    assert row.in_order == 0
    # 3 tokens: the duplicate start is not in the timeline.
    words = timeline.decode(row.timeline)
    assert timeline.all_ets(words) == [T0 + 5000, T0 + 7000, T0 + 1000]


def test_a_session_chain_is_one_session(any_app: Flask, store: Callable[..., Any]) -> None:
    store([event("IMPRESSION", sid="old", ets=T0)])
    store([event("IMPRESSION", sid="new", ets=T0 + 1000,
                 cdata=[{"type": "PreviousSession", "id": "old"}])])
    assert [(r.session_id, r.events) for r in rows(any_app, DashSession)] == [("old", 2)]


def test_keys_are_interned_and_counted_per_hour(any_app: Flask,
                                                store: Callable[..., Any]) -> None:
    store([event("IMPRESSION", mid=f"m{i}") for i in range(3)])
    store([event("IMPRESSION", mid="m9"), event("INTERACT")])
    keys = rows(any_app, DashKey)
    assert sorted((k.eid, k.target) for k in keys) == [("IMPRESSION", "/home"),
                                                       ("INTERACT", "button-1")]
    hours = {r.key_id: r.events for r in rows(any_app, DashKeyHour)}
    by_eid = {k.eid: hours[k.id] for k in keys}
    assert by_eid == {"IMPRESSION": 4, "INTERACT": 1}


def test_reject_reasons_are_grouped(any_app: Flask, store: Callable[..., Any]) -> None:
    store([{"eid": "IMPRESSION"}, {"eid": "IMPRESSION"}, event("IMPRESSION", ets=-5)])
    reasons = {r.reason: r.events for r in rows(any_app, DashRejectReason)}
    assert reasons["actor: required"] == 2
    assert reasons["ets: must be a positive epoch time in milliseconds"] == 1


def _valid(ev: dict[str, Any]) -> ValidEvent:
    checked = validate_event(msgspec.json.encode(ev), 0, T0)
    assert isinstance(checked, ValidEvent)
    return checked


def test_keys_learned_in_a_rolled_back_group_are_stored_again(any_app: Flask) -> None:
    engine = get_engine(any_app)
    hook, chains = DerivedTables(), SessionChains()
    with engine.connect() as conn:
        site_id = conn.exec_driver_sql("SELECT id FROM sites").scalar_one()
    with engine.connect() as conn:
        tx = conn.begin()
        persist_group(conn, [PreparedBatch(site_id, "t", T0, [_valid(event("INTERACT"))])],
                      chains, [hook])
        tx.rollback()
        with conn.begin():
            persist_group(conn, [PreparedBatch(site_id, "t", T0,
                                               [_valid(event("INTERACT"))])], chains, [hook])
        with conn.begin():  # a third group: the cache must now hold the committed id
            persist_group(conn, [PreparedBatch(site_id, "t", T0,
                                               [_valid(event("INTERACT"))])], chains, [hook])
    keys = {k.id for k in rows(any_app, DashKey)}
    assert len(keys) == 1
    (row,) = rows(any_app, DashSession)
    assert set(timeline.key_ids(timeline.decode(row.timeline))) == keys


def test_events_without_a_session_are_counted_but_join_no_timeline(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store([event("IMPRESSION", sid=""), event("INTERACT", sid="")])
    assert rows(any_app, DashSession) == []
    (minute,) = rows(any_app, DashMinute)
    assert minute.events == 2

"""What the export says about events it leaves out, responses as JSON, and which lesson a
lesson END ends."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from collector.core.mapping import MappingContext
from collector.core.mapping.caliper import caliper_events
from collector.core.mapping.xapi import xapi_statement
from collector.outbound.export import ExportFilter, iter_export
from collector.storage.engine import get_engine
from collector.storage.models import Event
from tests.factories import course_start, lesson_event
from tests.forward.helpers import ingest

CTX = MappingContext("http://localhost", chain_root="sid-1")


def stored_count(app: Flask) -> int:
    with get_engine(app).connect() as conn:
        return len(conn.execute(select(Event.id)).all())


@pytest.mark.parametrize("kind", ["xapi", "caliper"])
def test_every_skipped_event_is_counted_under_a_reason(any_app: Flask, kind: str) -> None:
    first = course_start("algebra")
    events = [first, course_start("algebra", ets=first["ets"] + 5),  # a reload: duplicate
              lesson_event("HEARTBEAT", edata={}), lesson_event("EXDATA"),
              lesson_event("LOG"), lesson_event("RESPONSE"), lesson_event("IMPRESSION"),
              lesson_event("ASSESS"), lesson_event("INTERACT")]
    assert ingest(any_app, events)["accepted"] == len(events)
    skipped: Counter[str] = Counter()
    out = list(iter_export(kind, get_engine(any_app), ExportFilter(), "http://localhost",
                           skipped))
    # One statement or Caliper event per mapped event here (no scored quiz END).
    produced = len(out) if kind == "xapi" else sum(len(json.loads(e)["data"]) for e in out)
    assert produced + sum(skipped.values()) == stored_count(any_app) == len(events)
    assert skipped["duplicate-course-start"] == 1
    # HEARTBEAT, EXDATA, LOG, RESPONSE (and INTERACT, which Caliper does not map)
    assert skipped["not-mapped"] == (4 if kind == "xapi" else 5)


def test_object_response_is_json_text() -> None:
    edata = {"item": {"id": "q1", "maxscore": 1}, "pass": "Yes", "score": 1,
             "resvalues": [{"answer": {"x": 1}}, {"other": ["a", "b"]}, {"plain": "c"}],
             "duration": 3}
    statement = xapi_statement(lesson_event("ASSESS", edata=edata), CTX)
    assert isinstance(statement, dict)
    parts = statement["result"]["response"].split("[,]")
    assert [json.loads(parts[0]), json.loads(parts[1]), parts[2]] == [{"x": 1}, ["a", "b"], "c"]


def lesson_switch() -> list[dict[str, Any]]:
    """lessonStarted('angles') then lessonCompleted('angles-b') on the same page."""
    start = lesson_event("START", lesson="angles", edata={"type": "lesson"},
                         obj={"id": "angles", "type": "Lesson"})
    end = lesson_event("END", lesson="angles", edata={"type": "lesson", "duration": 30},
                       obj={"id": "angles-b", "type": "Lesson"})
    return [start, end]


def test_lesson_end_names_the_lesson_it_ends(app: Flask) -> None:
    start, end = lesson_switch()
    statement = xapi_statement(end, CTX)
    assert isinstance(statement, dict)
    assert statement["object"]["id"] == "urn:collector:lesson:angles-b"
    caliper = caliper_events(start, CTX)
    assert isinstance(caliper, list) and caliper[0]["object"]["id"] == (
        "urn:collector:lesson:angles")
    assert ingest(app, [start, end])["accepted"] == 2
    with get_engine(app).connect() as conn:
        lessons = dict(conn.execute(select(Event.mid, Event.lesson_id)).all())
    assert lessons == {start["mid"]: "angles", end["mid"]: "angles-b"}
    exported = [json.loads(s) for s in iter_export("xapi", get_engine(app), ExportFilter(),
                                                   "http://localhost")]
    assert [s["object"]["id"] for s in exported] == [
        "urn:collector:lesson:angles", "urn:collector:lesson:angles-b"]

"""Learning-analytics fixtures: quiz answers built as V3 events and stored through the
real pipeline (so the tables kept at ingest are what the reports read)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import pytest
from flask import Flask

from collector.ingest.pipeline import IngestResult, get_pipeline
from collector.storage.sites import get_directory
from tests.factories import course_start, event, lesson_event

T0 = 1_763_000_000_000


def ingest(app: Flask, events: Iterable[dict[str, Any]]) -> IngestResult:
    """One batch through the pipeline every door uses."""
    with app.app_context():
        site = get_directory().authenticate(app.config["TEST_SITE"].key)
        assert site is not None
        return get_pipeline().ingest_events(
            site, [msgspec.json.encode(e) for e in events], transport="test")


@pytest.fixture
def store(any_app: Flask) -> Callable[[Iterable[dict[str, Any]]], IngestResult]:
    return lambda events: ingest(any_app, events)


def answer(course: str, lesson: str | None, item: str, actor: str, ets: int, *,
           score: Any, maxscore: Any = 1, response: str = "a", duration: Any = 10,
           passed: str | None = None, mid: str | None = None,
           sid: str | None = None) -> dict[str, Any]:
    """An ASSESS as tracker.js's quizAnswered sends it."""
    item_obj: dict[str, Any] = {"id": item}
    if maxscore is not None:
        item_obj["maxscore"] = maxscore
    edata: dict[str, Any] = {"item": item_obj, "score": score,
                             "resvalues": [{"answer": response}], "duration": duration}
    full = isinstance(maxscore, int | float) and maxscore > 0 and score >= maxscore
    edata["pass"] = passed if passed is not None else ("Yes" if full else "No")
    cdata = [{"type": "Course", "id": course}]
    if lesson:
        cdata.append({"type": "Lesson", "id": lesson})
    return event("ASSESS", mid=mid, sid=sid or f"s-{actor}", actor=actor, ets=ets,
                 edata=edata, cdata=cdata)


def start_course(course: str, actor: str, ets: int) -> dict[str, Any]:
    return course_start(course, sid=f"s-{actor}", actor=actor, ets=ets)


def end_course(course: str, actor: str, ets: int) -> dict[str, Any]:
    return event("END", sid=f"s-{actor}", actor=actor, ets=ets,
                 edata={"type": "course", "mode": "play", "duration": 1},
                 cdata=[{"type": "Course", "id": course}],
                 obj={"id": course, "type": "Course"})


def lesson(eid: str, course: str, name: str, actor: str, ets: int,
           duration: float = 1) -> dict[str, Any]:
    edata: dict[str, Any] = {"type": "lesson", "mode": "play"}
    if eid == "END":
        edata["duration"] = duration
    return lesson_event(eid, course=course, lesson=name, sid=f"s-{actor}", actor=actor,
                        ets=ets, edata=edata, obj={"id": name, "type": "Lesson"})

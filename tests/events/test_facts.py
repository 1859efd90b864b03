"""Course, lesson, attempt and previous session: validation and both mapper readers agree."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from collector.core.events.validate import ValidEvent, validate_event
from collector.core.mapping.source import EventFacts, read_event, read_json
from tests.factories import event

NOW = int(time.time() * 1000)

CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, tuple[Any, ...]]] = [
    # (what, cdata, object, (course, lesson, attempt, previous session))
    ("every kind", [{"type": "Course", "id": "c"}, {"type": "Lesson", "id": "l"},
                    {"type": "Attempt", "id": "a"}, {"type": "PreviousSession", "id": "s0"}],
     None, ("c", "l", "a", "s0")),
    ("type in any case", [{"type": "course", "id": "c"}, {"type": "LESSON", "id": "l"},
                          {"type": "attempt", "id": "a"}, {"type": "previoussession", "id": "p"}],
     None, ("c", "l", "a", "p")),
    ("first of a type wins", [{"type": "Course", "id": "c1"}, {"type": "Course", "id": "c2"}],
     None, ("c1", None, None, None)),
    ("blank ids are skipped", [{"type": "Course", "id": " "}, {"type": "Course", "id": "c"},
                               {"type": "Lesson", "id": "\t"}],
     None, ("c", None, None, None)),
    ("other types are ignored", [{"type": "Group", "id": "g"}, {"type": "Lesson", "id": "l"}],
     None, (None, "l", None, None)),
    ("object names the course", [], {"id": "c", "type": "Course"}, ("c", None, None, None)),
    ("object names the lesson", [{"type": "Course", "id": "c"}], {"id": "l", "type": "lesson"},
     ("c", "l", None, None)),
    ("cdata wins over the object", [{"type": "Course", "id": "c1"}],
     {"id": "c2", "type": "Course"}, ("c1", None, None, None)),
    ("a blank object id names nothing", [], {"id": " ", "type": "Course"},
     (None, None, None, None)),
]


def _validated(ev: dict[str, Any]) -> tuple[Any, ...]:
    result = validate_event(msgspec.json.encode(ev), 0, NOW)
    assert isinstance(result, ValidEvent), result
    return result.course_id, result.lesson_id, result.previous_sid


def _mapped(facts: EventFacts | Any) -> tuple[Any, ...]:
    assert isinstance(facts, EventFacts), facts
    return facts.course, facts.lesson, facts.attempt


@pytest.mark.parametrize(("what", "cdata", "obj", "expected"), CASES,
                         ids=[case[0] for case in CASES])
def test_validation_and_mappers_read_the_same_place(
        what: str, cdata: list[dict[str, Any]], obj: dict[str, Any] | None,
        expected: tuple[Any, ...]) -> None:
    ev = event("INTERACT", cdata=cdata, obj=obj)
    course, lesson, attempt, previous = expected
    assert _validated(ev) == (course, lesson, previous)
    assert _mapped(read_event(ev)) == (course, lesson, attempt)
    assert _mapped(read_json(msgspec.json.encode(ev))) == (course, lesson, attempt)


def test_mappers_skip_cdata_entries_that_are_not_objects() -> None:
    ev = event("INTERACT", cdata=["Course", {"type": "Course", "id": "c"}])  # type: ignore[list-item]
    assert _mapped(read_event(ev)) == ("c", None, None)
    assert _mapped(read_json(msgspec.json.encode(ev))) == ("c", None, None)

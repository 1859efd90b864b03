"""Hypothesis strategies for hostile input: arbitrary JSON, broken bytes, mutated events."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from tests.factories import EIDS, course_start, event, lesson_event

# Strings that have broken parsers, databases or pages before.
NASTY_STRINGS = [
    "", " ", "\x00", "a\x00b", "\ud800" "x", "\u202e", "💥" * 3, "<script>alert(1)</script>",
    "' OR 1=1 --", "%s%s%n", "../../etc/passwd", "\\", '"', "\n\r\t", "9" * 400,
    "NaN", "Infinity", "-0", "1e309", "null", "true", "{}", "[]",
]
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=40) | st.sampled_from(NASTY_STRINGS))
json_values = st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=5)
                   | st.dictionaries(st.text(max_size=12) | st.sampled_from(
                       ["eid", "mid", "ets", "actor", "context", "edata", "object", "id",
                        "type", "sid", "cdata", "events", "params"]), inner, max_size=5)),
    max_leaves=25,
)


def encode(value: Any) -> bytes:
    """JSON bytes as a client could send them (big ints, lone surrogates escaped)."""
    return json.dumps(value, allow_nan=True).encode()


def base_events() -> list[dict[str, Any]]:
    """Valid events of every kind the mappers handle, and one of every eid."""
    summary = [{"score": 3}, {"maxscore": 4}]
    return [
        course_start(),
        lesson_event("START", edata={"type": "lesson"}),
        lesson_event("END", edata={"type": "lesson", "duration": 12}),
        lesson_event("ASSESS"),
        lesson_event("END", edata={"type": "assessment", "summary": summary},
                     obj={"id": "quiz-1", "type": "Quiz"}),
        lesson_event("INTERACT"),
        lesson_event("IMPRESSION"),
        event("END", edata={"type": "course", "duration": 30},
              cdata=[{"type": "Course", "id": "algebra"}]),
        *(event(eid) for eid in EIDS),
    ]


BASES = base_events()
MAPPED_BASES = BASES[:8]  # the lesson vocabulary: what produces xAPI and Caliper


@st.composite
def mutated_events(draw: st.DrawFn, bases: list[dict[str, Any]] = BASES,
                   max_mutations: int = 3) -> Any:
    """A valid event with a few parts deleted, replaced or added."""
    ev: Any = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(0, max_mutations))):
        ev = _mutate_once(draw, ev, top=True)
    return ev


def _mutate_once(draw: st.DrawFn, value: Any, top: bool = False) -> Any:
    """Change one place of ``value``; the event itself stays an object."""
    if isinstance(value, dict) and value and (top or draw(st.booleans())):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["descend", "delete", "replace"]))
        if action == "descend":
            value[key] = _mutate_once(draw, value[key])
        elif action == "delete":
            del value[key]
        else:
            value[key] = draw(json_values)
        return value
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        value[i] = _mutate_once(draw, value[i])
        return value
    return draw(json_values)


def raw_events() -> st.SearchStrategy[bytes]:
    """One event's bytes: mutated valid events mostly, arbitrary JSON and bytes too."""
    return st.one_of(
        mutated_events().map(encode),
        json_values.map(encode),
        st.binary(max_size=64),
    )

"""Where a V3 event happens: its course, lesson, attempt and previous session.

One reader for validation (which stores course, lesson and previous session as columns
the dashboard tables and session chains use) and for both mappers (which read stored
events again at export). The rules:

- ``context.cdata`` entries ``{type, id}`` name them; the type is matched without regard
  to case (``Course``, ``course``); the first entry of a type with a non-blank id wins;
- when cdata names no course (no lesson), an object of type Course (Lesson) names it.

Both forms of an event are read: decoded structs (attributes ``type``/``id``) and plain
dicts; entries of any other shape, and ids that are not text, are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COURSE = "Course"
LESSON = "Lesson"
ATTEMPT = "Attempt"
PREVIOUS_SESSION = "PreviousSession"

# (course, lesson, attempt, previous sid)
Correlations = tuple[str | None, str | None, str | None, str | None]
_NONE: Correlations = (None, None, None, None)

_SLOTS = {kind: slot for slot, kind in enumerate((COURSE, LESSON, ATTEMPT, PREVIOUS_SESSION))}
_SLOTS.update({kind.lower(): slot for kind, slot in list(_SLOTS.items())})


def _correlations(pairs: Iterable[tuple[Any, Any]]) -> Correlations:
    found: list[str | None] = [None, None, None, None]
    slots = _SLOTS
    for kind, cid in pairs:
        if type(cid) is not str or not cid or cid.isspace() or type(kind) is not str:
            continue
        slot = slots.get(kind)
        if slot is None:
            slot = slots.get(kind.lower())
            if slot is None:
                continue
        if found[slot] is None:
            found[slot] = cid
    return found[0], found[1], found[2], found[3]


def struct_correlations(cdata: Iterable[Any] | None) -> Correlations:
    """(course, lesson, attempt, previous sid) of cdata decoded as structs."""
    if not cdata:
        return _NONE
    return _correlations((corr.type, corr.id) for corr in cdata)


def dict_correlations(cdata: Any) -> Correlations:
    """(course, lesson, attempt, previous sid) of cdata as plain JSON (a list of dicts)."""
    if not cdata or type(cdata) is not list:
        return _NONE
    return _correlations((corr.get("type"), corr.get("id")) for corr in cdata
                         if type(corr) is dict)


def with_object(course: str | None, lesson: str | None, object_type: Any,
                object_id: Any) -> tuple[str | None, str | None]:
    """(course, lesson), the object naming the one cdata left out when it is of that type."""
    if (course and lesson) or type(object_id) is not str or type(object_type) is not str:
        return course, lesson
    if not object_id or object_id.isspace():
        return course, lesson
    kind = object_type.lower()
    if kind == "course" and not course:
        return object_id, lesson
    if kind == "lesson" and not lesson:
        return course, object_id
    return course, lesson

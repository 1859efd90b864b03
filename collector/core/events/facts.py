"""Where a V3 event happens: its course, lesson, attempt and previous session.

One reader for validation (which stores course, lesson and previous session as columns
the dashboard tables and session chains use) and for both mappers (which read stored
events again at export). The rules:

- ``context.cdata`` entries ``{type, id}`` name them; the type is matched without regard
  to case (``Course``, ``course``); the first entry of a type with a non-blank id wins;
- when cdata names no course (no lesson), an object of type Course (Lesson) names it;
- a lesson START/END names the lesson it starts or ends by its object: an object of type
  Lesson wins over cdata there (``lessonStarted('a')`` then ``lessonCompleted('b')``:
  the END is about ``b``). Everywhere else cdata Lesson is the lesson of the call.

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


def names_lesson(eid: Any, edata_type: Any) -> bool:
    """A lesson START/END: its object (type Lesson) names the lesson, over cdata."""
    return edata_type == "lesson" and eid in ("START", "END")


def with_object(course: str | None, lesson: str | None, object_type: Any,
                object_id: Any, *, lesson_from_object: bool = False,
                ) -> tuple[str | None, str | None]:
    """(course, lesson), the object naming the one cdata left out when it is of that type
    (and the lesson, whatever cdata says, when ``lesson_from_object``)."""
    if (course and lesson and not lesson_from_object) or type(object_id) is not str \
            or type(object_type) is not str:
        return course, lesson
    if not object_id or object_id.isspace():
        return course, lesson
    kind = object_type.lower()
    if kind == "course" and not course:
        return object_id, lesson
    if kind == "lesson" and (lesson_from_object or not lesson):
        return course, object_id
    return course, lesson

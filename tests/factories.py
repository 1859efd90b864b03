"""Builders of valid Telemetry V3 events for tests (one per eid, per the spec)."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

EDATA: dict[str, dict[str, Any] | None] = {
    "START": {"type": "app", "mode": "play", "pageid": "home", "duration": 1},
    "END": {"type": "app", "mode": "play", "duration": 21, "pageid": "home"},
    "IMPRESSION": {"type": "view", "pageid": "home", "uri": "/home"},
    "INTERACT": {"type": "TOUCH", "id": "button-1", "pageid": "home"},
    "ASSESS": {"item": {"id": "q1", "maxscore": 1}, "pass": "Yes", "score": 1,
               "resvalues": [{"answer": "b"}], "duration": 9},
    "RESPONSE": {"target": {"id": "q-101", "ver": "1", "type": "AssessmentItem"},
                 "type": "SELECT", "values": [{"option": "A"}]},
    "INTERRUPT": {"type": "background", "pageid": "home"},
    "FEEDBACK": {"rating": 4, "comments": "nice"},
    "SHARE": {"dir": "out", "type": "Link", "items": [{"id": "c1", "type": "Content"}]},
    "AUDIT": {"props": ["status"], "state": "Live", "prevstate": "Draft"},
    "ERROR": {"err": "E1", "errtype": "CONTENT", "stacktrace": "boom"},
    "HEARTBEAT": {},
    "LOG": {"type": "api_call", "level": "INFO", "message": "ok"},
    "SEARCH": {"query": "fractions", "size": 2, "topn": [{"id": "c1"}]},
    "METRICS": {"jobs": 3},
    "SUMMARY": {"type": "session", "starttime": 1, "endtime": 2, "timespent": 1.5,
                "pageviews": 3, "interactions": 4},
    "EXDATA": {"type": "partnerdata", "data": "x"},
}
EIDS = list(EDATA)


def event(eid: str = "IMPRESSION", *, mid: str | None = None, sid: str = "sid-1",
          actor: str = "learner-1", ets: int | None = None, edata: Any = None,
          cdata: list[dict[str, str]] | None = None, obj: dict[str, Any] | None = None,
          **extra: Any) -> dict[str, Any]:
    """A valid V3 event; keyword arguments override parts of it."""
    ev: dict[str, Any] = {
        "eid": eid,
        "ets": ets if ets is not None else int(time.time() * 1000),
        "ver": "3.0",
        "mid": mid if mid is not None else f"{eid}:{uuid.uuid4()}",
        "actor": {"id": actor, "type": "User"},
        "context": {"channel": "test", "env": "lesson", "sid": sid, "did": "device-1",
                    "pdata": {"id": "tests", "ver": "1.0"}, "cdata": cdata or []},
        "edata": copy.deepcopy(EDATA[eid]) if edata is None else edata,
        "tags": [],
    }
    if obj is not None:
        ev["object"] = obj
    ev.update(extra)
    return ev


def course_start(course: str = "algebra", **kw: Any) -> dict[str, Any]:
    cdata = kw.pop("cdata", []) + [{"type": "Course", "id": course}]
    return event("START", edata={"type": "course"}, cdata=cdata,
                 obj={"id": course, "type": "Course"}, **kw)


def lesson_event(eid: str, course: str = "algebra", lesson: str = "intro",
                 **kw: Any) -> dict[str, Any]:
    cdata = [{"type": "Course", "id": course}, {"type": "Lesson", "id": lesson}]
    return event(eid, cdata=cdata + kw.pop("cdata", []), **kw)

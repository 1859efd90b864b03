"""Only what the Telemetry V3 spec refuses is refused; our conventions are warnings."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import select

from collector.core.events.validate import RejectedEvent, ValidEvent, validate_event
from collector.storage.engine import get_engine
from collector.storage.models import Event
from collector.storage.models import RejectedEvent as RejectedRow
from tests.factories import EDATA, EIDS, event

NOW = int(time.time() * 1000)
COURSE = [{"type": "Course", "id": "algebra"}]


def check(ev: object) -> ValidEvent | RejectedEvent:
    return validate_event(msgspec.json.encode(ev), 0, NOW)


def post(app: Flask, events: list[dict[str, Any]]) -> dict[str, Any]:
    key = app.config["TEST_SITE"].key
    resp = app.test_client().post("/v1/telemetry", json={"events": events},
                                  headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    result: dict[str, Any] = resp.get_json()["result"]
    return result


def stored(app: Flask) -> list[Any]:
    with get_engine(app).connect() as conn:
        assert conn.execute(select(RejectedRow.id)).all() == []
        return list(conn.execute(select(Event.mid, Event.eid, Event.warnings,
                                        Event.duplicate_of, Event.course_id)).all())


def test_all_17_eids_on_a_course_object_are_stored(app: Flask) -> None:
    events = [event(eid, cdata=COURSE, obj={"id": "algebra", "type": "Course"})
              for eid in EIDS]
    result = post(app, events)
    assert result == {"accepted": 17, "duplicates": 0, "rejected": []}
    assert sorted(r.eid for r in stored(app)) == sorted(EIDS)


@pytest.mark.parametrize(("ev", "warning"), [
    (event("ASSESS", cdata=COURSE), "ASSESS in a course without a lesson"),
    (event("ASSESS", obj={"id": "algebra", "type": "Course"}),
     "ASSESS in a course without a lesson"),
    (event("START", edata={"type": "course"}), "START of type course without a course id"),
    (event("END", edata={"type": "course"}), "END of type course without a course id"),
    (event("START", edata={"type": "lesson"}, cdata=COURSE),
     "START of type lesson without a lesson id"),
    (event("END", edata={"type": "lesson"}), "END of type lesson without a lesson id"),
])
def test_missing_conventions_are_warnings(ev: dict[str, Any], warning: str) -> None:
    result = check(ev)
    assert isinstance(result, ValidEvent), getattr(result, "errors", None)
    assert any(w.startswith(warning) for w in result.warnings), result.warnings


def test_course_start_without_course_takes_no_part_in_dedup(app: Flask) -> None:
    starts = [event("START", edata={"type": "course"}) for _ in range(2)]
    assert post(app, starts)["accepted"] == 2
    rows = stored(app)
    assert [r.duplicate_of for r in rows] == [None, None]
    assert all(r.course_id is None for r in rows)
    assert all("START of type course without a course id" in json.loads(r.warnings)[0]
               for r in rows)


def test_spec_required_field_is_refused_and_warnings_never_hide_errors(app: Flask) -> None:
    edata = dict(EDATA["ASSESS"] or {})
    del edata["score"]
    bad = event("ASSESS", mid="m-bad", edata=edata, cdata=COURSE)  # also warned: no lesson
    result = post(app, [event("ASSESS", cdata=COURSE), bad])
    assert result["accepted"] == 1
    assert result["rejected"] == [{"index": 1, "mid": "m-bad", "errors": ["edata.score: required"]}]


LONG = "x" * 5000


@pytest.mark.parametrize(("eid", "edata", "where"), [
    ("START", {"type": "player", "mode": LONG, "loc": LONG}, {}),
    ("INTERACT", {"type": "CLICK", "id": "b1", "subtype": LONG}, {}),
    ("ASSESS", {**(EDATA["ASSESS"] or {}), "item": {"id": "q1", "title": LONG, "desc": LONG,
                                                    "uri": LONG, "type": LONG}}, {}),
    ("ERROR", {"err": LONG, "errtype": LONG, "stacktrace": LONG}, {}),
    ("LOG", {"type": "api", "level": LONG, "message": "m"}, {}),
    ("RESPONSE", {"target": {"id": LONG, "type": LONG}, "type": "CHOOSE", "values": []}, {}),
    ("IMPRESSION", None, {"channel": LONG, "env": LONG, "pdata": {"id": LONG, "pid": LONG}}),
])
def test_long_values_outside_indexed_columns_are_kept(eid: str, edata: Any,
                                                      where: dict[str, Any]) -> None:
    # The spec bounds no length; only identifiers the collector indexes are bounded.
    ev = event(eid, edata=edata)
    ev["context"].update(where)
    ev["actor"]["type"] = LONG
    result = check(ev)
    assert isinstance(result, ValidEvent), getattr(result, "errors", None)

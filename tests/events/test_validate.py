"""Telemetry V3 validation: all 17 eids, required fields, wrong types, soft warnings."""

from __future__ import annotations

import time

import msgspec
import pytest

from collector.core.events.explain import explain
from collector.core.events.schema import EIDS as SCHEMA_EIDS
from collector.core.events.validate import RejectedEvent, ValidEvent, derived_mid, validate_event
from tests.factories import EDATA, EIDS, course_start, event, lesson_event

NOW = int(time.time() * 1000)


def check(ev: object, index: int = 0) -> ValidEvent | RejectedEvent:
    return validate_event(msgspec.json.encode(ev), index, NOW)


def test_factories_cover_all_17_eids() -> None:
    assert sorted(EIDS) == sorted(SCHEMA_EIDS) and len(EIDS) == 17


@pytest.mark.parametrize("eid", EIDS)
def test_every_eid_valid_example_is_accepted(eid: str) -> None:
    result = check(event(eid))
    assert isinstance(result, ValidEvent), getattr(result, "errors", None)
    assert result.eid == eid and result.warnings == []


REQUIRED = {
    "START": ["type"], "END": ["type"], "IMPRESSION": ["type", "pageid", "uri"],
    "INTERACT": ["type", "id"], "ASSESS": ["item", "pass", "score", "resvalues", "duration"],
    "RESPONSE": ["target", "type", "values"], "INTERRUPT": ["type"], "SHARE": ["items"],
    "ERROR": ["err", "errtype", "stacktrace"], "LOG": ["type", "level", "message"],
    "SEARCH": ["query", "size", "topn"],
    "SUMMARY": ["type", "starttime", "endtime", "timespent", "pageviews", "interactions"],
}


@pytest.mark.parametrize(("eid", "field"), [(e, f) for e, fs in REQUIRED.items() for f in fs])
def test_missing_required_edata_field_is_rejected_with_its_path(eid: str, field: str) -> None:
    edata = dict(EDATA[eid] or {})
    del edata[field]
    result = check(event(eid, edata=edata, mid="m-1"), index=3)
    assert isinstance(result, RejectedEvent)
    assert f"edata.{field}: required" in result.errors
    assert result.index == 3 and result.mid == "m-1"


@pytest.mark.parametrize("field", ["eid", "ets", "ver", "actor", "context"])
def test_missing_envelope_field_is_rejected(field: str) -> None:
    ev = event("IMPRESSION")
    del ev[field]
    result = check(ev)
    assert isinstance(result, RejectedEvent)
    assert f"{field}: required" in result.errors


def test_all_errors_are_reported_at_once() -> None:
    ev = event("IMPRESSION", edata={"type": 5})
    ev["actor"] = {"id": 7}
    errors = explain(msgspec.json.encode(ev))
    assert "edata.type: expected string, got integer" in errors
    assert "edata.pageid: required" in errors and "edata.uri: required" in errors
    assert "actor.id: expected string, got integer" in errors and "actor.type: required" in errors


@pytest.mark.parametrize(("ev", "message"), [
    (event("IMPRESSION", ets="yesterday"), "ets: expected integer or number, got string"),
    (event("ASSESS", edata={**EDATA["ASSESS"], "pass": "yes"}),  # type: ignore[dict-item]
     "edata.pass: expected 'No' or 'Yes', got 'yes'"),
    (event("INTERACT", context={"channel": "c", "env": "e", "cdata": [{"type": "Course"}]}),
     "context.cdata[0].id: required"),
    (event("SEARCH", edata={"query": "x", "size": "2", "topn": []}),
     "edata.size: expected integer, got string"),
])
def test_wrong_types_name_the_path(ev: dict[str, object], message: str) -> None:
    result = check(ev)
    assert isinstance(result, RejectedEvent)
    assert message in result.errors


def test_unknown_eid_is_rejected_listing_known_ones() -> None:
    result = check(event("IMPRESSION") | {"eid": "PAGEVIEW"})
    assert isinstance(result, RejectedEvent)
    assert result.errors[0].startswith("eid: unknown event type 'PAGEVIEW'; expected one of")


@pytest.mark.parametrize("value", [[1, 2], "text", 42, None])
def test_event_that_is_not_an_object_is_rejected(value: object) -> None:
    result = check(value)
    assert isinstance(result, RejectedEvent)
    assert result.errors[0].startswith("event: expected object")


def test_identifier_length_is_bounded() -> None:
    result = check(event("IMPRESSION", sid="s" * 300))
    assert isinstance(result, RejectedEvent)
    assert "context.sid: longer than 256 characters" in result.errors


def test_ets_in_seconds_is_kept_flagged_and_read_as_ms() -> None:
    result = check(event("IMPRESSION", ets=NOW // 1000))
    assert isinstance(result, ValidEvent)
    assert result.ets == (NOW // 1000) * 1000
    assert any("looks like seconds" in w for w in result.warnings)


def test_ets_far_in_the_future_is_kept_and_flagged() -> None:
    result = check(event("IMPRESSION", ets=NOW + 3 * 86_400_000))
    assert isinstance(result, ValidEvent)
    assert result.warnings == ["ets: more than a day in the future (client clock?)"]


def test_negative_ets_is_rejected() -> None:
    result = check(event("IMPRESSION", ets=-5))
    assert isinstance(result, RejectedEvent)


def test_sunbird_sdk_shapes_are_accepted_with_warnings() -> None:
    # What the stock SDK really sends: empty object, object without type, sid "".
    ev = event("INTERACT", obj={}, sid="")
    result = check(ev)
    assert isinstance(result, ValidEvent)
    assert result.sid is None
    assert "context.sid: empty; the event belongs to no session" in result.warnings
    assert "object: id and type missing; object ignored" in result.warnings
    result = check(event("START", obj={"id": "content-1", "ver": "1.0"}))
    assert isinstance(result, ValidEvent)
    assert "object: type missing; object ignored" in result.warnings


def test_heartbeat_without_edata_is_kept_with_warning() -> None:
    ev = event("HEARTBEAT")
    del ev["edata"]
    result = check(ev)
    assert isinstance(result, ValidEvent) and result.warnings == ["edata: missing; read as {}"]


def test_missing_mid_gets_a_deterministic_one() -> None:
    ev = event("IMPRESSION", ets=NOW)
    del ev["mid"]
    first, second = check(ev), check(dict(ev))
    assert isinstance(first, ValidEvent) and isinstance(second, ValidEvent)
    assert first.mid == second.mid == derived_mid(ev, "IMPRESSION")
    assert first.mid.startswith("IMPRESSION:") and len(first.mid) == len("IMPRESSION:") + 64
    assert msgspec.json.decode(first.raw)["mid"] == first.mid


def test_extra_properties_are_allowed_and_kept() -> None:
    ev = event("IMPRESSION", edata={**EDATA["IMPRESSION"], "custom": {"x": 1}},  # type: ignore[dict-item]
               **{"@timestamp": "2018-02-13T06:25:32.914Z"})
    raw = msgspec.json.encode(ev)
    result = validate_event(raw, 0, NOW)
    assert isinstance(result, ValidEvent) and result.raw == raw


def test_course_and_lesson_come_from_cdata_or_object() -> None:
    result = check(course_start("algebra"))
    assert isinstance(result, ValidEvent)
    assert result.course_id == "algebra" and result.is_course_start
    result = check(lesson_event("IMPRESSION", course="c1", lesson="l1"))
    assert isinstance(result, ValidEvent)
    assert (result.course_id, result.lesson_id) == ("c1", "l1")


def test_assess_outside_any_course_has_no_warning() -> None:
    # A plain Sunbird content player; conventions inside a course are in test_spec_refusals.
    result = check(event("ASSESS"))
    assert isinstance(result, ValidEvent) and result.warnings == []


def test_custom_named_event_name_is_first_class() -> None:
    result = check(event("EXDATA", edata={"type": "video.played", "data": {"t": 3}, "version": 1}))
    assert isinstance(result, ValidEvent) and result.name == "video.played"
    result = check(event("EXDATA"))
    assert isinstance(result, ValidEvent) and result.name == "EXDATA"


def test_previous_session_is_read_from_cdata() -> None:
    result = check(event("IMPRESSION", cdata=[{"type": "PreviousSession", "id": "old"}]))
    assert isinstance(result, ValidEvent) and result.previous_sid == "old"


def test_nul_in_identifiers_is_rejected() -> None:
    result = check(event("IMPRESSION", actor="bad\u0000actor"))
    assert isinstance(result, RejectedEvent)
    assert "must not contain U+0000" in result.errors[0]
    assert isinstance(check(event("LOG", edata={"type": "t", "level": "INFO",
                                                "message": "nul \u0000 in free text"})),
                      ValidEvent)


def test_deeply_nested_event_is_rejected() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    raw = msgspec.json.encode(event("IMPRESSION"))[:-1] + b',"deep":' + deep + b"}"
    result = validate_event(raw, 0, NOW)
    assert isinstance(result, RejectedEvent)
    assert result.errors == ["event: nested too deeply"]

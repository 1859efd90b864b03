"""V3 -> xAPI 1.0.3: every mapped kind passes the strict validators; bad data never does harm."""

from __future__ import annotations

import copy
import uuid

import pytest

from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.values import XAPI_NAMESPACE, iso_duration, uuid5_str
from collector.core.mapping.xapi import xapi_statement
from tests.factories import course_start, event, lesson_event
from tests.mapping.validators import assert_valid_xapi, xapi_problems

CTX = MappingContext("https://collector.example.org", chain_root="sid-root", site="lessons")


def lesson_calls() -> list[dict]:
    """One V3 event per lesson call of the design's table (and the page view)."""
    lesson = [{"type": "Course", "id": "algebra"}, {"type": "Lesson", "id": "intro"},
              {"type": "Attempt", "id": "2"}]
    return [
        course_start("algebra"),
        event("END", edata={"type": "course", "duration": 1800.25},
              cdata=[{"type": "Course", "id": "algebra"}]),
        event("START", edata={"type": "lesson"}, cdata=lesson[:1],
              obj={"id": "intro", "type": "Lesson"}),
        event("END", edata={"type": "lesson", "duration": 61}, cdata=lesson),
        event("ASSESS", cdata=lesson, edata={
            "item": {"id": "q1", "maxscore": 4}, "pass": "No", "score": 1.5,
            "resvalues": [{"answer": "b"}, {"answer": "d"}], "duration": 9}),
        event("END", cdata=lesson, obj={"id": "final quiz", "type": "Assessment"},
              edata={"type": "assessment", "summary": [{"score": 7}, {"maxscore": 10}],
                     "duration": 300}),
        event("INTERACT", cdata=lesson, edata={"type": "branch", "id": "scenario/1",
                                                "extra": {"choice": "a", "n": 2}}),
        event("IMPRESSION", cdata=lesson, edata={"type": "view", "pageid": "intro",
                                                  "uri": "/course/algebra/intro page"}),
        event("IMPRESSION", edata={"type": "view", "pageid": "home",
                                   "uri": "https://lessons.example.org/home?x=1"}),
    ]


def test_every_lesson_call_is_a_strictly_valid_statement() -> None:
    statements = [xapi_statement(ev, CTX) for ev in lesson_calls()]
    assert not [s for s in statements if isinstance(s, Skip)], statements
    assert_valid_xapi(statements)  # type: ignore[arg-type]
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]  # type: ignore[index]
    assert verbs == ["initialized", "completed", "initialized", "completed", "answered",
                     "completed", "experienced", "viewed", "viewed"]


def test_statement_fields_follow_the_design() -> None:
    ev = lesson_calls()[4]
    st = xapi_statement(ev, CTX)
    assert isinstance(st, dict)
    assert st["id"] == str(uuid.uuid5(XAPI_NAMESPACE, CTX.site + ":" + ev["mid"]))
    assert st["actor"] == {"objectType": "Agent", "account": {
        "homePage": "https://collector.example.org", "name": "learner-1"}}
    assert st["object"]["id"] == "urn:collector:lesson:intro:check:q1"
    assert st["result"] == {"score": {"raw": 1.5, "min": 0, "max": 4, "scaled": 0.375},
                            "success": False, "response": "b[,]d", "duration": "PT9S"}
    ctx = st["context"]
    assert ctx["registration"] == str(uuid.uuid5(XAPI_NAMESPACE, "sid-root"))
    assert ctx["platform"] == "tests"
    assert ctx["contextActivities"]["parent"][0]["id"] == "urn:collector:lesson:intro"
    assert ctx["contextActivities"]["grouping"][0]["id"] == "urn:collector:course:algebra"
    assert st["timestamp"].endswith("Z")


def test_mapping_is_deterministic_and_pure() -> None:
    for ev in lesson_calls():
        before = copy.deepcopy(ev)
        assert xapi_statement(ev, CTX) == xapi_statement(copy.deepcopy(ev), CTX)
        assert ev == before


def test_uuid5_matches_the_standard_library() -> None:
    for name in ("", "a", "START:ü/ß", "x" * 500):
        assert uuid5_str(XAPI_NAMESPACE, name) == str(uuid.uuid5(XAPI_NAMESPACE, name))


def test_registration_is_shared_by_a_session_chain_and_absent_without_one() -> None:
    a = xapi_statement(course_start(sid="s2"), MappingContext(chain_root="s1"))
    b = xapi_statement(lesson_event("START", edata={"type": "lesson"}, sid="s1"),
                       MappingContext(chain_root="s1"))
    c = xapi_statement(course_start(sid=""), MappingContext(chain_root=None))
    assert isinstance(a, dict) and isinstance(b, dict) and isinstance(c, dict)
    assert a["context"]["registration"] == b["context"]["registration"]
    assert "registration" not in c["context"]
    assert_valid_xapi([a, b, c])


def test_duplicate_course_start_is_excluded() -> None:
    skip = xapi_statement(course_start(), MappingContext(duplicate=True))
    assert isinstance(skip, Skip) and skip.code == "duplicate-course-start" and not skip.error


def test_ets_in_seconds_is_corrected_like_ingest() -> None:
    st = xapi_statement(course_start(ets=1_763_000_000), CTX)
    assert isinstance(st, dict) and st["timestamp"] == "2025-11-13T02:13:20.000Z"


def test_ids_with_reserved_characters_stay_valid_iris() -> None:
    ev = lesson_event("INTERACT", course="algèbre 1", lesson="a:b/c", edata={
        "type": "CLICK", "id": "block <1> \"x\""})
    st = xapi_statement(ev, CTX)
    assert isinstance(st, dict)
    assert st["object"]["id"] == "urn:collector:lesson:a%3Ab%2Fc:block:block%20%3C1%3E%20%22x%22"
    assert_valid_xapi([st])


BAD = [
    ("missing actor", {"actor": {"id": "", "type": "User"}}, "bad-actor"),
    ("actor not an object", {"actor": "learner"}, "bad-actor"),
    ("ets negative", {"ets": -5}, "bad-ets"),
    ("ets a string", {"ets": "yesterday"}, "bad-ets"),
    ("ets past year 9999", {"ets": 10**17}, "bad-ets"),
    ("no mid", {"mid": ""}, "bad-event"),
]


@pytest.mark.parametrize(("what", "change", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_event_data_is_a_clear_mapping_error(what: str, change: dict, code: str) -> None:
    ev = lesson_event("ASSESS")
    ev.update(change)
    skip = xapi_statement(ev, CTX)
    assert isinstance(skip, Skip) and skip.error and skip.code == code, skip
    assert skip.reason


SCORES = [
    ({"score": 5, "item": {"id": "q1", "maxscore": 4}}, "above maxscore"),
    ({"score": -1, "item": {"id": "q1", "maxscore": 4}}, "below 0"),
    ({"score": 1, "item": {"id": "q1", "maxscore": 0}}, "not a positive number"),
    ({"score": float("nan"), "item": {"id": "q1"}}, "not a number"),
]


@pytest.mark.parametrize(("edata", "message"), SCORES)
def test_out_of_range_scores_are_mapping_errors(edata: dict, message: str) -> None:
    ev = lesson_event("ASSESS", edata={"pass": "Yes", "resvalues": [], "duration": 1, **edata})
    skip = xapi_statement(ev, CTX)
    assert isinstance(skip, Skip) and skip.code == "bad-score" and message in skip.reason


def test_quiz_summary_above_max_is_a_mapping_error() -> None:
    ev = lesson_event("END", obj={"id": "final", "type": "Assessment"},
                      edata={"type": "assessment", "summary": [{"score": 11}, {"maxscore": 10}]})
    skip = xapi_statement(ev, CTX)
    assert isinstance(skip, Skip) and skip.code == "bad-score"


def test_quiz_end_without_quiz_id_is_a_mapping_error() -> None:
    skip = xapi_statement(lesson_event("END", edata={"type": "assessment"}), CTX)
    assert isinstance(skip, Skip) and skip.code == "no-quiz" and skip.error


def test_bad_durations_are_dropped_not_sent() -> None:
    for bad in (-3, "long", float("inf")):
        st = xapi_statement(lesson_event("END", edata={"type": "lesson", "duration": bad}), CTX)
        assert isinstance(st, dict) and "duration" not in st["result"]
        assert_valid_xapi([st])


def test_iso_durations() -> None:
    assert iso_duration(0) == "PT0S"
    assert iso_duration(9) == "PT9S"
    assert iso_duration(61.5) == "PT1M1.50S"
    assert iso_duration(3725) == "PT1H2M5S"
    assert iso_duration(-1) is None


def test_the_validators_catch_invalid_statements() -> None:
    """The checks above can fail: broken statements are reported, each for its flaw."""
    good = xapi_statement(lesson_calls()[4], CTX)
    assert isinstance(good, dict)
    broken = []
    for path, value in [(("timestamp",), "2026-11-23T10:00:00"),
                        (("id",), "not-a-uuid"),
                        (("result", "score", "scaled"), 1.5),
                        (("object", "id"), "no iri"),
                        (("result", "duration"), "9 seconds")]:
        st = copy.deepcopy(good)
        target = st
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append(st)
    assert all(problems for problems in xapi_problems(broken))


def test_fast_and_checked_readings_agree() -> None:
    """The export hot path reads well-formed events exactly as the checked path does."""
    from collector.bench.synthetic import synthetic_events
    from collector.core.mapping.source import _read_checked, _read_well_formed

    events = lesson_calls() + list(synthetic_events(300, seed=2)) + [
        course_start(ets=1_763_000_000), lesson_event("INTERACT", cdata=[
            {"type": "lesson", "id": "lower"}]), event("IMPRESSION", obj={"id": "x"})]
    fast_used = 0
    for ev in events:
        fast = _read_well_formed(ev)
        if fast is not None:
            fast_used += 1
            assert fast == _read_checked(ev)
    assert fast_used >= len(events) - 3


def test_reading_stored_json_agrees_with_reading_the_dict() -> None:
    """Export and forwarding read the stored JSON directly: same facts, same skips."""
    import msgspec

    from collector.bench.synthetic import synthetic_events
    from collector.core.mapping.source import read_event, read_json

    odd = [course_start(ets=1_763_000_000), lesson_event("INTERACT", cdata=[
        {"type": "lesson", "id": "lower"}]), event("IMPRESSION", obj={"id": "x"}),
        event("ASSESS", actor={"id": 7}), event("START", edata=None), {"eid": "X"}]
    for ev in lesson_calls() + list(synthetic_events(200, seed=4)) + odd:
        raw = msgspec.json.encode(ev)
        assert read_json(raw) == read_event(ev)
        assert read_json(raw.decode()) == read_event(ev)
    assert read_json(b"{not json").code == "bad-event"  # type: ignore[union-attr]

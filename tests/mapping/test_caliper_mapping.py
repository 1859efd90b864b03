"""V3 -> Caliper 1.2: envelopes valid against the Caliper 1.2 schema, deterministic ids."""

from __future__ import annotations

import copy
import uuid

from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.caliper import caliper_envelope, caliper_events
from collector.core.mapping.values import CALIPER_NAMESPACE
from tests.factories import course_start, event, lesson_event
from tests.mapping.test_xapi_mapping import lesson_calls
from tests.mapping.validators import assert_valid_caliper, caliper_problems

CTX = MappingContext("https://collector.example.org", chain_root="sid-root", site="lessons")


def all_events() -> list[dict]:
    out: list[dict] = []
    extra = [lesson_event("START", edata={"type": "assessment"},
                          obj={"id": "final quiz", "type": "Assessment"}),
             event("START", edata={"type": "session"}), event("END", edata={"type": "session"})]
    for ev in lesson_calls() + extra:
        mapped = caliper_events(ev, CTX)
        if isinstance(mapped, list):
            out.extend(mapped)
    return out


def test_envelope_of_every_mapped_kind_is_valid() -> None:
    events = all_events()
    kinds = {(e["type"], e["action"]) for e in events}
    assert kinds == {("NavigationEvent", "NavigatedTo"), ("AssessmentItemEvent", "Completed"),
                     ("AssessmentEvent", "Submitted"), ("GradeEvent", "Graded"),
                     ("AssessmentEvent", "Started"), ("ViewEvent", "Viewed"),
                     ("SessionEvent", "LoggedIn"), ("SessionEvent", "LoggedOut")}
    assert_valid_caliper(caliper_envelope(events, CTX.public_url, 1_763_000_000_000))


def test_quiz_completed_gives_submitted_and_graded_with_distinct_ids() -> None:
    ev = lesson_event("END", obj={"id": "final", "type": "Assessment"},
                      edata={"type": "assessment", "summary": [{"score": 3}, {"maxscore": 4}]})
    submitted, graded = caliper_events(ev, CTX)  # type: ignore[misc]
    expected = uuid.uuid5(CALIPER_NAMESPACE, CTX.site + ':' + ev['mid'])
    assert submitted["id"] == f"urn:uuid:{expected}"
    assert graded["id"] != submitted["id"]
    assert graded["generated"]["scoreGiven"] == 3 and graded["generated"]["maxScore"] == 4
    assert graded["object"]["id"] == submitted["generated"]["id"]  # the same Attempt
    assert caliper_events(copy.deepcopy(ev), CTX) == [submitted, graded]


def test_duplicates_and_bad_data_produce_no_event() -> None:
    assert isinstance(caliper_events(course_start(), MappingContext(duplicate=True)), Skip)
    bad = lesson_event("ASSESS", edata={"item": {"id": "q", "maxscore": 1}, "pass": "Yes",
                                        "score": 2, "resvalues": [], "duration": 1})
    skip = caliper_events(bad, CTX)
    assert isinstance(skip, Skip) and skip.code == "bad-score" and skip.error
    no_actor = course_start()
    no_actor["actor"] = {"id": " ", "type": "User"}
    assert isinstance(caliper_events(no_actor, CTX), Skip)


def test_the_schema_rejects_broken_envelopes() -> None:
    good = caliper_envelope(all_events()[:2], CTX.public_url, 1_763_000_000_000)
    for breaking in (
        lambda e: e["data"][0].update(action="Completed"),  # not a NavigationEvent action
        lambda e: e["data"][0].update(eventTime="2026-11-23T10:00:00+01:00"),
        lambda e: e["data"][0].update(id="1234"),
        lambda e: e["data"][0].update(custom=1),  # custom attributes belong in extensions
        lambda e: e.update(dataVersion="http://purl.imsglobal.org/ctx/caliper/v1p1"),
        lambda e: e["data"][0]["actor"].update(type="SoftwareApplication"),
    ):
        broken = copy.deepcopy(good)
        breaking(broken)
        assert caliper_problems(broken)

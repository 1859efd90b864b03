"""Telemetry V3 -> xAPI 1.0.3 statements.

``xapi_statement(event, context)`` is pure and deterministic: the same event and
context always give the same statement (``id`` = uuid5 of site name + ":" + mid,
``registration`` = uuid5 of the session chain root). What maps to what is listed, with
the reason for every event that maps to nothing, in ``catalog.json`` beside this module.
"""

from __future__ import annotations

import json
from typing import Any

from collector.core.isotime import iso_timestamp
from collector.core.mapping import DUPLICATE_COURSE_START, MappingContext, Skip, statement_key
from collector.core.mapping.source import EventFacts, number, read_json, read_python_event
from collector.core.mapping.values import (
    XAPI_NAMESPACE,
    iso_duration,
    page_iri,
    registration_uuid,
    segment,
    uuid5_str,
)

ADL_VERB = "http://adlnet.gov/expapi/verbs/"
INITIALIZED = ADL_VERB + "initialized"
COMPLETED = ADL_VERB + "completed"
ANSWERED = ADL_VERB + "answered"
EXPERIENCED = ADL_VERB + "experienced"
VIEWED = "http://id.tincanapi.com/verb/viewed"
VERB_NAMES = {INITIALIZED: "initialized", COMPLETED: "completed", ANSWERED: "answered",
              EXPERIENCED: "experienced", VIEWED: "viewed"}

ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
COURSE = ADL_ACTIVITY + "course"
LESSON = ADL_ACTIVITY + "lesson"
CHECK = ADL_ACTIVITY + "cmi.interaction"
BLOCK = ADL_ACTIVITY + "interaction"
ASSESSMENT = ADL_ACTIVITY + "assessment"
PAGE = "http://activitystrea.ms/schema/1.0/page"

SESSION_EXTENSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
MID_EXTENSION = "urn:collector:extension:mid"
ATTEMPT_EXTENSION = "urn:collector:extension:attempt"
INTERACTION_EXTENSION = "urn:collector:extension:interaction"
RESPONSE_DELIMITER = "[,]"  # xAPI's separator for several responses

# eids that can produce a statement (the outbox only queues these).
MAPPED_EIDS = frozenset({"START", "END", "ASSESS", "INTERACT", "IMPRESSION"})


def xapi_candidate(eid: str, edata_type: str | None, lesson: str | None,
                   duplicate: bool = False) -> bool:
    """Cheap pre-check on stored columns: can this event produce a statement?"""
    if duplicate:
        return False
    if eid in ("START", "END"):
        return edata_type in ("course", "lesson") or (eid == "END" and edata_type == "assessment")
    if eid == "INTERACT":
        return lesson is not None
    return eid in ("ASSESS", "IMPRESSION")


def course_iri(course: str) -> str:
    return "urn:collector:course:" + segment(course)


def lesson_iri(lesson: str) -> str:
    return "urn:collector:lesson:" + segment(lesson)


def check_iri(lesson: str | None, check: str) -> str:
    if lesson is None:  # a check outside a lesson (a Sunbird player in a course)
        return "urn:collector:check:" + segment(check)
    return f"urn:collector:lesson:{segment(lesson)}:check:{segment(check)}"


def block_iri(lesson: str, block: str) -> str:
    return f"urn:collector:lesson:{segment(lesson)}:block:{segment(block)}"


def quiz_iri(lesson: str | None, quiz: str) -> str:
    if lesson is None:
        return "urn:collector:quiz:" + segment(quiz)
    return f"urn:collector:lesson:{segment(lesson)}:quiz:{segment(quiz)}"


def _activity(iri: str, kind: str, name: str | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": kind}
    if name:
        definition["name"] = {"en-US": name}
    return {"objectType": "Activity", "id": iri, "definition": definition}


def xapi_statement(event: Any, context: MappingContext) -> dict[str, Any] | Skip:
    """The xAPI statement for ``event`` (a decoded V3 event), or why there is none."""
    return statement_of(read_python_event(event), context)


def xapi_statement_from_json(raw: bytes | str, context: MappingContext,
                             ) -> dict[str, Any] | Skip:
    """:func:`xapi_statement` of a stored event's JSON (the export and forwarding path)."""
    return statement_of(read_json(raw), context)


def statement_of(facts: EventFacts | Skip, context: MappingContext) -> dict[str, Any] | Skip:
    """The statement for already read event facts."""
    if isinstance(facts, Skip):
        return facts
    eid, kind = facts.eid, facts.edata_type
    if eid == "START":
        if kind == "course":
            if context.duplicate:
                return DUPLICATE_COURSE_START
            return _course(facts, context, INITIALIZED)
        if kind == "lesson":
            return _lesson(facts, context, INITIALIZED)
        return Skip("not-mapped", f"START of type {kind!r} has no xAPI mapping")
    if eid == "END":
        if kind == "course":
            return _course(facts, context, COMPLETED)
        if kind == "lesson":
            return _lesson(facts, context, COMPLETED)
        if kind == "assessment":
            return _quiz_completed(facts, context)
        return Skip("not-mapped", f"END of type {kind!r} has no xAPI mapping")
    if eid == "ASSESS":
        return _answered(facts, context)
    if eid == "INTERACT":
        return _experienced(facts, context)
    if eid == "IMPRESSION":
        return _viewed(facts, context)
    return Skip("not-mapped", f"{eid} has no xAPI mapping")


def _statement(facts: EventFacts, context: MappingContext, verb: str, obj: dict[str, Any],
               result: dict[str, Any] | None = None,
               parents: list[dict[str, Any]] | None = None,
               grouping: list[dict[str, Any]] | None = None,
               extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if context.chain_root:
        ctx["registration"] = registration_uuid(XAPI_NAMESPACE, context.chain_root)
    if facts.platform:
        ctx["platform"] = facts.platform
    if parents or grouping:
        activities: dict[str, Any] = {}
        if parents:
            activities["parent"] = parents
        if grouping:
            activities["grouping"] = grouping
        ctx["contextActivities"] = activities
    ext: dict[str, Any] = {MID_EXTENSION: facts.mid}
    if facts.sid:
        ext[SESSION_EXTENSION] = facts.sid
    if facts.attempt:
        ext[ATTEMPT_EXTENSION] = facts.attempt
    if extensions:
        ext.update(extensions)
    ctx["extensions"] = ext
    statement: dict[str, Any] = {
        "id": uuid5_str(XAPI_NAMESPACE, statement_key(context, facts.mid)),
        "actor": {"objectType": "Agent",
                  "account": {"homePage": context.public_url, "name": facts.actor}},
        "verb": {"id": verb, "display": {"en-US": VERB_NAMES[verb]}},
        "object": obj,
    }
    if result:
        statement["result"] = result
    statement["context"] = ctx
    statement["timestamp"] = iso_timestamp(facts.ets)
    return statement


def _duration_result(facts: EventFacts, result: dict[str, Any]) -> dict[str, Any]:
    # A negative or non-numeric duration is dropped (documented correction), not sent.
    duration = facts.edata.get("duration")
    if duration is not None:
        iso = iso_duration(duration)
        if iso is not None:
            result["duration"] = iso
    return result


def _course_activity(facts: EventFacts) -> list[dict[str, Any]] | None:
    return [_activity(course_iri(facts.course), COURSE)] if facts.course else None


def _course(facts: EventFacts, context: MappingContext, verb: str) -> dict[str, Any] | Skip:
    if facts.course is None:
        return Skip("no-course", f"{facts.eid} of type course without a course id "
                    "(object or cdata {type: 'Course'})", error=False)
    result = _duration_result(facts, {"completion": True}) if verb == COMPLETED else None
    return _statement(facts, context, verb, _activity(course_iri(facts.course), COURSE),
                      result)


def _lesson(facts: EventFacts, context: MappingContext, verb: str) -> dict[str, Any] | Skip:
    if facts.lesson is None:
        return Skip("no-lesson", f"{facts.eid} of type lesson without a lesson id "
                    "(object or cdata {type: 'Lesson'})", error=False)
    result = _duration_result(facts, {"completion": True}) if verb == COMPLETED else None
    return _statement(facts, context, verb, _activity(lesson_iri(facts.lesson), LESSON),
                      result, parents=_course_activity(facts))


def _lesson_scope(facts: EventFacts) -> tuple[list[dict[str, Any]] | None,
                                              list[dict[str, Any]] | None]:
    """(parent, grouping) for something inside a lesson: the lesson, then the course."""
    if facts.lesson is None:
        return _course_activity(facts), None
    return [_activity(lesson_iri(facts.lesson), LESSON)], _course_activity(facts)


def summary_score(facts: EventFacts) -> dict[str, Any] | Skip | None:
    """The score of a quiz END: ``edata.summary`` ``[{score}, {maxscore}]`` (last wins)."""
    raw = top = None
    summary = facts.edata.get("summary")
    if isinstance(summary, list):
        for entry in summary:
            if isinstance(entry, dict):
                raw = entry.get("score", raw)
                top = entry.get("maxscore", top)
    return score_of(raw, top, "END assessment summary")


def score_of(raw_value: Any, max_value: Any, where: str) -> dict[str, Any] | Skip | None:
    """xAPI ``result.score`` from a raw score and an optional maximum (min is 0)."""
    if raw_value is None:
        return None
    raw = number(raw_value)
    if raw is None:
        return Skip("bad-score", f"{where}: score {raw_value!r} is not a number", error=True)
    if raw < 0:
        return Skip("bad-score", f"{where}: score {raw_value!r} is below 0", error=True)
    score: dict[str, Any] = {"raw": raw, "min": 0}
    if max_value is not None:
        top = number(max_value)
        if top is None or top <= 0:
            return Skip("bad-score", f"{where}: maxscore {max_value!r} is not a positive "
                        "number", error=True)
        if raw > top:
            return Skip("bad-score", f"{where}: score {raw_value!r} is above maxscore "
                        f"{max_value!r}", error=True)
        score["max"] = top
        score["scaled"] = round(raw / top, 6)
    return score


def assess_item(edata: dict[str, Any]
                ) -> tuple[str, dict[str, Any], dict[str, Any] | None] | Skip:
    """An ASSESS's check id, item and score (both standards map these the same way)."""
    item = edata.get("item")
    check = item.get("id") if isinstance(item, dict) else None
    if not isinstance(check, str) or not check.strip():
        return Skip("bad-assess", "ASSESS without edata.item.id (the check id)", error=True)
    assert isinstance(item, dict)
    score = score_of(edata.get("score"), item.get("maxscore"), "ASSESS")
    if isinstance(score, Skip):
        return score
    return check, item, score


def _answered(facts: EventFacts, context: MappingContext) -> dict[str, Any] | Skip:
    edata = facts.edata
    found = assess_item(edata)
    if isinstance(found, Skip):
        return found
    check, item, score = found
    result: dict[str, Any] = {}
    if score is not None:
        result["score"] = score
    verdict = edata.get("pass")
    if isinstance(verdict, str) and verdict.lower() in ("yes", "no"):
        result["success"] = verdict.lower() == "yes"
    response = response_text(edata.get("resvalues"))
    if response:
        result["response"] = response
    _duration_result(facts, result)
    parents, grouping = _lesson_scope(facts)
    return _statement(facts, context, ANSWERED, _activity(check_iri(facts.lesson, check), CHECK),
                      result or None, parents, grouping)


def response_text(values: Any) -> str:
    """V3 ``resvalues`` ([{"answer": "b"}, ...]) as one xAPI response string."""
    if not isinstance(values, list):
        return ""
    parts: list[str] = []
    for entry in values:
        if isinstance(entry, dict):
            parts.extend(_response_part(v) for v in entry.values() if v is not None and v != "")
        elif entry is not None and entry != "":
            parts.append(_response_part(entry))
    return RESPONSE_DELIMITER.join(parts)


def _response_part(value: Any) -> str:
    """A text answer as it is; anything else (numbers, objects, lists) as JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _quiz_completed(facts: EventFacts, context: MappingContext) -> dict[str, Any] | Skip:
    quiz = facts.object_id
    if quiz is None or facts.object_type is None or facts.object_type.lower() in (
            "course", "lesson"):
        return Skip("no-quiz", "END of type assessment without object {id: quizId, type: "
                    "'Assessment'}", error=True)
    score = summary_score(facts)
    if isinstance(score, Skip):
        return score
    result: dict[str, Any] = {"completion": True}
    if score is not None:
        result["score"] = score
    _duration_result(facts, result)
    parents, grouping = _lesson_scope(facts)
    return _statement(facts, context, COMPLETED,
                      _activity(quiz_iri(facts.lesson, quiz), ASSESSMENT), result,
                      parents, grouping)


def _experienced(facts: EventFacts, context: MappingContext) -> dict[str, Any] | Skip:
    if facts.lesson is None:
        return Skip("interact-without-lesson", "INTERACT outside a lesson: block-level "
                    "xAPI needs a lesson (LessonKit: no xAPI without an active lesson)")
    block = facts.edata.get("id")
    if not isinstance(block, str) or not block.strip():
        return Skip("interact-without-id", "INTERACT without edata.id (the block id): "
                    "tracked, but no xAPI (LessonKit: no blockId, no statement)")
    interaction: dict[str, Any] = {}
    if facts.edata_type:
        interaction["kind"] = facts.edata_type
    extra = facts.edata.get("extra")
    if isinstance(extra, dict) and extra:
        interaction["data"] = extra
    parents, grouping = _lesson_scope(facts)
    return _statement(facts, context, EXPERIENCED,
                      _activity(block_iri(facts.lesson, block), BLOCK), None, parents,
                      grouping, {INTERACTION_EXTENSION: interaction} if interaction else None)


def _viewed(facts: EventFacts, context: MappingContext) -> dict[str, Any] | Skip:
    uri = facts.edata.get("uri")
    iri = page_iri(uri, context.public_url) if isinstance(uri, str) else None
    if iri is None:
        return Skip("bad-impression", "IMPRESSION without edata.uri (the page)", error=True)
    pageid = facts.edata.get("pageid")
    parents, grouping = _lesson_scope(facts)
    result = _duration_result(facts, {})
    return _statement(facts, context, VIEWED,
                      _activity(iri, PAGE, pageid if isinstance(pageid, str) else None),
                      result or None, parents, grouping)

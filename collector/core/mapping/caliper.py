"""Telemetry V3 -> IMS Caliper 1.2 events and envelopes.

``caliper_events(event, context)`` is pure and deterministic like the xAPI mapper: it
returns the Caliper events of one V3 event (an assessment END with a score gives two,
AssessmentEvent Submitted and GradeEvent Graded) or a :class:`Skip`. Event ids are
``urn:uuid:`` + uuid5 of site name + ":" + mid, so a receiver can drop a resent event by
its id (and two sites never share one).
"""

from __future__ import annotations

from typing import Any

from collector.core.isotime import iso_timestamp
from collector.core.mapping import DUPLICATE_COURSE_START, MappingContext, Skip, statement_key
from collector.core.mapping.source import EventFacts, read_json, read_python_event
from collector.core.mapping.values import (
    CALIPER_NAMESPACE,
    iso_duration,
    page_iri,
    segment,
    uuid5_str,
)
from collector.core.mapping.xapi import (
    assess_item,
    check_iri,
    course_iri,
    lesson_iri,
    quiz_iri,
    response_text,
    summary_score,
)

CALIPER_CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
DATA_VERSION = CALIPER_CONTEXT
ENVELOPE_EVENTS = 100  # events per envelope in exports and forwarded batches

MAPPED_EIDS = frozenset({"START", "END", "ASSESS", "IMPRESSION"})


def caliper_candidate(eid: str, edata_type: str | None, duplicate: bool = False) -> bool:
    """Cheap pre-check on stored columns: can this event produce Caliper events?"""
    if duplicate:
        return False
    if eid == "START":
        return edata_type in ("course", "lesson", "assessment", "session")
    if eid == "END":
        return edata_type in ("assessment", "session")
    return eid in ("ASSESS", "IMPRESSION")


def caliper_envelope(events: list[dict[str, Any]], public_url: str, send_ms: int,
                     ) -> dict[str, Any]:
    """A Caliper envelope around ``events``; ``send_ms`` is the send time (epoch ms)."""
    return {"sensor": public_url + "/sensor", "sendTime": iso_timestamp(send_ms),
            "dataVersion": DATA_VERSION, "data": events}


def caliper_events(event: Any, context: MappingContext) -> list[dict[str, Any]] | Skip:
    """The Caliper events for ``event`` (a decoded V3 event), or why there are none."""
    return events_of(read_python_event(event), context)


def caliper_events_from_json(raw: bytes | str, context: MappingContext,
                             ) -> list[dict[str, Any]] | Skip:
    """:func:`caliper_events` of a stored event's JSON (the export and forwarding path)."""
    return events_of(read_json(raw), context)


def events_of(facts: EventFacts | Skip, context: MappingContext,
              ) -> list[dict[str, Any]] | Skip:
    """The Caliper events for already read event facts."""
    if isinstance(facts, Skip):
        return facts
    eid, kind = facts.eid, facts.edata_type
    if eid == "START":
        if kind == "course":
            if context.duplicate:
                return DUPLICATE_COURSE_START
            if facts.course is None:
                return Skip("no-course", "START of type course without a course id",
                            error=False)
            return [_event(facts, context, "NavigationEvent", "NavigatedTo",
                           _course(facts.course))]
        if kind == "lesson":
            if facts.lesson is None:
                return Skip("no-lesson", "START of type lesson without a lesson id",
                            error=False)
            return [_event(facts, context, "NavigationEvent", "NavigatedTo",
                           _lesson(facts))]
        if kind == "assessment":
            quiz = _quiz(facts)
            if isinstance(quiz, Skip):
                return quiz
            return [_event(facts, context, "AssessmentEvent", "Started", quiz,
                           generated=_attempt(facts, context, quiz["id"]))]
        if kind == "session":
            return [_session_event(facts, context, "LoggedIn")]
        return Skip("not-mapped", f"START of type {kind!r} has no Caliper mapping")
    if eid == "END":
        if kind == "assessment":
            return _submitted(facts, context)
        if kind == "session":
            return [_session_event(facts, context, "LoggedOut")]
        return Skip("not-mapped", f"END of type {kind!r} has no Caliper mapping")
    if eid == "ASSESS":
        return _item_completed(facts, context)
    if eid == "IMPRESSION":
        uri = facts.edata.get("uri")
        iri = page_iri(uri, context.public_url) if isinstance(uri, str) else None
        if iri is None:
            return Skip("bad-impression", "IMPRESSION without edata.uri (the page)",
                        error=True)
        page: dict[str, Any] = {"id": iri, "type": "WebPage"}
        pageid = facts.edata.get("pageid")
        if isinstance(pageid, str) and pageid:
            page["name"] = pageid
        container = _container(facts)
        if container is not None:
            page["isPartOf"] = container
        return [_event(facts, context, "ViewEvent", "Viewed", page)]
    return Skip("not-mapped", f"{eid} has no Caliper mapping")


def _person(facts: EventFacts, context: MappingContext) -> dict[str, Any]:
    return {"id": f"{context.public_url}/users/{segment(facts.actor)}", "type": "Person"}


def _ed_app(context: MappingContext) -> dict[str, Any]:
    return {"id": context.public_url, "type": "SoftwareApplication"}


def _course(course: str) -> dict[str, Any]:
    return {"id": course_iri(course), "type": "DigitalResourceCollection", "name": course}


def _lesson(facts: EventFacts) -> dict[str, Any]:
    assert facts.lesson is not None
    lesson: dict[str, Any] = {"id": lesson_iri(facts.lesson), "type": "DigitalResource",
                              "name": facts.lesson}
    if facts.course:
        lesson["isPartOf"] = _course(facts.course)
    return lesson


def _container(facts: EventFacts) -> dict[str, Any] | None:
    if facts.lesson:
        return _lesson(facts)
    return _course(facts.course) if facts.course else None


def _quiz(facts: EventFacts) -> dict[str, Any] | Skip:
    quiz = facts.object_id
    if quiz is None or facts.object_type is None or facts.object_type.lower() in (
            "course", "lesson"):
        return Skip("no-quiz", f"{facts.eid} of type assessment without object {{id: "
                    "quizId, type: 'Assessment'}", error=True)
    entity: dict[str, Any] = {"id": quiz_iri(facts.lesson, quiz), "type": "Assessment",
                              "name": quiz}
    container = _container(facts)
    if container is not None:
        entity["isPartOf"] = container
    return entity


def _attempt(facts: EventFacts, context: MappingContext, assignable: str,
             ) -> dict[str, Any]:
    """The learner's attempt: cdata {type: 'Attempt'} when sent, else one per session chain."""
    key = facts.attempt or uuid5_str(CALIPER_NAMESPACE, facts.actor + "\n" + (
        context.chain_root or facts.sid or ""))
    attempt: dict[str, Any] = {
        "id": f"{assignable}:attempt:{segment(facts.actor)}:{segment(key)}",
        "type": "Attempt",
        "assignee": _person(facts, context)["id"],
        "assignable": assignable,
    }
    if facts.attempt and facts.attempt.isdigit() and int(facts.attempt) > 0:
        attempt["count"] = int(facts.attempt)
    duration = facts.edata.get("duration")
    if duration is not None:
        iso = iso_duration(duration)
        if iso is not None:
            attempt["duration"] = iso
    return attempt


def _event(facts: EventFacts, context: MappingContext, kind: str, action: str,
           obj: dict[str, Any], *, actor: dict[str, Any] | None = None,
           generated: dict[str, Any] | None = None, suffix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "@context": CALIPER_CONTEXT,
        "id": "urn:uuid:" + uuid5_str(CALIPER_NAMESPACE,
                                      statement_key(context, facts.mid) + suffix),
        "type": kind,
        "actor": actor or _person(facts, context),
        "action": action,
        "object": obj,
        "eventTime": iso_timestamp(facts.ets),
        "edApp": _ed_app(context),
    }
    if generated is not None:
        out["generated"] = generated
    if facts.sid:
        out["session"] = {"id": f"{context.public_url}/sessions/{segment(facts.sid)}",
                          "type": "Session"}
    extensions: dict[str, Any] = {"mid": facts.mid}
    if context.chain_root:
        extensions["sessionChain"] = context.chain_root
    if facts.platform:
        extensions["platform"] = facts.platform
    out["extensions"] = extensions
    return out


def _session_event(facts: EventFacts, context: MappingContext, action: str) -> dict[str, Any]:
    return _event(facts, context, "SessionEvent", action, _ed_app(context))


def _item_completed(facts: EventFacts, context: MappingContext) -> list[dict[str, Any]] | Skip:
    edata = facts.edata
    found = assess_item(edata)
    if isinstance(found, Skip):
        return found
    check, item, score = found
    entity: dict[str, Any] = {"id": check_iri(facts.lesson, check), "type": "AssessmentItem",
                              "name": check}
    container = _container(facts)  # the lesson, else the course, else none
    if container is not None:
        entity["isPartOf"] = container
    if score is not None and "max" in score:
        entity["maxScore"] = score["max"]
    attempt = _attempt(facts, context, entity["id"])
    response: dict[str, Any] = {"id": attempt["id"] + ":response", "type": "Response",
                                "attempt": attempt}
    extensions: dict[str, Any] = {}
    value = response_text(edata.get("resvalues"))
    if value:
        extensions["value"] = value
    verdict = edata.get("pass")
    if isinstance(verdict, str) and verdict.lower() in ("yes", "no"):
        extensions["correct"] = verdict.lower() == "yes"
    if score is not None:
        extensions["score"] = score["raw"]
    if extensions:
        response["extensions"] = extensions
    return [_event(facts, context, "AssessmentItemEvent", "Completed", entity,
                   generated=response)]


def _submitted(facts: EventFacts, context: MappingContext) -> list[dict[str, Any]] | Skip:
    quiz = _quiz(facts)
    if isinstance(quiz, Skip):
        return quiz
    score = summary_score(facts)
    if isinstance(score, Skip):
        return score
    attempt = _attempt(facts, context, quiz["id"])
    events = [_event(facts, context, "AssessmentEvent", "Submitted", quiz, generated=attempt)]
    if score is not None:
        graded: dict[str, Any] = {"id": attempt["id"] + ":score", "type": "Score",
                                  "attempt": attempt["id"], "scoreGiven": score["raw"],
                                  "scoredBy": context.public_url}
        if "max" in score:
            graded["maxScore"] = score["max"]
        events.append(_event(facts, context, "GradeEvent", "Graded", attempt,
                             actor=_ed_app(context), generated=graded, suffix="#graded"))
    return events

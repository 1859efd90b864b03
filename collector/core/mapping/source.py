"""Read the facts both mappers need out of a V3 event dict, rejecting unusable data.

The checks mirror ingest validation (``collector.core.events.validate``) so a mapper can be
fed any dict, not only stored events: a missing actor or an impossible time is a
:class:`~collector.core.mapping.Skip` with ``error=True``, never an invalid statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from collector.core.events.facts import (
    dict_correlations,
    names_lesson,
    struct_correlations,
    with_object,
)
from collector.core.events.validate import SECONDS_THRESHOLD
from collector.core.mapping import Skip
from collector.core.mapping.values import MAX_YEAR_MS


@dataclass(slots=True)
class EventFacts:
    """The parts of a V3 event the mappings use, already checked."""

    eid: str
    mid: str
    ets: int  # epoch ms (ets sent in seconds is read as seconds, as at ingest)
    actor: str
    edata: dict[str, Any]
    edata_type: str | None
    sid: str | None
    platform: str | None  # context.pdata.id
    course: str | None
    lesson: str | None
    attempt: str | None
    object_id: str | None
    object_type: str | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def read_event(event: Any) -> EventFacts | Skip:
    """Check ``event`` (a decoded V3 event) and return its facts, or why it is unusable."""
    facts = _read_well_formed(event)
    return facts if facts is not None else _read_checked(event)


_json_check = msgspec.json.Encoder()


def read_python_event(event: Any) -> EventFacts | Skip:
    """:func:`read_event` for a value built in Python, which may hold what JSON cannot.

    ``json.loads`` turns ``"\\ud800"`` into a lone surrogate, which no statement can
    carry (its id is a hash of the UTF-8 mid); the stored events never hold one.
    """
    try:
        _json_check.encode(event)
    except (TypeError, ValueError, OverflowError):  # UnicodeEncodeError is a ValueError
        return Skip("bad-event", "event: not JSON data (a lone surrogate or a non-JSON "
                    "type)", error=True)
    return read_event(event)


def _read_well_formed(event: Any) -> EventFacts | None:
    """The export hot path for events shaped as ingest stores them; None: check slowly."""
    try:
        eid = event["eid"]
        mid = event["mid"]
        actor = event["actor"]["id"]
        ets = event["ets"]
        context = event["context"]
        edata = event.get("edata")
        cdata = context.get("cdata")
        pdata = context.get("pdata")
        platform = pdata.get("id") if pdata else None
        sid = context.get("sid")
    except (KeyError, TypeError, AttributeError):
        return None
    if (type(eid) is not str or type(mid) is not str or type(actor) is not str
            or type(ets) is not int or not eid or mid.isspace() or not mid
            or not actor or actor.isspace() or ets < SECONDS_THRESHOLD or ets > MAX_YEAR_MS
            or type(edata) is not dict or (sid is not None and type(sid) is not str)
            or (platform is not None and type(platform) is not str)):
        return None
    edata_type = edata.get("type")
    if type(edata_type) is not str or not edata_type:
        edata_type = None
    course, lesson, attempt, _ = dict_correlations(cdata)
    obj = event.get("object")
    if obj:
        return _with_object(obj, eid, mid, ets, actor, edata, edata_type, sid, platform,
                            course, lesson, attempt)
    return EventFacts(eid, mid, ets, actor, edata, edata_type, sid or None, platform or None,
                      course, lesson, attempt, None, None)


def _with_object(obj: Any, eid: str, mid: str, ets: int, actor: str, edata: dict[str, Any],
                 edata_type: str | None, sid: str | None, platform: str | None,
                 course: str | None, lesson: str | None, attempt: str | None,
                 ) -> EventFacts | None:
    if type(obj) is not dict:
        return None
    object_id, object_type = _text(obj.get("id")), _text(obj.get("type"))
    if object_id is None or object_type is None:
        object_id = object_type = None
    else:
        course, lesson = with_object(course, lesson, object_type, object_id,
                                     lesson_from_object=names_lesson(eid, edata_type))
    return EventFacts(eid, mid, ets, actor, edata, edata_type, sid or None, platform or None,
                      course, lesson, attempt, object_id, object_type)


def _read_checked(event: Any) -> EventFacts | Skip:
    if not isinstance(event, dict):
        return Skip("bad-event", "event: not a JSON object", error=True)
    eid = event.get("eid")
    if not isinstance(eid, str) or not eid:
        return Skip("bad-event", "eid: missing", error=True)
    mid = event.get("mid")
    if not isinstance(mid, str) or not mid.strip():
        return Skip("bad-event", "mid: missing (statement ids are derived from it)",
                    error=True)
    actor_obj = event.get("actor")
    actor = actor_obj.get("id") if isinstance(actor_obj, dict) else None
    if not isinstance(actor, str) or not actor.strip():
        return Skip("bad-actor", "actor.id: missing or empty; no one to attribute it to",
                    error=True)
    ets = event.get("ets")
    if isinstance(ets, bool) or not isinstance(ets, int | float) or ets != ets or ets <= 0:
        return Skip("bad-ets", f"ets: {ets!r} is not a positive epoch time", error=True)
    ets = int(ets)
    if ets < SECONDS_THRESHOLD:  # documented correction, the same as at ingest
        ets *= 1000
    if ets > MAX_YEAR_MS:
        return Skip("bad-ets", f"ets: {ets} is past year 9999", error=True)

    edata = event.get("edata")
    if not isinstance(edata, dict):
        edata = {}
    edata_type = edata.get("type")
    if not isinstance(edata_type, str) or not edata_type:
        edata_type = None
    context = event.get("context")
    if not isinstance(context, dict):
        context = {}
    pdata = context.get("pdata")
    platform = pdata.get("id") if isinstance(pdata, dict) else None
    if not isinstance(platform, str) or not platform:
        platform = None

    course, lesson, attempt, _ = dict_correlations(context.get("cdata"))
    obj = event.get("object")
    object_id = object_type = None
    if obj and isinstance(obj, dict):
        object_id, object_type = _text(obj.get("id")), _text(obj.get("type"))
        if object_id is None or object_type is None:
            object_id = object_type = None
        else:  # the object names the course / lesson when cdata does not
            course, lesson = with_object(course, lesson, object_type, object_id,
                                         lesson_from_object=names_lesson(eid, edata_type))

    sid = context.get("sid")
    return EventFacts(
        eid=eid, mid=mid, ets=ets, actor=actor, edata=edata, edata_type=edata_type,
        sid=sid if isinstance(sid, str) and sid else None, platform=platform, course=course,
        lesson=lesson, attempt=attempt, object_id=object_id, object_type=object_type,
    )


def number(value: Any) -> float | None:
    """A finite JSON number, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value


# --- reading stored JSON directly (export and forwarding hot path) -------------------


class _Correlation(msgspec.Struct):
    type: Any = None
    id: Any = None


class _Producer(msgspec.Struct):
    id: str | None = None


class _Context(msgspec.Struct):
    sid: str | None = None
    pdata: _Producer | None = None
    cdata: list[_Correlation] | None = None


class _Actor(msgspec.Struct):
    id: str


class _Object(msgspec.Struct):
    id: Any = None
    type: Any = None


class _Stored(msgspec.Struct):
    """Only the fields the mappers read; msgspec skips the rest without building it."""

    eid: str
    mid: str
    ets: int
    actor: _Actor
    context: _Context
    edata: dict[str, Any]
    object: _Object | None = None


_stored = msgspec.json.Decoder(_Stored)
_generic = msgspec.json.Decoder()


def read_json(raw: bytes | str) -> EventFacts | Skip:
    """:func:`read_event` of a JSON document, without building the parts no mapper reads.

    Anything unusual (a type the fast decoder does not expect, ets in seconds, ...) is
    read by :func:`read_event` on the fully decoded event, with the same results.
    """
    try:
        ev = _stored.decode(raw)
    except msgspec.ValidationError:
        return _read_slow(raw)
    except msgspec.DecodeError:
        return Skip("bad-event", "event: not valid JSON", error=True)
    mid, actor, ets, eid = ev.mid, ev.actor.id, ev.ets, ev.eid
    if (not eid or not mid or mid.isspace() or not actor or actor.isspace()
            or ets < SECONDS_THRESHOLD or ets > MAX_YEAR_MS):
        return _read_slow(raw)
    edata = ev.edata
    edata_type = edata.get("type")
    if type(edata_type) is not str or not edata_type:
        edata_type = None
    ctx = ev.context
    course, lesson, attempt, _ = struct_correlations(ctx.cdata)
    platform = ctx.pdata.id if ctx.pdata is not None else None
    if ev.object is not None:
        return _with_object({"id": ev.object.id, "type": ev.object.type}, eid, mid, ets,
                            actor, edata, edata_type, ctx.sid, platform, course, lesson,
                            attempt) or _read_slow(raw)
    return EventFacts(eid, mid, ets, actor, edata, edata_type, ctx.sid or None,
                      platform or None, course, lesson, attempt, None, None)


def _read_slow(raw: bytes | str) -> EventFacts | Skip:
    try:
        return read_event(_generic.decode(raw))
    except msgspec.DecodeError:
        return Skip("bad-event", "event: not valid JSON", error=True)

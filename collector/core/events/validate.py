"""Validate one raw V3 event: schema (msgspec, one pass), then the collector's own rules.

Only what the Telemetry V3 spec refuses (a missing required field, a wrong type) and what
storage cannot hold (U+0000 in an identifier, an identifier over 256 characters, a time
outside the epoch range) rejects the event (it goes to quarantine with its reasons).
Everything else keeps the event and records a warning on it: soft problems that real
clients produce (an empty ``object``, ``sid: ""``, ``ets`` in seconds) and the
collector's own conventions (a Lesson on an ASSESS in a course, a course id on a course
START/END, a lesson id on a lesson START/END).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from collector.core.events.explain import explain
from collector.core.events.facts import names_lesson, struct_correlations, with_object
from collector.core.events.schema import EVENT_TYPES, Event

DAY_MS = 86_400_000
# Below this an epoch value is taken to be seconds (1e11 ms is March 1973).
SECONDS_THRESHOLD = 100_000_000_000
# Refused from here on (2100-01-01T00:00:00Z): far beyond any clock error, and every
# stored time stays a valid datetime and fits a 64-bit column.
MAX_ETS = 4_102_444_800_000
CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")

_decoder = msgspec.json.Decoder(Event)
_generic = msgspec.json.Decoder()


class ValidEvent(msgspec.Struct, gc=False):
    """A schema-valid event with the columns the collector derives from it.

    A msgspec Struct without GC tracking: one is made per event on the hot path and it
    never takes part in a reference cycle.
    """

    index: int
    raw: bytes
    mid: str
    eid: str
    name: str
    ets: int
    sid: str | None
    actor_id: str
    did: str | None
    course_id: str | None
    lesson_id: str | None
    previous_sid: str | None
    page_id: str | None
    uri: str | None
    object_id: str | None
    object_type: str | None
    edata_type: str | None
    warnings: list[str] = msgspec.field(default_factory=list)
    is_course_start: bool = False  # START of edata.type "course"
    target: str | None = None  # INTERACT edata.id (flows and funnels use it)
    env: str | None = None  # context.env
    chain_id: str | None = None  # set at persist time from the session chain
    duplicate_of: str | None = None  # set at persist time for a repeated course start
    row: tuple[Any, ...] = ()  # most of its events-table row, built before the writer




class RejectedEvent(msgspec.Struct, gc=False):
    """An event that cannot be stored as valid, with every reason found."""

    index: int
    raw: bytes
    mid: str | None
    errors: list[str]


def _raw_mid(raw: bytes) -> str | None:
    try:
        value = _generic.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    mid = value.get("mid") if isinstance(value, dict) else None
    return mid[:256] if isinstance(mid, str) and mid else None


def derived_mid(value: Any, eid: str) -> str:
    """Deterministic mid for an event sent without one: ``EID:`` + sha256(canonical JSON)."""
    canonical = msgspec.json.encode(value, order="sorted")
    return f"{eid}:{hashlib.sha256(canonical).hexdigest()}"


def validate_event(raw: bytes, index: int, now_ms: int) -> ValidEvent | RejectedEvent:
    """Validate one event given as the bytes it was received as."""
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError:
        return RejectedEvent(index, raw, _raw_mid(raw), explain(raw) or ["event: invalid"])
    except RecursionError:
        return RejectedEvent(index, raw, None, ["event: nested too deeply"])
    except msgspec.DecodeError as exc:
        return RejectedEvent(index, raw, None, [f"event: not valid JSON ({exc})"])
    return _check(event, raw, index, now_ms)


_EID_OF: dict[type, str] = {cls: eid for eid, cls in EVENT_TYPES.items()}


def _check(event: Any, raw: bytes, index: int, now_ms: int) -> ValidEvent | RejectedEvent:
    eid = _EID_OF[type(event)]
    warnings: list[str] = []
    errors: list[str] = []
    edata = event.edata

    mid = event.mid
    if not mid:
        value = _generic.decode(raw)
        mid = derived_mid(value, eid)
        value["mid"] = mid
        raw = msgspec.json.encode(value)
        warnings.append(f"mid: missing; assigned {mid}")

    ets = event.ets
    if isinstance(ets, float):
        ets = int(ets)
    if ets <= 0:
        errors.append("ets: must be a positive epoch time in milliseconds")
    elif ets >= MAX_ETS:
        errors.append(f"ets: out of range; must be an epoch time in milliseconds before "
                      f"2100-01-01T00:00:00Z ({MAX_ETS})")
    elif ets < SECONDS_THRESHOLD:
        warnings.append(f"ets: {ets} looks like seconds, not milliseconds; read as {ets * 1000}")
        ets *= 1000
    elif ets > now_ms + DAY_MS:
        warnings.append("ets: more than a day in the future (client clock?)")

    if not event.ver.startswith("3."):
        warnings.append(f"ver: expected '3.0', got {event.ver[:16]!r}")
    if edata is None:
        warnings.append("edata: missing; read as {}")
    obj = event.object
    if obj is not None and (not obj.id or not obj.type):
        missing = " and ".join(k for k in ("id", "type") if not getattr(obj, k))
        warnings.append(f"object: {missing} missing; object ignored")
    ctx = event.context
    sid = ctx.sid or None
    if ctx.sid == "":
        warnings.append("context.sid: empty; the event belongs to no session")

    edata_type = getattr(edata, "type", None) if edata is not None else None
    if isinstance(edata, dict):
        value = edata.get("type")
        edata_type = value if isinstance(value, str) else None
    course_id, lesson_id, _, previous_sid = struct_correlations(ctx.cdata)
    if obj is not None:
        course_id, lesson_id = with_object(course_id, lesson_id, obj.type, obj.id,
                                           lesson_from_object=names_lesson(eid, edata_type))

    # The collector's own conventions: the spec does not require them, so an event that
    # misses one is stored with a warning and every reader copes without it.
    if eid in ("START", "END") and edata_type == "course" and not course_id:
        warnings.append(f"{eid} of type course without a course id (object {{type: 'Course', "
                        "id} or context.cdata {type: 'Course', id}); it takes no part in "
                        "course_started de-duplication")
    if eid in ("START", "END") and edata_type == "lesson" and not lesson_id:
        warnings.append(f"{eid} of type lesson without a lesson id (object {{type: 'Lesson', "
                        "id} or context.cdata {type: 'Lesson', id}); no lesson statement")
    if eid == "ASSESS" and course_id and not lesson_id:
        warnings.append("ASSESS in a course without a lesson (context.cdata {type: 'Lesson', "
                        "id}); mapped in the course's context")

    name = eid
    if eid == "EXDATA" and edata_type and CUSTOM_NAME.match(edata_type):
        name = edata_type

    page_id = getattr(edata, "pageid", None) if edata is not None else None
    uri = edata.uri if eid == "IMPRESSION" else None
    target = edata.id if eid == "INTERACT" else None
    if b"\\u0000" in raw and _has_nul(event, page_id, uri, target):
        # PostgreSQL text cannot hold U+0000; reject rather than silently alter ids.
        errors.append("identifiers (mid, actor, context, object, edata type/id/item id/pageid/uri) "
                      "must not contain U+0000")
    if errors:
        return RejectedEvent(index, raw, mid, errors)
    return ValidEvent(
        index=index,
        raw=raw,
        mid=mid,
        eid=eid,
        name=name,
        ets=ets,
        sid=sid,
        actor_id=event.actor.id,
        did=ctx.did or None,
        course_id=course_id,
        lesson_id=lesson_id,
        previous_sid=previous_sid,
        page_id=page_id if isinstance(page_id, str) and page_id else None,
        uri=uri or None,
        object_id=obj.id if obj is not None and obj.id and obj.type else None,
        object_type=obj.type if obj is not None and obj.id and obj.type else None,
        edata_type=edata_type,
        warnings=warnings,
        is_course_start=eid == "START" and edata_type == "course",
        target=target,
        env=ctx.env or None,
    )



def _has_nul(event: Any, page_id: Any, uri: Any, target: Any) -> bool:
    ctx = event.context
    values = [event.mid, event.actor.id, ctx.sid, ctx.did, ctx.env, page_id, uri,
              getattr(event.edata, "type", None)]
    if target is not None:  # an INTERACT's edata.id: the dashboards' click target
        values.append(target)
    item = getattr(event.edata, "item", None)  # an ASSESS's item: the item analysis key
    if item is not None:
        values.append(getattr(item, "id", None))
    values += [c.id for c in ctx.cdata] + [c.type for c in ctx.cdata]
    if event.object is not None:
        values += [event.object.id, event.object.type]
    return any(isinstance(v, str) and "\x00" in v for v in values)

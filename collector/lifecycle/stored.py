"""Stored rows read back as the objects ingest made of them, so removing them can run
the very code that counted them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from collector.core.events.validate import RejectedEvent, ValidEvent, validate_event
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.storage.models import EVENTS, REJECTED_EVENTS

e = EVENTS.c
EVENT_COLUMNS = (e.id, e.site_id, e.received_at, e.mid, e.eid, e.name, e.ets, e.sid,
                 e.chain_id, e.actor_id, e.did, e.course_id, e.lesson_id, e.page_id, e.uri,
                 e.object_id, e.object_type, e.edata_type, e.duplicate_of, e.warnings,
                 e.payload)
r = REJECTED_EVENTS.c
REJECTED_COLUMNS = (r.id, r.site_id, r.received_at, r.transport, r.batch_index, r.mid,
                    r.reasons)


def stored_event(row: Any) -> ValidEvent:
    """The event of an ``EVENT_COLUMNS`` row as ingest handed it to the hooks: the stored
    columns, plus what only the payload holds (INTERACT target, env, course start)."""
    raw = row.payload.encode()
    checked = validate_event(raw, 0, row.received_at)
    target = env = None
    is_course_start = row.eid == "START" and row.edata_type == "course"
    if isinstance(checked, ValidEvent):  # stored events validate, unless the rules moved
        target, env, is_course_start = checked.target, checked.env, checked.is_course_start
    return ValidEvent(
        index=0, raw=raw, mid=row.mid, eid=row.eid, name=row.name, ets=row.ets,
        sid=row.sid, actor_id=row.actor_id, did=row.did, course_id=row.course_id,
        lesson_id=row.lesson_id, previous_sid=None, page_id=row.page_id, uri=row.uri,
        object_id=row.object_id, object_type=row.object_type, edata_type=row.edata_type,
        warnings=json.loads(row.warnings) if row.warnings else [],
        is_course_start=is_course_start, target=target, env=env, chain_id=row.chain_id,
        duplicate_of=row.duplicate_of)


def as_group(events: Iterable[Any], rejected: Iterable[Any] = ()
             ) -> tuple[list[PreparedBatch], list[BatchOutcome]]:
    """Rows as one group of batches, one per (site, time received), each with its events
    as stored and its quarantined rows as rejected."""
    batches: dict[tuple[int, int], PreparedBatch] = {}
    outcomes: dict[tuple[int, int], BatchOutcome] = {}

    def batch(site: int, received_at: int) -> tuple[PreparedBatch, BatchOutcome]:
        key = (site, received_at)
        if key not in batches:
            batches[key] = PreparedBatch(site, "stored", received_at, [])
            outcomes[key] = BatchOutcome([], 0)
        return batches[key], outcomes[key]

    for row in events:
        batch(row.site_id, row.received_at)[1].stored.append(stored_event(row))
    for row in rejected:
        if row.site_id is None:  # a body no site could be told: never counted on a page
            continue
        reasons = json.loads(row.reasons)
        batch(row.site_id, row.received_at)[0].rejected.append(RejectedEvent(
            row.batch_index or 0, b"", row.mid, [str(m) for m in reasons]))
    keys = sorted(batches)
    return [batches[k] for k in keys], [outcomes[k] for k in keys]


def mids(batches: Sequence[PreparedBatch], outcomes: Sequence[BatchOutcome]
         ) -> dict[int, list[str]]:
    """Per site, the mids of the group's stored events."""
    out: dict[int, list[str]] = {}
    for batch, outcome in zip(batches, outcomes, strict=True):
        out.setdefault(batch.site_id, []).extend(ev.mid for ev in outcome.stored)
    return out

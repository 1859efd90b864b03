"""Removing stored events and quarantined rows, and everything ingest derived from them.

``retract`` runs in the caller's transaction and takes its locks in the order ingest
takes them (events, quarantine and links; outbox; sessions; learners; then the counter
rows every writer updates: event names, dashboard counters, course totals, warnings),
so it may run beside ingest on PostgreSQL. Counters are decremented by exactly what
ingest added for the removed rows (the same counting code runs on them); session
timelines lose the removed tokens; each touched learner is rebuilt from the events it
has left (``analytics.learning_rebuild``).

What is not derived from the remaining events: ``event_names`` first/last-seen times and
a session's first course and env stay as they were (both were seen). Course-start keys
(the record that a session chain started a course) stay unless the caller forgets them:
pruning keeps them so a resent old course start is still recognised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.exc import DBAPIError

from collector.analytics import timeline
from collector.analytics.derived import DerivedTables, SessionChunk
from collector.analytics.event_warnings import warning_counts
from collector.analytics.learning_rebuild import rebuild_learners
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.lifecycle.stored import EVENT_COLUMNS, as_group, mids
from collector.storage.dialect import is_postgres
from collector.storage.engine import write_transaction
from collector.storage.models import (
    COURSE_STARTS,
    DASH_SESSIONS,
    DUPLICATE_RECEIPTS,
    EVENTS,
    OUTBOX,
    REJECTED_EVENTS,
    SESSION_LINKS,
)

log = logging.getLogger(__name__)

CHUNK = 500  # values per IN list
RETRIES = 5
DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE; its message text follows lc_messages

T = TypeVar("T")


def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work`` in one write transaction; retried when PostgreSQL ends it to break a
    deadlock with ingest (it picks one side; ingest's side would have been resent)."""
    for attempt in range(RETRIES):
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except DBAPIError as exc:
            if (attempt + 1 == RETRIES
                    or getattr(exc.orig, "sqlstate", None) != DEADLOCK_DETECTED):
                raise
            log.warning("lifecycle: a transaction met ingest in a deadlock, retrying (%s)",
                        exc.orig)
    raise AssertionError("unreachable")


@dataclass(slots=True)
class Removed:
    """Rows removed, per kind (what the commands print)."""

    events: int = 0
    quarantined: int = 0
    duplicate_receipts: int = 0
    outbox: int = 0
    session_links: int = 0
    course_starts: int = 0
    sessions: int = 0  # dashboard sessions left without any event
    learners_rebuilt: int = 0  # (course, learner) pairs recomputed

    def add(self, other: Removed) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def retract(conn: Connection, events: Sequence[Any], rejected: Sequence[Any],
            *, forget_course_starts: bool) -> Removed:
    """Delete ``events`` (``stored.EVENT_COLUMNS`` rows) and ``rejected``
    (``stored.REJECTED_COLUMNS`` rows) and take back all ingest derived from them."""
    out = Removed()
    batches, outcomes = as_group(events, rejected)
    by_site = mids(batches, outcomes)
    out.events = _delete_ids(conn, EVENTS, [row.id for row in events])
    out.quarantined = _delete_ids(conn, REJECTED_EVENTS, [row.id for row in rejected])
    out.duplicate_receipts = _delete_mids(conn, DUPLICATE_RECEIPTS, by_site)
    if forget_course_starts:
        out.course_starts = _delete_mids(conn, COURSE_STARTS, by_site)
    out.session_links = _forget_links(conn, events)
    out.outbox = _delete_mids(conn, OUTBOX, by_site)
    counts = DerivedTables().count(conn, batches, outcomes)
    out.sessions = _cut_sessions(conn, counts.chunks)
    keys, learning_totals = _rebuild_learners(conn, events)
    out.learners_rebuilt = keys
    # The rows every writer updates, last and in ingest's order (see Pipeline).
    _count_names(conn, batches, outcomes)
    _subtract_counters(conn, counts.hours, counts.minutes, counts.reasons)
    learning_totals(conn)
    _subtract_warnings(conn, batches, outcomes)
    return out


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def _delete_ids(conn: Connection, table: Any, ids: list[int]) -> int:
    removed = 0
    for chunk in _chunks(sorted(ids)):
        removed += conn.execute(delete(table).where(table.c.id.in_(chunk))).rowcount
    return removed


def _delete_mids(conn: Connection, table: Any, by_site: dict[int, list[str]]) -> int:
    removed = 0
    for site, site_mids in sorted(by_site.items()):
        for chunk in _chunks(sorted(set(site_mids))):
            removed += conn.execute(delete(table).where(
                table.c.site_id == site, table.c.mid.in_(chunk))).rowcount
    return removed


def _forget_links(conn: Connection, events: Sequence[Any]) -> int:
    """Session links of the sids no remaining event uses."""
    sids: dict[int, set[str]] = {}
    for row in events:
        if row.sid:
            sids.setdefault(row.site_id, set()).add(row.sid)
    removed = 0
    for site, site_sids in sorted(sids.items()):
        for chunk in _chunks(sorted(site_sids)):
            used = set(conn.execute(select(EVENTS.c.sid).distinct().where(
                EVENTS.c.site_id == site, EVENTS.c.sid.in_(chunk))).scalars())
            gone = [sid for sid in chunk if sid not in used]
            if gone:
                removed += conn.execute(delete(SESSION_LINKS).where(
                    SESSION_LINKS.c.site_id == site, SESSION_LINKS.c.sid.in_(gone))).rowcount
    return removed


def _count_names(conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> None:
    """The per-name counters of the event catalog, less the removed events."""
    seen: dict[tuple[int, str], list[int]] = {}
    for batch, outcome in zip(batches, outcomes, strict=True):
        for ev in outcome.stored:
            counts = seen.setdefault((batch.site_id, ev.name), [0, 0])
            counts[0] += 1
            counts[1] += bool(ev.warnings)
    rows: list[dict[str, Any]] = [{"s": s, "n": n, "count": c, "warned": w}
                                  for (s, n), (c, w) in sorted(seen.items())]
    if rows:
        conn.execute(text("UPDATE event_names SET count = count - :count, "
                          "warned = warned - :warned WHERE site_id = :s AND name = :n"), rows)
        conn.execute(text("DELETE FROM event_names WHERE site_id = :s AND name = :n "
                          "AND count <= 0"), rows)


def _subtract_counters(conn: Connection, hours: dict[tuple[int, int, int], int],
                       minutes: dict[tuple[int, int], list[int]],
                       reasons: dict[tuple[int, int, str], int]) -> None:
    if hours:  # the order ingest writes them in: key hours, (sessions), minutes, reasons
        conn.execute(text("UPDATE dash_key_hours SET events = events - :n WHERE "
                          "site_id = :s AND hour = :h AND key_id = :k"),
                     [{"s": s, "h": h, "k": k, "n": n} for (s, h, k), n in sorted(hours.items())])
        conn.execute(text("DELETE FROM dash_key_hours WHERE site_id = :s AND hour = :h "
                          "AND key_id = :k AND events <= 0"),
                     [{"s": s, "h": h, "k": k} for s, h, k in sorted(hours)])
    if minutes:
        rows = [{"s": s, "m": m, "e": c[0], "cs": c[1], "ce": c[2], "r": c[3]}
                for (s, m), c in sorted(minutes.items())]
        conn.execute(text(
            "UPDATE dash_minutes SET events = events - :e, course_starts = course_starts - "
            ":cs, course_ends = course_ends - :ce, rejected = rejected - :r "
            "WHERE site_id = :s AND minute = :m"), rows)
        conn.execute(text(
            "DELETE FROM dash_minutes WHERE site_id = :s AND minute = :m AND events <= 0 "
            "AND course_starts <= 0 AND course_ends <= 0 AND rejected <= 0"), rows)
    if reasons:
        reason_rows = [{"s": s, "h": h, "r": r, "n": n}
                       for (s, h, r), n in sorted(reasons.items())]
        conn.execute(text("UPDATE dash_reject_reasons SET events = events - :n WHERE "
                          "site_id = :s AND hour = :h AND reason = :r"), reason_rows)
        conn.execute(text("DELETE FROM dash_reject_reasons WHERE site_id = :s AND "
                          "hour = :h AND reason = :r AND events <= 0"), reason_rows)


def _cut_sessions(conn: Connection, chunks: dict[tuple[int, str, str], SessionChunk]) -> int:
    """Each touched session loses the removed events' tokens; a session left without
    events is deleted. Returns how many were deleted."""
    t = DASH_SESSIONS.c
    deleted = 0
    for (site, session_id, actor), chunk in sorted(chunks.items(), key=lambda i: i[0]):
        stmt = select(t.events, t.dup_starts, t.timeline).where(
            t.site_id == site, t.session_id == session_id, t.actor_id == actor)
        if is_postgres(conn):
            stmt = stmt.with_for_update()  # ingest appends to the same row
        row = conn.execute(stmt).first()
        if row is None:
            continue
        where = (t.site_id == site, t.session_id == session_id, t.actor_id == actor)
        left = row.events - chunk.events
        if left <= 0:
            conn.execute(delete(DASH_SESSIONS).where(*where))
            deleted += 1
            continue
        words = timeline.decode(bytes(row.timeline))
        tokens = sorted(zip(timeline.all_ets(words), timeline.key_ids(words), strict=True))
        removed: dict[tuple[int, int], int] = {}
        for token in chunk.tokens:
            removed[token] = removed.get(token, 0) + 1
        kept: list[tuple[int, int]] = []
        for token in tokens:
            if removed.get(token, 0) > 0:
                removed[token] -= 1
            else:
                kept.append(token)
        conn.execute(DASH_SESSIONS.update().where(*where).values(
            events=left, dup_starts=max(0, row.dup_starts - chunk.dup_starts),
            first_ets=kept[0][0] if kept else 0, last_ets=kept[-1][0] if kept else 0,
            in_order=1, timeline=timeline.encode(kept)))
    return deleted


def _rebuild_learners(conn: Connection, events: Sequence[Any]
                      ) -> tuple[int, Callable[[Connection], None]]:
    """Rebuild every (course, learner) of the removed events from the events left;
    returns how many, and the write of the totals still to do."""
    keys = sorted({(row.site_id, row.course_id, row.actor_id) for row in events
                   if row.course_id})
    if not keys:
        return 0, lambda conn: None
    wanted = set(keys)
    remaining: list[Any] = []
    actors: dict[int, set[str]] = {}
    for site, _, actor in keys:
        actors.setdefault(site, set()).add(actor)
    e = EVENTS.c
    for site, site_actors in sorted(actors.items()):
        for chunk in _chunks(sorted(site_actors)):
            for row in conn.execute(select(*EVENT_COLUMNS).where(
                    e.site_id == site, e.actor_id.in_(chunk), e.course_id.is_not(None))):
                if (row.site_id, row.course_id, row.actor_id) in wanted:
                    remaining.append(row)
    batches, outcomes = as_group(remaining)
    return len(keys), rebuild_learners(conn, keys, batches, outcomes)


def _subtract_warnings(conn: Connection, batches: Sequence[PreparedBatch],
                       outcomes: Sequence[BatchOutcome]) -> None:
    counts, _ = warning_counts(batches, outcomes)
    if not counts:
        return
    rows = [{"s": s, "h": h, "w": w, "n": n} for (s, h, w), n in sorted(counts.items())]
    conn.execute(text("UPDATE dash_warnings SET events = events - :n WHERE site_id = :s "
                      "AND hour = :h AND warning = :w"), rows)
    conn.execute(text("DELETE FROM dash_warnings WHERE site_id = :s AND hour = :h AND "
                      "warning = :w AND events <= 0"), rows)


"""The outbox: rows written in the ingest transaction, claimed with a lease, deleted once sent.

Claiming takes due rows and stamps them with a lease (owner + expiry) in one short
transaction; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several worker processes
claim disjoint rows at the same time. A process that dies mid-send leaves a lease that
expires, and the rows are sent again: statement ids are deterministic, so the LRS
treats the resend as "already have this id", never as a second statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, false, func, insert, select, true, update

from collector.core.mapping.caliper import MAPPED_EIDS as CALIPER_EIDS
from collector.core.mapping.caliper import caliper_candidate
from collector.core.mapping.xapi import MAPPED_EIDS as XAPI_EIDS
from collector.core.mapping.xapi import xapi_candidate
from collector.ingest.persist import BatchOutcome, PersistHook, PreparedBatch
from collector.storage.dialect import insert_for, is_postgres
from collector.storage.engine import write_transaction
from collector.storage.models import EVENTS, FORWARD_STATE, OUTBOX, SITES, now_ms

TARGETS = ("xapi", "caliper")
_SQLITE_INSERT = ("INSERT INTO outbox (target, site_id, mid, created_at, next_attempt_at, "
                  "attempts, lease_until, lease_owner, failed, last_error) "
                  "VALUES (?, ?, ?, ?, 0, 0, 0, NULL, 0, NULL)")


def outbox_hook(targets: Sequence[str]) -> PersistHook:
    """A persist hook queueing, for each target, the newly stored events that can map.

    Runs inside the ingest transaction: one executemany per group, a few tuple
    appends per event (the pre-check reads columns the validator already derived).
    """
    xapi = "xapi" in targets
    caliper = "caliper" in targets

    def enqueue(conn: Connection, batches: Sequence[PreparedBatch],
                outcomes: Sequence[BatchOutcome]) -> None:
        now = now_ms()
        rows: list[tuple[str, int, str, int]] = []
        for batch, outcome in zip(batches, outcomes, strict=True):
            site = batch.site_id
            for ev in outcome.stored:
                if ev.duplicate_of is not None:
                    continue
                if xapi and xapi_candidate(ev.eid, ev.edata_type, ev.lesson_id):
                    rows.append(("xapi", site, ev.mid, now))
                if caliper and caliper_candidate(ev.eid, ev.edata_type):
                    rows.append(("caliper", site, ev.mid, now))
        if not rows:
            return
        if conn.dialect.name == "sqlite":
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.executemany(_SQLITE_INSERT, rows)
            finally:
                cur.close()
            return
        conn.execute(insert(OUTBOX), [
            {"target": t, "site_id": s, "mid": m, "created_at": c, "next_attempt_at": 0,
             "attempts": 0, "lease_until": 0, "lease_owner": None, "failed": False,
             "last_error": None}
            for t, s, m, c in rows])

    return enqueue


@dataclass(slots=True)
class Claimed:
    """A claimed outbox row with what the mapper needs (payload None: event missing)."""

    id: int
    attempts: int
    payload: str | None
    chain_id: str | None
    duplicate_of: str | None
    site: str  # the site's name: statement ids are derived from it and the mid


def claim(engine: Engine, target: str, owner: str, limit: int, lease_ms: int,
          now: int | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``target`` to ``owner``; return them in id order."""
    now = now_ms() if now is None else now
    # "failed = false", not "IS FALSE": only an equality reads ix_outbox_target_failed_id.
    due = (select(OUTBOX.c.id).where(
        OUTBOX.c.target == target, OUTBOX.c.failed == false(),
        OUTBOX.c.next_attempt_at <= now, OUTBOX.c.lease_until <= now,
    ).order_by(OUTBOX.c.id).limit(limit))
    # Select-then-update is atomic: SQLite takes the write lock at BEGIN; on PostgreSQL
    # the rows are locked, and rows other workers hold are skipped.
    if is_postgres(engine):
        due = due.with_for_update(skip_locked=True)
    with write_transaction(engine) as conn:
        ids = list(conn.scalars(due))
        if not ids:
            return []
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(
            lease_until=now + lease_ms, lease_owner=owner))
        rows = conn.execute(
            select(OUTBOX.c.id, OUTBOX.c.attempts, EVENTS.c.payload, EVENTS.c.chain_id,
                   EVENTS.c.duplicate_of, SITES.c.name)
            .select_from(OUTBOX.join(SITES, SITES.c.id == OUTBOX.c.site_id).outerjoin(
                EVENTS, and_(EVENTS.c.site_id == OUTBOX.c.site_id,
                             EVENTS.c.mid == OUTBOX.c.mid)))
            .where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id)
        ).all()
    return [Claimed(r.id, r.attempts, r.payload, r.chain_id, r.duplicate_of, r.name)
            for r in rows]


def _mine(ids: Iterable[int], owner: str) -> Any:
    return and_(OUTBOX.c.id.in_(list(ids)), OUTBOX.c.lease_owner == owner)


def _state(conn: Connection, target: str) -> None:
    """Make sure the target's state row exists (first use; several workers may race)."""
    conn.execute(insert_for(conn, FORWARD_STATE).values(target=target, sent=0, unmapped=0)
                 .on_conflict_do_nothing(index_elements=["target"]))


def complete(engine: Engine, target: str, owner: str, sent: Sequence[int],
             unmapped: Sequence[int]) -> None:
    """Delete rows the receiver acknowledged (and rows with nothing to send); count them.

    Only rows still leased to ``owner`` count: a row whose lease expired mid-send may
    have been claimed and counted by another forwarder already.
    """
    if not sent and not unmapped:
        return
    with write_transaction(engine) as conn:
        counts = [conn.execute(delete(OUTBOX).where(_mine(ids, owner))).rowcount or 0
                  if ids else 0 for ids in (sent, unmapped)]
        _state(conn, target)
        values: dict[str, Any] = {"sent": FORWARD_STATE.c.sent + counts[0],
                                  "unmapped": FORWARD_STATE.c.unmapped + counts[1]}
        if counts[0]:
            values["last_sent_at"] = now_ms()
        conn.execute(update(FORWARD_STATE).where(FORWARD_STATE.c.target == target).values(**values))


def retry_later(engine: Engine, target: str, owner: str, rows: Sequence[Claimed], error: str,
                delay_ms: int) -> None:
    """Release rows for another try after ``delay_ms``; remember the error."""
    now = now_ms()
    with write_transaction(engine) as conn:
        conn.execute(update(OUTBOX).where(_mine([r.id for r in rows], owner)).values(
            attempts=OUTBOX.c.attempts + 1, next_attempt_at=now + delay_ms, lease_until=0,
            lease_owner=None, last_error=error[:2000]))
        _record_error(conn, target, error, now)


def fail(engine: Engine, target: str, owner: str, row: Claimed, error: str) -> None:
    """The receiver refuses this row for good: keep it, flagged, with the answer."""
    now = now_ms()
    with write_transaction(engine) as conn:
        conn.execute(update(OUTBOX).where(_mine([row.id], owner)).values(
            failed=True, attempts=OUTBOX.c.attempts + 1, lease_until=0, lease_owner=None,
            last_error=error[:2000]))
        _record_error(conn, target, error, now)


def _record_error(conn: Connection, target: str, error: str, now: int) -> None:
    _state(conn, target)
    conn.execute(update(FORWARD_STATE).where(FORWARD_STATE.c.target == target).values(
        last_error=error[:2000], last_error_at=now))


def lease_owners(engine: Engine, target: str, now: int | None = None) -> list[str]:
    """Owners holding a lease of ``target`` that has not expired yet."""
    now = now_ms() if now is None else now
    with engine.connect() as conn:
        return [str(owner) for owner in conn.scalars(
            select(OUTBOX.c.lease_owner).distinct().where(
                OUTBOX.c.target == target, OUTBOX.c.lease_until > now,
                OUTBOX.c.lease_owner.is_not(None)))]


def release_leases(engine: Engine, target: str, owners: Sequence[str]) -> int:
    """Free the leases of ``target`` held by ``owners`` (forwarders known to be gone)."""
    with write_transaction(engine) as conn:
        result = conn.execute(update(OUTBOX).where(
            OUTBOX.c.target == target, OUTBOX.c.lease_owner.in_(list(owners))).values(
            lease_until=0, lease_owner=None))
    return int(result.rowcount or 0)


def requeue_failed(engine: Engine, target: str) -> int:
    """Give rows refused for good another chance (after fixing the receiver or the data)."""
    with write_transaction(engine) as conn:
        result = conn.execute(update(OUTBOX).where(
            OUTBOX.c.target == target, OUTBOX.c.failed.is_(True)).values(
            failed=False, next_attempt_at=0, attempts=0))
    return int(result.rowcount or 0)


def retry_now(engine: Engine, target: str) -> int:
    """Make rows waiting out a backoff due immediately."""
    with write_transaction(engine) as conn:
        result = conn.execute(update(OUTBOX).where(
            OUTBOX.c.target == target, OUTBOX.c.next_attempt_at > 0).values(next_attempt_at=0))
    return int(result.rowcount or 0)


def purge_refused(engine: Engine, target: str, older_than_ms: int = 0,
                  now: int | None = None) -> int:
    """Delete rows of ``target`` refused for good and queued more than ``older_than_ms`` ago."""
    cutoff = (now_ms() if now is None else now) - older_than_ms
    with write_transaction(engine) as conn:
        result = conn.execute(delete(OUTBOX).where(
            OUTBOX.c.target == target, OUTBOX.c.failed == true(),
            OUTBOX.c.created_at <= cutoff))
    return int(result.rowcount or 0)


BACKFILL_PAGE = 5000


def backfill(engine: Engine, target: str, since_ms: int | None = None,
             page: int = BACKFILL_PAGE) -> int:
    """Queue stored events of ``target``'s kinds that are not queued yet (e.g. events stored
    before forwarding was configured). Events sent earlier are sent again; the LRS
    recognises their ids.

    Events are read in pages of ``page`` by id (memory stays flat in the number of
    events), one short transaction per page. Only events stored before the start are
    considered (later ones are queued at ingest), and only outbox rows that existed at
    the start are checked for "queued already" (held in memory while it runs): rows this
    run adds are of earlier pages.
    """
    eids = sorted(XAPI_EIDS if target == "xapi" else CALIPER_EIDS)
    def mappable(eid: str, edata_type: str | None, lesson: str | None) -> bool:
        if target == "xapi":
            return xapi_candidate(eid, edata_type, lesson)
        return caliper_candidate(eid, edata_type)

    with engine.connect() as conn:
        last_event = conn.scalar(select(func.max(EVENTS.c.id))) or 0
        # What was queued at the start, read once: a NOT EXISTS per event had no index
        # to use and rescanned the outbox for every event, holding the write lock.
        queued = {(site, mid) for site, mid in conn.execute(
            select(OUTBOX.c.site_id, OUTBOX.c.mid).where(OUTBOX.c.target == target))}
    source = select(EVENTS.c.id, EVENTS.c.site_id, EVENTS.c.mid, EVENTS.c.eid,
                    EVENTS.c.edata_type, EVENTS.c.lesson_id).where(
        EVENTS.c.eid.in_(eids), EVENTS.c.duplicate_of.is_(None),
        EVENTS.c.id <= last_event)
    if since_ms is not None:
        source = source.where(EVENTS.c.ets >= since_ms)
    now = now_ms()
    count = 0
    after = 0
    while True:
        with write_transaction(engine) as conn:  # reads, then writes what it read
            rows = conn.execute(source.where(EVENTS.c.id > after)
                                .order_by(EVENTS.c.id).limit(page)).all()
            if not rows:
                return count
            after = rows[-1].id
            batch = [
                {"target": target, "site_id": r.site_id, "mid": r.mid, "created_at": now,
                 "next_attempt_at": 0,
                 "attempts": 0, "lease_until": 0, "lease_owner": None, "failed": False,
                 "last_error": None}
                for r in rows if (r.site_id, r.mid) not in queued
                and mappable(r.eid, r.edata_type, r.lesson_id)]
            if batch:
                conn.execute(insert(OUTBOX), batch)
            count += len(batch)


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Flat integer counts for ``collector stats``: ``<target>_pending|failed|sent|unmapped``."""
    counts = {f"{t}_{k}": 0 for t in TARGETS for k in ("pending", "failed", "sent", "unmapped")}
    for target, failed, n in conn.execute(
            select(OUTBOX.c.target, OUTBOX.c.failed, func.count())
            .group_by(OUTBOX.c.target, OUTBOX.c.failed)):
        if target in TARGETS:
            counts[f"{target}_{'failed' if failed else 'pending'}"] = int(n)
    for target, sent, unmapped in conn.execute(
            select(FORWARD_STATE.c.target, FORWARD_STATE.c.sent, FORWARD_STATE.c.unmapped)):
        if target in TARGETS:
            counts[f"{target}_sent"] = int(sent)
            counts[f"{target}_unmapped"] = int(unmapped)
    return counts


def target_status(engine: Engine, target: str) -> dict[str, Any]:
    """Counts plus the last outcome of one target (dashboard status)."""
    with engine.connect() as conn:
        counts = outbox_counts(conn)
        row = conn.execute(select(FORWARD_STATE).where(FORWARD_STATE.c.target == target)).first()
        oldest = conn.scalar(select(func.min(OUTBOX.c.created_at)).where(
            OUTBOX.c.target == target, OUTBOX.c.failed.is_(False)))
        last_failure = conn.scalar(select(OUTBOX.c.last_error).where(
            OUTBOX.c.target == target, OUTBOX.c.failed.is_(True)).order_by(
            OUTBOX.c.id.desc()).limit(1))
    status: dict[str, Any] = {
        k.split("_", 1)[1]: v for k, v in counts.items() if k.startswith(target + "_")}
    status.update({
        "oldest_pending_at": oldest,
        "last_sent_at": row.last_sent_at if row else None,
        "last_error": row.last_error if row else None,
        "last_error_at": row.last_error_at if row else None,
        "last_refusal": last_failure,
    })
    return status

"""Retention: events older than a date go, in batches, each its own short transaction.

An event is old by its client time (``ets``); a quarantined row by the time it was
received (it may have no usable ``ets``). Every batch removes up to ``batch`` events
with everything ingest derived from them (``retract``), so the dashboards agree with the
events left after each commit, and ingest only ever waits for one batch's locks. A
deadlock with ingest (PostgreSQL picks one side) retries the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from collector.lifecycle.retract import Removed, in_transaction, retract
from collector.lifecycle.stored import EVENT_COLUMNS, REJECTED_COLUMNS
from collector.storage.models import EVENTS, REJECTED_EVENTS, SITES

BATCH = 2000


@dataclass(slots=True)
class SitePrune:
    site: str
    events: int  # to remove (dry run) or removed
    quarantined: int


@dataclass(slots=True)
class Pruning:
    before_ms: int
    dry_run: bool
    sites: list[SitePrune] = field(default_factory=list)
    removed: Removed = field(default_factory=Removed)
    seconds: float = 0.0


def _sites(conn: Connection, site: str | None) -> list[tuple[int, str]]:
    stmt = select(SITES.c.id, SITES.c.name).order_by(SITES.c.name)
    if site is not None:
        stmt = stmt.where(SITES.c.name == site)
    found = [(int(i), str(n)) for i, n in conn.execute(stmt).all()]
    if site is not None and not found:
        raise ValueError(f"--site: no site named {site!r}")
    return found


def count_old(conn: Connection, site_id: int, before_ms: int) -> tuple[int, int]:
    events = conn.scalar(select(func.count()).select_from(EVENTS).where(
        EVENTS.c.site_id == site_id, EVENTS.c.ets < before_ms)) or 0
    rejected = conn.scalar(select(func.count()).select_from(REJECTED_EVENTS).where(
        REJECTED_EVENTS.c.site_id == site_id, REJECTED_EVENTS.c.received_at < before_ms)) or 0
    return int(events), int(rejected)


def prune_events(engine: Engine, before_ms: int, *, site: str | None = None,
                 dry_run: bool = False, batch: int = BATCH,
                 progress: Callable[[str, int, int], None] | None = None) -> Pruning:
    """Remove the events with ``ets`` before ``before_ms`` and the quarantined rows
    received before it, of one site or all; ``dry_run`` only counts them.
    ``progress(site, removed so far, total)`` is called after each batch."""
    started = time.monotonic()
    out = Pruning(before_ms, dry_run)
    with engine.connect() as conn:
        sites = _sites(conn, site)
        totals = {site_id: count_old(conn, site_id, before_ms) for site_id, _ in sites}
    for site_id, name in sites:
        events, rejected = totals[site_id]
        out.sites.append(SitePrune(name, events, rejected))
        if dry_run or not (events or rejected):
            continue
        done = 0
        cursor = ""  # learner by learner: each is rebuilt about once, not once per batch
        while True:
            removed, rows = _one_batch(engine, partial(
                _old_events, site_id=site_id, before_ms=before_ms, cursor=cursor, batch=batch))
            if not rows:
                break
            cursor = rows[-1].actor_id
            out.removed.add(removed)
            done += removed.events
            if progress is not None:
                progress(name, done, events + rejected)
        while True:
            removed, rows = _one_batch(engine, partial(
                _old_quarantine, site_id=site_id, before_ms=before_ms, batch=batch))
            if not rows:
                break
            out.removed.add(removed)
            done += removed.quarantined
            if progress is not None:
                progress(name, done, events + rejected)
    out.seconds = time.monotonic() - started
    return out


def _old_events(conn: Connection, *, site_id: int, before_ms: int, cursor: str,
                batch: int) -> tuple[list[Any], list[Any]]:
    """Up to ``batch`` old events, learner by learner from ``cursor`` on (index on site
    and learner): a learner's remaining events are read once to rebuild it, so taking
    all of a learner's old events together costs far less than taking them by time."""
    e = EVENTS.c
    return list(conn.execute(select(*EVENT_COLUMNS).where(
        e.site_id == site_id, e.actor_id >= cursor, e.ets < before_ms)
        .order_by(e.actor_id, e.ets, e.id).limit(batch)).all()), []


def _old_quarantine(conn: Connection, *, site_id: int, before_ms: int, batch: int
                    ) -> tuple[list[Any], list[Any]]:
    q = REJECTED_EVENTS.c
    return [], list(conn.execute(select(*REJECTED_COLUMNS).where(
        q.site_id == site_id, q.received_at < before_ms)
        .order_by(q.received_at, q.id).limit(batch)).all())


def _one_batch(engine: Engine, rows: Callable[[Connection], tuple[list[Any], list[Any]]]
               ) -> tuple[Removed, list[Any]]:
    """One transaction: the rows chosen, retracted. Returns what went and the rows."""
    def work(conn: Connection) -> tuple[Removed, list[Any]]:
        events, rejected = rows(conn)
        return retract(conn, events, rejected, forget_course_starts=False), events or rejected

    return in_transaction(engine, work)

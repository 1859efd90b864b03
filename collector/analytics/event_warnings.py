"""Events stored with warnings: counted per site, hour and kind at ingest, and read back.

A warning names something a client missed (a convention of ours, a soft spec problem)
without refusing the event. Course teams see them grouped per site on the dashboard;
the counts are kept in the ingest transaction so the page never rescans events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Connection, select

from collector.analytics.upserts import PreparedUpsert
from collector.ingest.persist import BatchOutcome, CounterWrites, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.dialect import insert_for
from collector.storage.models import DASH_WARNINGS, EVENTS, Site

MAX_WARNING = 300
MAX_GROUPS = 200
_NUMBER = re.compile(r"\b\d+\b")  # whole numbers only: names like quiz2 stay apart


def warning_kind(message: str) -> str:
    """The warning without its per-event details (what follows ``; ``, numbers).

    ``"ets: 1763000000 looks like seconds, not milliseconds; read as 1763000000000"``
    and the same warning of another event are one kind:
    ``"ets: N looks like seconds, not milliseconds"``.
    """
    return _NUMBER.sub("N", message.split("; ", 1)[0])[:MAX_WARNING]


def _warning_upsert(dialect: str) -> object:
    stmt = insert_for(dialect, DASH_WARNINGS)
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "hour", "warning"],
        set_={"events": DASH_WARNINGS.c.events + stmt.excluded.events,
              "example_mid": stmt.excluded.example_mid})


WARNING_UPSERT = PreparedUpsert(_warning_upsert)


def warning_counts(batches: Sequence[PreparedBatch], outcomes: Sequence[BatchOutcome]
                   ) -> tuple[dict[tuple[int, int, str], int], dict[tuple[int, int, str], str]]:
    """Per (site, hour, kind of warning): how many stored events carry it, and the mid
    of the latest of them."""
    counts: dict[tuple[int, int, str], int] = {}
    examples: dict[tuple[int, int, str], str] = {}
    for batch, outcome in zip(batches, outcomes, strict=True):
        hour = batch.received_at // 3_600_000
        for ev in outcome.stored:
            if not ev.warnings:
                continue
            for kind in dict.fromkeys(map(warning_kind, ev.warnings)):
                key = (batch.site_id, hour, kind)
                counts[key] = counts.get(key, 0) + 1
                examples[key] = ev.mid  # the latest event is the example
    return counts, examples


def count_warnings(conn: Connection, batches: Sequence[PreparedBatch],
                   outcomes: Sequence[BatchOutcome]) -> CounterWrites | None:
    """Persist hook: one counter row per (site, hour, kind of warning) touched, written
    with the other counters at the end of the transaction."""
    counts, examples = warning_counts(batches, outcomes)
    if not counts:
        return None

    def write(conn: Connection) -> None:
        WARNING_UPSERT.execute(conn, [
            {"site_id": s, "hour": h, "warning": w, "events": n,
             "example_mid": examples[(s, h, w)]}
            for (s, h, w), n in sorted(counts.items())])  # sorted: one lock order

    return write


def init_app(app: Flask) -> None:
    """Count warnings in every ingest transaction."""
    get_pipeline(app).in_transaction(count_warnings)


@dataclass(slots=True)
class WarningGroup:
    site: str
    warning: str
    events: int
    example_mid: str
    example: str | None  # the example event as received (None once deleted)


def warning_groups(conn: Connection, site_id: int | None, since_ms: int,
                   warning: str | None = None) -> list[WarningGroup]:
    """Warnings per site since ``since_ms``, most frequent first, each with its latest
    example event."""
    w = DASH_WARNINGS.c
    stmt = (select(w.site_id, Site.name, w.hour, w.warning, w.events, w.example_mid)
            .join(Site, Site.id == w.site_id)
            .where(w.hour >= since_ms // 3_600_000).order_by(w.hour))
    if site_id is not None:
        stmt = stmt.where(w.site_id == site_id)
    if warning:
        stmt = stmt.where(w.warning.contains(warning, autoescape=True))
    groups: dict[tuple[int, str], WarningGroup] = {}
    for sid, site, _hour, kind, events, mid in conn.execute(stmt):
        group = groups.get((sid, kind))
        if group is None:
            groups[(sid, kind)] = WarningGroup(site, kind, int(events), mid, None)
        else:
            group.events += int(events)
            group.example_mid = mid  # rows come oldest hour first: the last is the latest
    shown = sorted(groups.items(), key=lambda i: (-i[1].events, i[1].site, i[1].warning))
    shown = shown[:MAX_GROUPS]
    e = EVENTS.c
    for (sid, _), group in shown:
        group.example = conn.execute(select(e.payload).where(
            e.site_id == sid, e.mid == group.example_mid)).scalar()
    return [group for _, group in shown]

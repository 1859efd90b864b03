"""Rejected events: reasons grouped (kept at ingest), counts over time, raw payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, literal_column, select

from collector.storage.models import DASH_MINUTES, DASH_REJECT_REASONS, REJECTED_EVENTS, Site

RAW_PAGE = 50


@dataclass(slots=True)
class RejectedView:
    reasons: list[tuple[str, int]]
    per_hour: list[tuple[int, int]]  # hour (server time) -> rejected events
    latest: list[dict[str, Any]]


def rejected_view(conn: Connection, site_id: int | None, since_ms: int, *,
                  reason: str | None = None, limit: int = RAW_PAGE) -> RejectedView:
    r = DASH_REJECT_REASONS.c
    stmt = (select(r.reason, func.sum(r.events).label("n"))
            .where(r.hour >= since_ms // 3_600_000).group_by(r.reason)
            .order_by(func.sum(r.events).desc(), r.reason).limit(100))
    m = DASH_MINUTES.c
    # Integer division by an inlined constant: with a bound parameter each occurrence
    # gets its own, and PostgreSQL then sees SELECT and GROUP BY as different expressions.
    hour = (m.minute // literal_column("60")).label("hour")
    hourly = (select(hour, func.sum(m.rejected))
              .where(m.minute >= since_ms // 60_000, m.rejected > 0)
              .group_by(hour).order_by(hour))
    q = REJECTED_EVENTS.c
    raw = (select(q.id, Site.name, q.transport, q.received_at, q.batch_index, q.mid, q.reasons,
                  q.payload).outerjoin(Site, Site.id == q.site_id)
           .order_by(q.id.desc()).limit(limit))
    if site_id is not None:
        stmt = stmt.where(r.site_id == site_id)
        hourly = hourly.where(m.site_id == site_id)
        raw = raw.where(q.site_id == site_id)
    if reason:
        # Scans newest first and stops at ``limit`` rows: cheap while matches are recent.
        raw = raw.where(q.reasons.contains(json.dumps(reason)[1:-1], autoescape=True))
    return RejectedView(
        reasons=[(row[0], int(row[1])) for row in conn.execute(stmt)],
        per_hour=[(int(row[0]), int(row[1])) for row in conn.execute(hourly)],
        latest=[{"id": row[0], "site": row[1], "transport": row[2], "received_at": row[3],
                 "index": row[4], "mid": row[5], "reasons": _reasons(row[6]),
                 "payload": row[7]} for row in conn.execute(raw)],
    )


def _reasons(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]

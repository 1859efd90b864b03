"""Overview figures: per-minute counts, active sessions, top pages, the latest events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from collector.analytics.keys import KeyInfo
from collector.analytics.pathrules import Cleaner
from collector.storage.models import (
    DASH_KEY_HOURS,
    DASH_MINUTES,
    DASH_SESSIONS,
    EVENTS,
    Site,
    now_ms,
)

ACTIVE_MS = 5 * 60_000
TAIL = 20


@dataclass(slots=True)
class Overview:
    totals: dict[str, int]
    minutes: list[tuple[int, int, int, int, int]]  # minute, events, starts, ends, rejected
    active_sessions: int
    top_pages: list[tuple[str, int]]
    tail: list[dict[str, Any]]


def overview(conn: Connection, keys: dict[int, KeyInfo], cleaners: dict[int, Cleaner],
             site_id: int | None, *, minutes: int = 60, now: int | None = None) -> Overview:
    """Everything the overview page shows, from the derived tables (plus the newest rows)."""
    now = now_ms() if now is None else now
    m = DASH_MINUTES.c
    site_filter = [m.site_id == site_id] if site_id is not None else []
    sums = conn.execute(select(func.coalesce(func.sum(m.events), 0),
                               func.coalesce(func.sum(m.course_starts), 0),
                               func.coalesce(func.sum(m.course_ends), 0),
                               func.coalesce(func.sum(m.rejected), 0)).where(*site_filter)).one()
    s = DASH_SESSIONS.c
    sessions = select(func.count(func.distinct(s.session_id))).where(s.session_id != "")
    active = sessions.where(s.last_received >= now - ACTIVE_MS)
    if site_id is not None:
        sessions = sessions.where(s.site_id == site_id)
        active = active.where(s.site_id == site_id)
    first_minute = now // 60_000 - minutes + 1
    rows = conn.execute(
        select(m.minute, func.sum(m.events), func.sum(m.course_starts), func.sum(m.course_ends),
               func.sum(m.rejected))
        .where(m.minute >= first_minute, *site_filter).group_by(m.minute).order_by(m.minute))
    by_minute = {r[0]: tuple(int(v) for v in r[1:]) for r in rows}
    series = [(mi, *by_minute.get(mi, (0, 0, 0, 0))) for mi in range(first_minute,
                                                                     first_minute + minutes)]
    return Overview(
        totals={"events": int(sums[0]), "course_starts": int(sums[1]),
                "course_ends": int(sums[2]), "rejected": int(sums[3]),
                "sessions": int(conn.execute(sessions).scalar_one())},
        minutes=series,  # type: ignore[arg-type]
        active_sessions=int(conn.execute(active).scalar_one()),
        top_pages=top_pages(conn, keys, cleaners, site_id, since_ms=now - 86_400_000),
        tail=latest_events(conn, site_id),
    )


def top_pages(conn: Connection, keys: dict[int, KeyInfo], cleaners: dict[int, Cleaner],
              site_id: int | None, *, since_ms: int, limit: int = 10) -> list[tuple[str, int]]:
    """Most viewed pages (cleaned labels) since ``since_ms`` (server time, hourly)."""
    h = DASH_KEY_HOURS.c
    stmt = (select(h.key_id, func.sum(h.events)).where(h.hour >= since_ms // 3_600_000)
            .group_by(h.key_id))
    if site_id is not None:
        stmt = stmt.where(h.site_id == site_id)
    counts: dict[str, int] = {}
    for key_id, n in conn.execute(stmt):
        key = keys.get(key_id)
        if key is None or key.eid != "IMPRESSION":
            continue
        cleaner = cleaners.get(key.site_id)
        label = cleaner(key.page_label) if cleaner else key.page_label
        counts[label] = counts.get(label, 0) + int(n)
    return sorted(counts.items(), key=lambda i: (-i[1], i[0]))[:limit]


def latest_events(conn: Connection, site_id: int | None, limit: int = TAIL
                  ) -> list[dict[str, Any]]:
    """The newest stored events, in the shape live updates use."""
    e = EVENTS.c
    stmt = (select(Site.name, e.mid, e.eid, e.name, e.ets, e.sid, e.actor_id, e.course_id,
                   e.lesson_id, e.page_id, e.uri, e.object_id, e.edata_type, e.duplicate_of)
            .join(Site, Site.id == e.site_id).order_by(e.id.desc()).limit(limit))
    if site_id is not None:
        stmt = stmt.where(e.site_id == site_id)
    keys = ("site", "mid", "eid", "name", "ets", "sid", "actor", "course", "lesson", "page",
            "uri", "object", "type", "duplicate_of")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(stmt)]

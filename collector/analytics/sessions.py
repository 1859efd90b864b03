"""Session explorer: sessions from the derived table, one session's events in time order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from collector.analytics.scope import Scope, session_clauses
from collector.storage.models import DASH_SESSIONS, EVENTS, SessionLink, Site

PAGE = 100
MAX_TIMELINE = 2000


@dataclass(frozen=True, slots=True)
class SessionFilter:
    scope: Scope = Scope()
    actor: str | None = None
    duplicates_only: bool = False
    before: int | None = None  # keyset cursor: last_received of the previous page's end


def list_sessions(conn: Connection, flt: SessionFilter, limit: int = PAGE) -> list[Any]:
    """Newest sessions first (by last event received)."""
    s = DASH_SESSIONS.c
    stmt = (select(Site.name.label("site"), s.site_id, s.session_id, s.actor_id, s.course_id,
                   s.env, s.first_ets, s.last_ets, s.last_received, s.events, s.dup_starts)
            .join(Site, Site.id == s.site_id).where(s.session_id != "")
            .where(*session_clauses(flt.scope, course=True))
            .order_by(s.last_received.desc(), s.session_id, s.actor_id).limit(limit))
    if flt.actor:
        stmt = stmt.where(s.actor_id == flt.actor)
    if flt.duplicates_only:
        stmt = stmt.where(s.dup_starts > 0)
    if flt.before is not None:
        stmt = stmt.where(s.last_received < flt.before)
    return list(conn.execute(stmt))


@dataclass(slots=True)
class TimelineEvent:
    id: int
    site: str
    mid: str
    name: str
    ets: int
    received_at: int
    sid: str | None
    actor_id: str
    duplicate_of: str | None
    warnings: list[str]
    payload: str  # pretty-printed JSON


def session_events(conn: Connection, session_id: str, site_id: int | None = None
                   ) -> list[TimelineEvent]:
    """Every event of the session chain rooted at (or containing) ``session_id``."""
    links = select(SessionLink.site_id, SessionLink.root_sid).where(
        SessionLink.sid == session_id)
    if site_id is not None:
        links = links.where(SessionLink.site_id == site_id)
    roots = list(conn.execute(links))
    sids: set[tuple[int, str]] = {(site, session_id) for site, _ in roots}
    for site, root in roots:
        sids.update((site, sid) for sid in conn.execute(
            select(SessionLink.sid).where(SessionLink.site_id == site,
                                          SessionLink.root_sid == root)).scalars())
    e = EVENTS.c
    out: list[TimelineEvent] = []
    for site, sid in sorted(sids):
        rows = conn.execute(
            select(e.id, Site.name, e.mid, e.name, e.ets, e.received_at, e.sid, e.actor_id,
                   e.duplicate_of, e.warnings, e.payload).join(Site, Site.id == e.site_id)
            .where(e.sid == sid, e.site_id == site).order_by(e.ets, e.id).limit(MAX_TIMELINE))
        for row in rows:
            out.append(TimelineEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                                     row[7], row[8], json.loads(row[9]) if row[9] else [],
                                     _pretty(row[10])))
    out.sort(key=lambda ev: (ev.ets, ev.id))
    return out[:MAX_TIMELINE]


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return payload

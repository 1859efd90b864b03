"""What a dashboard looks at: site, course, environment and a client-time range."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from collector.storage.models import DASH_SESSIONS


@dataclass(frozen=True, slots=True)
class Scope:
    site_id: int | None = None
    course: str | None = None
    env: str | None = None
    since_ms: int | None = None  # client time (ets), inclusive
    until_ms: int | None = None  # exclusive

    def has_time(self) -> bool:
        return self.since_ms is not None or self.until_ms is not None

    def in_time(self, ets: int) -> bool:
        return ((self.since_ms is None or ets >= self.since_ms)
                and (self.until_ms is None or ets < self.until_ms))


def session_clauses(scope: Scope, *, course: bool = False) -> list[Any]:
    """``scope`` as WHERE clauses on ``dash_sessions``: sessions of the site and environment
    (and course, with ``course``) whose events overlap the time range."""
    t = DASH_SESSIONS.c
    clauses: list[Any] = []
    if scope.site_id is not None:
        clauses.append(t.site_id == scope.site_id)
    if course and scope.course:
        clauses.append(t.course_id == scope.course)
    if scope.env:
        clauses.append(t.env == scope.env)
    if scope.since_ms is not None:
        clauses.append(t.last_ets >= scope.since_ms)
    if scope.until_ms is not None:
        clauses.append(t.first_ets < scope.until_ms)
    return clauses


def timelines(conn: Connection, scope: Scope, *, with_sessions_only: bool = False
              ) -> Iterator[Any]:
    """Rows (site_id, session_id, actor_id, in_order, timeline) that may hold events in scope.

    Course is not filtered here: a session can visit several courses, so callers filter
    tokens by the course of their key.
    """
    t = DASH_SESSIONS.c
    stmt = select(t.site_id, t.session_id, t.actor_id, t.in_order, t.timeline).where(
        *session_clauses(scope))
    if with_sessions_only:
        stmt = stmt.where(t.session_id != "")
    yield from conn.execute(stmt)

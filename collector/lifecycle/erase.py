"""The right to erasure: every row that holds a learner's events, in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select, text

from collector.lifecycle.retract import Removed, in_transaction, retract
from collector.lifecycle.stored import EVENT_COLUMNS, REJECTED_COLUMNS
from collector.storage.models import (
    COURSE_STARTS,
    DASH_SESSIONS,
    EVENT_NAMES,
    EVENTS,
    REJECTED_EVENTS,
    SITES,
)


class AmbiguousLearner(ValueError):
    """No site was named and several sites hold the learner."""

    def __init__(self, actor: str, sites: list[str]) -> None:
        super().__init__(f"learner {actor!r} is known to several sites ({', '.join(sites)}): "
                         "name one with --site")
        self.sites = sites


@dataclass(slots=True)
class Erasure:
    site: str | None  # None: no site holds the learner
    removed: Removed


def _quarantined(conn: Connection, site_id: int, actor: str) -> list[object]:
    """Quarantined rows of the site whose payload names the learner (as a JSON string:
    its id wherever it appears, since a refused event may be malformed anywhere)."""
    needle = json.dumps(actor, ensure_ascii=False)
    q = REJECTED_EVENTS.c
    return [row for row in conn.execute(select(*REJECTED_COLUMNS, q.payload).where(
        q.site_id == site_id, q.payload.contains(needle, autoescape=True)))
        if needle in row.payload]  # SQLite's LIKE ignores ASCII case: check exactly


def sites_holding(conn: Connection, actor: str, site: str | None) -> list[tuple[int, str]]:
    """(id, name) of the sites with events or quarantined rows of the learner."""
    stmt = select(SITES.c.id, SITES.c.name).order_by(SITES.c.name)
    if site is not None:
        stmt = stmt.where(SITES.c.name == site)
    found = []
    for site_id, name in conn.execute(stmt).all():
        has_events = conn.execute(select(EVENTS.c.id).where(
            EVENTS.c.site_id == site_id, EVENTS.c.actor_id == actor).limit(1)).first()
        if has_events is not None or _quarantined(conn, site_id, actor):
            found.append((site_id, name))
    return found


def erase_learner(engine: Engine, actor: str, site: str | None = None) -> Erasure:
    """Remove the learner's events, quarantined rows, dashboard and learning rows,
    outbox rows, course-start keys and session links, in one transaction.

    ``site`` names the site; without it the learner must be known to one site at most
    (``AmbiguousLearner`` otherwise). A learner no site knows removes nothing.
    """
    def work(conn: Connection) -> Erasure:
        if site is not None and conn.execute(
                select(SITES.c.id).where(SITES.c.name == site)).first() is None:
            raise ValueError(f"--site: no site named {site!r}")
        holding = sites_holding(conn, actor, site)
        if len(holding) > 1:
            raise AmbiguousLearner(actor, [name for _, name in holding])
        if not holding:
            return Erasure(None, Removed())
        ((site_id, name),) = holding
        events = conn.execute(select(*EVENT_COLUMNS).where(
            EVENTS.c.site_id == site_id, EVENTS.c.actor_id == actor)
            .order_by(EVENTS.c.id)).all()
        removed = retract(conn, events, _quarantined(conn, site_id, actor),
                          forget_course_starts=True)
        # What is keyed by the learner and holds no event of theirs any more.
        removed.course_starts += conn.execute(delete(COURSE_STARTS).where(
            COURSE_STARTS.c.site_id == site_id, COURSE_STARTS.c.actor_id == actor)).rowcount
        removed.sessions += conn.execute(delete(DASH_SESSIONS).where(
            DASH_SESSIONS.c.site_id == site_id, DASH_SESSIONS.c.actor_id == actor)).rowcount
        _scrub_examples(conn, site_id, actor)
        return Erasure(name, removed)

    return in_transaction(engine, work)


def _scrub_examples(conn: Connection, site_id: int, actor: str) -> None:
    """The event catalog keeps one example payload per name: drop those naming the
    learner (the next event of that name becomes the example)."""
    needle = json.dumps(actor, ensure_ascii=False)
    n = EVENT_NAMES.c
    rows = conn.execute(select(n.name, n.example).where(
        n.site_id == site_id, n.example.contains(needle, autoescape=True))).all()
    names = [{"s": site_id, "n": name} for name, example in rows if needle in example]
    if names:
        conn.execute(text("UPDATE event_names SET example = NULL WHERE site_id = :s "
                          "AND name = :n"), names)

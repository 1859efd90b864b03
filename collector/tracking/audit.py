"""The collector's own audit events, recorded through :mod:`collector.tracking.tracker`.

One call per fact, each safe to call from any code path: it registers the event type
on first use, never raises (a failure is logged) and stores the event as site
``collector``. ``export_downloaded`` is the one-line call for export views::

    audit.export_downloaded(app, user=g.user, kind="xapi", fmt="ndjson", course=None)
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from collector.tracking.tracker import get_tracker

log = logging.getLogger("collector.audit")

SITE_CREATED = "collector.site.created"
USER_LOGGED_IN = "collector.user.logged_in"
EXPORT_DOWNLOADED = "collector.export.downloaded"
REGISTER = "collector.register"
LEARNER_ERASED = "collector.learner.erased"
EVENTS_PRUNED = "collector.events.pruned"

# name -> (description, field descriptions); version 1 of each.
AUDIT_EVENTS: dict[str, tuple[str, dict[str, str]]] = {
    SITE_CREATED: ("A site (write key and allowed origins) was created.", {
        "site": "Name of the new site.",
        "origins": "Browser origins allowed to send with its write key.",
        "via": "Where it was created: 'cli' (collector site add) or 'bootstrap' "
               "(first run of collector serve).",
    }),
    USER_LOGGED_IN: ("A dashboard user logged in.", {
        "username": "The user's name.",
        "address": "Client address of the login request.",
    }),
    EXPORT_DOWNLOADED: ("A user downloaded an export.", {
        "username": "The user's name.",
        "kind": "What was exported: xapi, caliper or v3.",
        "format": "json or ndjson.",
        "filters": "The filters applied (since, until, course), null when unset.",
    }),
    LEARNER_ERASED: ("A learner's data was erased (collector learner erase). The learner's "
                     "id is not recorded.", {
        "site": "The site the learner was erased from.",
        "removed": "Rows removed, per kind (events, quarantined, outbox, ...).",
    }),
    EVENTS_PRUNED: ("Events older than a date were removed (collector events prune).", {
        "before": "The cut-off, ISO 8601: events with an earlier ets went.",
        "site": "The site pruned, or null for every site.",
        "removed": "Rows removed, per kind (events, quarantined, outbox, ...).",
    }),
    REGISTER: ("A browser registered an event type (ck('register', name, meta)).", {
        "name": "The dotted event name registered.",
        "description": "What the event means and when it is emitted.",
        "fields": "Field name -> description.",
        "version": "Version of the registration (a changed field set needs a new one).",
    }),
}


def register_audit_events(app: Flask) -> None:
    """Register the collector's own event types (idempotent; updates descriptions)."""
    tracker = get_tracker(app)
    for name, (description, fields) in AUDIT_EVENTS.items():
        tracker.register(name, description, fields)


def record(app: Flask, name: str, data: dict[str, Any], *, actor: str | None = None) -> None:
    """Emit audit event ``name``; never raises."""
    try:
        if not app.extensions.get("collector.audit_registered"):
            register_audit_events(app)
            app.extensions["collector.audit_registered"] = True
        tracker = get_tracker(app)
        ctx = {"actor_id": actor, "actor_type": "User"} if actor else {}
        with tracker.context("collector.audit", ctx):
            tracker.emit(name, data)
    except Exception:  # noqa: BLE001 - auditing must never break the audited action
        log.exception("audit: could not record %s", name)


def site_created(app: Flask, site: str, origins: list[str], via: str) -> None:
    record(app, SITE_CREATED, {"site": site, "origins": origins, "via": via})


def user_logged_in(app: Flask, username: str, address: str | None) -> None:
    record(app, USER_LOGGED_IN, {"username": username, "address": address}, actor=username)


def export_downloaded(app: Flask, *, user: str | None, kind: str, fmt: str,
                      since: str | None = None, until: str | None = None,
                      course: str | None = None) -> None:
    filters = {"since": since, "until": until, "course": course}
    record(app, EXPORT_DOWNLOADED,
           {"username": user, "kind": kind, "format": fmt, "filters": filters}, actor=user)


def learner_erased(app: Flask, site: str, removed: dict[str, int]) -> None:
    """Erasure is recorded without the learner's id: the record must not undo it."""
    record(app, LEARNER_ERASED, {"site": site, "removed": removed})


def events_pruned(app: Flask, before: str, site: str | None, removed: dict[str, int]) -> None:
    record(app, EVENTS_PRUNED, {"before": before, "site": site, "removed": removed})

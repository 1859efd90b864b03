"""The tracking backend that stores events through the ingest pipeline.

A tracked event becomes a Telemetry V3 ``EXDATA`` event ``edata {type: name, data,
version, context}`` and enters ``Pipeline.ingest_events`` like any other (validation,
registry checks, dedupe, live hub, derived tables) with transport ``python``. It
belongs to the internal site ``collector`` (created on first use, no browser origins:
its write key is never needed by a client).

Well-known context keys are lifted into the V3 envelope so the stored columns are
filled: ``actor_id``/``actor_type`` -> actor, ``sid``, ``did``, ``channel``, ``env``,
``course_id``/``lesson_id`` -> ``context.cdata``.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from collector import __version__
from collector.ingest.pipeline import get_pipeline
from collector.storage import engine as db
from collector.storage.models import Site
from collector.storage.sites import SiteAuth, create_site

INTERNAL_SITE = "collector"
WRITER_THREAD = "collector-writer"  # see collector.ingest.writer.BatchWriter


def internal_site(app: Flask) -> SiteAuth:
    """The site the collector's own events belong to; created when missing."""
    with db.write_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == INTERNAL_SITE))
        if site_id is None:
            try:
                site = create_site(s, INTERNAL_SITE, [])
                s.commit()
                site_id = site.id
            except IntegrityError:  # another process created it first
                s.rollback()
                site_id = s.scalar(select(Site.id).where(Site.name == INTERNAL_SITE))
    return SiteAuth(int(site_id), INTERNAL_SITE, frozenset())  # type: ignore[arg-type]


def v3_event(event: dict[str, Any]) -> dict[str, Any]:
    """The V3 EXDATA form of a tracked event."""
    ctx: dict[str, Any] = event.get("context") or {}
    actor_id = ctx.get("actor_id")
    cdata = [{"type": kind, "id": str(ctx[key])}
             for key, kind in (("course_id", "Course"), ("lesson_id", "Lesson"))
             if ctx.get(key)]
    context: dict[str, Any] = {
        "channel": str(ctx.get("channel") or "collector"),
        "env": str(ctx.get("env") or "server"),
        "pdata": {"id": "collector", "ver": __version__, "pid": "collector.tracking"},
        "cdata": cdata,
    }
    for key in ("sid", "did"):
        if ctx.get(key):
            context[key] = str(ctx[key])
    edata: dict[str, Any] = {"type": event["name"], "data": event.get("data") or {}}
    if event.get("version") is not None:
        edata["version"] = event["version"]
    if ctx:
        edata["context"] = ctx
    return {
        "eid": "EXDATA", "ets": event["ets"], "ver": "3.0", "mid": event["mid"],
        "actor": {"id": str(actor_id or "collector"),
                  "type": str(ctx.get("actor_type") or ("User" if actor_id else "System"))},
        "context": context, "edata": edata, "tags": [],
    }


class DatabaseBackend:
    """``send(event)`` stores the event through the app's ingest pipeline and waits
    for its commit; a rejected event raises (the tracker logs it)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._site: SiteAuth | None = None
        self._lock = threading.Lock()

    def site(self) -> SiteAuth:
        if self._site is None:
            with self._lock:
                if self._site is None:
                    self._site = internal_site(self.app)
        return self._site

    def send(self, event: dict[str, Any]) -> None:

        if threading.current_thread().name == WRITER_THREAD:
            # The writer would wait for its own commit: emit after the commit instead
            # (a pipeline listener), never from a persist hook.
            raise RuntimeError(f"cannot store {event['name']} from the writer thread")
        raw = msgspec.json.encode(v3_event(event))
        result = get_pipeline(self.app).ingest_events(self.site(), [raw], transport="python")
        if result.rejected:
            raise ValueError(f"event {event['name']} (mid {event['mid']}) rejected: "
                             f"{'; '.join(result.rejected[0]['errors'])}")

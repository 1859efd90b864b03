"""The ingest pipeline every door calls.

decode -> validate each event -> enrich (site, server time, session chain) -> dedupe by
mid -> persist the batch in one transaction -> ack -> publish to the live hub.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from collector.db import StorageUnavailable
from collector.events.envelope import EnvelopeError, decode_envelope
from collector.events.validate import RejectedEvent, ValidEvent, validate_event
from collector.live import LiveHub
from collector.models import now_ms
from collector.persist import BatchOutcome, PreparedBatch, row_values
from collector.ratelimit import EventRateLimiter, RateLimited
from collector.sites import SiteAuth
from collector.writer import BatchWriter

log = logging.getLogger(__name__)

MAX_EVENTS_PER_BATCH = 10_000


@dataclass(slots=True)
class IngestResult:
    """What a client is told once its batch is committed."""

    batch_id: Any
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    msgid: Any = None

    def ack(self) -> dict[str, Any]:
        """The WebSocket ack frame / the ``result`` of the HTTP response."""
        return {"id": self.batch_id, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


class Pipeline:
    """Per-app ingest state: writer, rate limiter, live hub."""

    def __init__(self, writer: BatchWriter, limiter: EventRateLimiter, hub: LiveHub) -> None:
        self.writer = writer
        self.limiter = limiter
        self.hub = hub
        self.listeners: list[Any] = []  # callables(site_id, stored events) after commit
        # callables(site, valid events) after validation, before storing: they may add
        # warnings to the events (the registry's field checks); a failing one is logged.
        self.checks: list[Callable[[SiteAuth, list[ValidEvent]], None]] = []

    def ingest_body(self, site: SiteAuth, body: bytes, *, transport: str,
                    address: str | None = None) -> IngestResult:
        """Ingest a request body or WebSocket frame and wait for its commit.

        Raises :class:`EnvelopeError` when the body is unusable as a whole (it is kept
        in quarantine first), :class:`RateLimited` and :class:`StorageUnavailable`
        (these two carry ``batch_id``).
        """
        return self.submit_body(site, body, transport=transport, address=address).result()

    def ingest_events(self, site: SiteAuth, raw_events: list[bytes], *, transport: str,
                      address: str | None = None, batch_id: Any = None) -> IngestResult:
        """Validate, store and publish ``raw_events`` (each the bytes of one event)."""
        return self.submit_events(site, raw_events, transport=transport, address=address,
                                  batch_id=batch_id).result()

    def submit_body(self, site: SiteAuth, body: bytes, *, transport: str,
                    address: str | None = None) -> PendingIngest:
        """Decode and validate now; storing continues on the writer (pipelined doors)."""
        try:
            envelope = decode_envelope(body)
            if len(envelope.events) > MAX_EVENTS_PER_BATCH:
                raise EnvelopeError(f'"events": at most {MAX_EVENTS_PER_BATCH} events per '
                                    "batch; split it", envelope.batch_id)
        except EnvelopeError as exc:
            self.quarantine_body(site, body, str(exc), transport=transport)
            raise
        pending = self.submit_events(site, envelope.events, transport=transport,
                                     address=address, batch_id=envelope.batch_id)
        pending.msgid = envelope.msgid
        return pending

    def submit_events(self, site: SiteAuth, raw_events: list[bytes], *, transport: str,
                      address: str | None = None, batch_id: Any = None) -> PendingIngest:
        try:
            self.limiter.take(site.id, address, len(raw_events))
        except RateLimited as exc:
            exc.batch_id = batch_id
            raise
        received = now_ms()
        valid: list[ValidEvent] = []
        rejected: list[RejectedEvent] = []
        repeated: list[str] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_events):
            checked = validate_event(raw, index, received)
            if isinstance(checked, RejectedEvent):
                rejected.append(checked)
            elif checked.mid in seen:
                repeated.append(checked.mid)
            else:
                seen.add(checked.mid)
                valid.append(checked)
        for check in self.checks:
            try:
                check(site, valid)
            except Exception:  # noqa: BLE001 - a check must never cost the client its batch
                log.exception("ingest: check %r failed", check)
        # Built here, in the connection's thread (after the checks, which may add
        # warnings), so the one writer thread only adds what it alone knows.
        for ev in valid:
            ev.row = row_values(ev, site.id, received)
        batch = PreparedBatch(site.id, transport, received, valid, rejected, repeated)
        return PendingIngest(self, site, batch, batch_id, self.writer.submit(batch))

    def quarantine_body(self, site: SiteAuth, body: bytes, reason: str, *,
                        transport: str) -> None:
        """Keep an unusable body with its reason (best effort: it acks nothing)."""
        batch = PreparedBatch(site.id, transport, now_ms(), [], unusable=(reason, body))
        try:
            self.writer.write(batch)
        except Exception:  # noqa: BLE001 - the client gets its 400 either way
            pass

    def after_commit(self, site: SiteAuth, stored: list[ValidEvent]) -> None:
        if self.hub.has_subscribers:
            self.hub.publish([live_summary(site, ev) for ev in stored])
        for listener in self.listeners:
            listener(site, stored)


class PendingIngest:
    """A validated batch whose commit is under way; :meth:`result` waits for it."""

    def __init__(self, pipeline: Pipeline, site: SiteAuth, batch: PreparedBatch,
                 batch_id: Any, future: Future[BatchOutcome]) -> None:
        self.pipeline = pipeline
        self.site = site
        self.batch = batch
        self.batch_id = batch_id
        self.future = future
        self.msgid: Any = None

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> IngestResult:
        """Wait for the commit, publish, and return the ack; raises StorageUnavailable."""
        try:
            outcome = self.future.result()
        except StorageUnavailable as exc:
            exc.batch_id = self.batch_id
            raise
        if outcome.stored:
            self.pipeline.after_commit(self.site, outcome.stored)
        return IngestResult(
            batch_id=self.batch_id,
            accepted=len(outcome.stored),
            duplicates=outcome.duplicates,
            rejected=[{"index": r.index, "mid": r.mid, "errors": r.errors}
                      for r in self.batch.rejected],
            msgid=self.msgid,
        )


def live_summary(site: SiteAuth, ev: ValidEvent) -> dict[str, Any]:
    """The small view of a stored event that live dashboards receive."""
    return {"site": site.name, "mid": ev.mid, "eid": ev.eid, "name": ev.name, "ets": ev.ets,
            "sid": ev.sid, "actor": ev.actor_id, "course": ev.course_id,
            "lesson": ev.lesson_id, "page": ev.page_id, "uri": ev.uri,
            "object": ev.object_id, "type": ev.edata_type,
            "duplicate_of": ev.duplicate_of}


def get_pipeline(app: Flask | None = None) -> Pipeline:
    return (app or current_app).extensions["collector.pipeline"]


def init_app(app: Flask) -> None:
    from collector.db import get_engine


    app.extensions["collector.pipeline"] = Pipeline(
        BatchWriter(get_engine(app)),
        EventRateLimiter(app.config["RATE_LIMIT"]),
        LiveHub(),
    )

"""The ingest pipeline every door calls.

decode -> validate each event -> enrich (site, server time, session chain) -> dedupe by
mid -> persist the batch in one transaction -> ack -> publish to the live hub.

Features extend ingest in three phases, each with one policy:

- **before store** (:meth:`Pipeline.before_store`): ``check(site, valid_events)`` runs in
  the connection's thread after validation and may add warnings to events. A check that
  raises is logged and skipped: it never costs the client its batch.
- **in transaction** (:meth:`Pipeline.in_transaction`): a
  :class:`~collector.ingest.persist.PersistHook` writes derived rows (dashboard tables,
  outbox, catalog counters) in the same transaction as the events. A hook that raises
  aborts the transaction; the writer then stores each batch of the group on its own, so
  only the batch that made it fail is affected: its events go to quarantine with the
  reason and are acked as rejected (a retry would fail the same way). Only a database
  that cannot be reached is answered with "storage unavailable". A hook returns its
  writes to rows every writer updates (counters per minute, per event name, per
  course), if any: they run after every hook, just before the commit, so concurrent
  writers (several workers or nodes) hold those rows locked for the shortest time.
- **after commit** (:meth:`Pipeline.after_commit`): ``listener(site, stored_events)``
  runs once the batch is durable (live fan-out, wake-ups). A listener that raises is
  logged and skipped: a committed batch is always acked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from collector.core.events.envelope import EnvelopeError, decode_envelope
from collector.core.events.validate import RejectedEvent, ValidEvent, validate_event
from collector.ingest.hub import LiveHub
from collector.ingest.persist import (
    MAX_RAW_QUARANTINE,
    BatchOutcome,
    PersistHook,
    PreparedBatch,
    row_values,
)
from collector.ingest.quarantine_budget import QuarantineBudget
from collector.ingest.ratelimit import EventRateLimiter, RateLimited
from collector.ingest.timing import StepTimes
from collector.ingest.writer import BatchWriter
from collector.storage.engine import StorageUnavailable, get_engine
from collector.storage.models import now_ms
from collector.storage.sites import SiteAuth

log = logging.getLogger(__name__)

MAX_EVENTS_PER_BATCH = 10_000
# Stored instead of a rejected event's bytes once its site's quarantine budget is used up.
PAYLOAD_NOT_KEPT = b'"payload not kept: the quarantine budget of this site is used up"'

Check = Callable[[SiteAuth, list[ValidEvent]], None]
Listener = Callable[[SiteAuth, list[ValidEvent]], None]


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

    def __init__(self, writer: BatchWriter, limiter: EventRateLimiter, hub: LiveHub,
                 times: StepTimes | None = None) -> None:
        self.writer = writer
        self.limiter = limiter
        self.hub = hub
        self.times = times or StepTimes()
        writer.times = self.times
        self.quarantine_budget = QuarantineBudget()
        self._checks: list[Check] = []
        self._listeners: list[Listener] = []

    # --- extension points (policies: see the module docstring) ------------------------

    def before_store(self, check: Check) -> None:
        """Add a check run after validation; isolated (a failure is logged)."""
        self._checks.append(check)

    def in_transaction(self, hook: PersistHook) -> None:
        """Add a persist hook; it aborts the group when it raises. The counter writes
        hooks return run in the order the hooks were added (the order every writer
        locks those rows)."""
        self.writer.hooks.append(hook)

    def after_commit(self, listener: Listener) -> None:
        """Add a listener called with each committed batch; isolated (logged)."""
        self._listeners.append(listener)

    # --- ingest ------------------------------------------------------------------------

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
            with self.times.step("decode", 0):
                envelope = decode_envelope(body)
            if len(envelope.events) > MAX_EVENTS_PER_BATCH:
                raise EnvelopeError(f'"events": at most {MAX_EVENTS_PER_BATCH} events per '
                                    "batch; split it", envelope.batch_id)
        except EnvelopeError as exc:
            try:  # an unusable body costs the rate limit one event per KiB
                self.limiter.take(site.id, address, max(1, len(body) // 1024))
            except RateLimited as limited:
                limited.batch_id = exc.batch_id
                raise limited from None
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
        started = time.perf_counter()
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
        checked_at = time.perf_counter()
        self.times.add("validate", len(raw_events), checked_at - started)
        for check in self._checks:
            try:
                check(site, valid)
            except Exception:  # noqa: BLE001 - a check must never cost the client its batch
                log.exception("ingest: check %r failed", check)
        if self._checks:
            self.times.add("before_store", len(valid), time.perf_counter() - checked_at)
        # Built here, in the connection's thread (after the checks, which may add
        # warnings), so the one writer thread only adds what it alone knows.
        for ev in valid:
            ev.row = row_values(ev, site.id, received)
        for rej in rejected:  # the payloads kept in quarantine share the site's budget
            if not self.quarantine_budget.take(site.id, len(rej.raw)):
                rej.raw = PAYLOAD_NOT_KEPT
        batch = PreparedBatch(site.id, transport, received, valid, rejected, repeated)
        return PendingIngest(self, site, batch, batch_id, self.writer.submit(batch))

    def quarantine_body(self, site: SiteAuth, body: bytes, reason: str, *,
                        transport: str) -> None:
        """Keep an unusable body with its reason (best effort: it acks nothing).

        Only the site's quarantine budget of payload bytes is kept per hour; beyond it the
        body is counted with its reason and an empty payload.
        """
        if not self.quarantine_budget.take(site.id, min(len(body), MAX_RAW_QUARANTINE)):
            reason += ("; payload not kept: this site's quarantine budget "
                       f"({self.quarantine_budget.bytes_per_hour} bytes/hour) is used up")
            body = b""
        batch = PreparedBatch(site.id, transport, now_ms(), [], unusable=(reason, body))
        try:
            self.writer.write(batch)
        except Exception:  # noqa: BLE001 - the client gets its 400 either way
            pass

    def publish(self, site: SiteAuth, stored: list[ValidEvent]) -> None:
        """After commit: the live hub, then every listener, each isolated."""
        with self.times.step("after_commit", len(stored)):
            if self.hub.has_subscribers:
                self.hub.publish([live_summary(site, ev) for ev in stored])
            for listener in self._listeners:
                try:
                    listener(site, stored)
                except Exception:  # noqa: BLE001 - the batch is committed: ack it anyway
                    log.exception("ingest: after-commit listener %r failed", listener)


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
            self.pipeline.publish(self.site, outcome.stored)
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
    """The app's pipeline: one writer, one rate limiter, one live hub per process."""
    app.extensions["collector.pipeline"] = Pipeline(
        BatchWriter(get_engine(app)),
        EventRateLimiter(app.config["RATE_LIMIT"]),
        LiveHub(),
        StepTimes(Path(app.instance_path) / "pipeline"),
    )


def shutdown(app: Flask) -> None:
    """Stop the app's writer threads, keep its step timings, close its connections."""
    pipeline = get_pipeline(app)
    pipeline.writer.close()
    pipeline.times.flush()
    get_engine(app).dispose()

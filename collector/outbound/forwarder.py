"""Forwarders: claim due outbox rows, map them, POST them, and settle each row's fate.

A row is deleted only after the receiver acknowledged it, and retried (with
exponential backoff) on anything short of that, so no statement is lost across crashes
or restarts; a resend after a crash reuses the statement's deterministic id, which the
LRS answers as already stored, so none is duplicated either.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.caliper import caliper_events_from_json
from collector.core.mapping.xapi import xapi_statement_from_json
from collector.outbound import outbox
from collector.outbound.outbox import Claimed
from collector.outbound.senders import SendResult

log = logging.getLogger(__name__)

HOST = socket.gethostname()[:30]  # lease owners are "HOST:PID:RANDOM"
_LIVE_OWNERS: set[str] = set()  # owners of this process's forwarders not closed yet


class Sender(Protocol):
    target: str

    def send(self, documents: list[Any]) -> SendResult: ...

    def close(self) -> None: ...


def xapi_documents(raw: str, context: MappingContext) -> list[Any] | Skip:
    statement = xapi_statement_from_json(raw, context)
    return statement if isinstance(statement, Skip) else [statement]


MAPPERS: dict[str, Callable[[str, MappingContext], list[Any] | Skip]] = {
    "xapi": xapi_documents, "caliper": caliper_events_from_json}


@dataclass(slots=True)
class ForwardReport:
    """What one forwarding pass did, row by row."""

    claimed: int = 0
    sent: int = 0
    unmapped: int = 0
    retried: int = 0
    failed: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: ForwardReport) -> None:
        for name in ("claimed", "sent", "unmapped", "retried", "failed", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[-5:])
        del self.errors[:-5]

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "sent": self.sent, "unmapped": self.unmapped,
                "retried": self.retried, "failed": self.failed, "requests": self.requests,
                "errors": self.errors}


class Forwarder:
    """Sends one target's outbox through ``sender``, ``batch`` rows per request."""

    def __init__(self, engine: Engine, sender: Sender, public_url: str, *, batch: int = 100,
                 lease_ms: int = 120_000, backoff_s: tuple[float, float] = (1.0, 300.0),
                 owner: str | None = None) -> None:
        self.engine = engine
        self.sender = sender
        self.target = sender.target
        self.map = MAPPERS[self.target]
        self.public_url = public_url
        self.batch = batch
        self.lease_ms = lease_ms
        self.backoff_s = backoff_s
        self.owner = owner or f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _LIVE_OWNERS.add(self.owner)

    def forward_once(self) -> ForwardReport:
        """Claim one batch of due rows and settle it."""
        report = ForwardReport()
        rows = outbox.claim(self.engine, self.target, self.owner, self.batch, self.lease_ms)
        report.claimed = len(rows)
        if not rows:
            return report
        unmapped: list[int] = []
        ready: list[tuple[Claimed, list[Any]]] = []
        for row in rows:
            documents = self._documents(row)
            if isinstance(documents, Skip):
                unmapped.append(row.id)
            else:
                ready.append((row, documents))
        sent: list[int] = []
        try:
            if ready:
                self._deliver(ready, sent, report)
        finally:
            outbox.complete(self.engine, self.target, self.owner, sent, unmapped)
        report.sent, report.unmapped = len(sent), len(unmapped)
        return report

    def drain(self, max_batches: int | None = None,
              should_stop: Callable[[], bool] | None = None) -> ForwardReport:
        """Forward batch after batch until nothing is due, or a send must wait for a retry."""
        total = ForwardReport()
        done = 0
        while max_batches is None or done < max_batches:
            if should_stop is not None and should_stop():
                break
            report = self.forward_once()
            total.add(report)
            done += 1
            if report.claimed == 0 or report.retried:
                break
        return total

    def _documents(self, row: Claimed) -> list[Any] | Skip:
        if row.payload is None:
            return Skip("bad-event", "the event of this outbox row is no longer stored",
                        error=True)
        context = MappingContext(self.public_url, row.chain_id, row.duplicate_of is not None,
                                 site=row.site)
        return self.map(row.payload, context)

    def _deliver(self, chunk: list[tuple[Claimed, list[Any]]], sent: list[int],
                 report: ForwardReport) -> bool:
        """Send ``chunk``; isolate refused rows by halving. False: stop (retry later)."""
        result = self.sender.send([doc for _, docs in chunk for doc in docs])
        report.requests += 1
        if result.outcome == "ok":
            sent.extend(row.id for row, _ in chunk)
            return True
        if result.outcome == "retry":
            rows = [row for row, _ in chunk]
            delay = self._backoff_ms(max(row.attempts for row in rows))
            outbox.retry_later(self.engine, self.target, self.owner, rows, result.detail, delay)
            report.retried += len(rows)
            report.errors.append(result.detail)
            log.warning("forward %s: %s; %d rows retried in %.1fs", self.target, result.detail,
                        len(rows), delay / 1000)
            return False
        if len(chunk) == 1:
            row = chunk[0][0]
            if result.outcome == "conflict":  # the LRS already has this statement id
                sent.append(row.id)
            else:
                outbox.fail(self.engine, self.target, self.owner, row, result.detail)
                report.failed += 1
                report.errors.append(result.detail)
                log.error("forward %s: row %d refused for good: %s", self.target, row.id,
                          result.detail)
            return True
        # A conflict or refusal of a batch says nothing about its other rows: split it.
        half = len(chunk) // 2
        if not self._deliver(chunk[:half], sent, report):
            rest = [row for row, _ in chunk[half:]]
            outbox.retry_later(self.engine, self.target, self.owner, rest,
                               "not sent: an earlier part of its batch must be retried", 0)
            report.retried += len(rest)
            return False
        return self._deliver(chunk[half:], sent, report)

    def _backoff_ms(self, attempts: int) -> int:
        base, cap = self.backoff_s
        delay = min(cap, base * (2 ** min(attempts, 20)))
        return int(delay * 1000 * random.uniform(1.0, 1.25))

    def close(self) -> None:
        _LIVE_OWNERS.discard(self.owner)
        self.sender.close()


def owner_is_gone(owner: str) -> bool:
    """True when ``owner`` names a forwarder that surely no longer runs.

    Only owners on this host can be checked: their process is gone (or a zombie), or it
    is this process but no forwarder of it has that name (an earlier process with the
    same pid, e.g. a restarted container). Owners on other hosts are never gone here;
    their leases expire.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def release_orphaned_leases(engine: Engine, target: str) -> int:
    """Free the leases of ``target`` held by forwarders that are gone (a crash).

    Leases of live forwarders (a running server's, while ``collector forward`` runs)
    are kept; rows of a forwarder on another host wait for their lease to expire.
    """
    gone = [owner for owner in outbox.lease_owners(engine, target) if owner_is_gone(owner)]
    return outbox.release_leases(engine, target, gone) if gone else 0


class ForwarderThread(threading.Thread):
    """Runs a forwarder in the background of a ``collector serve`` worker."""

    def __init__(self, forwarder: Forwarder, wake: threading.Event, idle_s: float = 2.0,
                 ) -> None:
        super().__init__(name=f"collector-forward-{forwarder.target}", daemon=True)
        self.forwarder = forwarder
        self.wake = wake
        self.idle_s = idle_s
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            pause = self.idle_s
            try:
                report = self.forwarder.drain(should_stop=self.stopping.is_set)
                if report.claimed and not report.retried:
                    continue  # more may be due already
            except Exception:  # noqa: BLE001 - a bad database moment must not kill the thread
                log.exception("forward %s: pass failed", self.forwarder.target)
                pause = 5.0
            self.wake.wait(pause)
            self.wake.clear()
        self.forwarder.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        self.join(timeout)

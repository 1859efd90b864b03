"""The persist hook that keeps the dashboard tables up to date inside each ingest commit.

Dashboards never rescan raw events: per group of batches this hook writes one upsert
row per touched (session chain, learner), per (site, minute), per (site, hour, key) and
per (site, hour, reject reason). Everything is aggregated in Python first so the number
of statements does not grow with the number of events.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Connection, func, select

from collector.analytics import timeline
from collector.analytics.keys import KeyCatalog
from collector.analytics.upserts import (
    KEY_HOUR_UPSERT,
    MINUTE_UPSERT,
    REASON_UPSERT,
    SESSION_UPSERT,
)
from collector.core.events.validate import ValidEvent
from collector.ingest.persist import BatchOutcome, CounterWrites, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.dialect import insert_for, is_postgres
from collector.storage.engine import get_engine
from collector.storage.models import DASH_KEYS, Site

log = logging.getLogger(__name__)

MAX_CACHED_KEYS = 200_000
MAX_REASON = 300
MAX_TARGET = 512
LIVE_CHANNEL = "collector_live"
LISTEN_SQL = "LISTEN collector_live"  # LISTEN takes no bound parameter: a constant
LIVE_SAMPLE = 20  # summaries carried per notification (the tail shows a few)
NOTIFY_LIMIT = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more

# (site, eid, name, course, page, object type, edata type, target)
KeyTuple = tuple[int, str, str, str, str, str, str, str]


def page_target(uri: str | None) -> str:
    """The page a view counts for: the uri without query string or fragment."""
    if not uri:
        return ""
    return uri.split("#", 1)[0].split("?", 1)[0][:MAX_TARGET]


def fingerprint(key: KeyTuple) -> str:
    return hashlib.sha1("\x1f".join(key[1:]).encode("utf-8", "replace")).hexdigest()


@dataclass(slots=True)
class SessionChunk:
    course_id: str | None
    env: str | None
    received: int
    tokens: list[tuple[int, int]] = field(default_factory=list)
    events: int = 0
    dup_starts: int = 0


@dataclass(slots=True)
class GroupCounts:
    """Per table, what a group of batches adds (see ``DerivedTables.count``)."""

    # (site, minute) -> [stored, course starts, course ends, rejected]
    minutes: dict[tuple[int, int], list[int]]
    reasons: dict[tuple[int, int, str], int]  # (site, hour, reason) -> rejected events
    chunks: dict[tuple[int, str, str], SessionChunk]  # (site, chain, actor) -> tokens
    hours: dict[tuple[int, int, int], int]  # (site, hour, key id) -> events


class DerivedTables:
    """``PersistHook`` run by the writer thread (so its caches need no lock)."""

    def __init__(self, *, notify: bool = False) -> None:
        self.notify = notify  # PostgreSQL NOTIFY of stored events for other processes
        self._keys: dict[KeyTuple, int] = {}
        self._unconfirmed: dict[KeyTuple, int] = {}  # learned in a group not yet known committed
        self._site_names: dict[int, str] = {}

    def __call__(self, conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> CounterWrites:
        """Session timelines now; events per key and hour, per minute and per rejection
        reason (rows every writer updates) returned, for the end of the transaction."""
        self._confirm_keys(conn)
        counts = self.count(conn, batches, outcomes)
        if counts.chunks:
            self._upsert_sessions(conn, counts.chunks)
        if self.notify and any(o.stored for o in outcomes):
            self._notify(conn, batches, outcomes)
        return lambda conn: write_counts(conn, counts)

    def count(self, conn: Connection, batches: Sequence[PreparedBatch],
              outcomes: Sequence[BatchOutcome]) -> GroupCounts:
        """What the group adds to each dashboard table (interning new keys on the way).
        Retracting events (``collector.lifecycle``) subtracts the same counts."""
        minutes: dict[tuple[int, int], list[int]] = {}
        reasons: dict[tuple[int, int, str], int] = {}
        chunks: dict[tuple[int, str, str], SessionChunk] = {}
        hours: dict[tuple[int, int, int], int] = {}
        cached = self._keys
        unknown: list[tuple[KeyTuple, int, int, SessionChunk | None]] = []  # not cached yet
        for batch, outcome in zip(batches, outcomes, strict=True):
            site = batch.site_id
            hour = batch.received_at // 3_600_000
            minute = minutes.setdefault((site, batch.received_at // 60_000), [0, 0, 0, 0])
            self._count_rejected(batch, minute, reasons)
            for ev in outcome.stored:
                minute[0] += 1
                eid = ev.eid
                # Events without a session count on the overview but join no timeline:
                # flows and funnels follow sessions (and learners across their sessions).
                chunk = None
                if ev.chain_id:
                    skey = (site, ev.chain_id, ev.actor_id)
                    chunk = chunks.get(skey)
                    if chunk is None:
                        chunk = chunks[skey] = SessionChunk(
                            ev.course_id, ev.env[:100] if ev.env else None, batch.received_at)
                    chunk.events += 1
                    if chunk.course_id is None:
                        chunk.course_id = ev.course_id
                if eid == "INTERACT":
                    target = (ev.target or "")[:MAX_TARGET]
                elif eid == "IMPRESSION":
                    target = page_target(ev.uri)
                else:
                    target = ""
                    if ev.is_course_start:
                        if ev.duplicate_of:
                            if chunk is not None:  # excluded from funnels and start counts
                                chunk.dup_starts += 1
                            continue
                        minute[1] += 1
                    elif eid == "END" and ev.edata_type == "course":
                        minute[2] += 1
                key = (site, eid, ev.name, ev.course_id or "", ev.page_id or "",
                       ev.object_type or "", ev.edata_type or "", target)
                key_id = cached.get(key)
                if key_id is None:
                    unknown.append((key, ev.ets, hour, chunk))
                    continue
                if chunk is not None:
                    chunk.tokens.append((ev.ets, key_id))
                hk = (site, hour, key_id)
                hours[hk] = hours.get(hk, 0) + 1
        if unknown:
            ids = self._key_ids(conn, {u[0] for u in unknown})
            for key, ets, hour, chunk in unknown:
                key_id = ids[key]
                if chunk is not None:
                    chunk.tokens.append((ets, key_id))
                hk = (key[0], hour, key_id)
                hours[hk] = hours.get(hk, 0) + 1
        return GroupCounts(minutes, reasons, chunks, hours)

    # --- rejected ------------------------------------------------------------------

    @staticmethod
    def _count_rejected(batch: PreparedBatch, minute: list[int],
                        reasons: dict[tuple[int, int, str], int]) -> None:
        hour = batch.received_at // 3_600_000
        messages: list[list[str]] = [r.errors for r in batch.rejected]
        if batch.unusable is not None:
            messages.append([batch.unusable[0]])
        for errors in messages:
            minute[3] += 1
            for reason in dict.fromkeys(e[:MAX_REASON].replace("\x00", "\ufffd")
                                        for e in errors):
                rk = (batch.site_id, hour, reason)
                reasons[rk] = reasons.get(rk, 0) + 1

    # --- keys ----------------------------------------------------------------------

    def _confirm_keys(self, conn: Connection) -> None:
        """Keys learned by the previous group are cached only if that group committed."""
        if not self._unconfirmed:
            return
        wanted = self._unconfirmed
        self._unconfirmed = {}
        ids = list(wanted.values())
        found: set[int] = set()
        for i in range(0, len(ids), 500):
            found.update(conn.execute(
                select(DASH_KEYS.c.id).where(DASH_KEYS.c.id.in_(ids[i:i + 500]))).scalars())
        if len(self._keys) + len(found) > MAX_CACHED_KEYS:
            self._keys.clear()
        self._keys.update((k, v) for k, v in wanted.items() if v in found)

    def _key_ids(self, conn: Connection, keys: set[KeyTuple]) -> dict[KeyTuple, int]:
        ids = {k: self._keys[k] for k in keys if k in self._keys}
        missing = sorted(k for k in keys if k not in ids)
        if not missing:
            return ids
        by_fp = {(k[0], fingerprint(k)): k for k in missing}
        rows = [{"site_id": site, "fingerprint": fp, "eid": k[1], "name": k[2],
                 "course_id": k[3], "page_id": k[4], "object_type": k[5],
                 "edata_type": k[6], "target": k[7]}
                for (site, fp), k in sorted(by_fp.items())]
        conn.execute(insert_for(conn, DASH_KEYS).on_conflict_do_nothing(
            index_elements=["site_id", "fingerprint"]), rows)
        sites = {site for site, _ in by_fp}
        for site in sites:
            fps = [fp for s, fp in by_fp if s == site]
            for i in range(0, len(fps), 500):
                for key_id, fp in conn.execute(
                        select(DASH_KEYS.c.id, DASH_KEYS.c.fingerprint).where(
                            DASH_KEYS.c.site_id == site,
                            DASH_KEYS.c.fingerprint.in_(fps[i:i + 500]))):
                    key = by_fp[(site, fp)]
                    ids[key] = key_id
                    self._unconfirmed[key] = key_id
        return ids

    # --- upserts -------------------------------------------------------------------

    @staticmethod
    def _upsert_sessions(conn: Connection,
                         chunks: dict[tuple[int, str, str], SessionChunk]) -> None:
        rows = []
        for (site, session_id, actor), chunk in sorted(chunks.items(), key=lambda i: i[0]):
            chunk.tokens.sort()
            first = chunk.tokens[0][0] if chunk.tokens else 0
            last = chunk.tokens[-1][0] if chunk.tokens else 0
            rows.append({"site_id": site, "session_id": session_id, "actor_id": actor,
                         "course_id": chunk.course_id, "env": chunk.env,
                         "first_ets": first, "last_ets": last,
                         "last_received": chunk.received, "events": chunk.events,
                         "dup_starts": chunk.dup_starts, "in_order": 1,
                         "timeline": timeline.encode(chunk.tokens)})
        SESSION_UPSERT.execute(conn, rows)

    @staticmethod
    def _upsert_minutes(conn: Connection, minutes: dict[tuple[int, int], list[int]]) -> None:
        rows = [{"site_id": s, "minute": m, "events": c[0], "course_starts": c[1],
                 "course_ends": c[2], "rejected": c[3]}
                for (s, m), c in sorted(minutes.items()) if any(c)]
        if rows:
            MINUTE_UPSERT.execute(conn, rows)

    @staticmethod
    def _upsert_key_hours(conn: Connection, hours: dict[tuple[int, int, int], int]) -> None:
        KEY_HOUR_UPSERT.execute(conn, [{"site_id": s, "hour": h, "key_id": k, "events": n}
                                       for (s, h, k), n in sorted(hours.items())])

    @staticmethod
    def _upsert_reasons(conn: Connection, reasons: dict[tuple[int, int, str], int]) -> None:
        REASON_UPSERT.execute(conn, [{"site_id": s, "hour": h, "reason": r, "events": n}
                                     for (s, h, r), n in sorted(reasons.items())])

    # --- live ----------------------------------------------------------------------

    def _site_name(self, conn: Connection, site_id: int) -> str:
        name = self._site_names.get(site_id)
        if name is None:
            name = conn.execute(select(Site.name).where(Site.id == site_id)).scalar() or ""
            self._site_names[site_id] = name
        return name

    def _notify(self, conn: Connection, batches: Sequence[PreparedBatch],
                outcomes: Sequence[BatchOutcome]) -> None:
        """Tell every collector process (LISTEN) what this commit stored."""
        count = 0
        sample: list[dict[str, Any]] = []
        per_site: dict[str, int] = {}  # so a dashboard of some sites counts only theirs
        for batch, outcome in zip(batches, outcomes, strict=True):
            if not outcome.stored:
                continue
            count += len(outcome.stored)
            site = self._site_name(conn, batch.site_id)
            per_site[site] = per_site.get(site, 0) + len(outcome.stored)
            for ev in outcome.stored[-LIVE_SAMPLE:]:
                sample.append(notify_summary(site, ev))
        sample = sample[-LIVE_SAMPLE:]

        def encode() -> str:
            return json.dumps({"count": count, "sites": per_site, "events": sample},
                              separators=(",", ":"))

        payload = encode()
        while len(payload.encode()) > NOTIFY_LIMIT and sample:
            sample = sample[len(sample) // 2 + 1:] if len(sample) > 1 else []
            payload = encode()
        conn.execute(select(func.pg_notify(LIVE_CHANNEL, payload)))


def write_counts(conn: Connection, counts: GroupCounts) -> None:
    """Add a group's counts to the key-hour, minute and reason rows (in this order)."""
    if counts.hours:
        DerivedTables._upsert_key_hours(conn, counts.hours)
    if counts.minutes:
        DerivedTables._upsert_minutes(conn, counts.minutes)
    if counts.reasons:
        DerivedTables._upsert_reasons(conn, counts.reasons)


def notify_summary(site: str, ev: ValidEvent) -> dict[str, Any]:
    """The ``live_summary`` of ingest, with long strings cut to fit a notification."""

    def cut(value: str | None) -> str | None:
        return value[:120] if value is not None else None

    return {"site": cut(site), "mid": cut(ev.mid), "eid": ev.eid, "name": cut(ev.name),
            "ets": ev.ets, "sid": cut(ev.sid), "actor": cut(ev.actor_id),
            "course": cut(ev.course_id), "lesson": cut(ev.lesson_id),
            "page": cut(ev.page_id), "uri": cut(ev.uri), "object": cut(ev.object_id),
            "type": cut(ev.edata_type), "duplicate_of": cut(ev.duplicate_of)}


def init_app(app: Flask) -> None:
    """Keep the dashboard tables in every ingest transaction; cache interned keys."""
    app.extensions["collector.key_catalog"] = KeyCatalog()
    postgres = is_postgres(get_engine(app))
    get_pipeline(app).in_transaction(
        DerivedTables(notify=postgres and not app.config.get("REDIS_URL")))

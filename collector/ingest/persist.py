"""Store a group of prepared batches in one transaction.

Order inside the transaction is fixed (session links, course starts, events, quarantine,
duplicate receipts) and rows are sorted by key, so concurrent writers on PostgreSQL
take row locks in the same order and cannot deadlock. Uniqueness (``(site, mid)``, the
course start key, the session link) is enforced by constraints with ``ON CONFLICT DO
NOTHING``, never by read-then-write.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from collector.core.events.validate import RejectedEvent, ValidEvent
from collector.storage.dialect import (
    CopyStage,
    insert_for,
    is_postgres,
    run_unnest,
    unnest_insert,
)
from collector.storage.models import (
    COURSE_STARTS,
    DUPLICATE_RECEIPTS,
    EVENTS,
    REJECTED_EVENTS,
    SESSION_LINKS,
)

MAX_RAW_QUARANTINE = 64 * 1024


@dataclass(slots=True)
class PreparedBatch:
    """One client batch after validation, waiting to be stored."""

    site_id: int
    transport: str
    received_at: int
    valid: list[ValidEvent]
    rejected: list[RejectedEvent] = field(default_factory=list)
    repeated_mids: list[str] = field(default_factory=list)  # same mid twice in this batch
    # An unusable body kept in quarantine: (reason, raw bytes).
    unusable: tuple[str, bytes] | None = None


@dataclass(slots=True)
class BatchOutcome:
    stored: list[ValidEvent]
    duplicates: int


# Called inside the ingest transaction, after the events are inserted, with the batches
# of the group and their outcomes (``outcome.stored`` holds only newly stored events).
# Features that keep derived tables (outbox, session paths) register one here so their
# rows commit atomically with the events. Hooks must work in bulk: they run on the
# writer's hot path. A hook may return its writes to rows every writer updates (per
# minute, per event name, per course): those run after every hook, just before the
# commit and in the order of the hooks, so concurrent writers (several workers or
# nodes) hold such rows locked for the shortest time, and lock them in one order.
CounterWrites = Callable[[Connection], None]
PersistHook = Callable[[Connection, Sequence[PreparedBatch], Sequence[BatchOutcome]],
                       CounterWrites | None]


class SessionChains:
    """(site, sid) -> root sid, learned from the database; roots never change once set."""

    MAX_ENTRIES = 500_000

    def __init__(self) -> None:
        self._roots: dict[tuple[int, str], str] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> str | None:
        return self._roots.get(key)

    def learn(self, roots: dict[tuple[int, str], str]) -> None:
        with self._lock:
            if len(self._roots) + len(roots) > self.MAX_ENTRIES:
                self._roots.clear()
            self._roots.update(roots)


def _nul_free(text: str | None) -> str | None:
    """A refused event's text as PostgreSQL can hold it (U+0000 shown as U+FFFD)."""
    return text.replace("\x00", "\ufffd") if text else text


def text_of(raw: bytes, limit: int | None = None) -> str:
    """Stored text of received bytes (lossless for valid UTF-8 JSON, NUL-free for PG)."""
    if limit is not None and len(raw) > limit:
        raw = raw[:limit]
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def persist_group(
    conn: Connection, batches: Sequence[PreparedBatch], chains: SessionChains,
    hooks: Sequence[PersistHook] = (),
) -> tuple[list[BatchOutcome], dict[tuple[int, str], str]]:
    """Write ``batches`` on ``conn`` (inside the caller's transaction).

    Returns one outcome per batch and the session roots learned, which the caller hands
    to ``chains.learn`` only after the commit succeeded.
    """
    learned = _link_sessions(conn, batches, chains)
    _flag_course_starts(conn, batches)

    # (site, mid) -> the event whose row this group inserts; mids are unique per site.
    owner: dict[tuple[int, str], ValidEvent] = {}
    rows: list[ValidEvent] = []
    for batch in batches:
        site = batch.site_id
        for ev in batch.valid:
            if (site, ev.mid) not in owner:
                owner[(site, ev.mid)] = ev
                if not ev.row:
                    ev.row = row_values(ev, batch.site_id, batch.received_at)
                rows.append(ev)
    inserted = _insert_events(conn, rows) if rows else set()

    outcomes: list[BatchOutcome] = []
    receipts: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for batch in batches:
        stored: list[ValidEvent] = []
        dup_mids = list(batch.repeated_mids)
        site = batch.site_id
        for ev in batch.valid:
            if (site, ev.mid) in inserted and owner[(site, ev.mid)] is ev:
                stored.append(ev)
            else:
                dup_mids.append(ev.mid)
        receipts.extend(
            {"site_id": batch.site_id, "mid": m, "transport": batch.transport,
             "received_at": batch.received_at}
            for m in dup_mids
        )
        quarantine.extend(_rejected_rows(batch))
        outcomes.append(BatchOutcome(stored, len(dup_mids)))
    if quarantine:
        conn.execute(REJECTED_EVENTS.insert(), quarantine)
    if receipts:
        conn.execute(DUPLICATE_RECEIPTS.insert(), receipts)
    counters = [write for hook in hooks
                if (write := hook(conn, batches, outcomes)) is not None]
    for write in counters:
        write(conn)
    return outcomes, learned


# The two columns only the writer knows (session chain, course-start flag) come last, so
# the rest of a row is built by the connection's own thread (``row_values``).
EVENT_COLUMNS = (
    "mid", "site_id", "eid", "name", "ets", "received_at", "sid", "actor_id", "did",
    "course_id", "lesson_id", "page_id", "uri", "object_id", "object_type", "edata_type",
    "warnings", "payload", "chain_id", "duplicate_of",
)  # fmt: skip
# Many rows per statement: sqlite3 releases the GIL once per statement step, so one
# step for 200 rows lets other threads validate meanwhile instead of convoying per row.
SQLITE_ROWS_PER_STATEMENT = 200
_ROW = "(" + ", ".join("?" for _ in EVENT_COLUMNS) + ")"


def _sqlite_insert_events(rows: int) -> str:
    return (f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES "
            f"{', '.join([_ROW] * rows)} ON CONFLICT (site_id, mid) DO NOTHING")


_SQLITE_INSERT_CHUNK = _sqlite_insert_events(SQLITE_ROWS_PER_STATEMENT)
# PostgreSQL: the group's rows are COPY-ed into a staging table and moved in mid order,
# so concurrent writers take index locks in one order.
PG_EVENTS_STAGE = CopyStage(EVENTS, EVENT_COLUMNS, conflict=["site_id", "mid"],
                            returning=["site_id", "mid"], order_by=["site_id", "mid"])


def row_values(ev: ValidEvent, site_id: int, received_at: int) -> tuple[Any, ...]:
    """The events-table row of ``ev`` without ``chain_id`` and ``duplicate_of``."""
    return (
        ev.mid, site_id, ev.eid, ev.name, ev.ets, received_at, ev.sid, ev.actor_id, ev.did,
        ev.course_id, ev.lesson_id, ev.page_id, ev.uri, ev.object_id, ev.object_type,
        ev.edata_type, json.dumps(ev.warnings) if ev.warnings else None, ev.raw.decode(),
    )


def event_values(ev: ValidEvent, batch: PreparedBatch) -> tuple[Any, ...]:
    """The whole events-table row of ``ev``, in EVENT_COLUMNS order."""
    return row_values(ev, batch.site_id, batch.received_at) + (ev.chain_id, ev.duplicate_of)


def _insert_events(conn: Connection, events: list[ValidEvent]) -> set[tuple[int, str]]:
    """Insert the events' rows, skipping known (site, mid); return those inserted."""
    if conn.dialect.name == "sqlite":
        # The hot path: plain executemany on the driver. The writer holds the database
        # lock (BEGIN IMMEDIATE), so the rows above the old max id are exactly ours.
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            before = cur.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            step = SQLITE_ROWS_PER_STATEMENT
            inserted = 0
            for i in range(0, len(events), step):
                chunk = events[i:i + step]
                sql = _SQLITE_INSERT_CHUNK if len(chunk) == step else _sqlite_insert_events(
                    len(chunk))
                params: list[Any] = []
                for ev in chunk:
                    params.extend(ev.row)
                    params.append(ev.chain_id)
                    params.append(ev.duplicate_of)
                cur.execute(sql, params)
                inserted += cur.rowcount
            if inserted == len(events):  # the usual case: no mid was seen before
                return {(ev.row[1], ev.mid) for ev in events}
            return {(r[0], r[1]) for r in cur.execute(
                "SELECT site_id, mid FROM events WHERE id > ?", (before,))}
        finally:
            cur.close()
    rows = [ev.row + (ev.chain_id, ev.duplicate_of) for ev in events]
    return {(r[0], r[1]) for r in PG_EVENTS_STAGE.insert(conn, rows)}


def _rejected_rows(batch: PreparedBatch) -> Iterable[dict[str, Any]]:
    base = {"site_id": batch.site_id, "transport": batch.transport,
            "received_at": batch.received_at}
    if batch.unusable is not None:
        reason, raw = batch.unusable
        yield {**base, "batch_index": None, "mid": None, "reasons": json.dumps([reason]),
               "payload": text_of(raw, MAX_RAW_QUARANTINE)}
    for rej in batch.rejected:
        yield {**base, "batch_index": rej.index, "mid": _nul_free(rej.mid),
               "reasons": json.dumps(rej.errors), "payload": text_of(rej.raw)}


def _link_sessions(
    conn: Connection, batches: Sequence[PreparedBatch], chains: SessionChains
) -> dict[tuple[int, str], str]:
    """Set ``chain_id`` on every event; store links for sids seen for the first time."""
    # Fast path: roots never change once stored, so known sids resolve from the cache.
    known: dict[tuple[int, str], str] = {}
    pending: list[tuple[PreparedBatch, ValidEvent]] = []
    wanted: set[tuple[int, str]] = set()
    cached = chains.get
    for batch in batches:
        site = batch.site_id
        last_sid: str | None = None  # a batch is mostly runs of one tab's session
        last_root: str | None = None  # None: that sid waits for the database
        for ev in batch.valid:
            sid = ev.sid
            if not sid:
                continue
            if sid == last_sid:
                if last_root is None:
                    pending.append((batch, ev))
                else:
                    ev.chain_id = last_root
                continue
            last_sid = sid
            key = (site, sid)
            last_root = known.get(key) or cached(key)
            if last_root is not None:
                known[key] = last_root
                ev.chain_id = last_root
                continue
            pending.append((batch, ev))
            wanted.add(key)
            if ev.previous_sid:
                prev = (site, ev.previous_sid)
                prev_root = cached(prev)
                if prev_root is None:
                    wanted.add(prev)
                else:
                    known[prev] = prev_root
    if not pending:
        return {}

    known.update(_select_roots(conn, wanted))
    new_rows: dict[tuple[int, str], dict[str, Any]] = {}
    for batch, ev in pending:
        site = batch.site_id
        key = (site, ev.sid or "")
        if key not in known:
            root = ev.sid or ""
            if ev.previous_sid and ev.previous_sid != ev.sid:
                prev = (site, ev.previous_sid)
                if prev not in known:
                    known[prev] = ev.previous_sid
                    new_rows[prev] = _link_row(prev, ev.previous_sid, batch.received_at)
                root = known[prev]
            known[key] = root
            new_rows[key] = _link_row(key, root, batch.received_at)
        ev.chain_id = known[key]

    if new_rows:
        rows = [new_rows[k] for k in sorted(new_rows)]
        if is_postgres(conn):
            mine = {(r[0], r[1]) for r in run_unnest(
                conn, _PG_INSERT_LINKS, [tuple(r.values()) for r in rows], len(_LINK_COLUMNS))}
        else:
            stmt = insert_for(conn, SESSION_LINKS).on_conflict_do_nothing(
                index_elements=["site_id", "sid"])
            result = conn.execute(
                stmt.returning(SESSION_LINKS.c.site_id, SESSION_LINKS.c.sid), rows)
            mine = {(r.site_id, r.sid) for r in result}
        raced = set(new_rows) - mine
        if raced:  # another process linked these sids first: its roots are the truth
            known.update(_select_roots(conn, raced))
            for batch, ev in pending:
                ev.chain_id = known[(batch.site_id, ev.sid or "")]
    return {k: v for k, v in known.items() if cached(k) is None}


_LINK_COLUMNS = ("site_id", "sid", "root_sid", "first_seen")
_PG_INSERT_LINKS = unnest_insert(SESSION_LINKS, _LINK_COLUMNS, conflict=["site_id", "sid"],
                                 returning=["site_id", "sid"])


def _link_row(key: tuple[int, str], root: str, seen: int) -> dict[str, Any]:
    return {"site_id": key[0], "sid": key[1], "root_sid": root, "first_seen": seen}


def _select_roots(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    found: dict[tuple[int, str], str] = {}
    by_site: dict[int, list[str]] = {}
    for site_id, sid in sorted(keys):
        by_site.setdefault(site_id, []).append(sid)
    for site_id, sids in by_site.items():
        for i in range(0, len(sids), 500):
            rows = conn.execute(
                select(SESSION_LINKS.c.sid, SESSION_LINKS.c.root_sid).where(
                    SESSION_LINKS.c.site_id == site_id, SESSION_LINKS.c.sid.in_(sids[i:i + 500]))
            )
            for sid, root in rows:
                found[(site_id, sid)] = root
    return found


_START_COLUMNS = ("site_id", "actor_id", "course_id", "chain_id", "mid", "ets")
_PG_INSERT_STARTS = unnest_insert(COURSE_STARTS, _START_COLUMNS,
                                  conflict=["site_id", "actor_id", "course_id", "chain_id"],
                                  returning=["mid"])


def _flag_course_starts(conn: Connection, batches: Sequence[PreparedBatch]) -> None:
    """First course START per (site, actor, course, chain) is canonical; flag the others."""
    starts: list[tuple[tuple[int, str, str, str], ValidEvent]] = []
    for batch in batches:
        for ev in batch.valid:
            if ev.is_course_start and ev.course_id:
                starts.append(((batch.site_id, ev.actor_id, ev.course_id, ev.chain_id or ""), ev))
    if not starts:
        return
    first: dict[tuple[int, str, str, str], ValidEvent] = {}
    for key, ev in starts:
        first.setdefault(key, ev)
    rows = [
        {"site_id": k[0], "actor_id": k[1], "course_id": k[2], "chain_id": k[3],
         "mid": ev.mid, "ets": ev.ets}
        for k, ev in sorted(first.items(), key=lambda item: item[0])
    ]
    if is_postgres(conn):
        new_mids = {r[0] for r in run_unnest(
            conn, _PG_INSERT_STARTS, [tuple(r.values()) for r in rows], len(_START_COLUMNS))}
    else:
        stmt = insert_for(conn, COURSE_STARTS).on_conflict_do_nothing(
            index_elements=["site_id", "actor_id", "course_id", "chain_id"])
        new_mids = set(conn.execute(stmt.returning(COURSE_STARTS.c.mid), rows).scalars())
    canonical = {key: ev.mid for key, ev in first.items()}
    conflicted = [key for key, ev in first.items() if ev.mid not in new_mids]
    t = COURSE_STARTS.c
    for key in conflicted:  # an earlier group or process stored this key's start
        canonical[key] = conn.execute(
            select(t.mid).where(t.site_id == key[0], t.actor_id == key[1],
                                t.course_id == key[2], t.chain_id == key[3])
        ).scalar_one()
    for key, ev in starts:
        mid = canonical[key]
        ev.duplicate_of = mid if mid != ev.mid else None

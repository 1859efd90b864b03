"""Streamed exports: rows are read in keyset pages so memory stays flat."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, Select, func, select

from collector.core.mapping import DUPLICATE_COURSE_START, MappingContext, Skip
from collector.core.mapping.caliper import (
    ENVELOPE_EVENTS,
    caliper_envelope,
    caliper_events_from_json,
)
from collector.core.mapping.caliper import MAPPED_EIDS as CALIPER_EIDS
from collector.core.mapping.xapi import MAPPED_EIDS as XAPI_EIDS
from collector.core.mapping.xapi import xapi_statement_from_json
from collector.storage.models import Event, Site, now_ms

PAGE = 2000


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which stored events an export covers (times are client ``ets``, ms)."""

    since_ms: int | None = None
    until_ms: int | None = None
    course: str | None = None
    site_id: int | None = None

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.since_ms is not None:
            stmt = stmt.where(Event.ets >= self.since_ms)
        if self.until_ms is not None:
            stmt = stmt.where(Event.ets < self.until_ms)
        if self.course:
            stmt = stmt.where(Event.course_id == self.course)
        if self.site_id is not None:
            stmt = stmt.where(Event.site_id == self.site_id)
        return stmt


def parse_time(value: str | None, name: str) -> int | None:
    """ISO 8601 (``2026-11-23``, ``2026-11-23T10:00:00Z``) -> epoch ms; naive means UTC."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not an ISO 8601 date or time "
                         "(e.g. 2026-11-23 or 2026-11-23T10:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iter_event_rows(engine: Engine, flt: ExportFilter, columns: list[Any],
                    *where: Any) -> Iterator[Any]:
    """Yield rows of ``columns`` (plus ``Event.id`` first) in id order, page by page."""
    last = 0
    while True:
        stmt = flt.apply(select(Event.id, *columns).where(Event.id > last, *where))
        stmt = stmt.order_by(Event.id).limit(PAGE)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def iter_v3(engine: Engine, flt: ExportFilter) -> Iterator[bytes]:
    """Stored V3 events, each as the JSON bytes received."""
    for row in iter_event_rows(engine, flt, [Event.payload]):
        yield row.payload.encode()


_MAPPED_COLUMNS = [Event.payload, Event.chain_id, Event.duplicate_of, Event.site_id]


def _site_names(engine: Engine) -> dict[int, str]:
    """Site id -> name: statement ids are derived from the site's name and the mid."""
    with engine.connect() as conn:
        return {row.id: row.name for row in conn.execute(select(Site.id, Site.name))}
_encode = msgspec.json.Encoder().encode


def iter_xapi(engine: Engine, flt: ExportFilter, public_url: str,
              skipped: Counter[str] | None = None) -> Iterator[bytes]:
    """xAPI statements (JSON bytes) of the stored events, canonical course starts only.

    Events that map to nothing are counted in ``skipped`` by reason code.
    """
    # Non-canonical course starts and eids that never map are left out by the query.
    rows = iter_event_rows(engine, flt, _MAPPED_COLUMNS, Event.eid.in_(sorted(XAPI_EIDS)),
                           Event.duplicate_of.is_(None))
    sites = _site_names(engine)
    contexts: dict[tuple[int, str | None], MappingContext] = {}
    for row in rows:
        ctx = contexts.get((row.site_id, row.chain_id))
        if ctx is None:
            if len(contexts) > 10_000:
                contexts.clear()
            ctx = contexts[(row.site_id, row.chain_id)] = MappingContext(
                public_url, row.chain_id, site=sites.get(row.site_id, ""))
        statement = xapi_statement_from_json(row.payload, ctx)
        if isinstance(statement, Skip):
            if skipped is not None:
                skipped[statement.code] += 1
            continue
        yield _encode(statement)
    if skipped is not None:
        _count_left_out(engine, flt, XAPI_EIDS, skipped)


def _count_left_out(engine: Engine, flt: ExportFilter, mapped_eids: frozenset[str],
                    skipped: Counter[str]) -> None:
    """Count the events the export's query left out, under the mappers' reason codes:
    repeated course starts and eids that never map."""
    duplicates = flt.apply(select(func.count()).select_from(Event).where(
        Event.duplicate_of.is_not(None)))
    unmapped = flt.apply(select(func.count()).select_from(Event).where(
        Event.eid.not_in(sorted(mapped_eids)), Event.duplicate_of.is_(None)))
    with engine.connect() as conn:
        for code, stmt in ((DUPLICATE_COURSE_START.code, duplicates), ("not-mapped", unmapped)):
            n = int(conn.execute(stmt).scalar_one())
            if n:
                skipped[code] += n


def iter_caliper(engine: Engine, flt: ExportFilter, public_url: str,
                 skipped: Counter[str] | None = None,
                 per_envelope: int = ENVELOPE_EVENTS) -> Iterator[bytes]:
    """Caliper envelopes (JSON bytes) of up to ``per_envelope`` events each."""
    rows = iter_event_rows(engine, flt, _MAPPED_COLUMNS, Event.eid.in_(sorted(CALIPER_EIDS)),
                           Event.duplicate_of.is_(None))
    sites = _site_names(engine)
    batch: list[dict[str, Any]] = []
    for row in rows:
        mapped = caliper_events_from_json(row.payload, MappingContext(
            public_url, row.chain_id, site=sites.get(row.site_id, "")))
        if isinstance(mapped, Skip):
            if skipped is not None:
                skipped[mapped.code] += 1
            continue
        batch.extend(mapped)
        if len(batch) >= per_envelope:
            yield _encode(caliper_envelope(batch, public_url, now_ms()))
            batch = []
    if batch:
        yield _encode(caliper_envelope(batch, public_url, now_ms()))
    if skipped is not None:
        _count_left_out(engine, flt, CALIPER_EIDS, skipped)


EXPORT_KINDS = {"xapi": "statements", "caliper": "envelopes", "v3": "events"}


def iter_export(kind: str, engine: Engine, flt: ExportFilter, public_url: str,
                skipped: Counter[str] | None = None) -> Iterator[bytes]:
    """The JSON documents of an export of ``kind`` (see EXPORT_KINDS)."""
    if kind == "xapi":
        return iter_xapi(engine, flt, public_url, skipped)
    if kind == "caliper":
        return iter_caliper(engine, flt, public_url, skipped)
    if kind == "v3":
        return iter_v3(engine, flt)
    raise ValueError(f"unknown export kind {kind!r}; expected one of {', '.join(EXPORT_KINDS)}")


def chunked(chunks: Iterator[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Join small chunks into writes of about ``size`` bytes (fewer syscalls)."""
    buffer: list[bytes] = []
    held = 0
    for chunk in chunks:
        buffer.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


def stream_json(items: Iterator[bytes], fmt: str) -> Iterator[bytes]:
    """Serialize pre-encoded JSON documents as one array (``json``) or lines (``ndjson``)."""
    if fmt == "ndjson":
        for item in items:
            yield item + b"\n"
        return
    yield b"["
    first = True
    for item in items:
        yield (b"\n" if first else b",\n") + item
        first = False
    yield b"\n]\n"

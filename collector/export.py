"""Streamed exports: rows are read in keyset pages so memory stays flat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, Select, select

from collector.models import Event

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
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iter_event_rows(engine: Engine, flt: ExportFilter, columns: list[Any]) -> Iterator[Any]:
    """Yield rows of ``columns`` (plus ``Event.id`` first) in id order, page by page."""
    last = 0
    while True:
        stmt = flt.apply(select(Event.id, *columns).where(Event.id > last))
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


def encode_each(objects: Iterator[Any], encode: Callable[[Any], bytes] = msgspec.json.encode,
                ) -> Iterator[bytes]:
    for obj in objects:
        yield encode(obj)

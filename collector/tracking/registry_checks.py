"""The registry's part of ingest, for events from every door.

- :func:`check_custom_events` runs on the request thread after validation: a custom
  event (EXDATA with a dotted ``edata.type``) is checked against its registration and
  the warnings are logged and put on the event before it is stored.
- :func:`persist_catalog` is a persist hook (inside the ingest transaction): it stores
  the registrations carried by ``collector.register`` events and keeps one counter row
  per event name (count, first/last seen, warnings, an example) for the catalog,
  written with the other counters at the end of the transaction.

Both work in bulk and stay cheap for ordinary V3 traffic: one comparison per event to
skip non-custom events, one upsert per distinct name per committed group.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, ne
from typing import Any

import msgspec
from sqlalchemy import Connection, func, update

from collector.core.events.validate import ValidEvent
from collector.ingest.persist import BatchOutcome, CounterWrites, PreparedBatch
from collector.storage.dialect import insert_for, least_greatest
from collector.storage.models import EVENT_NAMES, EVENTS
from collector.storage.sites import SiteAuth
from collector.tracking.registry import (
    REGISTER_EVENT,
    Registry,
    make_registration,
    save_registration,
)

log = logging.getLogger("collector.registry")

MAX_EXAMPLE = 8192
LOG_REPEAT_SECONDS = 60.0

_name = attrgetter("name")
_eid = attrgetter("eid")
_warnings = attrgetter("warnings")


class _Edata(msgspec.Struct):
    type: str | None = None
    data: Any = None
    version: int | None = None


class _Custom(msgspec.Struct):
    edata: _Edata | None = None


_decode_custom = msgspec.json.Decoder(_Custom).decode


def custom_edata(raw: bytes) -> _Edata:
    """``edata`` of a stored EXDATA event (already schema-valid)."""
    return _decode_custom(raw).edata or _Edata()


class WarningLog:
    """Logs each (name, warning) at most once a minute: clients repeat the same mistake."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}

    def warn(self, site: str, ev: ValidEvent, message: str) -> None:
        key = (ev.name, message)
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -LOG_REPEAT_SECONDS) < LOG_REPEAT_SECONDS:
                return
            if len(self._last) > 10_000:
                self._last.clear()
            self._last[key] = now
        log.warning("event %s (mid %s, site %s): %s", ev.name, ev.mid, site, message)


def check_custom_events(registry: Registry, warn_log: WarningLog, site: SiteAuth,
                        valid: list[ValidEvent]) -> None:
    """Add registry warnings to the custom events of one batch of ``site`` (in order, so a
    registration earlier in the batch already applies to the events after it); only
    that site's registrations count."""
    # Only custom names differ from their eid; select them without a Python-level loop
    # over the (usually all V3) batch.
    for ev in compress(valid, map(ne, map(_name, valid), map(_eid, valid))):
        edata = custom_edata(ev.raw)
        if ev.name == REGISTER_EVENT:
            warnings = registry.propose(site.id, edata.data)
        else:
            version = edata.version
            if version is None:  # read as the latest registered one, and stored so
                version = registry.latest_version(site.id, ev.name)
                if version is not None:
                    _fill_version(ev, version)
            warnings = registry.check_data(site.id, ev.name, version, edata.data)
        for message in warnings:
            ev.warnings.append(message)
            warn_log.warn(site.name, ev, message)


def _fill_version(ev: ValidEvent, version: int) -> None:
    """Put ``edata.version`` into the event as it will be stored (a page that did not
    register the name does not know its version; the site's registry does)."""
    value = msgspec.json.decode(ev.raw)
    value["edata"]["version"] = version
    ev.raw = msgspec.json.encode(value)


@dataclass(slots=True)
class _Seen:
    eid: str
    count: int
    first_seen: int
    last_seen: int
    warned: int = 0
    last_warnings: str | None = None
    example: str | None = None


def persist_catalog(conn: Connection, batches: Sequence[PreparedBatch],
                    outcomes: Sequence[BatchOutcome]) -> CounterWrites | None:
    """Persist hook: registrations from browsers now; the per-(site, name) counters
    returned, for the end of the transaction."""
    seen: dict[tuple[int, str], _Seen] = {}
    registers: list[tuple[int, ValidEvent]] = []
    for batch, outcome in zip(batches, outcomes, strict=True):
        stored = outcome.stored
        if not stored:
            continue
        at = batch.received_at
        site_id = batch.site_id
        # C-level iteration (Counter, map, filter, dict(zip)): this runs for every stored
        # event on the writer thread; the Python-level loops are per distinct name.
        counts = Counter(map(_name, stored))
        new_names = [name for name in counts if (site_id, name) not in seen]
        if new_names:
            first = dict(zip(map(_name, reversed(stored)), reversed(stored), strict=True))
            for name in new_names:
                ev = first[name]
                seen[(site_id, name)] = _Seen(ev.eid, 0, at, at, example=(
                    ev.raw.decode() if len(ev.raw) <= MAX_EXAMPLE else None))
        for name, count in counts.items():
            entry = seen[(site_id, name)]
            entry.count += count
            entry.last_seen = at
        for ev in filter(_warnings, stored):
            entry = seen[(site_id, ev.name)]
            entry.warned += 1
            entry.last_warnings = json.dumps(ev.warnings)
        if REGISTER_EVENT in counts:
            registers.extend((site_id, ev) for ev in stored if ev.name == REGISTER_EVENT)
    for site_id, ev in registers:
        _store_registration(conn, site_id, ev)
    if not seen:
        return None
    return lambda conn: _upsert_counters(conn, seen)


def _store_registration(conn: Connection, site_id: int, ev: ValidEvent) -> None:
    data = custom_edata(ev.raw).data
    if not isinstance(data, dict):
        return  # already warned at ingest
    try:
        reg = make_registration(data.get("name"), data.get("description"),
                                data.get("fields"), data.get("version", 1),
                                source="browser", where="collector.register")
    except ValueError:
        return  # already warned at ingest
    message = save_registration(conn, site_id, reg, strict=False)
    if message is not None and message not in ev.warnings:
        # The ingest-time check saw an older cache (another process registered first):
        # the database's answer is the one the event keeps.
        ev.warnings.append(message)
        conn.execute(update(EVENTS).where(EVENTS.c.site_id == site_id,
                                          EVENTS.c.mid == ev.mid).values(
            warnings=json.dumps(ev.warnings)))
        log.warning("event %s (mid %s): %s", ev.name, ev.mid, message)


def _upsert_counters(conn: Connection, seen: dict[tuple[int, str], _Seen]) -> None:
    rows = [{"site_id": site_id, "name": name, "eid": s.eid, "count": s.count,
             "first_seen": s.first_seen, "last_seen": s.last_seen, "warned": s.warned,
             "last_warnings": s.last_warnings, "example": s.example}
            for (site_id, name), s in sorted(seen.items())]  # sorted: one lock order
    stmt = insert_for(conn, EVENT_NAMES)
    new = stmt.excluded
    least, greatest = least_greatest(conn)
    stmt = stmt.on_conflict_do_update(index_elements=["site_id", "name"], set_={
        "count": EVENT_NAMES.c.count + new.count,
        "first_seen": least(EVENT_NAMES.c.first_seen, new.first_seen),
        "last_seen": greatest(EVENT_NAMES.c.last_seen, new.last_seen),
        "warned": EVENT_NAMES.c.warned + new.warned,
        "last_warnings": func.coalesce(new.last_warnings, EVENT_NAMES.c.last_warnings),
        "example": func.coalesce(EVENT_NAMES.c.example, new.example),
    })
    conn.execute(stmt, rows)


def after_commit(registry: Registry, stored: list[ValidEvent]) -> None:
    """Pipeline listener: reload the registry once a batch stored registrations."""
    for ev in stored:
        if ev.name == REGISTER_EVENT:
            registry.invalidate()
            return

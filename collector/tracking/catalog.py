"""The event catalog: every V3 eid, every registered name and every name seen.

Built from three small tables, never from a scan of ``events``: the spec's eid
descriptions, ``event_types`` (registrations, all versions) and ``event_names``
(counters kept at ingest by :func:`collector.tracking.registry_checks.persist_catalog`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from collector.core.events.schema import EID_DESCRIPTIONS, EIDS
from collector.core.isotime import iso_timestamp
from collector.storage.models import EventName, EventType

EXPORT_KEYS = ("name", "kind", "description", "versions", "count")


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_catalog(engine: Engine) -> dict[str, Any]:
    """``{"events": [entry, ...]}``: the 17 eids in spec order, then custom names A-Z.

    An entry has ``name, kind ("v3"|"custom"), description, registered, versions
    [{version, schema_id, description, fields, source, registered_at, updated_at}],
    fields (of the latest version), count, first_seen, last_seen, example,
    warnings {events, latest}``.
    """
    with engine.connect() as conn:
        types = conn.execute(select(EventType).order_by(EventType.name, EventType.version)).all()
        names = {row.name: row for row in conn.execute(select(EventName))}
    versions: dict[str, list[dict[str, Any]]] = {}
    for t in types:
        versions.setdefault(t.name, []).append({
            "version": t.version, "schema_id": t.schema_id, "description": t.description,
            "fields": json.loads(t.fields), "source": t.source,
            "registered_at": iso_timestamp(t.registered_at),
            "updated_at": iso_timestamp(t.updated_at)})
    custom = sorted((set(versions) | set(names)) - set(EIDS))
    entries = []
    for name in [*EIDS, *custom]:
        kind = "v3" if name in EID_DESCRIPTIONS else "custom"
        regs = versions.get(name, [])
        latest = regs[-1] if regs else None
        seen = names.get(name)
        entries.append({
            "name": name,
            "kind": kind,
            "description": EID_DESCRIPTIONS[name] if kind == "v3" else (
                latest["description"] if latest else ""),
            "registered": bool(regs),
            "versions": regs,
            "fields": latest["fields"] if latest else {},
            "count": seen.count if seen else 0,
            "first_seen": iso_timestamp(seen.first_seen) if seen else None,
            "last_seen": iso_timestamp(seen.last_seen) if seen else None,
            "example": _json(seen.example) if seen else None,
            "warnings": {"events": seen.warned if seen else 0,
                         "latest": _json(seen.last_warnings) if seen else None},
        })
    return {"events": entries}


def export_catalog(engine: Engine) -> dict[str, Any]:
    """The machine-readable catalog of ``collector catalog export``."""
    return {"events": [{key: entry[key] for key in EXPORT_KEYS}
                       for entry in build_catalog(engine)["events"]]}

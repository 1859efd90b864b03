"""The event catalog: every V3 eid, every registered name and every name seen.

Built from three small tables, never from a scan of ``events``: the spec's eid
descriptions, ``event_types`` (registrations per site, all versions) and
``event_names`` (counters per site kept at ingest by
:func:`collector.tracking.registry_checks.persist_catalog`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, select

from collector.core.events.schema import EID_DESCRIPTIONS, EIDS
from collector.core.isotime import iso_timestamp
from collector.storage.models import EventName, EventType, Site

EXPORT_KEYS = ("name", "site", "kind", "description", "versions", "count")


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _merge_counts(rows: list[Any]) -> dict[str, Any] | None:
    """One name's counters over several sites (the V3 eids of a multi-site view)."""
    if not rows:
        return None
    first = min(rows, key=lambda r: r.first_seen)
    latest = max(rows, key=lambda r: r.last_seen)
    return {"count": sum(r.count for r in rows), "first_seen": first.first_seen,
            "last_seen": latest.last_seen, "warned": sum(r.warned for r in rows),
            "last_warnings": next((r.last_warnings for r in sorted(
                rows, key=lambda r: -r.last_seen) if r.last_warnings), None),
            "example": first.example}


def build_catalog(engine: Engine, site_ids: Collection[int] | None = None) -> dict[str, Any]:
    """``{"events": [entry, ...]}``: the 17 eids in spec order, then custom names A-Z.

    Custom names are per site: one entry per (name, site), with that site's
    registrations and counters only. ``site_ids`` limits the catalog to those sites
    (None: every site); the eids' counters add up over them.

    An entry has ``name, site (null for eids), kind ("v3"|"custom"), description,
    registered, versions [{version, schema_id, description, fields, source,
    registered_at, updated_at}], fields (of the latest version), count, first_seen,
    last_seen, example, warnings {events, latest}``.
    """
    types_q = select(EventType).order_by(EventType.name, EventType.site_id, EventType.version)
    names_q = select(EventName)
    if site_ids is not None:
        types_q = types_q.where(EventType.site_id.in_(list(site_ids)))
        names_q = names_q.where(EventName.site_id.in_(list(site_ids)))
    with engine.connect() as conn:
        site_names = dict(conn.execute(select(Site.id, Site.name)).all())
        types = conn.execute(types_q).all()
        names = conn.execute(names_q).all()
    versions: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for t in types:
        versions.setdefault((t.name, t.site_id), []).append({
            "version": t.version, "schema_id": t.schema_id, "description": t.description,
            "fields": json.loads(t.fields), "source": t.source,
            "registered_at": iso_timestamp(t.registered_at),
            "updated_at": iso_timestamp(t.updated_at)})
    v3_rows: dict[str, list[Any]] = {}
    custom_seen: dict[tuple[str, int], dict[str, Any]] = {}
    for row in names:
        if row.name in EID_DESCRIPTIONS:
            v3_rows.setdefault(row.name, []).append(row)
        else:
            custom_seen[(row.name, row.site_id)] = _merge_counts([row]) or {}
    custom = sorted((set(versions) | set(custom_seen)),
                    key=lambda k: (k[0], site_names.get(k[1], "")))
    entries = []
    for name in EIDS:
        entries.append(_entry(name, None, "v3", EID_DESCRIPTIONS[name], [],
                              _merge_counts(v3_rows.get(name, []))))
    for name, site_id in custom:
        regs = versions.get((name, site_id), [])
        entries.append(_entry(name, site_names.get(site_id), "custom",
                              regs[-1]["description"] if regs else "", regs,
                              custom_seen.get((name, site_id))))
    return {"events": entries}


def _entry(name: str, site: str | None, kind: str, description: str,
           regs: list[dict[str, Any]], seen: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": name,
        "site": site,
        "kind": kind,
        "description": description,
        "registered": bool(regs),
        "versions": regs,
        "fields": regs[-1]["fields"] if regs else {},
        "count": seen["count"] if seen else 0,
        "first_seen": iso_timestamp(seen["first_seen"]) if seen else None,
        "last_seen": iso_timestamp(seen["last_seen"]) if seen else None,
        "example": _json(seen["example"]) if seen else None,
        "warnings": {"events": seen["warned"] if seen else 0,
                     "latest": _json(seen["last_warnings"]) if seen else None},
    }


def export_catalog(engine: Engine, site_ids: Collection[int] | None = None
                   ) -> dict[str, Any]:
    """The machine-readable catalog of ``collector catalog export``."""
    return {"events": [{key: entry[key] for key in EXPORT_KEYS}
                       for entry in build_catalog(engine, site_ids)["events"]]}

"""Registered event types: versioned metadata of custom named events (edX event-tracking).

A registration is ``(name, version)`` of one site with a description and one description
per field; its schema id is ``<name>/v<version>``. Registrations are per site: a browser
registers names for the site of its write key, Python code (``tracking.register``) for
the collector's own site, where its events go. The database is the truth;
:class:`Registry` keeps a cache of it for ingest, which checks every custom event
against the registrations of the event's site.

Versioning: registering the same field set again updates the descriptions; a changed
field set needs a new version. From Python a conflict raises :class:`RegistrationError`;
from a browser (``ck('register', ...)``) it is a warning on the register event and the
stored registration stays as it was.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from collector.core.events.validate import CUSTOM_NAME
from collector.storage.dialect import insert_for
from collector.storage.engine import write_transaction
from collector.storage.models import EVENT_TYPES, now_ms

REGISTER_EVENT = "collector.register"  # edata.type of a browser registration
RESERVED_PREFIX = "collector."  # the collector's own names: registered from Python only
MAX_FIELDS = 200
MAX_DESCRIPTION = 4096
CACHE_SECONDS = 5.0
PROVISIONAL_SECONDS = 60.0
MAX_PROVISIONAL = 10_000  # registrations awaiting their commit (bounded against floods)

log = logging.getLogger("collector.registry")


class RegistrationError(ValueError):
    """A registration that is malformed or conflicts with the stored one."""


@dataclass(frozen=True, slots=True)
class Registration:
    """One version of a named event type."""

    name: str
    version: int
    description: str
    fields: dict[str, str] = field(default_factory=dict)  # field name -> description
    source: str = "python"  # "python" or "browser"

    @property
    def schema_id(self) -> str:
        return f"{self.name}/v{self.version}"

    @property
    def field_set(self) -> frozenset[str]:
        return frozenset(self.fields)


def check_name(name: Any, where: str = "name") -> str:
    """Return ``name`` if it is a dotted event name, else raise RegistrationError."""
    if not isinstance(name, str) or len(name) > 256 or not CUSTOM_NAME.match(name):
        raise RegistrationError(
            f"{where}: {name!r} is not a dotted event name such as 'org.video.paused' "
            "(letters, digits, '_' and '-' in at least two dot-separated parts, at most "
            "256 characters)")
    return name


def make_registration(name: Any, description: Any, fields: Any, version: Any = 1, *,
                      source: str = "python", where: str = "register") -> Registration:
    """Validate the parts of a registration; errors name the part that is wrong.

    ``fields`` maps each field name to its description; a list of field names is
    accepted too (each then has an empty description).
    """
    check_name(name, f"{where}: name")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise RegistrationError(f"{where}: description of {name!r} must be a string of at "
                                f"most {MAX_DESCRIPTION} characters")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 1_000_000:
        raise RegistrationError(f"{where}: version of {name!r} must be an integer >= 1, "
                                f"got {version!r}")
    if fields is None:
        fields = {}
    if isinstance(fields, list | tuple):
        fields = {f: "" for f in fields}
    if not isinstance(fields, Mapping):
        raise RegistrationError(f"{where}: fields of {name!r} must map field names to "
                                f"descriptions, got {type(fields).__name__}")
    if len(fields) > MAX_FIELDS:
        raise RegistrationError(f"{where}: {name!r} has {len(fields)} fields; at most "
                                f"{MAX_FIELDS}")
    clean: dict[str, str] = {}
    for key, text in fields.items():
        if not isinstance(key, str) or not key or len(key) > 256:
            raise RegistrationError(f"{where}: field names of {name!r} must be non-empty "
                                    f"strings of at most 256 characters, got {key!r}")
        if text is None:
            text = ""
        if not isinstance(text, str) or len(text) > MAX_DESCRIPTION:
            raise RegistrationError(f"{where}: description of field {key!r} of {name!r} "
                                    f"must be a string of at most {MAX_DESCRIPTION} characters")
        clean[key] = text
    return Registration(name, version, description, dict(sorted(clean.items())), source)


def conflict_message(stored: Registration, wanted: Registration, next_version: int) -> str:
    """Why ``wanted`` cannot replace ``stored`` (same name and version, other fields)."""
    added = sorted(wanted.field_set - stored.field_set)
    removed = sorted(stored.field_set - wanted.field_set)
    change = "; ".join(part for part in (
        f"adds {', '.join(added)}" if added else "",
        f"drops {', '.join(removed)}" if removed else "") if part)
    return (f"registry: {stored.schema_id} is registered with fields "
            f"[{', '.join(sorted(stored.fields))}]; this registration {change}: a changed "
            f"field set needs a new version (version={next_version})")


def _row_registration(row: Any) -> Registration:
    return Registration(row.name, row.version, row.description, json.loads(row.fields),
                        row.source)


SiteName = tuple[int, str]  # (site id, event name): the key of a registration


def load_registrations(conn: Connection) -> dict[SiteName, dict[int, Registration]]:
    """Every registration: (site id, name) -> version -> Registration."""
    found: dict[SiteName, dict[int, Registration]] = {}
    for row in conn.execute(select(EVENT_TYPES)):
        found.setdefault((row.site_id, row.name), {})[row.version] = _row_registration(row)
    return found


def _select(conn: Connection, site_id: int, name: str) -> dict[int, Registration]:
    rows = conn.execute(select(EVENT_TYPES).where(EVENT_TYPES.c.site_id == site_id,
                                                  EVENT_TYPES.c.name == name))
    return {row.version: _row_registration(row) for row in rows}


def save_registration(conn: Connection, site_id: int, reg: Registration, *, strict: bool
                      ) -> str | None:
    """Insert or update ``reg`` of site ``site_id`` on ``conn`` (in the caller's transaction).

    Returns ``None`` when applied, else the warning saying why not; with ``strict``
    (Python callers) a conflicting field set raises :class:`RegistrationError` instead.
    """
    if reg.source == "browser" and reg.name.startswith(RESERVED_PREFIX):
        return (f"registry: names under {RESERVED_PREFIX!r} belong to the collector; "
                f"browser registration of {reg.name!r} ignored")
    versions = _select(conn, site_id, reg.name)
    if reg.version not in versions:
        now = now_ms()
        stmt = insert_for(conn, EVENT_TYPES).on_conflict_do_nothing(
            index_elements=["site_id", "name", "version"])
        result = conn.execute(stmt.returning(EVENT_TYPES.c.id), {
            "site_id": site_id, "name": reg.name, "version": reg.version,
            "schema_id": reg.schema_id,
            "description": reg.description, "fields": json.dumps(reg.fields),
            "source": reg.source, "registered_at": now, "updated_at": now})
        if result.first() is not None:
            return None
        versions = _select(conn, site_id, reg.name)  # another process registered it meanwhile
    stored = versions[reg.version]
    if stored.field_set != reg.field_set:
        message = conflict_message(stored, reg, max(versions) + 1)
        if strict:
            raise RegistrationError(message.removeprefix("registry: "))
        return message
    if reg.source == "browser" and stored.source == "python":
        return (f"registry: {stored.schema_id} is registered by the server; the browser's "
                "descriptions were not applied")
    if (stored.description, stored.fields, stored.source) != (
            reg.description, reg.fields, reg.source):
        conn.execute(update(EVENT_TYPES).where(
            EVENT_TYPES.c.site_id == site_id, EVENT_TYPES.c.name == reg.name,
            EVENT_TYPES.c.version == reg.version).values(
            description=reg.description, fields=json.dumps(reg.fields), source=reg.source,
            updated_at=now_ms()))
    return None


class Registry:
    """The registrations of one app, cached for ingest (refreshed every few seconds).

    Registrations seen at ingest but not committed yet are kept as *provisional* so that
    events of the next frames (pipelined before that commit) already find them.
    """

    def __init__(self, engine: Engine, own_site: Callable[[], int] | None = None) -> None:
        self.engine = engine
        # The site of Python registrations (the collector's own, where tracked events go).
        self.own_site = own_site
        self._lock = threading.Lock()
        self._known: dict[SiteName, dict[int, Registration]] = {}
        self._expires = 0.0
        # (site, name) -> version -> (monotonic time seen, registration); inner dicts are
        # replaced, never mutated, so readers need no lock.
        self._provisional: dict[SiteName, dict[int, tuple[float, Registration]]] = {}

    # --- writes from Python -----------------------------------------------------------

    def register(self, name: str, description: str, fields: Mapping[str, str] | list[str],
                 version: int = 1, *, site_id: int | None = None) -> Registration:
        """Store a registration (see :func:`save_registration`, strict) and cache it;
        ``site_id`` defaults to the collector's own site."""
        reg = make_registration(name, description, fields, version)
        site = self.python_site() if site_id is None else site_id
        with write_transaction(self.engine) as conn:
            save_registration(conn, site, reg, strict=True)
            versions = _select(conn, site, reg.name)
        with self._lock:
            self._known = {**self._known, (site, reg.name): versions}
        return versions[reg.version]

    def python_site(self) -> int:
        """The site Python registrations and tracked events belong to."""
        if self.own_site is None:
            raise RuntimeError("this registry has no site for Python registrations")
        return self.own_site()

    # --- reads for ingest -------------------------------------------------------------

    def versions(self, site_id: int, name: str) -> dict[int, Registration]:
        """Known versions of ``name`` on a site (committed first, then provisional)."""
        found = dict(self._snapshot().get((site_id, name), {}))
        pending = self._provisional.get((site_id, name))
        if pending:
            for version, (_, reg) in pending.items():
                found.setdefault(version, reg)
        return found

    def latest_version(self, site_id: int, name: str) -> int | None:
        versions = self.versions(site_id, name)
        return max(versions) if versions else None

    def check_data(self, site_id: int, name: str, version: int | None, data: Any
                   ) -> list[str]:
        """Warnings for the data of a custom event of a site (never raises, never drops)."""
        versions = self.versions(site_id, name)
        if not versions:
            return [f"registry: {name!r} is not registered; register it to document its "
                    "fields (register() in Python, ck('register', ...) in the browser)"]
        if version is None:
            version = max(versions)
        reg = versions.get(version)
        if reg is None:
            return [f"registry: {name!r} version {version} is not registered (registered: "
                    f"{', '.join(str(v) for v in sorted(versions))})"]
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            return [f"registry: {reg.schema_id}: data must be an object of fields, got {kind}"]
        warnings = []
        extra = sorted(set(data) - reg.field_set)
        missing = sorted(reg.field_set - set(data))
        if extra:
            warnings.append(f"registry: {reg.schema_id}: field(s) not in the registration: "
                            f"{', '.join(extra)}")
        if missing:
            warnings.append(f"registry: {reg.schema_id}: registered field(s) missing: "
                            f"{', '.join(missing)}")
        return warnings

    def propose(self, site_id: int, data: Any) -> list[str]:
        """A browser registration seen at ingest for a site: warnings, and cache it
        provisionally."""
        if not isinstance(data, dict):
            return ["registry: collector.register: data must be an object "
                    "{name, description, fields, version}"]
        try:
            reg = make_registration(data.get("name"), data.get("description"),
                                    data.get("fields"), data.get("version", 1),
                                    source="browser", where="collector.register")
        except RegistrationError as exc:
            return [f"registry: {exc}"]
        if reg.name.startswith(RESERVED_PREFIX):
            return [f"registry: names under {RESERVED_PREFIX!r} belong to the collector; "
                    f"browser registration of {reg.name!r} ignored"]
        versions = self.versions(site_id, reg.name)
        stored = versions.get(reg.version)
        if stored is None:
            key = (site_id, reg.name)
            with self._lock:  # copy-on-write: readers iterate without the lock
                if key in self._provisional or len(self._provisional) < MAX_PROVISIONAL:
                    self._provisional[key] = {**self._provisional.get(key, {}),
                                              reg.version: (time.monotonic(), reg)}
            return []
        if stored.field_set != reg.field_set:
            return [conflict_message(stored, reg, max(versions) + 1)]
        return []

    def invalidate(self) -> None:
        """Reload from the database on next use (after a commit stored registrations)."""
        self._expires = 0.0

    def _snapshot(self) -> dict[SiteName, dict[int, Registration]]:
        if time.monotonic() < self._expires:
            return self._known
        try:
            with self.engine.connect() as conn:
                known = load_registrations(conn)
        except Exception as exc:  # noqa: BLE001 - keep checking with what we had; retry later
            log.warning("registry: could not reload registrations: %s", exc)
            self._expires = time.monotonic() + CACHE_SECONDS
            return self._known
        now = time.monotonic()
        with self._lock:
            self._known = known
            self._expires = now + CACHE_SECONDS
            provisional: dict[SiteName, dict[int, tuple[float, Registration]]] = {}
            for key, pending in self._provisional.items():
                kept = {version: (added, reg) for version, (added, reg) in pending.items()
                        if version not in known.get(key, {})
                        and now - added < PROVISIONAL_SECONDS}
                if kept:
                    provisional[key] = kept
            self._provisional = provisional
        return known

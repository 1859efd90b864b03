"""Sites: write keys and origin allow-lists, looked up on every ingest request."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.orm import Session

from collector.storage.engine import StorageUnavailable, get_engine
from collector.storage.models import Site

CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SiteAuth:
    """What ingest needs to know about the site a write key belongs to."""

    id: int
    name: str
    origins: frozenset[str]

    def allows_origin(self, origin: str | None, own_origin: str | None = None) -> bool:
        """Requests without Origin (servers, SDKs in node) pass; browsers must be listed.

        The collector's own pages (the demo) are always allowed for their own origin.
        """
        if origin is None or origin == "":
            return True
        normalized = normalize_origin(origin)
        if "*" in self.origins or normalized in self.origins:
            return True
        return own_origin is not None and normalized == normalize_origin(own_origin)


def normalize_origin(origin: str) -> str:
    """``https://Example.com:443/`` -> ``https://example.com``."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def validate_origin(origin: str) -> str:
    """Return the normalized origin or raise ValueError with what is wrong."""
    if origin.strip() == "*":
        return "*"
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origin {origin!r}: expected scheme://host[:port], e.g. "
                         "https://courses.example.org")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"origin {origin!r}: an origin has no path, query or fragment")
    return normalize_origin(origin)


def new_write_key() -> str:
    return "ck_" + secrets.token_urlsafe(24)


def create_site(session: Session, name: str, origins: list[str]) -> Site:
    """Add a site with a fresh write key (caller commits)."""
    clean = sorted({validate_origin(o) for o in origins})
    site = Site(name=name, write_key=new_write_key(), origins=json.dumps(clean))
    session.add(site)
    return site


class SiteDirectory:
    """Write key -> SiteAuth, cached for a few seconds so ingest does not query per batch."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, SiteAuth | None]] = {}
        self._all_origins: tuple[float, frozenset[str]] | None = None

    def authenticate(self, key: str | None) -> SiteAuth | None:
        if not key or len(key) > 64:
            return None
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(Site.id, Site.name, Site.origins).where(Site.write_key == key)
                ).first()
        except (DBAPIError, InvalidatePoolError) as exc:
            raise StorageUnavailable(f"cannot look up the write key: {exc}") from exc
        auth = None
        if row is not None:
            auth = SiteAuth(row.id, row.name, frozenset(json.loads(row.origins or "[]")))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()  # unknown keys from a scanner must not grow memory
            self._cache[key] = (now + CACHE_SECONDS, auth)
        return auth

    def any_site_allows(self, origin: str) -> bool:
        """For CORS preflights, which carry no write key: is ``origin`` listed anywhere?"""
        now = time.monotonic()
        if self._all_origins is None or self._all_origins[0] <= now:
            try:
                with self._engine.connect() as conn:
                    lists = conn.execute(select(Site.origins)).scalars().all()
            except (DBAPIError, InvalidatePoolError) as exc:
                raise StorageUnavailable(f"cannot look up origins: {exc}") from exc
            merged = frozenset(o for raw in lists for o in json.loads(raw or "[]"))
            self._all_origins = (now + CACHE_SECONDS, merged)
        allowed = self._all_origins[1]
        return "*" in allowed or normalize_origin(origin) in allowed

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._all_origins = None


def init_app(app: Flask) -> None:

    app.extensions["collector.sites"] = SiteDirectory(get_engine(app))


def get_directory(app: Flask | None = None) -> SiteDirectory:
    return (app or current_app).extensions["collector.sites"]


def default_site_key(engine: Engine) -> str | None:
    """Write key of site ``default`` (the demo pages use it)."""
    with engine.connect() as conn:
        return conn.scalar(select(Site.write_key).where(Site.name == "default"))

"""Configuration read from ``COLLECTOR_*`` environment variables, in one place."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_RATE_LIMIT = 10_000
DEFAULT_WS_IDLE_SECONDS = 60.0  # the tracker closes its own idle socket after 15 s

def parse_trusted_proxies(raw: str) -> int | tuple[str, ...]:
    """A number of proxies in front (``2``), or the proxies' addresses/networks
    (``10.0.0.1, 10.1.0.0/16``) whose ``X-Forwarded-For`` is believed."""
    text = raw.strip()
    if text.isdigit():
        return int(text)
    networks = tuple(part.strip() for part in text.split(",") if part.strip())
    if not networks:
        raise ValueError("a number of proxies or a comma-separated list of addresses")
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is neither a number of proxies nor an address "
                             "or network") from None
    return networks


# name -> (config key, parser, default)
_ENV: dict[str, tuple[str, Any, Any]] = {
    "DATABASE_URL": ("DATABASE_URL", str, None),
    "SECRET_KEY": ("SECRET_KEY", str, None),
    "PUBLIC_URL": ("PUBLIC_URL", str, None),
    "MAX_BODY_BYTES": ("MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES),
    "RATE_LIMIT": ("RATE_LIMIT", float, DEFAULT_RATE_LIMIT),
    "LRS_URL": ("LRS_URL", str, None),
    "LRS_AUTH": ("LRS_AUTH", str, None),
    "CALIPER_URL": ("CALIPER_URL", str, None),
    "CALIPER_TOKEN": ("CALIPER_TOKEN", str, None),
    "REDIS_URL": ("REDIS_URL", str, None),
    "TRUSTED_PROXIES": ("TRUSTED_PROXIES", parse_trusted_proxies, 0),
    "WS_IDLE_SECONDS": ("WS_IDLE_SECONDS", float, DEFAULT_WS_IDLE_SECONDS),
    "WS_MAX_PER_ADDRESS": ("WS_MAX_PER_ADDRESS", int, 0),
}


class ConfigError(ValueError):
    """A ``COLLECTOR_*`` variable holds a value that cannot be used."""


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the collector settings found in ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for name, (key, parse, default) in _ENV.items():
        raw = env.get("COLLECTOR_" + name)
        if raw is None or raw == "":
            settings[key] = default
            continue
        try:
            settings[key] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"COLLECTOR_{name}={raw!r}: {exc}") from exc
    if settings["MAX_BODY_BYTES"] <= 0:
        raise ConfigError("COLLECTOR_MAX_BODY_BYTES must be a positive number of bytes")
    if settings["WS_IDLE_SECONDS"] <= 0 or settings["WS_MAX_PER_ADDRESS"] < 0:
        raise ConfigError("COLLECTOR_WS_IDLE_SECONDS must be positive and "
                          "COLLECTOR_WS_MAX_PER_ADDRESS 0 (no cap) or positive")
    if settings["RATE_LIMIT"] < 0:
        raise ConfigError("COLLECTOR_RATE_LIMIT must be 0 (off) or a positive events/s figure")
    return settings


def default_database_url(instance_path: str) -> str:
    """SQLite file in the Flask instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "collector.sqlite3")


def normalize_database_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def instance_secret_key(instance_path: str) -> str:
    """Generate the secret key once and keep it in the instance folder.

    The key is written to a private temporary file and then hard-linked into place, so
    the file appears complete or not at all: a worker starting at the same moment never
    reads an empty key, and two workers agree on the one that was linked first.
    """
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; its file is complete
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def init_app(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Settings from the environment (``overrides`` win), with derived Flask options."""
    os.makedirs(app.instance_path, exist_ok=True)
    settings = from_environ()
    if overrides is not None:
        settings.update(overrides)
    app.config.update(settings)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    app.config["DATABASE_URL"] = normalize_database_url(app.config["DATABASE_URL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(app.config.get("PUBLIC_URL") or "").startswith("https://"),
    )

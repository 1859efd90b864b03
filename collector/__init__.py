"""Learning-telemetry collector: Telemetry V3 in, stored once, live dashboards, xAPI out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from collector.resources import resource_dir

__version__ = "0.1.0"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: config from ``COLLECTOR_*`` env vars, or ``test_config``."""
    from collector import config

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(resource_dir("static")),
        static_url_path="/static",
        template_folder=str(resource_dir("templates")),
        instance_path=os.environ.get("COLLECTOR_INSTANCE_PATH") or None,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    settings = config.from_environ()
    if test_config is not None:
        settings.update(test_config)
    app.config.update(settings)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = config.default_database_url(app.instance_path)
    app.config["DATABASE_URL"] = config.normalize_database_url(app.config["DATABASE_URL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.instance_secret_key(app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config.setdefault("SOCK_SERVER_OPTIONS", {
        "max_message_size": app.config["MAX_BODY_BYTES"], "ping_interval": 25})
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(app.config.get("PUBLIC_URL") or "").startswith("https://"),
    )

    from collector import (
        auth,
        dashboard,
        db,
        hardening,
        ingest,
        openapi,
        outbound,
        sites,
        tracker_asset,
        tracking,
        web,
    )
    from collector.transports import http, ws

    db.init_app(app)
    ingest.init_app(app)
    sites.init_app(app)
    auth.init_app(app)
    http.init_app(app)
    ws.init_app(app)
    web.init_app(app)
    tracker_asset.init_app(app)
    tracking.init_app(app)
    outbound.init_app(app)
    dashboard.init_app(app)
    openapi.init_app(app)
    hardening.init_app(app)

    from collector import cli

    cli.init_app(app)
    return app


def shutdown(app: Flask) -> None:
    """Stop the app's background threads and close its database connections."""
    from collector.db import get_engine
    from collector.ingest import get_pipeline

    get_pipeline(app).writer.close()
    get_engine(app).dispose()

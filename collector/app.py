"""The application factory: the one place where every component is wired in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from collector import config
from collector.analytics import derived, event_warnings, learning_tables, live_feed
from collector.ingest import pipeline
from collector.ingest.pipeline import shutdown
from collector.outbound import forwarding
from collector.resources import resource_dir
from collector.storage import engine, sites
from collector.tracking import tracker
from collector.web import (
    auth,
    catalog,
    demo,
    exports,
    hardening,
    ingest_http,
    ingest_ws,
    openapi,
    proxies,
    site_scope,
    sockets,
    tracker_asset,
    ws_slots,
)
from collector.web.dashboard import course_views
from collector.web.dashboard import views as dashboard

__all__ = ["create_app", "shutdown"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from ``COLLECTOR_*`` env vars, or ``test_config`` over them."""
    app = Flask(
        "collector",
        instance_relative_config=True,
        static_folder=str(resource_dir("static")),
        static_url_path="/static",
        template_folder=str(resource_dir("templates")),
        instance_path=os.environ.get("COLLECTOR_INSTANCE_PATH") or None,
    )
    config.init_app(app, test_config)

    # Storage, then the pipeline every door calls, then what extends it.
    engine.init_app(app)
    sites.init_app(app)
    pipeline.init_app(app)
    tracker.init_app(app)        # before store: registry checks; in transaction: counters
    forwarding.init_app(app)     # in transaction: outbox rows
    derived.init_app(app)        # in transaction: dashboard tables
    learning_tables.init_app(app)  # in transaction: course, lesson, item progress
    event_warnings.init_app(app)  # in transaction: warnings per site and kind
    live_feed.init_app(app)      # after commit: live dashboards of every process

    # Web surfaces, one blueprint each.
    sockets.init_app(app)
    ws_slots.init_app(app)       # ingest sockets per process and per client address
    auth.init_app(app)
    site_scope.init_app(app)     # viewers and editors: only their sites
    for blueprint in (ingest_http.bp, ingest_ws.bp, dashboard.bp, course_views.bp, exports.bp,
                      catalog.bp, demo.bp):
        app.register_blueprint(blueprint)
    tracker_asset.init_app(app)
    openapi.init_app(app)
    hardening.init_app(app)
    proxies.init_app(app)        # client addresses behind COLLECTOR_TRUSTED_PROXIES

    return app

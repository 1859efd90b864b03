"""Live dashboards: overview, session flow, funnels, session explorer, rejected events.

Wiring (``init_app``): the persist hook that keeps the derived tables at ingest, the
key catalog queries read, the live feed behind ``/v1/live`` and the page blueprint.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from collector.dashboard import live, views
    from collector.dashboard.derived import DerivedTables
    from collector.dashboard.keys import KeyCatalog
    from collector.db import get_engine
    from collector.ingest import get_pipeline

    app.extensions["collector.key_catalog"] = KeyCatalog()
    postgres = get_engine(app).dialect.name == "postgresql"
    get_pipeline(app).writer.hooks.append(
        DerivedTables(notify=postgres and not app.config.get("REDIS_URL")))
    live.init_app(app)
    app.register_blueprint(views.bp)

"""The ``collector`` command line (console script): every command group, in one place."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import DBAPIError, OperationalError

from collector import app as application
from collector.cli import admin, bench, catalog, data, forward, lifecycle, report, serve
from collector.storage.engine import StorageUnavailable

NEEDS_UPGRADE = ("the database has no collector tables yet, or an older schema: run "
                 "`collector db upgrade` (COLLECTOR_DATABASE_URL chooses the database)")
_MISSING_SCHEMA = ("no such table", "no such column")
_MISSING_SCHEMA_ERRORS = ("UndefinedTable", "UndefinedColumn")  # psycopg's names


def create_app() -> Flask:
    """The app a command runs in (looked up at call time, so tests can wrap it)."""
    return application.create_app()


def database_mistake(exc: Exception) -> str | None:
    """One line for an operator's database mistake (no schema yet, no server), or None."""
    if isinstance(exc, StorageUnavailable):
        return f"cannot reach the database: {exc}; check COLLECTOR_DATABASE_URL"
    if not isinstance(exc, DBAPIError):
        return None
    detail = (str(exc.orig) or type(exc.orig).__name__).strip().splitlines()[0][:200]
    if type(exc.orig).__name__ in _MISSING_SCHEMA_ERRORS or any(
            text in detail for text in _MISSING_SCHEMA):
        return NEEDS_UPGRADE
    if isinstance(exc, OperationalError) and (
            exc.connection_invalidated or "connect" in detail
            or "unable to open database file" in detail):
        return f"cannot reach the database ({detail}); check COLLECTOR_DATABASE_URL"
    return None


class CollectorGroup(FlaskGroup):
    """Every command answers a database mistake in one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DBAPIError, StorageUnavailable) as exc:
            message = database_mistake(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=CollectorGroup, create_app=create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """Learning-telemetry collector: ingest Telemetry V3, dashboards, xAPI export."""


for command in (serve.serve, admin.db_group, admin.site_group, admin.user_group, data.stats,
                data.export, data.schema_group, catalog.catalog_group, forward.forward,
                bench.bench_group, report.report, lifecycle.learner_group,
                lifecycle.events_group):
    main.add_command(command)


if __name__ == "__main__":
    main()

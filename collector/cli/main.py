"""The ``collector`` command line (console script): every command group, in one place."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from collector import app as application
from collector.cli import admin, bench, catalog, data, forward, report, serve


def create_app() -> Flask:
    """The app a command runs in (looked up at call time, so tests can wrap it)."""
    return application.create_app()


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """Learning-telemetry collector: ingest Telemetry V3, dashboards, xAPI export."""


for command in (serve.serve, admin.db_group, admin.site_group, admin.user_group, data.stats,
                data.export, data.schema_group, catalog.catalog_group, forward.forward,
                bench.bench_group, report.report):
    main.add_command(command)


if __name__ == "__main__":
    main()

"""``collector catalog export``: the event catalog as JSON on stdout."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from collector.storage import engine as db
from collector.tracking.catalog import export_catalog


@click.group("catalog")
def catalog_group() -> None:
    """The event catalog: V3 eids, registered and seen custom events."""


@catalog_group.command("export")
@with_appcontext
def catalog_export() -> None:
    """Print {"events": [{"name", "kind", "description", "versions", "count"}, ...]}."""

    db.upgrade(db.get_engine())
    click.echo(json.dumps(export_catalog(db.get_engine()), ensure_ascii=False))

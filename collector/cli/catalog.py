"""``collector catalog export``: the event catalog as JSON on stdout."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from collector.storage import engine as db
from collector.storage.models import Site
from collector.tracking.catalog import export_catalog


@click.group("catalog")
def catalog_group() -> None:
    """The event catalog: V3 eids, registered and seen custom events."""


@catalog_group.command("export")
@click.option("--site", "site_name", default=None,
              help="Only this site's event names (custom names are per site).")
@with_appcontext
def catalog_export(site_name: str | None) -> None:
    """Print {"events": [{"name", "site", "kind", "description", "versions", "count"}]}."""

    db.upgrade(db.get_engine())
    site_ids = None
    if site_name is not None:
        with db.get_engine().connect() as conn:
            site_id = conn.scalar(select(Site.id).where(Site.name == site_name))
        if site_id is None:
            raise click.ClickException(f"no site named {site_name!r}")
        site_ids = [site_id]
    click.echo(json.dumps(export_catalog(db.get_engine(), site_ids), ensure_ascii=False))

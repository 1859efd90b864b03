"""``collector stats``, ``collector export`` and ``collector schema``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from collector.analytics.stats import collect_stats
from collector.core.events.jsonschema import write_schemas
from collector.core.mapping import public_base
from collector.ingest.timing import read_step_times
from collector.outbound.export import (
    EXPORT_KINDS,
    ExportFilter,
    iter_export,
    parse_time,
    stream_json,
)
from collector.storage import engine as db
from collector.web.exports import site_id_named


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@with_appcontext
def stats(as_json: bool) -> None:
    """Counts of stored events, rejected events, duplicates and sessions, and the time
    each ingest step took in the servers that used this instance folder."""
    counts: dict[str, Any] = collect_stats(db.get_engine())
    counts["pipeline"] = read_step_times(
        Path(current_app.instance_path) / "pipeline")  # written by the serving processes
    if as_json:
        click.echo(json.dumps(counts))
        return
    for key, value in counts.items():
        if key != "pipeline":
            click.echo(f"{key:>12}: {value}")
    click.echo("ingest steps (calls, events, seconds, us/event):")
    for step, row in counts["pipeline"].items():
        click.echo(f"{step:>14}: {row['calls']} {row['events']} {row['seconds']} "
                   f"{row['us_per_event'] if row['us_per_event'] is not None else '-'}")


@click.command()
@click.argument("kind", type=click.Choice(["xapi", "caliper", "v3"]))
@click.option("--format", "fmt", type=click.Choice(["json", "ndjson"]), default="json",
              show_default=True)
@click.option("--since", help="ISO 8601 start (inclusive), by event time.")
@click.option("--until", help="ISO 8601 end (exclusive), by event time.")
@click.option("--course", help="Only events of this course id.")
@click.option("--site", help="Only events of this site (name).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of stdout.")
@with_appcontext
def export(kind: str, fmt: str, since: str | None, until: str | None, course: str | None,
           site: str | None, out: str | None) -> None:
    """Export stored events: xapi (statements), caliper (envelopes), v3 (as received)."""

    try:
        flt = ExportFilter(parse_time(since, "--since"), parse_time(until, "--until"), course,
                           site_id_named(db.get_engine(), site) if site else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    skipped: Counter[str] = Counter()
    items = iter_export(kind, db.get_engine(), flt,
                        public_base(current_app.config.get("PUBLIC_URL")), skipped)
    _write_stream(stream_json(_counting(items, EXPORT_KINDS[kind]), fmt), out)
    if skipped:
        click.echo("events without a mapping: " + ", ".join(
            f"{code} {n}" for code, n in skipped.most_common()), err=True)


def _counting(items: Any, what: str) -> Any:
    """Pass items through, showing a running count on stderr when it is a terminal."""
    show = sys.stderr.isatty()
    count = 0
    for item in items:
        count += 1
        if show and count % 5000 == 0:
            click.echo(f"\r{count} {what}", err=True, nl=False)
        yield item
    click.echo(f"\r{count} {what} exported", err=True)


def _write_stream(chunks: Any, out: str | None) -> None:
    if out is None:
        stream = sys.stdout.buffer
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
        return
    tmp = Path(out).with_name(Path(out).name + ".part")
    with open(tmp, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    tmp.replace(out)


@click.group("schema")
def schema_group() -> None:
    """Telemetry V3 JSON Schemas."""


@schema_group.command("export")
@click.option("--out", default="schemas", show_default=True,
              type=click.Path(file_okay=False), help="Directory to write the schemas to.")
def schema_export(out: str) -> None:
    """Write one JSON Schema file per eid (the validator's own types)."""

    for path in write_schemas(Path(out)):
        click.echo(str(path))

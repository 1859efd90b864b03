"""The ``collector`` command line (console script)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from collector import db


def _create_app() -> Flask:
    from collector import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """Learning-telemetry collector: ingest Telemetry V3, dashboards, xAPI export."""


# --- serve / db ---------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes; keep 1 on SQLite, raise it on PostgreSQL.")
@click.option("--threads", default=256, show_default=True, type=click.IntRange(4, 4096),
              help="Threads per process; each open WebSocket holds one.")
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Migrate, create site 'default' and user 'admin' on first run, serve with gunicorn."""
    from collector.bootstrap import bootstrap
    from collector.serve import run_gunicorn

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(db.get_engine())
    base = app.config.get("PUBLIC_URL") or f"http://{host}:{port}"
    for line in bootstrap(app, base):
        click.echo(line)
    click.echo(f"Serving on http://{host}:{port}  (demo: {base}/demo, dashboard: "
               f"{base}/dashboard; database: {db.get_engine().url.render_as_string()})")
    sys.stdout.flush()
    # Workers build their own app after the fork: stop this one's threads and connections.
    from collector import shutdown

    shutdown(app)
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every Alembic migration."""
    db.upgrade(db.get_engine())
    click.echo("database is up to date")


# --- sites / users -----------------------------------------------------------------


@main.group("site")
def site_group() -> None:
    """Sites: write keys and allowed origins."""


@site_group.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True,
              help="Allowed browser origin, e.g. https://courses.example.org (repeat).")
@with_appcontext
def site_add(name: str, origins: tuple[str, ...]) -> None:
    """Add a site; prints its write key as the last line."""
    from collector import audit
    from collector.models import Site
    from collector.sites import create_site
    from collector.tracking_db import INTERNAL_SITE

    if name == INTERNAL_SITE:
        raise click.ClickException(f"site name {name!r} is reserved for the collector's "
                                   "own audit events")
    db.upgrade(db.get_engine())
    with db.session() as s:
        if s.query(Site).filter_by(name=name).first() is not None:
            raise click.ClickException(f"site {name!r} already exists")
        try:
            site = create_site(s, name, list(origins))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
        audit.site_created(current_app._get_current_object(),  # type: ignore[attr-defined]
                           site.name, json.loads(site.origins), via="cli")
        click.echo(f"site {site.name!r} created; allowed origins: "
                   f"{', '.join(json.loads(site.origins)) or '(none: server-side clients only)'}")
        click.echo("write key:", err=True)
        click.echo(site.write_key)


@site_group.command("list")
@with_appcontext
def site_list() -> None:
    """List sites with their origins and write keys."""
    from collector.models import Site

    with db.session() as s:
        for site in s.query(Site).order_by(Site.id):
            click.echo(f"{site.name}\t{site.write_key}\t{','.join(json.loads(site.origins))}")


@main.group("user")
def user_group() -> None:
    """Dashboard users."""


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_add(name: str, password_stdin: bool) -> None:
    """Add a dashboard user (password from --password-stdin or a prompt)."""
    from collector.auth import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    db.upgrade(db.get_engine())
    with db.session() as s:
        try:
            create_user(s, name, password)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
    click.echo(f"user {name!r} created")


# --- stats / export / schemas ------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@with_appcontext
def stats(as_json: bool) -> None:
    """Counts of stored events, rejected events, duplicates and sessions."""
    from collector.stats import collect_stats

    counts = collect_stats(db.get_engine())
    if as_json:
        click.echo(json.dumps(counts))
    else:
        for key, value in counts.items():
            click.echo(f"{key:>12}: {value}")


@main.command()
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
    from collections import Counter

    from collector.export import EXPORT_KINDS, ExportFilter, iter_export, parse_time, stream_json
    from collector.export_web import site_id_named
    from collector.mapping import public_base

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


@main.group("schema")
def schema_group() -> None:
    """Telemetry V3 JSON Schemas."""


@schema_group.command("export")
@click.option("--out", default="schemas", show_default=True,
              type=click.Path(file_okay=False), help="Directory to write the schemas to.")
def schema_export(out: str) -> None:
    """Write one JSON Schema file per eid (the validator's own types)."""
    from collector.events.jsonschema import write_schemas

    for path in write_schemas(Path(out)):
        click.echo(str(path))


# --- bench ------------------------------------------------------------------------


def echo_result(result: dict[str, Any], as_json: bool) -> None:
    """A benchmark's figures: one JSON object (the last line) or one figure a line."""
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:>28}: {value}")


@main.group("bench")
def bench_group() -> None:
    """Benchmarks that print ratios against a baseline measured in the same run."""


@bench_group.command("ingest")
@click.option("--events", default=200_000, show_default=True, type=click.IntRange(1000))
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--connections", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_ingest(events: int, batch: int, connections: int, as_json: bool) -> None:
    """Stream events over /v1/ws to a fresh server on a temp SQLite database."""
    from collector.bench.ingest import run_ingest_bench

    result = run_ingest_bench(events=events, batch=batch, connections=connections)
    echo_result(result, as_json)


@bench_group.command("export")
@click.option("--events", default=200_000, show_default=True, type=click.IntRange(1000))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_export(events: int, as_json: bool) -> None:
    """xAPI export of EVENTS stored events: statements/s and peak memory (and at 1/4 size)."""
    from collector.bench.export import run_export_bench

    result = run_export_bench(events=events)
    echo_result(result, as_json)


@bench_group.command("soak")
@click.option("--clients", default=200, show_default=True, type=click.IntRange(1, 2000),
              help="Concurrent WebSocket clients.")
@click.option("--http-clients", type=click.IntRange(0, 500),
              help="Concurrent HTTP clients (default: a tenth of --clients).")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--batch", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="Events per batch.")
@click.option("--interval", default=0.5, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds between a client's batches.")
@click.option("--resend-every", default=50, show_default=True, type=click.IntRange(0),
              help="Every Nth batch of a client is sent twice (0: never): duplicates.")
@click.option("--database-url", help="Soak this (empty) database instead of a temp SQLite.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_soak(clients: int, http_clients: int | None, seconds: float, batch: int,
               interval: float, resend_every: int, database_url: str | None, workers: int,
               as_json: bool) -> None:
    """Many clients for a while: acked == stored, ack latency, server memory and fds."""
    from collector.bench.soak import run_soak

    result = run_soak(clients=clients, http_clients=http_clients, seconds=seconds, batch=batch,
                      interval=interval, resend_every=resend_every,
                      database_url=database_url, workers=workers)
    echo_result(result, as_json)


def _register_feature_commands() -> None:
    """Command groups that live with the feature they serve."""
    from collector.bench.dashboard import bench_dashboard
    from collector.catalog_cli import catalog_group
    from collector.forwarding.cli import forward

    main.add_command(forward)
    main.add_command(catalog_group)
    bench_group.add_command(bench_dashboard)


_register_feature_commands()


def init_app(app: Flask) -> None:
    """Nothing to register on the app: commands live on the ``collector`` group."""


if __name__ == "__main__":
    main()

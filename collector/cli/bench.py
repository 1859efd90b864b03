"""``collector bench``: benchmarks that print ratios against a same-run baseline."""

from __future__ import annotations

import json
from typing import Any

import click

from collector.bench.dashboard import run_dashboard_bench
from collector.bench.export import run_export_bench
from collector.bench.ingest import run_ingest_bench
from collector.bench.lifecycle import run_lifecycle_bench
from collector.bench.soak import run_soak


def echo_result(result: dict[str, Any], as_json: bool) -> None:
    """A benchmark's figures: one JSON object (the last line) or one figure a line."""
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:>28}: {value}")


@click.group("bench")
def bench_group() -> None:
    """Benchmarks that print ratios against a baseline measured in the same run."""


@bench_group.command("ingest")
@click.option("--events", default=200_000, show_default=True, type=click.IntRange(1000))
@click.option("--batch", default=25, show_default=True, type=click.IntRange(1, 10_000),
              help="Events per frame (tracker.js sends 25).")
@click.option("--connections", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--database", help="A PostgreSQL server URL: the bench creates fresh "
              "databases there and drops them afterwards (default: temp SQLite files).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (collector serve --workers).")
@click.option("--compression", type=click.Choice(["on", "off"]), default="on",
              show_default=True, help="permessage-deflate, as browsers negotiate it; with "
              "'on' the same traffic is also sent uncompressed and compared.")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_ingest(events: int, batch: int, connections: int, database: str | None,
                 workers: int, compression: str, as_json: bool) -> None:
    """Stream events over /v1/ws to a fresh server vs a raw insert of the same rows."""
    try:
        result = run_ingest_bench(events=events, batch=batch, connections=connections,
                                  database=database, workers=workers,
                                  compression=compression == "on")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None
    echo_result(result, as_json)


@bench_group.command("export")
@click.option("--events", default=200_000, show_default=True, type=click.IntRange(1000))
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_export(events: int, as_json: bool) -> None:
    """xAPI export of EVENTS stored events: statements/s and peak memory (and at 1/4 size)."""

    result = run_export_bench(events=events)
    echo_result(result, as_json)


@bench_group.command("soak")
@click.option("--clients", default=200, show_default=True, type=click.IntRange(1, 2000),
              help="Concurrent WebSocket clients.")
@click.option("--http-clients", type=click.IntRange(0, 500),
              help="Concurrent HTTP clients (default: a tenth of --clients).")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--batch", default=25, show_default=True, type=click.IntRange(1, 1000),
              help="Events per batch (tracker.js sends 25).")
@click.option("--interval", default=0.5, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds between a client's batches.")
@click.option("--resend-every", default=50, show_default=True, type=click.IntRange(0),
              help="Every Nth batch of a client is sent twice (0: never): duplicates.")
@click.option("--database", help="A PostgreSQL server URL: soak a fresh database there "
              "(dropped afterwards) instead of a temp SQLite file.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--compression", type=click.Choice(["on", "off"]), default="on",
              show_default=True, help="permessage-deflate on the WebSocket clients.")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_soak(clients: int, http_clients: int | None, seconds: float, batch: int,
               interval: float, resend_every: int, database: str | None, workers: int,
               compression: str, as_json: bool) -> None:
    """Many clients for a while: acked == stored, ack latency, server memory and fds."""
    result = run_soak(clients=clients, http_clients=http_clients, seconds=seconds, batch=batch,
                      interval=interval, resend_every=resend_every, database=database,
                      workers=workers, compression=compression == "on")
    echo_result(result, as_json)


@bench_group.command("lifecycle")
@click.option("--events", default=200_000, show_default=True, type=click.IntRange(1000))
@click.option("--database", help="A PostgreSQL server URL: the bench creates a fresh "
              "database there and drops it after (default: a temp SQLite file).")
@click.option("--batch", default=2000, show_default=True, type=click.IntRange(1, 50_000),
              help="Events per prune transaction.")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_lifecycle(events: int, database: str | None, batch: int, as_json: bool) -> None:
    """Erase the learner with the most events, then prune the oldest quarter of EVENTS."""
    try:
        result = run_lifecycle_bench(events=events, database=database, batch=batch)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None
    echo_result(result, as_json)


@bench_group.command("dashboard")
@click.option("--database-url", help="Empty database to load (default: a temp SQLite file).")
@click.option("--events", default=1_000_000, show_default=True, type=click.IntRange(1000))
@click.option("--session-length", default=30, show_default=True, type=click.IntRange(2, 1000),
              help="Mean events per generated session.")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Warm runs per query (the median is reported).")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
def bench_dashboard(database_url: str | None, events: int, session_length: int, repeat: int,
                    as_json: bool) -> None:
    """Load generated events with the dashboard hook, time a funnel and a session flow."""

    try:
        result = run_dashboard_bench(database_url=database_url, events=events,
                                     session_length=session_length, repeat=repeat)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None

    echo_result(result, as_json)

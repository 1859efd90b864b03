"""``collector forward xapi|caliper``: drain the outbox once, from the command line."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from collector.outbound import outbox
from collector.outbound.export import parse_time
from collector.outbound.forwarder import ForwardReport, release_orphaned_leases
from collector.outbound.forwarding import forwarding_status, make_forwarder
from collector.outbound.senders import ConfigError
from collector.storage import engine as db

DAY_MS = 86_400_000


@click.command("forward")
@click.argument("target", type=click.Choice(["xapi", "caliper"]))
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 5000),
              help="Statements (xapi) or outbox rows (caliper) per request.")
@click.option("--retry-now", is_flag=True, help="Do not wait out the backoff of failed tries.")
@click.option("--requeue-failed", is_flag=True,
              help="Send rows the receiver refused for good once more.")
@click.option("--backfill", is_flag=True,
              help="First queue stored events not queued yet (events from before "
                   "forwarding was configured; already sent ones are recognised by id).")
@click.option("--since", help="With --backfill: only events from this ISO 8601 time on.")
@click.option("--purge-refused", is_flag=True,
              help="First delete rows the receiver refused for good (they are kept, and "
                   "counted as failed, until purged or requeued).")
@click.option("--older-than", "older_than", type=click.FloatRange(min=0), default=0,
              metavar="DAYS", help="With --purge-refused: only rows queued more than DAYS "
                                   "ago.")
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object.")
@with_appcontext
def forward(target: str, batch: int, retry_now: bool, requeue_failed: bool, backfill: bool,
            since: str | None, purge_refused: bool, older_than: float, as_json: bool) -> None:
    """Send the queued statements/events of TARGET now, then report (exit 1 if some failed)."""

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = db.get_engine()
    db.upgrade(engine)
    try:
        forwarder = make_forwarder(app, target, batch=batch)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if backfill:
            try:
                since_ms = parse_time(since, "--since")
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
            click.echo(f"queued {outbox.backfill(engine, target, since_ms)} events", err=True)
        purged = 0
        if purge_refused:
            purged = outbox.purge_refused(engine, target, int(older_than * DAY_MS))
            click.echo(f"purged {purged} refused rows", err=True)
        if requeue_failed:
            click.echo(f"requeued {outbox.requeue_failed(engine, target)} refused rows",
                       err=True)
        if retry_now:
            outbox.retry_now(engine, target)
        # Rows leased by a running server's forwarder stay its own; only a crashed
        # process's leases are freed (the others expire).
        release_orphaned_leases(engine, target)
        progress = sys.stderr.isatty()
        total = ForwardReport()
        while True:
            step = forwarder.drain(max_batches=20)
            total.add(step)
            if progress:
                click.echo(f"\r{total.sent} sent, {total.unmapped} without mapping", err=True,
                           nl=False)
            if not step.claimed or step.retried:
                break
    finally:
        forwarder.close()
    status = forwarding_status(app)[target]
    summary = {"target": target, **total.as_dict(), "purged": purged,
               "pending": status["pending"],
               "failed_total": status["failed"], "endpoint": status["endpoint"]}
    click.echo(f"\r{total.sent} sent, {total.unmapped} without mapping, {total.retried} "
               f"to retry, {total.failed} refused; {status['pending']} pending", err=True)
    for error in total.errors:
        click.echo(f"  {error}", err=True)
    if as_json:
        click.echo(json.dumps(summary))
    if total.failed or total.retried:
        sys.exit(1)

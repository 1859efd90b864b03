"""``collector learner erase`` and ``collector events prune``: erasure and retention."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from collector.lifecycle.erase import AmbiguousLearner, erase_learner
from collector.lifecycle.prune import BATCH, prune_events
from collector.outbound.export import parse_time
from collector.storage import engine as db
from collector.tracking import audit


@click.group("learner")
def learner_group() -> None:
    """A learner's data."""


@learner_group.command("erase")
@click.argument("actor_id")
@click.option("--site", help="The site to erase the learner from (needed when several "
              "sites know the learner).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@with_appcontext
def erase(actor_id: str, site: str | None, as_json: bool) -> None:
    """Erase every stored trace of ACTOR_ID (the V3 actor.id): events, quarantined
    rows, dashboard and course rows, outbox rows and session links, in one transaction.
    Dashboards then read as if the learner had never sent anything. Statements already
    forwarded to an LRS are not recalled."""
    try:
        done = erase_learner(db.get_engine(), actor_id, site)
    except AmbiguousLearner as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    removed = done.removed.as_dict()
    if done.site is not None:
        audit.learner_erased(current_app, done.site, removed)
    if as_json:
        click.echo(json.dumps({"site": done.site, "removed": removed}))
        return
    if done.site is None:
        click.echo("no site holds this learner: nothing to erase")
        return
    click.echo(f"erased the learner from site {done.site!r}:")
    for kind, count in removed.items():
        click.echo(f"  {kind.replace('_', ' ')}: {count}")


@click.group("events")
def events_group() -> None:
    """Stored events."""


@events_group.command("prune")
@click.option("--before", required=True, help="ISO 8601 date or time: events whose ets "
              "is earlier go, and quarantined rows received earlier.")
@click.option("--site", help="Only this site (default: every site).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--batch", type=click.IntRange(min=1, max=50_000), default=BATCH,
              show_default=True, help="Events per transaction.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@with_appcontext
def prune(before: str, site: str | None, dry_run: bool, batch: int, as_json: bool) -> None:
    """Retention: remove old events with everything derived from them, in batches that
    never hold ingest up for long. Dashboards agree with the events left after each."""
    try:
        before_ms = parse_time(before, "--before")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    assert before_ms is not None  # required option
    if before_ms > time.time() * 1000:
        raise click.BadParameter(f"--before: {before!r} is in the future")
    last = [0.0]

    def progress(name: str, done: int, total: int) -> None:
        now = time.monotonic()
        if not as_json and (now - last[0] >= 1 or done >= total):
            last[0] = now
            click.echo(f"  {name}: {done}/{total} rows removed", err=True)

    try:
        result = prune_events(db.get_engine(), before_ms, site=site, dry_run=dry_run,
                              batch=batch, progress=progress)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    cutoff = datetime.fromtimestamp(before_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    removed = result.removed.as_dict()
    if not dry_run and (removed["events"] or removed["quarantined"]):
        audit.events_pruned(current_app, cutoff, site, removed)
    if as_json:
        click.echo(json.dumps({
            "before": cutoff, "dry_run": dry_run, "seconds": round(result.seconds, 3),
            "sites": [{"site": s.site, "events": s.events, "quarantined": s.quarantined}
                      for s in result.sites],
            "removed": None if dry_run else removed}))
        return
    verb = "would remove" if dry_run else "removed"
    for s in result.sites:
        click.echo(f"{s.site}: {verb} {s.events} events and {s.quarantined} quarantined "
                   f"rows before {cutoff}")
    if not dry_run:
        click.echo(f"done in {result.seconds:.1f} s: " + ", ".join(
            f"{kind.replace('_', ' ')} {count}" for kind, count in removed.items()))

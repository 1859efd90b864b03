"""``collector learner erase`` and ``collector events prune`` as an operator runs them."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from collector.cli.main import main
from collector.storage.engine import get_engine
from collector.storage.models import EVENTS
from tests.analytics.conftest import T0
from tests.lifecycle.test_erase_prune import _site, send, traffic


def run(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result


def stored(app: Flask, **where: Any) -> int:
    with get_engine(app).connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(EVENTS).where(
            *(EVENTS.c[k] == v for k, v in where.items()))) or 0)


def test_learner_erase_prints_what_it_removed_and_audits_without_the_id(
        any_app: Flask, cli_env: list[Flask]) -> None:
    key = any_app.config["TEST_SITE"].key
    batches = traffic(5)["learner-3"]
    send(any_app, key, batches)
    sent = sum(len(b) for b in batches)

    out = run("learner", "erase", "learner-3").output
    assert "erased the learner from site 'test'" in out
    assert f"events: {sent - 1}" in out and "quarantined: 1" in out
    assert stored(any_app, actor_id="learner-3") == 0

    with get_engine(any_app).connect() as conn:
        audit = conn.execute(select(EVENTS.c.payload).where(
            EVENTS.c.name == "collector.learner.erased")).scalars().all()
    assert len(audit) == 1
    assert "learner-3" not in audit[0]
    assert json.loads(audit[0])["edata"]["data"]["removed"]["events"] == sent - 1

    again = run("learner", "erase", "learner-3", "--json").output
    assert json.loads(again) == {"site": None, "removed": json.loads(again)["removed"]}
    assert run("learner", "erase", "nobody").output.strip() == (
        "no site holds this learner: nothing to erase")


def test_learner_erase_refuses_an_ambiguous_learner_and_an_unknown_site(
        any_app: Flask, cli_env: list[Flask]) -> None:
    batches = traffic(6)["learner-0"]
    send(any_app, any_app.config["TEST_SITE"].key, batches)
    send(any_app, _site(any_app, "other"), batches)
    out = run("learner", "erase", "learner-0", code=2).output
    assert "several sites (other, test): name one with --site" in out
    assert "no site named 'nope'" in run("learner", "erase", "learner-0", "--site", "nope",
                                         code=2).output
    assert stored(any_app, actor_id="learner-0") == 2 * (sum(len(b) for b in batches) - 1)
    run("learner", "erase", "learner-0", "--site", "other")
    assert stored(any_app, actor_id="learner-0") == sum(len(b) for b in batches) - 1


def test_events_prune_dry_run_then_prune(any_app: Flask, cli_env: list[Flask]) -> None:
    send(any_app, any_app.config["TEST_SITE"].key, traffic(7)["learner-1"])
    old = stored(any_app)
    cutoff = "2025-11-13T02:19:20Z"  # T0 + 6 min: amid the traffic
    dry = json.loads(run("events", "prune", "--before", cutoff, "--dry-run", "--json").output)
    (site,) = [s for s in dry["sites"] if s["site"] == "test"]
    assert dry["removed"] is None and 0 < site["events"] < old
    assert stored(any_app) == old  # a dry run changes nothing

    out = run("events", "prune", "--before", cutoff, "--site", "test", "--batch", "3").output
    assert f"test: removed {site['events']} events" in out
    with get_engine(any_app).connect() as conn:
        assert conn.scalar(select(func.min(EVENTS.c.ets)).where(
            EVENTS.c.name != "collector.events.pruned")) >= T0 + 360_000
        audit = conn.execute(select(EVENTS.c.payload).where(
            EVENTS.c.name == "collector.events.pruned")).scalars().one()
    assert json.loads(audit)["edata"]["data"]["removed"]["events"] == site["events"]


def test_events_prune_refuses_bad_dates(any_app: Flask, cli_env: list[Flask]) -> None:
    assert "not an ISO 8601 date" in run("events", "prune", "--before", "last week",
                                         code=2).output
    assert "is in the future" in run("events", "prune", "--before", "2999-01-01",
                                     code=2).output
    assert "no site named 'nope'" in run("events", "prune", "--before", "2020-01-01",
                                         "--site", "nope", code=2).output

"""``collector report items|course|learners``: the course reports the dashboard shows."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from collector.analytics.course_scope import CourseNotFound, course_site
from collector.analytics.courses import course_progress
from collector.analytics.items import item_analysis
from collector.analytics.learners import FAILED_IN_ROW, IDLE_DAYS, AtRiskRule, learner_table
from collector.storage import engine as db
from collector.storage.models import Site, now_ms


@click.command("report")
@click.argument("kind", type=click.Choice(["items", "course", "learners"]))
@click.option("--course", required=True, help="The course id (cdata Course).")
@click.option("--site", help="The site holding the course (needed when several do).")
@click.option("--idle-days", type=click.IntRange(min=1), default=IDLE_DAYS,
              show_default=True, help="learners: at risk after this many days without "
              "activity (started, not completed).")
@click.option("--failed-in-row", type=click.IntRange(min=1),
              default=FAILED_IN_ROW, show_default=True,
              help="learners: at risk when this many latest first attempts failed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on the last line.")
@with_appcontext
def report(kind: str, course: str, site: str | None, idle_days: int, failed_in_row: int,
           as_json: bool) -> None:
    """Course progress, quiz item analysis or the learner table of one course."""
    with db.get_engine().connect() as conn:
        sites = {name: sid for sid, name in conn.execute(select(Site.id, Site.name))}
        try:
            _name, site_id = course_site(conn, course, sites, site)
        except (CourseNotFound, ValueError) as exc:
            click.echo(f"collector report: {exc}", err=True)
            sys.exit(1)
        out: dict[str, Any]
        if kind == "course":
            out = course_progress(conn, site_id, course).contract()
        elif kind == "items":
            out = {"items": [i.contract() for i in item_analysis(conn, site_id, course)]}
        else:
            rule = AtRiskRule(idle_days=idle_days, failed_in_row=failed_in_row)
            out = {"learners": [r.contract() for r in learner_table(
                conn, site_id, course, now_ms=now_ms(), rule=rule)]}
    if as_json:
        click.echo(json.dumps(out))
        return
    _print_human(kind, out)


def _print_human(kind: str, out: dict[str, Any]) -> None:
    if kind == "course":
        for key in ("course", "learners", "started", "completed", "completion_rate",
                    "median_seconds_to_complete"):
            click.echo(f"{key:>27}: {out[key]}")
        for lesson in out["lessons"]:
            click.echo(f"  lesson {lesson['id']}: started {lesson['started']}, completed "
                       f"{lesson['completed']}, median {lesson['median_seconds']} s")
    elif kind == "items":
        for item in out["items"]:
            click.echo(f"{item['id']}: learners {item['learners']}, attempts "
                       f"{item['attempts']}, facility {item['facility']}, discrimination "
                       f"{item['discrimination']}, median {item['median_seconds']} s"
                       + (f" [{', '.join(item['flags'])}]" if item["flags"] else ""))
    else:
        for row in out["learners"]:
            click.echo(f"{row['id']}: last seen {row['last_seen']}, lessons "
                       f"{row['lessons_completed']}, score {row['score']}, active "
                       f"{row['active_seconds']} s"
                       + (f" AT RISK: {'; '.join(row['reasons'])}" if row["at_risk"] else ""))

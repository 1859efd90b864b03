"""The demo course at ``/demo``: three lesson pages instrumented with tracker.js.

The pages embed the tracker exactly as a course author would (queue stub + one script
tag with the write key of site ``default``) and use the lesson API, so a first run shows
events arriving on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, render_template

from collector.storage.engine import get_engine
from collector.storage.sites import default_site_key

COURSE_ID = "demo-course"

bp = Blueprint("demo", __name__, url_prefix="/demo")


@dataclass(frozen=True, slots=True)
class DemoLesson:
    slug: str
    title: str


LESSONS = (
    DemoLesson("fractions", "What is a fraction?"),
    DemoLesson("paths", "Choose your path"),
    DemoLesson("wrap-up", "Wrap-up quiz"),
)


@bp.route("")
def course() -> str:
    return render_template("demo/course.html", lessons=LESSONS, course_id=COURSE_ID,
                           write_key=default_site_key_or_none())


@bp.route("/<slug>")
def lesson(slug: str) -> str:
    index = next((i for i, item in enumerate(LESSONS) if item.slug == slug), None)
    if index is None:
        abort(404)
    return render_template(
        f"demo/{slug}.html", lesson=LESSONS[index], course_id=COURSE_ID,
        previous=LESSONS[index - 1] if index > 0 else None,
        next=LESSONS[index + 1] if index + 1 < len(LESSONS) else None,
        write_key=default_site_key_or_none(), lessons=LESSONS)


def default_site_key_or_none() -> str | None:
    """The demo sends with site ``default``'s key; None makes the page explain the fix."""
    return default_site_key(get_engine())

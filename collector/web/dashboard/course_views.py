"""Course pages (login required): ``/dashboard/courses`` and ``/dashboard/course/<id>``.

Like every dashboard page, each has a JSON twin under ``/dashboard/data/`` that the page
script fetches again whenever ``/v1/live`` reports new events, and each table downloads
as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from sqlalchemy import Connection
from werkzeug.wrappers import Response

from collector.analytics.course_scope import CourseNotFound
from collector.analytics.learners import ACTIVE_TIME_METHOD
from collector.storage.engine import get_engine
from collector.web.auth import login_required
from collector.web.dashboard.course_data import (
    COURSE_CSV,
    COURSES_CSV_HEADER,
    course_csv,
    course_data,
    courses_csv,
    courses_data,
)
from collector.web.dashboard.page_data import csv_cell
from collector.web.dashboard.params import form_values, site_names

bp = Blueprint("courses", __name__)

Builder = Callable[[Connection, dict[str, int]], Any]


def _build(builder: Builder) -> tuple[Any, int, str | None, list[str]]:
    """(data, status, error, site names): 404 for an unknown course, 400 for bad input."""
    with get_engine().connect() as conn:
        sites = site_names(conn)
        try:
            return builder(conn, sites), 200, None, list(sites)
        except CourseNotFound as exc:
            return {}, 404, str(exc), list(sites)
        except ValueError as exc:
            return {}, 400, str(exc), list(sites)


def _page(template: str, builder: Builder, data_url: str, **context: Any) -> tuple[str, int]:
    data, status, error, sites = _build(builder)
    return render_template(template, data=data, error=error, sites=sites,
                           form=form_values(request.args), data_url=data_url,
                           **context), status


def _json(builder: Builder) -> Response:
    data, status, error, _sites = _build(builder)
    response = jsonify(data if error is None else {"error": error})
    response.status_code = status
    return response


def _csv(header: list[str], builder: Builder, filename: str) -> Response:
    rows, status, error, _sites = _build(builder)
    if error is not None:
        abort(status, description=error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def _query() -> str:
    return request.query_string.decode()


@bp.route("/dashboard/courses")
@login_required
def courses_page() -> tuple[str, int]:
    """Every course of every site: learners, starts, completions, time to complete."""
    return _page("courses.html", courses_data,
                 url_for("courses.courses_json") + "?" + _query(),
                 csv_url=url_for("courses.courses_export") + "?" + _query())


@bp.route("/dashboard/data/courses")
@login_required
def courses_json() -> Response:
    return _json(courses_data)


@bp.route("/dashboard/courses.csv")
@login_required
def courses_export() -> Response:
    return _csv(COURSES_CSV_HEADER, courses_csv, "courses.csv")


@bp.route("/dashboard/course/<path:course>")
@login_required
def course_page(course: str) -> tuple[str, int]:
    """Progress, lesson drop-off, item analysis and learners of one course."""
    csv_urls = {table: url_for("courses.course_export", table=table, course=course) + "?"
                + _query() for table in COURSE_CSV}
    return _page("course.html", lambda conn, sites: course_data(conn, sites, course),
                 url_for("courses.course_json", course=course) + "?" + _query(),
                 course=course, csv_urls=csv_urls, active_time_method=ACTIVE_TIME_METHOD)


@bp.route("/dashboard/data/course/<path:course>")
@login_required
def course_json(course: str) -> Response:
    return _json(lambda conn, sites: course_data(conn, sites, course))


@bp.route("/dashboard/csv/course/<table>/<path:course>")
@login_required
def course_export(table: str, course: str) -> Response:
    if table not in COURSE_CSV:
        abort(404, description=f"no course table {table[:40]!r} (lessons, items, learners)")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in course)[:80]
    return _csv(COURSE_CSV[table], lambda conn, sites: course_csv(conn, sites, course, table),
                f"course-{safe}-{table}.csv")

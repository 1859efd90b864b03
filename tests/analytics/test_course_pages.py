"""The course pages, their JSON twins and CSVs, and ``collector report``, on SQLite and
PostgreSQL: the same numbers everywhere, 404 for an unknown course, text escaped."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from collector.cli.main import main
from tests.analytics.conftest import T0, answer, end_course, lesson, start_course
from tests.conftest import log_in

Store = Callable[[list[dict[str, Any]]], Any]
XSS = "<img src=x onerror=alert(1)>"


def seed(store: Store) -> None:
    events: list[dict[str, Any]] = []
    for n, actor in enumerate(["ann", "bob", "cy", XSS]):
        t = T0 + n * 10
        events += [start_course("algebra", actor, t),
                   lesson("START", "algebra", "intro", actor, t + 1000),
                   answer("algebra", "intro", "q1", actor, t + 2000, score=n % 2,
                          response=XSS if n == 3 else "b"),
                   answer("algebra", "intro", "q2", actor, t + 3000, score=1, maxscore=None),
                   lesson("END", "algebra", "intro", actor, t + 60_000, duration=59)]
        if n < 2:
            events.append(end_course("algebra", actor, t + 120_000))
    store(events)


@pytest.fixture
def client(any_app: Flask, store: Store) -> FlaskClient:
    seed(store)
    c = any_app.test_client()
    log_in(c)
    return c


def test_course_list_page_json_and_csv(client: FlaskClient) -> None:
    page = client.get("/dashboard/courses")
    assert page.status_code == 200
    assert 'href="/dashboard/courses"' in page.get_data(as_text=True)  # nav link
    data = client.get("/dashboard/data/courses").get_json()
    (row,) = data["tables"]["courses"]
    assert row[0] == "test"
    assert row[1] == {"text": "algebra", "href": "/dashboard/course/algebra?site=test"}
    assert row[2]["text"] == "4" and row[2]["href"].startswith("/dashboard/sessions?")
    assert row[3:6] == ["4", "2", "50.0%"]
    assert row[6] == "2.0 min"
    body = client.get("/dashboard/courses.csv")
    rows = list(csv.reader(io.StringIO(body.get_data(as_text=True))))
    assert rows[0][:3] == ["site", "course", "learners"]
    assert rows[1][:7] == ["test", "algebra", "4", "4", "2", "0.5", "120.0"]


def test_course_page_shows_the_report_numbers(client: FlaskClient) -> None:
    page = client.get("/dashboard/course/algebra")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert XSS not in html  # escaped in the embedded data
    data = client.get("/dashboard/data/course/algebra").get_json()
    stats = data["stats"]
    assert (stats["stat-learners"], stats["stat-started"], stats["stat-completed"],
            stats["stat-rate"]) == ("4", "4", "2", "50.0%")
    assert "4 attempts had no maxscore" in stats["unscored-note"]
    assert stats["sessions-link"] == "/dashboard/sessions?site=test&course=algebra"
    assert data["tables"]["lessons"] == [["intro", "4", "4", "4", "0.0%", "", "59.0 s"]]
    items = {row[0]: row for row in data["tables"]["items"]}
    assert items["q1"][4] == "0.50" and XSS in items["q1"][7]  # drawn with textContent
    assert items["q2"][4] == "" and items["q2"][9] == "4 without maxscore"
    learners = {row[0]["text"]: row for row in data["tables"]["learners"]}
    assert learners["ann"][0]["href"] == "/dashboard/sessions?site=test&course=algebra&actor=ann"
    assert data["figures"]["chart-lessons"]["data"][0]["x"] == ["intro"]
    fig = json.dumps(data["figures"])
    assert "<img" not in fig


def test_course_csvs_match_the_cli_reports(client: FlaskClient,
                                           cli_env: list[Flask]) -> None:
    runner = CliRunner()

    def report(kind: str, *extra: str) -> dict[str, Any]:
        result = runner.invoke(main, ["report", kind, "--course", "algebra", "--json", *extra],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return out

    items = report("items")["items"]
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/dashboard/csv/course/items/algebra").get_data(as_text=True))))
    assert [r["item"] for r in rows] == [i["id"] for i in items] == ["q1", "q2"]
    assert float(rows[0]["facility"]) == items[0]["facility"] == 0.5
    assert items[0]["discrimination"] is None  # every rest-of-course score is 0
    assert items[1] == {"id": "q2", "learners": 4, "attempts": 4, "facility": None,
                        "discrimination": None, "median_seconds": 10.0, "flags": [],
                        "answers": [{"response": "a", "count": 4}]}
    # CSV cells an app could run as a formula are neutralised; the XSS text stays text.
    assert any(XSS in r["answers"] for r in rows)
    course = report("course", "--site", "test")
    assert course == {"course": "algebra", "learners": 4, "started": 4, "completed": 2,
                      "completion_rate": 0.5, "median_seconds_to_complete": 120.0,
                      "lessons": [{"id": "intro", "started": 4, "completed": 4,
                                   "median_seconds": 59.0}]}
    learners = report("learners", "--idle-days", "1")["learners"]
    by_id = {r["id"]: r for r in learners}
    assert set(by_id["ann"]) == {"id", "started_at", "last_seen", "completed",
                                 "lessons_completed", "score", "active_seconds", "at_risk",
                                 "reasons"}
    assert by_id["ann"]["completed"] and not by_id["ann"]["at_risk"]
    assert by_id["cy"]["at_risk"] and "no activity" in by_id["cy"]["reasons"][0]
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/dashboard/csv/course/learners/algebra?idle_days=1").get_data(as_text=True))))
    assert {r["learner"]: r["at_risk"] for r in rows} == {
        r["id"]: str(r["at_risk"]) for r in learners}
    lessons = list(csv.reader(io.StringIO(client.get(
        "/dashboard/csv/course/lessons/algebra").get_data(as_text=True))))
    assert lessons[1][:4] == ["intro", "4", "4", "4"]


def test_unknown_course_is_a_404_page_and_a_cli_error(client: FlaskClient,
                                                      cli_env: list[Flask]) -> None:
    page = client.get("/dashboard/course/" + "nope%3Cscript%3E")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "no course" in html and "<script>" not in html
    assert client.get("/dashboard/data/course/nope").status_code == 404
    assert client.get("/dashboard/csv/course/items/nope").status_code == 404
    result = CliRunner().invoke(main, ["report", "items", "--course", "nope", "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "collector report: no course 'nope': no learner has an event of it"]


def test_pages_need_a_login(any_app: Flask) -> None:
    client = any_app.test_client()
    for path in ("/dashboard/courses", "/dashboard/course/algebra",
                 "/dashboard/data/course/algebra", "/dashboard/csv/course/items/algebra"):
        assert client.get(path).status_code in (302, 401), path

"""``collector bench dashboard`` on a small load (the real run uses 1,000,000 events)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from collector.cli.main import main


def test_bench_prints_the_figures_as_json(tmp_path: object) -> None:
    result = CliRunner().invoke(main, ["bench", "dashboard", "--events", "3000",
                                       "--repeat", "1", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["events"] == 3000 and figures["database"] == "sqlite"
    assert figures["sessions"] >= 40  # 30 learners of the course, then lesson sessions
    assert figures["funnel_counts"][0] == figures["sessions"]  # each session starts once
    # Flows follow page views: the course's sessions (answers only) have none.
    assert 0 < figures["flow_paths"] < figures["sessions"]
    assert 0 < figures["funnel_s"] < 5 and 0 < figures["flow_s"] < 5
    # One learner per 100 events in the benchmark course, 20 lessons, 40 items.
    assert figures["course_learners"] == 30
    assert (figures["course_lessons"], figures["course_items"]) == (20, 40)
    for key in ("course_s", "items_s", "learners_s"):
        assert 0 <= figures[key] < 5, key  # a fast read can round to 0.000

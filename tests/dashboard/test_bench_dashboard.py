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
    assert figures["sessions"] >= 90
    assert figures["funnel_counts"][0] == figures["sessions"]  # each session starts once
    assert figures["flow_paths"] == figures["sessions"]
    assert 0 < figures["funnel_s"] < 5 and 0 < figures["flow_s"] < 5

"""``collector bench lifecycle`` on a small database: what it reports is what happened."""

from __future__ import annotations

import json

from click.testing import CliRunner

from collector.cli.main import main


def test_bench_lifecycle_erases_then_prunes_a_quarter(cli_apps: list[object]) -> None:
    result = CliRunner().invoke(main, ["bench", "lifecycle", "--events", "2000", "--batch",
                                       "300", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["erase_removed"]["events"] == out["erase_events"] > 0
    assert out["erase_removed"]["learners_rebuilt"] >= 1
    # The oldest quarter, less what the erased learner had there.
    assert 400 <= out["prune_events"] <= 500
    assert out["prune_removed"]["events"] == out["prune_events"]
    assert out["prune_events_per_s"] > 0

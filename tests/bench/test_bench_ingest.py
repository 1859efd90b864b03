"""`collector bench ingest --json` runs end to end and prints the contract keys.

This checks the command, not the speed: the figures are measured by running the
benchmark itself (README, Performance).
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_ingest_json_contract() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "bench", "ingest", "--events", "3000",
         "--connections", "2", "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("events", "seconds", "events_per_s", "raw_sqlite_events_per_s", "ratio"):
        assert key in result
    assert result["events"] == result["stored"] == result["accepted"] == 3000
    assert result["errors"] == 0 and result["rejected"] == 0
    expected = result["events_per_s"] / result["raw_sqlite_events_per_s"]
    assert abs(result["ratio"] - expected) < 0.002
    assert len(result["raw_sqlite_runs"]) == 3
    assert "events" in proc.stderr  # progress went to stderr

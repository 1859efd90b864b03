"""`collector bench ingest --json` runs end to end and prints the contract keys.

This checks the command, not the speed: the figures are measured by running the
benchmark itself (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import PG_ADMIN_URL, _pg_admin


def bench(*args: str) -> tuple[dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "bench", "ingest", "--events", "3000",
         "--connections", "2", "--json", *args],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_bench_ingest_json_contract() -> None:
    result, stderr = bench()
    for key in ("events", "seconds", "events_per_s", "raw_sqlite_events_per_s", "ratio",
                "server_cpu_us_per_event", "uncompressed_events_per_s", "compression_ratio"):
        assert key in result
    assert result["events"] == result["stored"] == result["accepted"] == 3000
    assert result["errors"] == 0 and result["rejected"] == 0
    assert result["batch"] == 25 and result["compression"] is True
    expected = result["events_per_s"] / result["raw_sqlite_events_per_s"]
    assert abs(result["ratio"] - expected) < 0.002
    expected = result["events_per_s"] / result["uncompressed_events_per_s"]
    assert abs(result["compression_ratio"] - expected) < 0.01
    assert len(result["raw_sqlite_runs"]) == 3
    assert result["server_cpu_us_per_event"] > 0
    assert "events" in stderr  # progress went to stderr


def _bench_databases() -> set[str]:
    with _pg_admin() as admin:
        return {row[0] for row in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'collector_bench_%'")}


def test_bench_ingest_on_postgresql_with_workers_drops_its_databases() -> None:
    before = _bench_databases()
    result, _ = bench("--database", PG_ADMIN_URL, "--workers", "2", "--compression", "off",
                      "--batch", "50")
    assert result["database"] == "postgres" and result["workers"] == 2
    assert result["events"] == result["stored"] == result["accepted"] == 3000
    assert result["errors"] == 0 and result["batch"] == 50
    assert "compression_ratio" not in result
    for key in ("raw_postgres_events_per_s", "raw_postgres_copy_events_per_s",
                "server_cpu_us_per_event"):
        assert result[key] > 0
    assert abs(result["ratio"] - result["events_per_s"] / result["raw_postgres_events_per_s"]
               ) < 0.002
    assert _bench_databases() == before

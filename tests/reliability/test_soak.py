"""``collector bench soak`` at CI size: the command's JSON, and the promises it checks."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import PG_ADMIN_URL


def soak(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "bench", "soak", *args, "--json"],
        capture_output=True, text=True, timeout=180, check=True)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_soak_acked_equals_stored_no_errors_fds_released() -> None:
    clients, http_clients = 20, 4
    report = soak("--clients", str(clients), "--http-clients", str(http_clients),
                  "--seconds", "5", "--interval", "0.2", "--resend-every", "5")
    assert report["compression"] is True and report["batch"] == 25
    assert report["errors"] == 0, report["error_samples"]
    assert report["unacked"] == 0
    assert report["acked"] > 0
    assert report["acked"] == report["stored"] == report["stored_distinct"]
    assert report["acked_not_stored"] == 0
    # Every batch resent on purpose came back as duplicates, and only those.
    assert report["resent_on_purpose"] > 0
    assert report["duplicates"] == report["resent_on_purpose"]
    assert report["sent"] == report["acked"] + report["resent_on_purpose"]
    assert 0 < report["p50_ack_ms"] <= report["p99_ack_ms"] <= report["max_ack_ms"]
    assert 0 <= report["client_loop_lag_p50_ms"] <= report["client_loop_lag_p99_ms"]
    # The server's steps as its processes wrote them at exit: one group per persist call.
    steps = report["server_step_ms_per_call"]
    assert steps["validate"] > 0 and steps["persist"] > 0
    assert steps["persist"] < report["max_ack_ms"]
    assert report["peak_rss_mb"] >= report["idle_rss_mb"] > 0
    assert report["rss_mb_over_time"]
    # Every client connection was held open at once, and released afterwards.
    assert report["peak_fds"] >= report["idle_fds"] + clients
    assert report["fds_after"] < report["idle_fds"] + clients


@pytest.mark.postgres
def test_soak_on_postgresql_with_two_workers() -> None:
    report = soak("--clients", "10", "--http-clients", "2", "--seconds", "4", "--interval",
                  "0.2", "--resend-every", "5", "--database", PG_ADMIN_URL, "--workers", "2")
    assert report["workers"] == 2
    assert report["errors"] == 0, report["error_samples"]
    assert report["unacked"] == 0 and report["acked"] > 0
    assert report["acked"] == report["stored"] == report["stored_distinct"]
    assert report["duplicates"] == report["resent_on_purpose"] > 0

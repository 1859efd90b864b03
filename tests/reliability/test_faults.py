"""Faults under load against a real ``collector serve``: kill -9, severed PostgreSQL
connections, a full disk. Clients resend until acked (like tracker.js); afterwards every
acked event is stored exactly once, and the clients have resumed."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.bench.load import LoadPlan
from collector.bench.server import ServerProcess, free_port
from tests.conftest import unavailable, wait_for
from tests.reliability.conftest import (
    BackgroundLoad,
    assert_exactly_once,
    terminate_backends,
)
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

# Small and quick: a few clients streaming small batches back to back.
PLAN = LoadPlan(ws_clients=6, http_clients=2, seconds=6.0, batch=20, interval=0.02,
                resend_every=0, drain_seconds=40.0)
THREADS = 48


def serve(url: str, tmp_path: Path, port: int | None = None) -> ServerProcess:
    return ServerProcess(url, port=port, instance=tmp_path / "instance", threads=THREADS,
                         env={"COLLECTOR_RATE_LIMIT": "0"}).start(timeout=60)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_sigkill_mid_stream_then_restart(database: str, request: pytest.FixtureRequest,
                                         tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path}/c.sqlite3" if database == "sqlite"
           else request.getfixturevalue("pg_url"))
    port = free_port()
    server = serve(url, tmp_path, port)
    assert server.write_key is not None
    load = BackgroundLoad(server.url, server.write_key, PLAN).start()
    restarted: ServerProcess | None = None
    try:
        wait_for(lambda: load.acked() >= 400, 30, "400 acked events before the kill")
        server.kill(signal.SIGKILL)
        at_kill = load.acked()
        wait_for(lambda: load.totals.errors > 0, 10, "clients to notice the kill")
        restarted = serve(url, tmp_path, port)
        totals = load.finish(timeout=PLAN.seconds + PLAN.drain_seconds + 30)
    finally:
        server.kill()
        if restarted is not None:
            restarted.kill()
    assert len(totals.acked_mids) > at_kill + 100, "the clients did not resume"
    assert totals.retries > 0
    assert_exactly_once(url, totals)


def test_postgresql_connections_terminated_under_load(pg_url: str, tmp_path: Path) -> None:
    """The shared PostgreSQL is never restarted: every backend of the test database is
    terminated instead, three times, while the clients stream."""
    server = serve(pg_url, tmp_path)
    assert server.write_key is not None
    load = BackgroundLoad(server.url, server.write_key, PLAN).start()
    try:
        terminated = 0
        for round_ in range(3):
            wait_for(lambda r=round_: load.acked() >= 300 * (r + 1), 30,
                     f"{300 * (round_ + 1)} acked events")
            terminated += terminate_backends(pg_url.rsplit("/", 1)[1])
        at_last = load.acked()
        totals = load.finish(timeout=PLAN.seconds + PLAN.drain_seconds + 30)
    finally:
        server.kill()
    assert terminated > 0, "no server connection was cut: the fault did not happen"
    assert len(totals.acked_mids) > at_last, "the clients did not resume"
    assert_exactly_once(pg_url, totals)


def test_postgresql_unreachable_for_a_while_under_load(pg_url: str, tmp_path: Path) -> None:
    """Every connection dropped and new ones refused (tests/tcp_proxy.py) for about a
    second: clients get 503s, error frames or close 1013, then resume."""
    proxy = TcpProxy(5432).start()
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    server = serve(url, tmp_path)
    assert server.write_key is not None
    load = BackgroundLoad(server.url, server.write_key, PLAN).start()
    try:
        wait_for(lambda: load.acked() >= 400, 30, "400 acked events before the outage")
        proxy.cut()
        errors_before = load.totals.errors
        wait_for(lambda: load.totals.errors > errors_before, 15, "clients to see the outage")
        at_outage = load.acked()
        proxy.restore()
        totals = load.finish(timeout=PLAN.seconds + PLAN.drain_seconds + 30)
    finally:
        server.kill()
        proxy.cut()
    assert len(totals.acked_mids) > at_outage, "the clients did not resume"
    assert_exactly_once(pg_url, totals)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (root can mount one here); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        unavailable("no mount command: cannot build a small disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        unavailable(f"cannot mount a 2 MB tmpfs ({done.stderr.strip()}); the disk-full test "
                    "needs root or CAP_SYS_ADMIN. Storage failures without a real disk are "
                    "covered by tests/reliability/test_fuzz_pipeline.py")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def test_disk_fills_up_then_space_comes_back(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk}/c.sqlite3"
    server = serve(url, tmp_path)
    assert server.write_key is not None
    plan = LoadPlan(ws_clients=4, http_clients=2, seconds=5.0, batch=20, interval=0.05,
                    resend_every=0, drain_seconds=40.0)
    load = BackgroundLoad(server.url, server.write_key, plan).start()
    try:
        wait_for(lambda: load.totals.errors >= 10, 40, "the disk to fill up")
        full_at = load.acked()
        samples = list(load.totals.error_samples)
        assert any("storage unavailable" in s or "503" in s for s in samples), samples
        # Room for the rest of the run (SQLite's WAL and database both grow).
        subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True,
                       capture_output=True, timeout=30)
        totals = load.finish(timeout=plan.seconds + plan.drain_seconds + 30)
    finally:
        server.kill()
    assert len(totals.acked_mids) > full_at, "the clients did not resume"
    assert_exactly_once(url, totals)

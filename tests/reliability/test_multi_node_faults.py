"""The faults of test_faults.py on two nodes of two workers each, on one PostgreSQL.

Each node has its own clients (different events), which resend until acked. Whatever
fault hits, afterwards every event acked by either node is stored exactly once, every
client has resumed, and the nodes serve again without a restart (but the killed one).
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.bench.load import LoadPlan, LoadTotals
from collector.bench.server import ServerProcess
from tests.conftest import wait_for
from tests.reliability.conftest import (
    BackgroundLoad,
    Nodes,
    assert_exactly_once,
    terminate_backends,
)
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 2
# Per node: a few clients streaming small batches back to back; node B's clients are
# numbered after node A's, so the two loads never send the same event.
PLAN = LoadPlan(ws_clients=5, http_clients=2, seconds=8.0, batch=20, interval=0.02,
                resend_every=0, drain_seconds=30.0)
PLAN_B = dataclasses.replace(PLAN, first_client=1000)
FINISH = PLAN.seconds + PLAN.drain_seconds + 15


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """PostgreSQL behind tests/tcp_proxy.py: an outage on demand."""
    proxy = TcpProxy(5432).start()
    try:
        yield proxy
    finally:
        proxy.cut()


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[Callable[[str], Nodes]]:
    """Starts two nodes of ``WORKERS`` workers on a database URL; both killed at the end."""
    started: list[Nodes] = []

    def start(url: str) -> Nodes:
        started.append(Nodes(url, tmp_path, {}, workers=WORKERS))
        return started[-1].start()

    yield start
    for pair in started:
        pair.stop()


def loads(nodes: Nodes) -> tuple[BackgroundLoad, BackgroundLoad]:
    return (BackgroundLoad(nodes.a.url, nodes.key, PLAN).start(),
            BackgroundLoad(nodes.b.url, nodes.key, PLAN_B).start())


def finish(*running: BackgroundLoad) -> list[LoadTotals]:
    return [load.finish(timeout=FINISH) for load in running]


def assert_serving(*nodes: ServerProcess) -> None:
    """Still the same processes (no restart), and healthy."""
    for node in nodes:
        assert node.proc is not None and node.proc.poll() is None, "".join(node.output)
        node.wait_healthy(10)


def test_sigkill_of_one_node_while_the_other_serves_then_restart(
        pg_url: str, two_nodes: Callable[[str], Nodes]) -> None:
    nodes = two_nodes(pg_url)
    load_a, load_b = loads(nodes)
    wait_for(lambda: load_a.acked() >= 400 and load_b.acked() >= 400, 30,
             "400 acked events on each node before the kill")
    nodes.a.kill(signal.SIGKILL)  # gunicorn's master and both workers
    at_kill_a, at_kill_b = load_a.acked(), load_b.acked()
    wait_for(lambda: load_a.totals.errors > 0, 10, "node A's clients to notice the kill")
    wait_for(lambda: load_b.acked() >= at_kill_b + 400, 20,
             "node B to ack 400 more events while node A is down")
    nodes.a.start(timeout=60)  # same port and instance folder
    wait_for(lambda: load_a.acked() >= at_kill_a + 200, 30,
             "node A's clients to resume on the restarted node")
    totals_a, totals_b = finish(load_a, load_b)
    assert_serving(nodes.a, nodes.b)
    assert totals_a.retries > 0
    assert totals_b.errors == 0, (totals_b.error_samples, "".join(nodes.b.output[-40:]))
    assert_exactly_once(pg_url, totals_a, totals_b)


def test_postgresql_connections_of_both_nodes_terminated_under_load(
        pg_url: str, two_nodes: Callable[[str], Nodes]) -> None:
    """Every backend of the test database (both nodes, all workers) terminated three
    times while the clients of both nodes stream."""
    nodes = two_nodes(pg_url)
    load_a, load_b = loads(nodes)
    cut = []
    for round_ in range(3):
        goal = 300 * (round_ + 1)
        wait_for(lambda g=goal: load_a.acked() >= g and load_b.acked() >= g, 30,
                 f"{goal} acked events on each node")
        cut.append(terminate_backends(pg_url.rsplit("/", 1)[1]))
    at_last = load_a.acked(), load_b.acked()
    wait_for(lambda: load_a.acked() > at_last[0] and load_b.acked() > at_last[1], 30,
             "the clients of both nodes to resume")
    totals = finish(load_a, load_b)
    assert_serving(nodes.a, nodes.b)
    # Both nodes had just acked events, so each held at least one open connection.
    assert min(cut) >= 2, f"server connections cut per round: {cut}"
    assert_exactly_once(pg_url, *totals)


def test_postgresql_unreachable_for_both_nodes_then_back(
        pg_url: str, proxy: TcpProxy, two_nodes: Callable[[str], Nodes]) -> None:
    """Every connection dropped and new ones refused until the clients of both nodes
    have seen errors (503s, error frames, close 1013); then PostgreSQL is back."""
    nodes = two_nodes(pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    load_a, load_b = loads(nodes)
    wait_for(lambda: load_a.acked() >= 400 and load_b.acked() >= 400, 30,
             "400 acked events on each node before the outage")
    errors = load_a.totals.errors, load_b.totals.errors
    proxy.cut()
    wait_for(lambda: load_a.totals.errors > errors[0] and load_b.totals.errors > errors[1],
             15, "the clients of both nodes to see the outage")
    at_outage = load_a.acked(), load_b.acked()
    proxy.restore()
    wait_for(lambda: (load_a.acked() >= at_outage[0] + 200
                      and load_b.acked() >= at_outage[1] + 200), 30,
             "the clients of both nodes to resume")
    totals = finish(load_a, load_b)
    assert_serving(nodes.a, nodes.b)
    assert all(t.retries > 0 for t in totals)
    assert_exactly_once(pg_url, *totals)

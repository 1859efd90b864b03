"""Several collector nodes on one PostgreSQL, as a load balancer spreads traffic.

Each node is its own ``collector serve`` with its own instance folder and port. Whatever
node a batch reaches, and however often it is resent to another, each event is stored
once; course starts are deduplicated across nodes; a dashboard on one node sees what
another node stored (PostgreSQL NOTIFY, or Redis); and forwarders on every node share
the outbox without sending a statement twice.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from websockets.sync.client import connect

from collector.bench.load import LoadPlan
from collector.bench.server import ServerProcess
from collector.bench.soak import stored_events
from tests.conftest import wait_for
from tests.dashboard.test_live_socket import _login_cookie, frames_until
from tests.factories import course_start, event
from tests.forward.conftest import Receiver
from tests.reliability.conftest import BackgroundLoad, Nodes

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REDIS_URL = "redis://127.0.0.1:6379/0"
PLAN = LoadPlan(ws_clients=5, http_clients=2, seconds=5.0, batch=20, interval=0.02,
                resend_every=7, drain_seconds=40.0)


@pytest.fixture
def nodes(pg_url: str, tmp_path: Path) -> Iterator[Nodes]:
    pair = Nodes(pg_url, tmp_path, {})
    try:
        yield pair.start()
    finally:
        pair.stop()


def post(node: ServerProcess, key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    request = urllib.request.Request(
        node.url + "/v1/telemetry", data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())["result"]
    return result


def test_a_batch_acked_by_one_node_and_resent_to_the_other_is_stored_once(
        nodes: Nodes, pg_url: str) -> None:
    batch = [event("INTERACT", edata={"type": "click", "id": f"b{i}"}) for i in range(25)]
    first = post(nodes.a, nodes.key, batch)
    again = post(nodes.b, nodes.key, batch)
    assert (first["accepted"], first["duplicates"]) == (25, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 25)
    rows, mids = stored_events(pg_url)
    assert rows == len(mids) == 25


def test_the_same_traffic_to_both_nodes_at_once_is_stored_exactly_once(
        nodes: Nodes, pg_url: str) -> None:
    """Every client sends the same batches to both nodes concurrently (a retry that
    raced its original through another node), with resends on purpose besides."""
    loads = [BackgroundLoad(node.url, nodes.key, PLAN).start() for node in (nodes.a, nodes.b)]
    totals = [load.finish(timeout=PLAN.seconds + PLAN.drain_seconds + 30) for load in loads]
    acked = totals[0].acked_mids | totals[1].acked_mids
    assert all(t.unacked == 0 for t in totals), [t.error_samples for t in totals]
    assert len(acked) > 500
    rows, mids = stored_events(pg_url)
    assert rows == len(mids), "an event was stored twice"
    assert mids == acked


def test_one_course_started_across_nodes(nodes: Nodes, pg_url: str) -> None:
    first = course_start("algebra", sid="tab-1", actor="ada", ets=1_763_000_000_000)
    repeat = course_start("algebra", sid="tab-1", actor="ada", ets=1_763_000_005_000)
    assert post(nodes.a, nodes.key, [first])["accepted"] == 1
    assert post(nodes.b, nodes.key, [repeat])["accepted"] == 1
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        rows = dict(conn.execute(
            "SELECT mid, duplicate_of FROM events WHERE eid = 'START'").fetchall())
    assert rows == {first["mid"]: None, repeat["mid"]: first["mid"]}


@pytest.mark.parametrize("fan_out", ["notify", "redis"])
def test_a_dashboard_on_one_node_sees_events_stored_by_the_other(
        pg_url: str, tmp_path: Path, fan_out: str) -> None:
    if fan_out == "redis":
        import redis  # the optional fan-out's client: only this case needs it

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    pair = Nodes(pg_url, tmp_path, {"COLLECTOR_REDIS_URL": REDIS_URL}
                 if fan_out == "redis" else {})
    try:
        pair.start()
        assert pair.a.admin_password is not None
        cookie = _login_cookie(pair.b.url, pair.a.admin_password)
        with connect(pair.b.url.replace("http", "ws", 1) + "/v1/live",
                     additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["mode"] == ("redis" if fan_out == "redis" else "postgres")
            # The node starts listening with its first dashboard; a first event that
            # arrives proves it listens. Then each batch must show within 1 s.
            frames: list[dict[str, Any]] = []
            deadline = time.monotonic() + 10
            while not frames and time.monotonic() < deadline:
                post(pair.a, pair.key, [event("IMPRESSION")])
                frames = frames_until(ws, 1, timeout=1)
            assert frames, "no live frame from the other node within 10 s"
            sent = time.monotonic()
            post(pair.a, pair.key, [event("IMPRESSION") for _ in range(3)])
            frames = frames_until(ws, 3, timeout=3)
        assert sum(f["count"] for f in frames) == 3
        assert frames[0]["at"] - sent < 1.0
    finally:
        pair.stop()


def test_forwarders_on_every_node_send_each_statement_once(pg_url: str,
                                                           tmp_path: Path) -> None:
    receiver = Receiver()
    env = {"COLLECTOR_LRS_URL": receiver.url + "/xAPI", "COLLECTOR_LRS_AUTH": "collector:pw"}
    pair = Nodes(pg_url, tmp_path, env)
    try:
        pair.start()
        sent = []
        for n in range(20):  # impressions map to xAPI 'viewed': one statement each
            batch = [event("IMPRESSION", sid=f"s{n}") for _ in range(10)]
            post(pair.a if n % 2 else pair.b, pair.key, batch)
            sent += [ev["mid"] for ev in batch]

        def delivered() -> list[str]:
            with receiver.lock:
                return [st["id"] for req in receiver.requests if req["status"] < 300
                        for st in req["body"]]

        wait_for(lambda: len(delivered()) >= len(sent), 60, "every statement delivered")
        ids = delivered()
        assert len(ids) == len(set(ids)) == len(sent), "a statement was sent twice"
    finally:
        pair.stop()
        receiver.stop()

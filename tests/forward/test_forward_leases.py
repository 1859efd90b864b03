"""Leases: `collector forward` next to a running server's forwarder never takes its rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from collector.outbound import outbox
from collector.outbound.forwarder import HOST, release_orphaned_leases
from collector.outbound.forwarding import (
    forwarding_status,
    make_forwarder,
    start_forwarders,
    stop_forwarders,
)
from collector.storage.engine import get_engine
from collector.storage.models import OutboxEntry
from tests.conftest import wait_for
from tests.forward.conftest import Receiver
from tests.forward.helpers import ingest, outbox_rows
from tests.forward.test_lrs_forwarding import expected_ids
from tests.mapping.test_xapi_mapping import lesson_calls


def statement_ids(receiver: Receiver) -> Counter[str]:
    return Counter(st["id"] for r in receiver.accepted() for st in r["body"])


class HeldFirstRequest:
    """Receiver answer: holds the first request until released, answers the rest at once."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.first = True

    def __call__(self, request: dict[str, Any]) -> int:
        with self.lock:
            first, self.first = self.first, False
        if first:
            self.arrived.set()
            assert self.release.wait(60)
        return 200


@pytest.fixture
def serving(make_app: Callable[..., Flask], sqlite_url: str,
            receiver: Receiver) -> Iterator[Flask]:
    app = make_app(sqlite_url, LRS_URL=receiver.url + "/xAPI", LRS_AUTH="collector:pw")
    yield app
    stop_forwarders(app)


def test_forward_command_leaves_a_running_forwarders_rows_alone(
        serving: Flask, sqlite_url: str, receiver: Receiver, tmp_path: Path) -> None:
    app = serving
    events = lesson_calls()
    ingest(app, events)
    expected = expected_ids(events)
    held = HeldFirstRequest()
    receiver.answer = held
    start_forwarders(app)
    assert held.arrived.wait(30), "the server's forwarder should be sending"

    env = {**os.environ, "COLLECTOR_DATABASE_URL": sqlite_url,
           "COLLECTOR_LRS_URL": receiver.url + "/xAPI", "COLLECTOR_LRS_AUTH": "collector:pw",
           "COLLECTOR_INSTANCE_PATH": str(tmp_path / "cli-instance")}
    cli = subprocess.run([sys.executable, "-m", "collector.cli.main", "forward", "xapi",
                          "--json"], env=env, capture_output=True, text=True, timeout=120)
    held.release.set()
    summary = json.loads(cli.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 0, "the rows are leased by the server's forwarder"

    wait_for(lambda: outbox_rows(app) == 0, what="the server's forwarder to finish")
    ids = statement_ids(receiver)
    assert set(ids) == expected and max(ids.values()) == 1, ids
    wait_for(lambda: forwarding_status(app)["xapi"]["sent"] == len(expected),
             what="the sent counter")
    assert forwarding_status(app)["xapi"]["sent"] == len(expected)


def test_only_leases_of_gone_processes_are_released(serving: Flask) -> None:
    app = serving
    engine = get_engine(app)
    ingest(app, lesson_calls())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_owner = f"{HOST}:{int(gone.stdout)}:0badf00d"
    other_host = "elsewhere:1:0badf00d"
    live = make_forwarder(app, "xapi")
    try:
        assert len(outbox.claim(engine, "xapi", live.owner, 3, 120_000)) == 3
        assert len(outbox.claim(engine, "xapi", other_host, 2, 120_000)) == 2
        assert len(outbox.claim(engine, "xapi", dead_owner, 4, 120_000)) == 4

        assert release_orphaned_leases(engine, "xapi") == 4
        with engine.connect() as conn:
            owners = Counter(conn.scalars(select(OutboxEntry.lease_owner)))
        assert owners[live.owner] == 3 and owners[other_host] == 2
        assert dead_owner not in owners
    finally:
        live.close()


def test_a_forwarder_whose_lease_expired_counts_nothing_it_no_longer_holds(
        serving: Flask) -> None:
    app = serving
    engine = get_engine(app)
    ingest(app, lesson_calls())
    slow = outbox.claim(engine, "xapi", "slow", 3, lease_ms=1, now=1_000)
    taken = outbox.claim(engine, "xapi", "next", 3, lease_ms=120_000, now=2_000)
    assert [r.id for r in slow] == [r.id for r in taken]

    outbox.complete(engine, "xapi", "slow", [r.id for r in slow], [])
    assert forwarding_status(app)["xapi"]["sent"] == 0
    outbox.complete(engine, "xapi", "next", [r.id for r in taken], [])
    assert forwarding_status(app)["xapi"]["sent"] == 3

"""The three ingest extension phases keep their failure policies.

before store and after commit are isolated (logged, the batch is stored and acked);
in transaction aborts only the batch that made it fail, even inside a group.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, select

from collector.core.events.validate import ValidEvent
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine
from collector.storage.models import Event
from collector.storage.sites import SiteAuth, get_directory
from tests.factories import event


def post_events(app: Flask, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    client = app.test_client()
    response = client.post("/v1/telemetry", data=json.dumps({"events": events}),
                           headers={"Authorization": f"Bearer {app.config['TEST_SITE'].key}",
                                    "Content-Type": "application/json"})
    return response.status_code, response.get_json()


def stored_mids(app: Flask) -> set[str]:
    with get_engine(app).connect() as conn:
        return set(conn.execute(select(Event.mid)).scalars())


def test_a_failing_after_commit_listener_never_fails_a_committed_batch(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def broken_listener(site: SiteAuth, stored: list[ValidEvent]) -> None:
        raise RuntimeError("listener is broken")

    def counting_listener(site: SiteAuth, stored: list[ValidEvent]) -> None:
        seen.append(len(stored))

    pipeline = get_pipeline(app)
    pipeline.after_commit(broken_listener)
    pipeline.after_commit(counting_listener)
    events = [event(), event("INTERACT"), event("START")]

    with caplog.at_level(logging.ERROR, logger="collector.ingest.pipeline"):
        status, body = post_events(app, events)

    assert status == 200, body
    assert body["result"]["accepted"] == 3
    assert stored_mids(app) == {e["mid"] for e in events}
    assert seen == [3], "a failing listener must not keep the next ones from running"
    assert any("listener" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_failing_before_store_check_is_isolated(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    def broken_check(site: SiteAuth, valid: list[ValidEvent]) -> None:
        raise RuntimeError("check is broken")

    get_pipeline(app).before_store(broken_check)
    events = [event(), event("INTERACT")]

    with caplog.at_level(logging.ERROR, logger="collector.ingest.pipeline"):
        status, body = post_events(app, events)

    assert status == 200, body
    assert body["result"]["accepted"] == 2
    assert stored_mids(app) == {e["mid"] for e in events}
    assert any("check" in r.getMessage() and r.exc_info for r in caplog.records)


class GateAndPoison:
    """Holds the writer on a gate batch (so the next batches queue into one group) and
    fails the transaction of any group that holds the poisoned batch."""

    def __init__(self, gate: str, poisoned: str) -> None:
        self.gate, self.poisoned = gate, poisoned
        self.release = threading.Event()
        self.holding = threading.Event()
        self.groups: list[list[str]] = []

    def __call__(self, conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> None:
        firsts = [b.valid[0].mid for b in batches if b.valid]
        self.groups.append(firsts)
        if self.gate in firsts:
            self.holding.set()
            assert self.release.wait(30)
        if self.poisoned in firsts:
            raise RuntimeError("derived rows could not be written")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_failing_in_transaction_hook_fails_only_its_batch_of_the_group(
        make_app: Any, request: pytest.FixtureRequest, database: str) -> None:
    app: Flask = make_app(request.getfixturevalue(
        "sqlite_url" if database == "sqlite" else "pg_url"))
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)
    batches = {name: [event(mid=f"{name}-{i}") for i in range(3)]
               for name in ("gate", "good-1", "poisoned", "good-2")}
    hook = GateAndPoison("gate-0", "poisoned-0")
    pipeline.in_transaction(hook)

    def submit(name: str) -> Any:
        return pipeline.submit_events(site, [json.dumps(e).encode() for e in batches[name]],
                                      transport="http")

    gate = submit("gate")
    assert hook.holding.wait(30)
    queued = {name: submit(name) for name in ("good-1", "poisoned", "good-2")}
    hook.release.set()

    assert gate.result().accepted == 3
    assert queued["good-1"].result().accepted == 3
    assert queued["good-2"].result().accepted == 3
    # The poisoned batch alone is refused: quarantined and acked as rejected, since a
    # retry of the same data would fail the same way.
    poisoned = queued["poisoned"].result()
    assert poisoned.accepted == 0 and [r["index"] for r in poisoned.rejected] == [0, 1, 2]
    assert ["good-1-0", "poisoned-0", "good-2-0"] in hook.groups, hook.groups
    assert stored_mids(app) == {e["mid"] for name in ("gate", "good-1", "good-2")
                                for e in batches[name]}


def test_counter_writes_a_hook_returns_run_after_every_hook_in_their_order(
        app: Flask) -> None:
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)
    calls: list[str] = []

    def hook(name: str, counts: bool) -> Any:
        def run(conn: Any, batches: Any, outcomes: Any) -> Any:
            calls.append(name)
            if not counts:
                return None
            return lambda conn: calls.append(f"{name} counters")
        return run

    for name, counts in (("first", True), ("second", False), ("third", True)):
        pipeline.in_transaction(hook(name, counts))
    assert pipeline.ingest_events(site, [json.dumps(event()).encode()],
                                  transport="http").accepted == 1
    # (The collector's own hooks run too; only these three record their calls.)
    assert calls == ["first", "second", "third", "first counters", "third counters"]

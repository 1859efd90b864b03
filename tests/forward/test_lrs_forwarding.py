"""Forwarding to a real LRS (ralph, on loopback): round trip, crash, restart, exactly once."""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select

from collector.bench.server import ServerProcess
from collector.bench.synthetic import synthetic_events
from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.xapi import xapi_statement
from collector.outbound.forwarder import Forwarder
from collector.outbound.forwarding import forwarding_status, make_forwarder
from collector.storage.engine import get_engine
from collector.storage.models import OutboxEntry
from tests.conftest import wait_for
from tests.forward.conftest import RalphLRS, Receiver
from tests.forward.helpers import ingest, outbox_rows
from tests.mapping.test_xapi_mapping import lesson_calls


def expected_ids(events: list[dict[str, Any]], site: str = "test") -> set[str]:
    out = set()
    for ev in events:
        st = xapi_statement(ev, MappingContext(site=site))
        if not isinstance(st, Skip):
            out.add(st["id"])
    return out


def test_round_trip_to_ralph_exactly_once(make_app: Callable[..., Flask], sqlite_url: str,
                                          ralph_lrs: RalphLRS) -> None:
    app = make_app(sqlite_url, LRS_URL=ralph_lrs.url, LRS_AUTH=ralph_lrs.auth)
    events = lesson_calls() + list(synthetic_events(300, seed=5))
    ingest(app, events)
    forwarder = make_forwarder(app, "xapi", batch=50)
    try:
        report = forwarder.drain()
        assert report.failed == 0 and report.retried == 0, report.errors
        stored = ralph_lrs.statements()
        ids = Counter(st["id"] for st in stored)
        assert set(ids) == expected_ids(events) and max(ids.values()) == 1
        assert outbox_rows(app) == 0
        status = forwarding_status(app)["xapi"]
        assert status["sent"] == len(ids) and status["pending"] == 0
        assert status["endpoint"] == ralph_lrs.url + "/statements"

        # Everything queued again (e.g. a backfill): the LRS recognises every id.
        from collector.outbound.outbox import backfill

        assert backfill(get_engine(app), "xapi") == len(ids)
        again = forwarder.drain()
        assert again.sent == len(ids) and again.failed == 0
        assert len(ralph_lrs.statements()) == len(ids)
    finally:
        forwarder.close()


def _post(url: str, key: str, events: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        url + "/v1/telemetry", data=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


class Collector:
    """``collector serve`` in a child process (ServerProcess drains and closes its log)."""

    def __init__(self, url: str, env: dict[str, str], instance: Path) -> None:
        self.server = ServerProcess(url, env=env, instance=instance).start()

    def kill(self) -> None:
        self.server.kill(signal.SIGKILL)


@pytest.mark.slow
def test_killed_mid_run_then_restarted_delivers_each_statement_once(
        tmp_path: Path, ralph_lrs: RalphLRS) -> None:
    url = f"sqlite:///{tmp_path}/collector.sqlite3"
    env = {"COLLECTOR_LRS_URL": ralph_lrs.url, "COLLECTOR_LRS_AUTH": ralph_lrs.auth,
           "COLLECTOR_RATE_LIMIT": "0"}
    events = list(synthetic_events(4000, seed=9))
    collector = Collector(url, env, tmp_path / "instance")
    engine = create_engine(url)
    pending = select(func.count()).select_from(OutboxEntry)
    try:
        key = collector.server.write_key
        assert key
        for i in range(0, len(events), 1000):
            _post(collector.server.url, key, events[i:i + 1000])
        wait_for(lambda: ralph_lrs.statements(), 30, "the first statements in the LRS")
        collector.kill()  # SIGKILL: the forwarder dies mid-run, leases and all
        with engine.connect() as conn:
            left = conn.scalar(pending)
        sent_before = len(ralph_lrs.statements())
        assert left and sent_before < len(events), "the kill must land mid-run"

        collector = Collector(url, env, tmp_path / "instance")

        def drained() -> bool:
            with engine.connect() as conn:
                return conn.scalar(pending) == 0

        wait_for(drained, 90, "the restarted forwarder to empty the outbox")
    finally:
        collector.kill()
        engine.dispose()
    ids = Counter(st["id"] for st in ralph_lrs.statements())
    assert set(ids) == expected_ids(events, site="default")  # collector serve's first site
    assert max(ids.values()) == 1  # exactly once, though some were in flight at the kill


def _receiver_app(make_app: Callable[..., Flask], url: str, receiver: Receiver) -> Flask:
    return make_app(url, LRS_URL=receiver.url + "/xAPI", LRS_AUTH="collector:pw")


def _statement_ids(requests: list[dict[str, Any]]) -> Counter[str]:
    return Counter(st["id"] for r in requests for st in r["body"])


def test_concurrent_forwarders_never_send_a_row_twice(make_app: Callable[..., Flask],
                                                      pg_url: str, receiver: Receiver) -> None:
    """Several worker processes on PostgreSQL: SKIP LOCKED leases keep their rows apart."""
    app = _receiver_app(make_app, pg_url, receiver)
    events = list(synthetic_events(1200, seed=21))
    ingest(app, events)
    receiver.delay = 0.003
    forwarders = [make_forwarder(app, "xapi", batch=20) for _ in range(3)]
    reports: list[Any] = [None] * 3

    def run(i: int) -> None:
        reports[i] = forwarders[i].drain()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for f in forwarders:
        f.close()
    ids = _statement_ids(receiver.accepted())
    assert set(ids) == expected_ids(events) and max(ids.values()) == 1
    assert sum(1 for r in reports if r.sent) >= 2, "the forwarders should share the work"
    assert outbox_rows(app) == 0


def test_retries_with_backoff_then_delivers(make_app: Callable[..., Flask], sqlite_url: str,
                                            receiver: Receiver) -> None:
    app = _receiver_app(make_app, sqlite_url, receiver)
    events = lesson_calls()
    ingest(app, events)
    answers = iter([503, 503])
    receiver.answer = lambda request: next(answers, 200)
    forwarder = Forwarder(get_engine(app), make_forwarder(app, "xapi").sender, "http://localhost",
                          backoff_s=(0.01, 0.05))
    try:
        first = forwarder.drain()
        assert first.retried and not first.sent
        status = forwarding_status(app)["xapi"]
        assert "HTTP 503" in status["last_error"] and status["pending"] == len(events)

        def delivered() -> bool:
            forwarder.drain()
            return outbox_rows(app) == 0

        wait_for(delivered, 10, "delivery after the backoff")
    finally:
        forwarder.close()
    assert _statement_ids(receiver.accepted()) == Counter(expected_ids(events))
    headers = receiver.requests[0]["headers"]
    assert headers["X-Experience-API-Version"] == "1.0.3"
    assert headers["Authorization"] == "Basic Y29sbGVjdG9yOnB3"  # collector:pw
    assert receiver.requests[0]["path"] == "/xAPI/statements"


def test_a_refused_statement_is_isolated_and_kept(make_app: Callable[..., Flask],
                                                   sqlite_url: str, receiver: Receiver) -> None:
    app = _receiver_app(make_app, sqlite_url, receiver)
    events = lesson_calls()
    bad_id = xapi_statement(events[4], MappingContext(site="test"))["id"]  # type: ignore[index]
    receiver.answer = lambda r: 400 if any(s["id"] == bad_id for s in r["body"]) else 200
    ingest(app, events)
    forwarder = make_forwarder(app, "xapi")
    try:
        report = forwarder.drain()
    finally:
        forwarder.close()
    assert report.failed == 1 and report.sent == len(events) - 1
    assert bad_id not in _statement_ids(receiver.accepted())
    status = forwarding_status(app)["xapi"]
    assert status["failed"] == 1 and "HTTP 400" in status["last_refusal"]
    assert status["pending"] == 0


def test_conflict_means_already_stored(make_app: Callable[..., Flask], sqlite_url: str,
                                       receiver: Receiver) -> None:
    app = _receiver_app(make_app, sqlite_url, receiver)
    events = lesson_calls()
    known = xapi_statement(events[0], MappingContext(site="test"))["id"]  # type: ignore[index]
    receiver.answer = lambda r: 409 if any(s["id"] == known for s in r["body"]) else 200
    ingest(app, events)
    forwarder = make_forwarder(app, "xapi")
    try:
        report = forwarder.drain()
    finally:
        forwarder.close()
    assert report.failed == 0 and report.sent == len(events) and outbox_rows(app) == 0
    assert set(_statement_ids(receiver.accepted())) == expected_ids(events) - {known}


def test_forward_command_one_shot(make_app: Callable[..., Flask], sqlite_url: str,
                                  receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from collector.cli.main import main

    app = _receiver_app(make_app, sqlite_url, receiver)
    events = lesson_calls()
    ingest(app, events)
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COLLECTOR_LRS_URL", receiver.url + "/xAPI")
    done = CliRunner().invoke(main, ["forward", "xapi", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output.strip().splitlines()[-1])
    assert summary["sent"] == len(events) and summary["pending"] == 0
    stats = CliRunner().invoke(main, ["stats", "--json"])
    counts = json.loads(stats.output.strip().splitlines()[-1])
    assert counts["xapi_sent"] == len(events) and counts["xapi_pending"] == 0
    assert counts["events"] == len(events)  # the existing keys are still there
    receiver.answer = lambda r: 503
    ingest(app, [lesson_calls()[4] | {"mid": "another"}])
    failing = CliRunner().invoke(main, ["forward", "xapi"])
    assert failing.exit_code == 1 and "HTTP 503" in failing.output

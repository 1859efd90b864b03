"""Caliper forwarding to a local HTTP receiver: Bearer token, valid 1.2 envelopes, 2xx = sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from flask import Flask

from collector.core.mapping import MappingContext
from collector.core.mapping.caliper import caliper_events
from collector.outbound.forwarder import Forwarder
from collector.outbound.forwarding import forwarding_status, make_forwarder
from collector.storage.engine import get_engine
from tests.factories import event
from tests.forward.conftest import Receiver
from tests.forward.helpers import ingest, outbox_rows
from tests.mapping.test_xapi_mapping import lesson_calls
from tests.mapping.validators import assert_valid_caliper


def expected_event_ids(events: list[dict]) -> set[str]:
    out: set[str] = set()
    for ev in events:
        mapped = caliper_events(ev, MappingContext(site="test"))
        if isinstance(mapped, list):
            out.update(e["id"] for e in mapped)
    return out


def test_envelopes_reach_the_endpoint_once(make_app: Callable[..., Flask], sqlite_url: str,
                                           receiver: Receiver) -> None:
    app = make_app(sqlite_url, CALIPER_URL=receiver.url + "/caliper", CALIPER_TOKEN="tok-1",
                   PUBLIC_URL="https://collector.example.org")
    events = lesson_calls() + [event("START", edata={"type": "session"})]
    ingest(app, events)
    answers = iter([500])
    receiver.answer = lambda request: next(answers, 204)
    forwarder = Forwarder(get_engine(app), make_forwarder(app, "caliper").sender,
                          "https://collector.example.org", batch=4, backoff_s=(0.0, 0.0))
    try:
        first = forwarder.drain()
        assert first.retried == 4 and "HTTP 500" in forwarding_status(app)["caliper"][
            "last_error"]
        second = forwarder.drain()
        assert second.failed == 0 and outbox_rows(app) == 0
    finally:
        forwarder.close()
    accepted = receiver.accepted()
    for request in accepted:
        assert request["path"] == "/caliper"
        assert request["headers"]["Authorization"] == "Bearer tok-1"
        assert_valid_caliper(request["body"])
        assert request["body"]["sensor"] == "https://collector.example.org/sensor"
    ids = Counter(e["id"] for r in accepted for e in r["body"]["data"])
    assert set(ids) == expected_event_ids(events) and max(ids.values()) == 1
    assert forwarding_status(app)["caliper"]["sent"] == len(
        [e for e in events if isinstance(caliper_events(e, MappingContext(site="test")), list)])


def test_a_refused_envelope_row_is_kept_as_failed(make_app: Callable[..., Flask],
                                                  sqlite_url: str, receiver: Receiver) -> None:
    app = make_app(sqlite_url, CALIPER_URL=receiver.url + "/caliper")
    events = lesson_calls()
    ingest(app, events)
    receiver.answer = lambda r: 422 if any(
        e["type"] == "ViewEvent" for e in r["body"]["data"]) else 200
    forwarder = make_forwarder(app, "caliper")
    try:
        report = forwarder.drain()
    finally:
        forwarder.close()
    assert report.failed == 2  # the two page views, each refused on its own
    assert "Authorization" not in receiver.requests[0]["headers"]  # no token configured
    status = forwarding_status(app)["caliper"]
    assert status["failed"] == 2 and status["pending"] == 0 and "HTTP 422" in status[
        "last_refusal"]

"""Out-of-range numbers cost only their own event, never another client's batch.

An ``ets`` that no datetime or 64-bit column can hold is refused at validation with a
reason naming ``ets``; anything else a batch's data makes the store fail on stays with
that batch: its events go to quarantine with the reason and every other batch of the
group commit is stored and acked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import Connection, select
from websockets.sync.client import connect

from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine, session
from collector.storage.models import Event, RejectedEvent
from collector.storage.sites import SiteAuth, create_site, get_directory
from tests.conftest import ORIGIN, LiveServer
from tests.factories import event

HOSTILE_ETS: list[Any] = [2**64, 1e308, 2**63, 10**18]


def _site(app: Flask, name: str) -> str:
    with session(app) as s:
        key = create_site(s, name, [ORIGIN]).write_key
        s.commit()
    return key


def test_out_of_range_ets_is_refused_with_a_reason(any_app: Flask) -> None:
    site = _auth(any_app, any_app.config["TEST_SITE"].key)
    good = event()
    bad = [event(ets=value) for value in HOSTILE_ETS]
    result = get_pipeline(any_app).ingest_events(
        site, [json.dumps(e).encode() for e in [good, *bad]], transport="http")
    assert result.accepted == 1
    assert [r["index"] for r in result.rejected] == [1, 2, 3, 4]
    for rejected in result.rejected:
        assert any(err.startswith("ets: out of range") for err in rejected["errors"])
    with get_engine(any_app).connect() as conn:
        assert conn.execute(select(Event.mid)).scalars().all() == [good["mid"]]
        assert len(conn.execute(select(RejectedEvent.id)).all()) == 4


def _auth(app: Flask, key: str) -> SiteAuth:
    with app.app_context():
        site = get_directory().authenticate(key)
    assert site is not None
    return site


def test_hostile_clients_cost_another_site_no_ack(live_server: LiveServer) -> None:
    app = live_server.app
    other_key = _site(app, "other")
    stop = threading.Event()
    errors: list[str] = []

    def hostile(n: int) -> None:
        with connect(f"{live_server.ws_url}/v1/ws?key={live_server.key}",
                     additional_headers={"Origin": ORIGIN}, open_timeout=10) as ws:
            i = 0
            while not stop.is_set():
                ets = HOSTILE_ETS[i % len(HOSTILE_ETS)]
                ws.send(json.dumps({"id": f"h{n}-{i}", "events": [event(ets=ets)]}))
                json.loads(ws.recv(timeout=30))
                i += 1

    threads = [threading.Thread(target=hostile, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    sent: set[str] = set()
    try:
        with connect(f"{live_server.ws_url}/v1/ws?key={other_key}",
                     additional_headers={"Origin": ORIGIN}, open_timeout=10) as ws:
            for i in range(150):
                batch = [event(actor=f"other-{i}") for _ in range(3)]
                ws.send(json.dumps({"id": i, "events": batch}))
                ack = json.loads(ws.recv(timeout=30))
                if "error" in ack or ack.get("accepted") != 3:
                    errors.append(json.dumps(ack))
                sent.update(e["mid"] for e in batch)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, f"{len(errors)} of 150 batches not acked, e.g. {errors[:3]}"
    with get_engine(app).connect() as conn:
        stored = set(conn.execute(select(Event.mid).where(Event.actor_id.like("other-%")))
                     .scalars())
    assert stored == sent


def test_a_batch_the_store_fails_on_is_quarantined_and_acked(any_app: Flask) -> None:
    """Whatever a batch's data makes the transaction fail on stays with that batch."""

    def poisoned(conn: Connection, batches: Any, outcomes: Any) -> None:
        for batch in batches:
            if any(ev.actor_id == "poison" for ev in batch.valid):
                raise ValueError("this batch cannot be stored")

    pipeline = get_pipeline(any_app)
    pipeline.in_transaction(poisoned)
    site = _auth(any_app, any_app.config["TEST_SITE"].key)
    # Block the writer so that both batches land in one group commit.
    gate = threading.Event()
    blocker = _blocking_hook(gate)
    pipeline.writer.hooks.insert(0, blocker)  # waits once: for the first group only
    first = pipeline.submit_events(site, [json.dumps(event()).encode()], transport="http")
    good_events = [event(actor="fine") for _ in range(3)]
    bad_events = [event(actor="poison"), event(actor="poison-free")]
    good = pipeline.submit_events(site, [json.dumps(e).encode() for e in good_events],
                                  transport="http")
    bad = pipeline.submit_events(site, [json.dumps(e).encode() for e in bad_events],
                                 transport="http")
    gate.set()
    assert first.result().accepted == 1
    assert good.result().accepted == 3
    result = bad.result()  # acked, not "storage unavailable": a retry would fail again
    assert result.accepted == 0
    assert [r["index"] for r in result.rejected] == [0, 1]
    assert all("could not be stored" in r["errors"][0] for r in result.rejected)
    with get_engine(any_app).connect() as conn:
        mids = set(conn.execute(select(Event.mid)).scalars())
        quarantined = set(conn.execute(select(RejectedEvent.mid)).scalars())
    assert {e["mid"] for e in good_events} <= mids
    assert quarantined == {e["mid"] for e in bad_events}


def _blocking_hook(gate: threading.Event) -> Callable[[Connection, Any, Any], None]:
    def hook(conn: Connection, batches: list[PreparedBatch],
             outcomes: list[BatchOutcome]) -> None:
        gate.wait(30)
    return hook


def test_huge_numbers_elsewhere_never_cost_the_batch(any_app: Flask) -> None:
    """Numbers the dashboards and learning tables read (durations, scores, counts)."""
    site = _auth(any_app, any_app.config["TEST_SITE"].key)
    lesson = [{"type": "Course", "id": "c1"}, {"type": "Lesson", "id": "l1"}]
    hostile = [
        event("ASSESS", cdata=lesson, edata={
            "item": {"id": "q1", "maxscore": 2**64}, "pass": "Yes", "score": 1e308,
            "resvalues": [], "duration": 2**64}),
        event("END", cdata=lesson, obj={"id": "l1", "type": "Lesson"},
              edata={"type": "lesson", "mode": "play", "pageid": "p", "duration": 1e308}),
        event("END", cdata=lesson, obj={"id": "c1", "type": "Course"},
              edata={"type": "course", "mode": "play", "pageid": "p", "duration": -2**64}),
        event("SUMMARY", edata={"type": "session", "starttime": 2**64, "endtime": -2**64,
                                "timespent": 1e308, "pageviews": 2**64, "interactions": 2**64}),
    ]
    good = event(actor="unharmed")
    result = get_pipeline(any_app).ingest_events(
        site, [json.dumps(e).encode() for e in [*hostile, good]], transport="http")
    assert result.accepted + len(result.rejected) == 5
    with get_engine(any_app).connect() as conn:
        assert good["mid"] in set(conn.execute(select(Event.mid)).scalars())

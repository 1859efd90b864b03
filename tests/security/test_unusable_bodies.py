"""Unusable bodies are rate limited by size, and their quarantine is bounded per site.

A body that is not a usable envelope costs one event of the rate limit per KiB, so a
client cannot fill the database with them faster than with events; and whole bodies
kept in quarantine are capped per site and hour (beyond the cap they are counted with
their reason, without the payload).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from websockets.sync.client import connect

from collector.core.events.envelope import EnvelopeError
from collector.ingest.pipeline import get_pipeline
from collector.ingest.quarantine_budget import QUARANTINE_BYTES_PER_HOUR
from collector.storage.engine import get_engine
from collector.storage.models import RejectedEvent
from collector.storage.sites import get_directory
from tests.conftest import ORIGIN, LiveServer

JUNK = b"not json " * (64 * 1024 // 9)  # ~64 KiB


def _quarantine(app: Flask) -> tuple[int, int]:
    """(rows, payload bytes) of the quarantine."""
    with get_engine(app).connect() as conn:
        rows, size = conn.execute(select(func.count(), func.coalesce(
            func.sum(func.length(RejectedEvent.payload)), 0))).one()
    return int(rows), int(size)


def test_unusable_frames_count_against_the_rate_limit(make_app: Any, sqlite_url: str) -> None:
    app = make_app(sqlite_url, RATE_LIMIT=5)
    server = LiveServer(app).start()
    try:
        with connect(f"{server.ws_url}/v1/ws?key={server.key}",
                     additional_headers={"Origin": ORIGIN}, open_timeout=10) as ws:
            codes = []
            for _ in range(100):
                ws.send(JUNK)
                codes.append(json.loads(ws.recv(timeout=30))["code"])
    finally:
        server.stop()
    assert codes.count("RATE_LIMITED") >= 95, codes[:10]
    rows, size = _quarantine(app)
    assert rows <= 5 and size <= 5 * len(JUNK)


def test_quarantine_of_whole_bodies_is_bounded_per_site(app: Flask) -> None:
    with app.app_context():
        site = get_directory().authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)
    bodies = QUARANTINE_BYTES_PER_HOUR // len(JUNK) + 40
    for _ in range(bodies):
        with pytest.raises(EnvelopeError):
            pipeline.ingest_body(site, JUNK, transport="http")
    rows, size = _quarantine(app)
    assert rows == bodies  # every body is counted ...
    assert size <= QUARANTINE_BYTES_PER_HOUR  # ... but only the budget's worth is kept
    with get_engine(app).connect() as conn:
        reasons = conn.execute(select(RejectedEvent.reasons)
                               .order_by(RejectedEvent.id.desc()).limit(1)).scalar_one()
    assert "payload not kept" in reasons


def test_rejected_event_payloads_share_the_budget(app: Flask) -> None:
    """One invalid event costs the rate limit one token, whatever its size: the bytes
    kept for rejected events are bounded by the same budget."""
    with app.app_context():
        site = get_directory().authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    pipeline = get_pipeline(app)
    invalid = json.dumps({"eid": "IMPRESSION", "junk": "x" * 64 * 1024}).encode()
    batches = QUARANTINE_BYTES_PER_HOUR // len(invalid) + 40
    for _ in range(batches):
        result = pipeline.ingest_events(site, [invalid], transport="http")
        assert len(result.rejected) == 1 and result.rejected[0]["errors"]
    rows, size = _quarantine(app)
    assert rows == batches
    assert size <= QUARANTINE_BYTES_PER_HOUR + 100 * 40

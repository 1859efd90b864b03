"""Putting events into a test app the way clients do (HTTP ingest) and reading the outbox."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from collector.storage.engine import get_engine
from collector.storage.models import OutboxEntry


def ingest(app: Flask, events: list[dict[str, Any]]) -> dict[str, Any]:
    """POST events to /v1/telemetry in batches of 500; returns the summed result."""
    client = app.test_client()
    key = app.config["TEST_SITE"].key
    total = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for i in range(0, len(events), 500):
        response = client.post("/v1/telemetry", json={"events": events[i:i + 500]},
                               headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        result = response.get_json()["result"]
        total["accepted"] += result["accepted"]
        total["duplicates"] += result["duplicates"]
        total["rejected"] += len(result["rejected"])
    return total


def outbox_rows(app: Flask, target: str | None = None) -> int:
    stmt = select(func.count()).select_from(OutboxEntry)
    if target:
        stmt = stmt.where(OutboxEntry.target == target)
    with get_engine(app).connect() as conn:
        return int(conn.scalar(stmt) or 0)

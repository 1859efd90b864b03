"""Fixtures of the registry/tracking tests: a logged-in client, stored-event queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from collector.storage.engine import get_engine
from collector.storage.models import Event, EventType, Site
from tests.conftest import log_in


@pytest.fixture
def admin_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client)
    return client


def stored_events(app: Flask, name: str | None = None) -> list[dict[str, Any]]:
    """Stored events (optionally of one name) with their site name, oldest first."""
    query = select(Event, Site.name.label("site")).join(Site, Site.id == Event.site_id)
    if name is not None:
        query = query.where(Event.name == name)
    with get_engine(app).connect() as conn:
        rows = conn.execute(query.order_by(Event.id)).all()
    return [{"name": r.name, "eid": r.eid, "site": r.site, "actor_id": r.actor_id,
             "sid": r.sid, "course_id": r.course_id, "mid": r.mid,
             "warnings": json.loads(r.warnings) if r.warnings else [],
             "payload": json.loads(r.payload)} for r in rows]


def registrations(app: Flask, name: str) -> dict[int, dict[str, Any]]:
    with get_engine(app).connect() as conn:
        rows = conn.execute(select(EventType).where(EventType.name == name)).all()
    return {r.version: {"description": r.description, "fields": json.loads(r.fields),
                        "source": r.source, "schema_id": r.schema_id} for r in rows}

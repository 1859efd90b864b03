"""A mid is unique within a site only: one site cannot suppress another's events.

Site B's event with a mid site A already used is stored; events sent without a mid get
the same derived mid on both sites and are stored on both; xAPI statement and Caliper
event ids are uuid5 of site name + ":" + mid, so two sites never share one.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from collector.core.mapping import MappingContext
from collector.core.mapping.caliper import caliper_events
from collector.core.mapping.xapi import xapi_statement
from collector.ingest.pipeline import IngestResult, get_pipeline
from collector.outbound.export import ExportFilter, iter_caliper, iter_xapi
from collector.storage.engine import get_engine, session
from collector.storage.models import Event, Site
from collector.storage.sites import create_site, get_directory
from tests.conftest import ORIGIN
from tests.factories import event

LESSON = [{"type": "Course", "id": "c1"}, {"type": "Lesson", "id": "l1"}]


def _ingest(app: Flask, key: str, events: list[dict[str, Any]]) -> IngestResult:
    with app.app_context():
        site = get_directory().authenticate(key)
        assert site is not None
        return get_pipeline().ingest_events(site, [json.dumps(e).encode() for e in events],
                                            transport="http")


def _second_site(app: Flask) -> str:
    with session(app) as s:
        key = create_site(s, "other", [ORIGIN]).write_key
        s.commit()
    return key


def test_another_sites_mid_is_not_a_duplicate(any_app: Flask) -> None:
    key_a = any_app.config["TEST_SITE"].key
    key_b = _second_site(any_app)
    first = event("IMPRESSION", mid="shared-mid", actor="learner-a")
    assert _ingest(any_app, key_a, [first]).accepted == 1
    hostile = event("IMPRESSION", mid="shared-mid", actor="learner-b")
    result = _ingest(any_app, key_b, [hostile])
    assert (result.accepted, result.duplicates) == (1, 0)
    # Within a site a mid still dedupes.
    again = _ingest(any_app, key_b, [hostile])
    assert (again.accepted, again.duplicates) == (0, 1)
    with get_engine(any_app).connect() as conn:
        rows = conn.execute(select(Site.name, Event.actor_id).join(Site)
                            .where(Event.mid == "shared-mid").order_by(Site.name)).all()
    assert [tuple(r) for r in rows] == [("other", "learner-b"), ("test", "learner-a")]


def test_events_without_mid_dedupe_per_site(any_app: Flask) -> None:
    key_a = any_app.config["TEST_SITE"].key
    key_b = _second_site(any_app)
    bare = event("INTERACT", ets=1_763_000_000_000)
    del bare["mid"]
    assert _ingest(any_app, key_a, [bare]).accepted == 1
    assert _ingest(any_app, key_a, [copy.deepcopy(bare)]).duplicates == 1
    assert _ingest(any_app, key_b, [copy.deepcopy(bare)]).accepted == 1


def test_statement_ids_differ_between_sites(any_app: Flask) -> None:
    key_a = any_app.config["TEST_SITE"].key
    key_b = _second_site(any_app)
    shared = event("ASSESS", mid="same-mid", cdata=LESSON)
    assert _ingest(any_app, key_a, [shared]).accepted == 1
    assert _ingest(any_app, key_b, [shared]).accepted == 1
    engine = get_engine(any_app)
    statements = [json.loads(s) for s in iter_xapi(engine, ExportFilter(), "http://x")]
    assert len(statements) == 2
    assert len({s["id"] for s in statements}) == 2
    envelopes = [json.loads(e) for e in iter_caliper(engine, ExportFilter(), "http://x")]
    caliper_ids = {ev["id"] for env in envelopes for ev in env["data"]}
    assert len(caliper_ids) == 2
    # The mappers themselves: same event, other site, other id; same site, same id.
    a, b = MappingContext(site="a"), MappingContext(site="b")
    assert xapi_statement(shared, a)["id"] != xapi_statement(shared, b)["id"]  # type: ignore[index]
    assert xapi_statement(shared, a) == xapi_statement(shared, MappingContext(site="a"))
    ca, cb = caliper_events(shared, a), caliper_events(shared, b)
    assert isinstance(ca, list) and isinstance(cb, list)
    assert ca[0]["id"] != cb[0]["id"]

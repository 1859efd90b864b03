"""The ingest pipeline against real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import msgspec
import pytest
from flask import Flask
from sqlalchemy import func, select

from collector.analytics.stats import collect_stats
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine
from collector.storage.models import (
    CourseStart,
    DuplicateReceipt,
    Event,
    RejectedEvent,
    SessionLink,
)
from collector.storage.sites import get_directory
from tests.factories import course_start, event, lesson_event


def ingest(app: Flask, events: list[object], transport: str = "http") -> dict[str, object]:
    site = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert site is not None
    body = msgspec.json.encode({"id": "b1", "events": events})
    return get_pipeline(app).ingest_body(site, body, transport=transport).ack()


def scalar(app: Flask, stmt: object) -> object:
    with get_engine(app).connect() as conn:
        return conn.execute(stmt).scalar()  # type: ignore[call-overload]


def rows(app: Flask, *columns: object) -> list[tuple[object, ...]]:
    with get_engine(app).connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(Event.id))]  # type: ignore[call-overload]


def test_valid_siblings_of_bad_events_are_stored_and_bad_ones_quarantined(any_app: Flask) -> None:
    good1, good2 = event("IMPRESSION"), event("INTERACT")
    bad = event("IMPRESSION", edata={"type": "view"})
    ack = ingest(any_app, [good1, bad, 42, good2])
    assert ack["accepted"] == 2 and ack["duplicates"] == 0
    rejected = ack["rejected"]
    assert [r["index"] for r in rejected] == [1, 2]  # type: ignore[index]
    assert rejected[0]["mid"] == bad["mid"]  # type: ignore[index]
    assert "edata.pageid: required" in rejected[0]["errors"]  # type: ignore[index]
    assert rows(any_app, Event.mid) == [(good1["mid"],), (good2["mid"],)]
    with get_engine(any_app).connect() as conn:
        quarantined = conn.execute(select(RejectedEvent).order_by(RejectedEvent.id)).all()
    assert len(quarantined) == 2
    assert json.loads(quarantined[0].payload)["mid"] == bad["mid"]
    assert "edata.uri: required" in json.loads(quarantined[0].reasons)
    assert quarantined[1].payload == "42" and quarantined[1].batch_index == 2


def test_the_received_bytes_are_stored(any_app: Flask) -> None:
    raw = b'{"eid":"IMPRESSION","ets":1763000000000,"ver":"3.0","mid":"m-raw",' \
          b'"actor":{"id":"u","type":"User"},"context":{"channel":"c","env":"e","sid":"s"},' \
          b'"edata":{"type":"view","pageid":"p","uri":"/x","extra":{"k":[1,2]}},  "z": 1}'
    site = get_directory(any_app).authenticate(any_app.config["TEST_SITE"].key)
    assert site is not None
    get_pipeline(any_app).ingest_events(site, [raw], transport="http")
    assert rows(any_app, Event.payload) == [(raw.decode(),)]


def test_mid_dedupe_within_a_batch_and_across_batches(any_app: Flask) -> None:
    ev = event("IMPRESSION", mid="same-mid")
    ack = ingest(any_app, [ev, ev, event("IMPRESSION", mid="same-mid", actor="other")])
    assert (ack["accepted"], ack["duplicates"]) == (1, 2)
    ack = ingest(any_app, [ev])
    assert (ack["accepted"], ack["duplicates"]) == (0, 1)
    assert scalar(any_app, select(func.count()).select_from(Event)) == 1
    assert scalar(any_app, select(func.count()).select_from(DuplicateReceipt)) == 3


def test_event_without_mid_dedupes_on_retry(any_app: Flask) -> None:
    ev = event("IMPRESSION", ets=1_763_000_000_000)
    del ev["mid"]
    assert ingest(any_app, [ev])["accepted"] == 1
    assert ingest(any_app, [ev])["duplicates"] == 1
    (mid,), = rows(any_app, Event.mid)
    assert str(mid).startswith("IMPRESSION:")


def test_warnings_are_stored_on_the_event(any_app: Flask) -> None:
    ingest(any_app, [event("IMPRESSION", ets=1_763_000_000, sid="")])
    (warnings, ets, sid), = rows(any_app, Event.warnings, Event.ets, Event.sid)
    assert ets == 1_763_000_000_000 and sid is None
    assert any("looks like seconds" in w for w in json.loads(str(warnings)))


def test_columns_derived_for_dashboards(any_app: Flask) -> None:
    ev = lesson_event("IMPRESSION", course="algebra", lesson="l2", sid="s9", actor="ada")
    ingest(any_app, [ev])
    got = rows(any_app, Event.eid, Event.name, Event.sid, Event.chain_id, Event.actor_id,
               Event.course_id, Event.lesson_id, Event.page_id, Event.uri, Event.edata_type)
    assert got == [("IMPRESSION", "IMPRESSION", "s9", "s9", "ada", "algebra", "l2", "home",
                    "/home", "view")]


def test_session_chain_follows_previous_session(any_app: Flask) -> None:
    ingest(any_app, [event("IMPRESSION", sid="tab-1")])
    ingest(any_app, [event("IMPRESSION", sid="lms-2",
                           cdata=[{"type": "PreviousSession", "id": "tab-1"}])])
    ingest(any_app, [event("IMPRESSION", sid="lms-3",
                           cdata=[{"type": "PreviousSession", "id": "lms-2"}])])
    assert [r[0] for r in rows(any_app, Event.chain_id)] == ["tab-1", "tab-1", "tab-1"]
    assert scalar(any_app, select(func.count()).select_from(SessionLink)) == 3


def test_chain_link_to_an_unseen_previous_session(any_app: Flask) -> None:
    ingest(any_app, [event("IMPRESSION", sid="new",
                           cdata=[{"type": "PreviousSession", "id": "never-seen"}])])
    assert rows(any_app, Event.chain_id) == [("never-seen",)]


def test_course_start_dedupe_by_session_chain(any_app: Flask) -> None:
    first = course_start("algebra", sid="tab-1", actor="ada")
    reload = course_start("algebra", sid="tab-1", actor="ada")
    handoff = course_start("algebra", sid="lms-2", actor="ada",
                           cdata=[{"type": "PreviousSession", "id": "tab-1"}])
    other_course = course_start("geometry", sid="tab-1", actor="ada")
    other_learner = course_start("algebra", sid="tab-1", actor="bob")
    new_session = course_start("algebra", sid="tab-9", actor="ada")
    ingest(any_app, [first, reload])
    ingest(any_app, [handoff, other_course, other_learner, new_session])
    flags = dict(rows(any_app, Event.mid, Event.duplicate_of))
    assert flags[first["mid"]] is None
    assert flags[reload["mid"]] == first["mid"]
    assert flags[handoff["mid"]] == first["mid"]
    assert flags[other_course["mid"]] is None
    assert flags[other_learner["mid"]] is None
    assert flags[new_session["mid"]] is None
    assert scalar(any_app, select(func.count()).select_from(CourseStart)) == 4


def test_retried_canonical_course_start_is_a_duplicate_not_a_flag(any_app: Flask) -> None:
    first = course_start("algebra", sid="tab-1")
    ingest(any_app, [first])
    ack = ingest(any_app, [first])
    assert (ack["accepted"], ack["duplicates"]) == (0, 1)
    assert rows(any_app, Event.duplicate_of) == [(None,)]


def test_chain_roots_survive_a_restart(any_app: Flask) -> None:
    from collector.app import create_app, shutdown

    ingest(any_app, [course_start("algebra", sid="tab-1", actor="ada")])
    # A second app (a restarted process: empty caches) resolves the chain from the database.
    url = any_app.config["DATABASE_URL"]
    second = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "RATE_LIMIT": 0})
    second.config["TEST_SITE"] = any_app.config["TEST_SITE"]
    try:
        ack = ingest(second, [course_start("algebra", sid="lms-2", actor="ada",
                                           cdata=[{"type": "PreviousSession", "id": "tab-1"}])])
        assert ack["accepted"] == 1
        flags = [r[0] for r in rows(second, Event.duplicate_of)]
        assert flags[0] is None and flags[1] is not None
    finally:
        shutdown(second)


def test_unusable_body_is_quarantined_whole(any_app: Flask) -> None:
    from collector.core.events.envelope import EnvelopeError

    site = get_directory(any_app).authenticate(any_app.config["TEST_SITE"].key)
    assert site is not None
    with pytest.raises(EnvelopeError):
        get_pipeline(any_app).ingest_body(site, b"\x00\xffnot json", transport="http")
    with get_engine(any_app).connect() as conn:
        row = conn.execute(select(RejectedEvent)).one()
    assert row.batch_index is None and row.transport == "http"
    assert json.loads(row.reasons)[0].startswith("body is not valid JSON")
    assert "\x00" not in row.payload


def test_stats_counts(any_app: Flask) -> None:
    ev = event("IMPRESSION", sid="a")
    ingest(any_app, [ev, ev, event("IMPRESSION", sid="b"), {"eid": "X"}])
    stats = collect_stats(get_engine(any_app))
    assert {k: stats[k] for k in ("events", "rejected", "duplicates", "sessions")} == {
        "events": 2, "rejected": 1, "duplicates": 1, "sessions": 2}


def test_all_17_eids_store(any_app: Flask) -> None:
    from tests.factories import EIDS

    ack = ingest(any_app, [event(eid) for eid in EIDS])
    assert ack["accepted"] == 17 and ack["rejected"] == []

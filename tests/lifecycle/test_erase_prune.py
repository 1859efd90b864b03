"""Erasure and retention leave every dashboard and course table as if the remaining
events alone had been ingested.

The check: one site receives all the traffic and then loses a learner (or its old
events); a second site of the same database receives only what remains, in the same
batches. Every table ingest keeps, and the course reports read from them, must then
be equal between the two sites.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import Connection, func, select

from collector.analytics import timeline
from collector.analytics.courses import course_progress
from collector.analytics.items import item_analysis
from collector.analytics.learners import learner_table
from collector.ingest.pipeline import get_pipeline
from collector.lifecycle.erase import AmbiguousLearner, erase_learner
from collector.lifecycle.prune import prune_events
from collector.storage.engine import get_engine, session
from collector.storage.models import (
    COURSE_STARTS,
    DASH_KEY_HOURS,
    DASH_KEYS,
    DASH_MINUTES,
    DASH_REJECT_REASONS,
    DASH_SESSIONS,
    DASH_WARNINGS,
    EVENT_NAMES,
    EVENTS,
    LEARN_ANSWERS,
    LEARN_ATTEMPTS,
    LEARN_COURSES,
    LEARN_DURATIONS,
    LEARN_ITEMS,
    LEARN_LESSON_STATS,
    LEARN_LESSONS,
    LEARN_PROGRESS,
    OUTBOX,
    REJECTED_EVENTS,
    SESSION_LINKS,
    SITES,
)
from collector.storage.sites import create_site, get_directory
from tests.analytics.conftest import T0, answer, end_course, lesson, start_course
from tests.conftest import ORIGIN
from tests.factories import event

Batches = list[list[dict[str, Any]]]
COURSES = ("c1", "c2")
ITEMS = {"q1": 1, "q2": 2, "q3": 4}


def traffic(seed: int) -> dict[str, Batches]:
    """Per learner, batches in client-time order: course starts (one repeated), lessons,
    quiz answers with retries and partial credit, clicks and views, an event with a
    warning, and an invalid event (quarantined)."""
    rng = random.Random(seed)
    out: dict[str, Batches] = {}
    for n in range(6):
        actor = f"learner-{n}"
        course = COURSES[n % 2]
        ets = T0 + n * 1000
        events: list[dict[str, Any]] = [start_course(course, actor, ets),
                                        start_course(course, actor, ets + 1)]  # repeated
        for step, name in enumerate(("l1", "l2")):
            at = ets + 100_000 * (step + 1)
            events.append(lesson("START", course, name, actor, at))
            events.append(event("IMPRESSION", sid=f"s-{actor}", actor=actor, ets=at + 5,
                                edata={"type": "view", "pageid": name, "uri": f"/{name}?x=1"},
                                cdata=[{"type": "Course", "id": course}]))
            for k, (item, maxscore) in enumerate(ITEMS.items()):
                for retry in range(rng.randint(1, 2)):
                    at += rng.randint(1_000, 400_000)
                    events.append(answer(course, name, f"{name}-{item}", actor, at,
                                         score=rng.randint(0, maxscore), maxscore=maxscore,
                                         response=rng.choice("abc"), duration=k + retry))
            events.append(event("INTERACT", sid=f"s-{actor}", actor=actor, ets=at + 7,
                                edata={"type": "CLICK", "id": "next", "pageid": name}))
            events.append(lesson("END", course, name, actor, at + 9, duration=rng.randint(5, 50)))
        # An ASSESS without a lesson is stored with a warning.
        events.append(answer(course, None, "final", actor, ets + 900_000, score=1))
        if n % 3 == 0:
            events.append(end_course(course, actor, ets + 950_000))
        bad = event("IMPRESSION", sid=f"s-{actor}", actor=actor, ets=ets + 960_000)
        del bad["eid"]  # refused: kept in quarantine with its reasons
        events.append(bad)
        # In time order: active time kept at ingest is exact for events that arrive in
        # order, and a rebuilt learner gets the exact figure.
        events.sort(key=lambda e: e["ets"])
        out[actor] = [events[i:i + 7] for i in range(0, len(events), 7)]
    return out


def _site(app: Flask, name: str) -> str:
    with app.app_context(), session(app) as s:
        site = create_site(s, name, [ORIGIN])
        s.commit()
        return site.write_key


def send(app: Flask, key: str, batches: Batches) -> None:
    with app.app_context():
        site = get_directory().authenticate(key)
        assert site is not None
        for batch in batches:
            get_pipeline().ingest_events(site, [msgspec.json.encode(e) for e in batch],
                                         transport="test")


def _rows(conn: Connection, table: Any, site_id: int, drop: tuple[str, ...] = ()
          ) -> list[tuple[Any, ...]]:
    columns = [c for c in table.columns if c.name != "site_id" and c.name not in drop]
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                  for row in conn.execute(select(*columns).where(table.c.site_id == site_id)))


def snapshot(app: Flask, site_name: str) -> dict[str, Any]:
    """Everything ingest keeps for a site, without ids and server times."""
    with get_engine(app).connect() as conn:
        site_id = conn.scalar(select(SITES.c.id).where(SITES.c.name == site_name))
        fp = dict(conn.execute(select(DASH_KEYS.c.id, DASH_KEYS.c.fingerprint)
                               .where(DASH_KEYS.c.site_id == site_id)).all())
        m = DASH_MINUTES.c
        key_hours: dict[str, int] = {}
        for key_id, n in conn.execute(select(DASH_KEY_HOURS.c.key_id, DASH_KEY_HOURS.c.events)
                                      .where(DASH_KEY_HOURS.c.site_id == site_id)):
            key_hours[fp[key_id]] = key_hours.get(fp[key_id], 0) + n
        sessions = {}
        s = DASH_SESSIONS.c
        for row in conn.execute(select(s.session_id, s.actor_id, s.events, s.dup_starts,
                                       s.first_ets, s.last_ets, s.timeline)
                                .where(s.site_id == site_id)):
            words = timeline.decode(bytes(row.timeline))
            tokens = sorted(zip(timeline.all_ets(words),
                                [fp[k] for k in timeline.key_ids(words)], strict=True))
            sessions[(row.session_id, row.actor_id)] = (
                row.events, row.dup_starts, row.first_ets, row.last_ets, tokens)

        def summed(table: Any, key: str, value: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for k, v in conn.execute(select(table.c[key], table.c[value])
                                     .where(table.c.site_id == site_id)):
                out[k] = out.get(k, 0) + v
            return out

        reports = {}
        for course in COURSES:
            reports[course] = json.loads(json.dumps({
                "course": {k: v for k, v in dataclasses.asdict(
                    course_progress(conn, site_id, course)).items() if k != "site_id"},
                "items": [dataclasses.asdict(i) for i in item_analysis(conn, site_id, course)],
                "learners": [dataclasses.asdict(r) for r in learner_table(
                    conn, site_id, course, now_ms=T0 + 10**9)],
            }), parse_float=lambda v: round(float(v), 9))
        return {
            "events": conn.scalar(select(func.count()).select_from(EVENTS)
                                  .where(EVENTS.c.site_id == site_id)),
            "quarantined": conn.scalar(select(func.count()).select_from(REJECTED_EVENTS)
                                       .where(REJECTED_EVENTS.c.site_id == site_id)),
            "minutes": [conn.scalar(select(func.coalesce(func.sum(c), 0))
                                    .where(m.site_id == site_id))
                        for c in (m.events, m.course_starts, m.course_ends, m.rejected)],
            "key_hours": key_hours,
            "sessions": sessions,
            "reasons": summed(DASH_REJECT_REASONS, "reason", "events"),
            "warnings": summed(DASH_WARNINGS, "warning", "events"),
            "names": _rows(conn, EVENT_NAMES, site_id,
                           ("first_seen", "last_seen", "example", "last_warnings")),
            "links": sorted(conn.execute(select(SESSION_LINKS.c.sid)
                                         .where(SESSION_LINKS.c.site_id == site_id)).scalars()),
            "progress": _rows(conn, LEARN_PROGRESS, site_id),
            "attempts": _rows(conn, LEARN_ATTEMPTS, site_id, ("mid",)),
            "lessons": _rows(conn, LEARN_LESSONS, site_id),
            "courses": _rows(conn, LEARN_COURSES, site_id),
            "lesson_stats": _rows(conn, LEARN_LESSON_STATS, site_id),
            "items": _rows(conn, LEARN_ITEMS, site_id),
            "answers": _rows(conn, LEARN_ANSWERS, site_id),
            "durations": _rows(conn, LEARN_DURATIONS, site_id),
            "reports": reports,
        }


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in want:
        assert got[key] == want[key], key


@pytest.fixture
def two_sites(any_app: Flask) -> tuple[Flask, str, str]:
    return any_app, any_app.config["TEST_SITE"].key, _site(any_app, "mirror")


def test_erase_leaves_every_table_as_without_the_learner(
        two_sites: tuple[Flask, str, str]) -> None:
    app, full, mirror = two_sites
    per_learner = traffic(1)
    gone = "learner-2"
    for actor, batches in per_learner.items():
        send(app, full, batches)
        if actor != gone:
            send(app, mirror, batches)
    before = snapshot(app, "test")
    assert before["events"] > snapshot(app, "mirror")["events"]

    done = erase_learner(get_engine(app), gone)

    assert done.site == "test"
    removed = done.removed
    assert removed.events == sum(len(b) for b in per_learner[gone]) - 1  # one refused
    assert (removed.quarantined, removed.learners_rebuilt, removed.sessions) == (1, 1, 1)
    assert removed.course_starts == 1 and removed.session_links == 1
    assert_same(snapshot(app, "test"), snapshot(app, "mirror"))
    with get_engine(app).connect() as conn:  # nothing keyed by the learner is left
        for table in (EVENTS, DASH_SESSIONS, COURSE_STARTS, LEARN_PROGRESS, LEARN_ATTEMPTS,
                      LEARN_LESSONS):
            assert conn.scalar(select(func.count()).select_from(table).where(
                table.c.actor_id == gone)) == 0, table.name
        payloads = conn.execute(select(REJECTED_EVENTS.c.payload)).scalars().all()
        assert payloads and not any(gone in p for p in payloads)
        examples = conn.execute(select(EVENT_NAMES.c.example)).scalars().all()
        assert not any(gone in (x or "") for x in examples)


def test_erase_an_unknown_learner_is_not_an_error_and_changes_nothing(
        two_sites: tuple[Flask, str, str]) -> None:
    app, full, _ = two_sites
    send(app, full, traffic(2)["learner-0"])
    before = snapshot(app, "test")
    done = erase_learner(get_engine(app), "nobody")
    assert done.site is None and done.removed.events == 0
    assert_same(snapshot(app, "test"), before)


def test_erase_refuses_a_learner_of_several_sites_without_site(
        two_sites: tuple[Flask, str, str]) -> None:
    app, full, mirror = two_sites
    batches = traffic(3)["learner-1"]
    send(app, full, batches)
    send(app, mirror, batches)
    with pytest.raises(AmbiguousLearner, match="mirror, test"):
        erase_learner(get_engine(app), "learner-1")
    done = erase_learner(get_engine(app), "learner-1", "mirror")
    assert done.site == "mirror"
    with get_engine(app).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(EVENTS).where(
            EVENTS.c.actor_id == "learner-1")) == sum(len(b) for b in batches) - 1


@pytest.mark.parametrize("batch", [7, 5000])
def test_prune_leaves_every_table_as_with_only_the_newer_events(
        two_sites: tuple[Flask, str, str], batch: int) -> None:
    app, full, mirror = two_sites
    cutoff = T0 + 350_000  # after every course start, amid the lessons and answers
    for batches in traffic(4).values():
        send(app, full, batches)
        send(app, mirror, [kept for kept in ([e for e in b if e["ets"] >= cutoff]
                                             for b in batches) if kept])
    with get_engine(app).connect() as conn:
        old = conn.scalar(select(func.count()).select_from(EVENTS).where(
            EVENTS.c.ets < cutoff, EVENTS.c.site_id == conn.scalar(
                select(SITES.c.id).where(SITES.c.name == "test"))))
    assert old

    dry = prune_events(get_engine(app), cutoff, site="test", dry_run=True)
    assert [(s.site, s.events, s.quarantined) for s in dry.sites] == [("test", old, 0)]
    assert snapshot(app, "test")["events"] > snapshot(app, "mirror")["events"]

    done = prune_events(get_engine(app), cutoff, site="test", batch=batch)

    assert done.removed.events == old
    got, want = snapshot(app, "test"), snapshot(app, "mirror")
    # Pruning keeps the course-start keys (a resent old start stays a repeat); the
    # mirror never saw those starts. Everything else is as if ingested without them.
    assert_same(got, want)


def test_erase_and_prune_remove_the_outbox_rows_of_their_events(
        make_app: Callable[..., Flask], sqlite_url: str) -> None:
    app = make_app(sqlite_url, LRS_URL="http://127.0.0.1:9/xapi")  # queued, never sent
    per_learner = traffic(8)
    for batches in per_learner.values():
        send(app, app.config["TEST_SITE"].key, batches)

    def queued() -> set[str]:
        with get_engine(app).connect() as conn:
            return set(conn.execute(select(OUTBOX.c.mid)).scalars())

    def mids(**where: Any) -> set[str]:
        with get_engine(app).connect() as conn:
            return set(conn.execute(select(EVENTS.c.mid).where(
                *(EVENTS.c[k] == v for k, v in where.items()))).scalars())

    gone = mids(actor_id="learner-4")
    had = gone & queued()
    assert had
    done = erase_learner(get_engine(app), "learner-4")
    assert done.removed.outbox == len(had)
    assert not gone & queued()
    before = queued()
    pruned = prune_events(get_engine(app), T0 + 300_000)
    assert pruned.removed.outbox > 0
    assert queued() == before & mids()  # only the rows of events that remain

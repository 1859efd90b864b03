"""The learning tables kept group by group: a group that changes none of a learner's
lessons or answers writes no lesson or answer row, and after many small commits the
stored per-learner and per-lesson values still equal an independent computation."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from collector.analytics import learning_tables
from collector.analytics.courses import course_progress
from collector.analytics.items import item_analysis
from collector.storage.engine import get_engine
from collector.storage.models import LEARN_LESSONS, LEARN_PROGRESS
from tests.analytics.conftest import T0, answer, lesson, start_course
from tests.factories import lesson_event

Store = Callable[[list[dict[str, Any]]], Any]
LESSONS = ("l1", "l2", "l3")
ITEMS = {"q1": 1, "q2": 2, "q3": 1}


class _Recorder:
    """Stands in for an upsert: counts the rows it is given, then writes them."""

    def __init__(self, real: Any) -> None:
        self.real, self.rows = real, 0

    def execute(self, conn: Any, rows: list[Any]) -> None:
        self.rows += len(rows)
        self.real.execute(conn, rows)

    def execute_tuples(self, conn: Any, columns: Any, rows: list[Any]) -> None:
        self.rows += len(rows)
        self.real.execute_tuples(conn, columns, rows)


def click(course: str, name: str, actor: str, ets: int) -> dict[str, Any]:
    return lesson_event("INTERACT", course=course, lesson=name, sid=f"s-{actor}",
                        actor=actor, ets=ets, edata={"type": "CLICK", "id": "next"})


def test_ordinary_events_in_a_known_lesson_write_no_lesson_row(
        any_app: Flask, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    lessons = _Recorder(learning_tables.LESSON_UPSERT)
    attempts = _Recorder(learning_tables.ATTEMPT_UPSERT)
    monkeypatch.setattr(learning_tables, "LESSON_UPSERT", lessons)
    monkeypatch.setattr(learning_tables, "ATTEMPT_UPSERT", attempts)
    store([start_course("c", "a", T0), lesson("START", "c", "l1", "a", T0 + 1)])
    store([answer("c", "l1", "q1", "a", T0 + 2, score=1)])
    assert (lessons.rows, attempts.rows) == (1, 1)
    for k in range(5):  # later clicks in the known lesson, one commit each
        store([click("c", "l1", "a", T0 + 10 + k)])
    assert (lessons.rows, attempts.rows) == (1, 1)
    store([click("c", "l1", "a", T0 - 5)])  # earlier than the lesson's first event
    store([lesson("END", "c", "l1", "a", T0 + 100, duration=7)])
    assert (lessons.rows, attempts.rows) == (3, 1)
    with get_engine(any_app).connect() as conn:
        (row,) = conn.execute(select(LEARN_LESSONS.c.first_ets, LEARN_LESSONS.c.started_ets,
                                     LEARN_LESSONS.c.completed_ets))
        progress = conn.execute(select(LEARN_PROGRESS.c.events, LEARN_PROGRESS.c.score,
                                       LEARN_PROGRESS.c.lessons_completed)).one()
    assert tuple(row) == (T0 - 5, T0 + 1, T0 + 100)
    assert tuple(progress) == (10, 1.0, 1)


def generate(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(8):
        actor = f"a{n}"
        ets = T0 + n * 1_000_000
        events.append(start_course("c", actor, ets))
        for name in LESSONS:
            if rng.random() < 0.2:
                continue
            ets += rng.randint(10, 900)
            if rng.random() < 0.8:
                events.append(lesson("START", "c", name, actor, ets))
            for _ in range(rng.randint(1, 6)):
                ets += rng.randint(10, 900)
                if rng.random() < 0.4:
                    item = rng.choice(list(ITEMS))
                    score = rng.randint(0, ITEMS[item])
                    events.append(answer("c", name, item, actor, ets, score=score,
                                         maxscore=ITEMS[item], response=rng.choice("abc")))
                else:
                    events.append(click("c", name, actor, ets))
            if rng.random() < 0.6:
                ets += rng.randint(10, 900)
                events.append(lesson("END", "c", name, actor, ets,
                                     duration=rng.randint(1, 50)))
    return events


def expected(events: list[dict[str, Any]]) -> tuple[dict[str, tuple[float, int, int]],
                                                    dict[str, tuple[int, int, float | None]]]:
    """Per learner (score, lessons completed, fail streak); per lesson (started,
    completed, median seconds), from the raw events."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    ends: dict[tuple[str, str], dict[str, Any]] = {}
    starts: set[tuple[str, str]] = set()
    actors = set()
    for ev in events:
        actor = ev["actor"]["id"]
        actors.add(actor)
        cdata = {c["type"]: c["id"] for c in ev["context"]["cdata"]}
        key = (actor, cdata.get("Lesson", ""))
        if ev["eid"] == "ASSESS":
            item = (actor, ev["edata"]["item"]["id"])
            if item not in first or (ev["ets"], ev["mid"]) < (first[item]["ets"],
                                                               first[item]["mid"]):
                first[item] = ev
        elif ev["edata"].get("type") == "lesson" and ev["eid"] == "START":
            starts.add(key)
        elif ev["edata"].get("type") == "lesson" and ev["eid"] == "END":
            if key not in ends or ev["ets"] < ends[key]["ets"]:
                ends[key] = ev
    learners: dict[str, tuple[float, int, int]] = {}
    for actor in actors:
        mine = sorted((ev for (a, _), ev in first.items() if a == actor),
                      key=lambda ev: (ev["ets"], ev["mid"]), reverse=True)
        score = sum(ev["edata"]["score"] / ev["edata"]["item"]["maxscore"] for ev in mine)
        streak = 0
        for ev in mine:
            if ev["edata"]["pass"] != "No":
                break
            streak += 1
        learners[actor] = (score, sum(1 for a, _ in ends if a == actor), streak)
    per_lesson: dict[str, tuple[int, int, float | None]] = {}
    for name in LESSONS:
        done = [ev["edata"]["duration"] for (_, le), ev in ends.items() if le == name]
        per_lesson[name] = (sum(1 for _, le in starts if le == name), len(done),
                            statistics.median(done) if done else None)
    return learners, per_lesson


@pytest.mark.parametrize("seed", [1, 2])
def test_many_small_commits_equal_the_independent_computation(
        any_app: Flask, store: Store, seed: int) -> None:
    events = generate(seed)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    for i in range(0, len(shuffled), 3):
        store(shuffled[i:i + 3])
    learners, per_lesson = expected(events)
    p = LEARN_PROGRESS.c
    with get_engine(any_app).connect() as conn:
        stored = {r.actor_id: (r.score, r.lessons_completed, r.fail_streak)
                  for r in conn.execute(select(p.actor_id, p.score, p.lessons_completed,
                                               p.fail_streak))}
        course = course_progress(conn, 1, "c").contract()
        items = item_analysis(conn, 1, "c")
    assert stored.keys() == learners.keys()
    for actor, (score, completed, streak) in learners.items():
        assert stored[actor][0] == pytest.approx(score, abs=1e-12), actor
        assert stored[actor][1:] == (completed, streak), actor
    got = {le["id"]: (le["started"], le["completed"], le["median_seconds"])
           for le in course["lessons"]}
    assert got == {name: v for name, v in per_lesson.items() if name in got}
    assert set(got) == {name for name in LESSONS
                        if any(ev["context"]["cdata"][-1]["id"] == name for ev in events)}
    assert {i.id for i in items} <= set(ITEMS)

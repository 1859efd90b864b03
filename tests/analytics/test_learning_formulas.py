"""Item analysis, course and learner reports against an independent computation.

The answers are generated with a known structure (ability-driven scores, retries,
partial credit, an item id shared by two courses, ties in time, unscored attempts),
stored through the real pipeline in shuffled arrival order with repeated deliveries,
and compared with ``statistics`` applied to the raw generated answers.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from collector.analytics.courses import course_progress
from collector.analytics.items import ItemStats, item_analysis
from collector.analytics.learners import AtRiskRule, learner_table
from collector.storage.engine import get_engine
from tests.analytics.conftest import T0, answer, end_course, lesson, start_course
from tests.factories import event

Store = Callable[[list[dict[str, Any]]], Any]
ITEMS = {"q1": 1, "q2": 1, "q3": 3, "q4": 2}  # item -> maxscore (partial credit > 1)


def generate(seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events to send, the attempts they carry as plain records)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for n in range(14):
        actor = f"learner-{n:02d}"
        ability = n / 13
        t = T0 + n * 1000
        events.append(start_course("algebra", actor, t))
        for k, (item, maxscore) in enumerate(ITEMS.items()):
            tries = 1 + rng.randrange(3)  # retries: only the first by ets counts
            for attempt in range(tries):
                ets = t + 10_000 * (k + 1) + attempt * 3_000
                score = min(maxscore, round(ability * maxscore + rng.uniform(-1, 1)))
                score = max(0, score) if attempt == 0 else maxscore  # retries succeed
                rec = {"course": "algebra", "item": item, "actor": actor, "ets": ets,
                       "score": score, "maxscore": maxscore, "mid": f"m-{actor}-{item}-{attempt}",
                       "duration": rng.randrange(5, 60), "response": rng.choice("abcd")}
                records.append(rec)
        # Same item id in another course, with opposite scores: must never mix.
        records.append({"course": "geometry", "item": "q1", "actor": actor, "ets": t + 5,
                        "score": 1 - (1 if ability > 0.5 else 0), "maxscore": 1,
                        "mid": f"g-{actor}", "duration": 3, "response": "z"})
        if n % 3 == 0:
            events.append(end_course("algebra", actor, t + 200_000 + n * 1000))
    # A tie in time: the smaller mid is the first attempt.
    records.append({"course": "algebra", "item": "q2", "actor": "learner-05",
                    "ets": T0 + 5 * 1000 + 20_000, "score": 1, "maxscore": 1,
                    "mid": "m-learner-05-q2-/", "duration": 1, "response": "tie"})
    # An attempt without maxscore: counted in attempts, no fraction (it is a retry).
    records.append({"course": "algebra", "item": "q1", "actor": "learner-01",
                    "ets": T0 + 1000 + 90_000, "score": 1, "maxscore": None,
                    "mid": "m-unscored", "duration": 2, "response": "a"})
    for rec in records:
        events.append(answer(rec["course"], "l1", rec["item"], rec["actor"], rec["ets"],
                             score=rec["score"], maxscore=rec["maxscore"],
                             response=rec["response"], duration=rec["duration"],
                             mid=rec["mid"]))
    return events, records


def expected_items(records: list[dict[str, Any]], course: str) -> dict[str, dict[str, Any]]:
    """Independent computation with the statistics module."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    attempts: dict[str, int] = {}
    for rec in records:
        if rec["course"] != course:
            continue
        attempts[rec["item"]] = attempts.get(rec["item"], 0) + 1
        key = (rec["item"], rec["actor"])
        if key not in first or (rec["ets"], rec["mid"]) < (first[key]["ets"], first[key]["mid"]):
            first[key] = rec

    def frac(rec: dict[str, Any]) -> float | None:
        m = rec["maxscore"]
        return rec["score"] / m if m else None

    totals: dict[str, float] = {}
    for rec in first.values():
        totals[rec["actor"]] = totals.get(rec["actor"], 0.0) + (frac(rec) or 0.0)
    out: dict[str, dict[str, Any]] = {}
    for item in sorted(attempts):
        firsts = [r for (i, _a), r in first.items() if i == item]
        xs = [frac(r) for r in firsts if frac(r) is not None]
        ys = [totals[r["actor"]] - frac(r) for r in firsts if frac(r) is not None]
        try:
            disc: float | None = statistics.correlation(xs, ys)
        except statistics.StatisticsError:  # fewer than two, or a constant side
            disc = None
        answers: dict[str, int] = {}
        for r in firsts:
            answers[r["response"]] = answers.get(r["response"], 0) + 1
        out[item] = {"learners": len(firsts), "attempts": attempts[item],
                     "facility": statistics.mean(xs) if xs else None,
                     "discrimination": disc,
                     "median_seconds": statistics.median(r["duration"] for r in firsts),
                     "answers": answers}
    return out


def by_id(items: list[ItemStats]) -> dict[str, ItemStats]:
    return {i.id: i for i in items}


def test_item_analysis_matches_statistics(any_app: Flask, store: Store) -> None:
    events, records = generate()
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)  # arrival order differs from time order
    for i in range(0, len(shuffled), 23):  # many groups: first attempts get replaced
        store(shuffled[i:i + 23])
    result = store(shuffled[:40])  # repeated deliveries are duplicates, not attempts
    assert result.accepted == 0 and result.duplicates == 40
    with get_engine(any_app).connect() as conn:
        site_id = 1
        for course in ("algebra", "geometry"):
            got = by_id(item_analysis(conn, site_id, course))
            want = expected_items(records, course)
            assert set(got) == set(want)
            for item, exp in want.items():
                g = got[item]
                assert g.learners == exp["learners"], item
                assert g.attempts == exp["attempts"], item
                assert g.facility == pytest.approx(exp["facility"], abs=1e-12), item
                if exp["discrimination"] is None:
                    assert g.discrimination is None, item
                else:
                    assert g.discrimination == pytest.approx(exp["discrimination"],
                                                             abs=1e-9), item
                assert g.median_seconds == pytest.approx(exp["median_seconds"]), item
                assert dict(g.answers) == exp["answers"], item
        algebra = by_id(item_analysis(conn, site_id, "algebra"))
    assert algebra["q1"].unscored_attempts == 1
    assert algebra["q2"].answers and ("tie", 1) in algebra["q2"].answers
    # Geometry's q1 is perfectly anti-aligned with nothing else: one item, rest is 0.
    assert algebra["q3"].facility is not None and 0 <= algebra["q3"].facility <= 1


def test_single_learner_has_no_discrimination(any_app: Flask, store: Store) -> None:
    store([answer("solo", "l1", "q1", "only", T0, score=1),
           answer("solo", "l1", "q2", "only", T0 + 1, score=0)])
    with get_engine(any_app).connect() as conn:
        items = item_analysis(conn, 1, "solo")
    assert [(i.id, i.learners, i.discrimination) for i in items] == [
        ("q1", 1, None), ("q2", 1, None)]
    assert items[0].contract()["discrimination"] is None


def test_unscored_and_out_of_range_scores(any_app: Flask, store: Store) -> None:
    store([answer("c", "l1", "q1", "a1", T0, score=1, maxscore=None),
           answer("c", "l1", "q1", "a2", T0, score=1, maxscore=0),
           answer("c", "l1", "q1", "a3", T0, score=5, maxscore=2),
           answer("c", "l1", "q1", "a4", T0, score=-1, maxscore=2)])
    with get_engine(any_app).connect() as conn:
        (item,) = item_analysis(conn, 1, "c")
    assert (item.learners, item.attempts, item.unscored_attempts) == (4, 4, 2)
    assert item.out_of_range == 2
    assert item.facility == pytest.approx((2.5 - 0.5) / 2)  # not clipped
    assert "score out of range" in item.contract()["flags"]


def test_flags_follow_the_thresholds() -> None:
    def flags(f: float | None, d: float | None) -> list[str]:
        return ItemStats("q", 10, 10, f, d, None, 0, 0).contract()["flags"]

    assert flags(0.1, 0.5) == ["hard"]
    assert flags(0.95, 0.5) == ["easy"]
    assert flags(0.5, 0.1) == ["does not discriminate"]
    assert flags(0.5, -0.3) == ["does not discriminate", "check the key"]
    assert flags(0.5, None) == []


def test_course_and_learner_reports(any_app: Flask, store: Store) -> None:
    day = 86_400_000
    events = []
    for n, actor in enumerate(["a", "b", "c", "d"]):
        t = T0 + n
        events.append(start_course("algebra", actor, t))
        events.append(lesson("START", "algebra", "intro", actor, t + 1000))
        if actor != "d":
            events.append(lesson("END", "algebra", "intro", actor, t + 61_000,
                                 duration=60 + n))
            events.append(lesson("START", "algebra", "practice", actor, t + 62_000))
        if actor in ("a", "b"):
            events.append(end_course("algebra", actor, t + 100_000 * (n + 1)))
    # c fails three first attempts in a row (the retry that passes does not count).
    for k in range(3):
        events.append(answer("algebra", "practice", f"q{k}", "c", T0 + 70_000 + k * 1000,
                             score=0, passed="No"))
    events.append(answer("algebra", "practice", "q0", "c", T0 + 90_000, score=1,
                         passed="Yes"))
    store(list(reversed(events)))
    with get_engine(any_app).connect() as conn:
        course = course_progress(conn, 1, "algebra").contract()
        rows = {r.id: r for r in learner_table(conn, 1, "algebra", now_ms=T0 + 10 * day,
                                                rule=AtRiskRule(idle_days=7,
                                                                failed_in_row=3))}
    assert course == {
        "course": "algebra", "learners": 4, "started": 4, "completed": 2,
        "completion_rate": 0.5,
        "median_seconds_to_complete": statistics.median([100.0, 200.0]),
        "lessons": [{"id": "intro", "started": 4, "completed": 3,
                     "median_seconds": 61.0},
                    {"id": "practice", "started": 3, "completed": 0,
                     "median_seconds": None}]}
    assert not rows["a"].at_risk and rows["a"].completed
    assert rows["d"].at_risk and rows["d"].reasons == [
        "no activity for 9 days (started, not completed; threshold 7 days)"]
    assert rows["c"].reasons[-1] == "latest 3 first attempts failed"
    assert rows["c"].score == 0.0
    assert rows["a"].lessons_completed == 1
    # a: start, lesson start (+1 s), lesson end (+60 s), next lesson (+1 s), course end
    # 100 s after the start (gap of 38 s): all under the idle cap, one session.
    assert rows["a"].active_seconds == pytest.approx(100.0)


def test_odd_answers_are_stored_and_never_fail_the_batch(any_app: Flask, store: Store) -> None:
    """Whatever a client puts in an ASSESS, the batch is stored and the reports cope."""
    odd: list[Any] = [
        {"item": {"id": "q1", "maxscore": -1}, "score": -5, "pass": "No",
         "resvalues": [{"a": [1, {"b": None}]}, {"c": "d", "e": 2}], "duration": -5},
        {"item": {"id": "q2", "maxscore": 1e308}, "score": 1e308, "pass": "Yes",
         "resvalues": [{"answer": "x" * 1000}], "duration": 1e308},
        {"item": {"id": "q3", "maxscore": 1e-308}, "score": 1e308, "pass": "No",
         "resvalues": [], "duration": 0},
        {"item": {"id": "q" * 256, "maxscore": 2}, "score": 3, "pass": "Yes",
         "resvalues": [{"answer": "=cmd|' /C calc'!A0"}], "duration": 1},
    ]
    events = [event("ASSESS", actor=f"a{i}", ets=T0 + i, edata=e,
                    cdata=[{"type": "Course", "id": "odd"}]) for i, e in enumerate(odd)]
    result = store(events)
    assert result.accepted == len(odd), result.rejected
    with get_engine(any_app).connect() as conn:
        items = [i.contract() for i in item_analysis(conn, 1, "odd")]
        learners = learner_table(conn, 1, "odd", now_ms=T0)
    assert len(items) == 4 and len(learners) == 4
    json.dumps(items, allow_nan=False)  # valid JSON: no NaN or Infinity leaks out
    assert {i["id"] for i in items} == {"q1", "q2", "q3", "q" * 256}


def test_an_answer_outside_any_lesson_counts_for_its_course(any_app: Flask,
                                                            store: Store) -> None:
    """Course membership is the cdata Course; the lesson is optional (Sunbird players)."""
    result = store([answer("c", None, "q1", "a1", T0, score=1),
                    answer("c", "l1", "q1", "a2", T0 + 1, score=0)])
    assert result.accepted == 2
    with get_engine(any_app).connect() as conn:
        (item,) = item_analysis(conn, 1, "c")
    assert (item.learners, item.facility) == (2, 0.5)

"""Deterministic traffic of one big course for the learning-analytics benchmark.

Each learner starts the course, works through the lessons in order (START, the lesson's
quiz answers with an occasional retry, END with its duration) and may drop out before
the next lesson; those who finish send a course END. Scores follow the learner's
ability against the item's difficulty, so item analysis has real structure.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from collector.bench.synthetic import lesson_event

COURSE = "bench-course"


def course_events(learners: int, *, lessons: int = 20, items: int = 40, seed: int = 11,
                  start_ms: int = 1_763_000_000_000) -> Iterator[dict[str, Any]]:
    """The events of ``learners`` learners in one course of ``lessons`` and ``items``."""
    rng = random.Random(seed)
    difficulty = [rng.uniform(-1.5, 1.5) for _ in range(items)]
    per_lesson = max(1, items // lessons)

    def event(eid: str, ets: int, sid: str, actor: str, lesson: str | None,
              edata: dict[str, Any], obj: dict[str, Any] | None = None) -> dict[str, Any]:
        return lesson_event(eid, ets, sid, actor, COURSE, lesson, edata, obj, rng,
                            env="course")

    for n in range(learners):
        actor = f"student-{n:05d}"
        sid = f"cs-{n}-{rng.getrandbits(32):08x}"
        ability = rng.gauss(0, 1)
        ets = start_ms + n * 5_000
        yield event("START", ets, sid, actor, None, {"type": "course"},
                    {"id": COURSE, "type": "Course"})
        finished = True
        for index in range(lessons):
            lesson = f"lesson-{index + 1:02d}"
            begun = ets = ets + rng.randint(1_000, 30_000)
            yield event("START", ets, sid, actor, lesson, {"type": "lesson", "mode": "play"},
                        {"id": lesson, "type": "Lesson"})
            for k in range(per_lesson):
                item_index = index * per_lesson + k
                if item_index >= items:
                    break
                item = f"item-{item_index + 1:02d}"
                tries = 2 if rng.random() < 0.2 else 1
                for attempt in range(tries):
                    ets += rng.randint(5_000, 60_000)
                    p = 1 / (1 + 2.718281828 ** (difficulty[item_index] - ability))
                    correct = attempt > 0 or rng.random() < p
                    yield event("ASSESS", ets, sid, actor, lesson, {
                        "item": {"id": item, "maxscore": 1}, "pass": "Yes" if correct else "No",
                        "score": 1 if correct else 0,
                        "resvalues": [{"answer": "a" if correct else rng.choice("bcd")}],
                        "duration": rng.randint(3, 90)})
            ets += rng.randint(2_000, 20_000)
            yield event("END", ets, sid, actor, lesson, {
                "type": "lesson", "mode": "play", "duration": (ets - begun) // 1000},
                {"id": lesson, "type": "Lesson"})
            if rng.random() < 0.02:
                finished = False
                break
        if finished:
            ets += rng.randint(1_000, 10_000)
            yield event("END", ets, sid, actor, None, {
                "type": "course", "mode": "play", "duration": (ets - start_ms - n * 5_000) // 1000},
                {"id": COURSE, "type": "Course"})

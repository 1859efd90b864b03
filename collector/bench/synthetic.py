"""Deterministic synthetic lesson traffic: realistic V3 events for benchmarks and tests."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

COURSES = ("algebra", "geometry", "statistics")
LESSONS = ("intro", "practice", "quiz", "review", "summary")
BLOCKS = ("video", "hint", "branch-a", "branch-b", "next")


def lesson_event(eid: str, ets: int, sid: str, actor: str, course: str, lesson: str | None,
                 edata: dict[str, Any], obj: dict[str, Any] | None, rng: random.Random,
                 env: str = "lesson") -> dict[str, Any]:
    """One V3 event of ``actor`` in ``course`` (and ``lesson``), with a random mid."""
    cdata = [{"type": "Course", "id": course}]
    if lesson:
        cdata.append({"type": "Lesson", "id": lesson})
    event: dict[str, Any] = {
        "eid": eid, "ets": ets, "ver": "3.0",
        "mid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": {"id": actor, "type": "User"},
        "context": {"channel": "bench", "env": env, "sid": sid, "did": "d-" + actor,
                    "pdata": {"id": "collector.bench", "ver": "1.0", "pid": "tracker"},
                    "cdata": cdata},
        "edata": edata, "tags": [],
    }
    if obj:
        event["object"] = obj
    return event


def session_events(rng: random.Random, start_ms: int, index: int,
                   length: int) -> Iterator[dict[str, Any]]:
    """One learner session: course start, lessons with page views, clicks and answers."""
    actor = f"learner-{index % 5000}"
    sid = f"s-{index}-{rng.getrandbits(32):08x}"
    course = rng.choice(COURSES)
    ets = start_ms
    yield lesson_event("START", ets, sid, actor, course, None, {"type": "course"},
                 {"id": course, "type": "Course"}, rng)
    produced = 1
    while produced < length:
        lesson = rng.choice(LESSONS)
        ets += rng.randint(500, 20_000)
        yield lesson_event("IMPRESSION", ets, sid, actor, course, lesson,
                     {"type": "view", "pageid": lesson, "uri": f"/course/{course}/{lesson}"},
                     None, rng)
        produced += 1
        for _ in range(rng.randint(1, 6)):
            if produced >= length:
                return
            ets += rng.randint(200, 10_000)
            if rng.random() < 0.25:
                check = f"q{rng.randint(1, 5)}"
                correct = rng.random() < 0.6
                yield lesson_event("ASSESS", ets, sid, actor, course, lesson, {
                    "item": {"id": check, "maxscore": 1}, "pass": "Yes" if correct else "No",
                    "score": 1 if correct else 0, "resvalues": [{"answer": rng.choice("abcd")}],
                    "duration": rng.randint(2, 60)}, None, rng)
            else:
                yield lesson_event("INTERACT", ets, sid, actor, course, lesson, {
                    "type": "CLICK", "id": rng.choice(BLOCKS), "pageid": lesson}, None, rng)
            produced += 1


def synthetic_events(count: int, *, seed: int = 7, start_ms: int = 1_763_000_000_000,
                     session_length: int = 40) -> Iterator[dict[str, Any]]:
    """``count`` events in sessions of about ``session_length`` events."""
    rng = random.Random(seed)
    produced = 0
    index = 0
    while produced < count:
        length = min(count - produced, max(2, int(rng.gauss(session_length, 8))))
        yield from session_events(rng, start_ms + index * 1_000, index, length)
        produced += length
        index += 1

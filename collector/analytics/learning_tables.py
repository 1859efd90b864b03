"""The persist hook that keeps the learning-analytics tables inside each ingest commit.

Course reports never rescan raw events. Per group of batches this hook writes one upsert
row per touched (course, item, learner) first attempt, (course, learner) progress and
(course, lesson, learner) progress, aggregated in Python first so the number of
statements does not grow with the number of events. Only events whose context names a
course (``cdata {type: "Course"}`` or a Course object) take part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import Connection, Table, and_, bindparam, case, func, literal, or_
from sqlalchemy.dialects import postgresql, sqlite

from collector.analytics.upserts import PreparedUpsert
from collector.core.events.validate import ValidEvent
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.models import LearnAttempt, LearnLesson, LearnProgress

ATTEMPTS: Table = LearnAttempt.__table__  # type: ignore[assignment]
PROGRESS: Table = LearnProgress.__table__  # type: ignore[assignment]
LESSONS: Table = LearnLesson.__table__  # type: ignore[assignment]

# Active time: the gap between two consecutive events of a learner's session chain in a
# course counts up to this many milliseconds; a longer gap counts as this much (idle).
IDLE_CAP_MS = 300_000
MAX_RESPONSE = 256


class _Edata(msgspec.Struct):
    item: Any = None
    score: Any = None
    passed: Any = msgspec.field(default=None, name="pass")
    resvalues: Any = None
    duration: Any = None


class _Envelope(msgspec.Struct):
    edata: _Edata | None = None


_DECODER = msgspec.json.Decoder(_Envelope)


def number(value: Any) -> float | None:
    """A finite JSON number as float; anything else (text, bool, null) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def response_text(resvalues: Any) -> str | None:
    """``resvalues`` as people read it: ``[{"answer": "b"}]`` -> ``b``."""
    if resvalues is None or resvalues == []:
        return None
    parts: list[str] = []
    if isinstance(resvalues, list):
        for value in resvalues:
            if isinstance(value, dict):
                parts.extend(v if isinstance(v, str) else msgspec.json.encode(v).decode()
                             for v in value.values())
            elif isinstance(value, str):
                parts.append(value)
            else:
                parts.append(msgspec.json.encode(value).decode())
        text = ", ".join(parts)
    elif isinstance(resvalues, str):
        text = resvalues
    else:
        text = msgspec.json.encode(resvalues).decode()
    return text[:MAX_RESPONSE]


def _edata(ev: ValidEvent) -> _Edata:
    try:
        env = _DECODER.decode(ev.raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _Edata()
    return env.edata or _Edata()


@dataclass(slots=True)
class _Attempt:
    ets: int
    mid: str
    lesson_id: str | None
    score: float | None
    maxscore: float | None
    passed: int | None
    duration: float | None
    response: str | None
    attempts: int = 1
    unscored: int = 0

    def earlier_than(self, other: _Attempt) -> bool:
        return (self.ets, self.mid) < (other.ets, other.mid)


@dataclass(slots=True)
class _Lesson:
    first_ets: int
    started: int | None = None
    completed: int | None = None
    duration: float | None = None


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def assess_attempt(ev: ValidEvent) -> tuple[str, _Attempt] | None:
    """(item id, attempt) of an ASSESS, or None when it names no item."""
    edata = _edata(ev)
    item = edata.item if isinstance(edata.item, dict) else {}
    item_id = item.get("id")
    if item_id is None or item_id == "":
        return None
    maxscore = number(item.get("maxscore"))
    passed_text = edata.passed.lower() if isinstance(edata.passed, str) else None
    attempt = _Attempt(
        ets=ev.ets, mid=ev.mid, lesson_id=ev.lesson_id, score=number(edata.score),
        maxscore=maxscore, passed={"yes": 1, "no": 0}.get(passed_text or ""),
        duration=number(edata.duration), response=response_text(edata.resvalues))
    attempt.unscored = 0 if maxscore is not None and maxscore > 0 else 1
    return str(item_id)[:256], attempt


class LearningTables:
    """``PersistHook`` keeping ``learn_attempts``, ``learn_progress`` and ``learn_lessons``."""

    def __call__(self, conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> None:
        attempts: dict[tuple[int, str, str, str], _Attempt] = {}
        lessons: dict[tuple[int, str, str, str], _Lesson] = {}
        timelines: dict[tuple[int, str, str], list[tuple[int, str, int, int]]] = {}
        for batch, outcome in zip(batches, outcomes, strict=True):
            site = batch.site_id
            for ev in outcome.stored:
                course = ev.course_id
                if not course:
                    continue
                eid = ev.eid
                kind = ev.edata_type if eid in ("START", "END") else None
                started = ev.ets if eid == "START" and kind == "course" else 0
                completed = ev.ets if eid == "END" and kind == "course" else 0
                timelines.setdefault((site, course, ev.actor_id), []).append(
                    (ev.ets, ev.chain_id or "", started, completed))
                if ev.lesson_id:
                    self._lesson(lessons, (site, course, ev.lesson_id, ev.actor_id), ev, kind)
                if eid == "ASSESS":
                    found = assess_attempt(ev)
                    if found is not None:
                        key = (site, course, found[0], ev.actor_id)
                        seen = attempts.get(key)
                        if seen is None:
                            attempts[key] = found[1]
                        else:
                            new = found[1]
                            new.attempts += seen.attempts
                            new.unscored += seen.unscored
                            if new.earlier_than(seen):
                                attempts[key] = new
                            else:
                                seen.attempts, seen.unscored = new.attempts, new.unscored
        if timelines:
            PROGRESS_UPSERT.execute(conn, _progress_rows(timelines))
        if lessons:
            LESSON_UPSERT.execute(conn, [
                {"site_id": k[0], "course_id": k[1], "lesson_id": k[2], "actor_id": k[3],
                 "first_ets": v.first_ets, "started_ets": v.started,
                 "completed_ets": v.completed, "duration": v.duration}
                for k, v in sorted(lessons.items())])
        if attempts:
            ATTEMPT_UPSERT.execute(conn, [
                {"site_id": k[0], "course_id": k[1], "item_id": k[2], "actor_id": k[3],
                 "ets": a.ets, "mid": a.mid, "lesson_id": a.lesson_id, "score": a.score,
                 "maxscore": a.maxscore, "passed": a.passed, "duration": a.duration,
                 "response": a.response, "attempts": a.attempts, "unscored": a.unscored}
                for k, a in sorted(attempts.items())])

    @staticmethod
    def _lesson(lessons: dict[tuple[int, str, str, str], _Lesson],
                key: tuple[int, str, str, str], ev: ValidEvent, kind: str | None) -> None:
        row = lessons.get(key)
        if row is None:
            row = lessons[key] = _Lesson(ev.ets)
        row.first_ets = min(row.first_ets, ev.ets)
        if kind != "lesson":
            return
        if ev.eid == "START":
            row.started = _min(row.started, ev.ets)
        elif row.completed is None or ev.ets < row.completed:
            row.completed = ev.ets
            row.duration = number(_edata(ev).duration)


def _progress_rows(timelines: dict[tuple[int, str, str], list[tuple[int, str, int, int]]]
                   ) -> list[dict[str, Any]]:
    rows = []
    for (site, course, actor), events in sorted(timelines.items()):
        events.sort()
        active = 0
        started: int | None = None
        completed: int | None = None
        for i, (ets, chain, start, end) in enumerate(events):
            if i and chain == events[i - 1][1]:
                active += min(ets - events[i - 1][0], IDLE_CAP_MS)
            if start:
                started = _min(started, start)
            if end:
                completed = _min(completed, end)
        rows.append({"site_id": site, "course_id": course, "actor_id": actor,
                     "first_ets": events[0][0], "last_ets": events[-1][0],
                     "started_ets": started, "completed_ets": completed,
                     "active_ms": active, "first_chain": events[0][1],
                     "last_chain": events[-1][1], "events": len(events)})
    return rows


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _least(dialect: str) -> Any:
    return func.least if dialect == "postgresql" else func.min


def _greatest(dialect: str) -> Any:
    return func.greatest if dialect == "postgresql" else func.max


def _earliest(dialect: str, old: Any, new: Any) -> Any:
    """The smaller of two nullable values (PostgreSQL's least skips NULL, SQLite's min
    returns NULL: coalesce makes both mean "the smaller of those present")."""
    return func.coalesce(_least(dialect)(old, new), old, new)


def _attempt_upsert(dialect: str) -> Any:
    stmt = _insert(dialect, ATTEMPTS)
    t, new = ATTEMPTS.c, stmt.excluded
    earlier = or_(new.ets < t.ets, and_(new.ets == t.ets, new.mid < t.mid))
    first = ("ets", "mid", "lesson_id", "score", "maxscore", "passed", "duration", "response")
    set_: dict[str, Any] = {c: case((earlier, new[c]), else_=t[c]) for c in first}
    set_["attempts"] = t.attempts + new.attempts
    set_["unscored"] = t.unscored + new.unscored
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "course_id", "item_id", "actor_id"], set_=set_)


def _progress_upsert(dialect: str) -> Any:
    stmt = _insert(dialect, PROGRESS)
    t, new = PROGRESS.c, stmt.excluded
    # The chunk continues the stored session chain: the gap between them counts too.
    joined = and_(bindparam("first_chain") == t.last_chain, new.first_ets >= t.last_ets)
    gap = _least(dialect)(new.first_ets - t.last_ets, literal(IDLE_CAP_MS))
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "course_id", "actor_id"],
        set_={
            "first_ets": _least(dialect)(t.first_ets, new.first_ets),
            "last_ets": _greatest(dialect)(t.last_ets, new.last_ets),
            "started_ets": _earliest(dialect, t.started_ets, new.started_ets),
            "completed_ets": _earliest(dialect, t.completed_ets, new.completed_ets),
            "active_ms": t.active_ms + new.active_ms + case((joined, gap), else_=0),
            "last_chain": case((new.last_ets >= t.last_ets, new.last_chain),
                               else_=t.last_chain),
            "events": t.events + new.events,
        })


def _lesson_upsert(dialect: str) -> Any:
    stmt = _insert(dialect, LESSONS)
    t, new = LESSONS.c, stmt.excluded
    newer_end = or_(t.completed_ets.is_(None),
                    and_(new.completed_ets.is_not(None), new.completed_ets < t.completed_ets))
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "course_id", "lesson_id", "actor_id"],
        set_={
            "first_ets": _least(dialect)(t.first_ets, new.first_ets),
            "started_ets": _earliest(dialect, t.started_ets, new.started_ets),
            "completed_ets": _earliest(dialect, t.completed_ets, new.completed_ets),
            "duration": case((newer_end, new.duration), else_=t.duration),
        })


ATTEMPT_UPSERT = PreparedUpsert(_attempt_upsert)
PROGRESS_UPSERT = PreparedUpsert(_progress_upsert)
LESSON_UPSERT = PreparedUpsert(_lesson_upsert)


def init_app(app: Flask) -> None:
    """Keep the learning-analytics tables in every ingest transaction."""
    get_pipeline(app).in_transaction(LearningTables())

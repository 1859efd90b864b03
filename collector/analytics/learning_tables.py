"""The persist hook that keeps the learning-analytics tables inside each ingest commit.

Course reports never rescan raw events, nor one row per answer. Per group of batches
this hook gathers, per touched learner of a course, what the group adds (events, lesson
starts and ends, quiz attempts), reads that learner's stored state (a few dozen rows),
merges, and writes:

- the learner's rows, absolute: first attempt per item (smallest ``ets``, then ``mid``),
  lesson progress, course progress with score, lessons completed and failed streak;
- the change of the learner's contribution to the per-course, per-lesson and per-item
  totals (counts, Pearson sums, answer counts, duration counts), added to those rows.

Each learner's read-merge-write happens under a lock on that learner (PostgreSQL
advisory lock; SQLite has one writer at a time), so concurrent writers never double
count. Only events whose context names a course take part.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import Connection, Table, and_, bindparam, case, literal, text

from collector.analytics.upserts import PreparedUpsert
from collector.core.events.validate import ValidEvent
from collector.ingest.persist import BatchOutcome, CounterWrites, PreparedBatch
from collector.ingest.pipeline import get_pipeline
from collector.storage.dialect import insert_for, is_postgres, least_greatest
from collector.storage.models import (
    LEARN_ANSWERS,
    LEARN_ATTEMPTS,
    LEARN_COURSES,
    LEARN_DURATIONS,
    LEARN_ITEMS,
    LEARN_LESSON_STATS,
    LEARN_LESSONS,
    LEARN_PROGRESS,
)

# Active time: the gap between two consecutive events of a learner's session chain in a
# course counts up to this many milliseconds; a longer gap counts as this much (idle).
IDLE_CAP_MS = 300_000
# A first attempt without ``pass`` failed when it scored below this share of maxscore.
PASS_SHARE = 0.5
MAX_RESPONSE = 256
MAX_FRACTION = 1e9
READ_CHUNK = 500

LearnerKey = tuple[int, str, str]  # site, course, actor


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
    """``resvalues`` as people read it: ``[{"answer": "b"}]`` -> ``b`` (U+0000, which
    PostgreSQL text cannot hold, shown as U+FFFD)."""
    text = _response_text(resvalues)
    return text.replace("\x00", "\ufffd") if text else text


def _response_text(resvalues: Any) -> str | None:
    if resvalues is None or resvalues == []:
        return None
    if isinstance(resvalues, list) and len(resvalues) == 1:  # what tracker.js sends
        only = resvalues[0]
        if isinstance(only, dict) and len(only) == 1:
            (value,) = only.values()
            if isinstance(value, str):
                return value[:MAX_RESPONSE]
    if isinstance(resvalues, str):
        return resvalues[:MAX_RESPONSE]
    if not isinstance(resvalues, list):
        return msgspec.json.encode(resvalues).decode()[:MAX_RESPONSE]
    parts: list[str] = []
    for value in resvalues:
        values = value.values() if isinstance(value, dict) else [value]
        parts.extend(v if isinstance(v, str) else msgspec.json.encode(v).decode()
                     for v in values)
    return ", ".join(parts)[:MAX_RESPONSE]


def _edata(ev: ValidEvent) -> _Edata:
    try:
        env = _DECODER.decode(ev.raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _Edata()
    return env.edata or _Edata()


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


@dataclass(slots=True)
class Attempt:
    """A first attempt, with the count of every attempt of the (learner, item)."""

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

    @property
    def fraction(self) -> float | None:
        """score / maxscore; None without a usable maxscore, and for absurd values
        (beyond +-MAX_FRACTION) that would overflow the sums the statistics keep."""
        if self.score is None or self.maxscore is None or self.maxscore <= 0:
            return None
        f = self.score / self.maxscore
        return f if -MAX_FRACTION <= f <= MAX_FRACTION else None

    @property
    def out_of_range(self) -> bool:
        m = self.maxscore
        return self.score is not None and m is not None and m > 0 and not (
            0 <= self.score <= m)

    @property
    def failed(self) -> bool:
        if self.passed is not None:
            return self.passed == 0
        f = self.fraction
        return f is not None and f < PASS_SHARE

    def merged(self, other: Attempt) -> Attempt:
        """The earlier of the two as first attempt, with both counts added."""
        f = self if (self.ets, self.mid) <= (other.ets, other.mid) else other
        return Attempt(f.ets, f.mid, f.lesson_id, f.score, f.maxscore, f.passed, f.duration,
                       f.response, self.attempts + other.attempts,
                       self.unscored + other.unscored)


@dataclass(slots=True)
class Lesson:
    first_ets: int
    started: int | None = None
    completed: int | None = None
    duration: float | None = None

    def merged(self, other: Lesson) -> Lesson:
        out = Lesson(min(self.first_ets, other.first_ets), _min(self.started, other.started))
        ends = [e for e in (self, other) if e.completed is not None]
        if ends:
            end = min(ends, key=lambda e: e.completed or 0)
            out.completed, out.duration = end.completed, end.duration
        return out

    @property
    def seconds(self) -> float | None:
        """Time the lesson took: its END's duration, else START to END."""
        if self.completed is None:
            return None
        if self.duration is not None:
            return self.duration
        if self.started is not None and self.completed >= self.started:
            return (self.completed - self.started) / 1000
        return None


@dataclass(slots=True)
class Progress:
    first_ets: int
    last_ets: int
    started: int | None
    completed: int | None

    @property
    def seconds_to_complete(self) -> float | None:
        if self.started is None or self.completed is None or self.completed < self.started:
            return None
        return (self.completed - self.started) / 1000


@dataclass(slots=True)
class _Touched:
    """What one group adds to one learner of one course."""

    events: list[tuple[int, str, int, int]] = field(default_factory=list)
    attempts: dict[str, Attempt] = field(default_factory=dict)
    lessons: dict[str, Lesson] = field(default_factory=dict)


def assess_attempt(ev: ValidEvent) -> tuple[str, Attempt] | None:
    """(item id, attempt) of an ASSESS, or None when it names no item."""
    edata = _edata(ev)
    item = edata.item if isinstance(edata.item, dict) else {}
    item_id = item.get("id")
    if item_id is None or item_id == "":
        return None
    maxscore = number(item.get("maxscore"))
    passed = edata.passed
    return str(item_id)[:256], Attempt(
        ev.ets, ev.mid, ev.lesson_id, number(edata.score), maxscore,
        _PASSED.get(passed.lower()) if isinstance(passed, str) else None,
        number(edata.duration), response_text(edata.resvalues), 1,
        0 if maxscore is not None and maxscore > 0 else 1)


_PASSED = {"yes": 1, "no": 0}


def gather(batches: Sequence[PreparedBatch], outcomes: Sequence[BatchOutcome]
           ) -> dict[LearnerKey, _Touched]:
    """Per (site, course, learner): the newly stored events of the group that count."""
    touched: dict[LearnerKey, _Touched] = {}
    for batch, outcome in zip(batches, outcomes, strict=True):
        site = batch.site_id
        for ev in outcome.stored:
            course = ev.course_id
            if not course:
                continue
            key = (site, course, ev.actor_id)
            t = touched.get(key)
            if t is None:
                t = touched[key] = _Touched()
            eid, ets = ev.eid, ev.ets
            if eid == "START" or eid == "END":
                kind = ev.edata_type
                mark = ets if kind == "course" else 0
                t.events.append((ets, ev.chain_id or "", mark if eid == "START" else 0,
                                 mark if eid == "END" else 0))
            else:
                kind = None
                t.events.append((ets, ev.chain_id or "", 0, 0))
            lesson_id = ev.lesson_id
            if lesson_id:
                le = t.lessons.get(lesson_id)
                if le is None:
                    le = t.lessons[lesson_id] = Lesson(ets)
                elif ets < le.first_ets:
                    le.first_ets = ets
                if kind == "lesson":
                    if eid == "START":
                        if le.started is None or ets < le.started:
                            le.started = ets
                    elif le.completed is None or ets < le.completed:
                        le.completed = ets
                        le.duration = number(_edata(ev).duration)
            if eid == "ASSESS":
                found = assess_attempt(ev)
                if found is not None:
                    item, attempt = found
                    seen_attempt = t.attempts.get(item)
                    t.attempts[item] = (attempt if seen_attempt is None
                                        else seen_attempt.merged(attempt))
    return touched


# --- per-learner contributions to the course totals ---------------------------------


def item_contributions(attempts: dict[str, Attempt]) -> dict[str, tuple[float, ...]]:
    """Per item: (learners, attempts, unscored, out_of_range, n, x, y, xx, yy, xy)."""
    total = sum(a.fraction or 0.0 for a in attempts.values())
    out: dict[str, tuple[float, ...]] = {}
    for item, a in attempts.items():
        x = a.fraction
        if x is None:
            out[item] = (1, a.attempts, a.unscored, int(a.out_of_range), 0, 0.0, 0.0, 0.0,
                         0.0, 0.0)
        else:
            y = total - x
            out[item] = (1, a.attempts, a.unscored, int(a.out_of_range), 1, x, y, x * x,
                         y * y, x * y)
    return out


def fail_streak(attempts: Iterable[Attempt]) -> int:
    """How many of the latest first attempts (by ets, then mid) failed in a row."""
    streak = 0
    for a in sorted(attempts, key=lambda a: (a.ets, a.mid), reverse=True):
        if not a.failed:
            break
        streak += 1
    return streak


class Totals:
    """Changes to the per-course, per-lesson and per-item rows of one group."""

    def __init__(self) -> None:
        self.courses: dict[tuple[int, str], list[int]] = {}
        self.lessons: dict[tuple[int, str, str], list[int]] = {}
        self.items: dict[tuple[int, str, str], list[float]] = {}
        self.answers: dict[tuple[int, str, str, str], int] = {}
        self.durations: dict[tuple[int, str, str, str, float], int] = {}

    def duration(self, site: int, course: str, kind: str, key: str, old: float | None,
                  new: float | None) -> None:
        if old == new:
            return
        for value, step in ((old, -1), (new, 1)):
            if value is not None:
                k = (site, course, kind, key, value)
                self.durations[k] = self.durations.get(k, 0) + step

    def answer(self, site: int, course: str, item: str, old: Attempt | None,
               new: Attempt) -> None:
        if old is not None and old.response == new.response:
            return
        for a, step in ((old, -1), (new, 1)):
            if a is not None:
                k = (site, course, item, a.response or "")
                self.answers[k] = self.answers.get(k, 0) + step


class LearningTables:
    """``PersistHook`` keeping the ``learn_*`` tables: the learners' own rows now, the
    per-course, per-lesson and per-item totals (rows every writer updates) returned for
    the end of the transaction."""

    def __call__(self, conn: Connection, batches: Sequence[PreparedBatch],
                 outcomes: Sequence[BatchOutcome]) -> CounterWrites | None:
        touched = gather(batches, outcomes)
        if not touched:
            return None
        keys = sorted(touched)
        if is_postgres(conn):
            lock_learners(conn, keys)
        progress, attempts, lessons = _read_state(conn, keys, touched)
        totals = Totals()
        progress_rows: list[tuple[Any, ...]] = []
        attempt_rows: list[tuple[Any, ...]] = []
        lesson_rows: list[tuple[Any, ...]] = []
        for key in keys:
            t = touched[key]
            site, course, actor = key
            stored = progress.get(key)
            if t.attempts:
                old_attempts = attempts.get(key, {})
                new_attempts = dict(old_attempts)
                for item, a in t.attempts.items():
                    seen = old_attempts.get(item)
                    merged = a if seen is None else seen.merged(a)
                    new_attempts[item] = merged
                    attempt_rows.append((site, course, actor, item, merged.ets, merged.mid,
                                         merged.lesson_id, merged.score, merged.maxscore,
                                         merged.passed, merged.duration, merged.response,
                                         merged.attempts, merged.unscored))
                    totals.answer(site, course, item, seen, merged)
                    totals.duration(site, course, "item", item,
                                    seen.duration if seen else None, merged.duration)
                    ik = (site, course, item)
                    first = totals.items.setdefault(ik, [0.0] * 10 + [float(merged.ets)])
                    first[10] = min(first[10], merged.ets)
                self._item_deltas(totals, site, course, old_attempts, new_attempts)
                score: float = sum(a.fraction or 0.0 for a in new_attempts.values())
                streak = fail_streak(new_attempts.values())
            elif stored is not None:  # no answer in this group: the learner's stay
                score, streak = stored.score, stored.fail_streak
            else:
                score, streak = 0.0, 0
            completed = stored.lessons_completed if stored is not None else 0
            old_lessons = lessons.get(key, {})
            for lesson_id, change in t.lessons.items():
                seen_lesson = old_lessons.get(lesson_id)
                merged_lesson = change if seen_lesson is None else seen_lesson.merged(change)
                if merged_lesson == seen_lesson:  # e.g. a later event in a known lesson
                    continue
                lesson_rows.append((site, course, actor, lesson_id, merged_lesson.first_ets,
                                    merged_lesson.started, merged_lesson.completed,
                                    merged_lesson.duration))
                completed += (merged_lesson.completed is not None) - (
                    seen_lesson is not None and seen_lesson.completed is not None)
                self._lesson_delta(totals, site, course, lesson_id, seen_lesson,
                                   merged_lesson)
            old_progress = stored.progress if stored is not None else None
            row, new_progress = _progress_row(key, t.events, old_progress)
            progress_rows.append((*row, score, completed, streak))
            self._course_delta(totals, site, course, old_progress, new_progress)
        PROGRESS_UPSERT.execute_tuples(conn, PROGRESS_COLUMNS, progress_rows)
        if lesson_rows:
            LESSON_UPSERT.execute_tuples(conn, LESSON_COLUMNS, lesson_rows)
        if attempt_rows:
            ATTEMPT_UPSERT.execute_tuples(conn, ATTEMPT_COLUMNS, attempt_rows)
        return lambda conn: write_totals(conn, totals)

    @staticmethod
    def _item_deltas(totals: Totals, site: int, course: str, old: dict[str, Attempt],
                     new: dict[str, Attempt]) -> None:
        before = item_contributions(old)
        after = item_contributions(new)
        for item, now in after.items():
            was = before.get(item)
            if was == now:
                continue
            row = totals.items.get((site, course, item))
            if row is None:
                row = totals.items[(site, course, item)] = [0.0] * 10 + [
                    float(new[item].ets)]
            for i, value in enumerate(now):
                row[i] += value - (was[i] if was else 0)

    @staticmethod
    def _lesson_delta(totals: Totals, site: int, course: str, lesson_id: str,
                      old: Lesson | None, new: Lesson) -> None:
        row = totals.lessons.setdefault((site, course, lesson_id), [0, 0, 0, new.first_ets])
        row[0] += old is None
        row[1] += (new.started is not None) - (old is not None and old.started is not None)
        row[2] += (new.completed is not None) - (old is not None and old.completed is not None)
        row[3] = min(row[3], new.first_ets)
        totals.duration(site, course, "lesson", lesson_id, old.seconds if old else None,
                        new.seconds)

    @staticmethod
    def _course_delta(totals: Totals, site: int, course: str, old: Progress | None,
                      new: Progress) -> None:
        if (old is not None and old.last_ets >= new.last_ets and old.started == new.started
                and old.completed == new.completed):
            return  # nothing to add: the course's last_ets is already at least old's

        def flags(p: Progress | None) -> tuple[int, int, int]:
            if p is None:
                return 0, 0, 0
            s, c = p.started is not None, p.completed is not None
            return int(s), int(c), int(s and c)

        row = totals.courses.setdefault((site, course), [0, 0, 0, 0, new.last_ets])
        was, now = flags(old), flags(new)
        row[0] += old is None
        for i in range(3):
            row[i + 1] += now[i] - was[i]
        row[4] = max(row[4], new.last_ets)
        totals.duration(site, course, "course", "",
                        old.seconds_to_complete if old else None, new.seconds_to_complete)


def lock_learners(conn: Connection, keys: list[LearnerKey]) -> None:
    """Transaction locks on the learners, taken in one order by every writer."""
    ids = sorted({int.from_bytes(hashlib.blake2b(
        f"{site}\x1f{course}\x1f{actor}".encode(), digest_size=8).digest(), "big",
        signed=True) for site, course, actor in keys})
    conn.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ids AS "
                      "bigint[])) AS k"), {"ids": ids})


@dataclass(slots=True)
class _Stored:
    """A learner's stored progress row, with the values derived from its attempts and
    lessons (kept as they are when the group changes neither)."""

    progress: Progress
    score: float
    lessons_completed: int
    fail_streak: int


def _read_state(conn: Connection, keys: list[LearnerKey],
                touched: dict[LearnerKey, _Touched]) -> tuple[
        dict[LearnerKey, _Stored], dict[LearnerKey, dict[str, Attempt]],
        dict[LearnerKey, dict[str, Lesson]]]:
    """The stored rows the group needs, one query per table and chunk of learners
    (courses and learners both listed; rows of other pairs are dropped): every touched
    learner's progress, all first attempts of the learners who answered (their score
    and the rest-of-course sums depend on every item), and the touched lessons only.
    A learner without a progress row has no other row either (all are written in the
    same transaction), so a new learner's attempts and lessons are not looked for."""
    progress: dict[LearnerKey, _Stored] = {}
    attempts: dict[LearnerKey, dict[str, Attempt]] = {}
    lessons: dict[LearnerKey, dict[str, Lesson]] = {}
    for site, chunk in learner_chunks(keys):
        wanted = set(chunk)
        for pr in fetch_rows(conn, LEARN_PROGRESS, PROGRESS_READ, site, chunk):
            key = (site, pr[0], pr[1])
            if key in wanted:
                progress[key] = _Stored(Progress(pr[2], pr[3], pr[4], pr[5]), pr[6], pr[7],
                                        pr[8])
    for site, chunk in learner_chunks([k for k in keys if touched[k].attempts and k in progress]):
        wanted = set(chunk)
        for ar in fetch_rows(conn, LEARN_ATTEMPTS, ATTEMPT_READ, site, chunk):
            key = (site, ar[0], ar[1])
            if key in wanted:
                attempts.setdefault(key, {})[ar[2]] = Attempt(*ar[3:])
    for site, chunk in learner_chunks([k for k in keys if touched[k].lessons and k in progress]):
        wanted_lessons = {(k[1], k[2], lesson) for k in chunk for lesson in touched[k].lessons}
        for lr in fetch_rows(conn, LEARN_LESSONS, LESSON_READ, site, chunk,
                         ("lesson_id", sorted({w[2] for w in wanted_lessons}))):
            if (lr[0], lr[1], lr[2]) in wanted_lessons:
                lessons.setdefault((site, lr[0], lr[1]), {})[lr[2]] = Lesson(*lr[3:])
    return progress, attempts, lessons


PROGRESS_READ = ("course_id", "actor_id", "first_ets", "last_ets", "started_ets",
                 "completed_ets", "score", "lessons_completed", "fail_streak")
ATTEMPT_READ = ("course_id", "actor_id", "item_id", "ets", "mid", "lesson_id", "score",
                "maxscore", "passed", "duration", "response", "attempts", "unscored")
LESSON_READ = ("course_id", "actor_id", "lesson_id", "first_ets", "started_ets",
               "completed_ets", "duration")


def fetch_rows(conn: Connection, table: Table, columns: tuple[str, ...], site: int,
           chunk: list[LearnerKey], *also: tuple[str, list[str]]) -> Iterable[Any]:
    """``columns`` of the rows of ``table`` in ``site`` whose course and learner are
    among the chunk's (and each ``also`` column among its values), as plain SQL: the
    statement built, compiled and cached by SQLAlchemy per group cost more than the
    query itself."""
    where = [("course_id", sorted({k[1] for k in chunk})),
             ("actor_id", sorted({k[2] for k in chunk})), *also]
    head = f"SELECT {', '.join(columns)} FROM {table.name} WHERE site_id = "
    if conn.dialect.paramstyle == "qmark":  # SQLite: on the driver, as the writes
        sql = head + "?" + "".join(f" AND {name} IN ({', '.join('?' * len(values))})"
                                   for name, values in where)
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return list(cur.execute(sql, (site, *(v for _, values in where
                                                  for v in values))))
        finally:
            cur.close()
    # PostgreSQL: one primary-key lookup per (course, learner) pair. "= ANY" on both
    # columns, or a plain join with the pairs, was planned as a scan of every row of the
    # site whenever the table's statistics were missing or stale (a fresh or fast-growing
    # table); a LATERAL subquery that cannot be flattened (OFFSET 0) is always probed.
    sql = (f"SELECT {', '.join('t.' + c for c in columns)} FROM unnest("
           "CAST(%(courses)s AS text[]), CAST(%(actors)s AS text[])) AS k(course_id, actor_id) "
           f"CROSS JOIN LATERAL (SELECT * FROM {table.name} x WHERE x.site_id = %(site_id)s "
           "AND x.course_id = k.course_id AND x.actor_id = k.actor_id"
           + "".join(f" AND x.{name} = ANY(%({name})s)" for name, _ in also) + " OFFSET 0) t")
    return conn.exec_driver_sql(sql, {"site_id": site, "courses": [k[1] for k in chunk],
                                      "actors": [k[2] for k in chunk], **dict(also)})


def learner_chunks(keys: list[LearnerKey]) -> Iterable[tuple[int, list[LearnerKey]]]:
    """(site, up to READ_CHUNK of its learners) in key order."""
    by_site: dict[int, list[LearnerKey]] = {}
    for key in keys:
        by_site.setdefault(key[0], []).append(key)
    for site, site_keys in by_site.items():
        for i in range(0, len(site_keys), READ_CHUNK):
            yield site, site_keys[i:i + READ_CHUNK]


def _progress_row(key: LearnerKey, events: list[tuple[int, str, int, int]],
                  old: Progress | None) -> tuple[tuple[Any, ...], Progress]:
    """The group's part of the learner's progress row up to ``events`` (the first
    PROGRESS_COLUMNS; active time is added in SQL) and the merged progress."""
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
    first, last = events[0][0], events[-1][0]
    merged = Progress(first, last, started, completed) if old is None else Progress(
        min(old.first_ets, first), max(old.last_ets, last), _min(old.started, started),
        _min(old.completed, completed))
    return ((*key, first, last, merged.started, merged.completed, active, events[0][1],
             events[-1][1], len(events)), merged)


def write_totals(conn: Connection, totals: Totals) -> None:
    if totals.courses:
        COURSE_UPSERT.execute_tuples(conn, COURSE_COLUMNS, [
            (*k, *v) for k, v in sorted(totals.courses.items())])
    if totals.lessons:
        LESSON_STATS_UPSERT.execute_tuples(conn, LESSON_STATS_COLUMNS, [
            (*k, *v) for k, v in sorted(totals.lessons.items())])
    if totals.items:
        ITEM_UPSERT.execute_tuples(conn, ITEM_COLUMNS, [
            (*k, int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), v[5], v[6], v[7],
             v[8], v[9], int(v[10]))
            for k, v in sorted(totals.items.items())])
    answers = [(*k, n) for k, n in sorted(totals.answers.items()) if n]
    if answers:
        ANSWER_UPSERT.execute_tuples(conn, ANSWER_COLUMNS, answers)
    durations = [(*k, n) for k, n in sorted(totals.durations.items()) if n]
    if durations:
        DURATION_UPSERT.execute_tuples(conn, DURATION_COLUMNS, durations)


# --- statements ---------------------------------------------------------------------


def _replace(table: Table, key: list[str]) -> Any:
    """Rows merged in Python (under the learner's lock) replace the stored ones."""
    def build(dialect: str) -> Any:
        stmt = insert_for(dialect, table)
        return stmt.on_conflict_do_update(index_elements=key, set_={
            c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key})
    return build


def _add(table: Table, key: list[str], least: tuple[str, ...] = (),
         greatest: tuple[str, ...] = ()) -> Any:
    """Counter rows: the group's changes are added to the stored values."""
    def build(dialect: str) -> Any:
        stmt = insert_for(dialect, table)
        t, new = table.c, stmt.excluded
        lesser, greater = least_greatest(dialect)
        set_: dict[str, Any] = {}
        for c in table.columns:
            if c.name in key:
                continue
            if c.name in least:
                set_[c.name] = lesser(t[c.name], new[c.name])
            elif c.name in greatest:
                set_[c.name] = greater(t[c.name], new[c.name])
            else:
                set_[c.name] = t[c.name] + new[c.name]
        return stmt.on_conflict_do_update(index_elements=key, set_=set_)
    return build


def _progress_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, LEARN_PROGRESS)
    t, new = LEARN_PROGRESS.c, stmt.excluded
    least, greatest = least_greatest(dialect)
    # The chunk continues the stored session chain: the gap between them counts too.
    joined = and_(bindparam("first_chain") == t.last_chain, new.first_ets >= t.last_ets)
    gap = least(new.first_ets - t.last_ets, literal(IDLE_CAP_MS))
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "course_id", "actor_id"],
        set_={
            "first_ets": least(t.first_ets, new.first_ets),
            "last_ets": greatest(t.last_ets, new.last_ets),
            "started_ets": new.started_ets,
            "completed_ets": new.completed_ets,
            "active_ms": t.active_ms + new.active_ms + case((joined, gap), else_=0),
            "last_chain": case((new.last_ets >= t.last_ets, new.last_chain),
                               else_=t.last_chain),
            "events": t.events + new.events,
            "score": new.score,
            "lessons_completed": new.lessons_completed,
            "fail_streak": new.fail_streak,
        })


# The order of the values in the rows each upsert is given.
PROGRESS_COLUMNS = ("site_id", "course_id", "actor_id", "first_ets", "last_ets",
                    "started_ets", "completed_ets", "active_ms", "first_chain", "last_chain",
                    "events", "score", "lessons_completed", "fail_streak")
ATTEMPT_COLUMNS = ("site_id", "course_id", "actor_id", "item_id", "ets", "mid",
                   "lesson_id", "score", "maxscore", "passed", "duration", "response",
                   "attempts", "unscored")
LESSON_COLUMNS = ("site_id", "course_id", "actor_id", "lesson_id", "first_ets",
                  "started_ets", "completed_ets", "duration")
COURSE_COLUMNS = ("site_id", "course_id", "learners", "started", "completed", "finished",
                  "last_ets")
LESSON_STATS_COLUMNS = ("site_id", "course_id", "lesson_id", "learners", "started",
                        "completed", "first_ets")
ITEM_COLUMNS = ("site_id", "course_id", "item_id", "learners", "attempts", "unscored",
                "out_of_range", "n", "sx", "sy", "sxx", "syy", "sxy", "first_ets")
ANSWER_COLUMNS = ("site_id", "course_id", "item_id", "response", "count")
DURATION_COLUMNS = ("site_id", "course_id", "kind", "key", "seconds", "count")

PROGRESS_UPSERT = PreparedUpsert(_progress_upsert)
ATTEMPT_UPSERT = PreparedUpsert(_replace(LEARN_ATTEMPTS,
                                         ["site_id", "course_id", "actor_id", "item_id"]))
LESSON_UPSERT = PreparedUpsert(_replace(LEARN_LESSONS,
                                        ["site_id", "course_id", "actor_id", "lesson_id"]))
COURSE_UPSERT = PreparedUpsert(_add(LEARN_COURSES, ["site_id", "course_id"],
                                    greatest=("last_ets",)))
LESSON_STATS_UPSERT = PreparedUpsert(_add(LEARN_LESSON_STATS,
                                          ["site_id", "course_id", "lesson_id"],
                                          least=("first_ets",)))
ITEM_UPSERT = PreparedUpsert(_add(LEARN_ITEMS, ["site_id", "course_id", "item_id"],
                                  least=("first_ets",)))
ANSWER_UPSERT = PreparedUpsert(_add(LEARN_ANSWERS,
                                    ["site_id", "course_id", "item_id", "response"]))
DURATION_UPSERT = PreparedUpsert(_add(LEARN_DURATIONS,
                                      ["site_id", "course_id", "kind", "key", "seconds"]))


def init_app(app: Flask) -> None:
    """Keep the learning-analytics tables in every ingest transaction."""
    get_pipeline(app).in_transaction(LearningTables())

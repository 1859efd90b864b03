"""Rebuilding learners in the learning tables from the events they still have.

Erasure and retention remove events; the ``learn_*`` tables must then read as if the
remaining events alone had been ingested. Per learner of a course, under the same lock
ingest takes (``learning_tables.lock_learners``):

1. the learner's stored rows are read and their whole contribution to the per-course,
   per-lesson and per-item totals is subtracted (the totals are sums over learners);
2. the learner's rows are deleted;
3. the learner's remaining events run through the ingest hook itself, which writes the
   rows anew and adds their contribution back;
4. the minimum and maximum columns of the touched totals are recomputed from the
   per-learner rows (a minimum cannot be "subtracted"), and totals left with no learner
   are deleted.

Every step is additive or scoped to locked learners, so ingest may run meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, text

from collector.analytics.learning_tables import (
    ATTEMPT_READ,
    LESSON_READ,
    PROGRESS_READ,
    Attempt,
    LearnerKey,
    LearningTables,
    Lesson,
    Progress,
    Totals,
    fetch_rows,
    item_contributions,
    learner_chunks,
    lock_learners,
    write_totals,
)
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.storage.dialect import is_postgres
from collector.storage.models import LEARN_ATTEMPTS, LEARN_LESSONS, LEARN_PROGRESS

# Stand-ins in subtracted rows for the columns kept with least()/greatest(): they leave
# the stored value as it is, and step 4 recomputes it.
_NO_MIN = 1 << 62
_NO_MAX = 0


def rebuild_learners(conn: Connection, keys: Sequence[LearnerKey],
                     batches: Sequence[PreparedBatch],
                     outcomes: Sequence[BatchOutcome]) -> Callable[[Connection], None]:
    """Make ``keys``' learning rows those of the events in ``outcomes`` (each learner's
    remaining events, all of them; none for a learner who has none left).

    Returns what is left to write to the totals (rows every writer updates): call it
    where ingest writes its counters, after everything else, so that both lock rows in
    the same order."""
    keys = sorted(set(keys))
    if not keys:
        return lambda conn: None
    if is_postgres(conn):
        lock_learners(conn, keys)
    totals = Totals()
    for site, chunk in learner_chunks(keys):
        _subtract_stored(conn, site, chunk, totals)
        _delete_rows(conn, site, chunk)
    added = LearningTables()(conn, batches, outcomes)

    def write_counters(conn: Connection) -> None:
        write_totals(conn, totals)
        if added is not None:
            added(conn)
        _recompute_bounds(conn, sorted({(site, course) for site, course, _ in keys}))

    return write_counters


def _subtract_stored(conn: Connection, site: int, chunk: list[LearnerKey],
                     totals: Totals) -> None:
    wanted = set(chunk)
    attempts: dict[LearnerKey, dict[str, Attempt]] = {}
    for row in fetch_rows(conn, LEARN_ATTEMPTS, ATTEMPT_READ, site, chunk):
        if (site, row[0], row[1]) in wanted:
            attempts.setdefault((site, row[0], row[1]), {})[row[2]] = Attempt(*row[3:])
    for row in fetch_rows(conn, LEARN_PROGRESS, PROGRESS_READ, site, chunk):
        key = (site, row[0], row[1])
        if key not in wanted:
            continue
        progress = Progress(row[2], row[3], row[4], row[5])
        course = totals.courses.setdefault((site, row[0]), [0, 0, 0, 0, _NO_MAX])
        started, completed = progress.started is not None, progress.completed is not None
        for i, gone in enumerate((1, started, completed, started and completed)):
            course[i] -= int(gone)
        totals.duration(site, row[0], "course", "", progress.seconds_to_complete, None)
        learner = attempts.get(key, {})
        for item, contribution in item_contributions(learner).items():
            sums = totals.items.setdefault((site, row[0], item), [0.0] * 10 + [_NO_MIN])
            for i, value in enumerate(contribution):
                sums[i] -= value
            attempt = learner[item]
            answer = (site, row[0], item, attempt.response or "")
            totals.answers[answer] = totals.answers.get(answer, 0) - 1
            totals.duration(site, row[0], "item", item, attempt.duration, None)
    for row in fetch_rows(conn, LEARN_LESSONS, LESSON_READ, site, chunk):
        if (site, row[0], row[1]) not in wanted:
            continue
        lesson = Lesson(*row[3:])
        stats = totals.lessons.setdefault((site, row[0], row[2]), [0, 0, 0, _NO_MIN])
        stats[0] -= 1
        stats[1] -= lesson.started is not None
        stats[2] -= lesson.completed is not None
        totals.duration(site, row[0], "lesson", row[2], lesson.seconds, None)


def _delete_rows(conn: Connection, site: int, chunk: list[LearnerKey]) -> None:
    pairs = [{"site": site, "course": course, "actor": actor} for _, course, actor in chunk]
    for table in (LEARN_ATTEMPTS, LEARN_LESSONS, LEARN_PROGRESS):
        conn.execute(text(f"DELETE FROM {table.name} WHERE site_id = :site AND "
                          "course_id = :course AND actor_id = :actor"), pairs)


# Per touched course: its minimum and maximum columns from the per-learner rows, then
# the totals without any learner left.
_BOUNDS = (
    "UPDATE learn_courses SET last_ets = COALESCE((SELECT max(p.last_ets) FROM "
    "learn_progress p WHERE p.site_id = :site AND p.course_id = :course), last_ets) "
    "WHERE site_id = :site AND course_id = :course",
    "UPDATE learn_lesson_stats SET first_ets = COALESCE((SELECT min(l.first_ets) FROM "
    "learn_lessons l WHERE l.site_id = :site AND l.course_id = :course AND "
    "l.lesson_id = learn_lesson_stats.lesson_id), first_ets) "
    "WHERE site_id = :site AND course_id = :course",
    "UPDATE learn_items SET first_ets = COALESCE((SELECT min(a.ets) FROM learn_attempts a "
    "WHERE a.site_id = :site AND a.course_id = :course AND "
    "a.item_id = learn_items.item_id), first_ets) "
    "WHERE site_id = :site AND course_id = :course",
    "DELETE FROM learn_courses WHERE site_id = :site AND course_id = :course "
    "AND learners <= 0",
    "DELETE FROM learn_lesson_stats WHERE site_id = :site AND course_id = :course "
    "AND learners <= 0",
    "DELETE FROM learn_items WHERE site_id = :site AND course_id = :course "
    "AND learners <= 0",
    "DELETE FROM learn_answers WHERE site_id = :site AND course_id = :course AND count <= 0",
    "DELETE FROM learn_durations WHERE site_id = :site AND course_id = :course "
    "AND count <= 0",
)


def _recompute_bounds(conn: Connection, courses: list[tuple[int, str]]) -> None:
    params = [{"site": site, "course": course} for site, course in courses]
    for sql in _BOUNDS:
        conn.execute(text(sql), params)

"""Course progress: learners, starts, completions, time to complete, lesson drop-off.

Read from ``learn_progress`` and ``learn_lessons`` (kept at ingest), never raw events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, case, func, literal, select

from collector.analytics.course_scope import PROGRESS, medians
from collector.analytics.formulas import rounded
from collector.storage.models import LearnLesson

LESSONS: Table = LearnLesson.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class LessonProgress:
    id: str
    learners: int  # with any event in the lesson
    started: int
    completed: int
    median_seconds: float | None

    def contract(self) -> dict[str, Any]:
        return {"id": self.id, "started": self.started, "completed": self.completed,
                "median_seconds": rounded(self.median_seconds, 3)}


@dataclass(frozen=True, slots=True)
class CourseProgress:
    site_id: int
    course: str
    learners: int  # with any event in the course
    started: int  # with a course START
    completed: int  # with a course END
    completion_rate: float | None  # started and completed / started
    median_seconds_to_complete: float | None  # first START to first END
    last_activity: int | None  # newest event time (ets, ms)
    lessons: list[LessonProgress]

    def contract(self) -> dict[str, Any]:
        """The ``collector report course`` object."""
        return {"course": self.course, "learners": self.learners, "started": self.started,
                "completed": self.completed,
                "completion_rate": rounded(self.completion_rate),
                "median_seconds_to_complete": rounded(self.median_seconds_to_complete, 3),
                "lessons": [lesson.contract() for lesson in self.lessons]}


def _completion_seconds() -> Any:
    t = PROGRESS.c
    return case((and_(t.started_ets.is_not(None), t.completed_ets >= t.started_ets),
                 (t.completed_ets - t.started_ets) / literal(1000.0)))


def course_progress(conn: Connection, site_id: int, course: str) -> CourseProgress:
    """One course of one site (zeros when nobody has an event of it)."""
    t = PROGRESS.c
    where = [t.site_id == site_id, t.course_id == course]
    both = func.sum(case((and_(t.started_ets.is_not(None), t.completed_ets.is_not(None)), 1),
                         else_=0))
    row = conn.execute(select(func.count(), func.count(t.started_ets),
                              func.count(t.completed_ets), both, func.max(t.last_ets))
                       .where(*where)).one()
    learners, started, completed, finished = row[0], row[1], row[2], row[3] or 0
    times = medians(conn, PROGRESS, [t.site_id], _completion_seconds(), where)
    return CourseProgress(
        site_id=site_id, course=course, learners=learners, started=started,
        completed=completed, completion_rate=finished / started if started else None,
        median_seconds_to_complete=times.get((site_id,)), last_activity=row[4],
        lessons=lesson_progress(conn, site_id, course))


def lesson_progress(conn: Connection, site_id: int, course: str) -> list[LessonProgress]:
    """Lessons in course order (first seen, by event time), with start/completion counts."""
    t = LESSONS.c
    where = [t.site_id == site_id, t.course_id == course]
    seconds = case((t.completed_ets.is_not(None), func.coalesce(
        t.duration, case((t.completed_ets >= t.started_ets,
                          (t.completed_ets - t.started_ets) / literal(1000.0))))))
    times = medians(conn, LESSONS, [t.lesson_id], seconds, where)
    rows = conn.execute(select(t.lesson_id, func.count(), func.count(t.started_ets),
                               func.count(t.completed_ets), func.min(t.first_ets))
                        .where(*where).group_by(t.lesson_id)
                        .order_by(func.min(t.first_ets), t.lesson_id))
    return [LessonProgress(id=r[0], learners=r[1], started=r[2], completed=r[3],
                           median_seconds=times.get((r[0],))) for r in rows]


def course_list(conn: Connection, site_ids: list[int]) -> list[CourseProgress]:
    """Every course of these sites, newest activity first (lessons left empty)."""
    if not site_ids:
        return []
    t = PROGRESS.c
    where = [t.site_id.in_(site_ids)]
    both = func.sum(case((and_(t.started_ets.is_not(None), t.completed_ets.is_not(None)), 1),
                         else_=0))
    times = medians(conn, PROGRESS, [t.site_id, t.course_id], _completion_seconds(), where)
    rows = conn.execute(select(t.site_id, t.course_id, func.count(), func.count(t.started_ets),
                               func.count(t.completed_ets), both, func.max(t.last_ets))
                        .where(*where).group_by(t.site_id, t.course_id)
                        .order_by(func.max(t.last_ets).desc(), t.course_id))
    return [CourseProgress(
        site_id=r[0], course=r[1], learners=r[2], started=r[3], completed=r[4],
        completion_rate=(r[5] or 0) / r[3] if r[3] else None,
        median_seconds_to_complete=times.get((r[0], r[1])), last_activity=r[6], lessons=[])
        for r in rows]

"""Course progress: learners, starts, completions, time to complete, lesson drop-off.

Read from the per-course and per-lesson totals kept at ingest (``learning_tables``).
``completion_rate`` is the share of learners who started (a course START) that also
completed (a course END); time to complete runs from the first START to the first END.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from collector.analytics.course_scope import medians
from collector.analytics.formulas import median_of_counts, rounded
from collector.storage.models import LEARN_COURSES, LEARN_DURATIONS, LEARN_LESSON_STATS


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
    median_seconds_to_complete: float | None
    last_activity: int | None  # newest event time (ets, ms)
    lessons: list[LessonProgress]

    def contract(self) -> dict[str, Any]:
        """The ``collector report course`` object."""
        return {"course": self.course, "learners": self.learners, "started": self.started,
                "completed": self.completed,
                "completion_rate": rounded(self.completion_rate),
                "median_seconds_to_complete": rounded(self.median_seconds_to_complete, 3),
                "lessons": [lesson.contract() for lesson in self.lessons]}


def course_progress(conn: Connection, site_id: int, course: str) -> CourseProgress:
    """One course of one site (zeros when nobody has an event of it)."""
    t = LEARN_COURSES.c
    row = conn.execute(select(t.learners, t.started, t.completed, t.finished, t.last_ets)
                       .where(t.site_id == site_id, t.course_id == course)).first()
    learners, started, completed, finished, last = row if row else (0, 0, 0, 0, None)
    return CourseProgress(
        site_id=site_id, course=course, learners=learners, started=started,
        completed=completed, completion_rate=finished / started if started else None,
        median_seconds_to_complete=medians(conn, site_id, course, "course").get(""),
        last_activity=last, lessons=lesson_progress(conn, site_id, course))


def lesson_progress(conn: Connection, site_id: int, course: str) -> list[LessonProgress]:
    """Lessons in course order (first seen, by event time), with start/completion counts."""
    t = LEARN_LESSON_STATS.c
    times = medians(conn, site_id, course, "lesson")
    rows = conn.execute(select(t.lesson_id, t.learners, t.started, t.completed)
                        .where(t.site_id == site_id, t.course_id == course)
                        .order_by(t.first_ets, t.lesson_id))
    return [LessonProgress(id=r[0], learners=r[1], started=r[2], completed=r[3],
                           median_seconds=times.get(r[0])) for r in rows]


def course_list(conn: Connection, site_ids: list[int]) -> list[CourseProgress]:
    """Every course of these sites, newest activity first (lessons left empty)."""
    if not site_ids:
        return []
    t, d = LEARN_COURSES.c, LEARN_DURATIONS.c
    counts: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for site, course, seconds, n in conn.execute(
            select(d.site_id, d.course_id, d.seconds, d.count).where(
                d.site_id.in_(site_ids), d.kind == "course", d.count > 0)):
        counts.setdefault((site, course), []).append((seconds, n))
    rows = conn.execute(select(t.site_id, t.course_id, t.learners, t.started, t.completed,
                               t.finished, t.last_ets).where(t.site_id.in_(site_ids))
                        .order_by(t.last_ets.desc(), t.course_id))
    return [CourseProgress(
        site_id=r[0], course=r[1], learners=r[2], started=r[3], completed=r[4],
        completion_rate=r[5] / r[3] if r[3] else None,
        median_seconds_to_complete=median_of_counts(counts.get((r[0], r[1]), [])),
        last_activity=r[6], lessons=[]) for r in rows]

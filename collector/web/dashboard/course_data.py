"""What the course pages show, as JSON the page script draws (tables, figures, values),
and the same rows as CSV. The numbers come from the analytics functions the
``collector report`` commands print, so the page and the CLI always agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request, url_for
from sqlalchemy import Connection

from collector.analytics.course_scope import course_site
from collector.analytics.courses import CourseProgress, course_list, course_progress
from collector.analytics.items import ItemStats, item_analysis
from collector.analytics.learners import (
    FAILED_IN_ROW,
    IDLE_DAYS,
    AtRiskRule,
    LearnerRow,
    learner_table,
)
from collector.storage.models import now_ms
from collector.web.dashboard.course_figures import lesson_dropoff, lessons_lost, share_text
from collector.web.dashboard.page_data import Cell, duration, link, percent, utc
from collector.web.dashboard.params import int_param

LEARNERS_SHOWN = 500  # rows on the page (at risk first); the CSV has every learner
ANSWERS_SHOWN = 6


@dataclass(frozen=True, slots=True)
class CourseRef:
    course: str
    site: str
    site_id: int


def seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else duration(seconds * 1000)


def number_text(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def sessions_url(ref: CourseRef, actor: str | None = None) -> str:
    """The session explorer filtered to the course (and a learner)."""
    query = {"site": ref.site, "course": ref.course}
    if actor is not None:
        query["actor"] = actor
    return url_for("dashboard.sessions") + "?" + urlencode(query)


def course_ref(conn: Connection, sites: dict[str, int], course: str) -> CourseRef:
    """The course the page is about (``CourseNotFound`` or ``ValueError`` otherwise)."""
    site = (request.args.get("site") or "").strip() or None
    name, site_id = course_site(conn, course, sites, site)
    return CourseRef(course, name, site_id)


def at_risk_rule() -> AtRiskRule:
    idle = int_param(request.args, "idle_days", IDLE_DAYS, low=1, high=3650)
    failed = int_param(request.args, "failed_in_row", FAILED_IN_ROW, low=1, high=100)
    return AtRiskRule(idle_days=idle, failed_in_row=failed)


# --- /dashboard/courses ----------------------------------------------------------------


def courses_rows(conn: Connection, sites: dict[str, int]) -> list[tuple[str, CourseProgress]]:
    site = (request.args.get("site") or "").strip()
    if site and site not in sites:
        raise ValueError(f"site: no site named {site[:100]!r}")
    wanted = {site: sites[site]} if site else sites
    names = {v: k for k, v in wanted.items()}
    return [(names[c.site_id], c) for c in course_list(conn, list(wanted.values()))]


def courses_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    rows: list[list[Cell]] = []
    for site, c in courses_rows(conn, sites):
        ref = CourseRef(c.course, site, c.site_id)
        rows.append([site, link(c.course, url_for("courses.course_page", course=c.course,
                                                  site=site)),
                     link(str(c.learners), sessions_url(ref)), str(c.started),
                     str(c.completed), percent(c.completion_rate),
                     seconds_text(c.median_seconds_to_complete), utc(c.last_activity)])
    return {"tables": {"courses": rows}, "stats": {"courses-count": str(len(rows))}}


COURSES_CSV_HEADER = ["site", "course", "learners", "started", "completed",
                      "completion_rate", "median_seconds_to_complete", "last_activity_utc"]


def courses_csv(conn: Connection, sites: dict[str, int]) -> list[list[object]]:
    return [[site, c.course, c.learners, c.started, c.completed,
             "" if c.completion_rate is None else round(c.completion_rate, 4),
             "" if c.median_seconds_to_complete is None
             else round(c.median_seconds_to_complete, 3), utc(c.last_activity)]
            for site, c in courses_rows(conn, sites)]


# --- /dashboard/course/<id> -------------------------------------------------------------


def course_data(conn: Connection, sites: dict[str, int], course: str) -> dict[str, Any]:
    ref = course_ref(conn, sites, course)
    rule = at_risk_rule()
    progress = course_progress(conn, ref.site_id, course)
    items = item_analysis(conn, ref.site_id, course)
    learners = learner_table(conn, ref.site_id, course, now_ms=now_ms(), rule=rule)
    shown = sorted(learners, key=lambda r: (not r.at_risk, -r.last_seen, r.id))
    unscored = sum(i.unscored_attempts for i in items)
    return {
        "stats": {
            "stat-learners": str(progress.learners), "stat-started": str(progress.started),
            "stat-completed": str(progress.completed),
            "stat-rate": percent(progress.completion_rate),
            "stat-median": seconds_text(progress.median_seconds_to_complete),
            "stat-last": utc(progress.last_activity),
            "stat-at-risk": str(sum(1 for r in learners if r.at_risk)),
            "unscored-note": (f"{unscored} attempts had no maxscore (or maxscore 0): "
                              "counted in attempts, no fraction." if unscored else ""),
            "learners-note": (f"Showing {LEARNERS_SHOWN} of {len(learners)} learners (at "
                              "risk first); the CSV has all of them."
                              if len(learners) > LEARNERS_SHOWN else ""),
            "at-risk-rule": rule.describe(),
            "sessions-link": sessions_url(ref),
        },
        "figures": {"chart-lessons": lesson_dropoff(progress)},
        "tables": {"lessons": lesson_rows(progress),
                   "items": [item_cells(i) for i in items],
                   "learners": [learner_cells(ref, r) for r in shown[:LEARNERS_SHOWN]]},
    }


def lesson_rows(progress: CourseProgress) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for lesson, (within, between) in zip(progress.lessons, lessons_lost(progress),
                                         strict=True):
        rows.append([lesson.id, str(lesson.learners), str(lesson.started),
                     str(lesson.completed), share_text(within), share_text(between),
                     seconds_text(lesson.median_seconds)])
    return rows


def answers_text(item: ItemStats) -> str:
    shown = [f"{r or '(none)'}: {n}" for r, n in item.answers[:ANSWERS_SHOWN]]
    rest = sum(n for _, n in item.answers[ANSWERS_SHOWN:])
    return ", ".join(shown) + (f", others: {rest}" if rest else "")


def item_cells(item: ItemStats) -> list[Cell]:
    flags = item.flags()
    notes = []
    if item.unscored_attempts:
        notes.append(f"{item.unscored_attempts} without maxscore")
    return [item.id, str(item.learners), str(item.attempts),
            number_text(item.attempts_per_learner), number_text(item.facility),
            number_text(item.discrimination), seconds_text(item.median_seconds),
            answers_text(item),
            {"text": "; ".join(f"{name} ({why})" for name, why in flags),
             "class": "dup" if flags else ""},
            ", ".join(notes)]


def learner_cells(ref: CourseRef, row: LearnerRow) -> list[Cell]:
    return [link(row.id, sessions_url(ref, row.id)), utc(row.started_at), utc(row.last_seen),
            "yes" if row.completed else "", str(row.lessons_completed),
            number_text(row.score), seconds_text(row.active_seconds),
            {"text": "at risk" if row.at_risk else "", "class": "dup" if row.at_risk else ""},
            "; ".join(row.reasons)]


COURSE_CSV = {
    "lessons": ["lesson", "learners", "started", "completed", "lost_in_lesson",
                "lost_before_next", "median_seconds"],
    "items": ["item", "learners", "attempts", "attempts_per_learner", "facility",
              "discrimination", "median_seconds", "answers", "flags", "unscored_attempts",
              "out_of_range"],
    "learners": ["learner", "started_at_utc", "last_seen_utc", "completed",
                 "lessons_completed", "score", "active_seconds", "at_risk", "reasons"],
}


def course_csv(conn: Connection, sites: dict[str, int], course: str,
               table: str) -> list[list[object]]:
    """Every row of one course table, as CSV values."""
    ref = course_ref(conn, sites, course)
    if table == "lessons":
        progress = course_progress(conn, ref.site_id, course)
        return [[lesson.id, lesson.learners, lesson.started, lesson.completed,
                 "" if within is None else round(within, 4),
                 "" if between is None else round(between, 4),
                 "" if lesson.median_seconds is None else lesson.median_seconds]
                for lesson, (within, between) in zip(progress.lessons,
                                                     lessons_lost(progress), strict=True)]
    if table == "items":
        return [[i.id, i.learners, i.attempts,
                 "" if i.attempts_per_learner is None else round(i.attempts_per_learner, 4),
                 _blank(i.contract()["facility"]), _blank(i.contract()["discrimination"]),
                 _blank(i.contract()["median_seconds"]),
                 "; ".join(f"{r}: {n}" for r, n in i.answers),
                 "; ".join(name for name, _ in i.flags()), i.unscored_attempts,
                 i.out_of_range]
                for i in item_analysis(conn, ref.site_id, course)]
    rule = at_risk_rule()
    return [[r.id, utc(r.started_at), utc(r.last_seen), r.completed, r.lessons_completed,
             round(r.score, 4), round(r.active_seconds, 3), r.at_risk, "; ".join(r.reasons)]
            for r in learner_table(conn, ref.site_id, course, now_ms=now_ms(), rule=rule)]


def _blank(value: object) -> object:
    return "" if value is None else value

"""Per-learner view of a course: progress, score, active time and an at-risk flag.

At risk (both parts configurable, each reason named):
- started the course (a course START), not completed it, and no event for ``idle_days``;
- the learner's latest ``failed_in_row`` first attempts all failed. A first attempt
  failed when it says ``pass: "No"``, or, without ``pass``, scored below half marks.

Score is the sum of first-attempt fractions over the course's items (the course total
item discrimination compares against). Active time adds the gaps between consecutive
events of a session, each capped at the idle threshold (see ``learning_tables``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, case, func, or_, select

from collector.analytics.course_scope import PROGRESS
from collector.analytics.formulas import rounded
from collector.analytics.items import ATTEMPTS, fraction
from collector.analytics.learning_tables import IDLE_CAP_MS
from collector.storage.models import LearnLesson

LESSONS: Table = LearnLesson.__table__  # type: ignore[assignment]
DAY_MS = 86_400_000


def iso_utc(ms: int | None) -> str | None:
    """Epoch ms as ``2026-12-01T17:00:00.000Z``."""
    if ms is None:
        return None
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
PASS_SHARE = 0.5


IDLE_DAYS = 7
FAILED_IN_ROW = 3


@dataclass(frozen=True, slots=True)
class AtRiskRule:
    idle_days: int = IDLE_DAYS
    failed_in_row: int = FAILED_IN_ROW

    def describe(self) -> str:
        return (f"At risk: started, not completed and no activity for {self.idle_days} days; "
                f"or the latest {self.failed_in_row} first attempts all failed (pass "
                f"\"No\", or below {PASS_SHARE:.0%} of maxscore without pass).")


@dataclass(slots=True)
class LearnerRow:
    id: str
    started_at: int | None  # first course START (ets, ms)
    last_seen: int
    completed: bool
    lessons_completed: int
    score: float
    active_seconds: float
    at_risk: bool = False
    reasons: list[str] = field(default_factory=list)

    def contract(self) -> dict[str, Any]:
        """One entry of ``collector report learners`` (times ISO 8601 UTC)."""
        return {"id": self.id, "started_at": iso_utc(self.started_at),
                "last_seen": iso_utc(self.last_seen),
                "completed": self.completed, "lessons_completed": self.lessons_completed,
                "score": rounded(self.score), "active_seconds": round(self.active_seconds, 3),
                "at_risk": self.at_risk, "reasons": list(self.reasons)}


def learner_table(conn: Connection, site_id: int, course: str, *, now_ms: int,
                  rule: AtRiskRule | None = None) -> list[LearnerRow]:
    """Every learner with an event of the course, by learner id."""
    rule = rule or AtRiskRule()
    p = PROGRESS.c
    lessons: dict[str, int] = {r[0]: r[1] for r in conn.execute(
        select(LESSONS.c.actor_id, func.count(LESSONS.c.completed_ets))
        .where(LESSONS.c.site_id == site_id, LESSONS.c.course_id == course)
        .group_by(LESSONS.c.actor_id))}
    scores, failing = _attempt_summary(conn, site_id, course, rule.failed_in_row)
    rows = []
    for actor, started, last, completed, active in conn.execute(
            select(p.actor_id, p.started_ets, p.last_ets, p.completed_ets, p.active_ms)
            .where(p.site_id == site_id, p.course_id == course).order_by(p.actor_id)):
        row = LearnerRow(id=actor, started_at=started, last_seen=last,
                         completed=completed is not None,
                         lessons_completed=lessons.get(actor, 0),
                         score=scores.get(actor, 0.0), active_seconds=active / 1000)
        idle_ms = now_ms - last
        if started is not None and completed is None and idle_ms >= rule.idle_days * DAY_MS:
            row.reasons.append(f"no activity for {idle_ms // DAY_MS} days "
                               f"(started, not completed; threshold {rule.idle_days} days)")
        if actor in failing:
            row.reasons.append(f"latest {rule.failed_in_row} first attempts failed")
        row.at_risk = bool(row.reasons)
        rows.append(row)
    return rows


def _attempt_summary(conn: Connection, site_id: int, course: str, streak: int
                     ) -> tuple[dict[str, float], set[str]]:
    """(score per learner, learners whose latest ``streak`` first attempts failed)."""
    t = ATTEMPTS.c
    frac = fraction()
    failed = case((or_(t.passed == 0, (t.passed.is_(None) & (frac < PASS_SHARE))), 1), else_=0)
    inner = select(
        t.actor_id, failed.label("failed"),
        func.sum(func.coalesce(frac, 0.0)).over(partition_by=t.actor_id).label("total"),
        func.row_number().over(partition_by=t.actor_id,
                               order_by=(t.ets.desc(), t.mid.desc())).label("rn"),
    ).where(t.site_id == site_id, t.course_id == course).subquery()
    scores: dict[str, float] = {}
    fails: dict[str, int] = {}
    for actor, fail, total in conn.execute(
            select(inner.c.actor_id, inner.c.failed, inner.c.total)
            .where(inner.c.rn <= max(streak, 1))):
        scores[actor] = float(total or 0.0)
        fails[actor] = fails.get(actor, 0) + fail
    failing = {a for a, n in fails.items() if streak > 0 and n >= streak}
    return scores, failing


ACTIVE_TIME_METHOD = (
    f"Active time adds the gaps between a learner's consecutive events in one session, "
    f"each gap capped at {IDLE_CAP_MS // 60_000} minutes (longer pauses count as idle "
    f"after {IDLE_CAP_MS // 60_000} minutes); time after the last event of a session is "
    "not counted, and an event arriving after a later one adds nothing.")

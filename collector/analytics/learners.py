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
from typing import Any

from sqlalchemy import Connection, select

from collector.analytics.formulas import rounded
from collector.analytics.learning_tables import IDLE_CAP_MS, PASS_SHARE
from collector.core.isotime import stored_iso_timestamp
from collector.storage.models import LEARN_PROGRESS

DAY_MS = 86_400_000
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
        return {"id": self.id, "started_at": stored_iso_timestamp(self.started_at),
                "last_seen": stored_iso_timestamp(self.last_seen),
                "completed": self.completed, "lessons_completed": self.lessons_completed,
                "score": rounded(self.score), "active_seconds": round(self.active_seconds, 3),
                "at_risk": self.at_risk, "reasons": list(self.reasons)}


def learner_table(conn: Connection, site_id: int, course: str, *, now_ms: int,
                  rule: AtRiskRule | None = None) -> list[LearnerRow]:
    """Every learner with an event of the course, by learner id."""
    rule = rule or AtRiskRule()
    p = LEARN_PROGRESS.c
    rows = []
    for actor, started, last, completed, active, score, lessons, streak in conn.execute(
            select(p.actor_id, p.started_ets, p.last_ets, p.completed_ets, p.active_ms,
                   p.score, p.lessons_completed, p.fail_streak)
            .where(p.site_id == site_id, p.course_id == course).order_by(p.actor_id)):
        row = LearnerRow(id=actor, started_at=started, last_seen=last,
                         completed=completed is not None, lessons_completed=lessons,
                         score=score, active_seconds=active / 1000)
        idle_ms = now_ms - last
        if started is not None and completed is None and idle_ms >= rule.idle_days * DAY_MS:
            row.reasons.append(f"no activity for {idle_ms // DAY_MS} days "
                               f"(started, not completed; threshold {rule.idle_days} days)")
        if streak >= rule.failed_in_row:
            row.reasons.append(f"latest {rule.failed_in_row} first attempts failed"
                               + (f" ({streak} in a row)" if streak > rule.failed_in_row
                                  else ""))
        row.at_risk = bool(row.reasons)
        rows.append(row)
    return rows


ACTIVE_TIME_METHOD = (
    f"Active time adds the gaps between a learner's consecutive events in one session, "
    f"each gap capped at {IDLE_CAP_MS // 60_000} minutes (longer pauses count as idle "
    f"after {IDLE_CAP_MS // 60_000} minutes); time after the last event of a session is "
    "not counted, and an event arriving after a later one adds nothing.")

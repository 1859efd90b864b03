"""Quiz item analysis from first attempts: facility, discrimination, time, answers.

Per (learner, item) only the first attempt by client time counts (ties: smallest mid);
its fraction is score / maxscore. Facility is the mean first-attempt fraction.
Discrimination is Pearson's r between a learner's first-attempt fraction on the item
and the learner's rest-of-course score (sum of first-attempt fractions on the course's
other items, unattempted = 0), over the learners who attempted the item. An attempt
without maxscore (or maxscore 0) is counted but has no fraction. Items are per course.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, case, func, select

from collector.analytics.course_scope import medians
from collector.analytics.formulas import pearson_from_sums, rounded
from collector.storage.models import LearnAttempt

ATTEMPTS: Table = LearnAttempt.__table__  # type: ignore[assignment]
HARD_BELOW = 0.2
EASY_ABOVE = 0.9
DISCRIMINATES_FROM = 0.2


def fraction() -> Any:
    """score / maxscore of a first attempt; NULL without a usable maxscore or score."""
    t = ATTEMPTS.c
    return case((t.maxscore > 0, t.score / t.maxscore))


@dataclass(slots=True)
class ItemStats:
    id: str
    learners: int  # with an attempt
    attempts: int  # every stored ASSESS of the item in the course
    facility: float | None
    discrimination: float | None
    median_seconds: float | None
    unscored_attempts: int  # attempts without a usable maxscore
    out_of_range: int  # first attempts scored below 0 or above maxscore
    answers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def attempts_per_learner(self) -> float | None:
        return self.attempts / self.learners if self.learners else None

    def flags(self) -> list[tuple[str, str]]:
        """(flag, reason) pairs, in a fixed order."""
        out: list[tuple[str, str]] = []
        f, d = self.facility, self.discrimination
        if f is not None and f < HARD_BELOW:
            out.append(("hard", f"facility {f:.2f} < {HARD_BELOW}"))
        if f is not None and f > EASY_ABOVE:
            out.append(("easy", f"facility {f:.2f} > {EASY_ABOVE}"))
        if d is not None and d < DISCRIMINATES_FROM:
            out.append(("does not discriminate",
                        f"discrimination {d:.2f} < {DISCRIMINATES_FROM}"))
        if d is not None and d < 0:
            out.append(("check the key", f"discrimination {d:.2f} is negative"))
        if self.out_of_range:
            out.append(("score out of range",
                        f"{self.out_of_range} first attempts scored below 0 or above "
                        "maxscore (kept as sent, not clipped)"))
        return out

    def contract(self) -> dict[str, Any]:
        """One entry of ``collector report items``."""
        return {"id": self.id, "learners": self.learners, "attempts": self.attempts,
                "facility": rounded(self.facility), "discrimination": rounded(
                    self.discrimination), "median_seconds": rounded(self.median_seconds, 3),
                "flags": [name for name, _ in self.flags()],
                "answers": [{"response": r, "count": n} for r, n in self.answers]}


def item_analysis(conn: Connection, site_id: int, course: str) -> list[ItemStats]:
    """Every item of the course, in the order learners first met them."""
    t = ATTEMPTS.c
    where = [t.site_id == site_id, t.course_id == course]
    frac = fraction()
    totals = (select(t.actor_id.label("actor_id"),
                     func.sum(func.coalesce(frac, 0.0)).label("total"))
              .where(*where).group_by(t.actor_id).subquery())
    rest = totals.c.total - frac
    out_of_range = func.sum(case(((t.maxscore > 0) & ((t.score < 0) | (t.score > t.maxscore)),
                                  1), else_=0))
    rows = conn.execute(
        select(t.item_id, func.count(), func.sum(t.attempts), func.sum(t.unscored),
               out_of_range, func.count(frac), func.sum(frac), func.sum(rest),
               func.sum(frac * frac), func.sum(rest * rest), func.sum(frac * rest),
               func.min(t.ets))
        .join(totals, totals.c.actor_id == t.actor_id)
        .where(*where).group_by(t.item_id).order_by(func.min(t.ets), t.item_id))
    times = medians(conn, ATTEMPTS, [t.item_id], t.duration, where)
    answers = _answers(conn, where)
    items = []
    for r in rows:
        n, sx = r[5], r[6] or 0.0
        items.append(ItemStats(
            id=r[0], learners=r[1], attempts=int(r[2] or 0), unscored_attempts=int(r[3] or 0),
            out_of_range=int(r[4] or 0), facility=sx / n if n else None,
            discrimination=pearson_from_sums(n, sx, r[7] or 0.0, r[8] or 0.0, r[9] or 0.0,
                                             r[10] or 0.0),
            median_seconds=times.get((r[0],)), answers=answers.get(r[0], [])))
    return items


def _answers(conn: Connection, where: list[Any]) -> dict[str, list[tuple[str, int]]]:
    """First-attempt responses per item, most frequent first ("" = none sent)."""
    t = ATTEMPTS.c
    out: dict[str, list[tuple[str, int]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for item, response, n in conn.execute(select(t.item_id, t.response, func.count())
                                          .where(*where).group_by(t.item_id, t.response)):
        key = (item, response or "")
        counts[key] = counts.get(key, 0) + n
    for (item, response), n in counts.items():
        out.setdefault(item, []).append((response, n))
    for values in out.values():
        values.sort(key=lambda v: (-v[1], v[0]))
    return out

"""Quiz item analysis from first attempts: facility, discrimination, time, answers.

Per (learner, item) only the first attempt by client time counts (ties: smallest mid);
its fraction is score / maxscore. Facility is the mean first-attempt fraction.
Discrimination is Pearson's r between a learner's first-attempt fraction on the item
and the learner's rest-of-course score (sum of first-attempt fractions on the course's
other items, unattempted = 0), over the learners who attempted the item. An attempt
without maxscore (or maxscore 0) is counted but has no fraction. Items are per course.
The counts and the sums behind r are kept at ingest per item (``learning_tables``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from collector.analytics.course_scope import medians
from collector.analytics.formulas import pearson_from_sums, rounded
from collector.storage.models import LEARN_ANSWERS, LEARN_ITEMS

HARD_BELOW = 0.2
EASY_ABOVE = 0.9
DISCRIMINATES_FROM = 0.2


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
    t = LEARN_ITEMS.c
    times = medians(conn, site_id, course, "item")
    answers = _answers(conn, site_id, course)
    rows = conn.execute(select(t.item_id, t.learners, t.attempts, t.unscored, t.out_of_range,
                               t.n, t.sx, t.sy, t.sxx, t.syy, t.sxy)
                        .where(t.site_id == site_id, t.course_id == course)
                        .order_by(t.first_ets, t.item_id))
    items = []
    for r in rows:
        n, sx = r[5], r[6]
        items.append(ItemStats(
            id=r[0], learners=r[1], attempts=r[2], unscored_attempts=r[3],
            out_of_range=r[4], facility=sx / n if n else None,
            discrimination=pearson_from_sums(n, sx, r[7], r[8], r[9], r[10]),
            median_seconds=times.get(r[0]), answers=answers.get(r[0], [])))
    return items


def _answers(conn: Connection, site_id: int, course: str) -> dict[str, list[tuple[str, int]]]:
    """First-attempt responses per item, most frequent first ("" = none sent)."""
    t = LEARN_ANSWERS.c
    out: dict[str, list[tuple[str, int]]] = {}
    for item, response, n in conn.execute(select(t.item_id, t.response, t.count).where(
            t.site_id == site_id, t.course_id == course, t.count > 0)):
        out.setdefault(item, []).append((response, n))
    for values in out.values():
        values.sort(key=lambda v: (-v[1], v[0]))
    return out

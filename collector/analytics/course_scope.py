"""Which site's course a report is about, and the exact medians the reports show."""

from __future__ import annotations

from sqlalchemy import Connection, select

from collector.analytics.formulas import median_of_counts
from collector.storage.models import LEARN_COURSES, LEARN_DURATIONS


class CourseNotFound(LookupError):
    """No learner has an event of this course (in the sites looked at)."""


def course_site(conn: Connection, course: str, site_ids: dict[str, int],
                site: str | None = None) -> tuple[str, int]:
    """(site name, site id) holding ``course``: the named site, else the only one.

    Raises :class:`CourseNotFound` when no site has it, ``ValueError`` when several do
    and no site was named.
    """
    if site is not None:
        if site not in site_ids:
            raise ValueError(f"site: no site named {site[:100]!r}")
        candidates = {site: site_ids[site]}
    else:
        candidates = site_ids
    t = LEARN_COURSES.c
    found = set(conn.execute(select(t.site_id).where(
        t.course_id == course, t.site_id.in_(list(candidates.values())))).scalars())
    names = sorted(name for name, sid in candidates.items() if sid in found)
    if not names:
        where = f" in site {site[:100]!r}" if site is not None else ""
        raise CourseNotFound(f"no course {course[:200]!r}{where}: no learner has an event "
                             "of it")
    if len(names) > 1:
        raise ValueError(f"course {course[:200]!r} exists in sites {', '.join(names)}: "
                         "choose one with site")
    return names[0], candidates[names[0]]


def medians(conn: Connection, site_id: int, course: str, kind: str) -> dict[str, float]:
    """Median seconds per key ("" for the course) of one kind: "course", "lesson", "item"."""
    t = LEARN_DURATIONS.c
    counts: dict[str, list[tuple[float, int]]] = {}
    for key, seconds, n in conn.execute(select(t.key, t.seconds, t.count).where(
            t.site_id == site_id, t.course_id == course, t.kind == kind, t.count > 0)):
        counts.setdefault(key, []).append((seconds, n))
    out = {}
    for key, values in counts.items():
        m = median_of_counts(values)
        if m is not None:
            out[key] = m
    return out

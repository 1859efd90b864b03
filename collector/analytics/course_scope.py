"""Which site's course a report is about, and SQL shared by the course reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select

from collector.storage.models import LearnProgress

PROGRESS: Table = LearnProgress.__table__  # type: ignore[assignment]


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
    if not candidates:
        raise CourseNotFound(f"no course {course[:200]!r}")
    t = PROGRESS.c
    found = set(conn.execute(select(t.site_id).where(
        t.course_id == course, t.site_id.in_(list(candidates.values()))).distinct()).scalars())
    names = sorted(name for name, sid in candidates.items() if sid in found)
    if not names:
        where = f" in site {site[:100]!r}" if site is not None else ""
        raise CourseNotFound(f"no course {course[:200]!r}{where}: no learner has an event "
                             "of it")
    if len(names) > 1:
        raise ValueError(f"course {course[:200]!r} exists in sites {', '.join(names)}: "
                         "choose one with site")
    return names[0], candidates[names[0]]


def medians(conn: Connection, table: Table, keys: list[Any], value: Any,
            where: list[Any]) -> dict[tuple[Any, ...], float]:
    """Median of ``value`` per ``keys`` (mean of the two middle values for an even
    count), computed in the database with window functions: no rows travel."""
    inner = select(*keys, value.label("v"),
                   func.row_number().over(partition_by=keys, order_by=value).label("rn"),
                   func.count().over(partition_by=keys).label("n")
                   ).select_from(table).where(*where, value.is_not(None)).subquery()
    outer_keys = [inner.c[k.name] for k in keys]
    rows = conn.execute(select(*outer_keys, func.avg(inner.c.v)).where(
        inner.c.rn * 2 >= inner.c.n, inner.c.rn * 2 <= inner.c.n + 2).group_by(*outer_keys))
    return {tuple(r[:-1]): float(r[-1]) for r in rows}

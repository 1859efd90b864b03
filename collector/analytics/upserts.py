"""The dashboard tables' upserts, compiled once per dialect (see ``derived``)."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, LargeBinary, Table, and_, case, cast, func

from collector.analytics import timeline
from collector.storage.dialect import insert_for, is_postgres, least_greatest
from collector.storage.models import (
    DASH_KEY_HOURS,
    DASH_MINUTES,
    DASH_REJECT_REASONS,
    DASH_SESSIONS,
)


class PreparedUpsert:
    """An upsert compiled once per dialect and run with the driver's executemany.

    Building and compiling these statements per group cost more than running them;
    the SQL never changes, only the rows do.
    """

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        # Per column order of tuple rows: their values in SQLite's placeholder order.
        self._pickers: dict[tuple[str, ...], Callable[[tuple[Any, ...]], Any]] = {}

    def _entry(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        dialect = conn.dialect
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            positions = tuple(compiled.positiontup) if compiled.positiontup else None
            entry = (str(compiled), positions, dict(compiled.params))
            self._compiled[dialect.name] = entry
        return entry

    def execute_tuples(self, conn: Connection, columns: tuple[str, ...],
                       rows: list[tuple[Any, ...]]) -> None:
        """``execute`` with each row's values given in ``columns`` order: on SQLite the
        values are picked into placeholder order without a dict per row."""
        sql, positions, constants = self._entry(conn)
        if positions is None:  # pyformat (psycopg): named
            conn.exec_driver_sql(sql, [{**constants, **dict(zip(columns, row, strict=True))}
                                       for row in rows])
            return
        pick = self._pickers.get(columns)
        if pick is None:
            names = columns + tuple(constants)
            pick = self._pickers[columns] = itemgetter(*[names.index(k) for k in positions])
        extra = tuple(constants.values())
        if len(positions) == 1:
            params = [(pick(row + extra),) for row in rows]
        elif extra:
            params = [pick(row + extra) for row in rows]
        else:
            params = [pick(row) for row in rows]
        # Straight to the driver, as the events insert does: SQLAlchemy's per-statement
        # bookkeeping cost more than SQLite's work on these few rows.
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.executemany(sql, params)
        finally:
            cur.close()

    def execute(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        sql, positions, constants = self._entry(conn)
        if positions is not None:  # qmark (SQLite): tuples in placeholder order
            params: list[Any] = [tuple(row[k] if k in row else constants[k] for k in positions)
                                 for row in rows]
        else:  # pyformat (psycopg): named
            params = [{**constants, **row} for row in rows]
        conn.exec_driver_sql(sql, params)


def _session_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, DASH_SESSIONS)
    new = stmt.excluded
    postgres = is_postgres(dialect)
    least, greatest = least_greatest(dialect)
    t = DASH_SESSIONS.c
    appended: Any = t.timeline.op("||")(new.timeline)
    if not postgres:  # SQLite's || yields text; the bytes are kept, the type is not
        appended = cast(appended, LargeBinary)
    new_empty = func.length(new.timeline) == 0
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "session_id", "actor_id"],
        set_={
            "course_id": func.coalesce(t.course_id, new.course_id),
            "env": func.coalesce(t.env, new.env),
            # A chunk of only duplicate starts has no tokens (first_ets 0): ignore it.
            "first_ets": case((new_empty, t.first_ets),
                              (func.length(t.timeline) == 0, new.first_ets),
                              else_=least(t.first_ets, new.first_ets)),
            "last_ets": greatest(t.last_ets, new.last_ets),
            "last_received": greatest(t.last_received, new.last_received),
            "events": t.events + new.events,
            "dup_starts": t.dup_starts + new.dup_starts,
            "in_order": case((and_(t.in_order == 1, new.first_ets >= t.last_ets), 1),
                             (new_empty, t.in_order), else_=0),
            "timeline": case((func.length(t.timeline) < timeline.MAX_BYTES, appended),
                             else_=t.timeline),
        },
    )


def _counter_upsert(table: Table, key: list[str], counters: list[str]) -> Callable[[str], Any]:
    def build(dialect: str) -> Any:
        stmt = insert_for(dialect, table)
        return stmt.on_conflict_do_update(
            index_elements=key, set_={c: table.c[c] + stmt.excluded[c] for c in counters})
    return build


SESSION_UPSERT = PreparedUpsert(_session_upsert)
MINUTE_UPSERT = PreparedUpsert(_counter_upsert(
    DASH_MINUTES, ["site_id", "minute"], ["events", "course_starts", "course_ends", "rejected"]))
KEY_HOUR_UPSERT = PreparedUpsert(_counter_upsert(
    DASH_KEY_HOURS, ["site_id", "hour", "key_id"], ["events"]))
REASON_UPSERT = PreparedUpsert(_counter_upsert(
    DASH_REJECT_REASONS, ["site_id", "hour", "reason"], ["events"]))

"""What differs between SQLite and PostgreSQL when writing: upserts and least/greatest.

Both dialects spell ``INSERT ... ON CONFLICT`` the same way, but SQLAlchemy builds it from
each dialect's own ``insert``; every write path that needs ``on_conflict_do_nothing`` or
``on_conflict_do_update`` gets its statement from :func:`insert_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

# The Insert of either dialect: both offer on_conflict_do_nothing/_update and excluded.
Upsert = postgresql.Insert | sqlite.Insert


def dialect_name(bind: Connection | Engine | Dialect | str) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a connection, an engine, a dialect or a name."""
    if isinstance(bind, str):
        return bind
    if isinstance(bind, Connection | Engine):
        return bind.dialect.name
    return bind.name


def is_postgres(bind: Connection | Engine | Dialect | str) -> bool:
    return dialect_name(bind) == "postgresql"


def insert_for(bind: Connection | Engine | Dialect | str, table: Table) -> Upsert:
    """An ``INSERT`` into ``table`` in ``bind``'s dialect, with ``ON CONFLICT`` support."""
    return (postgresql if is_postgres(bind) else sqlite).insert(table)


def least_greatest(bind: Connection | Engine | Dialect | str) -> tuple[Any, Any]:
    """SQL ``least``/``greatest``: SQLite's scalar ``min()``/``max()`` take several arguments."""
    return (func.least, func.greatest) if is_postgres(bind) else (func.min, func.max)


def unnest_insert(table: Table, columns: Sequence[str], *, conflict: Sequence[str],
                  returning: Sequence[str] = (), order_by: Sequence[str] = ()) -> str:
    """PostgreSQL text of ``INSERT INTO table (columns) SELECT * FROM unnest(arrays)
    [ORDER BY ...] ON CONFLICT (conflict) DO NOTHING [RETURNING ...]``.

    One parameter per column, each an array: a whole group of rows is one short
    statement whose text never changes, so psycopg converts it once and the server runs
    one statement instead of parsing a statement as long as its rows.
    """
    pg = postgresql.dialect()
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=pg)}[]" for name in columns)
    names = ", ".join(columns)
    sql = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) AS r({names})"
    if order_by:
        sql += " ORDER BY " + ", ".join(order_by)
    sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    return sql


def run_unnest(conn: Connection, sql: str, rows: Sequence[Sequence[Any]],
               width: int) -> list[tuple[Any, ...]]:
    """Execute an :func:`unnest_insert` statement for ``rows`` (tuples of ``width``
    values) on ``conn``'s psycopg cursor; the returned rows, if any."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for i, value in enumerate(row):
            columns[i].append(value)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, columns)
        return list(cur.fetchall()) if cur.description else []
    finally:
        cur.close()


class CopyStage:
    """A session-private staging table on PostgreSQL that rows are ``COPY``-ed into, then
    moved to ``table`` with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.

    COPY writes rows in psycopg's C code with no statement to parse; the table is created
    on a connection's first use (``ON COMMIT DELETE ROWS`` empties it at every commit),
    remembered in the pooled connection's ``info``, and forgotten on a rollback that may
    have undone its creation (:meth:`watch`).
    """

    def __init__(self, table: Table, columns: Sequence[str], *, conflict: Sequence[str],
                 returning: Sequence[str], order_by: Sequence[str]) -> None:
        pg = postgresql.dialect()
        self.name = f"{table.name}_stage"
        names = ", ".join(columns)
        types = ", ".join(f"{c} {table.c[c].type.compile(dialect=pg)}" for c in columns)
        self.create = (f"CREATE TEMP TABLE IF NOT EXISTS {self.name} ({types}) "
                       "ON COMMIT DELETE ROWS")
        self.copy = f"COPY {self.name} ({names}) FROM STDIN"
        self.move = (f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {self.name} "
                     f"ORDER BY {', '.join(order_by)} ON CONFLICT ({', '.join(conflict)}) "
                     f"DO NOTHING RETURNING {', '.join(returning)}")

    def watch(self, engine: Engine) -> None:
        """Forget the table on every rollback of ``engine``'s connections."""
        def forget(conn: Connection) -> None:
            conn.connection.info.pop(self.name, None)

        event.listen(engine, "rollback", forget)

    def insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """COPY ``rows`` in and move them (inside the caller's transaction); the
        ``returning`` values of the rows that were new."""
        info = conn.connection.info
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if not info.get(self.name):
                cur.execute(self.create)
                info[self.name] = True
            with cur.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(self.move)
            return list(cur.fetchall())
        finally:
            cur.close()

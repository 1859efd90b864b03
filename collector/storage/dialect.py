"""What differs between SQLite and PostgreSQL when writing: upserts and least/greatest.

Both dialects spell ``INSERT ... ON CONFLICT`` the same way, but SQLAlchemy builds it from
each dialect's own ``insert``; every write path that needs ``on_conflict_do_nothing`` or
``on_conflict_do_update`` gets its statement from :func:`insert_for`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Table, func
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
